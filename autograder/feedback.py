"""``feedback``: one HTML page per student and notebook, and a report page per student.

What a student sees:

* ``feedback/<student>/<assignment>/<notebook>.html``: nbgrader's feedback page of the
  graded notebook, with the grader's report for that assignment at the top (per graded
  cell: the exercise it tests, the points, why points were lost).
* ``feedback/<student>/report.html``: that report for every assignment, with the total,
  also for notebooks that could not be graded at all (missing, unreadable).

Hidden tests stay hidden. The pages are generated from a copy of each graded notebook
(:func:`for_students`) in which every hidden-test region (``### BEGIN HIDDEN TESTS`` …
``### END HIDDEN TESTS`` of the source in ``solutions/``) is replaced by one comment
line, the outputs of a cell with hidden tests are reduced to its error's name and
message (a traceback quotes the lines around the failure), and every other output, and
every reason in the report, has each line of hidden-test code that it quotes masked
(student code can print the input history or raise an error quoting its caller). What
a student could still do is smuggle hidden code out in a disguise (encoded, in an
image); the feedback cannot tell that apart from output.

Only the grader's pages go into ``feedback/``: nbgrader copies every file of the
graded folder (whatever a kernel wrote into its working folder) next to the pages, so
the pages are generated from a folder that holds the cleaned notebooks alone, and the
report is inserted only into the pages named after the released notebooks.
"""

from __future__ import annotations

import copy
import html
import pathlib
import re
import tempfile

from autograder import course, grade, report

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's ClearHiddenTests delimiters
PLACEHOLDER = "# ... hidden tests: they run when the notebook is graded and are not shown here"
MASK = "[hidden test code]"
REMOVED = "[output not shown: it quoted hidden test code]"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TAG = re.compile(r"<[^>]*>")
EXERCISE = re.compile(r"^#{1,6}\s*(Exercise\s+\d+[a-z]?)\b", re.I | re.M)
MIN_SECRET = 8  # shorter lines (`)`, `else:`) say nothing about a test
TEXT_MIMES = ("application/json", "application/javascript", "image/svg+xml")


# ----------------------------------------------------------------- hidden tests, masked


def strip_hidden(source: str) -> tuple[str, bool]:
    """``source`` with each hidden-test region replaced by :data:`PLACEHOLDER`.

    An unterminated region hides everything after its start (fail closed).
    """
    out, inside, found = [], False, False
    for line in source.split("\n"):
        if BEGIN in line:
            if not inside:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(indent + PLACEHOLDER)
            inside = found = True
        elif END in line and inside:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out), found


def hidden_regions(nb) -> dict[str, list[str]]:
    """grade_id -> the lines inside the hidden-test regions of that cell."""
    regions = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        lines, inside = [], False
        for line in cell.source.split("\n"):
            if BEGIN in line:
                inside = True
            elif END in line:
                inside = False
            elif inside:
                lines.append(line)
        if lines or BEGIN in cell.source:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell-{index}"
            regions[gid] = lines
    return regions


def secret_lines(source_nb, release_nb=None) -> set[str]:
    """The lines of hidden-test code worth masking: not trivial, not visible in the release.

    A hidden line that is part of a visible one (``f(x,`` of a visible ``f(x, "what")``)
    is no secret either: masking it would mangle what the student can read anyway.
    """
    visible = ""
    if release_nb is not None:
        visible = "\n".join(cell.source for cell in release_nb.cells)
    return {
        line.strip()
        for lines in hidden_regions(source_nb).values()
        for line in lines
        if len(line.strip()) >= MIN_SECRET
        and re.search(r"\w", line)
        and line.strip() not in visible
    }


def scrub(text: str, secrets: set[str]) -> str:
    """``text`` with every quoted line of hidden-test code replaced by :data:`MASK`."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _as_text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _clean_output(output, secrets: set[str]):
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = scrub(_as_text(output.get("text", "")), secrets)
    elif kind == "error":
        output["evalue"] = scrub(output.get("evalue", ""), secrets)
        lines = []
        for entry in output.get("traceback", []):
            plain = ANSI.sub("", entry)
            cleaned = scrub(plain, secrets)
            lines.append(entry if cleaned == plain else cleaned)
        output["traceback"] = lines
    elif kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        for mime in list(data):
            if not (mime.startswith("text/") or mime in TEXT_MIMES):
                continue
            text = _as_text(data[mime])
            if mime == "text/plain":
                data[mime] = scrub(text, secrets)
            elif (
                scrub(html.unescape(TAG.sub("", text)), secrets) != html.unescape(TAG.sub("", text))
                or scrub(text, secrets) != text
            ):
                del data[mime]
        if not data:
            data["text/plain"] = REMOVED
    return output


def _summary(output, secrets: set[str]):
    """What a student sees of an error in a cell with hidden tests: its name and message."""
    name = output.get("ename", "Error")
    value = scrub(ANSI.sub("", output.get("evalue", "")), secrets)
    output["evalue"] = value
    output["traceback"] = [f"{name}: {value}" if value else name]
    return output


def for_students(nb, source_nb, secrets: set[str]):
    """The copy of a graded notebook that feedback is generated from (see the module doc)."""
    nb = copy.deepcopy(nb)
    sources = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c.source
        for c in source_nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
    }
    hidden_ids = set(hidden_regions(source_nb))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        hidden = False
        if meta.get("grade") and not meta.get("solution") or gid in hidden_ids:
            # a test cell shows the instructor's source, never what the copy says it is
            cell.source, hidden = strip_hidden(sources.get(gid, cell.source))
            hidden = hidden or gid in hidden_ids
        if hidden:
            cell.outputs = [_summary(o, secrets) for o in cell.outputs if o.output_type == "error"]
        else:
            cell.outputs = [_clean_output(o, secrets) for o in cell.outputs]
    return nb


# ------------------------------------------------------------------ exercises and points


def exercise_labels(release_nb) -> dict[str, str]:
    """grade_id of each test cell -> the exercise it tests, e.g. "Exercise 2, `encoder_block`".

    The exercise is the last "Exercise N" heading above the cell, the function the
    answer cells of that exercise define and the test calls (or the last one defined).
    """
    labels, exercise, functions = {}, "", []
    for cell in release_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            found = EXERCISE.findall(cell.source)
            if found:
                exercise, functions = found[-1], []
            continue
        if meta.get("solution"):
            functions += [f for f in report.DEF.findall(cell.source) if f not in functions]
        elif meta.get("grade") and meta.get("grade_id"):
            used = [f for f in functions if re.search(rf"\b{re.escape(f)}\s*\(", cell.source)]
            used = used or functions[-1:]
            parts = [exercise] if exercise else []
            if used:
                parts.append(", ".join(f"`{f}`" for f in used))
            labels[meta["grade_id"]] = ", ".join(parts) or meta["grade_id"]
    return labels


def _read(path: pathlib.Path):
    import nbformat

    return nbformat.read(path, as_version=4) if path.is_file() else None


def release_notebook(course_root: pathlib.Path, assignment: str, notebook: str):
    """The course's release of a notebook (``notebooks/`` when the course has none)."""
    return _read(course_root / "release" / assignment / f"{notebook}.ipynb") or _read(
        course.NOTEBOOKS / assignment / f"{notebook}.ipynb"
    )


def _release_names(course_root: pathlib.Path, assignment: str) -> list[str]:
    folder = course_root / "release" / assignment
    if not folder.is_dir():
        folder = course.NOTEBOOKS / assignment
    return sorted(p.stem for p in folder.glob("*.ipynb"))


def _sqlite_path(db_url: str) -> pathlib.Path | None:
    return pathlib.Path(db_url[len("sqlite:///") :]) if db_url.startswith("sqlite:///") else None


def cell_scores(db_url, student, assignment, notebook, labels, hidden_ids) -> list[dict]:
    """Every graded cell of one graded notebook, in notebook order, from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            return []
        grades = {
            g.name: (g.score or 0.0, g.max_score, g.manual_score is not None) for g in sub.grades
        }
    order = [gid for gid in labels if gid in grades] + sorted(set(grades) - set(labels))
    return [
        dict(
            cell=gid,
            exercise=labels.get(gid, ""),
            points=grades[gid][0],
            max_points=grades[gid][1],
            manual=grades[gid][2],
            hidden=gid in hidden_ids,
        )
        for gid in order
    ]


class CourseNotebook:
    """What feedback needs to know of one notebook of the course (the same for everyone):
    its source, the hidden-test lines to mask, the test cells with hidden tests, and the
    exercise of each test cell."""

    def __init__(self, course_root: pathlib.Path, assignment: str, name: str):
        self.source = _read(course.SOLUTIONS / assignment / f"{name}.ipynb")
        if self.source is None:
            raise FileNotFoundError(f"no source notebook solutions/{assignment}/{name}.ipynb")
        release = release_notebook(course_root, assignment, name)
        self.secrets = secret_lines(self.source, release)
        self.hidden_ids = set(hidden_regions(self.source))
        self.labels = exercise_labels(release if release is not None else self.source)


# --------------------------------------------------------------------------- the command


def _purge(course_root: pathlib.Path, student: str, keep: set[pathlib.Path]) -> list[str]:
    """Remove from ``feedback/<student>/`` what came from the student's graded folder."""
    removed = []
    graded = course_root / "autograded" / student
    folder = course_root / "feedback" / student
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        relative = path.relative_to(folder)
        if path in keep or relative == pathlib.Path("report.html"):
            continue
        if path.is_file() or path.is_symlink():
            if (graded / relative).exists() or (graded / relative).is_symlink():
                path.unlink()
                removed.append(f"{student}/{relative}")
    return removed


def feedback(
    course_root: pathlib.Path, assignment_ids: list[str] | None = None
) -> list[pathlib.Path]:
    """Generate the feedback pages of ``assignment_ids`` and every student's report page."""
    import nbformat

    course_root = pathlib.Path(course_root).resolve()
    assignment_ids = assignment_ids or course.assignments()
    autograded = course_root / "autograded"
    every = sorted(set(course.assignments()) | set(assignment_ids))
    known = {
        (a, nb): CourseNotebook(course_root, a, nb)
        for a in every
        for nb in _release_names(course_root, a)
    }
    failures, removed, cells = [], [], {}
    with tempfile.TemporaryDirectory(prefix=".feedback-", dir=course_root) as tmp:
        clean_root = pathlib.Path(tmp)
        for student in grade.students(course_root):
            config = grade.student_config(course_root, student)
            db_url = config.CourseDirectory.db_url
            db = _sqlite_path(db_url)
            if db is not None and not db.exists():
                continue
            # student output is shown to the instructor too: no scripts from it in the pages
            config.HTMLExporter.sanitize_html = True
            # the pages are made from the cleaned notebooks alone (see the module doc)
            config.CourseDirectory.autograded_directory = str(clean_root)
            api = course.api(config)
            for (assignment, name), info in known.items():
                graded = autograded / student / assignment / f"{name}.ipynb"
                if not graded.is_file():
                    continue
                cells[student, assignment, name] = cell_scores(
                    db_url, student, assignment, name, info.labels, info.hidden_ids
                )
                if assignment not in assignment_ids:
                    continue
                target = clean_root / student / assignment / f"{name}.ipynb"
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    nb = nbformat.read(graded, as_version=4)
                    nbformat.write(for_students(nb, info.source, info.secrets), target)
                except Exception as error:  # noqa: BLE001 (one bad notebook must not stop the rest)
                    failures.append(f"{student}/{assignment}/{name}: unreadable ({error})")
            for assignment in assignment_ids:
                if not (clean_root / student / assignment).is_dir():
                    continue
                result = api.generate_feedback(assignment, student, force=True)
                if not result["success"]:
                    failures.append(f"{student}/{assignment}: {result['error']}")
            removed += _purge(course_root, student, set(report.feedback_pages(course_root)))
    if failures:
        print("feedback could not be generated for:\n  " + "\n  ".join(failures))
    if removed:
        print(
            "removed from feedback (written by a submission, not by the grader):\n  "
            + "\n  ".join(removed)
        )

    secrets: dict[str, set[str]] = {}
    for (assignment, _), info in known.items():
        secrets.setdefault(assignment, set()).update(info.secrets)
    report.write_feedback_reports(
        course_root,
        cells=cells,
        clean=lambda row: scrub(row.get("reason", ""), secrets.get(row.get("assignment"), set())),
    )
    return report.feedback_pages(course_root)
