"""``grade``: autograde every collected submission and export ``grades.csv``.

Each student is graded in a worker process of its own with a gradebook of its
own (``gradebooks/<student>.db``, copied from one made by generate_assignment),
so a submission that crashes nbgrader costs only that student, and students can
be graded in parallel (``jobs``) without two writers on one SQLite file. The
per-student gradebooks are merged into ``grades.csv`` in nbgrader's export
format, sorted, so the file does not depend on the number of workers.
"""

from __future__ import annotations

import concurrent.futures
import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from autograder import course, release, report

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
        "autograded": course_root / "autograded",
        "feedback": course_root / "feedback",
        "gradebooks": course_root / "gradebooks",
        "template": course_root / "gradebooks" / "_template.db",
    }


def student_config(course_root: pathlib.Path, student: str):
    """nbgrader configuration for grading one student inside ``course_root``."""
    p = _paths(course_root)
    return course.load_config(
        root=p["root"],
        source_directory=course.SOLUTIONS,
        release_directory=p["release"],
        submitted_directory=p["submitted"],
        autograded_directory=p["autograded"],
        feedback_directory=p["feedback"],
        source_with_tests_directory=p["gradebooks"] / "source_with_tests",
        db_url=f"sqlite:///{p['gradebooks'] / (student + '.db')}",
    )


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


def grade_student(course_root: pathlib.Path, student: str, assignment_ids: list[str]) -> dict:
    """Autograde one student's submissions (runs inside a worker process)."""
    p = _paths(course_root)
    db = p["gradebooks"] / f"{student}.db"
    shutil.copyfile(p["template"], db)
    api = course.api(student_config(course_root, student))
    outcome = {"student": student, "assignments": {}}
    for assignment in assignment_ids:
        if not (p["submitted"] / student / assignment).is_dir():
            outcome["assignments"][assignment] = {"submitted": False}
            continue
        started = time.perf_counter()
        result = api.autograde(assignment, student, force=True, create=True)
        outcome["assignments"][assignment] = {
            "submitted": True,
            "success": bool(result["success"]),
            "error": result.get("error") or "",
            "seconds": round(time.perf_counter() - started, 2),
        }
    (p["gradebooks"] / f"{student}.json").write_text(json.dumps(outcome, indent=1))
    return outcome


def _run_worker(course_root: pathlib.Path, student: str, assignment_ids: list[str]) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade-student",
        "--course",
        str(course_root),
        "--student",
        student,
        "--assignments",
        *assignment_ids,
    ]
    done = subprocess.run(cmd, cwd=course.REPO, capture_output=True, text=True)
    result_file = _paths(course_root)["gradebooks"] / f"{student}.json"
    if done.returncode != 0 or not result_file.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
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
) -> dict:
    """Grade every student under ``course_root/submitted``; write grades.csv and the reports."""
    course_root = pathlib.Path(course_root).resolve()
    assignment_ids = assignment_ids or course.assignments()
    prepare(course_root, assignment_ids)
    who = [s for s in students(course_root) if not only or s in only]
    started = time.perf_counter()
    env_jobs = max(1, jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=env_jobs) as pool:
        outcomes = list(pool.map(lambda s: _run_worker(course_root, s, assignment_ids), who))
    rows = [
        row
        for s in who
        for row in export_rows(course_root, s)
        if (_paths(course_root)["gradebooks"] / f"{s}.db").exists()
    ]
    write_grades(course_root / "grades.csv", rows)
    cells = report.write_reports(course_root, who, assignment_ids, outcomes)
    return {
        "students": who,
        "outcomes": outcomes,
        "rows": rows,
        "cells": cells,
        "seconds": round(time.perf_counter() - started, 2),
        "jobs": env_jobs,
        "pid": os.getpid(),
    }
