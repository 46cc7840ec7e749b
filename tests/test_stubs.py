"""Every stub a student finds names its exercise, so an unanswered one says which it is."""

import re

import pytest

from autograder import course, nbcode, stubs

RELEASED = sorted(course.NOTEBOOKS.glob("*/*.ipynb"))
STUB = re.compile(r'raise NotImplementedError\((.*)\)')


@pytest.mark.parametrize("path", RELEASED, ids=lambda p: p.parent.name)
def test_every_stub_names_its_exercise_and_function(path):
    exercise = None
    for cell in nbcode.read(path).cells:
        found = stubs.HEADING.findall(cell.source) if cell.cell_type == "markdown" else []
        exercise = found[-1] if found else exercise
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        names = stubs.DEF.findall(cell.source)
        messages = STUB.findall(cell.source)
        assert messages, f"{path.name} {nbcode.grade_id(cell)}: no stub"
        for message in messages:
            assert message == f'"exercise {exercise} ({", ".join(names)}) is not answered yet"'


def test_labels():
    assert stubs.label("2", "def encoder_block(x):\n    pass") == "exercise 2 (encoder_block)"
    assert stubs.label(None, "def f(x):\n    pass") == "the exercise (f)"
    assert stubs.label(None, "x = 1") == "this exercise"
