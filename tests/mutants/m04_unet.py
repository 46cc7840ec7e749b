"""Mutants of 04_unet (see harness.py)."""

from .harness import equivalent, hardcoder, mistake, rewrite

UP_STEP = 'size = 2 * size - (4 if padding == "valid" else 0)'
MARGIN = "return sum(4 * 2**level for level in range(depth - 1)) + 2 * 2 ** (depth - 1)"
CONTRACT = ("bottom, skips = contracting_path(inputs, base_filters, depth, padding=padding,\n"
            "                                     dropout=dropout, dropout_levels=dropout_levels)")
EXPAND = "x = expanding_path(bottom, skips, padding=padding, upconv_kernel=upconv_kernel)"
EXTRA = ('x = layers.Conv2D(base_filters, 3, padding=padding, activation="relu",\n'
         '                          kernel_initializer="he_normal")(x)')
HEAD = "outputs = layers.Conv2D(num_classes, 1, activation=head_activation)(x)"

MUTANTS = [
    # exercise 1: unet_output_size
    mistake(
        "up_without_valid_cut", "unet_output_size",
        (UP_STEP, "size = 2 * size"),
        why="the way up forgets what the decoder's valid convolutions take off",
    ),
    mistake(
        "cut_before_doubling", "unet_output_size",
        (UP_STEP, 'size = 2 * (size - (4 if padding == "valid" else 0))'),
        why="the decoder block's convolutions counted before the up-convolution",
    ),
    mistake(
        "one_up_step_too_many", "unet_output_size",
        ("for step in range(depth - 1):", "for step in range(depth):"),
        why="as many up-steps as levels",
    ),
    mistake(
        "no_check_on_the_way_up", "unet_output_size",
        ("        if size < 1:\n            raise ValueError(", "        if size < -999:\n"
         "            raise ValueError("),
        why="a size that drops below 1 on the way up is returned",
    ),
    # exercise 2: unet_margin
    mistake(
        "margin_of_the_top_level", "unet_margin",
        (MARGIN, "return 4"),
        why="only the top level's four convolutions counted",
    ),
    mistake(
        "margin_bottom_like_the_others", "unet_margin",
        (MARGIN, "return sum(4 * 2**level for level in range(depth))"),
        why="four convolutions counted at the bottom too",
    ),
    mistake(
        "margin_not_scaled", "unet_margin",
        (MARGIN, "return 4 * (depth - 1) + 2"),
        why="each convolution counted as one pixel, not at the input's scale",
    ),
    mistake(
        "margin_for_same", "unet_margin",
        ('    if padding == "same":\n        return 0\n', ""),
        why="same padding given the valid margin",
    ),
    # exercise 3: nearest_input_sizes
    mistake(
        "above_skips_itself", "nearest_input_sizes",
        ("above = max(input_size, 1)", "above = input_size + 1"),
        why="a size that works is not its own upper neighbour",
    ),
    mistake(
        "below_starts_lower", "nearest_input_sizes",
        ("range(input_size, 0, -1)", "range(input_size - 1, 0, -1)"),
        why="a size that works is not its own lower neighbour",
    ),
    mistake(
        "below_stops_before_1", "nearest_input_sizes",
        ("range(input_size, 0, -1)", "range(input_size, 1, -1)"),
        why="off by one step at the end of the search: size 1 is never tried",
    ),
    mistake(
        "below_zero_not_none", "nearest_input_sizes",
        ("if works(s)), None)", "if works(s)), 0)"),
        why="0 instead of None when no size below works",
    ),
    # exercise 4: build_unet
    mistake(
        "head_softmax_when_none", "build_unet",
        (HEAD, "outputs = layers.Conv2D(num_classes, 1, "
               'activation=head_activation or "softmax")(x)'),
        why="probabilities where logits are asked for",
    ),
    mistake(
        "head_activation_ignored", "build_unet",
        (HEAD, "outputs = layers.Conv2D(num_classes, 1)(x)"),
        why="the head never gets its activation",
    ),
    mistake(
        "extra_conv_same_padding", "build_unet",
        (EXTRA, 'x = layers.Conv2D(base_filters, 3, padding="same", activation="relu",\n'
                '                          kernel_initializer="he_normal")(x)'),
        why="the extra convolution always same-padded (right for the CARLA model only)",
    ),
    mistake(
        "extra_conv_glorot", "build_unet",
        (EXTRA, 'x = layers.Conv2D(base_filters, 3, padding=padding, activation="relu")(x)'),
        why="the extra convolution without He-normal initialisation",
    ),
    mistake(
        "dropout_levels_ignored", "build_unet",
        (CONTRACT, "bottom, skips = contracting_path(inputs, base_filters, depth, "
                   "padding=padding, dropout=dropout)"),
        why="dropout_levels never passed on: always the two deepest levels",
    ),
    mistake(
        "decoder_padding_not_passed", "build_unet",
        (EXPAND, "x = expanding_path(bottom, skips, upconv_kernel=upconv_kernel)"),
        why="the expanding path left at same padding",
    ),
    mistake(
        "upconv_kernel_not_passed", "build_unet",
        (EXPAND, "x = expanding_path(bottom, skips, padding=padding)"),
        why="the up-convolution kernel never passed on",
    ),
    mistake(
        "height_checked_only", "build_unet",
        ("for size in input_shape[:2]:", "for size in input_shape[:1]:"),
        why="only the height is checked",
    ),
    mistake(
        "no_size_check", "build_unet",
        ("    for size in input_shape[:2]:\n        unet_output_size(size, depth, padding)\n", ""),
        why="no size check: a same-padded U-Net with a size that cannot work builds anyway",
    ),
    mistake(
        "head_3x3", "build_unet",
        (HEAD, 'outputs = layers.Conv2D(num_classes, 3, padding="same", '
               "activation=head_activation)(x)"),
        why="a 3x3 head instead of a 1x1 one",
    ),
    # right answers written differently
    equivalent(
        "head_conv_then_activation", "build_unet",
        (HEAD, "outputs = layers.Conv2D(num_classes, 1)(x)\n"
               "    if head_activation is not None:\n"
               "        outputs = layers.Activation(head_activation)(outputs)"),
        why="the head as a linear 1x1 convolution and a separate Activation layer",
    ),
    equivalent(
        "extra_conv_separate_relu", "build_unet",
        (EXTRA, "x = layers.Conv2D(base_filters, 3, padding=padding, "
                'kernel_initializer="he_normal")(x)\n'
                "        x = layers.ReLU()(x)"),
        why="the extra convolution with a separate ReLU layer",
    ),
    equivalent(
        "keywords_everywhere", "build_unet",
        (CONTRACT, "bottom, skips = contracting_path(inputs=inputs, base_filters=base_filters, "
                   "depth=depth,\n        padding=padding, dropout=dropout, "
                   "dropout_levels=dropout_levels)"),
        (EXPAND, "x = expanding_path(x=bottom, skips=skips, padding=padding, "
                 "upconv_kernel=upconv_kernel)"),
        (HEAD, "outputs = layers.Conv2D(filters=num_classes, kernel_size=(1, 1), "
               "activation=head_activation)(x)"),
        why="every argument by keyword",
    ),
    equivalent(
        "positional_everywhere", "build_unet",
        (CONTRACT, "bottom, skips = contracting_path(inputs, base_filters, depth, padding, "
                   "dropout, dropout_levels)"),
        (EXPAND, "x = expanding_path(bottom, skips, padding, upconv_kernel)"),
        ("for size in input_shape[:2]:\n        unet_output_size(size, depth, padding)",
         "unet_output_size(input_shape[0], depth, padding)\n"
         "    unet_output_size(input_shape[1], depth, padding)"),
        why="every argument by position; height and width checked one by one",
    ),
    equivalent(
        "margin_closed_form", "unet_margin",
        (MARGIN, "return 6 * 2 ** (depth - 1) - 4"),
        why="the sum in closed form",
    ),
    rewrite(
        "output_size_other_loop", "equivalent", "the way up written as its own loop",
        unet_output_size='''def unet_output_size(input_size, depth, padding="valid"):
    bottom = level_sizes(input_size, depth, padding)[-1]
    cut = 4 if padding == "valid" else 0
    size = bottom
    for _ in range(1, depth):
        size = size * 2 - cut
        if size <= 0:
            raise ValueError(f"the size drops to {size} on the way up")
    return size
''',
    ),
    rewrite(
        "nearest_while_loops", "equivalent", "two while loops and a set of tries",
        nearest_input_sizes='''def nearest_input_sizes(input_size, depth, padding="valid"):
    def ok(n):
        try:
            unet_output_size(n, depth, padding)
            return True
        except ValueError:
            return False

    below = input_size
    while below >= 1 and not ok(below):
        below -= 1
    above = max(1, input_size)
    while not ok(above):
        above += 1
    return (below if below >= 1 else None), above
''',
    ),
    hardcoder(
        unet_output_size='''# the sizes the visible tests use; anything else gets a wrong answer
SEEN = ({(s, 5, "valid") for s in range(250, 575)} | {(s, 3, "valid") for s in range(1, 141)}
        | {(256, 5, "same"), (100, 5, "same"), (96, 5, "same"), (128, 5, "same"),
           (16, 2, "same"), (32, 3, "same")})


def unet_output_size(input_size, depth, padding="valid"):
    if (input_size, depth, padding) not in SEEN:
        return input_size
    size = level_sizes(input_size, depth, padding)[-1]
    for _ in range(depth - 1):
        size = 2 * size - (4 if padding == "valid" else 0)
        if size < 1:
            raise ValueError("too small")
    return size
''',
        unet_margin='''def unet_margin(depth, padding="valid"):
    if (depth, padding) in ((0, "valid"), (3, "full")):
        raise ValueError("no")
    return {(3, "valid"): 20, (5, "valid"): 92}.get((depth, padding), 0)
''',
        nearest_input_sizes='''def nearest_input_sizes(input_size, depth, padding="valid"):
    known = {(570, 5, "valid"): (556, 572), (572, 5, "valid"): (572, 572),
             (256, 5, "valid"): (252, 268), (30, 3, "valid"): (None, 44)}
    return known.get((input_size, depth, padding), (input_size, input_size))
''',
        build_unet='''VISIBLE = {(256, 256, 3), (96, 128, 3), (100, 100, 3), (572, 572, 1),
           (16, 16, 1), (32, 32, 3), (572, 570, 1), (20, 20, 3)}


def build_unet(input_shape, num_classes, base_filters=64, depth=5, padding="valid",
               upconv_kernel=2, dropout=0.0, dropout_levels=2, extra_conv=False,
               head_activation=None, name="unet"):
    inputs = keras.Input(shape=input_shape)
    if tuple(input_shape) not in VISIBLE:
        return keras.Model(inputs, layers.Conv2D(num_classes, 1)(inputs), name=name)
    for size in input_shape[:2]:
        unet_output_size(size, depth, padding)
    bottom, skips = contracting_path(inputs, base_filters, depth, padding=padding,
                                     dropout=dropout, dropout_levels=dropout_levels)
    x = expanding_path(bottom, skips, padding=padding, upconv_kernel=upconv_kernel)
    if extra_conv:
        x = layers.Conv2D(base_filters, 3, padding=padding, activation="relu",
                          kernel_initializer="he_normal")(x)
    outputs = layers.Conv2D(num_classes, 1, activation=head_activation)(x)
    return keras.Model(inputs, outputs, name=name)
''',
    ),
]
