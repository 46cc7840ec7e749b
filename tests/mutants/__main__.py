"""``python -m tests.mutants [assignment ...]``: grade the mutants, print the table."""

import argparse
import sys

from . import harness


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__)
    parser.add_argument("assignments", nargs="*", help="default: every assignment with mutants")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--core", action="store_true",
        help="only the core make test grades (12 mistakes, 2 equivalents, the hard-coder)",
    )
    args = parser.parse_args()
    bad = 0
    for assignment in args.assignments or harness.assignments():
        mutants = harness.core(assignment) if args.core else None
        results = harness.run(assignment, mutants, jobs=args.jobs)
        print(harness.table(results))
        print(f"{assignment}: {harness.summary(results)}\n", flush=True)
        bad += sum(r.verdict != "ok" for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
