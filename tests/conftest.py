"""Shared fixtures: one small graded demo course, copied by every test that changes it."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from autograder import course, publish, sources

#: The student repository the publish and Colab-like tests publish for (never contacted).
STUDENT_URL = "https://github.com/test-school/unet-students"

#: the demo grades every assignment once per test session; the tests of the whole loop,
#: feedback, merging and formgrader all read it (or a copy of it)
DEMO_ASSIGNMENTS = course.assignments()
KINDS = ("reference", "untouched", "partial")


@pytest.fixture(scope="session")
def graded_demo(tmp_path_factory) -> pathlib.Path:
    """``make demo`` (release, collect, grade, feedback, export); do not change it.

    ``AUTOGRADER_GRADED_DEMO=DIR`` uses a copy of DIR instead (a course ``make demo``
    graded before): minutes saved when working on the tests themselves.
    """
    from autograder import demo

    root = tmp_path_factory.mktemp("graded-demo") / "course"
    if os.environ.get("AUTOGRADER_GRADED_DEMO"):
        return copy_course(pathlib.Path(os.environ["AUTOGRADER_GRADED_DEMO"]), root)
    assert demo.demo(root, jobs=2) == 0
    return root


def copy_course(source: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    """A copy of a graded course folder (it holds no absolute path of its own)."""
    shutil.copytree(source, target, symlinks=True)
    return target


def demo_students(course_root: pathlib.Path) -> dict[str, str]:
    """``kind -> student id`` of the demo students: ``reference`` or ``reference_1001`` ..."""
    ids = sorted(p.name for p in (pathlib.Path(course_root) / "submitted").iterdir())
    return {k: next(i for i in ids if i == k or i.startswith(k + "_")) for k in KINDS}


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """The whole course published for STUDENT_URL (about a minute: nbgrader generates it)."""
    out = tmp_path_factory.mktemp("published") / "unet-students"
    return publish.publish(out, sources.Repository(STUDENT_URL), None)
