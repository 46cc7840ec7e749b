"""Feedback that keeps hidden tests hidden, and holds nothing but the grader's pages.

The slow tests grade real notebooks: the demo on two assignments, and a student whose
kernel writes HTML and other files into its working folder and tries to get the hidden
tests into its output. The fast tests check the pieces on the course's notebooks.
"""

from __future__ import annotations

import csv
import html
import pathlib
import re
import shutil

import nbformat
import pytest

from autograder import course, feedback, grade, submissions

ASSIGNMENTS = course.assignments()
slow = pytest.mark.slow


def _lines(nb, hidden: bool) -> set[str]:
    """Stripped lines of a notebook: inside the hidden-test blocks, or all of them."""
    found = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside or not hidden:
                found.add(line.strip())
    return found


def secret_lines(assignment: str) -> set[str]:
    """Non-trivial lines of the hidden tests that a student never sees in the release."""
    name = f"{assignment}.ipynb"
    source = nbformat.read(course.SOLUTIONS / assignment / name, as_version=4)
    released = nbformat.read(course.NOTEBOOKS / assignment / name, as_version=4)
    secrets = {line for line in _lines(source, hidden=True) if len(line) >= 10}
    shown = _lines(released, hidden=False)
    # a hidden line that is part of a visible one (its first half, say) is no secret
    return {s for s in secrets - shown if not any(s in line for line in shown)}


def page_text(path: pathlib.Path) -> str:
    """What a browser shows of a page: tags (syntax highlighting too) removed, unescaped."""
    return html.unescape(re.sub(r"<[^>]*>", "", path.read_text(encoding="utf-8")))


def leaks(folder: pathlib.Path) -> list[str]:
    # a line one notebook hides and another shows (a test helper of 04 that is a visible
    # test of 03), or that the reference answers hold (a page shows the submission's own
    # code), is no secret
    shown = set().union(*(
        _lines(nbformat.read(course.NOTEBOOKS / a / f"{a}.ipynb", as_version=4), hidden=False)
        for a in ASSIGNMENTS
    ))
    for a in ASSIGNMENTS:
        source = nbformat.read(course.SOLUTIONS / a / f"{a}.ipynb", as_version=4)
        shown |= {
            line.strip()
            for cell in source.cells
            if cell.metadata.get("nbgrader", {}).get("solution")
            for line in cell.source.split("\n")
        }
    secrets = {
        s for s in set().union(*(secret_lines(a) for a in ASSIGNMENTS))
        if not any(s in line for line in shown)
    }
    found = []
    for path in sorted(folder.rglob("*.html")):
        text = page_text(path)
        found += [f"{path.relative_to(folder)}: {s}" for s in sorted(secrets) if s in text]
    return found


def who(root: pathlib.Path, prefix: str) -> str:
    """A demo student's id (``reference``, or ``reference_1001`` once ids keep the LMS id)."""
    return next(d.name for d in sorted((root / "submitted").iterdir()) if d.name.startswith(prefix))


# ------------------------------------------------------------------------ the demo, graded


@pytest.fixture(scope="module")
def demo_course(graded_demo):
    """The session's demo course (tests/conftest.py): every assignment graded, with feedback."""
    return graded_demo


def _csv(path: pathlib.Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@slow
def test_the_secret_lines_are_many_and_the_graded_copies_carry_them(demo_course):
    # the check below means something: the graded notebooks hold the hidden tests
    for assignment in ASSIGNMENTS:
        secrets = secret_lines(assignment)
        assert len(secrets) > 40, assignment
        student = who(demo_course, "untouched")
        graded = demo_course / "autograded" / student / assignment / f"{assignment}.ipynb"
        assert secrets <= _lines(nbformat.read(graded, as_version=4), hidden=False)


@slow
def test_no_line_of_a_hidden_test_reaches_the_feedback(demo_course):
    assert leaks(demo_course / "feedback") == []


@slow
def test_each_lost_point_shows_its_exercise_points_and_reason(demo_course):
    partial = who(demo_course, "partial")
    report = (demo_course / "feedback" / partial / "report.html").read_text()
    expected = {  # partial answers the first half of the exercises of each notebook
        "test_class_balance": ("Exercise 4, <code>class_balance</code>", "0 of 1"),
        "test_sample_weights_dtype": ("Exercise 5, <code>sample_weights</code>", "0 of 1"),
        "test_level_sizes_errors": ("Exercise 3, <code>level_sizes</code>", "1 of 1"),
        "test_contracting_path": ("Exercise 4, <code>contracting_path</code>", "0 of 3"),
        "test_receptive_fields": ("Exercise 5, <code>receptive_fields</code>", "0 of 2"),
    }
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", report)
    by_cell = {test.split(" ")[0]: (exercise, points, why) for exercise, test, points, why in rows}
    for cell, (exercise, points) in expected.items():
        assert by_cell[cell][:2] == (exercise, points), by_cell[cell]
    lost = [
        r
        for r in _csv(demo_course / "cell_report.csv")
        if r["student_id"] == partial and r["kind"] == "lost"
        and r["assignment"] in ("01_masks", "02_encoder")
    ]
    assert len(lost) == 8
    for r in lost:
        assert by_cell[r["cell"]][2] == html.escape(r["reason"]), r
        assert "not answered" in r["reason"]
    # the cells with full points are listed too, without a reason
    assert by_cell["test_encoder_block_odd"] == (
        "Exercise 2, <code>encoder_block</code>",
        "2 of 2",
        "",
    )
    assert "test_encoder_block_odd (hidden tests)" in report


@slow
def test_the_report_page_states_the_total(demo_course):
    grades = _csv(demo_course / "grades.csv")
    for prefix in ("reference", "untouched", "partial"):
        student = who(demo_course, prefix)
        mine = [g for g in grades if g["student_id"] == student]
        score = sum(float(g["score"]) for g in mine)
        top = sum(float(g["max_score"]) for g in mine)
        assert top == 115, "the seven notebooks' points"
        text = page_text(demo_course / "feedback" / student / "report.html")
        assert f"Total over all assignments: {score:g} of {top:g} points" in text, prefix


@slow
def test_student_code_visible_tests_and_the_report_stay_on_the_pages(demo_course):
    partial = who(demo_course, "partial")
    text = page_text(demo_course / "feedback" / partial / "01_masks" / "01_masks.html")
    assert "return tf.cast((trimap == 1) | (trimap == 3), tf.uint8)" in text  # their answer
    assert '_fg = foreground_mask(np.array([[1, 2, 3], [2, 2, 1]], dtype=np.uint8))' in text
    assert feedback.PLACEHOLDER in text
    assert "Grading report for" in text and "Exercise 4, class_balance" in text
    assert "Total over all assignments" not in text  # the page is about one assignment
    assert "NotImplementedError" in text  # the error of a hidden test: its name only


@slow
def test_feedback_holds_the_graders_pages_only(demo_course):
    files = sorted(
        str(p.relative_to(demo_course / "feedback"))
        for p in (demo_course / "feedback").rglob("*")
        if p.is_file()
    )
    expected = sorted(
        f"{who(demo_course, s)}/{page}"
        for s in ("partial", "reference", "untouched")
        for page in ["report.html"] + [f"{a}/{a}.html" for a in ASSIGNMENTS]
    )
    assert files == expected


# --------------------------------------------- a submission that writes into its folder

WRITES = """
import pathlib as _pathlib
_mark = "EVIL" + "-MARKER"  # the marker itself appears only in what the kernel writes
_evil = f"<html><body><script>alert('{_mark}')</script>10/10 {_mark}</body></html>"
for _name in ("evil.html", "report.html", "notes.txt", "01_masks.html"):
    _pathlib.Path(_name).write_text(_evil)
_pathlib.Path("sub").mkdir(exist_ok=True)
_pathlib.Path("sub", "evil.html").write_text(_evil)
"""
QUOTES_CALLER = """
    import inspect as _inspect
    print("CALLER:", "".join(_inspect.stack()[1].code_context or []))
"""
RAISES_WITH_CALLER = """
    import inspect as _inspect
    if len(tf.convert_to_tensor(mask).shape) == 4:
        raise ValueError("".join(_inspect.stack()[1].code_context or []))
"""
PRINTS_HISTORY = """
print("HISTORY-START", "\\n".join(get_ipython().user_ns.get("In", [])))
"""


def _insert_after_docstring(source: str, code: str) -> str:
    """``code`` (indented for a function body) placed right after the docstring."""
    end = source.index('"""', source.index('"""') + 3) + 3
    return source[:end] + "\n" + code.strip("\n") + "\n" + source[end:]


def hostile_submission() -> nbformat.NotebookNode:
    nb = submissions.make_submission(
        "reference",
        course.SOLUTIONS / "01_masks" / "01_masks.ipynb",
        course.NOTEBOOKS / "01_masks" / "01_masks.ipynb",
    )
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    cells["to_class_ids"].source += "\n" + WRITES
    cells["class_balance"].source = _insert_after_docstring(
        cells["class_balance"].source, QUOTES_CALLER
    )
    cells["resize_mask"].source = _insert_after_docstring(
        cells["resize_mask"].source, RAISES_WITH_CALLER
    )
    cells["sample_weights"].source += "\n" + PRINTS_HISTORY
    return nb


@pytest.fixture(scope="module")
def hostile_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("feedback_hostile")
    target = root / "submitted" / "mallory" / "01_masks" / "01_masks.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(hostile_submission(), target)
    grade.grade(root, assignment_ids=["01_masks"])
    feedback.feedback(root, ["01_masks"])
    return root


@slow
def test_the_kernel_did_write_into_its_folder(hostile_course):
    graded = hostile_course / "autograded" / "mallory" / "01_masks"
    assert (graded / "evil.html").is_file() and (graded / "sub" / "evil.html").is_file()
    rows = _csv(hostile_course / "grades.csv")
    assert [float(r["score"]) for r in rows] == [8.0]  # the two cells that test batches fail


@slow
def test_no_file_a_kernel_wrote_reaches_the_feedback(hostile_course):
    folder = hostile_course / "feedback" / "mallory"
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())
    assert files == ["01_masks/01_masks.html", "report.html"]
    for path in folder.rglob("*.html"):
        assert "EVIL-MARKER" not in path.read_text(), path


@slow
def test_output_and_errors_that_quote_hidden_tests_are_masked(hostile_course):
    folder = hostile_course / "feedback" / "mallory"
    assert leaks(folder) == []
    page = page_text(folder / "01_masks" / "01_masks.html")
    history = page[page.index("HISTORY-START") :]  # every cell run before, hidden ones too
    assert "### BEGIN HIDDEN TESTS" in history and feedback.MASK in history
    # a visible caller (a cell of the lesson) is shown as it is; every test cell runs hidden
    # checks too, so what a test cell printed is left out (only its error's name and message)
    assert "CALLER: frequencies, weights = class_balance(" in page
    assert "CALLER: _f, _w = class_balance(" not in page
    report = page_text(folder / "report.html")
    row = re.search(r"test_resize_mask_labels \(hidden tests\)\s*0 of 1\s*(.*)", report)
    assert row and row.group(1).startswith("ValueError") and feedback.MASK in row.group(1)


@slow
def test_an_old_feedback_folder_loses_what_a_kernel_wrote(hostile_course):
    # a feedback folder made before (nbgrader copied the graded folder's files into it)
    folder = hostile_course / "feedback" / "mallory" / "01_masks"
    shutil.copy(hostile_course / "autograded" / "mallory" / "01_masks" / "evil.html", folder)
    note = "<html><body>kept: not from the graded folder</body></html>"
    (folder / "instructor_note.html").write_text(note)
    feedback.feedback(hostile_course, ["02_encoder"])  # another assignment: 01 is not remade
    assert not (folder / "evil.html").exists()
    assert (folder / "instructor_note.html").read_text() == note  # kept, and no report in it
    (folder / "instructor_note.html").unlink()
    assert "autograder report" in (folder / "01_masks.html").read_text()


# ------------------------------------------------------------------------------ fast tests


def _release(assignment: str):
    return nbformat.read(course.NOTEBOOKS / assignment / f"{assignment}.ipynb", as_version=4)


def test_every_test_cell_is_labelled_with_its_exercise_and_function():
    for assignment in course.assignments():
        nb = _release(assignment)
        labels = feedback.exercise_labels(nb)
        tests = [
            c.metadata["nbgrader"]["grade_id"]
            for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")
        ]
        assert tests and sorted(labels) == sorted(tests), assignment
        for gid, label in labels.items():
            assert re.fullmatch(r"Exercise \d+, `\w+`", label), (assignment, gid, label)
    labels = feedback.exercise_labels(_release("02_encoder"))
    assert labels["test_encoder_block_odd"] == "Exercise 2, `encoder_block`"
    assert labels["test_contracting_path_edges"] == "Exercise 4, `contracting_path`"
    assert feedback.exercise_labels(_release("04_unet"))["test_build_unet_errors"] == (
        "Exercise 4, `build_unet`"
    )


def test_strip_hidden_keeps_visible_lines_and_fails_closed():
    source = "visible()\n    ### BEGIN HIDDEN TESTS\n    secret()\n    ### END HIDDEN TESTS\nend()"
    assert feedback.strip_hidden(source) == (
        f"visible()\n    {feedback.PLACEHOLDER}\nend()",
        True,
    )
    assert feedback.strip_hidden("a()\n### BEGIN HIDDEN TESTS\nsecret()") == (
        f"a()\n{feedback.PLACEHOLDER}",
        True,
    )
    assert feedback.strip_hidden("a()") == ("a()", False)


def test_for_students_masks_source_tracebacks_and_outputs():
    source = nbformat.read(course.SOLUTIONS / "01_masks" / "01_masks.ipynb", as_version=4)
    secrets = feedback.secret_lines(source, _release("01_masks"))
    graded = nbformat.read(course.SOLUTIONS / "01_masks" / "01_masks.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
    line = "_ids = to_class_ids(tf.constant(_t))"
    assert line in secrets
    trace = [f"\x1b[32m----> 5\x1b[39m {line}", "\x1b[31mValueError\x1b[39m: boom"]
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=trace)
    cells["test_to_class_ids"].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="printed while hidden tests ran"),
        error,
    ]
    cells["test_to_class_ids"].source = "# the copy says: nothing hidden here"
    cells["foreground_mask"].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"history:\n{line}\nmine\n"),
        nbformat.v4.new_output(
            "error", ename="KeyError", evalue=f"'{line}'", traceback=[f"\x1b[0m    {line}"]
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/html": f"<pre>{html.escape(line)}</pre>", "image/png": ""}
        ),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>fine</b>"}),
    ]
    clean = feedback.for_students(graded, source, secrets)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in clean.cells}
    hidden = cells["test_to_class_ids"]
    assert feedback.PLACEHOLDER in hidden.source and "_rng" not in hidden.source
    assert hidden.source.startswith("# Visible tests")  # the instructor's source
    assert [o.output_type for o in hidden.outputs] == ["error"]
    assert hidden.outputs[0].traceback == ["ValueError: boom"]
    stream, err, rich, fine = cells["foreground_mask"].outputs
    assert stream.text == f"history:\n{feedback.MASK}\nmine\n"
    assert line not in err.evalue and line not in "".join(err.traceback)
    assert set(rich.data) == {"image/png"}
    assert fine.data == {"text/html": "<b>fine</b>"}
    shown = []
    for cell in clean.cells:
        if not cell.metadata.get("nbgrader", {}).get("solution"):  # the reference answers
            shown.append(cell.source)
        for o in cell.get("outputs", []):
            shown += [o.get("text", ""), o.get("evalue", ""), *o.get("traceback", [])]
            shown += [str(v) for v in o.get("data", {}).values()]
    assert not [s for s in secrets if s in "\n".join(shown)]
