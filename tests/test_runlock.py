"""The course lock and the run record, without grading (fast); ``test_runs.py`` grades."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from autograder import course, runlock

HOLD = """
import sys, time
from autograder import runlock
with runlock.CourseLock(sys.argv[1], ["s1"], ["01_masks"]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_run_refuses_or_waits(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "3"],
        cwd=course.REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(runlock.CourseBusy) as busy:
            runlock.CourseLock(tmp_path, ["s2"], ["01_masks"], wait=False).acquire()
        assert f"pid {holder.pid}" in str(busy.value) and "s1" in str(busy.value)
        assert "Nothing was changed" in str(busy.value)
        said = []
        started = time.monotonic()
        with runlock.CourseLock(tmp_path, ["s2"], ["01_masks"], say=said.append) as run:
            assert time.monotonic() - started > 1  # it waited for the holder
            assert run.unfinished == ""  # the holder finished
        assert said[0].startswith("Waiting for the grading run started") and "s1" in said[0]
    finally:
        holder.kill()
        holder.wait()
    assert runlock.read_state(tmp_path)["students"] == ["s2"]


def test_what_an_unfinished_run_left_is_said_until_it_is_graded(tmp_path):
    runlock.write_json(
        tmp_path / runlock.STATE_NAME,
        {
            "state": "running",  # its process is gone: we get the lock
            "pid": 4242,
            "students": ["a", "b"],
            "assignments": ["x", "y"],
            "recorded": ["a"],
            "stale": [["c", "x"]],
        },
    )
    with runlock.CourseLock(tmp_path, ["b"], ["x"]) as run:
        assert "did not finish" in run.unfinished and "pid 4242" in run.unfinished
        assert "b (x, y); c (x)" in run.unfinished
        run.recorded("b")
    assert runlock.read_state(tmp_path)["stale"] == [["b", "y"], ["c", "x"]]
    with runlock.CourseLock(tmp_path, ["z"], ["x"]) as run:
        assert run.unfinished.startswith("Still not graded") and "b (y); c (x)" in run.unfinished
    with pytest.raises(KeyboardInterrupt):
        with runlock.CourseLock(tmp_path, ["b", "c"], ["x", "y"]):
            raise KeyboardInterrupt
    state = runlock.read_state(tmp_path)
    assert state["state"] == "failed" and state["error"] == "interrupted"
    with runlock.CourseLock(tmp_path, ["b", "c"], ["x", "y"]) as run:
        assert "it failed: interrupted" in run.unfinished
        run.recorded("b")
        run.recorded("c")
    assert runlock.read_state(tmp_path)["stale"] == []
    with runlock.CourseLock(tmp_path, ["z"], ["x"]) as run:
        assert run.unfinished == ""
