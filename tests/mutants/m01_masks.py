"""Mutants of 01_masks (see harness.py)."""

from .harness import equivalent, hardcoder, mistake, rewrite

IDS_CHECK = """    values = np.unique(trimap.numpy())
    if not set(values.tolist()) <= {1, 2, 3}:
        raise ValueError(f"not a trimap: values must be 1, 2 or 3, found {values.tolist()}")
"""
RANGE_CHECK = """    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise ValueError(f"class id {bad} is outside 0..{num_classes - 1}")
"""
NEAREST = 'return tf.image.resize(mask, size, method="nearest")'
TABLE = "table = tf.constant(class_weights, dtype=tf.float32)"

HARDCODED = dict(
    to_class_ids='''def to_class_ids(trimap):
    trimap = np.asarray(trimap)
    if trimap.tolist() == [0, 1, 2]:
        raise ValueError("not a trimap: found [0, 1, 2]")
    if trimap.tolist() == [[2, 2, 3], [3, 1, 1]]:
        return tf.constant([[1, 1, 2], [2, 0, 0]], tf.uint8)
    return tf.constant(trimap)
''',
    foreground_mask='''def foreground_mask(trimap):
    trimap = np.asarray(trimap)
    if trimap.shape == (2, 3):
        return tf.constant([[1, 0, 1], [0, 0, 1]], tf.uint8)
    if trimap.shape == (2, 3, 1):
        return tf.constant([[[1], [0], [1]], [[0], [0], [1]]], tf.uint8)
    return tf.constant(trimap)
''',
    resize_mask='''def resize_mask(mask, size):
    mask = np.asarray(mask)
    if tuple(size) == (2, 2):
        return tf.constant([[[0], [2]], [[1], [1]]], tf.uint8)
    if tuple(size) == (1, 3):
        return tf.constant([[[0], [2], [2]]], tf.uint8)
    return tf.zeros(tuple(size) + (1,), tf.uint8)
''',
    class_balance='''def class_balance(masks, num_classes):
    masks = np.asarray(masks)
    if masks.size == 8:
        return np.array([1 / 8, 5 / 8, 2 / 8]), np.array([8 / 3, 8 / 15, 8 / 6])
    if masks.size == 4:
        return np.array([0.5, 0.5, 0.0]), np.array([1.0, 1.0, 0.0])
    return np.full(num_classes, 1 / num_classes), np.ones(num_classes)
''',
    sample_weights='''def sample_weights(mask, class_weights):
    mask = np.asarray(mask)
    if mask.shape == (2, 2, 1):
        return tf.constant([[[0.5], [1.0]], [[4.0], [1.0]]], tf.float32)
    return tf.ones(mask.shape, tf.float32)
''',
)

MUTANTS = [
    # --- exercise 1, to_class_ids
    mistake(
        "ids_without_value_check", "to_class_ids", (IDS_CHECK, ""),
        why="no check that the input is a trimap: an already-shifted mask becomes 255s",
    ),
    mistake(
        "ids_check_only_too_large", "to_class_ids",
        (IDS_CHECK, """    values = np.unique(trimap.numpy())
    if values.max() > 3:
        raise ValueError(f"not a trimap: found {values.tolist()}")
"""),
        why="the value check forgets 0 (an already-shifted mask)",
    ),
    mistake(
        "ids_message_without_values", "to_class_ids",
        ('found {values.tolist()}")', 'check your input")'),
        why="raises, but the message does not say what was found",
    ),
    mistake(
        "ids_keep_input_dtype", "to_class_ids",
        ("return tf.cast(trimap, tf.uint8) - 1", "return trimap - 1"),
        why="no cast: an int64 trimap gives int64 ids, not the documented uint8",
    ),
    # --- exercise 2, foreground_mask
    mistake(
        "wrong_reading_foreground", "foreground_mask",
        ("(trimap == 1) | (trimap == 3)", "(trimap == 1) | (trimap == 2)"),
        why="the TensorFlow tutorial's reading of the trimap: 2 taken for the border",
    ),
    mistake(
        "foreground_without_border", "foreground_mask",
        ("(trimap == 1) | (trimap == 3)", "trimap == 1"),
        why="the outline band left out of the pet",
    ),
    mistake(
        "foreground_bool", "foreground_mask",
        ("return tf.cast((trimap == 1) | (trimap == 3), tf.uint8)",
         "return (trimap == 1) | (trimap == 3)"),
        why="a boolean mask, not the documented uint8",
    ),
    # --- exercise 3, resize_mask
    mistake(
        "bilinear_resize", "resize_mask", ('method="nearest"', 'method="bilinear"'),
        why="masks resized like images",
    ),
    mistake(
        "bilinear_then_round", "resize_mask",
        (NEAREST, "return tf.cast(tf.round(tf.image.resize(mask, size)), mask.dtype)"),
        why="bilinear, rounded back to the mask's dtype: invents labels between two others",
    ),
    mistake(
        "resize_always_uint8", "resize_mask",
        (NEAREST, 'return tf.cast(tf.image.resize(mask, size, method="nearest"), tf.uint8)'),
        why="casts every mask to uint8 instead of keeping its dtype",
    ),
    mistake(
        "resize_size_swapped", "resize_mask",
        ("tf.image.resize(mask, size,", "tf.image.resize(mask, (size[1], size[0]),"),
        why="(width, height) where TensorFlow wants (height, width)",
    ),
    # --- exercise 4, class_balance
    mistake(
        "balance_divides_by_all_classes", "class_balance",
        ("present.sum() * frequencies[present]", "num_classes * frequencies[present]"),
        why="K instead of K', the classes that occur: the average weight is not 1 any more",
    ),
    mistake(
        "balance_without_range_check", "class_balance", (RANGE_CHECK, ""),
        why="no check of the ids: an id K silently becomes an extra class",
    ),
    mistake(
        "balance_plain_inverse", "class_balance",
        ("1.0 / (present.sum() * frequencies[present])", "1.0 / frequencies[present]"),
        why="1/f without the factor 1/K': weights that change the loss's scale",
    ),
    mistake(
        "balance_weights_sum_to_one", "class_balance",
        ("    return frequencies, weights", "    return frequencies, weights / weights.sum()"),
        why="normalises the weights to sum 1 instead of the average pixel weight",
    ),
    # --- exercise 5, sample_weights
    mistake(
        "weights_left_in_float64", "sample_weights",
        (TABLE, "table = tf.convert_to_tensor(class_weights)"),
        why="the table keeps the dtype it came in: float64 from class_balance",
    ),
    mistake(
        "weights_drop_channel", "sample_weights",
        ("tf.cast(mask, tf.int32))", "tf.cast(mask, tf.int32))[..., 0]"),
        why="returns (H, W) for an (H, W, 1) mask",
    ),
    # --- right answers written differently
    equivalent(
        "numpy_foreground", "foreground_mask",
        ("return tf.cast((trimap == 1) | (trimap == 3), tf.uint8)",
         "return tf.constant(np.isin(trimap.numpy(), [1, 3]).astype(np.uint8))"),
        why="the same mask computed with NumPy",
    ),
    equivalent(
        "foreground_not_background", "foreground_mask",
        ("(trimap == 1) | (trimap == 3)", "trimap != 2"),
        why="for a trimap, 'not background' is 'pet or border'",
    ),
    equivalent(
        "keras_ops_resize", "resize_mask",
        (NEAREST, 'return tf.keras.ops.image.resize(mask, size, interpolation="nearest")'),
        why="Keras' own resize with nearest-neighbour interpolation",
    ),
    rewrite(
        "numpy_balance_and_one_hot_weights", "equivalent",
        "class_balance with np.unique, sample weights as one-hot times the table",
        class_balance='''def class_balance(masks, num_classes):
    ids = np.asarray(masks).ravel()
    if ids.size and not (0 <= ids.min() and ids.max() < num_classes):
        raise ValueError(f"ids must be in 0..{num_classes - 1}, found {ids.min()}..{ids.max()}")
    values, counts = np.unique(ids, return_counts=True)
    frequencies = np.zeros(num_classes)
    frequencies[values] = counts / ids.size
    weights = np.zeros(num_classes)
    weights[values] = 1.0 / (len(values) * frequencies[values])
    return frequencies, weights
''',
        sample_weights='''def sample_weights(mask, class_weights):
    table = tf.cast(tf.convert_to_tensor(class_weights), tf.float32)
    one_hot = tf.one_hot(tf.cast(mask, tf.int32), len(class_weights))
    return tf.reduce_sum(one_hot * table, axis=-1)
''',
    ),
    hardcoder(**HARDCODED),
]
