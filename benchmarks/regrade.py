"""How long regrading one student takes on a graded class, against grading the whole class.

    python benchmarks/regrade.py [--students 6] [--assignments 01_masks ...] [--jobs 2]
                                 [--no-sandbox] [--keep DIR]

Grades a made-up class (reference, partial and untouched submissions in turn, as
``benchmarks/grading.py`` makes it) with ``grade --jobs N``, then ``grade --student X``
for one student, and prints both times with what a run costs whatever it grades:
generating the release and the template gradebook (``prepare``), recording one student's
result into the course (class gradebook merge and report) and writing the class-wide
files (``grades.csv``, ``cell_report.csv``, ``grading_outcomes.json``). Checks that the
regrade left ``grades.csv`` as it was (same submissions, same grades). Prints figures;
never asserts (timings depend on the machine and on what else runs on it).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from grading import make_class  # noqa: E402

from autograder import course, grade, sandbox  # noqa: E402


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--students", type=int, default=6)
    p.add_argument("--assignments", nargs="*", default=["01_masks"])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--no-sandbox", action="store_true")
    p.add_argument("--keep", type=pathlib.Path, help="grade in this folder and keep it")
    args = p.parse_args(argv)
    root = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-regrade-"))
    root.mkdir(parents=True, exist_ok=True)
    mode = "off" if args.no_sandbox or sandbox.probe() is not None else "on"
    names = make_class(root, args.students, args.assignments)
    per_student = sum(len(course.notebook_names(a)) for a in args.assignments)
    grade.ensure_data()
    course_root = root / "course"
    shutil.rmtree(course_root, ignore_errors=True)
    shutil.copytree(root / "class", course_root / "submitted")
    print(
        f"{len(names)} students x {', '.join(args.assignments)} = {len(names) * per_student} "
        f"notebooks; --jobs {args.jobs}; sandbox {mode}; {os.cpu_count()} CPU cores; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    recording = []
    record = grade.record

    def timed_record(*a, **k):
        took, result = timed(record, *a, **k)
        recording.append(took)
        return result

    grade.record = timed_record
    try:
        options = dict(jobs=args.jobs, assignment_ids=args.assignments, sandbox_mode=mode)
        whole, _ = timed(grade.grade, course_root, **options)
        print(f"grade (whole class):        {whole:7.1f} s", flush=True)
        before = (course_root / "grades.csv").read_bytes()
        student = names[len(names) // 2]
        recording.clear()
        one, _ = timed(grade.grade, course_root, only=[student], **options)
        print(f"grade --student {student}: {one:7.1f} s", flush=True)
        unchanged = (course_root / "grades.csv").read_bytes() == before
    finally:
        grade.record = record
    prep, _ = timed(grade.prepare, course_root, args.assignments)
    files, _ = timed(grade.write_class_files, course_root)

    print(f"\n{'':34} {'seconds':>8}")
    print(f"{'grade, whole class':34} {whole:8.1f}")
    print(f"{'  per notebook':34} {whole / (len(names) * per_student):8.2f}")
    print(f"{'grade --student (one student)':34} {one:8.1f}")
    print(f"{'  ratio to the whole class':34} {one / whole:8.2f}")
    print(f"{'fixed per run: prepare':34} {prep:8.1f}")
    print(f"{'fixed per run: class-wide files':34} {files:8.2f}")
    print(f"{'recording one student':34} {recording[0] if recording else float('nan'):8.2f}")
    print(f"\ngrades.csv unchanged by the regrade: {'yes' if unchanged else 'NO'}")
    print(
        "The regrade pays the fixed costs (data check, release and template gradebook, the lock, "
        "class-wide files) plus one student's notebooks; the whole class pays them once too."
    )
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
