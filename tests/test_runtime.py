"""unet_course.runtime: the budget switch and TensorFlow's quiet start."""

import os
import subprocess
import sys

import pytest

from unet_course import runtime

CPU_START = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796116798.167184    1366 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796117780.653601   11968 cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796116817.566116    1366 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
2025-01-01 10:00:00.000000: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:477] Unable to register cuFFT factory: Attempting to register factory for plugin cuFFT when one has already been registered
2025-01-01 10:00:00.000000: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on.
"""  # noqa: E501 (TensorFlow's own lines, as a CPU-only machine and Colab print them)


def test_known_start_up_lines_are_dropped():
    assert runtime.start_up_errors(CPU_START) == ""


def test_other_lines_are_kept():
    real = (
        "E0000 00:00:1796116817.566116    1366 kernel.cc:12] Could not load the library\n"
        "  because it is not there\n"
        "/usr/lib/python3/x.py:3: UserWarning: something to read\n"
    )
    assert runtime.start_up_errors(CPU_START + real) == real


def test_importing_tensorflow_prints_nothing_on_stderr_here():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                             "TF_ENABLE_ONEDNN_OPTS")}
    code = "from unet_course import runtime; runtime.import_tensorflow(); import tensorflow"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_the_budget_switch(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv(runtime.BUDGET_VARIABLE, raising=False)
    assert runtime.pick(graded=1, local=2) == 2
    monkeypatch.setenv(runtime.BUDGET_VARIABLE, "graded")
    assert runtime.pick(graded=1, local=2) == 1
    assert runtime.grading_mode() is None, "the budget alone is not grading"
    monkeypatch.setenv(runtime.BUDGET_VARIABLE, "small")
    with pytest.raises(ValueError, match="must be 'graded'"):
        runtime.pick(graded=1, local=2)
