"""The training notebook's reference code does what notebook 05 teaches.

The functions are taken from the solution notebook ``solutions/05_training/05_training.ipynb``
at test time: the imports and function definitions of its code cells are executed (with the
``### BEGIN/END SOLUTION`` marker lines removed; nothing is trained or loaded on the way),
and the tests call the notebook's ``preprocess``, ``augment_pair``, ``make_dataset``,
``make_model``, ``lr_schedule``, ``make_callbacks`` and ``dice_loss``, and the ``build_unet``
of notebook 04 that its given cell holds (generated from solutions/04_unet). There is no
second copy of them anywhere.
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from autograder import course, nbcode  # noqa: E402

NOTEBOOK = course.SOLUTIONS / "05_training" / "05_training.ipynb"
NAMES = ("preprocess", "augment_pair", "make_dataset", "make_model", "lr_schedule",
         "make_callbacks", "dice_loss", "build_unet", "bce_dice_loss")


@pytest.fixture(scope="module")
def nb():
    """The namespace of the solution notebook's imports and functions."""
    return nbcode.definitions(NOTEBOOK, NAMES)


def _encoded(h, w, num_classes, seed):
    """A mask and an image whose channels are (mask / 8, row / (h-1), column / (w-1))."""
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, num_classes, (h, w, 1)).astype(np.uint8)
    rows, cols = np.meshgrid(np.arange(h) / (h - 1), np.arange(w) / (w - 1), indexing="ij")
    image = np.stack([mask[..., 0] / 8, rows, cols], axis=-1).astype(np.float32)
    return image, mask


# --------------------------------------------------------------------------- augmentation


@pytest.mark.parametrize(("h", "w", "shift"), [(32, 32, 4), (24, 40, 3), (15, 9, 2), (16, 16, 0)])
def test_augmentation_moves_mask_and_image_identically_over_many_seeds(nb, h, w, shift):
    image, mask = _encoded(h, w, 5, seed=h * w)
    flips, shifts = 0, set()
    for s in range(150):
        out_image, out_mask = nb["augment_pair"](tf.constant(image), tf.constant(mask),
                                                 tf.constant([s, 99]), shift)
        out_image, out_mask = out_image.numpy(), out_mask.numpy()
        assert out_mask.dtype == np.uint8 and out_mask.shape == mask.shape
        # the mask of the transformed image is the transformed mask, pixel for pixel
        np.testing.assert_array_equal(out_mask[..., 0].astype(np.float32), out_image[..., 0] * 8)
        assert set(np.unique(out_mask)) <= set(np.unique(mask))
        ch, cw = h // 2, w // 2
        flipped = bool(out_image[ch, cw + 1, 2] < out_image[ch, cw, 2])
        flips += flipped
        row = round(out_image[ch, cw, 1] * (h - 1))
        col = round(out_image[ch, cw, 2] * (w - 1))
        dy, dx = row - ch, ((w - 1 - col) if flipped else col) - cw
        assert abs(dy) <= shift and abs(dx) <= shift, (s, dy, dx)
        shifts.add((dy, dx))
    assert 45 <= flips <= 105, f"{flips} flips in 150"
    if shift:
        assert len(shifts) > (2 * shift + 1) ** 2 // 2, sorted(shifts)
    else:
        assert shifts == {(0, 0)}


def test_augmentation_is_a_function_of_the_seed(nb):
    image, mask = _encoded(20, 20, 3, seed=1)
    a = nb["augment_pair"](tf.constant(image), tf.constant(mask), tf.constant([7, 8]), 3)
    b = nb["augment_pair"](tf.constant(image), tf.constant(mask), tf.constant([7, 8]), 3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_augmentation_inside_tf_data_keeps_pairs_together(nb):
    image, mask = _encoded(16, 24, 4, seed=2)
    pairs = tf.data.Dataset.from_tensors((image, mask)).repeat(40)
    seeds = tf.data.Dataset.random(seed=5).batch(2)
    out = tf.data.Dataset.zip((pairs, seeds)).map(
        lambda pair, s: nb["augment_pair"](pair[0], pair[1], s, 3))
    images = set()
    for out_image, out_mask in out:
        np.testing.assert_array_equal(out_mask.numpy()[..., 0].astype(np.float32),
                                      out_image.numpy()[..., 0] * 8)
        images.add(out_image.numpy().tobytes())
    assert len(images) > 20


def test_separately_seeded_flips_disagree_when_called_eagerly():
    """The lesson of section 3: two random calls seeded alike are not one transform."""
    keras.utils.set_random_seed(0)
    probe = tf.reshape(tf.range(16, dtype=tf.float32), (1, 4, 4, 1))
    mismatches = sum(
        not np.array_equal(tf.image.random_flip_left_right(probe, seed=36).numpy(),
                           tf.image.random_flip_left_right(probe, seed=36).numpy())
        for _ in range(50)
    )
    assert mismatches > 0


# --------------------------------------------------------------------------- preprocessing


def test_preprocess_resizes_images_bilinearly_and_masks_nearest(nb):
    rng = np.random.default_rng(3)
    example = {"image": tf.constant(rng.integers(0, 256, (50, 70, 3)), tf.uint8),
               "segmentation_mask": tf.constant(rng.integers(1, 4, (50, 70, 1)), tf.uint8)}
    image, mask = nb["preprocess"](example, (32, 32))
    assert image.dtype == tf.float32 and 0 <= float(tf.reduce_min(image))
    assert float(tf.reduce_max(image)) <= 1
    np.testing.assert_allclose(image, tf.image.resize(example["image"], (32, 32)) / 255, atol=1e-6)
    assert mask.dtype == tf.uint8 and set(np.unique(mask)) <= {0, 1, 2}
    expected = tf.image.resize(example["segmentation_mask"], (32, 32), method="nearest") - 1
    np.testing.assert_array_equal(mask, expected)
    _, foreground = nb["preprocess"](example, (32, 32), target="foreground")
    trimap = expected.numpy() + 1
    np.testing.assert_array_equal(foreground, ((trimap == 1) | (trimap == 3)).astype(np.uint8))
    with pytest.raises(ValueError):
        nb["preprocess"](example, (32, 32), target="binary")


# --------------------------------------------------------------------------- pipeline


def _examples(n, size, seed=0):
    rng = np.random.default_rng(seed)
    trimap = rng.integers(1, 4, (n, size, size, 1)).astype(np.uint8)
    image = np.zeros((n, size, size, 3), np.uint8)
    image[..., 0] = trimap[..., 0] * 50
    image[..., 1] = (5 * np.arange(n))[:, None, None]
    return tf.data.Dataset.from_tensor_slices({"image": image, "segmentation_mask": trimap}), trimap


def _index(batch_images):
    return np.round(batch_images[:, 4, 4, 1] * 255 / 5).astype(int)


def test_evaluation_pipeline_neither_shuffles_nor_augments(nb):
    examples, trimap = _examples(11, 8)
    ds = nb["make_dataset"](examples, (8, 8), 4)
    for _ in range(2):
        batches = [tuple(t.numpy() for t in b) for b in ds]
        assert [len(b[0]) for b in batches] == [4, 4, 3]
        order = np.concatenate([_index(b[0]) for b in batches])
        np.testing.assert_array_equal(order, np.arange(11))
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), trimap - 1)


def test_training_pipeline_shuffles_augments_and_weights_consistently(nb):
    examples, _ = _examples(20, 16, seed=1)
    weights = [0.3, 1.0, 2.5]
    ds = nb["make_dataset"](examples, (16, 16), 6, training=True, class_weights=weights, seed=3)
    epochs = [[tuple(t.numpy() for t in b) for b in ds] for _ in range(2)]
    orders = []
    for epoch in epochs:
        for images, masks, pixel_weights in epoch:
            np.testing.assert_array_equal(masks, np.round(images[..., :1] * 255 / 50) - 1)
            np.testing.assert_allclose(pixel_weights, np.take(weights, masks.astype(int)))
        orders.append(np.concatenate([_index(b[0]) for b in epoch]))
    assert sorted(orders[0]) == list(range(20)) and list(orders[0]) != list(range(20))
    assert list(orders[0]) != list(orders[1])
    same_seed = nb["make_dataset"](examples, (16, 16), 6, training=True, class_weights=weights,
                                   seed=3)
    again = [tuple(t.numpy() for t in b) for b in same_seed]
    for a, b in zip(epochs[0], again):
        np.testing.assert_array_equal(a[0], b[0])


# --------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    ("epochs", "steps", "fractions", "boundaries"),
    [
        (50, 59, (0.2, 0.5, 0.8), [590, 1475, 2360]),
        (50, 74, (0.2, 0.5, 0.8), [740, 1850, 2960]),
        (40, 10, (0.5, 0.75, 0.9), [200, 300, 360]),
        (7, 13, (0.25, 0.6), [22, 54]),
        (16, 125, (0.1, 0.35, 0.7, 0.95), [200, 700, 1400, 1900]),
        (1, 2, (0.5, 0.75, 0.9), [1, 1, 1]),
    ],
)
def test_schedule_boundaries_are_fractions_of_all_steps(nb, epochs, steps, fractions, boundaries):
    values = [10.0 ** -(i + 2) for i in range(len(fractions) + 1)]
    schedule = nb["lr_schedule"](epochs, steps, fractions, values)
    assert isinstance(schedule, keras.optimizers.schedules.PiecewiseConstantDecay)
    assert [int(b) for b in schedule.boundaries] == boundaries
    for step in sorted({0, *boundaries, *(b + 1 for b in boundaries), 10**6}):
        expected = values[sum(b < step for b in boundaries)]
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6), step


def test_schedule_defaults_are_the_seeds(nb):
    schedule = nb["lr_schedule"](10, 10)
    assert [int(b) for b in schedule.boundaries] == [20, 50, 80]
    assert [float(schedule(s)) for s in (20, 21, 51, 81)] == pytest.approx([3e-4, 1e-4, 1e-5, 1e-6])


@pytest.mark.parametrize(
    ("fractions", "values"),
    [((0.2, 0.5), (1, 2)), ((0.5, 0.2), (1, 2, 3)), ((0, 0.5), (1, 2, 3)), ((0.5, 1), (1, 2, 3))],
)
def test_schedule_rejects_bad_arguments(nb, fractions, values):
    with pytest.raises(ValueError):
        nb["lr_schedule"](10, 10, fractions, values)


# --------------------------------------------------------------------------- callbacks, losses


def test_callbacks_keep_the_best_model_and_restore_its_weights(nb, tmp_path):
    tensorboard, checkpoint, stopping = nb["make_callbacks"](tmp_path / "run", patience=4)
    assert isinstance(tensorboard, keras.callbacks.TensorBoard)
    assert tensorboard.log_dir == str(tmp_path / "run" / "logs")
    assert checkpoint.filepath == str(tmp_path / "run" / "best.keras")
    assert checkpoint.save_best_only and checkpoint.monitor == "val_loss"
    assert stopping.restore_best_weights and stopping.patience == 4


def test_dice_loss_matches_its_formula_and_has_a_gradient(nb):
    rng = np.random.default_rng(4)
    y = (rng.random((2, 8, 8, 1)) < 0.4).astype(np.uint8)
    z = rng.normal(size=y.shape).astype(np.float32)
    p = 1 / (1 + np.exp(-z.astype(np.float64)))
    expected = 1 - (2 * (p * y).sum((1, 2, 3)) + 1) / (p.sum((1, 2, 3)) + y.sum((1, 2, 3)) + 1)
    np.testing.assert_allclose(nb["dice_loss"](y, z), expected, atol=1e-6)
    variable = tf.Variable(z)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(nb["bce_dice_loss"](tf.constant(y), variable))
    gradient = tape.gradient(loss, variable).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_make_model_is_the_given_unet_with_a_logits_head_and_a_loss_from_logits(nb):
    model = nb["make_model"]((32, 48, 3), 23, 1e-3, base_filters=4, depth=4)
    assert tuple(model.output.shape) == (None, 32, 48, 23)
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    y = tf.fill((1, 2, 2, 1), 2)
    z = tf.constant(np.tile([40.0, 0.0, -40.0], (1, 2, 2, 1)), tf.float32)
    assert float(model.compute_loss(y=y, y_pred=z)) == pytest.approx(80.0, abs=1e-3)
    with pytest.raises(ValueError):
        nb["make_model"]((36, 48, 3), 3, 1e-3, depth=4)


def test_make_model_builds_the_carla_articles_network_on_request(nb):
    model = nb["make_model"]((96, 128, 3), 23, 1e-3, base_filters=32, depth=5,
                             upconv_kernel=3, dropout=0.3, extra_conv=True)
    assert model.count_params() == 8_640_471


def test_pipeline_shuffles_examples_not_batches_and_weights_in_float32(nb):
    examples, _ = _examples(24, 16, seed=2)
    ds = nb["make_dataset"](examples, (16, 16), 6, training=True,
                            class_weights=np.array([0.3, 1.0, 2.5]), seed=4)
    assert ds.element_spec[2].dtype == tf.float32
    batches = [np.sort(_index(b[0].numpy())) for b in ds]
    assert not all(np.array_equal(b, np.arange(b[0], b[0] + len(b))) for b in batches)


def test_schedule_computes_all_steps_before_the_fraction(nb):
    schedule = nb["lr_schedule"](3, 90, (0.3, 0.7), (1e-3, 1e-4, 1e-5))
    assert [int(b) for b in schedule.boundaries] == [81, 189]  # 0.3 * 3 * 90 would give 80


def test_a_few_training_steps_lower_the_loss(nb):
    """Pipeline, model, loss from logits and schedule work together (a smoke test)."""
    keras.utils.set_random_seed(0)
    examples, _ = _examples(16, 16, seed=5)
    ds = nb["make_dataset"](examples, (16, 16), 8, training=True, class_weights=[1.0, 1.0, 1.0])
    model = nb["make_model"]((16, 16, 3), 3, nb["lr_schedule"](40, 2, (0.75,), (1e-2, 3e-3)),
                             base_filters=8, depth=2)
    history = model.fit(ds, epochs=40, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
