"""Notebook 07's reference code: the focal loss, the class weights, the MobileNetV2 U-Net,
fine-tuning and inference at a photo's own size, checked against Keras and by hand.

The functions come from the solution notebook ``solutions/07_beyond/07_beyond.ipynb`` (imports
and function definitions of its code cells, marker lines removed; nothing is trained).
``SKIP_LAYERS``, an assignment the helper does not run, is read from the notebook's cell.
"""

import ast

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from autograder import course, nbcode  # noqa: E402

NOTEBOOK = course.SOLUTIONS / "07_beyond" / "07_beyond.ipynb"
NAMES = ("focal_loss", "loss_class_weights", "soft_dice_loss", "ce_plus_dice",
         "mobilenet_encoder", "build_mobilenet_unet", "unfreeze_from", "predict_mask",
         "build_unet", "decoder_block")


def _constant(name):
    for cell in nbcode.read(NOTEBOOK).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(nbcode.MAGIC.sub(r"\1pass", cell.source)).body:
            targets = [getattr(t, "id", None) for t in getattr(node, "targets", [])]
            if isinstance(node, ast.Assign) and targets == [name]:
                return ast.literal_eval(node.value)
    raise AssertionError(f"{NOTEBOOK.name} assigns no {name}")


@pytest.fixture(scope="module")
def nb():
    return nbcode.definitions(NOTEBOOK, NAMES, {"SKIP_LAYERS": _constant("SKIP_LAYERS")})


@pytest.mark.parametrize("gamma", [0.0, 0.7, 2.0, 4.0])
def test_focal_loss_is_keras_focal_crossentropy_with_alpha_one(nb, gamma):
    rng = np.random.default_rng(int(gamma * 10))
    logits = rng.normal(0, 3, (3, 9, 7, 5)).astype(np.float32)
    labels = rng.integers(0, 5, (3, 9, 7, 1)).astype(np.uint8)
    got = nb["focal_loss"](labels, logits, gamma=gamma).numpy()
    keras_loss = keras.losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=gamma,
                                                           from_logits=True, reduction=None)
    assert got.shape == (3, 9, 7)
    np.testing.assert_allclose(got, keras_loss(tf.one_hot(labels[..., 0], 5), logits), atol=2e-5)
    if gamma == 0:
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        np.testing.assert_allclose(got, ce(labels, logits), atol=1e-6)


def test_focal_loss_stays_exact_where_probabilities_underflow(nb):
    got = nb["focal_loss"](np.array([[2]]), np.array([[60.0, 0.0, -60.0]], np.float32)).numpy()
    assert got[0] == pytest.approx(120.0, rel=1e-6)  # log-softmax, no clipping at 1e-7


def test_inverse_weights_keep_the_mean_pixel_weight_at_one(nb):
    counts = np.array([199_934, 404_224, 51_202, 0])
    weights = nb["loss_class_weights"](counts, "inverse")
    assert weights[3] == 0
    assert float(weights @ counts) / counts.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(nb["loss_class_weights"](counts, "ignore", 1), [1, 0, 1, 1])
    with pytest.raises(ValueError):
        nb["loss_class_weights"](counts, "ignore", 4)


def test_soft_dice_loss_matches_numpy(nb):
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, (2, 6, 5, 3)).astype(np.float32)
    labels = rng.integers(0, 3, (2, 6, 5, 1))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y = np.eye(3)[labels[..., 0]]
    dice = (2 * (p * y).sum((1, 2)) + 1) / (p.sum((1, 2)) + y.sum((1, 2)) + 1)
    np.testing.assert_allclose(nb["soft_dice_loss"](labels, logits), 1 - dice.mean(-1), atol=1e-5)
    combined = nb["ce_plus_dice"](labels, logits).numpy()
    assert combined.shape == (2, 6, 5)


def test_mobilenet_unet_wiring_and_fine_tuning(nb):
    encoder = nb["mobilenet_encoder"]((64, 96, 3))
    assert [t._keras_history.operation.name for t in encoder.outputs] == list(nb["SKIP_LAYERS"])
    assert [tuple(t.shape) for t in encoder.outputs] == [
        (None, 32, 48, 96), (None, 16, 24, 144), (None, 8, 12, 192), (None, 4, 6, 576),
        (None, 2, 3, 320)]
    model = nb["build_mobilenet_unet"](encoder, 3, decoder_filters=(16, 8, 8, 4))
    assert tuple(model.output.shape) == (None, 64, 96, 3)
    decoder_only = model.count_params() - encoder.count_params()
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == decoder_only
    nb["unfreeze_from"](encoder, "block_13_expand")
    start = [layer.name for layer in encoder.layers].index("block_13_expand")
    batch_norm = keras.layers.BatchNormalization
    for index, layer in enumerate(encoder.layers):
        if layer.weights:
            wanted = index >= start and not isinstance(layer, batch_norm)
            assert layer.trainable == wanted, layer.name
    top = sum(int(np.prod(w.shape)) for layer in encoder.layers[start:]
              if not isinstance(layer, batch_norm) for w in layer.weights)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == decoder_only + top


def test_predict_mask_resizes_the_logits_then_takes_the_argmax(nb, tmp_path):
    inputs = keras.Input((8, 12, 3))
    conv = keras.layers.Conv2D(3, 1)
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([10 * np.eye(3, dtype=np.float32).reshape(1, 1, 3, 3),
                      np.array([0, 0, 3], np.float32)])
    rows, cols = np.meshgrid(np.linspace(0, 1, 333), np.linspace(0, 1, 500), indexing="ij")
    picture = np.stack([rows, cols, 1 - rows * cols], -1)
    picture = np.round(255 * picture).astype(np.uint8)
    path = tmp_path / "photo.png"
    tf.io.write_file(str(path), tf.io.encode_png(picture))
    mask = nb["predict_mask"](model, path)
    assert mask.shape == (333, 500) and mask.dtype == np.uint8
    logits = model(tf.image.resize(picture, (8, 12))[None] / 255.0)[0]
    first = np.argmax(tf.image.resize(logits, (333, 500)).numpy(), -1)
    nearest = tf.image.resize(tf.argmax(logits, -1)[..., None], (333, 500), method="nearest")
    np.testing.assert_array_equal(mask, first)
    assert np.mean(nearest.numpy()[..., 0] != first) > 0.005  # the two routes differ


def test_input_of_shows_what_a_nested_model_receives():
    from unet_course import checks

    inputs = keras.Input((6, 5, 3))
    inner = keras.Sequential([keras.Input((6, 5, 3)), keras.layers.Conv2D(2, 1)], name="inner")
    model = keras.Model(inputs, inner(keras.layers.Rescaling(2.0, offset=-1.0)(inputs)))
    x = np.random.default_rng(0).random((2, 6, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(checks.input_of(model, "inner")(x), 2 * x - 1, atol=1e-6)
    with pytest.raises(AssertionError, match="no layer 'outer'"):
        checks.input_of(model, "outer")


def test_expect_runs_names_the_input_that_failed():
    from unet_course import checks

    assert checks.expect_runs(lambda: 3, "three") == 3
    wanted = r"a grey PNG failed: ValueError: 1 channel.*rgb"
    with pytest.raises(AssertionError, match=wanted):
        checks.expect_runs(lambda: (_ for _ in ()).throw(ValueError("1 channel")), "a grey PNG",
                           hint="rgb")


def test_plot_class_scores_draws_one_bar_per_run_and_class_and_marks_nan():
    import matplotlib

    matplotlib.use("Agg")
    from unet_course import plotting

    ax = plotting.plot_class_scores({"a": [0.5, 0.25, np.nan], "b": [0.75, 0.5, 0.125]})
    assert len(ax.patches) == 6
    labels = [t.get_text() for t in ax.texts]
    assert "n/a" in labels and "0.12" in labels and labels.count("n/a") == 1
