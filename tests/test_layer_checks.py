"""The Keras 3 layer checks of ``unet_course.checks``: descriptions, comparisons, messages."""

import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from unet_course import checks  # noqa: E402


def _small_model(extra=False, drop_last=False, width=16, padding="same"):
    """Input 8x8x3 -> conv_a (8 filters) -> [extra Dropout] -> conv_b -> pool."""
    inp = keras.Input(shape=(8, 8, 3), name="image")
    x = layers.Conv2D(
        8, 3, padding="same", activation="relu", kernel_initializer="he_normal", name="conv_a"
    )(inp)
    if extra:
        x = layers.Dropout(0.5, name="extra")(x)
    x = layers.Conv2D(width, 3, padding=padding, activation="relu", name="conv_b")(x)
    if not drop_last:
        x = layers.MaxPooling2D(2, name="pool")(x)
    return keras.Model(inp, x)


EXPECTED = [
    checks.spec("InputLayer", (None, 8, 8, 3), 0),
    checks.spec("Conv2D", (None, 8, 8, 8), 224, padding="same", initializer="HeNormal"),
    checks.spec("Conv2D", (None, 8, 8, 16), 1_168, padding="same", activation="relu"),
    checks.spec("MaxPooling2D", (None, 4, 4, 16), 0, pool_size=(2, 2)),
]


def test_describe_layer_reads_keras3_outputs_and_settings():
    model = _small_model()
    conv = checks.describe_layer(model.get_layer("conv_a"))
    assert conv == {
        "class": "Conv2D",
        "output_shape": (None, 8, 8, 8),
        "params": 224,
        "filters": 8,
        "kernel_size": (3, 3),
        "strides": (1, 1),
        "padding": "same",
        "activation": "relu",
        "initializer": "HeNormal",
    }
    assert checks.describe_layer(model.get_layer("conv_b"))["initializer"] == "GlorotUniform"
    pool = checks.describe_layer(model.get_layer("pool"))
    assert pool["pool_size"] == (2, 2) and pool["output_shape"] == (None, 4, 4, 16)
    first = checks.describe_layer(model.layers[0])
    assert first == {"class": "InputLayer", "output_shape": (None, 8, 8, 3), "params": 0}


def test_describe_layer_decoder_layers():
    x, skip = keras.Input(shape=(4, 4, 6)), keras.Input(shape=(12, 12, 2))
    up = layers.Conv2DTranspose(3, 3, strides=2, padding="same", name="up")(x)
    cropped = layers.Cropping2D(((2, 2), (1, 3)), name="crop")(skip)
    merged = layers.Concatenate(name="cat")([up, cropped])
    out = layers.Activation("sigmoid", name="act")(layers.Dropout(0.25, name="drop")(merged))
    model = keras.Model([x, skip], out)
    up_info = checks.describe_layer(model.get_layer("up"))
    assert up_info["params"] == 3 * 3 * 6 * 3 + 3 and up_info["strides"] == (2, 2)
    assert up_info["activation"] == "linear" and up_info["output_shape"] == (None, 8, 8, 3)
    assert checks.describe_layer(model.get_layer("crop"))["cropping"] == ((2, 2), (1, 3))
    assert checks.describe_layer(model.get_layer("cat"))["axis"] == 3  # -1 counted from the front
    assert checks.describe_layer(model.get_layer("drop"))["rate"] == 0.25
    assert checks.describe_layer(model.get_layer("act"))["activation"] == "sigmoid"


def test_describe_layer_of_a_layer_never_called():
    info = checks.describe_layer(layers.Conv2D(4, 3))
    assert info["output_shape"] is None and info["params"] == 0 and info["filters"] == 4


def test_spec_keeps_only_given_keys_and_makes_tuples():
    assert checks.spec("Dropout") == {"class": "Dropout"}
    entry = checks.spec("Cropping2D", [None, 5, 5, 2], 0, cropping=[[1, 1], [2, 2]])
    assert entry == {
        "class": "Cropping2D",
        "output_shape": (None, 5, 5, 2),
        "params": 0,
        "cropping": ((1, 1), (2, 2)),
    }


def test_compare_layers_accepts_a_matching_model():
    model = _small_model()
    checks.compare_layers(model, EXPECTED, "small model")
    checks.compare_layers(model, _small_model(), "small model against itself")
    assert [d["class"] for d in checks.layer_summary(model)] == [
        "InputLayer",
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
    ]


def test_compare_layers_names_the_first_differing_layer():
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(_small_model(width=32), EXPECTED, "small model")
    assert str(err.value) == (
        "small model, layer 2 (conv_b): expected Conv2D (None, 8, 8, 16) with 1,168 params, "
        "got Conv2D (None, 8, 8, 32) with 2,336 params."
    )


def test_compare_layers_reports_settings_that_differ():
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(
            _small_model(padding="valid"),
            [
                EXPECTED[0],
                EXPECTED[1],
                checks.spec("Conv2D", padding="same"),
                checks.spec("MaxPooling2D"),
            ],
            "m",
            hint="use padding='same'",
        )
    assert str(err.value) == (
        "m, layer 2 (conv_b) (Conv2D): expected padding='same', got padding='valid'. "
        "Hint: use padding='same'"
    )


def test_compare_layers_reports_an_extra_layer_in_the_middle():
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(_small_model(extra=True), EXPECTED, "small model")
    message = str(err.value)
    assert message.startswith("small model: expected 4 layers, got 5; ")
    assert "first extra layer: layer 2 (extra), Dropout (None, 8, 8, 8) with 0 params" in message


def test_compare_layers_reports_an_extra_layer_at_the_end():
    """The Coursera comparator ignores extra layers at the end; this one must not."""
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(_small_model(), EXPECTED[:3], "m")
    assert str(err.value) == (
        "m: expected 3 layers, got 4; first extra layer: layer 3 (pool), "
        "MaxPooling2D (None, 4, 4, 16) with 0 params."
    )


def test_compare_layers_reports_a_missing_layer():
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(_small_model(drop_last=True), EXPECTED, "m")
    assert str(err.value) == (
        "m: expected 4 layers, got 3; first missing layer: expected layer 3, "
        "MaxPooling2D (None, 4, 4, 16) with 0 params, after layer 2 (conv_b)."
    )
    missing_middle = EXPECTED[:2] + [checks.spec("Dropout", (None, 8, 8, 8), 0)] + EXPECTED[2:]
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(_small_model(), missing_middle, "m")
    assert str(err.value) == (
        "m: expected 5 layers, got 4; first missing layer: expected layer 2, Dropout "
        "(None, 8, 8, 8) with 0 params, after layer 1 (conv_a)."
    )


def test_a_missing_layer_is_not_reported_as_a_layer_identical_to_its_expectation():
    """The layers before the gap match: the message must name the gap, not them."""
    wanted = EXPECTED[:1] + [checks.spec("Conv2D", (None, 8, 8, 8), 224)] + EXPECTED[1:]
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(_small_model(), wanted, "m")
    message = str(err.value)
    assert "first missing layer: expected layer 1" in message or "after layer 1" in message
    assert "in its place" not in message


def _separate_activation_model(activation):
    inputs = keras.Input(shape=(8, 8, 3))
    x = layers.Conv2D(8, 3, padding="same", kernel_initializer="he_normal")(inputs)
    x = layers.ReLU()(x) if activation == "ReLU()" else layers.Activation(activation)(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("activation", ["ReLU()", "relu"])
def test_a_separate_activation_layer_is_the_same_as_the_convolution_with_it(activation):
    wanted = [
        checks.spec("InputLayer", (None, 8, 8, 3), 0),
        checks.spec("Conv2D", (None, 8, 8, 8), 224, activation="relu", initializer="HeNormal"),
    ]
    checks.compare_layers(_separate_activation_model(activation), wanted, "m")


def test_a_separate_activation_layer_of_another_kind_is_reported_and_explained():
    wanted = [
        checks.spec("InputLayer", (None, 8, 8, 3), 0),
        checks.spec("Conv2D", (None, 8, 8, 8), 224, activation="relu"),
    ]
    with pytest.raises(AssertionError) as err:
        checks.compare_layers(_separate_activation_model("tanh"), wanted, "m")
    assert "expected activation='relu', got activation='tanh'" in str(err.value)
    assert "counts as one convolution with that activation" in str(err.value)
    capped = keras.Input(shape=(8, 8, 3))
    relu6 = layers.ReLU(max_value=6)(layers.Conv2D(8, 3, padding="same")(capped))
    model = keras.Model(capped, relu6)
    with pytest.raises(AssertionError, match="expected 2 layers, got 3"):
        checks.compare_layers(model, wanted, "m")  # ReLU6 is another function


def test_compare_layers_on_lists_of_layers_and_without_inputs():
    x, skip = keras.Input(shape=(4, 4, 6)), keras.Input(shape=(8, 8, 2))
    up = layers.Conv2DTranspose(2, 2, strides=2, padding="same")(x)
    model = keras.Model([x, skip], layers.Concatenate()([up, skip]))
    wanted = [checks.spec("Conv2DTranspose", (None, 8, 8, 2), 50), checks.spec("Concatenate")]
    checks.compare_layers(model, wanted, "block", skip_inputs=True)
    with pytest.raises(AssertionError, match=r"expected 1 layer \(not counting inputs\), got 2"):
        checks.compare_layers(model, wanted[:1], "block", skip_inputs=True)
    checks.compare_layers(model.layers[-1:], [checks.spec("Concatenate", (None, 8, 8, 4))])
    with pytest.raises(AssertionError, match=r"got None instead of a model"):
        checks.compare_layers(None, wanted)


def test_expect_params():
    model = _small_model()
    checks.expect_params(model, 1_392)
    with pytest.raises(AssertionError) as err:
        checks.expect_params(model, 1_000_000, "small model", hint="count the filters")
    assert str(err.value) == (
        "small model: expected 1,000,000 parameters, got 1,392. Hint: count the filters"
    )


def test_parameters_and_settings_come_from_the_weights_and_keras_own_methods():
    model = _small_model()
    conv = model.get_layer("conv_a")
    conv.count_params = lambda: 0  # patched on the instance, as an answer cell could
    conv.get_config = lambda: {
        "filters": 99,
        "kernel_size": (1, 1),
        "strides": (1, 1),
        "padding": "valid",
        "activation": "linear",
    }
    info = checks.describe_layer(conv)
    assert info["params"] == 224 and info["filters"] == 8 and info["activation"] == "relu"
    checks.compare_layers(model, EXPECTED)
    model.count_params = lambda: 1_000_000
    with pytest.raises(
        AssertionError,
        match="count_params\\(\\) says 1000000 parameters, but its weights hold 1,392",
    ):
        checks.expect_params(model, 1_000_000)

    class Liar(layers.Conv2D):  # a subclass outside Keras cannot change what is read either
        def get_config(self):
            return dict(super().get_config(), activation="relu")

    liar = Liar(4, 3)
    liar.build((None, 8, 8, 2))
    assert checks.describe_layer(liar)["activation"] == "linear"
    with pytest.raises(AssertionError, match="expected a Keras model or layer, got str"):
        checks.expect_params("model", 3)
    with pytest.raises(AssertionError, match="not built yet"):
        checks.expect_params(layers.Dense(3), 12)


def test_expect_keras_tensor():
    tensor = keras.Input(shape=(6, 8, 3))
    checks.expect_keras_tensor(tensor, (None, 6, 8, 3), "t")
    with pytest.raises(
        AssertionError, match=r"t: expected shape \(None, 6, 8, 4\), got \(None, 6, 8, 3\)"
    ):
        checks.expect_keras_tensor(tensor, (None, 6, 8, 4), "t")
    with pytest.raises(AssertionError, match="forget to `return`"):
        checks.expect_keras_tensor(None, (None, 6, 8, 3), "t")
    with pytest.raises(AssertionError, match="expected one tensor, got a tuple of 2"):
        checks.expect_keras_tensor((tensor, tensor), (None, 6, 8, 3), "t")
    with pytest.raises(AssertionError, match="expected a tensor, got str"):
        checks.expect_keras_tensor("x", (None,), "t")
