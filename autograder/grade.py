"""``grade``: autograde every collected submission and export ``grades.csv``.

Each student is graded in a worker process of its own with a gradebook of its own
(``gradebooks/<student>.db``, copied from one made by generate_assignment), so a
submission that crashes nbgrader costs only that student, and students can be graded
in parallel (``jobs``) without two writers on one SQLite file. The per-student
gradebooks are merged into ``grades.csv`` in nbgrader's export format, sorted, so the
file does not depend on the number of workers.

What a worker writes is its student's alone: ``staged/<student>/`` (the submissions as
nbgrader grades them, see :mod:`autograder.repair`; ``submitted/`` is never changed),
``autograded/<student>/``, ``gradebooks/<student>.db``, ``gradebooks/<student>.json``
(what happened, for the report) and ``gradebooks/<student>.log``. Everything shared
(the release, the template gradebook, the stand-in data, ``grades.csv`` and the
reports) is written by the parent process, before the workers start or after they
have all finished.

Student code runs in kernels started by :mod:`autograder.executor` with the limits and
the sandbox of :mod:`autograder.sandbox`.
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from autograder import course, release, report, sandbox

EXPORT_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]


def _paths(course_root: pathlib.Path) -> dict[str, pathlib.Path]:
    return {
        "root": course_root,
        "release": course_root / "release",
        "submitted": course_root / "submitted",
        "staged": course_root / "staged",
        "autograded": course_root / "autograded",
        "feedback": course_root / "feedback",
        "gradebooks": course_root / "gradebooks",
        "template": course_root / "gradebooks" / "_template.db",
    }


def student_config(course_root: pathlib.Path, student: str, limits: sandbox.Limits | None = None):
    """nbgrader configuration for grading one student inside ``course_root``."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from autograder.executor import GradingExecute, StderrAsText

    p = _paths(course_root)
    config = course.load_config(
        root=p["root"],
        source_directory=course.SOLUTIONS,
        release_directory=p["release"],
        submitted_directory=p["staged"],
        autograded_directory=p["autograded"],
        feedback_directory=p["feedback"],
        source_with_tests_directory=p["gradebooks"] / "source_with_tests",
        db_url=f"sqlite:///{p['gradebooks'] / (student + '.db')}",
    )
    if limits is not None:
        # nbgrader's Execute forces its kernel manager class: ours replaces it in the list
        config.Autograde.autograde_preprocessors = [
            GradingExecute,
            IgnorePattern,
            ClearMetadataPreprocessor,
            LimitOutput,
            StderrAsText,  # (stderr in a test cell is text, not a failure)
            SaveAutoGrades,
            AssignLatePenalties,
            CheckCellMetadata,
        ]
        config.GradingExecute.timeout = limits.cell_timeout
        config.GradingExecute.notebook_timeout = limits.notebook_timeout
        config.GradingExecute.output_per_cell = limits.output_per_cell
        config.GradingExecute.output_per_notebook = limits.output_per_notebook
        config.GradingExecute.max_restarts = limits.max_restarts
        config.GradingKernelManager.sandbox = limits.sandbox
        config.GradingKernelManager.memory_limit = limits.memory
        config.GradingKernelManager.file_size_limit = limits.file_size
        config.GradingKernelManager.runtime_base = limits.runtime
        config.GradingKernelManager.hidden_paths = [
            str(course_root),
            str(course.REPO),
            str(course.SOLUTIONS),
        ]
    return config


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


def prepare(course_root: pathlib.Path, assignment_ids: list[str]) -> None:
    """Generate the assignments once into a template gradebook that every student copies."""
    p = _paths(course_root)
    p["gradebooks"].mkdir(parents=True, exist_ok=True)
    p["template"].unlink(missing_ok=True)
    release.generate(
        p["release"], assignment_ids, work_dir=course_root, db_url=f"sqlite:///{p['template']}"
    )


def students(course_root: pathlib.Path) -> list[str]:
    submitted = _paths(course_root)["submitted"]
    return sorted(d.name for d in submitted.iterdir() if d.is_dir()) if submitted.is_dir() else []


def stage(course_root: pathlib.Path, student: str, assignment: str) -> dict:
    """Read and repair one student's notebooks of ``assignment`` into ``staged/`` (see repair)."""
    import nbformat

    from autograder import repair

    p = _paths(course_root)
    folder = p["submitted"] / student / assignment
    target = p["staged"] / student / assignment
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    names = sorted(q.stem for q in (p["release"] / assignment).glob("*.ipynb"))
    notebooks, used = {}, set()
    for name in names:
        release_nb = nbformat.read(p["release"] / assignment / f"{name}.ipynb", as_version=4)
        result = repair.intake(folder, name, names, release_nb)
        if result.nb is not None:
            nbformat.write(result.nb, target / f"{name}.ipynb")
        used.add(result.file)
        notebooks[name] = result.summary()
    extra = sorted(q.name for q in folder.glob("*.ipynb") if q.name not in used)
    if extra and names:
        notebooks[names[0]]["notes"].append(
            repair.note(
                "ignored", f"not graded (not a notebook of {assignment}): " + ", ".join(extra)
            )
        )
    if (folder / "timestamp.txt").is_file():
        shutil.copyfile(folder / "timestamp.txt", target / "timestamp.txt")
    return notebooks


def grade_student(
    course_root: pathlib.Path,
    student: str,
    assignment_ids: list[str],
    limits: sandbox.Limits | None = None,
) -> dict:
    """Autograde one student's submissions (runs inside a worker process)."""
    from autograder import executor

    limits = limits or sandbox.Limits(sandbox=False)
    p = _paths(course_root)
    db = p["gradebooks"] / f"{student}.db"
    shutil.copyfile(p["template"], db)
    api = course.api(student_config(course_root, student, limits))
    outcome = {"student": student, "sandbox": limits.sandbox, "assignments": {}}
    for assignment in assignment_ids:
        if not (p["submitted"] / student / assignment).is_dir():
            outcome["assignments"][assignment] = {"submitted": False}
            continue
        started = time.perf_counter()
        notebooks = stage(course_root, student, assignment)
        executor.EVENTS.clear()
        if any(nb["status"] == "ok" for nb in notebooks.values()):
            result = api.autograde(assignment, student, force=True, create=True)
            success, error = bool(result["success"]), result.get("error") or ""
        else:
            shutil.rmtree(p["autograded"] / student / assignment, ignore_errors=True)
            success, error = True, ""
        for (a, name), events in executor.EVENTS.items():
            if a == assignment and name in notebooks:
                notebooks[name]["events"] = events
        outcome["assignments"][assignment] = {
            "submitted": True,
            "success": success,
            "error": error,
            "seconds": round(time.perf_counter() - started, 2),
            "notebooks": notebooks,
        }
    (p["gradebooks"] / f"{student}.json").write_text(json.dumps(outcome, indent=1))
    return outcome


def worker_timeout(course_root: pathlib.Path, assignment_ids: list[str], limits) -> float:
    """Seconds a worker may take before it is stopped: each notebook's limit, with margin."""
    release_dir = _paths(course_root)["release"]
    notebooks = sum(len(list((release_dir / a).glob("*.ipynb"))) for a in assignment_ids)
    return 120 + max(1, notebooks) * (limits.notebook_timeout + 120)


def _run_worker(
    course_root: pathlib.Path, student: str, assignment_ids: list[str], limits: sandbox.Limits
) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade-student",
        "--course",
        str(course_root),
        "--student",
        student,
        *limits.as_args(),
        "--assignments",
        *assignment_ids,
    ]
    result_file = _paths(course_root)["gradebooks"] / f"{student}.json"
    result_file.unlink(missing_ok=True)
    log = _paths(course_root)["gradebooks"] / f"{student}.log"
    timeout = worker_timeout(course_root, assignment_ids, limits)
    # the worker's output goes to a file: a kernel flooding its stderr cannot fill our memory
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=course.REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {
                "student": student,
                "crashed": True,
                "assignments": {},
                "error": f"the grading worker was stopped after {timeout:.0f} s",
            }
    if proc.returncode != 0 or not result_file.exists():
        with open(log, "rb") as fh:
            fh.seek(max(0, log.stat().st_size - 4000))
            tail = fh.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        return {"student": student, "crashed": True, "error": "\n".join(tail), "assignments": {}}
    return json.loads(result_file.read_text())


def export_rows(course_root: pathlib.Path, student: str) -> list[dict]:
    """nbgrader's CSV export rows of one student's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    db = _paths(course_root)["gradebooks"] / f"{student}.db"
    with Gradebook(f"sqlite:///{db}") as gb:
        for assignment in gb.assignments:
            row = dict.fromkeys(EXPORT_COLUMNS, "")
            row.update(
                assignment=assignment.name, student_id=student, max_score=assignment.max_score
            )
            try:
                sub = gb.find_submission(assignment.name, student)
            except MissingEntry:
                row.update(raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                penalty = sub.late_submission_penalty or 0.0
                row.update(
                    timestamp=sub.timestamp or "",
                    raw_score=sub.score,
                    late_submission_penalty=penalty,
                    score=max(0.0, sub.score - penalty),
                )
            rows.append({k: ("" if v is None else str(v)) for k, v in row.items()})
    return rows


def write_grades(path: pathlib.Path, rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: (r["assignment"], r["student_id"]))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def grade(
    course_root: pathlib.Path,
    jobs: int = 1,
    assignment_ids: list[str] | None = None,
    only: list[str] | None = None,
    sandbox_mode: str = "auto",
    limits: sandbox.Limits | None = None,
) -> dict:
    """Grade every student under ``course_root/submitted``; write grades.csv and the reports.

    ``sandbox_mode``: ``auto`` (bubblewrap when it works here, else a loud warning),
    ``on`` (fail without it) or ``off``. ``limits``: time, memory and output limits
    (default: :class:`autograder.sandbox.Limits`, the production settings).
    """
    course_root = pathlib.Path(course_root).resolve()
    assignment_ids = assignment_ids or course.assignments()
    use = sandbox.resolve(sandbox_mode)
    ensure_data()
    prepare(course_root, assignment_ids)
    who = [s for s in students(course_root) if not only or s in only]
    started = time.perf_counter()
    env_jobs = max(1, jobs)
    # the kernels' private folders (homes, IPC sockets): short paths, removed at the end
    runtime = tempfile.mkdtemp(prefix="agk-", dir="/tmp" if os.path.isdir("/tmp") else None)
    limits = dataclasses.replace(limits or sandbox.Limits(), sandbox=use, runtime=runtime)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=env_jobs) as pool:
            outcomes = list(
                pool.map(lambda s: _run_worker(course_root, s, assignment_ids, limits), who)
            )
        leftovers = sorted(p.name for p in pathlib.Path(runtime).iterdir())
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    for s in who:  # a worker that died before its gradebook existed: the student still counts
        db = _paths(course_root)["gradebooks"] / f"{s}.db"
        if not db.exists():
            shutil.copyfile(_paths(course_root)["template"], db)
    rows = [row for s in who for row in export_rows(course_root, s)]
    write_grades(course_root / "grades.csv", rows)
    cells = report.write_reports(course_root, who, assignment_ids, outcomes, limits)
    return {
        "students": who,
        "outcomes": outcomes,
        "rows": rows,
        "cells": cells,
        "seconds": round(time.perf_counter() - started, 2),
        "jobs": env_jobs,
        "sandbox": limits.sandbox,
        "leftover_kernel_folders": leftovers,
        "pid": os.getpid(),
    }
