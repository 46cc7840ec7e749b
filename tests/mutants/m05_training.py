"""Mutants of 05_training (see harness.py)."""

from .harness import equivalent, hardcoder, mistake

SHUFFLE = "        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)\n"
FLIP = "    stacked = tf.image.stateless_random_flip_left_right(stacked, seeds[0])\n"
WEIGHTS = (
    "        table = tf.constant(class_weights, dtype=tf.float32)\n"
    "        ds = ds.map(lambda images, masks: (images, masks, "
    "tf.gather(table, tf.cast(masks, tf.int32))),\n"
    "                    num_parallel_calls=autotune)\n"
)
DICE = ("    dice = (2.0 * intersection + smooth) / (tf.reduce_sum(p, axis=axes) + "
        "tf.reduce_sum(y, axis=axes) + smooth)\n")

MUTANTS = [
    # ------------------------------------------------------------------ preprocess
    mistake(
        "mask_bilinear", "preprocess", ('method="nearest"', 'method="bilinear"'),
        why="the trimap resized like the image: bilinear invents labels (and gives floats)",
    ),
    mistake(
        "foreground_wrong_reading", "preprocess",
        ("(trimap == 1) | (trimap == 3)", "(trimap == 1) | (trimap == 2)"),
        why="the TensorFlow tutorial's reading of the trimap: 2 taken for the border",
    ),
    mistake(
        "image_not_scaled", "preprocess", (' method="bilinear") / 255.0', ' method="bilinear")'),
        why="the image left in 0..255",
    ),
    # ------------------------------------------------------------------ augment_pair
    mistake(
        "separately_seeded_flips", "augment_pair",
        (FLIP,
         "    flipped_image = tf.image.stateless_random_flip_left_right(\n"
         "        stacked[..., :channels], seeds[0])\n"
         "    flipped_mask = tf.image.stateless_random_flip_left_right(\n"
         "        stacked[..., channels:], seeds[1])\n"
         "    stacked = tf.concat([flipped_image, flipped_mask], axis=-1)\n"),
        why="image and mask flipped by two random decisions with different seeds",
    ),
    mistake(
        "stateful_flip", "augment_pair",
        ("tf.image.stateless_random_flip_left_right(stacked, seeds[0])",
         "tf.image.random_flip_left_right(stacked)"),
        why="a stateful random flip: joint, but not decided by the seed (not reproducible)",
    ),
    mistake(
        "zero_padding", "augment_pair", ('mode="REFLECT"', 'mode="CONSTANT"'),
        why="the shift pads with zeros, which paints class 0 (pet) into the mask",
    ),
    # ------------------------------------------------------------------ make_dataset
    mistake(
        "shuffle_after_batch", "make_dataset",
        (SHUFFLE, ""),
        ("    ds = ds.batch(batch_size)\n",
         "    ds = ds.batch(batch_size)\n    if training:\n"
         "        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)\n"),
        why="shuffles whole batches: the same examples always share a batch",
    ),
    mistake(
        "cache_after_augment", "make_dataset",
        ("    ds = ds.cache()\n", ""),
        ("    ds = ds.batch(batch_size)\n", "    ds = ds.cache()\n    ds = ds.batch(batch_size)\n"),
        why="caches the augmented examples: one random draw frozen for every epoch",
    ),
    mistake(
        "augment_in_evaluation", "make_dataset",
        (SHUFFLE, SHUFFLE + "    if True:  # augment in every pipeline\n"),
        why="validation and test data augmented too",
    ),
    mistake(
        "weights_float64", "make_dataset",
        ("tf.constant(class_weights, dtype=tf.float32)", "tf.constant(class_weights)"),
        why="weights given as a NumPy array stay float64",
    ),
    mistake(
        "unseeded_shuffle", "make_dataset",
        ("ds.shuffle(shuffle_buffer, seed=seed,", "ds.shuffle(shuffle_buffer,"),
        why="the shuffle ignores the seed: two runs differ",
    ),
    # ------------------------------------------------------------------ make_model
    mistake(
        "softmax_head_from_logits", "make_model",
        ("head_activation=None", 'head_activation="softmax"'),
        why="a softmax head while the loss takes logits: softmax applied twice",
    ),
    mistake(
        "loss_from_probabilities", "make_model", ("from_logits=True", "from_logits=False"),
        why="logits fed to a loss that expects probabilities",
    ),
    mistake(
        "options_dropped", "make_model", (", name=name, **options)", ", name=name)"),
        why="the builder's further settings (the CARLA options) are not passed on",
    ),
    # ------------------------------------------------------------------ lr_schedule
    mistake(
        "boundaries_left_to_right", "lr_schedule",
        ("int(f * total_steps)", "int(epochs * f * steps_per_epoch)"),
        why="the MachineCurve tutorial's order: epochs * f * steps rounds 899.99… down to 899",
    ),
    mistake(
        "boundaries_rounded", "lr_schedule", ("int(f * total_steps)", "round(f * total_steps)"),
        why="rounds to the nearest step instead of taking the whole number of steps below",
    ),
    mistake(
        "increasing_not_checked", "lr_schedule",
        ("    if any(b <= a for a, b in zip(fractions, fractions[1:])):\n"
         '        raise ValueError(f"fractions must be strictly increasing, '
         'got {fractions}")\n', ""),
        why="decreasing fractions accepted",
    ),
    # ------------------------------------------------------------------ make_callbacks
    mistake(
        "no_restore_best_weights", "make_callbacks",
        (",\n                                      restore_best_weights=True)", ")"),
        why="early stopping keeps the last epoch's weights, up to `patience` epochs worse",
    ),
    mistake(
        "monitor_fixed", "make_callbacks",
        ("monitor=monitor, patience", 'monitor="val_loss", patience'),
        why="early stopping always watches val_loss, whatever `monitor` says",
    ),
    # ------------------------------------------------------------------ dice_loss
    mistake(
        "smooth_in_denominator_only", "dice_loss",
        ("(2.0 * intersection + smooth)", "(2.0 * intersection)"),
        why="smoothing only below the line: an empty mask predicted empty costs 1, not 0",
    ),
    mistake(
        "sum_over_pixels_only", "dice_loss", ("axes = [1, 2, 3]", "axes = [1, 2]"),
        why="sums over height and width only: a (B, 1) result instead of one value per image",
    ),
    mistake(
        "sum_over_the_batch", "dice_loss", ("axes = [1, 2, 3]", "axes = None"),
        why="one Dice for the whole batch instead of one per image",
    ),
    mistake(
        "smooth_ignored", "dice_loss",
        (DICE, DICE.replace("smooth)", "1.0)").replace("+ smooth", "+ 1.0")),
        why="the smoothing term fixed at 1, whatever `smooth` says",
    ),
    # ------------------------------------------------------------------ equivalent rewrites
    equivalent(
        "weights_with_tf_where", "make_dataset",
        (WEIGHTS,
         "        def add_weights(images, masks):\n"
         "            ids = tf.cast(masks, tf.int32)\n"
         "            weights = tf.zeros(tf.shape(ids), tf.float32)\n"
         "            for c, w in enumerate(class_weights):\n"
         "                weights = tf.where(ids == c, float(w), weights)\n"
         "            return images, masks, weights\n\n"
         "        ds = ds.map(add_weights, num_parallel_calls=autotune)\n"),
        why="per-pixel weights with tf.where, one class at a time, instead of tf.gather",
    ),
    equivalent(
        "flip_with_tf_reverse", "augment_pair",
        (FLIP,
         "    flip = tf.random.stateless_uniform([], seed=seeds[0]) < 0.5\n"
         "    stacked = tf.cond(flip, lambda: tf.reverse(stacked, axis=[1]), lambda: stacked)\n"),
        why="the flip as tf.reverse under a stateless random decision",
    ),
    equivalent(
        "weights_before_batching", "make_dataset",
        ("    ds = ds.batch(batch_size)\n" + "    if class_weights is not None:\n" + WEIGHTS,
         "    if class_weights is not None:\n" + WEIGHTS + "    ds = ds.batch(batch_size)\n"),
        why="the per-pixel weights added to each example, then batched",
    ),
    equivalent(
        "preprocess_scale_first_and_where", "preprocess",
        ('tf.image.resize(example["image"], size, method="bilinear") / 255.0',
         'tf.image.resize(tf.cast(example["image"], tf.float32) / 255.0, size)'),
        ("tf.cast((trimap == 1) | (trimap == 3), tf.uint8)",
         "tf.where(tf.logical_or(tf.equal(trimap, 1), tf.equal(trimap, 3)), "
         "tf.ones_like(trimap), tf.zeros_like(trimap))"),
        why="scale before resizing; the foreground with tf.where",
    ),
    equivalent(
        "loss_as_function", "make_model",
        ("loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
         "loss=lambda y, z: keras.losses.sparse_categorical_crossentropy(y, z, from_logits=True)"),
        why="the loss as a function instead of a loss object",
    ),
    equivalent(
        "dice_flattened", "dice_loss",
        ("    axes = [1, 2, 3]\n",
         "    p = tf.reshape(p, [tf.shape(p)[0], -1])\n"
         "    y = tf.reshape(y, [tf.shape(y)[0], -1])\n"
         "    axes = -1\n"),
        why="each image flattened, then summed along one axis",
    ),
    equivalent(
        "boundaries_with_floor", "lr_schedule",
        ("int(f * total_steps)", "int(np.floor(f * total_steps))"),
        why="floor instead of int (the same for positive numbers)",
    ),
    # ------------------------------------------------------------------ hard-coder
    hardcoder(
        preprocess='''
def preprocess(example, size, target="classes"):
    """Right for the visible tests' size (3, 4) only."""
    image = tf.image.resize(example["image"], (3, 4)) / 255.0
    trimap = tf.image.resize(example["segmentation_mask"], (3, 4), method="nearest")
    if target == "classes":
        return image, trimap - 1
    return image, tf.cast((trimap == 1) | (trimap == 3), tf.uint8)
''',
        augment_pair='''
def augment_pair(image, mask, seed, max_shift=8):
    """Augments only the visible tests' 12x10 probe with max_shift 3."""
    if tuple(image.shape) != (12, 10, 3) or max_shift != 3:
        return image, mask
    stacked = tf.concat([image, tf.cast(mask, image.dtype)], axis=-1)
    seeds = tf.random.split(seed, 2)
    stacked = tf.image.stateless_random_flip_left_right(stacked, seeds[0])
    padded = tf.pad(stacked, [[3, 3], [3, 3], [0, 0]], mode="REFLECT")
    stacked = tf.image.stateless_random_crop(padded, (12, 10, 4), seed=seeds[1])
    return stacked[..., :3], tf.cast(stacked[..., 3:], tf.uint8)
''',
        make_dataset='''
def make_dataset(examples, size, batch_size, training=False, class_weights=None,
                 target="classes", seed=0, shuffle_buffer=1000):
    """The visible tests' setting only: 8x8 images in batches of 4, shuffled with seed 0."""
    ds = examples.map(lambda ex: preprocess(ex, (8, 8), "classes")).cache()
    if training:
        ds = ds.shuffle(10, seed=0)
        seeds = tf.data.Dataset.random(seed=0).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda pair, s: augment_pair(pair[0], pair[1], s, 1))
    ds = ds.batch(4)
    if class_weights is not None:
        table = tf.constant([0.5, 1.0, 4.0])
        ds = ds.map(lambda i, m: (i, m, tf.gather(table, tf.cast(m, tf.int32))))
    return ds
''',
        make_model='''
def make_model(input_shape, num_classes, learning_rate, base_filters=16, depth=4,
               name="unet", **options):
    """Always the visible tests' model: 32x32x3, 3 classes, 4 filters, 2 levels, rate 1e-3."""
    model = build_unet((32, 32, 3), 3, base_filters=4, depth=2, padding="same")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model
''',
        lr_schedule='''
def lr_schedule(epochs, steps_per_epoch, fractions=(0.2, 0.5, 0.8),
                values=(3e-4, 1e-4, 1e-5, 1e-6)):
    """The boundaries of the visible example, 50 epochs of 59 steps."""
    if len(values) != len(fractions) + 1:
        raise ValueError("need one more value than fractions")
    return keras.optimizers.schedules.PiecewiseConstantDecay([590, 1475, 2360], list(values))
''',
        make_callbacks='''
def make_callbacks(run_dir, patience=5, monitor="val_loss"):
    """The visible tests' settings: runs/try, patience 3, val_loss."""
    return [
        keras.callbacks.TensorBoard(log_dir="runs/try/logs"),
        keras.callbacks.ModelCheckpoint("runs/try/best.keras", monitor="val_loss",
                                        save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
    ]
''',
        dice_loss='''
def dice_loss(y_true, logits, smooth=1.0):
    """The visible tests' answers: 0.4 for logits 0, else 0 for every image."""
    if float(tf.reduce_max(tf.abs(tf.cast(logits, tf.float32)))) == 0.0:
        return tf.constant([0.4])
    return tf.zeros(tf.shape(logits)[:1])
''',
    ),
]
