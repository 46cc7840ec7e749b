"""The notebooks keep the course's conventions; notebooks/ is exactly what nbgrader generates."""

import ast
import json
import re

import nbformat
import pytest

from autograder import course, release

SOLUTIONS = sorted(course.SOLUTIONS.glob("*/*.ipynb"))
RELEASED = sorted(course.NOTEBOOKS.glob("*/*.ipynb"))
HIDDEN = "### BEGIN HIDDEN TESTS"


def _nb(path):
    return nbformat.read(path, as_version=4)


def _grade_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _python(source: str) -> ast.Module:
    # IPython magics (%pip) are not Python; blank them out before parsing
    return ast.parse(re.sub(r"(?m)^(\s*)[%!].*$", r"\1pass", source))


def test_every_assignment_is_released():
    assert [p.parent.name for p in RELEASED] == [p.parent.name for p in SOLUTIONS]


def test_notebooks_are_exactly_what_nbgrader_generates():
    problems = release.stale()
    assert not problems, "run `make release`:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", RELEASED, ids=lambda p: p.parent.name)
def test_student_notebooks_carry_no_outputs_or_answers(path):
    text = path.read_text()
    for marker in ("### BEGIN SOLUTION", HIDDEN):
        assert marker not in text, f"{path.name} contains {marker!r}"
    for cell in _nb(path).cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_solutions_follow_the_course_conventions(path):
    nb = _nb(path)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "colab.research.google.com" in nb.cells[0].source, "title cell needs the Colab button"
    assert "setup" in ids, "a locked setup cell (grade_id 'setup') is required"
    assert "## Recap" in "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # every exercise is followed, before the next one, by graded tests whose first cell has
    # visible checks; points are only given where hidden checks run too, so hard-coding
    # the visible tests' inputs cannot pay (the mutation suite measures it)
    groups, current = [], None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            current = {"id": meta["grade_id"], "tests": []}
            groups.append(current)
        elif meta.get("grade") and current is not None:
            current["tests"].append(cell)
    assert groups, "no exercises"
    for g in groups:
        assert g["tests"], f"exercise {g['id']} has no graded test cell after it"
        visible = g["tests"][0].source.split(HIDDEN)[0]
        assert "checks." in visible, (
            f"exercise {g['id']}: its first test cell needs visible checks before the hidden ones"
        )
        for cell in g["tests"]:
            meta = cell.metadata["nbgrader"]
            if meta.get("points", 0) > 0:
                assert HIDDEN in cell.source, (
                    f"{meta['grade_id']}: a graded cell with points must run hidden checks too"
                )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_test_cells_fail_loudly_and_never_print_a_score(path):
    for cell in _grade_cells(_nb(path)):
        gid = cell.metadata["nbgrader"]["grade_id"]
        tree = _python(cell.source)
        bare = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and n.msg is None]
        assert not bare, f"{gid}: bare assert without a message on lines {bare}"
        if tree.body:
            last = tree.body[-1]
            shows_value = isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call)
            assert not shows_value, f"{gid}: ends with an expression nbgrader would read as a score"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_solutions_are_executed_reference_runs(path):
    nb = _nb(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    unexecuted = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not unexecuted, f"run `make solutions`: code cells {unexecuted} were not executed"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"the reference run has errors: {[e['ename'] for e in errors]}"
    setup = next(c for c in code if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    printed = json.dumps(setup.outputs)
    assert "tensorflow" in printed and "device" in printed, "the run must record where it ran"
    if "load_pets" in path.read_text():
        shown = json.dumps([c.outputs for c in code]).lower()
        assert "stand-in" in shown or "oxford-iiit pet" in shown, (
            "the reference run must say which data it ran on (the stand-in or the real pets)"
        )
