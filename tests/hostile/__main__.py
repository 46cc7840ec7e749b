"""``python -m tests.hostile --course DIR [assignment]`` (from the repository root).

Writes the hostile suite into the empty folder DIR, grades it in one batch the way the
tests do (short time limits, the sandbox when it works here), and prints each case's
score next to the one it must get. Exit status 1 when a case got another score.
"""

from __future__ import annotations

import argparse
import pathlib

from tests.hostile.batch import run_batch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.hostile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("assignment", nargs="?", default="01_masks")
    p.add_argument("--course", type=pathlib.Path, required=True, help="an empty folder")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    batch = run_batch(args.assignment, args.jobs, args.course)
    bad = 0
    for case in batch.cases:
        got = float(batch.grades[case.student]["score"])
        bad += got != case.expected
        flag = "ok " if got == case.expected else "BAD"
        print(
            f"{flag} {case.student:22} {got:g} of {case.max_score:g} "
            f"(expected {case.expected:g}): {case.title}"
        )
    print(
        f"report: {batch.root / 'course' / 'cell_report.csv'}; "
        f"sandbox {'on' if batch.sandbox else 'OFF'}; {batch.result['seconds']} s"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
