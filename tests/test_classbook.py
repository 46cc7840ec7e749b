"""The class gradebook: merging one student's results keeps everything else; manual grading
survives a regrade; the course's nbgrader configuration is what formgrader loads.

Gradebooks are built with nbgrader's own API (no notebook runs here). A new gradebook costs
a subprocess (nbgrader runs ``alembic heads``), so every gradebook here is a copy of one
blank gradebook made once.
"""

from __future__ import annotations

import shutil

import pytest
from traitlets.config import PyFileConfigLoader

from autograder import classbook, course

#: assignment -> notebook -> graded cell -> points
CELLS = {"a1": {"nb1": {"t1": 2.0, "t2": 3.0}}, "a2": {"nb2": {"u1": 4.0}}}


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    path = tmp_path_factory.mktemp("blank") / "blank.db"
    classbook.gradebook(path).close()
    return path


def _template(blank, path, cells=CELLS):
    shutil.copyfile(blank, path)
    with classbook.gradebook(path) as gb:
        for assignment, notebooks in cells.items():
            gb.add_assignment(assignment)
            for notebook, graded in notebooks.items():
                gb.add_notebook(notebook, assignment)
                gb.add_solution_cell("answer", notebook, assignment)
                gb.add_source_cell("answer", notebook, assignment, cell_type="code", source="")
                for cell, points in graded.items():
                    gb.add_grade_cell(
                        cell, notebook, assignment, max_score=points, cell_type="code"
                    )
                    gb.add_source_cell(cell, notebook, assignment, cell_type="code", source="t")
    return path


def _graded(tmp_path, template, student, scores):
    """A worker's gradebook: ``scores`` = {(assignment, notebook, cell): auto score}."""
    db = tmp_path / f"{student}-{len(list(tmp_path.iterdir()))}.db"
    shutil.copyfile(template, db)
    with classbook.gradebook(db) as gb:
        gb.add_student(student)
        for assignment in sorted({a for a, _, _ in scores}):
            gb.add_submission(assignment, student)
        for (assignment, notebook, cell), score in scores.items():
            g = gb.find_grade(cell, notebook, assignment, student)
            g.auto_score, g.needs_manual_grade = score, False
        gb.db.commit()
    return db


def _scores(root):
    return {
        (r["student_id"], r["assignment"]): float(r["score"]) for r in classbook.export_rows(root)
    }


@pytest.fixture
def graded(tmp_path, blank):
    """A class gradebook with s1 and s2 graded on a1 and a2."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copyfile(blank, classbook.path(root))
    template = _template(blank, tmp_path / "template.db")
    classbook.sync_assignments(root, template, list(CELLS), ["s1", "s2"])
    full = {("a1", "nb1", "t1"): 2.0, ("a1", "nb1", "t2"): 3.0, ("a2", "nb2", "u1"): 4.0}
    for student in ("s1", "s2"):
        db = _graded(tmp_path, template, student, full)
        classbook.merge(root, student, {"a1": "graded", "a2": "graded"}, db)
    return root, template, tmp_path, blank


def test_merging_one_students_assignment_keeps_everything_else(graded):
    root, template, tmp, _ = graded
    assert _scores(root) == {("s1", "a1"): 5, ("s1", "a2"): 4, ("s2", "a1"): 5, ("s2", "a2"): 4}
    db = _graded(tmp, template, "s1", {("a1", "nb1", "t1"): 0.0, ("a1", "nb1", "t2"): 3.0})
    classbook.merge(root, "s1", {"a1": "graded"}, db)
    assert _scores(root) == {("s1", "a1"): 3, ("s1", "a2"): 4, ("s2", "a1"): 5, ("s2", "a2"): 4}
    classbook.merge(root, "s3", {"a1": "absent", "a2": "absent"})  # a new student, nothing in
    assert _scores(root)[("s3", "a1")] == 0 and len(_scores(root)) == 6


def test_failed_grading_gives_zero_and_a_missing_submission_is_removed(graded):
    root, *_ = graded
    classbook.merge(root, "s1", {"a1": "failed"})
    classbook.merge(root, "s2", {"a2": "absent"})
    scores = _scores(root)
    assert scores[("s1", "a1")] == 0 and scores[("s1", "a2")] == 4
    assert scores[("s2", "a2")] == 0 and scores[("s2", "a1")] == 5
    with classbook.gradebook(classbook.path(root)) as gb:
        assert [s.assignment.name for s in gb.student_submissions("s2")] == ["a1"]


def test_manual_grading_survives_a_regrade_flagged_for_review(graded):
    root, template, tmp, _ = graded
    with classbook.gradebook(classbook.path(root)) as gb:
        gb.find_grade("t1", "nb1", "a1", "s1").manual_score = 1.5
        gb.find_comment("answer", "nb1", "a1", "s1").manual_comment = "see me"
        gb.db.commit()
    assert _scores(root)[("s1", "a1")] == 4.5
    db = _graded(tmp, template, "s1", {("a1", "nb1", "t1"): 0.0, ("a1", "nb1", "t2"): 0.0})
    classbook.merge(root, "s1", {"a1": "graded"}, db)
    assert _scores(root)[("s1", "a1")] == 1.5  # the manual 1.5 + the new automatic 0
    found = classbook.manual_grading(root, "s1")
    assert found[("a1", "nb1", "t1")]["manual_score"] == 1.5
    assert found[("a1", "nb1", "t1")]["auto_score"] == 0.0
    assert found[("a1", "nb1", "answer")]["comment"] == "see me"
    with classbook.gradebook(classbook.path(root)) as gb:
        assert gb.find_grade("t1", "nb1", "a1", "s1").needs_manual_grade
        assert not gb.find_grade("t2", "nb1", "a1", "s1").needs_manual_grade

    classbook.merge(root, "s1", {"a1": "graded"}, db, discard_manual=True)
    assert _scores(root)[("s1", "a1")] == 0 and classbook.manual_grading(root, "s1") == {}


def test_changed_cells_rebuild_only_when_nothing_would_be_lost(graded):
    root, _, tmp, blank = graded
    changed = dict(CELLS, a1={"nb1": {"t1": 2.0, "t3": 5.0}})
    new_template = _template(blank, tmp / "changed.db", changed)
    with pytest.raises(classbook.ClassbookError, match="not graded in this run") as err:
        classbook.sync_assignments(root, new_template, ["a1"], ["s1"])
    assert "Nothing was changed" in str(err.value) and "grade a1" in str(err.value)
    assert _scores(root)[("s2", "a1")] == 5

    with classbook.gradebook(classbook.path(root)) as gb:
        gb.find_grade("t1", "nb1", "a1", "s2").manual_score = 1.0
        gb.db.commit()
    with pytest.raises(classbook.ClassbookError, match="manual scores"):
        classbook.sync_assignments(root, new_template, ["a1"], ["s1", "s2"])
    classbook.merge(root, "s2", {"a1": "graded"}, None, discard_manual=True)  # drop it
    classbook.merge(root, "s2", {"a1": "failed"}, discard_manual=True)

    classbook.sync_assignments(root, new_template, ["a1"], ["s1", "s2"])
    with classbook.gradebook(classbook.path(root)) as gb:
        assert sorted(c.name for c in gb.find_notebook("nb1", "a1").grade_cells) == ["t1", "t3"]
    assert _scores(root)[("s1", "a2")] == 4  # the other assignment is untouched


def test_points_change_in_place(graded):
    root, _, tmp, blank = graded
    more = dict(CELLS, a1={"nb1": {"t1": 2.0, "t2": 6.0}})
    classbook.sync_assignments(root, _template(blank, tmp / "more.db", more), ["a1"], [])
    rows = {(r["student_id"], r["assignment"]): r for r in classbook.export_rows(root)}
    assert rows[("s1", "a1")]["max_score"] == "8.0" and rows[("s1", "a1")]["score"] == "5.0"


def test_grades_csv_is_sorted_and_in_nbgrader_format(graded):
    root, *_ = graded
    classbook.write_grades(root)
    lines = (root / "grades.csv").read_text().splitlines()
    assert lines[0].split(",") == classbook.EXPORT_COLUMNS
    keys = [(line.split(",")[0], line.split(",")[3]) for line in lines[1:]]
    assert keys == sorted(keys) == [("a1", "s1"), ("a1", "s2"), ("a2", "s1"), ("a2", "s2")]


def test_course_configuration_follows_the_course_folder(graded, tmp_path):
    root, *_ = graded
    classbook.write_config(root)
    moved = shutil.copytree(root, tmp_path / "moved")
    config = PyFileConfigLoader(classbook.CONFIG_NAME, path=str(moved)).load_config()
    directories = config.CourseDirectory
    assert directories.root == str(moved)
    assert directories.db_url == f"sqlite:///{moved / classbook.CLASS_DB}"
    assert directories.autograded_directory == str(moved / "autograded")
    assert directories.submitted_directory == str(moved / "staged")
    assert directories.source_directory == str(course.SOLUTIONS)
    # the repository's settings come along (what keeps TensorFlow's stderr from costing points)
    assert (
        config.IgnorePattern.enabled and config.CourseDirectory.course_id == classbook.course_id()
    )
