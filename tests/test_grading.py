"""The whole instructor loop (the demo): release, collect, grade, feedback, export.

Slow: it executes every released notebook three times (reference, untouched, partial).
"""

import csv

import pytest

from autograder import course, demo, grade

pytestmark = pytest.mark.slow

# collect keeps the Canvas user id of the demo's zip in the student id
REFERENCE, UNTOUCHED, PARTIAL = "reference_1001", "untouched_1002", "partial_1003"


@pytest.fixture(scope="module")
def graded(graded_demo):
    """The session's demo course (tests/conftest.py), graded once for every test that reads it."""
    root, status = graded_demo, 0  # the fixture asserts the demo's own check passed
    with open(root / "grades.csv") as fh:
        rows = list(csv.DictReader(fh))
    with open(root / "cell_report.csv") as fh:
        cells = [c for c in csv.DictReader(fh) if c["kind"] == "lost"]  # notes have no points
    return root, status, rows, cells


def test_demo_meets_its_expectation(graded):
    _, status, rows, _ = graded
    assert status == 0, demo.check(rows)
    assert demo.check(rows) == []


def test_grades_csv_is_in_nbgrader_export_format(graded):
    root, _, rows, _ = graded
    header = (root / "grades.csv").read_text().splitlines()[0]
    assert header.split(",") == grade.EXPORT_COLUMNS
    assignments = course.assignments()
    assert sorted({r["assignment"] for r in rows}) == assignments
    assert sorted({r["student_id"] for r in rows}) == [PARTIAL, REFERENCE, UNTOUCHED]
    assert len(rows) == 3 * len(assignments)


def test_every_lost_point_has_a_reason(graded):
    _, _, rows, cells = graded
    assert not [c for c in cells if c["student_id"] == REFERENCE], "reference lost points"
    lost = {(c["student_id"], c["assignment"]): 0.0 for c in cells}
    for c in cells:
        assert c["reason"], c
        lost[c["student_id"], c["assignment"]] += float(c["max_points"]) - float(c["points"])
    for r in rows:
        if r["student_id"] != REFERENCE:
            missing = float(r["max_score"]) - float(r["score"])
            got = lost.get((r["student_id"], r["assignment"]), 0.0)
            assert got == pytest.approx(missing), r
    untouched = [c["reason"] for c in cells if c["student_id"] == UNTOUCHED]
    assert all("NotImplementedError" in r or "not answered" in r for r in untouched), untouched


def test_collect_reported_the_stray_file(graded):
    root, *_ = graded
    with open(root / "collect_report.csv") as fh:
        report = {r["file"]: r for r in csv.DictReader(fh)}
    assert report["partial_1003_4999_notes.txt"]["status"] == "unmatched"


def test_students_csv_keeps_the_canvas_user_ids(graded):
    root, *_ = graded
    with open(root / "students.csv") as fh:
        rows = {r["student_id"]: (r["lms"], r["lms_id"], r["name"]) for r in csv.DictReader(fh)}
    assert rows == {
        PARTIAL: ("canvas", "1003", "partial"),
        REFERENCE: ("canvas", "1001", "reference"),
        UNTOUCHED: ("canvas", "1002", "untouched"),
    }


def test_feedback_page_per_student_and_notebook(graded):
    root, *_ = graded
    pages = sorted(p.relative_to(root / "feedback") for p in (root / "feedback").glob("*/*/*.html"))
    expected = sorted(
        f"{s}/{a}/{nb}.html"
        for s in (PARTIAL, REFERENCE, UNTOUCHED)
        for a in course.assignments()
        for nb in course.notebook_names(a)
    )
    assert [str(p) for p in pages] == expected


def test_feedback_says_why_points_were_lost(graded):
    root, *_ = graded
    report = (root / "feedback" / PARTIAL / "report.html").read_text()
    assert f"Grading report for {PARTIAL}" in report and "not answered" in report
    page = next((root / "feedback" / PARTIAL).glob("*/*.html")).read_text()
    assert "autograder report" in page and "not answered" in page
