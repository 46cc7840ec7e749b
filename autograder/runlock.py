"""One grading run at a time per course, and a record of runs that did not finish.

``grade`` holds an exclusive lock on ``<course>/.grading.lock`` (``fcntl.flock``) for its
whole run: a second ``grade`` on the same course waits for it (saying for whom) or, with
``--no-wait``, refuses with :class:`CourseBusy`. The operating system drops the lock
when its holder dies, however it dies (SIGKILL too), so a lock is never left behind.

``<course>/grading_run.json`` says what the current or last run is doing: who started it,
which students and assignments it grades, which students it has recorded so far, and
``state`` (``running``, ``finished`` or ``failed``). A run that finds ``running`` (or
``failed``) there although it got the lock knows that the previous run did not finish:
its students that were not recorded keep the grades they had before it. Those
(student, assignment) pairs stay listed as ``stale`` in the record, run after run, until
a run grades them again.
"""

from __future__ import annotations

import datetime
import fcntl
import getpass
import json
import os
import pathlib
import socket
import sys
import time

LOCK_NAME = ".grading.lock"
STATE_NAME = "grading_run.json"


class CourseBusy(RuntimeError):
    """Another grading run holds the course (raised with ``wait=False``)."""


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def write_json(path: pathlib.Path, data) -> None:
    """Write ``data`` as JSON so that a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_state(course_root: pathlib.Path) -> dict:
    path = pathlib.Path(course_root) / STATE_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def describe(state: dict) -> str:
    """Who runs (or ran) ``state``'s grading, for a person."""
    if not state:
        return "another grading run (no record of it yet)"
    students = state.get("students") or []
    who = ", ".join(students[:5]) + (f" and {len(students) - 5} more" if len(students) > 5 else "")
    return (
        f"the grading run started {state.get('started', '?')} by {state.get('user', '?')}"
        f"@{state.get('host', '?')} (pid {state.get('pid', '?')}) for {len(students)} "
        f"student(s) ({who}), "
        f"assignments {', '.join(state.get('assignments') or []) or '?'}"
    )


def unfinished_message(previous: dict, stale: list[list[str]]) -> str:
    """What to tell the instructor about a previous run that did not finish."""
    how = (
        f"it failed: {previous['error']}"
        if previous.get("state") == "failed" and previous.get("error")
        else "it was stopped or killed before it ended"
    )
    lines = [
        f"The previous grading run on this course did not finish ({how}): {describe(previous)}."
    ]
    recorded = previous.get("recorded") or []
    lines.append(
        f"It recorded {len(recorded)} of {len(previous.get('students') or [])} student(s)."
    )
    if stale:
        lines.append(
            "Not graded by it (grades, reports and feedback from before that run, or none): "
            + _pairs(stale)
        )
    return "\n".join(lines)


def _pairs(pairs) -> str:
    by_student: dict[str, list[str]] = {}
    for student, assignment in pairs:
        by_student.setdefault(student, []).append(assignment)
    return "; ".join(f"{s} ({', '.join(a)})" for s, a in sorted(by_student.items()))


class CourseLock:
    """The course's grading lock and run record; use as ``with CourseLock(...) as run:``.

    ``record=False``: only the lock (for commands that change the course without grading).
    """

    def __init__(
        self,
        course_root: pathlib.Path,
        students: list[str],
        assignments: list[str],
        wait: bool = True,
        say=None,
        record: bool = True,
    ):
        self.root = pathlib.Path(course_root)
        self.students, self.assignments = list(students), list(assignments)
        self.wait, self.record = wait, record
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.previous: dict = {}
        self.unfinished: str = ""  # the message about the previous run, if it did not finish
        self.state: dict = {}
        self._fh = None

    # ------------------------------------------------------------------ the lock

    def acquire(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.root / LOCK_NAME, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe(read_state(self.root))
            if not self.wait:
                self._fh.close()
                raise CourseBusy(
                    f"{self.root} is being graded by {holder}. Nothing was changed. "
                    "Run grade again when it has finished, or without --no-wait to wait for it."
                ) from None
            self.say(f"Waiting for {holder} to finish on {self.root} (Ctrl-C to give up) ...")
            started = time.monotonic()
            fcntl.flock(self._fh, fcntl.LOCK_EX)
            self.say(f"... it finished after {time.monotonic() - started:.0f} s; grading now.")
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"{os.getpid()}\n")
        self._fh.flush()
        if self.record:
            self._start()

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> CourseLock:
        self.acquire()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self.record:
                pass
            elif exc_type is None:
                self.finish()
            else:
                error = "interrupted" if exc_type is KeyboardInterrupt else f"{exc_type.__name__}"
                if exc is not None and str(exc):
                    error += f": {str(exc).splitlines()[0][:300]}"
                self.fail(error)
        finally:
            self.release()

    # ------------------------------------------------------------------ the record

    def _start(self) -> None:
        self.previous = read_state(self.root)
        stale = [list(p) for p in self.previous.get("stale", [])]
        if self.previous.get("state") in ("running", "failed"):
            done = set(self.previous.get("recorded") or [])
            stale += [
                [s, a]
                for s in self.previous.get("students") or []
                if s not in done
                for a in self.previous.get("assignments") or []
            ]
            stale = sorted({tuple(p) for p in stale})
            self.unfinished = unfinished_message(self.previous, [list(p) for p in stale])
        elif stale:
            self.unfinished = "Still not graded since an earlier grading run did not finish: " + (
                _pairs(stale)
            )
        mine = {(s, a) for s in self.students for a in self.assignments}
        self.state = {
            "state": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": getpass.getuser(),
            "started": _now(),
            "students": self.students,
            "assignments": self.assignments,
            "recorded": [],
            # pairs that an earlier unfinished run left ungraded and this run does not grade
            "stale": [list(p) for p in sorted({tuple(p) for p in stale} - mine)],
        }
        write_json(self.root / STATE_NAME, self.state)

    def recorded(self, student: str) -> None:
        """``student``'s results are in the class gradebook and the reports."""
        self.state["recorded"].append(student)
        write_json(self.root / STATE_NAME, self.state)

    def finish(self) -> None:
        self.state.update(state="finished", finished=_now())
        write_json(self.root / STATE_NAME, self.state)

    def fail(self, error: str) -> None:
        self.state.update(state="failed", finished=_now(), error=error)
        write_json(self.root / STATE_NAME, self.state)
