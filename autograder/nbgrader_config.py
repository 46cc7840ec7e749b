"""nbgrader configuration of the U-Net course.

Used by the course's own tool (``python -m autograder …``, which sets the
course directory paths for each step) and usable with the plain ``nbgrader``
command run from the repository root (``nbgrader … --config autograder/nbgrader_config.py``).
"""

import os
import pathlib
import sys

c = get_config()  # noqa: F821 (injected by traitlets when this file is loaded)

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the plain `nbgrader` command does not see the repository
    sys.path.insert(0, str(REPO))

# TensorFlow's C++ and absl loggers write to stderr, and nbgrader marks a test
# cell that printed anything to stderr as failed. Kernels inherit this process's
# environment, so quieten TensorFlow before any kernel starts ...
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

c.CourseDirectory.course_id = "unet-segmentation"
c.CourseDirectory.root = str(REPO)
# solutions/<assignment>/ is nbgrader's "source", notebooks/<assignment>/ its "release".
c.CourseDirectory.source_directory = str(REPO / "solutions")
c.CourseDirectory.release_directory = str(REPO / "notebooks")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info"]

# ... and drop what still reaches stderr from TensorFlow, absl, Keras and Python's
# warnings machinery, so a log line can never cost a student a point. A real
# failure is an exception (an "error" output), which this does not touch.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)(^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"  # absl / glog lines
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # TensorFlow's older log format
    r"|^WARNING: All log messages before absl::InitializeLog"
    r"|^(WARNING|INFO|ERROR):(tensorflow|absl|keras)"
    r"|^\S+\.py:\d+: \w*Warning: "  # warnings.warn(...) from any module
    r"|^Matplotlib is building the font cache)"
)

# Bound every cell; a cell that runs longer is interrupted and fails with a
# CellTimeoutError, and the notebook's remaining cells still run.
c.Execute.timeout = 180
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# A student who deleted a test cell gets it back (and is graded on it).
c.OverwriteCells.add_missing_cells = True

# Outputs a submission can make (megabytes of prints) are cut before saving.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 100

# The stub of every answer says which exercise it stands for
# ("exercise 2 (encoder_block) is not answered yet"): autograder/stubs.py.
from nbgrader.converters import GenerateAssignment  # noqa: E402
from nbgrader.preprocessors import ClearSolutions  # noqa: E402

from autograder.stubs import NamedStubs  # noqa: E402

c.GenerateAssignment.preprocessors = [
    NamedStubs if p is ClearSolutions else p
    for p in GenerateAssignment.class_traits()["preprocessors"].default()
]
