"""Where things live, and the nbgrader configuration for each step."""

from __future__ import annotations

import logging
import os
import pathlib
import sys

from traitlets.config import Config, PyFileConfigLoader

REPO = pathlib.Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
CONFIG_FILE = REPO / "autograder" / "nbgrader_config.py"
BUILD = REPO / "build"

log = logging.getLogger("autograder")

# nbgrader runs the `alembic` command of its environment to set up gradebooks; when this
# tool runs from a virtual environment that is not activated, that command is not on PATH.
_bin = str(pathlib.Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


def assignments(source: pathlib.Path = SOLUTIONS) -> list[str]:
    """The assignments, in course order: each folder of ``solutions/`` holding a notebook."""
    if not source.is_dir():
        raise FileNotFoundError(f"no solutions folder at {source}")
    return sorted(d.name for d in source.iterdir() if d.is_dir() and any(d.glob("*.ipynb")))


def notebook_names(assignment: str, source: pathlib.Path = SOLUTIONS) -> list[str]:
    """The notebooks of one assignment, without the ``.ipynb`` suffix."""
    return sorted(p.stem for p in (source / assignment).glob("*.ipynb"))


def load_config(**course_directory: str) -> Config:
    """The course's nbgrader configuration, with ``CourseDirectory`` settings overridden.

    Paths given here may be absolute; nbgrader joins relative ones to ``root``.
    """
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent))
    config = loader.load_config()
    for key, value in course_directory.items():
        setattr(config.CourseDirectory, key, str(value))
    return config


def quiet_nbgrader() -> None:
    """Keep nbgrader's and traitlets' INFO chatter off the instructor's terminal."""
    level = logging.DEBUG if os.environ.get("AUTOGRADER_DEBUG") else logging.WARNING
    for name in ("traitlets", "nbgrader", "NbGraderAPI", "Autograde", "GenerateAssignment"):
        logging.getLogger(name).setLevel(level)


def api(config: Config):
    """An nbgrader API object for one course directory."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    quiet_nbgrader()
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)
