"""How fast grading is: seconds per submission with 1 and 2 workers, with and without sandbox.

    python benchmarks/grading.py [--students 8] [--assignments 01_masks ...] [--keep DIR]

Grades the same made-up class (reference, partial and untouched submissions in turn)
four times: ``--jobs 1`` and ``--jobs 2``, each with the sandbox (bubblewrap) and without.
The floor is what no grader can avoid: starting a kernel and importing TensorFlow, once
per notebook (measured here, the same way: plain and sandboxed). Prints figures; never
asserts (timings depend on the machine and on what else runs on it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from autograder import course, grade, release, sandbox, submissions  # noqa: E402

KINDS = ("reference", "partial", "untouched")


def make_class(root: pathlib.Path, students: int, assignment_ids: list[str]) -> list[str]:
    """``students`` submissions per assignment, cycling through reference/partial/untouched."""
    made = root / "made"
    release.generate(root / "release", assignment_ids)
    submissions.write_submissions(root / "release", made, assignment_ids)
    names = []
    for n in range(students):
        kind = KINDS[n % len(KINDS)]
        name = f"s{n:02d}_{kind}"
        for assignment in assignment_ids:
            for nb in (made / kind / assignment).glob("*.ipynb"):
                target = root / "class" / name / assignment
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(nb, target / nb.name)
        names.append(name)
    return names


def floor(sandboxed: bool, repeat: int = 3) -> float:
    """Seconds to start a kernel (as grading does) and import TensorFlow in it (median)."""
    from traitlets.config import Config

    async def once(cwd: str) -> float:
        config = Config()
        config.GradingKernelManager.sandbox = sandboxed
        km = sandbox.GradingKernelManager(kernel_name="python3", config=config)
        started = time.perf_counter()
        await km.start_kernel(cwd=cwd)
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=120)
        await kc.execute_interactive("import tensorflow", timeout=300)
        took = time.perf_counter() - started
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        return took

    env = dict(os.environ)
    os.environ.update(TF_CPP_MIN_LOG_LEVEL="3", NBGRADER_EXECUTION="autograde")
    try:
        with tempfile.TemporaryDirectory() as cwd:
            times = [asyncio.run(once(cwd)) for _ in range(repeat)]
    finally:
        os.environ.clear()
        os.environ.update(env)
    return statistics.median(times)


def run(root: pathlib.Path, jobs: int, sandboxed: bool, assignment_ids: list[str]) -> float:
    course_root = root / f"jobs{jobs}-{'sandbox' if sandboxed else 'plain'}"
    shutil.rmtree(course_root, ignore_errors=True)
    shutil.copytree(root / "class", course_root / "submitted")
    started = time.perf_counter()
    result = grade.grade(
        course_root,
        jobs=jobs,
        assignment_ids=assignment_ids,
        sandbox_mode="on" if sandboxed else "off",
    )
    took = time.perf_counter() - started
    scores = sorted({r["score"] for r in result["rows"]})
    print(f"    graded in {took:.1f} s (scores seen: {', '.join(scores)})", flush=True)
    return took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--students", type=int, default=8)
    p.add_argument("--assignments", nargs="*", default=["01_masks"])
    p.add_argument("--keep", type=pathlib.Path, help="grade in this folder and keep it")
    p.add_argument("--no-sandbox", action="store_true", help="only grade without the sandbox")
    args = p.parse_args(argv)
    root = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-grading-"))
    root.mkdir(parents=True, exist_ok=True)
    modes = [False] if args.no_sandbox or sandbox.probe() is not None else [False, True]
    names = make_class(root, args.students, args.assignments)
    notebooks = len(names) * sum(len(course.notebook_names(a)) for a in args.assignments)
    grade.ensure_data()
    print(
        f"{len(names)} students x {', '.join(args.assignments)} = {notebooks} notebooks; "
        f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f}"
    )
    floors = {}
    for sandboxed in modes:
        floors[sandboxed] = floor(sandboxed)
        label = "sandboxed" if sandboxed else "plain"
        print(f"floor ({label}): kernel start + import tensorflow = {floors[sandboxed]:.2f} s")
    results = {}
    for sandboxed in modes:
        for jobs in (1, 2):
            label = f"--jobs {jobs}, sandbox {'on' if sandboxed else 'off'}"
            print(f"grading with {label} ...", flush=True)
            results[jobs, sandboxed] = run(root, jobs, sandboxed, args.assignments)
    print(
        f"\n{'configuration':28} {'total s':>8} {'s/submission':>13} {'floor s':>8} {'x floor':>8}"
    )
    for (jobs, sandboxed), took in results.items():
        total_floor = floors[sandboxed] * notebooks
        label = f"--jobs {jobs}, sandbox {'on' if sandboxed else 'off'}"
        print(
            f"{label:28} {took:8.1f} {took / notebooks:13.2f} {total_floor:8.1f} "
            f"{took / total_floor:8.2f}"
        )
    print(
        "\nfloor = (kernel start + import tensorflow) x notebooks, run one after another; with "
        "2 workers on 2 cores the best possible is about half of it."
    )
    if (1, False) in results and (2, False) in results:
        print(f"speed-up of --jobs 2 (no sandbox): {results[1, False] / results[2, False]:.2f}x")
    if (1, True) in results:
        print(f"cost of the sandbox (--jobs 1): {results[1, True] / results[1, False] - 1:+.1%}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
