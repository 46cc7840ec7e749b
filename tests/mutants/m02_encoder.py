"""Mutants of 02_encoder (see harness.py)."""

from .harness import equivalent, hardcoder, mistake, rewrite

CONV = '''    x = layers.Conv2D(
        filters, 3, padding=padding, activation="relu", kernel_initializer="he_normal"
    )(x)'''
SECOND = (
    "    # x = the second one, the same kind of convolution, applied to the first one's output.\n"
)
POOL = "pooled = layers.MaxPooling2D(pool_size=2)(skip)"
FILTERS = "x, base_filters * 2**level, padding"
ODD_CHECK = '''            if size % 2:
                raise ValueError(f"level {level}: cannot pool the odd size {size}")
'''
CONVS_GROW = "convs_per_level * (kernel_size - 1) * 2**level\n"
POOL_GROWS = "            width += 2**level\n"
DEPTH_CHECK = '''    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
'''

DOUBLE_CONV_HEAD = '''def double_conv(x, filters, padding="same"):
    """Two 3x3 convolutions, each followed by a ReLU."""
'''


def _double_conv(body: str) -> str:
    return DOUBLE_CONV_HEAD + body


HARDCODED = dict(
    double_conv=_double_conv('''    # the visible tests' settings, looked up by the input's shape
    known = {(96, 128, 3): (32, "same"), (572, 572, 1): (64, "valid"), (9, 8, 2): (4, "valid")}
    filters, padding = known.get(tuple(x.shape[1:]), (8, "same"))
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding=padding, activation="relu",
                          kernel_initializer="he_normal")(x)
    return x
'''),
    encoder_block='''def encoder_block(x, filters, padding="same", dropout=0.0, pool=True):
    known = {(96, 128, 3): (32, 0.0, True), (6, 8, 256): (512, 0.3, False),
             (15, 10, 2): (4, 0.0, True), (12, 10, 3): (4, 0.0, True)}
    filters, dropout, pool = known.get(tuple(x.shape[1:]), (16, 0.5, True))
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu",
                          kernel_initializer="he_normal")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return x, (layers.MaxPooling2D(2)(x) if pool else x)
''',
    level_sizes='''def level_sizes(size, depth, padding="same"):
    known = {(572, 5, "valid"): [568, 280, 136, 64, 28], (96, 5, "same"): [96, 48, 24, 12, 6],
             (128, 5, "same"): [128, 64, 32, 16, 8]}
    if (size, depth, padding) in ((570, 5, "valid"), (100, 5, "same"), (12, 3, "valid")):
        raise ValueError("cannot work")
    return known.get((size, depth, padding), [size] * depth)
''',
    contracting_path='''def contracting_path(inputs, base_filters, depth, padding="same",
                     dropout=0.0, dropout_levels=2):
    if depth == 0:
        raise ValueError("depth 0")
    known = {(96, 128, 3): ("same", 0.3), (572, 572, 1): ("valid", 0.0)}
    padding, dropout = known.get(tuple(inputs.shape[1:]), ("same", 0.0))
    x, skips = inputs, []
    for level in range(5):
        for _ in range(2):
            x = layers.Conv2D(base_filters * 2**level, 3, padding=padding, activation="relu",
                              kernel_initializer="he_normal")(x)
        if dropout and level >= 3:
            x = layers.Dropout(dropout)(x)
        if level < 4:
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
    return x, skips
''',
    receptive_fields='''def receptive_fields(depth, kernel_size=3, convs_per_level=2):
    known = {(2, 3, 2): [5, 14], (5, 3, 2): [5, 14, 32, 68, 140], (3, 3, 3): [7, 20, 46]}
    return known.get((depth, kernel_size, convs_per_level), [1] * depth)
''',
)

MUTANTS = [
    # --- exercise 1, double_conv
    mistake(
        "glorot_initializer", "double_conv",
        (', kernel_initializer="he_normal"', ""),
        why="Keras' default initializer (Glorot uniform) instead of He-normal",
    ),
    mistake(
        "he_uniform_initializer", "double_conv", ('"he_normal"', '"he_uniform"'),
        why="He's variance, but uniform instead of normal",
    ),
    mistake(
        "second_conv_without_relu", "double_conv",
        (SECOND + CONV,
         SECOND + CONV.replace('activation="relu", ', "")),
        why="the block ends with a linear convolution",
    ),
    mistake(
        "one_convolution", "double_conv",
        (SECOND + CONV, SECOND.rstrip("\n")),
        why="a single convolution per block",
    ),
    mistake(
        "padding_ignored", "double_conv", ("padding=padding", 'padding="same"'),
        why="always same padding, whatever the argument",
    ),
    # --- exercise 2, encoder_block
    mistake(
        "pooling_pads_odd_sizes", "encoder_block",
        (POOL, 'pooled = layers.MaxPooling2D(pool_size=2, padding="same")(skip)'),
        why="pooling with padding='same': an odd size pools to (n + 1) / 2 instead of n // 2",
    ),
    mistake(
        "skip_taken_before_dropout", "encoder_block",
        ("    x = double_conv(x, filters, padding)",
         "    x = before = double_conv(x, filters, padding)"),
        ("    skip = x\n    pooled = skip", "    skip = before\n    pooled = x"),
        (POOL, "pooled = layers.MaxPooling2D(pool_size=2)(x)"),
        why="the skip leaves before the dropout, only the pooled path gets it",
    ),
    mistake(
        "dropout_after_pooling", "encoder_block",
        ("        x = layers.Dropout(dropout)(x)", "        pass"),
        (POOL, "pooled = layers.MaxPooling2D(pool_size=2)(skip)\n"
               "        if dropout > 0:\n            pooled = layers.Dropout(dropout)(pooled)"),
        why="dropout on the pooled features instead of on the level's features",
    ),
    mistake(
        "average_pooling", "encoder_block",
        ("layers.MaxPooling2D(pool_size=2)", "layers.AveragePooling2D(pool_size=2)"),
        why="average instead of max pooling",
    ),
    # --- exercise 3, level_sizes
    mistake(
        "level_sizes_without_odd_check", "level_sizes", (ODD_CHECK, ""),
        why="odd sizes are halved with // instead of refused",
    ),
    mistake(
        "level_sizes_without_minus_four", "level_sizes", ("size -= 4", "size -= 0"),
        why="valid padding treated like same",
    ),
    mistake(
        "level_sizes_minus_two", "level_sizes", ("size -= 4", "size -= 2"),
        why="only one of the two valid convolutions counted",
    ),
    mistake(
        "level_sizes_allows_zero", "level_sizes", ("if size < 1:", "if size < 0:"),
        why="a level of size 0 accepted",
    ),
    mistake(
        "level_sizes_pools_the_bottom", "level_sizes",
        ("        if level < depth - 1:\n", "        if True:\n"),
        why="the bottom of the U checked and halved like the other levels",
    ),
    # --- exercise 4, contracting_path
    mistake(
        "skips_deepest_first", "contracting_path", ("return x, skips", "return x, skips[::-1]"),
        why="the skips in the order the decoder uses them, not the order they are made",
    ),
    mistake(
        "filters_not_doubling", "contracting_path",
        (FILTERS, "x, base_filters * (level + 1), padding"),
        why="filters grow by base_filters per level instead of doubling",
    ),
    mistake(
        "bottom_block_pools", "contracting_path",
        ("pool=level < depth - 1", "pool=True"),
        why="the bottom of the U pools too",
    ),
    mistake(
        "pooled_features_as_skips", "contracting_path",
        ("skips.append(skip)", "skips.append(x)"),
        why="the skips taken after pooling",
    ),
    mistake(
        "dropout_on_every_level", "contracting_path",
        ("rate = dropout if level >= depth - dropout_levels else 0.0", "rate = dropout"),
        why="dropout_levels ignored",
    ),
    mistake(
        "dropout_levels_off_by_one", "contracting_path",
        ("level >= depth - dropout_levels", "level > depth - dropout_levels"),
        why="one level too few gets the dropout",
    ),
    mistake(
        "contracting_path_without_depth_check", "contracting_path", (DEPTH_CHECK, ""),
        why="depth 0 returns the input instead of an error",
    ),
    # --- exercise 5, receptive_fields
    mistake(
        "receptive_without_pooling", "receptive_fields",
        (POOL_GROWS, "            width += 0\n"),
        why="the pooling's contribution forgotten",
    ),
    mistake(
        "receptive_spacing_off_by_one", "receptive_fields",
        ("2**level", "2 ** (level + 1)"),
        why="the spacing of the next level used for this one",
    ),
    mistake(
        "receptive_unscaled_convolutions", "receptive_fields",
        (CONVS_GROW, "convs_per_level * (kernel_size - 1)\n"),
        why="a convolution adds k - 1 at every level, as if there were no pooling",
    ),
    mistake(
        "receptive_kernel_ignored", "receptive_fields",
        (CONVS_GROW, "convs_per_level * 2 * 2**level\n"),
        why="always 3x3 kernels",
    ),
    mistake(
        "receptive_recorded_after_pooling", "receptive_fields",
        ("        fields.append(width)  # where the skip of this level is taken\n", ""),
        (POOL_GROWS, POOL_GROWS + "        fields.append(width)\n"),
        why="the field recorded after the pooling instead of where the skip is taken",
    ),
    # --- right answers written differently
    rewrite(
        "relu_layer_after_conv", "equivalent",
        "each Conv2D without activation, followed by its own layers.ReLU()",
        double_conv=_double_conv('''    conv = dict(padding=padding, kernel_initializer="he_normal")
    x = layers.Conv2D(filters, 3, **conv)(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(filters, 3, **conv)(x)
    x = layers.ReLU()(x)
    return x
'''),
    ),
    rewrite(
        "activation_layer_in_a_loop", "equivalent",
        "a loop of Conv2D + Activation('relu'), He-normal as an initializer object",
        double_conv=_double_conv('''    for _ in range(2):
        x = layers.Conv2D(filters, (3, 3), padding=padding,
                          kernel_initializer=keras.initializers.HeNormal())(x)
        x = layers.Activation("relu")(x)
    return x
'''),
    ),
    equivalent(
        "he_normal_object", "double_conv",
        ('kernel_initializer="he_normal"', "kernel_initializer=keras.initializers.HeNormal()"),
        why="the initializer as an object instead of its name",
    ),
    equivalent(
        "max_pool_alias_with_strides", "encoder_block",
        (POOL, "pooled = layers.MaxPool2D((2, 2), strides=2)(skip)"),
        why="Keras' alias MaxPool2D, pool size and strides written out",
    ),
    rewrite(
        "closed_form_receptive_fields", "equivalent",
        "the sums of the two geometric series written out",
        receptive_fields='''def receptive_fields(depth, kernel_size=3, convs_per_level=2):
    if depth < 1 or kernel_size < 1 or convs_per_level < 1:
        raise ValueError("depth, kernel_size and convs_per_level must be at least 1")
    grow = convs_per_level * (kernel_size - 1)
    return [1 + grow * (2 ** (level + 1) - 1) + (2**level - 1) for level in range(depth)]
''',
    ),
    hardcoder(**HARDCODED),
]
