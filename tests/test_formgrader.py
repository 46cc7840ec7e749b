"""nbgrader's formgrader on the graded class, and JupyterLab for students, in a real browser.

Debian's chromium driven by Playwright (never ``playwright install``). The servers are the
commands ``make formgrader`` and ``make lab`` run (:mod:`autograder.jupyter`), started on
127.0.0.1 with a free port and a token, with a ``PATH`` that lacks the environment's
``bin/`` (as when the environment is not activated): they must put it there themselves.
Each test stops every process it starts.

Slow: it uses the graded demo course (``graded_demo``) and grades one notebook again.
"""

from __future__ import annotations

import contextlib
import csv
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import DEMO_ASSIGNMENTS, copy_course, demo_students

from autograder import classbook, course, jupyter

pytestmark = pytest.mark.slow
CHROMIUM = pathlib.Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = course.BUILD / "formgrader-students.png"
SYSTEM_PATH = "/usr/bin:/bin"


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (make browser-tools, or apt-get install chromium)"
        if os.environ.get("AUTOGRADER_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(command, log: pathlib.Path, port: int, token: str):
    """Run a Jupyter server command until the ``with`` ends; yield its base URL."""
    cmd, cwd, env = command
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _grades(root):
    with open(root / "grades.csv") as fh:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}


def _totals(root):
    totals = {}
    for (student, _), row in _grades(root).items():
        got, top = totals.get(student, (0.0, 0.0))
        totals[student] = (got + float(row["score"]), top + float(row["max_score"]))
    return totals


def _lost_cell(root, student, assignment):
    """A test cell the student lost points on, and an answer cell of the same notebook."""
    with open(root / "reports" / f"{student}.csv") as fh:
        lost = [
            r for r in csv.DictReader(fh) if r["kind"] == "lost" and r["assignment"] == assignment
        ]
    cell = next(r for r in lost if float(r["points"]) == 0 and float(r["max_points"]) >= 1)
    with classbook.gradebook(classbook.path(root)) as gb:
        answer = sorted(
            c.name for c in gb.find_notebook(cell["notebook"], assignment).solution_cells
        )
    return cell, answer[0]


def test_formgrader_shows_the_class_and_a_manual_grade_reaches_grades_csv(
    graded_demo, tmp_path, chromium, monkeypatch
):
    root = copy_course(graded_demo, tmp_path / "course")
    ids = demo_students(root)
    totals = _totals(root)
    partial = ids["partial"]
    cell, answer = _lost_cell(root, partial, "01_masks")
    before = float(_grades(root)[partial, "01_masks"]["score"])
    monkeypatch.setenv("PATH", SYSTEM_PATH)  # the environment's bin/ is not on PATH
    port, token = _free_port(), secrets.token_hex(16)
    command = jupyter.formgrader_command(
        root, port=port, ip="127.0.0.1", token=token, browser=False
    )
    page = chromium.new_page(viewport={"width": 1200, "height": 560})
    errors = []
    page.on("response", lambda r: r.status >= 500 and errors.append(f"{r.status} {r.url}"))
    try:
        with _server(command, tmp_path / "formgrader.log", port, token) as base:
            # the student list: the three demo students with their totals
            page.goto(f"{base}/formgrader/manage_students?token={token}")
            page.wait_for_selector("#main-table td.id")
            shown = {
                row.locator("td.id").inner_text(): row.locator("td.score").inner_text()
                for row in page.locator("#main-table tr").all()
            }
            assert set(shown) == set(ids.values()), shown
            for student, (got, top) in totals.items():
                assert shown[student] == f"{got:g} / {top:g}", (student, shown)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))

            # every assignment is there, and every submission opens
            page.goto(f"{base}/formgrader/manage_assignments")
            page.wait_for_selector("#main-table td.name")
            listed = {
                row.locator("td.name").inner_text(): row.locator("td.num-submissions").inner_text()
                for row in page.locator("#main-table tr").all()
            }
            for assignment in {a for _, a in _grades(root)}:  # (the others: drafts in solutions/)
                assert listed.get(assignment) == "3", listed
            with classbook.gradebook(classbook.path(root)) as gb:
                submitted = [
                    nb.id for s in gb.students for sub in s.submissions for nb in sub.notebooks
                ]
            assert len(submitted) == 3 * len(DEMO_ASSIGNMENTS)
            for submission in submitted:
                answer_page = page.goto(f"{base}/formgrader/submissions/{submission}/")
                assert answer_page.status == 200
                page.wait_for_selector(".nbgrader_cell")

            # an instructor gives points by hand: student -> assignment -> notebook -> cell
            page.goto(f"{base}/formgrader/manage_students")
            page.click(f"a[href$='/formgrader/manage_students/{partial}']")
            page.click(f"a[href$='/formgrader/manage_students/{partial}/01_masks']")
            page.click("a[href*='/formgrader/submissions/']")
            page.wait_for_url("**/formgrader/submissions/**")
            score = page.locator(f"input.score[id='{cell['cell']}']")
            # the page has loaded the scores (the autograder's shows as the placeholder);
            # formgrade.js makes its collections only on the window's load event
            page.wait_for_function(
                "typeof formgrader !== 'undefined'"
                " && formgrader.grades !== undefined && formgrader.grades.loaded"
                " && formgrader.comments !== undefined && formgrader.comments.loaded"
            )
            assert score.get_attribute("placeholder") == "0"
            with page.expect_response(lambda r: "/api/grade/" in r.url and r.ok):
                score.fill(str(float(cell["max_points"])))
                score.press("Tab")
            comment = page.locator(f"textarea[id='{answer}-comment']")
            with page.expect_response(lambda r: "/api/comment/" in r.url and r.ok):
                comment.fill("Good idea, see the hint in the exercise text.")
                comment.press("Tab")
    finally:
        page.close()
    assert not errors, errors

    # the next export has the change; the report says where it came from
    monkeypatch.undo()
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "grades", "--course", str(root)],
        cwd=course.REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    after = _grades(root)
    assert float(after[partial, "01_masks"]["score"]) == before + float(cell["max_points"])
    untouched = {k: v for k, v in after.items() if k != (partial, "01_masks")}
    assert untouched == {k: v for k, v in _grades(graded_demo).items() if k in untouched}
    report = (root / "reports" / f"{partial}.csv").read_text()
    assert "given in formgrader" in report and "Good idea, see the hint" in report
    assert "given in formgrader" in (root / "cell_report.csv").read_text()

    # grading the student again keeps the manual score (and says so)
    regraded = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "--course", str(root), "01_masks"]
        + ["--student", partial],
        cwd=course.REPO,
        capture_output=True,
        text=True,
    )
    assert regraded.returncode == 0, regraded.stderr
    assert _grades(root)[partial, "01_masks"] == after[partial, "01_masks"]
    assert "kept when regraded" in (root / "reports" / f"{partial}.csv").read_text()


def test_jupyter_finds_the_environments_commands(monkeypatch, tmp_path):
    """nbgrader runs ``alembic`` to make a gradebook: found without an activated environment."""
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    (tmp_path / classbook.CLASS_DB).touch()
    for _, _, env in (
        jupyter.lab_command(),
        jupyter.formgrader_command(tmp_path, browser=False),
    ):
        found = shutil.which("alembic", path=env["PATH"])
        assert found and pathlib.Path(found).parent == pathlib.Path(sys.executable).parent


def _repository_files() -> set[str]:
    """Untracked and ignored files of the repository, but the environment, build/ and data."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=course.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    skip = (".venv/", "build/", "data/standin/", ".pytest_cache/", ".ruff_cache/")
    return {
        line[3:]
        for line in out.splitlines()
        if line[:2] in ("??", "!!")
        and not line[3:].startswith(skip)
        and "__pycache__" not in line
        and ".egg-info" not in line
    }


def test_lab_for_students_opens_the_notebooks_and_leaves_nothing_behind(
    tmp_path, chromium, monkeypatch
):
    before = _repository_files()
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    port, token = _free_port(), secrets.token_hex(16)
    command = jupyter.lab_command(port=port, ip="127.0.0.1", token=token, browser=False)
    page = chromium.new_page(viewport={"width": 1200, "height": 700})
    try:
        with _server(command, tmp_path / "lab.log", port, token) as base:
            page.goto(f"{base}/lab/tree/01_masks/01_masks.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.get_by_text("Validate", exact=True).first.wait_for()  # nbgrader's student part
            menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
            assert "File" in menus and "Nbgrader" not in menus, menus
            # nbgrader's instructor parts are off: nothing opens a gradebook here
            assert page.goto(f"{base}/formgrader/api/students").status == 404
            page.goto(f"{base}/lab/tree/02_encoder/02_encoder.ipynb")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    finally:
        page.close()
    assert _repository_files() == before
