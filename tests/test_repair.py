"""Metadata repair and the reading of submitted files (autograder.repair), without kernels.

Built on 01_masks; every test derives its submission from the release and the reference
solution, so another assignment can be checked by changing ASSIGNMENT.
"""

from __future__ import annotations

import copy
import json
import pathlib

import nbformat
import pytest

from autograder import course, grade, repair
from tests import hostile

ASSIGNMENT = "01_masks"


@pytest.fixture(scope="module")
def r():
    (notebook,) = course.notebook_names(ASSIGNMENT)[:1]
    return hostile.Release(course.NOTEBOOKS, ASSIGNMENT, notebook)


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def graded_ids(nb):
    return [gid(c) for c in nb.cells if gid(c)]


def kinds(notes):
    return [n["kind"] for n in notes]


def intake(tmp_path, r, content, name=None) -> repair.Intake:
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    text = content if isinstance(content, str) else nbformat.writes(content)
    (folder / (name or f"{r.notebook}.ipynb")).write_text(text)
    return repair.intake(folder, r.notebook, [r.notebook], r.release)


def strip(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def test_clean_reference_needs_no_repair(tmp_path, r):
    result = intake(tmp_path, r, r.reference())
    assert result.status == "ok" and result.notes == []
    assert graded_ids(result.nb) == graded_ids(r.release)


def test_stripped_metadata_is_matched_back_cell_by_cell(tmp_path, r):
    result = intake(tmp_path, r, strip(r.reference()))
    assert graded_ids(result.nb) == graded_ids(r.release)
    for cell in result.nb.cells:
        if gid(cell):
            want = next(c for c in r.release.cells if gid(c) == gid(cell))
            assert cell.metadata["nbgrader"] == want.metadata["nbgrader"]
    assert kinds(result.notes) == ["repaired"]
    assert result.notes[0]["text"].startswith("metadata repaired:")


def test_fresh_copy_without_markdown_and_hidden_tests(tmp_path, r):
    fresh = nbformat.v4.new_notebook()
    hidden = [gid(c) for c in r.release.cells if gid(c) and "Hidden tests" in c.source]
    for cell in r.reference().cells:
        if cell.cell_type == "code" and gid(cell) not in hidden:
            fresh.cells.append(nbformat.v4.new_code_cell(cell.source))
    result = intake(tmp_path, r, fresh)
    assert graded_ids(result.nb) == graded_ids(r.release)  # hidden tests put back, in place
    restored = [n["cell"] for n in result.notes if n["kind"] == "restored_cell"]
    assert restored == hidden


def test_answers_are_found_by_their_def_line_even_when_moved(tmp_path, r):
    nb = strip(r.reference())
    a = r.answer(1)
    index = next(i for i, c in enumerate(nb.cells) if f"def {a.names[0]}(" in c.source)
    nb.cells.append(nb.cells.pop(index))
    result = intake(tmp_path, r, nb)
    position = {g: i for i, g in enumerate(graded_ids(result.nb))}
    assert position[a.grade_id] > position[a.tests[0]]
    assert any(n["kind"] == "order" and n["cell"] == a.tests[0] for n in result.notes)


def test_an_answer_that_cannot_be_found_is_reported_not_zeroed(tmp_path, r):
    nb = strip(r.reference())
    a = r.answer(2)
    nb.cells = [c for c in nb.cells if f"def {a.names[0]}(" not in c.source]
    result = intake(tmp_path, r, nb)
    missing = [n for n in result.notes if n["kind"] == "missing_answer"]
    assert [n["cell"] for n in missing] == [a.grade_id]
    assert a.names[0] in missing[0]["text"] and "could not find" in missing[0]["text"]
    assert all(t in graded_ids(result.nb) for t in a.tests)  # its tests still run


def test_duplicates_unknown_ids_edits_and_points(tmp_path, r):
    nb = r.reference()
    a0, a1 = r.answer(0), r.answer(1)
    test = next(c for c in nb.cells if gid(c) == a0.tests[0])
    twin = copy.deepcopy(test)
    twin["id"] = "twin-of-" + test["id"]
    nb.cells.insert(nb.cells.index(test), twin)
    forged = nbformat.v4.new_code_cell("pass")
    forged.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "free_points",
        "points": 100,
        "solution": False,
        "locked": True,
        "schema_version": 3,
    }
    nb.cells.append(forged)
    edited = next(c for c in nb.cells if gid(c) == a1.tests[0])
    edited.source = "print('fine')"
    edited.metadata["nbgrader"]["points"] = 9
    result = intake(tmp_path, r, nb)
    assert sorted(kinds(result.notes)) == ["duplicate", "edited", "points", "unknown_id"]
    assert graded_ids(result.nb) == graded_ids(r.release)
    kept = next(c for c in result.nb.cells if gid(c) == a1.tests[0])
    assert kept.metadata["nbgrader"]["points"] == r.points[a1.tests[0]]


def test_another_notebook_is_recognised_as_foreign(tmp_path, r):
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('homework 7')")])
    result = intake(tmp_path, r, other)
    assert "foreign" in kinds(result.notes)
    assert graded_ids(result.nb)  # the tests are put back and fail, with reasons


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "is empty (0 bytes)"),
        ("   \n", "is empty"),
        ('{"cells": [', "is not valid JSON (line 1, column 12"),
        ("[1, 2]", "is JSON but not a Jupyter notebook"),
        ('{"metadata": {}}', "is JSON but not a Jupyter notebook"),
    ],
)
def test_unreadable_files_say_why(tmp_path, r, content, reason):
    result = intake(tmp_path, r, content)
    assert result.status == "unreadable" and reason in result.reason and result.nb is None


def test_binary_file(tmp_path, r):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / f"{r.notebook}.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    result = repair.intake(folder, r.notebook, [r.notebook], r.release)
    assert result.status == "unreadable" and "not UTF-8" in result.reason


def test_colab_quirks_are_normalised(tmp_path, r):
    data = json.loads(nbformat.writes(r.reference()))
    data["nbformat_minor"] = 0
    data["metadata"] = {"colab": {"provenance": []}, "kernelspec": {"name": "python3"}}
    for cell in data["cells"]:
        cell["metadata"]["colab"] = {"height": 35}
        cell["source"] = "".join(cell["source"]).splitlines(keepends=True)  # lists of lines
    result = intake(tmp_path, r, json.dumps(data))
    assert result.status == "ok" and result.notes == []
    assert result.nb.metadata["kernelspec"] == r.release.metadata["kernelspec"]
    assert all("colab" not in c.metadata for c in result.nb.cells)
    nbformat.validate(result.nb)


def test_old_notebooks_are_converted_and_matched(tmp_path, r):
    old = json.loads(nbformat.writes(r.reference(), version=3))
    assert "worksheets" in old and old["nbformat"] == 3
    result = intake(tmp_path, r, json.dumps(old))
    assert result.status == "ok" and kinds(result.notes) == ["normalised"]
    assert "nbformat 3" in result.notes[0]["text"]
    assert graded_ids(result.nb) == graded_ids(r.release)
    answers = [c.source for c in result.nb.cells if gid(c) == r.answer(0).grade_id]
    assert answers == [c.source for c in r.reference().cells if gid(c) == r.answer(0).grade_id]
    nbformat.validate(result.nb)
    del old["nbformat"]  # an LMS preview that kept only the worksheets
    assert intake(tmp_path, r, json.dumps(old)).status == "ok"


def test_broken_old_notebook_says_why(tmp_path, r):
    broken = {"nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": [{"cell_type": 1}]}]}
    result = intake(tmp_path, r, json.dumps(broken))
    assert result.status == "unreadable"
    assert "old Jupyter notebook (nbformat 3)" in result.reason


def test_wrongly_named_and_extra_files(tmp_path, r):
    result = intake(tmp_path, r, r.reference(), name="Copy of masks FINAL.ipynb")
    assert result.status == "ok" and "had another name" in result.notes[0]["text"]
    (tmp_path / "sub" / "scratch.ipynb").write_text("{}")
    result = repair.intake(tmp_path / "sub", r.notebook, [r.notebook], r.release)
    assert result.status == "missing" and "more than one other notebook" in result.reason
    empty = tmp_path / "empty"
    empty.mkdir()
    result = repair.intake(empty, r.notebook, [r.notebook], r.release)
    assert result.status == "missing" and result.reason.startswith("not submitted")


def test_review_flags_tampering_but_not_the_reference(r):
    assert repair.review(r.reference()) == []
    nb = r.reference()
    nb.cells.append(nbformat.v4.new_code_cell("checks.expect_array = print\nimport builtins"))
    texts = " ".join(n["text"] for n in repair.review(nb))
    assert "assigns to a test helper" in texts and "touches builtins" in texts


def test_stage_keeps_the_submitted_file(tmp_path, r):
    root = tmp_path / "course"
    (root / "release").mkdir(parents=True)
    release_dir = root / "release" / ASSIGNMENT
    release_dir.mkdir()
    nbformat.write(r.release, release_dir / f"{r.notebook}.ipynb")
    folder = root / "submitted" / "s" / ASSIGNMENT
    folder.mkdir(parents=True)
    original = nbformat.writes(strip(r.reference()))
    (folder / f"{r.notebook}.ipynb").write_text(original)
    (folder / "timestamp.txt").write_text("2026-11-20 10:00:00")
    notebooks = grade.stage(root, "s", ASSIGNMENT)
    assert (folder / f"{r.notebook}.ipynb").read_text() == original
    staged = root / "staged" / "s" / ASSIGNMENT
    assert graded_ids(nbformat.read(staged / f"{r.notebook}.ipynb", as_version=4))
    assert (staged / "timestamp.txt").exists()
    assert notebooks[r.notebook]["status"] == "ok"


# ----------------------------------------------------------------------------- graded


@pytest.mark.slow
def test_repaired_notebooks_get_full_marks_when_graded(tmp_path):
    batch = hostile.run_batch()
    for student in ("h_stripped", "h_fresh_copy", "h_colab", "h_wrong_name", "h_duplicate_ids"):
        row = batch.grades[student]
        assert row["score"] == row["max_score"], student
    notes = [r["reason"] for r in batch.rows if r["student_id"] == "h_stripped"]
    assert any(n.startswith("metadata repaired") for n in notes)
    assert pathlib.Path(batch.root / "course" / "staged" / "h_stripped").is_dir()
