"""The suite: every builder's cases, written into a course folder."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from autograder import course
from tests.hostile import broken, forged
from tests.hostile.base import Case, Release

BUILDERS: list[Callable] = [
    broken.honest,
    broken.runaway,
    broken.crashes,
    broken.memory_bomb,
    broken.structure,
    broken.editors,
    broken.files,
    broken.output_flood,
    broken.exits,
    broken.old_format,
    broken.honest_noise,
    forged.spies,
    forged.tampering,
    forged.during_tests,
    forged.aborts,
]


def write_suite(
    course_root: pathlib.Path,
    release_dir: pathlib.Path | None = None,
    assignment: str = "01_masks",
    sandbox: bool = True,
    answer_url: str | None = None,
    only: list[str] | None = None,
) -> list[Case]:
    """Write the suite's submissions into ``course_root/submitted``; return the cases.

    ``release_dir``: the student versions (default ``notebooks/``). Cases whose outcome
    depends on the sandbox are left out when ``sandbox`` is False. ``answer_url``: where
    the network case downloads its answer from (a server the caller runs, to show that
    the refusal is the sandbox's doing). ``only``: these students only.
    """
    course_root = pathlib.Path(course_root)
    release_dir = pathlib.Path(release_dir or course.NOTEBOOKS)
    (notebook,) = course.notebook_names(assignment)[:1] or [assignment]
    r = Release(release_dir, assignment, notebook)
    ctx = {"course_root": course_root, "answer_url": answer_url}
    cases = []
    for builder in BUILDERS:
        for case, contents in builder(r, ctx):
            if (case.sandbox_only and not sandbox) or (only and case.student not in only):
                continue
            folder = course_root / "submitted" / case.student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in contents.items():
                (folder / name).write_text(text, encoding="utf-8")
            case.max_score = r.max_score
            case.expected = 0.0 if case.whole else r.max_score - sum(r.points[t] for t in case.lost)
            cases.append(case)
    return cases
