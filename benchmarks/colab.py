"""How long the Colab-like runs take: the environment, then each notebook, solution and student.

    python benchmarks/colab.py [assignments ...]

Creates (or reuses) the Colab-like environment of ``autograder/colablike.py``, publishes
the course into a temporary student repository, and runs every solution notebook top to
bottom and every student notebook up to its first exercise, as the test suite does.
Prints seconds per run and of its setup cell (helper install from git and TensorFlow's
import); never asserts (timings depend on the machine and on what else runs on it).
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from autograder import colablike, course, publish, sources  # noqa: E402

URL = "https://github.com/bench-school/unet-students"


def main(assignment_ids: list[str]) -> None:
    started = time.perf_counter()
    env = colablike.ensure_environment()
    made = f"created in {env.created_in:.0f} s" if env.created_in else "reused"
    print(f"environment: {made} ({env.root})")
    began = time.perf_counter()
    colablike.ensure_pets_download(env)
    print(f"stand-in Oxford-IIIT Pet archives: {time.perf_counter() - began:.0f} s")
    with tempfile.TemporaryDirectory(prefix="bench-colab-") as tmp:
        tmp = pathlib.Path(tmp)
        began = time.perf_counter()
        published = publish.publish(tmp / "students", sources.Repository(URL))
        print(f"publish: {time.perf_counter() - began:.0f} s\n")
        print(f"{'notebook':<12} {'version':<8} {'seconds':>8} {'setup cell':>11}  ends")
        for assignment in assignment_ids:
            folder = tmp / assignment
            folder.mkdir()
            runs = {
                "solution": colablike.solution_copy(assignment, URL, folder),
                "student": published.out / "notebooks" / assignment / f"{assignment}.ipynb",
            }
            for kind, notebook in runs.items():
                done = colablike.run(env, notebook, published.out, URL)
                setup = done.cell_seconds("setup")
                ends = "at the end" if done.error is None else (
                    f"cell {done.error['cell']} {done.error['ename']}"
                )
                seconds = f"{done.seconds:>8.0f} {setup or 0:>11.0f}"
                print(f"{assignment:<12} {kind:<8} {seconds}  {ends}")
    print(f"\nall: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:] or course.assignments())
