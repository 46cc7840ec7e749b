"""``grade``: autograde collected submissions and merge the results into the course.

A run grades some students (default: every one under ``submitted/``; ``--student``) on
some assignments (default: all) and **merges** the results: those students' rows of those
assignments are replaced, everything else is kept. What the course folder holds after it:

* ``gradebook.db``, the class gradebook (:mod:`autograder.classbook`): every assignment,
  every student, every autograded score, and what an instructor graded by hand in
  formgrader (kept when regraded); ``nbgrader_config.py`` for formgrader (``make formgrader``);
* ``grades.csv``, exported from the class gradebook in nbgrader's CSV format, sorted, so
  it does not depend on ``--jobs``; ``python -m autograder grades`` exports it again after
  manual grading;
* per student: ``staged/<student>/`` (the submissions as nbgrader grades them, see
  :mod:`autograder.repair`; ``submitted/`` is never changed), ``autograded/<student>/``,
  ``reports/<student>.csv`` (every graded assignment), ``gradebooks/<student>.json`` (what
  happened, merged per assignment) and, from the last run that graded the student,
  ``gradebooks/<student>.db`` (the worker's own gradebook) and ``gradebooks/<student>.log``;
* ``cell_report.csv`` and ``grading_outcomes.json``: the reports and outcomes of the class.

One student's grading is a task (:mod:`autograder.task`) that carries its inputs and
returns its results; ``--jobs N`` runs N such tasks at once, each in a worker process of
its own that dies with the grader, so a crash costs one student; ``--cluster`` sends them
to a Dask cluster instead (:mod:`autograder.cluster`). The parent records each
result as it comes in (the course is never half-written for a student) and writes the
class-wide files at the end. One run at a time per course (:mod:`autograder.runlock`);
a run that did not finish is reported by the next one.

Student code runs in kernels started by :mod:`autograder.executor` with the limits and
the sandbox of :mod:`autograder.sandbox`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from autograder import classbook, course, release, report, runlock, sandbox, task
from autograder.task import stage  # noqa: F401  (grade.stage: staging one student's notebooks)

EXPORT_COLUMNS = classbook.EXPORT_COLUMNS


class GradeError(RuntimeError):
    """Grading cannot start as asked (the message says what to do); nothing was changed."""


def student_config(course_root: pathlib.Path, student: str | None = None):
    """nbgrader configuration of the graded course (the class gradebook), e.g. for feedback."""
    return classbook.config(course_root)


def ensure_data() -> None:
    """Generate the stand-in data (and matplotlib's font cache) before any kernel needs them.

    Kernels may not be able to write there (the sandbox makes everything but their own
    folder read-only) and must not race each other to generate it.
    """
    from unet_course import standin

    raw = standin.ensure_oxford_standin()
    standin.ensure_carla_standin()
    marker = (raw / standin.MARKER_NAME).read_text(encoding="utf-8")
    stamps = (standin.standin_root() / "tfds").glob(f"*/*/{standin.MARKER_NAME}")
    if not any(p.read_text(encoding="utf-8") == marker for p in stamps):
        code = "from unet_course import pets; pets.prepare_standin_tfds()"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run(
            [sys.executable, "-c", code], check=True, cwd=course.REPO, env=env, capture_output=True
        )
    import matplotlib.font_manager  # noqa: F401  (builds the font cache once)


def template_path(course_root: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(course_root) / "gradebooks" / "_template.db"


def _source_digest(assignment: str) -> str:
    """What generating ``assignment`` depends on: its source files, nbgrader and the tool
    (the configuration and the preprocessors it names live in ``autograder/``)."""
    import nbgrader

    digest = hashlib.sha256(f"nbgrader {nbgrader.__version__}\n".encode())
    for path in sorted(course.CONFIG_FILE.parent.glob("*.py")):
        digest.update(path.read_bytes())
    folder = course.SOLUTIONS / assignment
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"\n{path.relative_to(folder).as_posix()}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare(course_root: pathlib.Path, assignment_ids: list[str]) -> None:
    """Generate this run's assignments into the release and the template gradebook.

    The template holds only the assignments' cells and points (what every task grades
    against), never a student; the class gradebook and the other assignments' release are
    not touched. An assignment whose sources (and the configuration) did not change since
    it was generated here is not generated again (``gradebooks/_template.json``).
    """
    root = pathlib.Path(course_root)
    template = template_path(root)
    template.parent.mkdir(parents=True, exist_ok=True)
    stamps_file = template.with_suffix(".json")
    try:
        stamps = json.loads(stamps_file.read_text()) if template.exists() else {}
    except (OSError, ValueError):
        stamps = {}
    if not template.exists():
        stamps = {}
    digests = {a: _source_digest(a) for a in assignment_ids}
    todo = [
        a
        for a in assignment_ids
        if stamps.get(a) != digests[a] or not any((root / "release" / a).glob("*.ipynb"))
    ]
    for assignment in todo:
        stamps.pop(assignment, None)
    runlock.write_json(stamps_file, stamps)
    if todo:
        release.generate(root / "release", todo, work_dir=root, db_url=f"sqlite:///{template}")
    runlock.write_json(stamps_file, dict(stamps, **{a: digests[a] for a in todo}))


def students(course_root: pathlib.Path) -> list[str]:
    """The students with a folder under ``submitted/``."""
    submitted = pathlib.Path(course_root) / "submitted"
    return sorted(d.name for d in submitted.iterdir() if d.is_dir()) if submitted.is_dir() else []


def collected_assignments(course_root: pathlib.Path) -> list[str]:
    """The course's assignments that were collected (or graded before), in course order."""
    root = pathlib.Path(course_root)
    found = {d.name for d in (root / "submitted").glob("*/*") if d.is_dir()}
    if classbook.path(root).exists():
        with classbook.gradebook(classbook.path(root)) as gb:
            found |= {a.name for a in gb.assignments}
    return [a for a in course.assignments() if a in found]


# --------------------------------------------------------------------------- recording


def _outcome_path(course_root: pathlib.Path, student: str) -> pathlib.Path:
    return pathlib.Path(course_root) / "gradebooks" / f"{student}.json"


def stored_outcome(course_root: pathlib.Path, student: str) -> dict:
    """The student's outcome merged over every run that graded them."""
    try:
        stored = json.loads(_outcome_path(course_root, student).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    stored.setdefault("student", student)
    stored.setdefault("assignments", {})
    return stored


def _result_status(info: dict) -> str:
    if info.get("crashed"):
        return classbook.FAILED
    return classbook.GRADED if info.get("submitted") else classbook.ABSENT


def record(
    course_root: pathlib.Path,
    result: task.Result,
    assignment_ids: list[str],
    limits: sandbox.Limits | None = None,
    discard_manual: bool = False,
) -> dict:
    """Put one student's result into the course; return the student's merged outcome."""
    root = pathlib.Path(course_root)
    student = result.student
    books = root / "gradebooks"
    for assignment in assignment_ids:
        for kind in ("staged", "autograded"):
            shutil.rmtree(root / kind / student / assignment, ignore_errors=True)
    for name, data in result.files.items():
        kind, _, rest = task.safe_name(name).partition("/")
        if kind in ("staged", "autograded") and rest.split("/")[0] in assignment_ids:
            target = root / kind / student / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    db = books / f"{student}.db"
    if task.GRADEBOOK in result.files:
        db.write_bytes(result.files[task.GRADEBOOK])
    else:
        db.unlink(missing_ok=True)
    (books / f"{student}.log").write_bytes(result.files.get(task.LOG, b""))

    merged = stored_outcome(root, student)
    merged["sandbox"] = result.outcome.get("sandbox", False)
    for assignment in assignment_ids:
        merged["assignments"][assignment] = result.outcome.get("assignments", {}).get(
            assignment, {"submitted": False}
        )
    runlock.write_json(_outcome_path(root, student), merged)
    statuses = {a: _result_status(merged["assignments"][a]) for a in assignment_ids}
    classbook.merge(root, student, statuses, db if db.exists() else None, discard_manual)
    report.write_student_report(root, student, merged, limits)
    return merged


def write_class_files(course_root: pathlib.Path) -> list[dict]:
    """``grades.csv``, ``cell_report.csv``, ``grading_outcomes.json``, ``nbgrader_config.py``."""
    root = pathlib.Path(course_root)
    rows = classbook.write_grades(root)
    everyone = classbook.students(root)
    report.write_class_report(root, everyone)
    outcomes = [stored_outcome(root, s) for s in everyone]
    runlock.write_json(root / "grading_outcomes.json", outcomes)
    classbook.write_config(root)
    return rows


def export(course_root: pathlib.Path, wait: bool = True) -> list[dict]:
    """Export ``grades.csv`` and the reports again from the class gradebook (after manual
    grading in formgrader); grades nothing."""
    root = pathlib.Path(course_root).resolve()
    if not classbook.path(root).exists():
        raise GradeError(f"{root} has no class gradebook ({classbook.CLASS_DB}): grade it first")
    with runlock.CourseLock(root, [], [], wait=wait, record=False):
        with classbook.gradebook(classbook.path(root)) as gb:
            for student in classbook.students(root):
                report.write_student_report(root, student, stored_outcome(root, student), gb=gb)
        return write_class_files(root)


# --------------------------------------------------------------------------- the run


class Terminated(BaseException):
    """SIGTERM reached the grader: stop the workers and record the run as not finished."""


@contextlib.contextmanager
def _sigterm_stops():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _grade_all(course_root, who, assignment_ids, limits, jobs, run, discard_manual, runner):
    shared = task.shared_files(course_root, assignment_ids)

    def make_task(student: str) -> task.Task:
        return task.build(course_root, student, assignment_ids, limits, shared)

    outcomes = {}
    results = iter(runner(make_task, who, jobs))
    try:
        for result in results:
            outcomes[result.student] = dict(result.outcome)
            record(course_root, result, assignment_ids, limits, discard_manual)
            run.recorded(result.student)
    finally:
        if hasattr(results, "close"):
            results.close()  # stops the workers if we did not get to the end
    return [outcomes[s] for s in who]


def grade(
    course_root: pathlib.Path,
    jobs: int = 1,
    assignment_ids: list[str] | None = None,
    only: list[str] | None = None,
    sandbox_mode: str = "auto",
    limits: sandbox.Limits | None = None,
    wait: bool = True,
    discard_manual: bool = False,
    runner=None,
) -> dict:
    """Grade students of ``course_root/submitted`` and merge the results into the course.

    ``only``: these students (default: all); ``assignment_ids``: these assignments
    (default: those collected or graded before, see :func:`collected_assignments`).
    ``sandbox_mode``: ``auto`` (bubblewrap when it works here, else a loud warning), ``on``
    (fail without it) or ``off``. ``limits``: time, memory and output
    limits (default: :class:`autograder.sandbox.Limits`, the production settings).
    ``wait``: wait for another run on this course to finish (else :class:`runlock.CourseBusy`).
    ``discard_manual``: drop manual scores and comments of what is graded.
    ``runner``: how the tasks run (default :func:`autograder.task.run_local`, worker
    processes on this machine; see there for the signature; ``grade --cluster`` passes
    :class:`autograder.cluster.DaskRunner`, whose ``resolve_sandbox`` decides the sandbox
    from its workers instead of this machine).
    """
    course_root = pathlib.Path(course_root).resolve()
    known = course.assignments()
    assignment_ids = list(assignment_ids or collected_assignments(course_root) or known)
    unknown = [a for a in assignment_ids if a not in known]
    if unknown:
        raise GradeError(
            f"no such assignment: {', '.join(unknown)} (the assignments are {', '.join(known)})"
        )
    everyone = students(course_root)
    if not everyone:
        raise GradeError(
            f"nothing to grade: {course_root / 'submitted'} holds no student folder "
            "(collect the submissions first: python -m autograder collect DOWNLOAD.zip)"
        )
    missing = sorted(set(only or ()) - set(everyone))
    if missing:
        raise GradeError(
            f"no submissions of {', '.join(missing)} under {course_root / 'submitted'} "
            f"(collected: {', '.join(everyone[:20])}{' ...' if len(everyone) > 20 else ''})"
        )
    who = [s for s in everyone if not only or s in only]
    # a runner on other machines (autograder.cluster) says whether the sandbox works there
    use = getattr(runner, "resolve_sandbox", sandbox.resolve)(sandbox_mode)
    started = time.perf_counter()
    jobs = max(1, jobs)
    with _sigterm_stops(), runlock.CourseLock(course_root, who, assignment_ids, wait=wait) as run:
        if run.unfinished:
            print(run.unfinished, file=sys.stderr, flush=True)
        ensure_data()
        prepare(course_root, assignment_ids)
        classbook.sync_assignments(course_root, template_path(course_root), assignment_ids, who)
        # the kernels' private folders (homes, IPC sockets) and the tasks' scratch folders:
        # short paths, removed at the end
        runtime = tempfile.mkdtemp(prefix="agk-", dir="/tmp" if os.path.isdir("/tmp") else None)
        limits = dataclasses.replace(limits or sandbox.Limits(), sandbox=use, runtime=runtime)
        try:
            runner = runner or functools.partial(task.run_local, workdir=runtime)
            outcomes = _grade_all(
                course_root, who, assignment_ids, limits, jobs, run, discard_manual, runner
            )
            leftovers = sorted(
                p.name for p in pathlib.Path(runtime).iterdir() if not p.name.startswith("t-")
            )
        finally:
            shutil.rmtree(runtime, ignore_errors=True)
        rows = write_class_files(course_root)
    return {
        "students": who,
        "outcomes": outcomes,
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 2),
        "jobs": jobs,
        "sandbox": limits.sandbox,
        "leftover_kernel_folders": leftovers,
        "previous_run": run.unfinished,
        "pid": os.getpid(),
    }
