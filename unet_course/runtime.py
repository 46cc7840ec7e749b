"""Where a notebook runs: Colab or local, graded or not, which device."""

from __future__ import annotations

import os
import platform
import sys


def grading_mode() -> str | None:
    """``"autograde"`` or ``"validate"`` while nbgrader runs the notebook, else ``None``."""
    return os.environ.get("NBGRADER_EXECUTION") or None


def on_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def pick(graded, local, colab_gpu=None):
    """Choose a setting (a budget, a size) for where the notebook runs.

    Under nbgrader the smallest (``graded``); on a machine with a GPU the largest
    (``colab_gpu``, default ``local``); otherwise ``local``.
    """
    if grading_mode():
        return graded
    if colab_gpu is not None and has_gpu():
        return colab_gpu
    return local


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def describe(data_source: str | None = None) -> dict:
    """What a reference run records about itself: versions, device, data source."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    info = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "device": ("GPU: " + ", ".join(g.name for g in gpus)) if gpus else "CPU only",
        "where": "Google Colab" if on_colab() else platform.platform(terse=True),
        "graded by nbgrader": grading_mode() or "no",
    }
    if data_source is not None:
        info["data"] = data_source
    return info


def print_runtime(data_source: str | None = None) -> None:
    for key, value in describe(data_source).items():
        print(f"{key:>18}: {value}")
