"""Every solution notebook runs top to bottom on the stand-in data, with the grading budget."""

import shutil

import pytest

from autograder import course, execute

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", sorted(course.SOLUTIONS.glob("*/*.ipynb")),
                         ids=lambda p: p.parent.name)
def test_solution_runs_top_to_bottom(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    nb = execute.run(copy, grading="validate", timeout=600)
    assert execute.errors(nb) == []
    printed = "".join(
        out.get("text", "") for c in nb.cells for out in c.get("outputs", [])
        if out.get("output_type") == "stream"
    )
    if "load_pets" in path.read_text():
        assert "stand-in" in printed.lower(), "graded runs must say they use the stand-in data"
