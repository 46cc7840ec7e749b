"""Grading runs on one course: one at a time, a killed run leaves nothing running, and the next
run says what the killed one did not finish.

Each test starts real ``python -m autograder grade`` processes on a small course (students
who hand in the untouched 01_masks, or one whose first cell sleeps for ten minutes, and one
with an empty folder). Every
process a grader starts carries a marker in its environment (kernels keep ``UNET_COURSE_*``
variables), so the test finds the workers and kernels in ``/proc`` even after their parent
is gone, and stops whatever it started.

Slow: each test grades a notebook or two.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import uuid

import nbformat
import pytest

from autograder import course, release, runlock, submissions

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not pathlib.Path("/proc/self/environ").exists(), reason="needs /proc"),
]
ASSIGNMENT = "01_masks"
RESET_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'autograder', *sys.argv[1:]])"
)


@pytest.fixture(scope="module")
def untouched(tmp_path_factory) -> pathlib.Path:
    """The untouched 01_masks notebook, as a student hands it in."""
    root = tmp_path_factory.mktemp("made")
    release.generate(root / "release", [ASSIGNMENT])
    submissions.write_submissions(root / "release", root / "made", [ASSIGNMENT])
    return root / "made" / "untouched" / ASSIGNMENT


@pytest.fixture(scope="module")
def sleeper(untouched, tmp_path_factory) -> pathlib.Path:
    """The untouched notebook with a first code cell that sleeps for ten minutes: its
    grading cannot end by itself while a test waits for the grader to stop."""
    folder = tmp_path_factory.mktemp("sleeper") / ASSIGNMENT
    folder.mkdir()
    for path in untouched.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first, nbformat.v4.new_code_cell("import time\ntime.sleep(600)"))
        nbformat.write(nb, folder / path.name)
    return folder


def _course(tmp_path, untouched, students=("u1", "u2")) -> pathlib.Path:
    root = tmp_path / "course"
    for student in students:
        shutil.copytree(untouched, root / "submitted" / student / ASSIGNMENT)
    (root / "submitted" / "empty" / ASSIGNMENT).mkdir(parents=True)  # nothing handed in
    return root


class Grader:
    """A ``grade`` process whose descendants can be found by a marker in their environment."""

    def __init__(self, root: pathlib.Path, *args: str):
        run = uuid.uuid4().hex
        self.marker = f"UNET_COURSE_TEST_RUN={run}".encode()
        env = dict(os.environ, UNET_COURSE_TEST_RUN=run)
        # a shell that starts this test in the background makes its children ignore SIGINT,
        # and Python keeps an ignored SIGINT ignored: give the grader the default back
        cmd = [sys.executable, "-c", RESET_SIGINT, "grade", "--course", str(root), *args]
        self.log = root.parent / f"grade-{run}.err"
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                cmd,
                cwd=course.REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )

    def err(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> dict[int, str]:
        """pid -> command line of every live process started by this grader (itself too)."""
        found = {}
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if self.marker in (entry / "environ").read_bytes().split(b"\0"):
                    status = (entry / "status").read_text()
                    if "\nState:\tZ" not in status:  # zombies are gone, only not yet reaped
                        found[int(entry.name)] = (
                            (entry / "cmdline").read_bytes().decode("utf-8", "replace")
                        )
            except OSError:
                continue
        return found

    def kernels(self) -> list[int]:
        """The kernels themselves (not bubblewrap or the launcher that starts them)."""
        return [
            pid
            for pid, cmd in self.processes().items()
            if "ipykernel" in cmd and "bwrap" not in cmd and "_launch.py" not in cmd
        ]

    def wait_for(self, condition, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if self.proc.poll() is not None:
                pytest.fail(
                    f"grade ended (exit {self.proc.returncode}) before {what}:\n{self.err()}"
                )
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}")

    def stop(self) -> None:
        """Kill what is left of this grader (the test's own clean-up)."""
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _run(root: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "autograder", "grade", "--course", str(root), *args]
    return subprocess.run(cmd, cwd=course.REPO, capture_output=True, text=True, timeout=1800)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killing_the_grader_leaves_no_worker_or_kernel(tmp_path, sleeper, sig):
    root = _course(tmp_path, sleeper)
    grader = Grader(root, ASSIGNMENT, "--jobs", "2", "--student", "u1", "--student", "u2")
    try:
        grader.wait_for(lambda: len(grader.kernels()) == 2, 600, "both workers to run a kernel")
        started = grader.processes()
        assert len(started) >= 5, started  # the grader, its two workers, their kernels
        os.kill(grader.proc.pid, sig)
        rc = grader.proc.wait(timeout=60)  # the kernels sleep for 600 s: only stopping them ends it
        err = grader.err()
        deadline = time.monotonic() + 30
        while grader.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert grader.processes() == {}, f"still running after the grader died: {started}"
        if sig != signal.SIGKILL:  # a clean message, not a traceback
            assert rc == (130 if sig == signal.SIGINT else 143), err
            assert "Traceback" not in err and "workers were stopped" in err, err
        assert runlock.read_state(root)["state"] in ("running", "failed")
    finally:
        grader.stop()
    if sig != signal.SIGKILL:
        return
    # the next run says that this one did not finish, and what it left ungraded
    nxt = _run(root, ASSIGNMENT, "--student", "empty", "--no-wait")
    assert nxt.returncode == 0, nxt.stderr
    assert "did not finish" in nxt.stderr and "killed" in nxt.stderr, nxt.stderr
    assert "u1 (01_masks)" in nxt.stderr and "u2 (01_masks)" in nxt.stderr, nxt.stderr
    state = runlock.read_state(root)
    assert state["state"] == "finished"
    assert state["stale"] == [["u1", ASSIGNMENT], ["u2", ASSIGNMENT]]


def test_a_second_grade_refuses_or_waits_cleanly(tmp_path, untouched):
    root = _course(tmp_path, untouched, students=("u1",))
    first = Grader(root, ASSIGNMENT, "--student", "u1")
    try:
        first.wait_for(first.kernels, 600, "the first run to grade")
        refused = _run(root, ASSIGNMENT, "--student", "empty", "--no-wait")
        assert refused.returncode == 3, refused.stderr
        assert "is being graded by" in refused.stderr
        assert f"pid {first.proc.pid}" in refused.stderr and "u1" in refused.stderr
        assert "Traceback" not in refused.stderr and "Nothing was changed" in refused.stderr
        assert runlock.read_state(root)["pid"] == first.proc.pid

        second = Grader(root, ASSIGNMENT, "--student", "empty")
        try:
            second.wait_for(lambda: "Waiting for" in second.err(), 300, "the second to wait")
            assert first.proc.poll() is None  # it waits while the first one grades
            first.proc.wait(timeout=900)
            second.proc.wait(timeout=900)
            err = second.err()
        finally:
            second.stop()
        assert second.proc.returncode == 0, err
        assert "Waiting for the grading run started" in err and f"pid {first.proc.pid}" in err
        assert "Traceback" not in err
    finally:
        first.stop()
    assert first.proc.returncode == 0
    assert "did not finish" not in err  # the first run finished before the second began
    grades = (root / "grades.csv").read_text()
    assert ",u1," in grades and ",empty," in grades  # both runs are in the class gradebook
