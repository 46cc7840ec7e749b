"""Every notebook on a Colab-like runtime: only Colab's packages, the helper installed by the
setup cell's own install line from the published repository, each notebook alone.

Solutions run top to bottom; student versions run up to their first exercise. The
environment (build/colab/, several minutes to create) is reused while its requirements do
not change; autograder/colablike.py says what it is. build/colab/timings.json keeps the
seconds of the last runs.
"""

import json
import shutil

import pytest
from conftest import STUDENT_URL

from autograder import colablike, course

pytestmark = pytest.mark.slow

ASSIGNMENTS = course.assignments()
SETUP_ADDS = {"unet-course", "importlib-resources"}  # all the setup cell may install
TIMINGS = colablike.ROOT / "timings.json"


def _normal(name):
    return name.lower().replace("_", "-")


@pytest.fixture(scope="module")
def image():
    if shutil.which("git") is None:
        pytest.skip("git is not installed: pip cannot install the helper from a git URL")
    try:
        env = colablike.ensure_environment()
    except colablike.ColabLikeError as exc:
        if "No matching distribution" in str(exc) or "Could not find a version" in str(exc):
            pytest.skip(f"pip cannot get Colab's packages here (no index or cache): {exc}")
        raise
    colablike.ensure_pets_download(env)
    TIMINGS.write_text("{}")
    _record("environment created in", env.created_in)
    return env


def _record(key, seconds):
    found = json.loads(TIMINGS.read_text()) if TIMINGS.is_file() else {}
    found[key] = None if seconds is None else round(seconds, 1)
    TIMINGS.write_text(json.dumps(found, indent=1, sort_keys=True))


def _run(image, published, notebook, assignment, kind):
    done = colablike.run(image, notebook, published.out, STUDENT_URL)
    _record(f"{assignment} {kind}", done.seconds)
    _record(f"{assignment} {kind}, setup cell", done.cell_seconds("setup"))
    return done


def _checked(done):
    assert done.stderr("setup") == "", "the setup cell printed on stderr (red on Colab)"
    assert done.helper_from == STUDENT_URL, "the setup cell's own install line installs it"
    added = {_normal(n) for n in done.installed}
    assert "unet-course" in added and added <= SETUP_ADDS, f"the setup cell installed {added}"
    assert done.changed == [], f"the setup cell changed Colab's own packages {done.changed}"
    return done


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_runs_top_to_bottom_on_colab(image, published, assignment, tmp_path):
    notebook = colablike.solution_copy(assignment, STUDENT_URL, tmp_path)
    done = _checked(_run(image, published, notebook, assignment, "solution"))
    assert done.error is None, f"stopped at {done.error}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_version_runs_up_to_its_first_exercise_on_colab(image, published, assignment):
    notebook = published.out / "notebooks" / assignment / f"{assignment}.ipynb"
    done = _checked(_run(image, published, notebook, assignment, "student"))
    cells = done.notebook.cells
    first = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution"))
    assert done.error is not None, "a student version with no answer ran to the end"
    assert done.error["ename"] == "NotImplementedError", f"stopped at {done.error}"
    assert "is not answered yet" in done.error["evalue"]
    assert done.error["cell"] >= first, "it stopped before the first exercise"
