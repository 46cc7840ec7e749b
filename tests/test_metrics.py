"""The metrics notebook's reference code agrees with Keras where the conventions agree.

The functions are taken from the solution notebook ``solutions/06_metrics/06_metrics.ipynb``
at test time (imports and function definitions of its code cells, ``### BEGIN/END
SOLUTION`` marker lines removed; no model is trained on the way): ``confusion_matrix``,
``iou_per_class``, ``dice_per_class``, ``summarize``, ``binary_iou_dice``,
``per_image_iou`` and ``boundary_band``.
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from autograder import course, nbcode  # noqa: E402

NOTEBOOK = course.SOLUTIONS / "06_metrics" / "06_metrics.ipynb"
NAMES = ("confusion_matrix", "iou_per_class", "dice_per_class", "summarize", "binary_iou_dice",
         "per_image_iou", "boundary_band")


@pytest.fixture(scope="module")
def nb():
    return nbcode.definitions(NOTEBOOK, NAMES)


def _random_masks(seed, k, shape, keep=0.6, present=None):
    rng = np.random.default_rng(seed)
    present = present or k
    truth = rng.integers(0, present, shape)
    noise = rng.integers(0, present, shape)
    return truth, np.where(rng.random(shape) < keep, truth, noise)


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matrix_matches_tensorflow(nb, seed):
    k = 2 + seed * 3
    truth, pred = _random_masks(seed, k, (3, 17, 11, 1))
    cm = nb["confusion_matrix"](truth, pred[..., 0], k)  # (B, H, W, 1) vs (B, H, W)
    expected = tf.math.confusion_matrix(truth.ravel(), pred.ravel(), num_classes=k).numpy()
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64


def test_confusion_matrix_rejects_bad_ids_and_sizes(nb):
    for t, p in (([0, 3], [0, 1]), ([0, 1], [0, -1]), ([0, 1, 2], [0, 1]), ([0, 1, 2], [3, 1, 1])):
        with pytest.raises(ValueError):
            nb["confusion_matrix"](np.array(t), np.array(p), 3)


@pytest.mark.parametrize("true_shape, pred_shape", [
    ((2, 4, 6), (2, 6, 4)), ((6,), (2, 3)), ((4, 4, 3), (4, 4)), ((3, 5), (3, 5, 2)),
])
def test_shapes_that_differ_by_more_than_a_trailing_1_are_refused(nb, true_shape, pred_shape):
    """Flattening first would count a transposed prediction against the wrong pixels."""
    with pytest.raises(ValueError, match=r"shape"):
        nb["confusion_matrix"](np.zeros(true_shape, int), np.zeros(pred_shape, int), 3)
    with pytest.raises(ValueError, match=r"shape"):
        nb["binary_iou_dice"](np.zeros(true_shape), np.zeros(pred_shape))


def test_a_single_square_image_is_compared_pixel_by_pixel(nb):
    """The case where `==` broadcasts silently: (1, H, W, 1) against (1, H, W)."""
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, (1, 8, 8, 1))
    pred = truth[..., 0].copy()
    assert (truth == pred).shape == (1, 8, 8, 8)  # what broadcasting would compare
    cm = nb["confusion_matrix"](truth, pred, 3)
    assert np.trace(cm) == cm.sum() == 64
    iou, _ = nb["binary_iou_dice"](truth == 1, (pred == 1).astype(float))
    assert iou == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_mean_and_per_class_iou_agree_with_keras_on_random_inputs(nb, seed):
    k = 3 + seed
    truth, pred = _random_masks(100 + seed, k, (4, 24, 24, 1))
    scores = nb["summarize"](nb["confusion_matrix"](truth, pred, k))
    mean = keras.metrics.MeanIoU(num_classes=k)
    mean.update_state(truth, pred)
    assert scores["mean_iou"] == pytest.approx(float(mean.result()), abs=1e-6)
    for c in range(k):
        per_class = keras.metrics.IoU(num_classes=k, target_class_ids=[c])
        per_class.update_state(truth, pred)
        assert scores["iou"][c] == pytest.approx(float(per_class.result()), abs=1e-6)


def test_absent_classes_are_nan_and_left_out_of_the_mean(nb):
    """Our convention; Keras's MeanIoU also leaves them out, its IoU() says 0."""
    truth, pred = _random_masks(7, 6, (2, 20, 20), present=4)  # classes 4 and 5 never occur
    scores = nb["summarize"](nb["confusion_matrix"](truth, pred, 6))
    assert np.isnan(scores["iou"][4:]).all() and np.isnan(scores["dice"][4:]).all()
    assert scores["mean_iou"] == pytest.approx(np.mean(scores["iou"][:4]))
    mean = keras.metrics.MeanIoU(num_classes=6)
    mean.update_state(truth, pred)
    assert scores["mean_iou"] == pytest.approx(float(mean.result()), abs=1e-6)
    absent = keras.metrics.IoU(num_classes=6, target_class_ids=[5])
    absent.update_state(truth, pred)
    assert float(absent.result()) == 0.0


def test_a_class_with_no_true_positive_scores_zero_not_nan(nb):
    for cm in (np.array([[3, 2], [0, 0]]), np.array([[3, 0], [2, 0]])):  # predicted / missed
        assert nb["iou_per_class"](cm).tolist() == pytest.approx([0.6, 0.0])
        assert nb["dice_per_class"](cm).tolist() == pytest.approx([0.75, 0.0])


def test_dice_is_two_iou_over_one_plus_iou(nb):
    cm = np.random.default_rng(8).integers(0, 40, (7, 7))
    iou, dice = nb["iou_per_class"](cm), nb["dice_per_class"](cm)
    np.testing.assert_allclose(dice, 2 * iou / (1 + iou), atol=1e-12)


def test_empty_matrix_gives_nan_without_warnings(nb):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = nb["summarize"](np.zeros((4, 4), np.int64))
    assert np.isnan([scores["pixel_accuracy"], scores["mean_iou"], scores["mean_dice"]]).all()


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_binary_scores_agree_with_keras_binary_iou(nb, threshold):
    rng = np.random.default_rng(9)
    truth = (rng.random((2, 32, 32, 1)) < 0.3).astype(np.uint8)
    probabilities = np.clip(0.6 * truth + rng.normal(0.2, 0.25, truth.shape), 0, 1)
    probabilities[0, 0, 0, 0] = threshold  # exactly at the threshold: foreground
    iou, dice = nb["binary_iou_dice"](truth, probabilities, threshold)
    metric = keras.metrics.BinaryIoU(target_class_ids=[1], threshold=threshold)
    metric.update_state(truth, probabilities)
    assert iou == pytest.approx(float(metric.result()), abs=1e-6)
    assert dice == pytest.approx(2 * iou / (1 + iou))


def test_binary_scores_of_empty_masks_are_nan(nb):
    assert np.isnan(nb["binary_iou_dice"](np.zeros(9), np.zeros(9))).all()


def test_per_image_iou_agrees_with_keras_image_by_image(nb):
    truth, pred = _random_masks(10, 5, (6, 12, 12, 1))
    truth[3] = 2
    scores = nb["per_image_iou"](truth, pred[..., 0], 5)
    for i in range(6):
        metric = keras.metrics.MeanIoU(num_classes=5)
        metric.update_state(truth[i], pred[i])
        assert scores[i] == pytest.approx(float(metric.result()), abs=1e-6)


def test_per_image_iou_refuses_batches_of_different_sizes(nb):
    with pytest.raises(ValueError):
        nb["per_image_iou"](np.zeros((3, 4, 4, 1), int), np.zeros((2, 4, 4), int), 3)


def _band_by_hand(fg, width):
    """A pixel is in the band when its (2w+1)^2 square, clipped to the image, is mixed."""
    fg = np.asarray(fg) != 0
    out = np.zeros(fg.shape, bool)
    for i in range(fg.shape[1]):
        for j in range(fg.shape[2]):
            window = fg[:, max(0, i - width):i + width + 1, max(0, j - width):j + width + 1]
            out[:, i, j] = window.any(axis=(1, 2)) & ~window.all(axis=(1, 2))
    return out


@pytest.mark.parametrize("width", [0, 1, 2, 4])
def test_boundary_band_matches_a_pixel_by_pixel_count(nb, width):
    rng = np.random.default_rng(width)
    yy, xx = np.mgrid[:15, :19]
    fg = np.stack([(yy - rng.uniform(0, 15)) ** 2 + (xx - rng.uniform(0, 19)) ** 2 < 30
                   for _ in range(3)]).astype(np.uint8)
    fg[1, :, :4] = 1  # an object touching the left edge
    band = nb["boundary_band"](fg, width)
    assert band.dtype == bool and band.shape == fg.shape
    np.testing.assert_array_equal(band, _band_by_hand(fg, width))
    if width < 4:  # columns 0-3 of image 1 are all object: the picture's edge is no outline
        assert not band[1, :, 0].any()
