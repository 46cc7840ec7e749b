"""The nbgrader configuration: TensorFlow's log lines never cost a point."""

import re

import nbformat
import pytest
from nbgrader.preprocessors import IgnorePattern

from autograder import course

TF_NOISE = [
    "I0000 00:00:1795280265.663618    2013 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results.\n",
    "I0000 00:00:1795280265.668893    2013 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "E0000 00:00:1795280266.1 2013 cuda_dnn.cc:8310] Unable to register cuDNN factory\n",
    "2026-11-21 17:03:12.345678: W tensorflow/core/framework/local_rendezvous.cc:404] "
    "Local rendezvous is aborting with status: OUT_OF_RANGE: End of sequence\n",
    "/usr/lib/python3/site-packages/keras/src/layers/core/input_layer.py:27: UserWarning: "
    "Argument `input_shape` is deprecated.\n  warnings.warn(\n",
    "WARNING:absl:You are saving your model as an HDF5 file.\n",
    "Matplotlib is building the font cache; this may take a moment.\n",
]


@pytest.fixture(scope="module")
def config():
    return course.load_config()


@pytest.mark.parametrize("text", TF_NOISE)
def test_tensorflow_log_lines_are_dropped(config, text):
    pattern = IgnorePattern(config=config)
    assert pattern.enabled
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=text)]
    cell, _ = pattern.preprocess_cell(cell, {}, 0)
    assert cell.outputs == []


def test_other_stderr_output_and_errors_are_kept(config):
    pattern = re.compile(config.IgnorePattern.pattern)
    assert not pattern.search("my own message on stderr\n")
    assert not pattern.search("Traceback (most recent call last):\n")


def test_timeouts_and_restoring_deleted_tests_are_configured(config):
    assert 0 < config.Execute.timeout <= 600 and config.Execute.interrupt_on_timeout
    assert config.OverwriteCells.add_missing_cells is True
    assert config.CourseDirectory.source_directory.endswith("solutions")
    assert config.CourseDirectory.release_directory.endswith("notebooks")
