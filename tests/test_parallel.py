"""Parallel grading: ``grade --jobs 2`` gives the same files as ``--jobs 1``, byte for byte.

Each student is graded as a task (autograder.task) in a worker process of its own, which
writes nothing in the course: the parent records each result as it comes in, and writes
the class-wide files at the end. The set of students mixes honest ones with a crash,
repaired metadata and a broken file.
"""

from __future__ import annotations

import pathlib
import shutil

import pytest

from autograder import course, grade, sandbox
from tests import hostile

pytestmark = pytest.mark.slow
STUDENTS = ["reference", "partial", "h_segfault", "h_stripped", "h_invalid_json", "h_missing"]
SHARED = {
    "release",
    "gradebooks",
    "submitted",
    "staged",
    "autograded",
    "reports",
    "grades.csv",
    "cell_report.csv",
    "grading_outcomes.json",
    "gradebook.db",  # the class gradebook (formgrader)
    "nbgrader_config.py",
    "grading_run.json",
    ".grading.lock",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel")
    use = sandbox.probe() is None
    hostile.write_suite(root / "one", sandbox=use, only=STUDENTS)
    shutil.copytree(root / "one" / "submitted", root / "two" / "submitted")
    limits = sandbox.Limits(sandbox=use, **hostile.TEST_LIMITS)
    mode = "on" if use else "off"
    results = {}
    for jobs, name in ((1, "one"), (2, "two")):
        results[jobs] = grade.grade(
            root / name, jobs=jobs, assignment_ids=["01_masks"], sandbox_mode=mode, limits=limits
        )
    return root, results


def test_same_grades_byte_for_byte(runs):
    root, results = runs
    one, two = (
        (root / "one" / "grades.csv").read_bytes(),
        (root / "two" / "grades.csv").read_bytes(),
    )
    assert one == two
    assert len(one.splitlines()) == 1 + len(STUDENTS)
    assert results[1]["jobs"] == 1 and results[2]["jobs"] == 2


def test_same_reports_byte_for_byte(runs):
    root, _ = runs
    for name in ["cell_report.csv"] + [f"reports/{s}.csv" for s in STUDENTS]:
        assert (root / "one" / name).read_bytes() == (root / "two" / name).read_bytes(), name


def test_workers_write_only_their_own_files(runs):
    root, _ = runs
    course_root = root / "two"
    assert {p.name for p in course_root.iterdir()} <= SHARED
    for folder in ("staged", "autograded"):
        assert {p.name for p in (course_root / folder).iterdir()} <= set(STUDENTS)
    per_student = {p.name for p in (course_root / "gradebooks").iterdir()} - {
        "_template.db",
        "_template.json",
        "source_with_tests",
    }
    assert len(per_student) == 3 * len(STUDENTS)  # <student>.db, .json and .log
    assert {name.rsplit(".", 1)[0] for name in per_student} == set(STUDENTS)
    assert not list(course.REPO.glob(".nbgrader.log"))
    assert not [p for p in pathlib.Path(course_root).rglob("*.ipynb") if p.stat().st_size > 50e6]
