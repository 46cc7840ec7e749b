"""Why points were lost: one row per graded cell that did not get full marks, and the notes.

``reports/<student>.csv`` and ``cell_report.csv`` have one row per graded cell that lost
points (``kind`` = ``lost``: which cell, the points, why) and one row per note (``kind`` =
``note``: metadata repaired, a test cell that was edited or put back, a file graded under
another name, output cut, a kernel restarted, code to review ...; no points). A whole
notebook that could not be graded (not submitted, unreadable, the worker crashed) is one
``lost`` row for the cell ``(whole notebook)``.

The reasons are written for a person: the failed check's message, the error, a time-out
with its limit, a kernel death with its cause, a refusal by the sandbox, a test that
failed because the answer cell it uses failed (and why that one failed).
"""

from __future__ import annotations

import contextlib
import csv
import html
import pathlib
import re

COLUMNS = ["student_id", "assignment", "notebook", "cell", "points", "max_points", "reason", "kind"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RESTORED = "was missing from the submission"
NAME_ERROR = re.compile(r"name '(\w+)' is not defined")
DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.M)
NETWORK = re.compile(
    r"Network is unreachable|Temporary failure in name resolution|Name or service not known|"
    r"Connection refused|No address associated|Errno (101|111|-2|-3)\b|nodename nor servname",
    re.I,
)
GRADER_PATHS = re.compile(r"solutions|gradebook|submitted|autograded|\.git\b|\.\./\.\.")
SANDBOX_ERRORS = {
    "FileNotFoundError",
    "PermissionError",
    "OSError",
    "IsADirectoryError",
    "NotADirectoryError",
    "OperationalError",
    "DatabaseError",
}
NETWORK_ERRORS = {
    "ConnectionRefusedError",
    "ConnectionError",
    "URLError",
    "gaierror",
    "timeout",
    "TimeoutError",
    "OSError",
    "HTTPError",
    "ConnectTimeout",
    "ProtocolError",
}
OWN = {  # error names the grader gives cells (autograder.executor): the value says it all
    "CellTimeoutError",
    "KernelUnresponsive",
    "NotRun",
    "NotebookTimeLimit",
    "GradingTampered",
    "OutputTimeout",
    "CellAborted",
}
NOTE_KINDS = (
    "repaired",
    "renamed",
    "restored_cell",
    "edited",
    "points",
    "duplicate",
    "unknown_id",
    "missing_answer",
    "order",
    "foreign",
    "ignored",
    "normalised",
)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(ANSI.sub("", str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_reason(name: str, value: str, context: dict | None = None) -> str:
    """A person-readable reason for an error output ``name: value``."""
    context = context or {}
    value = value or ""
    if name in OWN:
        return _short(value) if value else "timed out: the cell ran longer than the per-cell limit"
    if name == "KernelDied":
        return _short(f"the kernel died while running this cell: {value}")
    if name == "DeadKernelError":
        return "the kernel died while running this cell (crash or out of memory)"
    if name == "NotImplementedError" and not value:
        return "not answered: an exercise this test uses still raises NotImplementedError"
    if name == "MemoryError":
        limit = context.get("memory")
        cap = f" (student code may use {limit / (1 << 30):g} GiB)" if limit else ""
        return _short(f"ran out of memory{cap}: MemoryError {value}".strip())
    if name == "NameError":
        match = NAME_ERROR.search(value)
        func = match.group(1) if match else None
        answers = context.get("answer_errors", {})
        if func in answers:
            gid, why = answers[func]
            return _short(
                f"NameError: name '{func}' is not defined, because the answer cell "
                f"{gid} failed: {why}",
                400,
            )
        if func in context.get("missing_answers", {}):
            return _short(
                f"NameError: name '{func}' is not defined: {context['missing_answers'][func]}", 400
            )
    if context.get("sandbox"):
        if name in NETWORK_ERRORS and NETWORK.search(value) or name == "gaierror":
            return _short(f"refused by the sandbox (student code has no network): {name}: {value}")
        if (
            name in SANDBOX_ERRORS
            and GRADER_PATHS.search(value)
            or (name in SANDBOX_ERRORS and "unable to open database" in value)
        ):
            return _short(
                f"refused by the sandbox (student code cannot see the grader's, the "
                f"solutions' or other students' files): {name}: {value}"
            )
    return _short(f"{name}: {value}")


def cell_reason(cell, context: dict | None = None) -> str:
    """A person-readable reason why a graded code cell lost its points."""
    context = context or {}
    restored = RESTORED in cell.get("source", "") or context.get("restored", False)
    reason = ""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    # the grader's own verdicts first (a tampering verdict, a time-out after an interrupt)
    errors.sort(key=lambda o: o.get("ename") not in OWN | {"KernelDied"})
    if errors:
        reason = error_reason(errors[0].get("ename", "Error"), errors[0].get("evalue", ""), context)
    else:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                reason = _short("wrote to stderr: " + "".join(output.get("text", "")))
                break
    if not reason:
        reason = "no error recorded (partial credit printed by the cell)"
    if restored:
        reason = "test cell had been deleted and was restored; " + reason
    return reason


def answer_errors(nb, context: dict) -> dict[str, tuple[str, str]]:
    """Function name -> (answer cell, why it failed) for answer cells that ended in an error."""
    found = {}
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            continue
        errors.sort(key=lambda o: o.get("ename") not in OWN | {"KernelDied"})
        why = error_reason(errors[0].get("ename", "Error"), errors[0].get("evalue", ""), context)
        gid = meta.get("grade_id") or f"cell {index}"
        names = set(DEF.findall(cell.source)) | set(
            DEF.findall(context.get("release_sources", {}).get(gid, ""))
        )
        for name in names:
            found[name] = (gid, why)
    return found


def notebook_rows(
    gb,
    student: str,
    assignment: str,
    notebook: str,
    autograded: pathlib.Path,
    context: dict | None = None,
) -> list[dict]:
    """Rows for one graded notebook."""
    import nbformat

    context = dict(context or {})
    rows = []
    sub_nb = gb.find_submission_notebook(notebook, assignment, student)
    path = autograded / student / assignment / f"{notebook}.ipynb"
    cells = {}
    if path.exists():
        nb = nbformat.read(path, as_version=4)
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
        context["answer_errors"] = answer_errors(nb, context)
    notes = []
    for grade in sorted(sub_nb.grades, key=lambda g: g.name):
        score = grade.score or 0.0
        manual = grade.manual_score is not None
        if manual:
            notes.append(_manual_note(student, assignment, notebook, grade))
        if score >= grade.max_score:
            continue
        cell = cells.get(grade.name)
        here = dict(context, restored=grade.name in context.get("restored_cells", ()))
        reason = (
            cell_reason(cell, here) if cell is not None else "cell not found in the graded notebook"
        )
        if manual:
            reason = f"manual score given in formgrader; the autograder's reason: {reason}"
        if grade.name in context.get("undone", {}):
            reason += (
                " (the submission had changed the test machinery before this test; the "
                f"grader undid it first: {context['undone'][grade.name]})"
            )
        rows.append(_row(student, assignment, notebook, grade.name, score, grade.max_score, reason))
    for comment in sorted(sub_nb.comments, key=lambda c: c.name):
        if comment.manual_comment:
            notes.append(
                _row(
                    student,
                    assignment,
                    notebook,
                    comment.name,
                    "",
                    "",
                    _short("comment in formgrader: " + comment.manual_comment, 500),
                    "note",
                )
            )
    return rows + notes


def _manual_note(student, assignment, notebook, grade) -> dict:
    auto = "no score" if grade.auto_score is None else f"{grade.auto_score:g}"
    return _row(
        student,
        assignment,
        notebook,
        grade.name,
        "",
        "",
        f"manual score {grade.manual_score:g} of {grade.max_score:g} given in formgrader, kept "
        f"when regraded (the autograder gives {auto}); clear it in formgrader to use the "
        "autograder's score",
        "note",
    )


def _row(student, assignment, notebook, cell, points, max_points, reason, kind="lost") -> dict:
    return dict(
        student_id=student,
        assignment=assignment,
        notebook=notebook,
        cell=cell,
        points=points,
        max_points=max_points,
        reason=reason,
        kind=kind,
    )


def _note_rows(student, assignment, notebook, info: dict) -> list[dict]:
    rows = []
    for item in info.get("notes", []) + info.get("events", []):
        rows.append(
            _row(
                student,
                assignment,
                notebook,
                item.get("cell") or "(notebook)",
                "",
                "",
                _short(item["text"], 500),
                "note",
            )
        )
    return rows


def _context(info: dict, outcome: dict, limits, release_nb) -> dict:
    notes = info.get("notes", [])
    missing = {}
    for item in notes:
        if item["kind"] == "missing_answer" and release_nb is not None:
            for cell in release_nb.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == item["cell"]:
                    for name in DEF.findall(cell.source):
                        missing[name] = (
                            f"the answer cell {item['cell']} was not found in the submission"
                        )
    sources = {}
    if release_nb is not None:
        sources = {
            c.metadata.get("nbgrader", {}).get("grade_id"): c.source
            for c in release_nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")
        }
    undone = {
        e["cell"]: _short(e["text"].split(": ", 1)[-1], 120)
        for e in info.get("events", [])
        if e["kind"] == "restored"
    }
    return {
        "undone": undone,
        "sandbox": info.get("sandbox", outcome.get("sandbox", False)),
        "memory": info.get("memory") or getattr(limits, "memory", None),
        "restored_cells": {i["cell"] for i in notes if i["kind"] == "restored_cell"},
        "missing_answers": missing,
        "release_sources": sources,
    }


def student_rows(
    course_root: pathlib.Path,
    student: str,
    assignment_ids: list[str],
    outcome: dict,
    limits=None,
    gb=None,
) -> list[dict]:
    """Rows of one student for ``assignment_ids``, from the class gradebook ``gb`` (or opened)."""
    import nbformat
    from nbgrader.api import MissingEntry

    from autograder import classbook

    rows = []
    with contextlib.ExitStack() as stack:
        if gb is None:
            gb = stack.enter_context(classbook.gradebook(classbook.path(course_root)))
        for assignment in assignment_ids:
            info = outcome.get("assignments", {}).get(assignment, {})
            try:
                notebooks = sorted(nb.name for nb in gb.find_assignment(assignment).notebooks)
            except MissingEntry:
                continue
            for notebook in notebooks:
                max_points = gb.find_notebook(notebook, assignment).max_score
                nb_info = info.get("notebooks", {}).get(notebook, {})
                release_path = course_root / "release" / assignment / f"{notebook}.ipynb"
                release_nb = (
                    nbformat.read(release_path, as_version=4) if release_path.exists() else None
                )
                whole = None
                if outcome.get("crashed") or info.get("crashed"):
                    error = info.get("error") or outcome.get("error", "")
                    whole = "the grading worker crashed: " + _short(error)
                elif not info.get("submitted"):
                    whole = f"not submitted: no {notebook}.ipynb was collected for {assignment}"
                elif nb_info.get("status") in ("missing", "unreadable"):
                    whole = nb_info.get("reason") or "not submitted"
                elif not info.get("success"):
                    whole = "nbgrader could not grade it: " + _short(info.get("error", ""))
                notes = _note_rows(student, assignment, notebook, nb_info)
                if whole is None:
                    try:
                        context = _context(
                            dict(nb_info, **_limits_of(info)), outcome, limits, release_nb
                        )
                        rows += notebook_rows(
                            gb, student, assignment, notebook, course_root / "autograded", context
                        )
                        rows += notes
                        continue
                    except MissingEntry:
                        whole = f"{notebook}.ipynb was not graded (missing from the submission)"
                rows.append(
                    _row(student, assignment, notebook, "(whole notebook)", 0.0, max_points, whole)
                )
                rows += notes
    return rows


def _limits_of(info: dict) -> dict:
    return {k: info[k] for k in ("sandbox", "memory") if k in info}


def write_student_report(
    course_root: pathlib.Path, student: str, outcome: dict, limits=None, gb=None
) -> list[dict]:
    """Write ``reports/<student>.csv``: every assignment in the student's (merged) outcome."""
    assignment_ids = sorted(outcome.get("assignments", {}))
    rows = student_rows(course_root, student, assignment_ids, outcome, limits, gb)
    out = course_root / "reports"
    out.mkdir(parents=True, exist_ok=True)
    _write(out / f"{student}.csv", rows)
    return rows


def write_class_report(course_root: pathlib.Path, students: list[str]) -> list[dict]:
    """``cell_report.csv``: the reports of ``students``, one after the other."""
    everything = []
    for student in sorted(students):
        path = course_root / "reports" / f"{student}.csv"
        if path.exists():
            everything += read_rows(path)
    _write(course_root / "cell_report.csv", everything)
    return everything


def _write(path: pathlib.Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def read_rows(path: pathlib.Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- feedback pages

STYLE = """<style>
.ag-report{font-family:system-ui,sans-serif;max-width:60em;margin:1em auto;padding:1em 1.5em;
border:1px solid #c8c8c8;border-radius:6px;background:#fafafa}
.ag-report table{border-collapse:collapse;width:100%;margin:.5em 0 1em}
.ag-report th,.ag-report td{border:1px solid #ddd;padding:.3em .5em;text-align:left;
vertical-align:top;font-size:.92em}
.ag-report th{background:#eee}.ag-report .ag-ok{color:#196c2e}.ag-report .ag-lost{color:#9b1c1c}
</style>"""


def report_html(student: str, rows: list[dict], grades: list[dict], assignment=None) -> str:
    """The "why points were lost" section (or page body) for one student."""
    e = html.escape
    parts = [f'<section class="ag-report"><h2>Grading report for {e(student)}</h2>']
    for g in sorted(grades, key=lambda r: r["assignment"]):
        if assignment is not None and g["assignment"] != assignment:
            continue
        mine = [r for r in rows if r["assignment"] == g["assignment"]]
        lost = [r for r in mine if r.get("kind", "lost") == "lost"]
        notes = [r for r in mine if r.get("kind") == "note"]
        score, top = float(g["score"]), float(g["max_score"])
        css = "ag-ok" if score >= top else "ag-lost"
        parts.append(
            f'<h3>{e(g["assignment"])}: <span class="{css}">{score:g} of {top:g} points</span></h3>'
        )
        if lost:
            parts.append("<table><tr><th>cell</th><th>points</th><th>why</th></tr>")
            for r in lost:
                got = f"{float(r['points'] or 0):g} of {float(r['max_points'] or 0):g}"
                parts.append(
                    f"<tr><td>{e(r['notebook'])}: {e(r['cell'])}</td><td>{got}</td>"
                    f"<td>{e(r['reason'])}</td></tr>"
                )
            parts.append("</table>")
        else:
            parts.append("<p>No points were lost.</p>")
        if notes:
            parts.append("<p>Notes from the grader:</p><ul>")
            parts += [f"<li>{e(r['cell'])}: {e(r['reason'])}</li>" for r in notes]
            parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def write_feedback_reports(course_root: pathlib.Path) -> list[pathlib.Path]:
    """``feedback/<student>/report.html`` per student, and the section in each feedback page."""
    rows = (
        read_rows(course_root / "cell_report.csv")
        if (course_root / "cell_report.csv").exists()
        else []
    )
    grades = read_rows(course_root / "grades.csv") if (course_root / "grades.csv").exists() else []
    written = []
    for student in sorted({g["student_id"] for g in grades}):
        mine = [r for r in rows if r["student_id"] == student]
        their = [g for g in grades if g["student_id"] == student]
        folder = course_root / "feedback" / student
        folder.mkdir(parents=True, exist_ok=True)
        page = folder / "report.html"
        page.write_text(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Grading report: '
            f"{html.escape(student)}</title>{STYLE}</head><body>\n"
            f"{report_html(student, mine, their)}\n</body></html>\n",
            encoding="utf-8",
        )
        written.append(page)
        for feedback_page in sorted(folder.glob("*/*.html")):
            _insert(feedback_page, report_html(student, mine, their, feedback_page.parent.name))
    return written


def _insert(page: pathlib.Path, section: str) -> None:
    text = page.read_text(encoding="utf-8")
    start, end = "<!-- autograder report -->", "<!-- /autograder report -->"
    if start in text:
        text = text[: text.index(start)] + text[text.index(end) + len(end) :]
    block = f"{start}\n{STYLE}\n{section}\n{end}"
    match = re.search(r"<body[^>]*>", text)
    text = text[: match.end()] + "\n" + block + text[match.end() :] if match else block + text
    page.write_text(text, encoding="utf-8")
