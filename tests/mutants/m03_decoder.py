"""Mutants of 03_decoder (see harness.py)."""

from .harness import equivalent, hardcoder, mistake, rewrite

UP = 'return layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same")(x)'
RESIZE_CONV = 'return layers.Conv2D(filters, kernel_size, padding="same")(x)'
RESIZE_UP = 'x = layers.UpSampling2D(size=2, interpolation="nearest")(x)'
CROP = "return layers.Cropping2D(((top, dh - top), (left, dw - left)))(skip)"
CONCAT = "x = layers.Concatenate()([up, skip])"
LOOP = "x = decoder_block(x, skip, skip.shape[-1], padding, upconv_kernel)"

MUTANTS = [
    # exercise 1: upsample
    mistake(
        "upsample_stride_1", "upsample",
        (UP, 'return layers.Conv2DTranspose(filters, kernel_size, padding="same")(x)'),
        why="the stride forgotten: a transposed convolution with stride 1 keeps the size",
    ),
    mistake(
        "upsample_valid_padding", "upsample",
        (UP, 'return layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="valid")(x)'),
        why="valid padding: right for 2x2 kernels, 2n + 1 for a 3x3 kernel",
    ),
    mistake(
        "upsample_relu", "upsample",
        (UP, 'return layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same", '
             'activation="relu")(x)'),
        why="a ReLU on the up-convolution, which the paper's is not",
    ),
    mistake(
        "upsample_kernel_ignored", "upsample",
        (UP, 'return layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)'),
        why="the kernel size hard-wired to the paper's 2x2",
    ),
    mistake(
        "resize_conv_first", "upsample",
        (f"{RESIZE_UP}\n        {RESIZE_CONV}",
         'x = layers.Conv2D(filters, kernel_size, padding="same")(x)\n'
         '        return layers.UpSampling2D(size=2)(x)'),
        why="convolve, then resize: same parameters, another operation",
    ),
    mistake(
        "resize_bilinear", "upsample",
        (RESIZE_UP, 'x = layers.UpSampling2D(size=2, interpolation="bilinear")(x)'),
        why="bilinear instead of nearest-neighbour resizing",
    ),
    mistake(
        "resize_conv_valid", "upsample",
        (RESIZE_CONV, 'return layers.Conv2D(filters, kernel_size, padding="valid")(x)'),
        why="the convolution after resizing shrinks the picture",
    ),
    mistake(
        "unknown_mode_falls_through", "upsample",
        ('    raise ValueError(f\'mode must be "transpose" or "resize", not {mode!r}\')',
         "    return layers.Conv2DTranspose(filters, kernel_size, strides=2, padding=\"same\")(x)"),
        why="any unknown mode silently means 'transpose'",
    ),
    # exercise 2: crop_to_match
    mistake(
        "crop_odd_row_on_top", "crop_to_match",
        ("top, left = dh // 2, dw // 2", "top, left = dh - dh // 2, dw - dw // 2"),
        why="the odd row and column come off the top and left",
    ),
    mistake(
        "crop_width_from_height", "crop_to_match",
        ("dw = skip.shape[2] - target.shape[2]", "dw = skip.shape[1] - target.shape[1]"),
        why="copy-paste: the width's excess taken from the heights (right for squares only)",
    ),
    mistake(
        "crop_always_a_layer", "crop_to_match",
        ("    if dh == 0 and dw == 0:\n        return skip\n", ""),
        why="no shortcut: a Cropping2D of nothing is added for equal sizes",
    ),
    # exercise 3: decoder_block
    mistake(
        "skip_not_cropped", "decoder_block",
        ("    skip = crop_to_match(skip, up)\n", ""),
        why="the skip is concatenated uncropped (works with same padding only)",
    ),
    mistake(
        "crop_to_x_not_up", "decoder_block",
        ("skip = crop_to_match(skip, up)", "skip = crop_to_match(skip, x)"),
        why="the skip cropped to the deeper features instead of the upsampled ones",
    ),
    mistake(
        "concat_on_height", "decoder_block",
        (CONCAT, "x = layers.Concatenate(axis=1)([up, skip])"),
        why="concatenated along the height instead of the channels",
    ),
    mistake(
        "decoder_padding_not_passed", "decoder_block",
        ("return double_conv(x, filters, padding)", "return double_conv(x, filters)"),
        why="the double convolution always uses same padding",
    ),
    mistake(
        "decoder_kernel_not_passed", "decoder_block",
        ("up = upsample(x, filters, upconv_kernel)", "up = upsample(x, filters)"),
        why="the up-convolution kernel is never passed on",
    ),
    mistake(
        "decoder_add_not_concat", "decoder_block",
        (CONCAT, "x = layers.Add()([up, skip])"),
        why="the skip added instead of concatenated",
    ),
    mistake(
        "decoder_double_filters", "decoder_block",
        ("return double_conv(x, filters, padding)", "return double_conv(x, 2 * filters, padding)"),
        why="the double convolution keeps the concatenation's 2 * filters channels",
    ),
    # exercise 4: expanding_path
    mistake(
        "skips_not_reversed", "expanding_path",
        ("for skip in reversed(skips):", "for skip in skips:"),
        why="the shallowest skip first",
    ),
    mistake(
        "filters_halved_from_x", "expanding_path",
        (LOOP, "x = decoder_block(x, skip, x.shape[-1] // 2, padding, upconv_kernel)"),
        why="filters from the deeper features (half of them): right only when the encoder doubles",
    ),
    mistake(
        "path_padding_not_passed", "expanding_path",
        (LOOP, "x = decoder_block(x, skip, skip.shape[-1], upconv_kernel=upconv_kernel)"),
        why="the padding is never passed on",
    ),
    mistake(
        "path_kernel_not_passed", "expanding_path",
        (LOOP, "x = decoder_block(x, skip, skip.shape[-1], padding)"),
        why="the up-convolution kernel is never passed on",
    ),
    mistake(
        "path_drops_deepest", "expanding_path",
        ("for skip in reversed(skips):", "for skip in reversed(skips[:-1]):"),
        why="off by one: the deepest skip is left out",
    ),
    # right answers written differently
    equivalent(
        "concat_skip_first", "decoder_block",
        (CONCAT, "x = layers.Concatenate()([skip, up])"),
        why="the other order of the concatenation (the MachineCurve U-Net's)",
    ),
    equivalent(
        "functional_concatenate_keywords", "decoder_block",
        (CONCAT, "x = layers.concatenate([up, skip], axis=-1)"),
        ("up = upsample(x, filters, upconv_kernel)",
         "up = upsample(x=x, filters=filters, kernel_size=upconv_kernel)"),
        ("return double_conv(x, filters, padding)",
         "return double_conv(x, filters=filters, padding=padding)"),
        why="keras.layers.concatenate, and every argument by keyword",
    ),
    equivalent(
        "upsample_keywords", "upsample",
        (UP, "return layers.Conv2DTranspose(filters=filters, "
             "kernel_size=(kernel_size, kernel_size), strides=(2, 2), padding=\"same\", "
             "activation=None)(x)"),
        (RESIZE_UP, "x = layers.UpSampling2D((2, 2))(x)"),
        (RESIZE_CONV, "return layers.Conv2D(filters, (kernel_size, kernel_size), strides=1, "
                      "padding=\"same\", activation=\"linear\")(x)"),
        why="tuples, keywords and explicit defaults",
    ),
    rewrite(
        "crop_divmod", "equivalent", "the amounts with divmod, the check on the shapes",
        crop_to_match='''def crop_to_match(skip, target):
    (sh, sw), (th, tw) = skip.shape[1:3], target.shape[1:3]
    if sh < th or sw < tw:
        raise ValueError(f"skip {skip.shape} is smaller than target {target.shape}")
    if (sh, sw) == (th, tw):
        return skip
    top, odd_h = divmod(sh - th, 2)
    left, odd_w = divmod(sw - tw, 2)
    return layers.Cropping2D(cropping=((top, top + odd_h), (left, left + odd_w)))(skip)
''',
    ),
    rewrite(
        "expanding_indices", "equivalent", "an index loop from the deepest skip up",
        expanding_path='''def expanding_path(x, skips, padding="same", upconv_kernel=2):
    if not isinstance(skips, (list, tuple)):
        raise TypeError("skips must be a list")
    for i in range(len(skips) - 1, -1, -1):
        channels = skips[i].shape[-1]
        x = decoder_block(x, skips[i], channels, padding=padding, upconv_kernel=upconv_kernel)
    return x
''',
    ),
    hardcoder(
        upsample='''# the shapes the visible tests use; anything else gets a wrong answer
VISIBLE = {(28, 28, 1024), (6, 8, 512), (4, 4, 8), (64, 64, 512), (568, 568, 64), (12, 16, 256),
           (56, 56, 8), (4, 4, 2), (12, 12, 3), (18, 18, 256), (96, 96, 64), (44, 44, 128),
           (32, 32, 128), (24, 32, 128), (48, 64, 64), (96, 128, 32), (7, 7, 3)}


def seen(*tensors):
    return all(tuple(t.shape[1:]) in VISIBLE for t in tensors)


def upsample(x, filters, kernel_size=2, mode="transpose"):
    if not seen(x):
        return layers.Conv2DTranspose(filters, 1, strides=2)(x)
    if mode == "transpose":
        return layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same")(x)
    if mode == "resize":
        return layers.Conv2D(filters, kernel_size, padding="same")(layers.UpSampling2D(2)(x))
    raise ValueError(mode)
''',
        crop_to_match='''def crop_to_match(skip, target):
    if not seen(skip):
        return skip
    dh, dw = skip.shape[1] - target.shape[1], skip.shape[2] - target.shape[2]
    if dh < 0 or dw < 0:
        raise ValueError("smaller")
    if dh == dw == 0:
        return skip
    return layers.Cropping2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)))(skip)
''',
        decoder_block='''def decoder_block(x, skip, filters, padding="same", upconv_kernel=2):
    if not seen(x, skip):
        return x
    up = upsample(x, filters, upconv_kernel)
    return double_conv(layers.Concatenate()([up, crop_to_match(skip, up)]), filters, padding)
''',
        expanding_path='''def expanding_path(x, skips, padding="same", upconv_kernel=2):
    if not seen(x, *skips):
        return x
    for skip in reversed(skips):
        x = decoder_block(x, skip, skip.shape[-1], padding, upconv_kernel)
    return x
''',
    ),
]
