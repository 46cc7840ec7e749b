"""What the tf.data pipeline of notebook 05 costs: training steps per second through it vs on
data already in memory.

The pipeline (``preprocess``, ``augment_pair``, ``make_dataset``) and the model builder are
taken from the solution notebook ``solutions/05_training/05_training.ipynb`` the same way the
tests take them (imports and function definitions of its code cells, solution markers
removed), so this measures exactly the code students are taught.

Three ways to feed the same model the same number of steps, each as one call:

* ``pipeline``  -- ``model.fit(make_dataset(...).repeat(), steps_per_epoch=N)``: cached
  preprocessed examples, shuffled, augmented per example, batched, per-pixel weights,
  prefetched (after a warm-up that fills the cache and traces the functions);
* ``arrays``    -- ``model.fit(x, y, sample_weight=w)`` on NumPy arrays already in memory
  (the pipeline's output for N steps, materialised once: no decoding, augmentation or
  weights lookup left to do);
* ``on_batch``  -- ``model.train_on_batch`` over the same N batches held as tensors.

The script prints figures; it asserts nothing about time. Usage::

    python benchmarks/pipeline.py [--size 64] [--steps 50] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "solutions" / "05_training" / "05_training.ipynb"
sys.path.insert(0, str(REPO))
from autograder import nbcode  # noqa: E402  (notebook code, read as the tests read it)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="image size (default 64)")
    parser.add_argument("--base-filters", type=int, default=16)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per feeding mode")
    args = parser.parse_args()

    nb = nbcode.definitions(NOTEBOOK)
    import keras
    import numpy as np
    import tensorflow as tf

    from unet_course import pets, runtime

    runtime.print_runtime()
    examples = pets.load_pets("train[:80%]", source="standin")
    size = (args.size, args.size)
    weights = [1.0, 1.0, 2.0]
    keras.utils.set_random_seed(0)
    pipeline = nb["make_dataset"](examples, size, args.batch, training=True,
                                  class_weights=weights, seed=0)
    steps_per_epoch = int(pipeline.cardinality())
    steps = args.steps
    endless = pipeline.repeat()

    # the pipeline's output for `steps` steps, in memory
    batches = [tuple(t.numpy() for t in b) for b in endless.take(steps)]
    x, y, w = (np.concatenate([b[i] for b in batches]) for i in range(3))
    tensors = [tuple(tf.constant(t) for t in b) for b in batches]

    model = nb["build_unet"]((*size, 3), 3, args.base_filters, args.depth, padding="same")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    print(f"model: {model.count_params():,} parameters; images {size}, batch {args.batch} "
          f"({steps_per_epoch} steps per epoch of the stand-in's 160 training images); "
          f"{steps} steps per measurement")

    def through_pipeline():
        model.fit(endless, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)

    def from_arrays():
        model.fit(x, y, sample_weight=w, batch_size=args.batch, epochs=1, shuffle=True,
                  verbose=0)

    def on_batch():
        for images, masks, pixel_weights in tensors:
            model.train_on_batch(images, masks, sample_weight=pixel_weights)

    modes = {"pipeline": through_pipeline, "arrays": from_arrays, "on_batch": on_batch}
    for run in modes.values():  # warm-up: fills the cache, traces every function once
        run()
    seconds = {name: [] for name in modes}
    for _ in range(args.repeats):  # interleaved, so a busy neighbour hurts all modes alike
        for name, run in modes.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)

    rate = {name: steps / statistics.median(s) for name, s in seconds.items()}
    print(f"\n{'feeding':>10} {'steps/s':>9} {'median s':>9}   all runs (s)")
    for name in modes:
        runs = ", ".join(f"{s:.2f}" for s in seconds[name])
        print(f"{name:>10} {rate[name]:9.2f} {statistics.median(seconds[name]):9.2f}   {runs}")
    for other in ("arrays", "on_batch"):
        overhead = rate[other] / rate["pipeline"] - 1
        print(f"pipeline vs {other} in memory: {overhead:+.1%} time per step "
              f"({'within' if overhead < 0.10 else 'above'} the 10% budget)")

    # how fast the pipeline alone delivers batches (cache already filled)
    started = time.perf_counter()
    for _batch in endless.take(steps):
        pass
    alone = steps / (time.perf_counter() - started)
    print(f"pipeline alone (no training): {alone:.0f} batches/s, "
          f"{alone / rate['pipeline']:.0f}x what training consumes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
