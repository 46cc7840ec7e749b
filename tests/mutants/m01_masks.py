"""Mutants of 01_masks (see harness.py)."""

from .harness import equivalent, mistake

MUTANTS = [
    mistake(
        "wrong_reading_foreground", "foreground_mask",
        ("(trimap == 1) | (trimap == 3)", "(trimap == 1) | (trimap == 2)"),
        why="the TensorFlow tutorial's reading of the trimap: 2 taken for the border",
    ),
    mistake(
        "bilinear_resize", "resize_mask", ('method="nearest"', 'method="bilinear"'),
        why="masks resized like images",
    ),
    equivalent(
        "numpy_foreground", "foreground_mask",
        ("return tf.cast((trimap == 1) | (trimap == 3), tf.uint8)",
         "return tf.constant(np.isin(trimap.numpy(), [1, 3]).astype(np.uint8))"),
        why="the same mask computed with NumPy",
    ),
]
