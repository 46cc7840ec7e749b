"""``demo``: the whole loop on three made-up students, from release to grades.csv.

``reference`` hands in the reference solution, ``untouched`` the notebooks as
released, ``partial`` answers about half of the exercises. Their notebooks are
packed into a zip named the way Canvas names downloads, then collected, graded,
given feedback and exported, exactly as an instructor would do with a real class.
Collect keeps the Canvas user id in the student id: the three students are
``reference_1001``, ``untouched_1002`` and ``partial_1003`` (:data:`USER_IDS`);
:func:`kind` tells which one an id is.
"""

from __future__ import annotations

import csv
import pathlib
import shutil
import sys
import time
import zipfile

from autograder import collect, course, feedback, grade, jupyter, release, submissions

EXPECTED = "reference = max, untouched = 0, partial strictly in between"
USER_IDS = {"reference": 1001, "untouched": 1002, "partial": 1003}  # Canvas user ids


def kind(student_id: str) -> str:
    """Which made-up student (``reference``, ``untouched``, ``partial``) an id is, or ""."""
    return next((k for k in USER_IDS if student_id.startswith(k)), "")


def make_lms_zip(submission_dir: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    """Pack the made-up submissions as a Canvas 'Download submissions' zip."""
    with zipfile.ZipFile(target, "w") as archive:
        for n, path in enumerate(sorted(submission_dir.glob("*/*/*.ipynb"))):
            student = path.parts[-3]
            archive.write(path, f"{student}_{USER_IDS[student]}_{5000 + n}_{path.name}")
        # what LMS downloads also contain, and collect must report rather than choke on
        archive.writestr("partial_1003_4999_notes.txt", "my answers are in the notebook\n")
    return target


def score_table(rows: list[dict]) -> tuple[list[str], list[str], dict]:
    students = sorted({r["student_id"] for r in rows})
    assignments = sorted({r["assignment"] for r in rows})
    cell = {(r["student_id"], r["assignment"]): r for r in rows}
    return students, assignments, cell


def check(rows: list[dict]) -> list[str]:
    """What in the grades contradicts the expectation for the three demo students."""
    problems = []
    for r in rows:
        score, top = float(r["score"]), float(r["max_score"])
        who, what = r["student_id"], r["assignment"]
        if kind(who) == "reference" and score != top:
            problems.append(f"{what}: {who} (reference) scored {score:g} of {top:g}")
        if kind(who) == "untouched" and score != 0:
            problems.append(f"{what}: {who} (untouched) scored {score:g}, expected 0")
        if kind(who) == "partial" and not 0 < score < top:
            problems.append(
                f"{what}: {who} (partial) scored {score:g} of {top:g}, expected in between"
            )
    missing = sorted(set(USER_IDS) - {kind(r["student_id"]) for r in rows})
    if missing:
        problems.append("no grades for " + ", ".join(missing))
    return problems


def print_table(rows: list[dict]) -> None:
    students, assignments, cell = score_table(rows)
    width = max(len(a) for a in assignments) + 2
    first = max([len("student"), *(len(s) for s in students)]) + 2
    print(
        "\n"
        + "student".ljust(first)
        + "".join(a.rjust(width) for a in assignments)
        + "total".rjust(10)
    )
    for s in students:
        got = [float(cell[s, a]["score"]) for a in assignments]
        line = s.ljust(first) + "".join(f"{g:g}".rjust(width) for g in got)
        print(line + f"{sum(got):g}".rjust(10))
    tops = [float(cell[students[0], a]["max_score"]) for a in assignments]
    print(
        "max".ljust(first)
        + "".join(f"{t:g}".rjust(width) for t in tops)
        + f"{sum(tops):g}".rjust(10)
    )


def demo(
    course_root: pathlib.Path | None = None, jobs: int = 1, assignment_ids: list[str] | None = None
) -> int:
    started = time.perf_counter()
    course_root = pathlib.Path(course_root or course.BUILD / "demo").resolve()
    shutil.rmtree(course_root, ignore_errors=True)
    course_root.mkdir(parents=True)
    assignment_ids = assignment_ids or course.assignments()
    print(f"Demo course in {course_root} with assignments: {', '.join(assignment_ids)}")

    print("1/5 release: generating student versions with nbgrader")
    fresh = course_root / "student_release"
    release.generate(fresh, assignment_ids)
    stale = release.stale(assignment_ids)
    if stale:
        print("    note: notebooks/ is out of date (run `python -m autograder release`):")
        print("      " + "\n      ".join(stale))

    print("2/5 students: reference, untouched, partial hand in their notebooks (Canvas zip)")
    made = course_root / "made_submissions"
    submissions.write_submissions(fresh, made, assignment_ids)
    lms_zip = make_lms_zip(made, course_root / "canvas_download.zip")

    print(f"3/5 collect: {lms_zip.name}")
    entries = collect.collect(lms_zip, course_root)
    for e in entries:
        if e.status != "collected":
            print(f"    {e.status}: {e.file} — {e.note}")

    print(f"4/5 grade: autograding with {jobs} worker(s)")
    result = grade.grade(course_root, jobs=jobs, assignment_ids=assignment_ids)
    print(
        "    student code ran "
        + ("in the sandbox (bubblewrap)" if result["sandbox"] else "WITHOUT the sandbox")
    )
    for outcome in result["outcomes"]:
        for assignment, info in outcome["assignments"].items():
            if info.get("submitted"):
                print(
                    f"    {outcome['student']:>14} {assignment}: {info['seconds']:.1f} s"
                    + ("" if info["success"] else f"  FAILED: {info['error'][:200]}")
                )

    print("5/5 feedback: HTML per student and notebook")
    pages = feedback.feedback(course_root, assignment_ids)

    with open(course_root / "grades.csv") as fh:
        rows = list(csv.DictReader(fh))
    print_table(rows)
    print(f"\ngrades.csv:       {course_root / 'grades.csv'}")
    print(f"lost points, why: {course_root / 'cell_report.csv'}")
    print(f"feedback pages:   {len(pages)} under {course_root / 'feedback'}")
    print(f"demo took {time.perf_counter() - started:.1f} s")
    problems = check(rows)
    if problems:
        print(f"\nDEMO FAILED ({EXPECTED}):\n  " + "\n  ".join(problems))
        return 1
    print(f"\nDemo OK: {EXPECTED}.")
    print(
        "\nSee the class in nbgrader's formgrader (every assignment, student and score; manual "
        f"grading):\n    {jupyter.shell_command(course_root)}\nthen, after grading by hand, "
        "export grades.csv again:\n"
        f"    {sys.executable} -m autograder grades --course {course_root}"
    )
    return 0
