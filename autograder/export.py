"""``export``: the grades of ``grades.csv`` as a file an LMS gradebook imports.

* ``--to canvas``: one CSV for Canvas' *Gradebook → Import*: the columns ``Student, ID,
  SIS User ID, SIS Login ID, Section``, one column per assignment, a ``Points Possible``
  row, one row per student. Canvas finds the student by ``ID``, its user id.
* ``--to moodle``: one *offline grading worksheet* per assignment, for Moodle's
  *Assignment → Upload grading worksheet*. Moodle finds the student by ``Identifier``
  (``Participant N``, N the participant id its download names carry), reads ``Grade``
  and ``Feedback comments``, and skips a row whose ``Last modified (grade)`` is older than
  the grade it holds (tick "Allow updating records that have been modified more recently
  in Moodle" to import anyway). Importing replaces the feedback comments of each row.

The LMS's own ids come from ``course_root/students.csv`` (columns ``student_id, lms,
lms_id, name, login``), which ``collect`` writes from the download names. A student
without an id of that LMS (not in the file, collected from another LMS's download or
from a folder, the file missing) is left out of the export and named in the result,
never given a made-up id. Grades of assignments a student has no grade for are left
blank (the LMS keeps what it has), never written as 0.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import html
import pathlib

from autograder import course, feedback, students

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"  # as Canvas writes it in its own export
MOODLE_COLUMNS = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
MOODLE_PARTICIPANT = "Participant "
MOODLE_DATE = "%A, %d %B %Y, %I:%M %p"  # Moodle's strftimedatetime, which it reads back
LMS_NAMES = {"canvas": "Canvas user id", "moodle": "Moodle participant id"}
TARGETS = tuple(LMS_NAMES)


class ExportError(ValueError):
    """The course has nothing to export, or students.csv cannot be read."""


@dataclasses.dataclass
class Result:
    """What an export wrote and whom it had to leave out (student id -> why)."""

    lms: str
    written: list[pathlib.Path]
    matched: list[str]
    unmatched: dict[str, str]

    def summary(self) -> str:
        lines = [f"wrote {p}" for p in self.written]
        lines.append(f"{_count(self.matched)} matched to their {LMS_NAMES[self.lms]}")
        if self.unmatched:
            lines.append(
                f"{_count(self.unmatched)} could NOT be matched and are not in the file "
                "(enter their grades by hand, or add them to students.csv and export again):"
            )
            lines += [f"  {s}: {why}" for s, why in sorted(self.unmatched.items())]
        return "\n".join(lines)


def _count(students) -> str:
    return f"{len(students)} student" + ("" if len(students) == 1 else "s")


def _read_csv(path: pathlib.Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def read_grades(course_root: pathlib.Path) -> list[dict]:
    path = course_root / "grades.csv"
    if not path.is_file():
        raise ExportError(
            f"no grades.csv in {course_root}: grade first (python -m autograder grade)"
        )
    return _read_csv(path)


def read_students(course_root: pathlib.Path) -> dict[str, dict] | None:
    """student_id -> its row of ``students.csv``; None when the course has no such file."""
    path = course_root / students.FILE
    if not path.is_file():
        return None
    try:
        rows = students.read(course_root)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    found: dict[str, dict] = {}
    for number, row in enumerate(rows, start=2):
        sid = row["student_id"].strip()
        if sid in found:
            raise ExportError(f"{path}, line {number}: student {sid!r} is listed twice")
        found[sid] = {k: v.strip() for k, v in row.items()}
    return found


def match(
    students: list[str], roster: dict[str, dict] | None, lms: str
) -> tuple[dict[str, dict], dict[str, str]]:
    """Students with an id of ``lms`` (-> their roster row), and the others (-> why not)."""
    what = LMS_NAMES[lms]
    matched, unmatched = {}, {}
    for student in students:
        row = (roster or {}).get(student)
        if roster is None:
            unmatched[student] = f"no students.csv in the course, so no {what} is known"
        elif row is None:
            unmatched[student] = f"not in students.csv, so no {what} is known"
        elif row["lms"] != lms:
            unmatched[student] = (
                f"collected from a {row['lms'] or 'unknown'} download name, which carries no {what}"
            )
        elif not row["lms_id"]:
            unmatched[student] = f"students.csv gives no {what}"
        elif not row["lms_id"].isdigit():
            unmatched[student] = f"students.csv gives {row['lms_id']!r}, which is not a {what}"
        else:
            matched[student] = row
    by_id: dict[str, list[str]] = {}
    for student, row in matched.items():
        by_id.setdefault(row["lms_id"], []).append(student)
    for lms_id, same in by_id.items():
        if len(same) > 1:
            for student in same:
                others = ", ".join(s for s in same if s != student)
                unmatched[student] = f"{what} {lms_id} is also given for {others}"
                del matched[student]
    return matched, unmatched


def _number(value) -> str:
    return f"{round(float(value), 2):g}"


def _scores(grades: list[dict]) -> tuple[list[str], dict, dict]:
    assignments = sorted({g["assignment"] for g in grades})
    top = {}
    for g in grades:
        top[g["assignment"]] = max(top.get(g["assignment"], 0.0), float(g["max_score"] or 0))
    return assignments, top, {(g["student_id"], g["assignment"]): g for g in grades}


def canvas(
    course_root: pathlib.Path,
    out: pathlib.Path | None = None,
    titles: dict[str, str] | None = None,
) -> Result:
    """Write the Canvas gradebook import file (default ``course_root/canvas_grades.csv``).

    ``titles`` maps an assignment to its Canvas column, e.g. ``Masks (4711)``: Canvas
    matches columns by the assignment's name, or by the id in brackets; a column it does
    not know it offers to create as a new assignment.
    """
    course_root = pathlib.Path(course_root)
    grades = read_grades(course_root)
    assignments, top, cell = _scores(grades)
    students = sorted({g["student_id"] for g in grades})
    matched, unmatched = match(students, read_students(course_root), "canvas")
    titles = titles or {}
    out = pathlib.Path(out or course_root / "canvas_grades.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CANVAS_IDENTITY + [titles.get(a, a) for a in assignments])
        writer.writerow([CANVAS_POINTS, "", "", "", ""] + [_number(top[a]) for a in assignments])
        for student in sorted(matched, key=lambda s: (matched[s]["name"] or s, s)):
            row = matched[student]
            scores = [
                _number(cell[student, a]["score"]) if (student, a) in cell else ""
                for a in assignments
            ]
            writer.writerow([row["name"] or student, row["lms_id"], "", "", ""] + scores)
    return Result("canvas", [out], sorted(matched), unmatched)


def _moodle_date(value: datetime.datetime) -> str:
    return value.strftime(MOODLE_DATE)


def _when(timestamp: str) -> str:
    try:
        return _moodle_date(datetime.datetime.fromisoformat(timestamp.strip()))
    except ValueError:
        return timestamp


def _comment(got: dict, reasons: list[dict], notebooks: dict) -> str:
    """The feedback comment of one worksheet row: the points and why points were lost."""
    text = [f"Autograded: {_number(got['score'])} of {_number(got['max_score'])} points."]
    lost = []
    position = {}
    for info in notebooks.values():
        position.update({gid: i for i, gid in enumerate(info.labels)})
    for r in sorted(reasons, key=lambda r: (r["notebook"], position.get(r["cell"], 1 << 30))):
        if r.get("kind", "lost") != "lost":
            continue
        info = notebooks.get(r["notebook"])
        label = info.labels.get(r["cell"], "") if info else ""
        reason = feedback.scrub(r["reason"], info.secrets if info else set())
        where = f"{label} ({r['cell']})" if label else r["cell"]
        lost.append(
            f"{where}, {_number(r['points'] or 0)} of {_number(r['max_points'] or 0)}: {reason}"
        )
    if lost:
        text.append("Points lost: " + "; ".join(lost) + ".")
    text.append("The feedback page of the notebook shows every test.")
    return html.escape(" ".join(text), quote=False)


def moodle(
    course_root: pathlib.Path,
    out: pathlib.Path | None = None,
    now: datetime.datetime | None = None,
) -> Result:
    """Write one Moodle grading worksheet per assignment into ``out`` (a folder).

    Default ``course_root/moodle_worksheets/<assignment>.csv``.
    """
    course_root = pathlib.Path(course_root)
    grades = read_grades(course_root)
    assignments, top, cell = _scores(grades)
    students = sorted({g["student_id"] for g in grades})
    matched, unmatched = match(students, read_students(course_root), "moodle")
    report = course_root / "cell_report.csv"
    reasons = _read_csv(report) if report.is_file() else []
    stamp = _moodle_date(now or datetime.datetime.now())
    out = pathlib.Path(out or course_root / "moodle_worksheets")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    order = sorted(matched, key=lambda s: (len(matched[s]["lms_id"]), matched[s]["lms_id"]))
    for assignment in assignments:
        path = out / f"{assignment}.csv"
        notebooks = {
            name: feedback.CourseNotebook(course_root, assignment, name)
            for name in sorted({r["notebook"] for r in reasons if r["assignment"] == assignment})
            if (course.SOLUTIONS / assignment / f"{name}.ipynb").is_file()
        }
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(MOODLE_COLUMNS)
            for student in order:
                got = cell.get((student, assignment))
                if got is None:  # no grade here: leave Moodle's grade and comments alone
                    continue
                row = matched[student]
                mine = [
                    r
                    for r in reasons
                    if r["student_id"] == student and r["assignment"] == assignment
                ]
                writer.writerow(
                    [
                        MOODLE_PARTICIPANT + row["lms_id"],
                        row["name"] or student,
                        row["login"] if "@" in row["login"] else "",
                        "Graded",
                        f"{float(got['score']):.2f}",
                        f"{top[assignment]:.2f}",
                        "Yes",
                        _when(got["timestamp"]) if got.get("timestamp") else "-",
                        stamp,
                        _comment(got, mine, notebooks),
                    ]
                )
        written.append(path)
    return Result("moodle", written, sorted(matched), unmatched)


def export(
    course_root: pathlib.Path,
    to: str,
    out: pathlib.Path | None = None,
    titles: dict[str, str] | None = None,
) -> Result:
    if to == "canvas":
        return canvas(course_root, out, titles)
    if to == "moodle":
        return moodle(course_root, out)
    raise ExportError(f"unknown LMS {to!r}: choose one of {', '.join(TARGETS)}")
