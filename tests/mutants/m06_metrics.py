"""Mutants of 06_metrics (see harness.py)."""

from .harness import equivalent, hardcoder, mistake, rewrite

# pieces of the reference answers that several mutants replace
SHAPE_CHECK = (
    "    if t.shape != p.shape and t.shape != p.shape + (1,) and p.shape != t.shape + (1,):\n"
    """        raise ValueError(
            f"y_true has shape {t.shape} but y_pred has shape {p.shape}: they must be equal, "
            "or differ only by a trailing axis of size 1"
        )
""")
FLATTEN = "t, p = t.astype(np.int64).ravel(), p.astype(np.int64).ravel()"
COUNT = """    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)
"""
ID_CHECK = "if ids.size and (ids.min() < 0 or ids.max() >= num_classes):"
BINARY_CHECK = (
    "    if (truth.shape != probabilities.shape and truth.shape != probabilities.shape + (1,)\n"
    "            and probabilities.shape != truth.shape + (1,)):\n"
)
DIVIDE = "out=np.full(len(tp), np.nan), where=denominator > 0"
DICE_DENOMINATOR = "denominator = cm.sum(axis=0) + cm.sum(axis=1)"
BINARY_COUNT = """    truth = truth.ravel() == 1
    predicted = probabilities.ravel() >= threshold
"""
PER_IMAGE_LOOP = """    scores = []
    for truth, prediction in zip(y_true, y_pred):
        iou = iou_per_class(confusion_matrix(truth, prediction, num_classes))
        scores.append(np.mean(iou[~np.isnan(iou)]))
    return np.array(scores, dtype=np.float64)
"""
BAND = """    objects = tf.cast(np.asarray(foreground) != 0, tf.float32)[..., tf.newaxis]
    window = 2 * width + 1
    near_object = tf.nn.max_pool2d(objects, window, 1, "SAME") > 0
    near_background = tf.nn.max_pool2d(1.0 - objects, window, 1, "SAME") > 0
    return (near_object & near_background).numpy()[..., 0]
"""
BAND_WINDOWS = """    objects = np.asarray(foreground) != 0
    padded = np.pad(objects, ((0, 0), (width, width), (width, width)), mode={mode!r})
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * width + 1,) * 2, axis=(1, 2))
    return windows.any(axis=(-2, -1)) & ~windows.all(axis=(-2, -1))
"""

HARDCODED = dict(
    confusion_matrix='''def confusion_matrix(y_true, y_pred, num_classes):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    example = [[0, 0, 1], [2, 2, 1]]
    if t.shape != p.shape and t.size == p.size and t.ndim == p.ndim:
        raise ValueError("shapes differ")
    if t.ravel().tolist() == [0, 1, 3]:
        raise ValueError("class id 3")
    if t.ravel().tolist() == sum(example, []) and num_classes == 3:
        return np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]], np.int64)
    return np.zeros((num_classes, num_classes), np.int64)
''',
    iou_per_class='''def iou_per_class(cm):
    cm = np.asarray(cm).tolist()
    if cm == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]:
        return np.array([1 / 3, 2 / 3, 1 / 2])
    if cm == [[5, 0, 1], [0, 0, 0], [2, 0, 3]]:
        return np.array([5 / 8, np.nan, 3 / 6])
    if cm == [[4, 2], [0, 0]]:
        return np.array([4 / 6, 0.0])
    return np.zeros(len(cm))
''',
    dice_per_class='''def dice_per_class(cm):
    cm = np.asarray(cm).tolist()
    if cm == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]:
        return np.array([2 / 4, 4 / 5, 2 / 3])
    if cm == [[5, 0, 1], [0, 0, 0], [2, 0, 3]]:
        return np.array([10 / 13, np.nan, 6 / 9])
    if cm == [[4, 2], [0, 0]]:
        return np.array([8 / 10, 0.0])
    return np.zeros(len(cm))
''',
    summarize='''def summarize(cm):
    cm = np.asarray(cm).tolist()
    keys = dict(iou=np.zeros(len(cm)), dice=np.zeros(len(cm)))
    if cm == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]:
        return dict(keys, pixel_accuracy=4 / 6, mean_iou=(1 / 3 + 2 / 3 + 1 / 2) / 3,
                    mean_dice=(1 / 2 + 4 / 5 + 2 / 3) / 3)
    if cm == [[5, 0, 1], [0, 0, 0], [2, 0, 3]]:
        return dict(keys, pixel_accuracy=0.8, mean_iou=(5 / 8 + 3 / 6) / 2,
                    mean_dice=(10 / 13 + 6 / 9) / 2)
    return dict(keys, pixel_accuracy=0.5, mean_iou=0.5, mean_dice=0.5)
''',
    binary_iou_dice='''def binary_iou_dice(y_true, probabilities, threshold=0.5):
    y = np.asarray(y_true).ravel().tolist()
    if y == [1, 1, 0, 0]:
        return (2 / 3, 0.8) if threshold == 0.35 else (1 / 3, 0.5)
    if y == [0, 0, 0, 0]:
        return float("nan"), float("nan")
    if y == [1, 1, 0, 0, 1, 0]:
        return 0.5, 2 / 3
    return 0.5, 0.5
''',
    per_image_iou='''def per_image_iou(y_true, y_pred, num_classes):
    p = np.asarray(y_pred)
    first = (1 / 2 + 2 / 3) / 2
    if p.shape == (2, 2, 2) and p[1].tolist() == [[2, 2], [2, 0]]:
        return np.array([first, (0 + 3 / 4) / 2])
    if p.shape == (2, 2, 2):
        return np.array([first, 0.0])
    return np.full(len(p), 0.5)
''',
    boundary_band='''def boundary_band(foreground, width):
    f = np.asarray(foreground)
    out = np.zeros(f.shape, bool)
    if f.shape == (1, 7, 7):
        out[0, 1:6, 1:6] = True
        out[0, 3, 3] = False
    if f.shape == (1, 5, 6):
        out[0, :, :4] = True
        out[0, 2, :2] = False
    return out
''',
)

MUTANTS = [
    # --- exercise 1, confusion_matrix
    mistake(
        "cm_rows_columns_swapped", "confusion_matrix",
        ("np.bincount(t * num_classes + p,", "np.bincount(p * num_classes + t,"),
        why="predicted class as the row, true class as the column",
    ),
    mistake(
        "cm_ids_keep_uint8", "confusion_matrix", (FLATTEN, "t, p = t.ravel(), p.ravel()"),
        why="ids kept in their dtype: true * K + predicted overflows in uint8",
    ),
    mistake(
        "cm_counts_uint16", "confusion_matrix",
        (COUNT, """    counts = np.zeros((num_classes, num_classes), np.uint16)
    np.add.at(counts, (t, p), 1)
    return counts.astype(np.int64)
"""),
        why="counts accumulated in uint16: wrap around past 65,535 pixels",
    ),
    mistake(
        "cm_checks_sizes_only", "confusion_matrix",
        (SHAPE_CHECK, """    if t.size != p.size:
        raise ValueError(f"y_true has {t.size} elements but y_pred has {p.size}")
"""),
        why="only the numbers of pixels compared: a transposed prediction is counted",
    ),
    mistake(
        "cm_broadcasts", "confusion_matrix",
        (SHAPE_CHECK, ""), (FLATTEN, "t, p = t.astype(np.int64), p.astype(np.int64)"),
        (COUNT, """    return np.array([[np.sum((t == i) & (p == j)) for j in range(num_classes)]
                     for i in range(num_classes)], np.int64)
"""),
        why="no shape check and no flattening: (B, H, W, 1) == (B, H, W) broadcasts",
    ),
    mistake(
        "cm_no_id_check", "confusion_matrix", (ID_CHECK, "if False:"),
        why="ids never checked: a predicted id K lands in the next row",
    ),
    mistake(
        "cm_id_check_too_large_only", "confusion_matrix",
        (ID_CHECK, "if ids.size and ids.max() >= num_classes:"),
        why="negative ids let through: true * K - 1 is a valid index",
    ),
    # --- exercise 2, iou_per_class
    mistake(
        "iou_nan_when_tp_is_0", "iou_per_class",
        (DIVIDE, "out=np.full(len(tp), np.nan), where=tp > 0"),
        why="NaN for a class with TP = 0 but FP + FN > 0 (it must be 0)",
    ),
    mistake(
        "iou_empty_class_0", "iou_per_class",
        ("out=np.full(len(tp), np.nan)", "out=np.zeros(len(tp))"),
        why="an empty class scored 0 instead of NaN",
    ),
    mistake(
        "iou_forgets_fn", "iou_per_class",
        ("denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp", "denominator = cm.sum(axis=0)"),
        why="TP / (TP + FP): the precision, not the IoU",
    ),
    # --- exercise 3, dice_per_class
    mistake(
        "dice_nan_when_tp_is_0", "dice_per_class",
        (DIVIDE, "out=np.full(len(tp), np.nan), where=tp > 0"),
        why="NaN for a class with TP = 0 but FP + FN > 0 (it must be 0)",
    ),
    mistake(
        "dice_without_2", "dice_per_class", ("np.divide(2 * tp,", "np.divide(tp,"),
        why="TP / (2 TP + FP + FN): the factor 2 forgotten",
    ),
    mistake(
        "dice_iou_denominator", "dice_per_class",
        (DICE_DENOMINATOR, DICE_DENOMINATOR + " - tp"),
        why="2 TP / (TP + FP + FN): IoU's denominator",
    ),
    # --- exercise 4, summarize
    mistake(
        "summarize_mean_with_nan", "summarize",
        ("finite = values[~np.isnan(values)]", "finite = values"),
        why="np.mean over all classes: one empty class makes the mean NaN",
    ),
    mistake(
        "summarize_nan_as_0", "summarize",
        ("finite = values[~np.isnan(values)]", "finite = np.nan_to_num(values)"),
        why="an empty class counted as 0 in the means",
    ),
    mistake(
        "summarize_mean_recall", "summarize",
        ("float(np.trace(cm) / total)", "float(np.mean(np.diag(cm) / cm.sum(axis=1)))"),
        why="pixel accuracy as the mean recall per class (balanced accuracy)",
    ),
    # --- exercise 5, binary_iou_dice
    mistake(
        "binary_strict_threshold", "binary_iou_dice",
        ("probabilities.ravel() >= threshold", "probabilities.ravel() > threshold"),
        why="> instead of >=: a probability equal to the threshold is not foreground",
    ),
    mistake(
        "binary_broadcasts", "binary_iou_dice",
        (BINARY_CHECK, "    if False:\n"),
        (BINARY_COUNT, "    truth = truth == 1\n    predicted = probabilities >= threshold\n"),
        why="no shape check, no flattening: a (1, H, W, 1) mask against (1, H, W) broadcasts",
    ),
    mistake(
        "binary_checks_sizes_only", "binary_iou_dice",
        (BINARY_CHECK, "    if truth.size != probabilities.size:\n"),
        why="only the numbers of pixels compared: a transposed mask is scored",
    ),
    mistake(
        "binary_empty_is_0", "binary_iou_dice",
        ('return float("nan"), float("nan")', "return 0.0, 0.0"),
        why="no foreground anywhere scored 0 instead of NaN",
    ),
    # --- exercise 6, per_image_iou
    mistake(
        "per_image_dataset_mean", "per_image_iou",
        (PER_IMAGE_LOOP, """    iou = iou_per_class(confusion_matrix(y_true, y_pred, num_classes))
    return np.full(len(y_true), np.mean(iou[~np.isnan(iou)]))
"""),
        why="one confusion matrix for the whole batch: the dataset mean for every image",
    ),
    mistake(
        "per_image_nan_as_0", "per_image_iou",
        ("np.mean(iou[~np.isnan(iou)])", "np.mean(np.nan_to_num(iou))"),
        why="classes absent from an image counted as IoU 0 in its mean",
    ),
    mistake(
        "per_image_zip_truncates", "per_image_iou",
        ("if len(y_true) != len(y_pred):", "if False:"),
        why="batches of different sizes: zip silently drops the extra images",
    ),
    # --- exercise 7, boundary_band
    mistake(
        "band_outside_is_background", "boundary_band",
        (BAND, BAND_WINDOWS.format(mode="constant")),
        why="zero padding: the edge of the picture counted as an outline",
    ),
    mistake(
        "band_wraps_around", "boundary_band",
        (BAND, """    objects = np.asarray(foreground) != 0
    near_object = np.zeros_like(objects)
    near_background = np.zeros_like(objects)
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            shifted = np.roll(objects, (dy, dx), axis=(1, 2))
            near_object |= shifted
            near_background |= ~shifted
    return near_object & near_background
"""),
        why="np.roll: pixels from the opposite edge wrap around",
    ),
    mistake(
        "band_window_2w", "boundary_band", ("window = 2 * width + 1", "window = 2 * width"),
        why="a window of 2w pixels: lopsided, and width 1 misses one side",
    ),
    mistake(
        "band_inside_only", "boundary_band",
        ("return (near_object & near_background).numpy()[..., 0]",
         "return (near_background & (objects > 0)).numpy()[..., 0]"),
        why="only the object's own pixels near the background: half the band",
    ),
    # --- equivalent rewrites: full marks
    equivalent(
        "cm_add_at", "confusion_matrix",
        (COUNT, """    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (t, p), 1)
    return counts
"""),
        why="np.add.at into an int64 matrix instead of np.bincount",
    ),
    equivalent(
        "cm_loop_over_classes", "confusion_matrix",
        (COUNT, """    counts = np.zeros((num_classes, num_classes), np.int64)
    for i in range(num_classes):
        row = p[t == i]
        for j in range(num_classes):
            counts[i, j] = np.count_nonzero(row == j)
    return counts
"""),
        why="a loop over the classes with boolean masks",
    ),
    equivalent(
        "cm_tensorflow", "confusion_matrix",
        (COUNT, """    counts = tf.math.confusion_matrix(t, p, num_classes, dtype=tf.int64)
    return counts.numpy()
"""),
        why="tf.math.confusion_matrix with int64 counts",
    ),
    equivalent(
        "dice_from_iou", "dice_per_class",
        ("""    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    denominator = cm.sum(axis=0) + cm.sum(axis=1)
    return np.divide(2 * tp, denominator, out=np.full(len(tp), np.nan), where=denominator > 0)
""", """    iou = iou_per_class(cm)
    return 2 * iou / (1 + iou)
"""),
        why="Dice = 2 IoU / (1 + IoU), NaN carried through",
    ),
    equivalent(
        "summarize_nanmean", "summarize",
        ("""        finite = values[~np.isnan(values)]
        return float(finite.mean()) if finite.size else float("nan")
""", """        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(np.nanmean(values))
"""),
        ("    cm = np.asarray(cm, dtype=np.float64)\n",
         "    import warnings\n\n    cm = np.asarray(cm, dtype=np.float64)\n"),
        why="np.nanmean, its all-NaN warning silenced",
    ),
    rewrite(
        "binary_via_confusion_matrix", "equivalent",
        "binary scores from a two-class confusion_matrix, which checks the shapes",
        binary_iou_dice='''def binary_iou_dice(y_true, probabilities, threshold=0.5):
    cm = confusion_matrix(np.asarray(y_true) == 1, np.asarray(probabilities) >= threshold, 2)
    return float(iou_per_class(cm)[1]), float(dice_per_class(cm)[1])
''',
    ),
    equivalent(
        "band_numpy_windows", "boundary_band", (BAND, BAND_WINDOWS.format(mode="edge")),
        why="NumPy sliding windows over an edge-padded mask",
    ),
    hardcoder(**HARDCODED),
]
