"""The error-analysis plots of notebook 06: confusion heatmap and error overlay."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from unet_course import plotting  # noqa: E402


def test_error_map_codes_false_positives_negatives_and_mix_ups():
    truth = np.array([[0, 1, 2, 1], [2, 0, 1, 0]])  # 0 pet, 1 background, 2 border
    pred = np.array([[0, 0, 1, 1], [0, 2, 1, 1]])
    codes = plotting.error_map(truth[..., None], pred)  # (H, W, 1) against (H, W)
    np.testing.assert_array_equal(codes, [[0, 1, 2, 0], [3, 3, 0, 2]])
    assert codes.dtype == np.uint8


def test_error_map_refuses_masks_of_other_shapes():
    with pytest.raises(ValueError, match="shape"):
        plotting.error_map(np.zeros((4, 6)), np.zeros((6, 4)))


def test_confusion_heatmap_shows_row_shares_and_counts():
    cm = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])  # class 2 never occurs in the truth
    fig = plotting.show_confusion(cm, ("a", "b", "c"))
    ax = fig.axes[0]
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["80.0%\n8", "20.0%\n2", "0.0%\n0", "25.0%\n1", "75.0%\n3", "0.0%\n0"])
    shown = np.ma.filled(ax.images[0].get_array(), np.nan)
    np.testing.assert_allclose(shown[:2], [[0.8, 0.2, 0.0], [0.25, 0.75, 0.0]])
    assert np.isnan(shown[2]).all()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    plt.close(fig)


def test_confusion_heatmap_refuses_a_non_square_matrix():
    with pytest.raises(ValueError, match="square"):
        plotting.show_confusion(np.zeros((2, 3)))


def test_show_errors_paints_each_kind_of_error_in_its_colour():
    image = np.full((4, 4, 3), 0.5, np.float32)
    truth = np.ones((4, 4), np.uint8)  # all background ...
    truth[0, :2] = 0  # ... but for two pet pixels
    pred = truth.copy()
    pred[3, 3] = 0  # a false positive
    pred[0, 0] = 1  # a false negative
    pred[0, 1] = 2  # pet taken for border
    fig = plotting.show_errors([image], [truth[..., None]], [pred], scores=[0.5], n=1)
    overlay = fig.axes[3].images[0].get_array()
    np.testing.assert_allclose(overlay[3, 3], plotting.ERROR_COLORS[0])
    np.testing.assert_allclose(overlay[0, 0], plotting.ERROR_COLORS[1])
    np.testing.assert_allclose(overlay[0, 1], plotting.ERROR_COLORS[2])
    assert np.allclose(overlay[2, 2], overlay[2, 2][0])  # a right pixel stays grey
    assert "3 of 16 pixels" in fig.axes[3].get_title()
    assert "0.500" in fig.axes[0].get_title()
    plt.close(fig)
