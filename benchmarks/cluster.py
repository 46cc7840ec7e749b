"""What grading on a Dask cluster costs against worker processes: ``--cluster local:2`` vs
``--jobs 2`` on the same class.

    python benchmarks/cluster.py [--students 6] [--assignments 01_masks ...] [--workers 2]
                                 [--no-sandbox] [--keep DIR]

Makes a class (reference, partial and untouched submissions in turn, as
``benchmarks/grading.py`` makes it), generates its release and template gradebook once,
and grades two copies of it: ``grade --jobs N`` and ``grade --cluster local:N`` (a Dask
``LocalCluster`` of N single-threaded workers). Prints the seconds of each run, the
difference per student (the engine's overhead: shipping each task and its result, Dask's
scheduling, the check of every worker before grading) with the start of the cluster apart,
the size of a task and a result, and Dask's own round trip for an empty task. Checks that
both runs wrote the same ``grades.csv``. Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from grading import make_class  # noqa: E402

from autograder import cluster, grade, sandbox, task  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--students", type=int, default=6)
    p.add_argument("--assignments", nargs="*", default=["01_masks"])
    p.add_argument("--workers", type=int, default=2, help="--jobs N and local:N")
    p.add_argument("--no-sandbox", action="store_true")
    p.add_argument("--keep", type=pathlib.Path, help="grade in this folder and keep it")
    args = p.parse_args(argv)
    root = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    root.mkdir(parents=True, exist_ok=True)
    mode = "off" if args.no_sandbox or sandbox.probe() is not None else "on"
    names = make_class(root, args.students, args.assignments)
    n = args.workers
    grade.ensure_data()
    courses = {}
    for name in ("jobs", "cluster"):
        courses[name] = root / name
        shutil.rmtree(courses[name], ignore_errors=True)
        shutil.copytree(root / "class", courses[name] / "submitted")
    started = time.perf_counter()
    grade.prepare(courses["jobs"], args.assignments)  # the release and template, once
    prepare = time.perf_counter() - started
    for kept in ("release", "gradebooks"):
        shutil.copytree(courses["jobs"] / kept, courses["cluster"] / kept)
    print(
        f"{len(names)} students x {', '.join(args.assignments)}; --jobs {n} vs --cluster "
        f"local:{n}; sandbox {mode}; {os.cpu_count()} CPU cores; load average "
        f"{os.getloadavg()[0]:.1f}; release and template generated once ({prepare:.1f} s)",
        flush=True,
    )
    options = dict(assignment_ids=args.assignments, sandbox_mode=mode)

    started = time.perf_counter()
    grade.grade(courses["jobs"], jobs=n, **options)
    jobs = time.perf_counter() - started
    print(f"grade --jobs {n}:            {jobs:7.1f} s (load average {os.getloadavg()[0]:.1f})")

    started = time.perf_counter()
    connection = cluster.connect(f"local:{n}", mode, log=io.StringIO())
    up = time.perf_counter() - started
    try:
        started = time.perf_counter()
        grade.grade(courses["cluster"], runner=connection.runner, **options)
        graded = time.perf_counter() - started
        ping = connection.runner.work
        client = connection.runner.client
        trips = []
        for _ in range(20):
            t = time.perf_counter()
            client.submit(ping, None, pure=False).result()
            trips.append(time.perf_counter() - t)
        attempts = connection.runner.attempts
    finally:
        connection.close()
    total = up + graded
    print(f"grade --cluster local:{n}:   {total:7.1f} s (load average {os.getloadavg()[0]:.1f})")
    print(f"  of which cluster start and worker checks: {up:6.1f} s")
    print(f"  of which grading:                         {graded:6.1f} s")
    per = (graded - jobs) / len(names)
    print(f"overhead per student, grading only:  {per:+6.2f} s ({(graded / jobs - 1):+.1%})")
    print(f"overhead per student, with the start: {(total - jobs) / len(names):+6.2f} s")
    on_worker = [a.finished - a.started for a in attempts if not a.error]
    shipped = [a.received - a.finished for a in attempts if not a.error]
    print(
        f"seconds per student on a worker (median): {statistics.median(on_worker):.1f}; "
        f"result back at the grader after the worker finished (median): "
        f"{statistics.median(shipped) * 1000:.0f} ms"
    )
    print(
        f"Dask round trip of an empty task (median of 20): {statistics.median(trips) * 1000:.1f} ms"
    )
    shared = task.shared_files(courses["cluster"], args.assignments)
    one = task.build(courses["cluster"], names[0], args.assignments, sandbox.Limits(), shared)
    print(f"a task: {len(task.pack(one)) / 1024:.0f} KiB packed")
    same = (courses["jobs"] / "grades.csv").read_bytes() == (
        courses["cluster"] / "grades.csv"
    ).read_bytes()
    print(f"grades.csv the same byte for byte: {'yes' if same else 'NO'}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
