"""Where a notebook runs: Colab or local, graded or not, which device; TensorFlow, quietly."""

from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import sys
import tempfile

#: ``$UNET_COURSE_BUDGET=graded`` gives the small budgets of a graded run (see :func:`pick`)
#: without the rest of grading (the stand-in data, fresh run folders, skipped checks).
BUDGET_VARIABLE = "UNET_COURSE_BUDGET"


def grading_mode() -> str | None:
    """``"autograde"`` or ``"validate"`` while nbgrader runs the notebook, else ``None``."""
    return os.environ.get("NBGRADER_EXECUTION") or None


def on_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def small_budget() -> bool:
    """Whether :func:`pick` chooses the graded setting: under nbgrader or by request."""
    asked = os.environ.get(BUDGET_VARIABLE)
    if asked not in (None, "", "graded"):
        raise ValueError(f"${BUDGET_VARIABLE} must be 'graded' or unset, not {asked!r}")
    return bool(grading_mode() or asked)


def pick(graded, local, colab_gpu=None):
    """Choose a setting (a budget, a size) for where the notebook runs.

    Under nbgrader, or with ``$UNET_COURSE_BUDGET=graded``, the smallest (``graded``); on a
    machine with a GPU the largest (``colab_gpu``, default ``local``); otherwise ``local``.
    """
    if small_budget():
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
    if os.environ.get(BUDGET_VARIABLE):
        info["budget"] = f"graded (${BUDGET_VARIABLE})"
    if data_source is not None:
        info["data"] = data_source
    return info


def print_runtime(data_source: str | None = None) -> None:
    for key, value in describe(data_source).items():
        print(f"{key:>18}: {value}")


# --------------------------------------------------------------------------- TensorFlow

#: What TensorFlow prints while it starts on a machine without a (usable) GPU: absl's
#: notice, oneDNN, the CUDA probe and its plugin registrations. Informational, not errors.
START_UP_NOISE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ |\S+ \S+: [IW] )\S+:\d+\]"  # absl/TF info
    r"|^(?:E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ |\S+ \S+: E )\S+:\d+\] (?:"
    r"failed call to cuInit|Unable to register cu\w+ factory|Could not find cuda drivers"
    r"|TF-TRT Warning)"
)


CONTINUATION = re.compile(r"\s|To enable the following instructions")


def import_tensorflow() -> None:
    """Import TensorFlow (and Keras), keeping its start-up log lines off the notebook.

    On a machine without a GPU, importing TensorFlow writes absl's notice, oneDNN's note
    and the failed CUDA probe straight to the process's stderr (file descriptor 2,
    before ``TF_CPP_MIN_LOG_LEVEL`` takes effect), which Jupyter and Colab show as red
    error blocks. This captures file descriptor 2 while TensorFlow is imported and looks
    for devices, and writes back to stderr every line that is not such a known message,
    so real errors still show. Also sets ``TF_CPP_MIN_LOG_LEVEL=2`` (warnings and info of
    TensorFlow's C++ log off) unless it is set. Does nothing when TensorFlow is imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    python_stderr = io.StringIO()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            with contextlib.redirect_stderr(python_stderr):
                import keras  # noqa: F401 (Keras 3 with its TensorFlow backend)
                import tensorflow as tf

                tf.config.list_physical_devices()  # the CUDA probe logs here, once
        finally:  # (also when the import fails: its log may say why)
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            log = captured.read().decode("utf-8", errors="replace") + python_stderr.getvalue()
            sys.stderr.write(start_up_errors(log))


def start_up_errors(log: str) -> str:
    """The lines of TensorFlow's start-up ``log`` that are not known noise (may be empty).

    An indented line, or TensorFlow's ``To enable the following instructions: …``,
    continues the line before it and goes with it.
    """
    kept, dropping = [], False
    for line in log.splitlines():
        if not line.strip():
            continue
        if START_UP_NOISE.search(line):
            dropping = True
        elif not (dropping and CONTINUATION.match(line)):
            dropping = False
            kept.append(line + "\n")
    return "".join(kept)
