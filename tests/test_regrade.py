"""Results are merged, never replaced: regrading a student or an assignment keeps the rest.

The demo course (three students, two assignments) is graded once (``graded_demo``); each
test here grades part of a copy of it again. Regrading the same submissions gives the same
results, so every class-wide file must come out byte for byte as it was.

Slow: each test grades notebooks again (one student's two, or the class's one).
"""

from __future__ import annotations

import csv
import json

import pytest
from conftest import DEMO_ASSIGNMENTS, copy_course, demo_students

from autograder import classbook, feedback, grade, runlock

pytestmark = pytest.mark.slow
CLASS_FILES = ["grades.csv", "cell_report.csv"]


def _snapshot(root):
    files = {name: (root / name).read_bytes() for name in CLASS_FILES}
    files.update({f"reports/{p.name}": p.read_bytes() for p in (root / "reports").glob("*.csv")})
    return files


def _outcomes(root):
    return {o["student"]: o for o in json.loads((root / "grading_outcomes.json").read_text())}


def _graded_folders(root, student, assignment):
    folder = root / "autograded" / student / assignment
    return {p.relative_to(root): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture
def course(graded_demo, tmp_path):
    return copy_course(graded_demo, tmp_path / "course")


def test_regrading_one_student_keeps_everyone_else(course):
    ids = demo_students(course)
    before = _snapshot(course)
    others = {
        (s, a): _graded_folders(course, s, a)
        for s in (ids["reference"], ids["partial"])
        for a in DEMO_ASSIGNMENTS
    }
    with open(course / "grades.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 3 * len(DEMO_ASSIGNMENTS)

    result = grade.grade(course, only=[ids["untouched"]])

    assert result["students"] == [ids["untouched"]]
    assert sorted({r["assignment"] for r in result["rows"]}) == DEMO_ASSIGNMENTS
    after = _snapshot(course)
    assert after.keys() == before.keys()
    for name in before:  # the same submission graded again: nothing changes, nobody is lost
        assert after[name] == before[name], name
    assert sorted(_outcomes(course)) == sorted(ids.values())
    assert classbook.students(course) == sorted(ids.values())
    for (s, a), stamps in others.items():  # their files were not even rewritten
        assert _graded_folders(course, s, a) == stamps, (s, a)
    state = runlock.read_state(course)
    assert state["state"] == "finished" and state["recorded"] == [ids["untouched"]]


def test_grading_one_assignment_keeps_the_other_and_its_feedback(course, capsys):
    ids = demo_students(course)
    before = _snapshot(course)

    grade.grade(course, jobs=2, assignment_ids=["02_encoder"])

    after = _snapshot(course)
    for name in before:
        assert after[name] == before[name], name
    with open(course / "grades.csv") as fh:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    assert rows[ids["reference"], "01_masks"]["score"] == rows[ids["reference"], "01_masks"][
        "max_score"
    ]
    assert 0 < float(rows[ids["partial"], "01_masks"]["score"]) < 10
    for outcome in _outcomes(course).values():  # both assignments' outcomes are still there
        assert sorted(outcome["assignments"]) == DEMO_ASSIGNMENTS

    capsys.readouterr()
    pages = feedback.feedback(course, DEMO_ASSIGNMENTS)
    assert "could not be generated" not in capsys.readouterr().out
    names = {p.relative_to(course / "feedback").parts[:2] for p in pages}
    assert names == {(s, a) for s in ids.values() for a in DEMO_ASSIGNMENTS}
    partial = (course / "feedback" / ids["partial"] / "01_masks" / "01_masks.html").read_text()
    assert "not answered" in partial
