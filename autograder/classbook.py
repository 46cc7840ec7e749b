"""The class gradebook: one nbgrader gradebook for the whole course, merged run by run.

``<course>/gradebook.db`` is what nbgrader's formgrader shows and what ``grades.csv`` is
exported from. Workers grade each student against a gradebook of their own (see
:mod:`autograder.task`); the parent merges each student's result into the class gradebook
with :func:`merge`, which touches only that student's submissions of the assignments
that were graded, so everyone and everything else keeps what it had.

**Manual grading.** A score or comment an instructor gives in formgrader is stored in the
class gradebook (``manual_score``, ``extra_credit``, ``manual_comment``) and survives
regrading: a regrade updates the autograder's score underneath it, as ``nbgrader
autograde`` does, flags the cell for review (``needs_manual_grade``) and the report says
that the manual score was kept and what the autograder gives now. To drop a manual
score, clear it in formgrader (or regrade with ``--discard-manual``).

``<course>/nbgrader_config.py`` (:func:`write_config`) is the course's nbgrader
configuration: the repository's settings, with the course folder as nbgrader's root.
"""

from __future__ import annotations

import csv
import pathlib
import textwrap
import warnings

from autograder import course

CLASS_DB = "gradebook.db"
CONFIG_NAME = "nbgrader_config.py"
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


class ClassbookError(RuntimeError):
    """The class gradebook cannot take this run's results as asked (says what to do)."""


def path(course_root: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(course_root) / CLASS_DB


def url(course_root: pathlib.Path) -> str:
    return f"sqlite:///{path(course_root)}"


def course_id() -> str:
    return course.load_config().CourseDirectory.course_id


def gradebook(db: pathlib.Path | str):
    """An nbgrader ``Gradebook`` on a file, with the course's id."""
    from nbgrader.api import Gradebook

    course.quiet_nbgrader()
    return Gradebook(f"sqlite:///{db}", course_id=course_id())


# --------------------------------------------------------------------------- configuration


def directories(course_root: pathlib.Path) -> dict[str, pathlib.Path | str]:
    """``CourseDirectory`` settings for the graded course (what formgrader and feedback use)."""
    root = pathlib.Path(course_root).resolve()
    return dict(
        root=root,
        source_directory=course.SOLUTIONS,
        release_directory=root / "release",
        # what nbgrader graded: the repaired copies (``submitted/`` keeps the originals)
        submitted_directory=root / "staged",
        autograded_directory=root / "autograded",
        feedback_directory=root / "feedback",
        source_with_tests_directory=root / "gradebooks" / "source_with_tests",
        db_url=url(root),
    )


def config(course_root: pathlib.Path):
    """nbgrader's configuration of the graded course, on the class gradebook."""
    return course.load_config(**directories(course_root))


def write_config(course_root: pathlib.Path) -> pathlib.Path:
    """Write ``<course>/nbgrader_config.py``: jupyter or nbgrader started in the course uses it."""
    root = pathlib.Path(course_root).resolve()
    settings = directories(root)
    lines = []
    for key, value in settings.items():
        if key == "db_url":
            lines.append(f'c.CourseDirectory.db_url = f"sqlite:///{{HERE / {CLASS_DB!r}}}"')
            continue
        value = pathlib.Path(value)
        try:
            expr = f"str(HERE / {str(value.relative_to(root))!r})" if value != root else "str(HERE)"
        except ValueError:
            expr = repr(str(value))
        lines.append(f"c.CourseDirectory.{key} = {expr}")
    text = textwrap.dedent(
        f'''\
        """nbgrader configuration of this graded course (written by `python -m autograder grade`).

        Start formgrader here: `make formgrader COURSE={root}` from the course's repository
        ({course.REPO}). Grade with `python -m autograder grade`, not with formgrader's
        "autograde" buttons: those run student code outside the grader's sandbox.
        """

        import pathlib

        c = get_config()  # noqa: F821
        load_subconfig({str(course.CONFIG_FILE)!r})  # noqa: F821 (the repository's settings)

        HERE = pathlib.Path(__file__).resolve().parent
        '''
    )
    target = root / CONFIG_NAME
    target.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")
    return target


# --------------------------------------------------------------------------- assignments


def _cells(notebook) -> dict[str, dict]:
    """The cell definitions of a gradebook notebook, by kind, as ``update_or_create`` takes them."""
    return {
        "grade": {
            c.name: dict(max_score=c.max_score, cell_type=c.cell_type) for c in notebook.grade_cells
        },
        "solution": {c.name: {} for c in notebook.solution_cells},
        "task": {
            c.name: dict(max_score=c.max_score, cell_type=c.cell_type) for c in notebook.task_cells
        },
        "source": {
            c.name: dict(
                cell_type=c.cell_type, locked=c.locked, source=c.source, checksum=c.checksum
            )
            for c in notebook.source_cells
        },
    }


def _has_manual(gb, assignment: str, student: str) -> bool:
    sub = gb.find_submission(assignment, student)
    return any(
        g.manual_score is not None or g.extra_credit for nb in sub.notebooks for g in nb.grades
    ) or any(c.manual_comment for nb in sub.notebooks for c in nb.comments)


def sync_assignments(
    course_root: pathlib.Path, template: pathlib.Path, assignments: list[str], students: list[str]
) -> None:
    """Put the definitions of ``assignments`` (from the run's template gradebook) in the class one.

    Points and sources of cells are updated in place. A notebook whose graded cells changed
    (added, removed, renamed) while the class gradebook holds submissions of it is rebuilt
    only if this run grades all those students again and nobody has a manual score there;
    otherwise :class:`ClassbookError` says what to do. ``students``: whom this run grades.
    """
    from nbgrader.api import MissingEntry

    with gradebook(template) as tgb, gradebook(path(course_root)) as cgb:
        for name in assignments:
            source = tgb.find_assignment(name)
            cgb.update_or_create_assignment(name, duedate=source.duedate)
            for notebook in source.notebooks:
                new = _cells(notebook)
                try:
                    old = cgb.find_notebook(notebook.name, name)
                except MissingEntry:
                    old = None
                if old is not None and _cells_changed(_cells(old), new):
                    _drop_changed(cgb, old, name, students)
                    old = None
                if old is None:
                    cgb.add_notebook(notebook.name, name, kernelspec=notebook.kernelspec)
                for kind, cells in new.items():
                    update = getattr(cgb, f"update_or_create_{kind}_cell")
                    for cell, info in cells.items():
                        update(cell, notebook.name, name, **info)


def _cells_changed(old: dict, new: dict) -> bool:
    return any(set(old[kind]) != set(new[kind]) for kind in ("grade", "solution", "task", "source"))


def _drop_changed(cgb, notebook, assignment: str, students: list[str]) -> None:
    who = sorted({sub.student.id for sub in notebook.submissions})
    missing = [s for s in who if s not in students]
    manual = [s for s in who if _has_manual(cgb, assignment, s)]
    if missing or manual:
        why = (
            f"{len(missing)} of them are not graded in this run ({', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''})"
            if missing
            else f"some have manual scores or comments from formgrader ({', '.join(manual[:5])})"
        )
        raise ClassbookError(
            f"The graded cells of {assignment}/{notebook.name}.ipynb changed since it was graded "
            f"(cells added, removed or renamed), and the class gradebook {CLASS_DB} holds "
            f"{len(who)} submission(s) graded against the old cells; {why}. Nothing was changed. "
            f"Grade the whole class for {assignment} again (`grade {assignment}` without "
            "--student), or, to start a new class gradebook, move "
            f"{CLASS_DB} aside (it keeps the old grades and any manual grading)."
        )
    cgb.remove_notebook(notebook.name, assignment)


# --------------------------------------------------------------------------- merging


GRADED, ABSENT, FAILED = "graded", "absent", "failed"


def merge(
    course_root: pathlib.Path,
    student: str,
    results: dict[str, str],
    student_db: pathlib.Path | None = None,
    discard_manual: bool = False,
) -> None:
    """Put one student's results into the class gradebook.

    ``results``: assignment -> ``graded`` (scores from ``student_db``, the gradebook the
    student was graded in), ``absent`` (nothing submitted: the submission is removed) or
    ``failed`` (grading broke down: every cell gets 0 automatic points, flagged for
    review). Other students and other assignments are not touched; manual grading is kept
    (see above) unless ``discard_manual``.
    """
    from nbgrader.api import MissingEntry

    with warnings.catch_warnings(), gradebook(path(course_root)) as cgb:
        # nbgrader's add_submission builds its rows under autoflush (SQLAlchemy warns)
        warnings.simplefilter("ignore", category=_sa_warning())
        if not _known(cgb, student):
            cgb.add_student(student)
        graded = gradebook(student_db) if student_db is not None else None
        try:
            for assignment, what in results.items():
                theirs = None
                if what == GRADED and graded is not None:
                    try:
                        theirs = graded.find_submission(assignment, student)
                    except MissingEntry:
                        what = ABSENT
                if what == FAILED:
                    _fail_submission(cgb, assignment, student, discard_manual)
                elif theirs is None:
                    try:
                        cgb.remove_submission(assignment, student)
                    except MissingEntry:
                        pass
                else:
                    _merge_submission(cgb, theirs, assignment, student, discard_manual)
        finally:
            if graded is not None:
                graded.close()
        cgb.db.commit()


def _sa_warning():
    from sqlalchemy.exc import SAWarning

    return SAWarning


def _fail_submission(cgb, assignment: str, student: str, discard_manual: bool) -> None:
    ours = cgb.update_or_create_submission(assignment, student)
    for nb in ours.notebooks:
        nb.late_submission_penalty = None
        for g in nb.grades:
            if discard_manual:
                g.manual_score = g.extra_credit = None
            g.auto_score, g.needs_manual_grade = 0.0, True


def _merge_submission(cgb, theirs, assignment: str, student: str, discard_manual: bool) -> None:
    ours = cgb.update_or_create_submission(
        assignment, student, timestamp=theirs.timestamp, extension=theirs.extension
    )
    ours.timestamp, ours.extension = theirs.timestamp, theirs.extension
    for nb in theirs.notebooks:
        target = cgb.find_submission_notebook(nb.name, assignment, student)
        target.late_submission_penalty = nb.late_submission_penalty
        grades = {g.name: g for g in target.grades}
        for g in nb.grades:
            mine = grades[g.name]
            if discard_manual:
                mine.manual_score = mine.extra_credit = None
            mine.auto_score = g.auto_score
            # nbgrader's rule: a cell with a manual score (or without an automatic one) is
            # flagged for review when it is graded again
            mine.needs_manual_grade = bool(g.needs_manual_grade or mine.manual_score is not None)
        comments = {c.name: c for c in target.comments}
        for c in nb.comments:
            if discard_manual:
                comments[c.name].manual_comment = None
            comments[c.name].auto_comment = c.auto_comment


# --------------------------------------------------------------------------- exporting


def export_rows(course_root: pathlib.Path) -> list[dict]:
    """nbgrader's CSV export rows of the class gradebook, every assignment x every student."""
    from nbgrader.api import MissingEntry

    rows = []
    if not path(course_root).exists():
        return rows
    with gradebook(path(course_root)) as gb:
        students = sorted(gb.students, key=lambda s: s.id)
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for student in students:
                row = dict.fromkeys(EXPORT_COLUMNS, "")
                row.update(
                    assignment=assignment.name,
                    student_id=student.id,
                    last_name=student.last_name,
                    first_name=student.first_name,
                    email=student.email,
                    max_score=assignment.max_score,
                )
                try:
                    sub = gb.find_submission(assignment.name, student.id)
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


def write_grades(course_root: pathlib.Path) -> list[dict]:
    """Export ``grades.csv`` from the class gradebook (sorted: the same for any ``--jobs``)."""
    rows = export_rows(course_root)
    target = pathlib.Path(course_root) / "grades.csv"
    tmp = target.with_name("grades.csv.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(target)
    return rows


def students(course_root: pathlib.Path) -> list[str]:
    """The students of the class gradebook."""
    if not path(course_root).exists():
        return []
    with gradebook(path(course_root)) as gb:
        return sorted(s.id for s in gb.students)


def manual_grading(course_root: pathlib.Path, student: str) -> dict:
    """``(assignment, notebook, cell) -> {"manual_score", "extra_credit", "auto_score",
    "comment"}`` for what an instructor graded or commented by hand."""
    found = {}
    with gradebook(path(course_root)) as gb:
        for sub in gb.student_submissions(student) if _known(gb, student) else []:
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.manual_score is not None or g.extra_credit:
                        found.setdefault((sub.assignment.name, nb.name, g.name), {}).update(
                            manual_score=g.manual_score,
                            extra_credit=g.extra_credit,
                            auto_score=g.auto_score,
                            max_score=g.max_score,
                        )
                for c in nb.comments:
                    if c.manual_comment:
                        found.setdefault((sub.assignment.name, nb.name, c.name), {})["comment"] = (
                            c.manual_comment
                        )
    return found


def _known(gb, student: str) -> bool:
    from nbgrader.api import MissingEntry

    try:
        gb.find_student(student)
    except MissingEntry:
        return False
    return True
