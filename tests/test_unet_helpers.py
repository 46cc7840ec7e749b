"""The helpers notebooks 03 and 04 added to the course package: ``checks.compare_layers_either``
(several equally right layer orders) and ``plotting.plot_unet`` (a U-Net drawn as a U)."""

import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from unet_course import checks, plotting  # noqa: E402


def _decoder_step(skip_first):
    """A valid decoder step: up-convolution, cropped skip, concatenation, one convolution."""
    x, skip = keras.Input(shape=(4, 4, 8)), keras.Input(shape=(12, 12, 4))
    up = layers.Conv2DTranspose(4, 2, strides=2, padding="same")(x)
    cropped = layers.Cropping2D(2)(skip)
    merged = layers.Concatenate()([cropped, up] if skip_first else [up, cropped])
    return keras.Model([x, skip], layers.Conv2D(4, 3, activation="relu")(merged))


def _expected(skip_first, filters=4):
    up = checks.spec("Conv2DTranspose", (None, 8, 8, 4), 132)
    crop = checks.spec("Cropping2D", (None, 8, 8, 4), 0, cropping=((2, 2), (2, 2)))
    rest = [checks.spec("Concatenate", (None, 8, 8, 8), 0),
            checks.spec("Conv2D", (None, 6, 6, filters), 9 * 8 * filters + filters)]
    return ([crop, up] if skip_first else [up, crop]) + rest


def test_either_order_of_a_concatenation_is_accepted():
    for skip_first in (False, True):
        model = _decoder_step(skip_first)
        with pytest.raises(AssertionError):  # one order alone does not fit both models
            checks.compare_layers(model, _expected(not skip_first), "step", skip_inputs=True)
        checks.compare_layers_either(model, [_expected(False), _expected(True)], "step",
                                     skip_inputs=True)


def test_a_mismatch_is_reported_against_the_closest_order():
    model = _decoder_step(skip_first=True)
    with pytest.raises(AssertionError) as err:
        checks.compare_layers_either(model, [_expected(False, 5), _expected(True, 5)], "step",
                                     skip_inputs=True)
    message = str(err.value)
    # the skip-first list is the closer one: the message is about the convolution, not the order
    assert "layer 3" in message and "Conv2D (None, 6, 6, 5)" in message, message


def test_compare_layers_either_needs_alternatives():
    with pytest.raises(ValueError):
        checks.compare_layers_either(_decoder_step(False), [], "step")


def _small_unet(depth=3, crop=True):
    """A U-Net of ``depth`` levels (valid padding crops its skips) with a 1x1 head."""
    size = 46 if crop else 16
    inputs = keras.Input(shape=(size, size, 1))
    x, skips = inputs, []
    padding = "valid" if crop else "same"
    for level in range(depth):
        x = layers.Conv2D(2 * 2**level, 3, padding=padding, activation="relu")(x)
        if level < depth - 1:
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
    for skip in reversed(skips):
        up = layers.Conv2DTranspose(skip.shape[-1], 2, strides=2, padding="same")(x)
        extra = skip.shape[1] - up.shape[1]
        if extra:
            skip = layers.Cropping2D(extra // 2)(skip)
        x = layers.Concatenate()([up, skip])
        x = layers.Conv2D(skip.shape[-1], 3, padding=padding, activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(3, 1)(x), name="small")


@pytest.mark.parametrize(("depth", "crop"), [(3, True), (2, False), (1, False)])
def test_unet_layout_puts_each_layer_on_its_level(depth, crop):
    model = _small_unet(depth, crop)
    nodes, edges = plotting.unet_layout(model)
    assert list(nodes) == [layer.name for layer in model.layers]
    levels = [nodes[layer.name][1] for layer in model.layers]
    assert max(levels) == depth - 1 and levels[0] == levels[-1] == 0
    kinds = [kind for _, _, kind in edges]
    assert kinds.count("MaxPooling2D") == kinds.count("Conv2DTranspose") == depth - 1
    assert kinds[-1] == "head"
    # every Concatenate has two incoming arrows: the upsampled features and the skip
    concats = [layer.name for layer in model.layers if isinstance(layer, layers.Concatenate)]
    assert all(sum(child == c for _, child, _ in edges) == 2 for c in concats)
    skips = [(p, c) for p, c, k in edges if k in ("Cropping2D", "Concatenate")
             and nodes[c][0] - nodes[p][0] > 2]
    assert len(skips) == depth - 1


def test_plot_unet_draws_one_box_per_layer_and_a_legend():
    import matplotlib

    matplotlib.use("Agg")
    model = _small_unet(3, True)
    ax = plotting.plot_unet(model)
    boxes = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    assert len(boxes) == len(model.layers)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "copy and crop (skip connection)" in legend and "conv 1x1 (head)" in legend
    assert ax.get_title().startswith("small:")
    matplotlib.pyplot.close(ax.figure)
