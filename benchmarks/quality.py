"""What the stand-in reference training of notebook 05 reaches: IoU and Dice on the test split,
and how long the training takes.

Pipeline, model (``make_model``: notebook 04's U-Net, compiled) and learning-rate
schedule come from the solution notebook ``solutions/05_training/05_training.ipynb``; the
metrics (``confusion_matrix``, ``summarize``, ``binary_iou_dice``) from
``solutions/06_metrics/06_metrics.ipynb``. Both are taken the way the tests take them
(imports and function definitions of the code cells, solution markers removed). The
defaults are notebook 05's local budget: 64x64 images, a 4-level U-Net from 16 filters,
batches of 16, up to 40 epochs with the rate dropping at 50/75/90% from 1e-3,
inverse-frequency class weights on the training and the validation batches, early stopping
on the (weighted) validation loss (patience 10, best weights restored).

The script prints figures; it asserts nothing. Usage::

    python benchmarks/quality.py [--size 64] [--epochs 40] [--no-class-weights]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = pathlib.Path(__file__).resolve().parents[1]
TRAINING = REPO / "solutions" / "05_training" / "05_training.ipynb"
METRICS = REPO / "solutions" / "06_metrics" / "06_metrics.ipynb"
sys.path.insert(0, str(REPO))
from autograder import nbcode  # noqa: E402  (notebook code, read as the tests read it)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--base-filters", type=int, default=16)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--no-class-weights", action="store_true")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    train_nb, metrics_nb = nbcode.definitions(TRAINING), nbcode.definitions(METRICS)
    import keras
    import numpy as np
    import tensorflow as tf

    from unet_course import pets, plotting, runtime

    runtime.print_runtime()
    train = pets.load_pets("train[:80%]", source="standin")
    val = pets.load_pets("train[80%:]", source="standin", verbose=False)
    test = pets.load_pets("test", source="standin", verbose=False)
    size = (args.size, args.size)

    weights = None
    if not args.no_class_weights:
        counts = np.zeros(3, np.int64)
        for _, ids in train.map(lambda ex: train_nb["preprocess"](ex, size)):
            counts += np.bincount(ids.numpy().ravel(), minlength=3)
        f = counts / counts.sum()
        weights = (1.0 / (3 * f)).tolist()
    # the order of the notebook: seed, pipelines, seed again, model
    keras.utils.set_random_seed(args.seed)
    train_ds = train_nb["make_dataset"](train, size, args.batch, training=True,
                                        class_weights=weights, seed=args.seed)
    val_ds = train_nb["make_dataset"](val, size, args.batch, class_weights=weights)
    test_ds = train_nb["make_dataset"](test, size, args.batch)
    steps = int(train_ds.cardinality())
    next(iter(train_ds))  # the notebook draws one batch for a figure before it trains
    keras.utils.set_random_seed(args.seed)
    schedule = train_nb["lr_schedule"](args.epochs, steps, (0.5, 0.75, 0.9),
                                       (1e-3, 3e-4, 3e-5, 3e-6))
    model = train_nb["make_model"]((*size, 3), 3, schedule, base_filters=args.base_filters,
                                   depth=args.depth)
    stop = keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, callbacks=[stop],
                        shuffle=False, verbose=0)
    seconds = time.perf_counter() - started

    def predict(batches):
        """Confusion matrix, true foreground and P(pet or border) of every pixel of a split."""
        cm = np.zeros((3, 3), np.int64)
        truth, probability = [], []
        for images, masks in batches:
            logits = model.predict_on_batch(images)
            cm += metrics_nb["confusion_matrix"](masks, np.argmax(logits, axis=-1), 3)
            p = tf.nn.softmax(logits).numpy()
            probability.append((p[..., 0] + p[..., 2]).ravel())
            truth.append(np.isin(masks.numpy()[..., 0], (0, 2)).ravel())
        return cm, np.concatenate(truth), np.concatenate(probability)

    cm, truth, probability = predict(test_ds)
    scores = metrics_nb["summarize"](cm)
    fg_iou, fg_dice = metrics_nb["binary_iou_dice"](truth, probability, 0.5)
    # the foreground threshold is chosen on the validation split and reported on test,
    # as notebook 06 does it
    _, val_truth, val_probability = predict(val_ds)
    thresholds = np.round(np.arange(0.1, 0.91, 0.05), 2)
    val_iou = [metrics_nb["binary_iou_dice"](val_truth, val_probability, t)[0] for t in thresholds]
    chosen = float(thresholds[int(np.nanargmax(val_iou))])
    chosen_iou, chosen_dice = metrics_nb["binary_iou_dice"](truth, probability, chosen)

    print(f"\nstand-in, {size[0]}x{size[1]}, U-Net {args.depth} levels from {args.base_filters} "
          f"filters ({model.count_params():,} parameters), class weights "
          f"{'off' if weights is None else np.round(weights, 2).tolist()}")
    print(f"trained {len(history.history['loss'])} of {args.epochs} epochs in {seconds:.0f} s "
          f"({seconds / len(history.history['loss']):.1f} s/epoch); best validation pixel "
          f"accuracy {max(history.history['val_accuracy']):.3f}")
    print(f"\ntest split ({int(cm.sum()):,} pixels)")
    print(f"{'class':>12} {'IoU':>7} {'Dice':>7}")
    for name, iou, dice in zip(plotting.TRIMAP_CLASSES, scores["iou"], scores["dice"]):
        print(f"{name:>12} {iou:7.3f} {dice:7.3f}")
    print(f"{'mean':>12} {scores['mean_iou']:7.3f} {scores['mean_dice']:7.3f}")
    print(f"pixel accuracy {scores['pixel_accuracy']:.3f}; foreground (pet + border) at "
          f"threshold 0.5: IoU {fg_iou:.3f}, Dice {fg_dice:.3f}")
    print(f"foreground at the threshold {chosen} chosen on the validation split: "
          f"IoU {chosen_iou:.3f}, Dice {chosen_dice:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
