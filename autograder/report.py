"""Why points were lost: one row per graded cell that did not get full marks."""

from __future__ import annotations

import csv
import json
import pathlib
import re

COLUMNS = ["student_id", "assignment", "notebook", "cell", "points", "max_points", "reason"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RESTORED = "was missing from the submission"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(ANSI.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell_reason(cell) -> str:
    """A person-readable reason why a graded code cell lost its points."""
    restored = RESTORED in cell.get("source", "")
    reason = ""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name, value = output.get("ename", "Error"), output.get("evalue", "")
            if name == "CellTimeoutError":
                reason = "timed out: the cell ran longer than the per-cell limit"
            elif name == "DeadKernelError":
                reason = "the kernel died while running this cell (crash or out of memory)"
            elif name == "NotImplementedError" and not value:
                reason = "not answered: an exercise this test uses still raises NotImplementedError"
            else:
                reason = _short(f"{name}: {value}")
            break
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            reason = _short("wrote to stderr: " + "".join(output.get("text", "")))
    if not reason:
        reason = "no error recorded (partial credit printed by the cell)"
    if restored:
        reason = "test cell had been deleted and was restored; " + reason
    return reason


def notebook_rows(
    gb, student: str, assignment: str, notebook: str, autograded: pathlib.Path
) -> list[dict]:
    """Rows for one graded notebook."""
    import nbformat

    rows = []
    sub_nb = gb.find_submission_notebook(notebook, assignment, student)
    path = autograded / student / assignment / f"{notebook}.ipynb"
    cells = {}
    if path.exists():
        nb = nbformat.read(path, as_version=4)
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for grade in sorted(sub_nb.grades, key=lambda g: g.name):
        score = grade.score or 0.0
        if score >= grade.max_score:
            continue
        cell = cells.get(grade.name)
        reason = cell_reason(cell) if cell is not None else "cell not found in the graded notebook"
        rows.append(
            dict(
                student_id=student,
                assignment=assignment,
                notebook=notebook,
                cell=grade.name,
                points=score,
                max_points=grade.max_score,
                reason=reason,
            )
        )
    return rows


def student_rows(
    course_root: pathlib.Path, student: str, assignment_ids: list[str], outcome: dict
) -> list[dict]:
    from nbgrader.api import Gradebook, MissingEntry

    db = course_root / "gradebooks" / f"{student}.db"
    template = course_root / "gradebooks" / "_template.db"
    rows = []
    with Gradebook(f"sqlite:///{db if db.exists() else template}") as gb:
        for assignment in assignment_ids:
            info = outcome.get("assignments", {}).get(assignment, {})
            notebooks = sorted(nb.name for nb in gb.find_assignment(assignment).notebooks)
            for notebook in notebooks:
                max_points = gb.find_notebook(notebook, assignment).max_score
                whole = None
                if outcome.get("crashed"):
                    whole = "the grading worker crashed: " + _short(outcome.get("error", ""))
                elif not info.get("submitted"):
                    whole = f"not submitted: no {notebook}.ipynb was collected for {assignment}"
                elif not info.get("success"):
                    whole = "nbgrader could not grade it: " + _short(info.get("error", ""))
                if whole is None:
                    try:
                        rows += notebook_rows(
                            gb, student, assignment, notebook, course_root / "autograded"
                        )
                        continue
                    except MissingEntry:
                        whole = f"{notebook}.ipynb was not graded (missing from the submission)"
                rows.append(
                    dict(
                        student_id=student,
                        assignment=assignment,
                        notebook=notebook,
                        cell="(whole notebook)",
                        points=0.0,
                        max_points=max_points,
                        reason=whole,
                    )
                )
    return rows


def write_reports(
    course_root: pathlib.Path, students: list[str], assignment_ids: list[str], outcomes: list[dict]
) -> list[dict]:
    """Write ``reports/<student>.csv`` and ``cell_report.csv``; return all rows."""
    by_student = {o["student"]: o for o in outcomes}
    out = course_root / "reports"
    out.mkdir(parents=True, exist_ok=True)
    everything = []
    for student in students:
        rows = student_rows(course_root, student, assignment_ids, by_student.get(student, {}))
        _write(out / f"{student}.csv", rows)
        everything += rows
    _write(course_root / "cell_report.csv", everything)
    (course_root / "grading_outcomes.json").write_text(json.dumps(outcomes, indent=1))
    return everything


def _write(path: pathlib.Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
