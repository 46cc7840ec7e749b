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
    if name == "SystemExit":
        return _short(
            f"sys.exit() was called (SystemExit: {value}): in a notebook it stops the cell "
            "with an error, and the rest of the cell does not run"
        )
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
.ag-report .ag-total{font-size:1.1em}
</style>"""
WHOLE = "(whole notebook)"


def _points(value) -> str:
    return f"{float(value or 0):g}"


def _label(text: str) -> str:
    """An exercise label as HTML: `name` becomes <code>name</code>, the rest is escaped."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _cell_rows(listed: list[dict], lost: list[dict]) -> list[tuple[str, str, str, str]]:
    """(exercise, test, points, why) for each graded cell of one notebook, then the rest."""
    e = html.escape
    by_cell = {r["cell"]: r for r in lost}
    out = []
    for c in listed:
        row = by_cell.pop(c["cell"], None)
        reason = row["reason"] if row else ""
        if float(c["points"]) >= float(c["max_points"]):
            reason = ""
        elif not reason:
            reason = "graded by the instructor" if c.get("manual") else "no reason was recorded"
        test = e(c["cell"]) + (" (hidden tests)" if c.get("hidden") else "")
        got = f"{_points(c['points'])} of {_points(c['max_points'])}"
        out.append((_label(c.get("exercise", "")), test, got, e(reason)))
    for r in by_cell.values():  # the whole notebook, or a cell the gradebook does not list
        exercise = WHOLE if r["cell"] == WHOLE else ""
        test = "" if r["cell"] == WHOLE else e(r["cell"])
        got = f"{_points(r['points'])} of {_points(r['max_points'])}"
        out.append((exercise, test, got, e(r["reason"])))
    return out


def report_html(
    student: str,
    rows: list[dict],
    grades: list[dict],
    assignment=None,
    cells: dict | None = None,
) -> str:
    """The grading report for one student: every assignment (with the total) or one.

    ``rows``: the student's rows of ``cell_report.csv`` (the reasons); ``grades``: their
    rows of ``grades.csv``; ``cells``: (assignment, notebook) -> every graded cell of that
    notebook (cell, exercise, points, max_points, manual, hidden), from the gradebook.
    """
    e = html.escape
    cells = cells or {}
    parts = [f'<section class="ag-report"><h2>Grading report for {e(student)}</h2>']
    shown = sorted(
        (g for g in grades if assignment is None or g["assignment"] == assignment),
        key=lambda r: r["assignment"],
    )
    if assignment is None:
        score = sum(float(g["score"] or 0) for g in shown)
        top = sum(float(g["max_score"] or 0) for g in shown)
        parts.append(
            f'<p class="ag-total">Total over all assignments: <b>{score:g} of {top:g} points</b>'
            f" ({len(shown)} assignment{'s' if len(shown) != 1 else ''})</p>"
        )
    for g in shown:
        mine = [r for r in rows if r["assignment"] == g["assignment"]]
        lost = [r for r in mine if r.get("kind", "lost") == "lost"]
        notes = [r for r in mine if r.get("kind") == "note"]
        score, top = float(g["score"] or 0), float(g["max_score"] or 0)
        css = "ag-ok" if score >= top else "ag-lost"
        parts.append(
            f'<h3>{e(g["assignment"])}: <span class="{css}">{score:g} of {top:g} points</span></h3>'
        )
        penalty = float(g.get("late_submission_penalty") or 0)
        if penalty:
            parts.append(f"<p>Late submission: {penalty:g} points were taken off.</p>")
        notebooks = sorted(
            {nb for (a, nb) in cells if a == g["assignment"]} | {r["notebook"] for r in mine}
        )
        table = []
        for notebook in notebooks:
            table += _cell_rows(
                cells.get((g["assignment"], notebook), []),
                [r for r in lost if r["notebook"] == notebook],
            )
        if table:
            parts.append(
                "<table><tr><th>exercise</th><th>test</th><th>points</th>"
                "<th>why points were lost</th></tr>"
            )
            parts += [
                f"<tr><td>{a}</td><td>{b}</td><td>{c}</td><td>{d}</td></tr>" for a, b, c, d in table
            ]
            parts.append("</table>")
        if not lost and score >= top:
            parts.append("<p>No points were lost.</p>")
        if notes:
            parts.append("<p>Notes from the grader:</p><ul>")
            parts += [f"<li>{e(r['cell'])}: {e(r['reason'])}</li>" for r in notes]
            parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def feedback_pages(course_root: pathlib.Path) -> list[pathlib.Path]:
    """The pages the grader makes: ``feedback/<student>/<assignment>/<notebook>.html`` for the
    released notebooks (nothing else in ``feedback/`` gets the report inserted)."""
    release = course_root / "release"
    names = (
        {(a.name, nb.stem) for a in release.iterdir() if a.is_dir() for nb in a.glob("*.ipynb")}
        if release.is_dir()
        else set()
    )
    folder = course_root / "feedback"
    students = sorted(d for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
    return [
        page
        for student in students
        for a, nb in sorted(names)
        if (page := student / a / f"{nb}.html").is_file() and not page.is_symlink()
    ]


def write_feedback_reports(
    course_root: pathlib.Path, cells: dict | None = None, clean=None
) -> list[pathlib.Path]:
    """``feedback/<student>/report.html`` per student, and the section in each feedback page.

    ``cells``: (student, assignment, notebook) -> graded cells (see :func:`report_html`);
    ``clean``: row -> the reason as students may read it (hidden test code masked).
    """
    rows = (
        read_rows(course_root / "cell_report.csv")
        if (course_root / "cell_report.csv").exists()
        else []
    )
    if clean is not None:
        rows = [dict(r, reason=clean(r)) for r in rows]
    grades = read_rows(course_root / "grades.csv") if (course_root / "grades.csv").exists() else []
    cells = cells or {}
    pages = feedback_pages(course_root)
    written = []
    for student in sorted({g["student_id"] for g in grades}):
        mine = [r for r in rows if r["student_id"] == student]
        their = [g for g in grades if g["student_id"] == student]
        theirs = {(a, nb): c for (s, a, nb), c in cells.items() if s == student}
        folder = course_root / "feedback" / student
        folder.mkdir(parents=True, exist_ok=True)
        page = folder / "report.html"
        page.unlink(missing_ok=True)  # never write through a link left there
        page.write_text(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Grading report: '
            f"{html.escape(student)}</title>{STYLE}</head><body>\n"
            f"{report_html(student, mine, their, cells=theirs)}\n</body></html>\n",
            encoding="utf-8",
        )
        written.append(page)
        for feedback_page in pages:
            if feedback_page.parent.parent == folder:
                a = feedback_page.parent.name
                section = report_html(
                    student,
                    [r for r in mine if r["notebook"] == feedback_page.stem],
                    their,
                    a,
                    {k: v for k, v in theirs.items() if k == (a, feedback_page.stem)},
                )
                _insert(feedback_page, section)
    return written


def _insert(page: pathlib.Path, section: str) -> None:
    text = page.read_text(encoding="utf-8")
    start, end = "<!-- autograder report -->", "<!-- /autograder report -->"
    if start in text and end in text:
        text = text[: text.index(start)] + text[text.index(end) + len(end) :]
    block = f"{start}\n{STYLE}\n{section}\n{end}"
    match = re.search(r"<body[^>]*>", text)
    text = text[: match.end()] + "\n" + block + text[match.end() :] if match else block + text
    page.write_text(text, encoding="utf-8")
