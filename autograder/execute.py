"""``execute``: run the solution notebooks end to end and keep their outputs (reference runs)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import time

import nbformat
from nbclient import NotebookClient

from autograder import course


@contextlib.contextmanager
def _environment(**values: str | None):
    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(
    path: pathlib.Path,
    save_to: pathlib.Path | None = None,
    grading: str | None = None,
    timeout: int = 3600,
):
    """Execute one notebook in its own folder; return it with outputs (optionally saved).

    ``grading`` sets ``NBGRADER_EXECUTION`` (``"validate"`` gives the small budgets used
    when grading); ``None`` runs it as a student would, with the full local budget.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    with _environment(NBGRADER_EXECUTION=grading, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND=None):
        client.execute()
    if save_to is not None:
        nbformat.write(nb, save_to)
    return nb


def errors(nb) -> list[str]:
    """One line per cell that ended in an error: ``cell N (grade id): Name: message``."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
                found.append(f"cell {i} {gid}: {out['ename']}: {out['evalue'][:300]}")
    return found


def execute_solutions(assignment_ids: list[str] | None = None) -> int:
    """Execute every solution notebook in place; report errors; return the number of failures."""
    failures = 0
    for assignment in assignment_ids or course.assignments():
        for path in sorted((course.SOLUTIONS / assignment).glob("*.ipynb")):
            started = time.perf_counter()
            nb = run(path, save_to=path)
            problems = errors(nb)
            took = time.perf_counter() - started
            print(
                f"{path.relative_to(course.REPO)}: {took:.0f} s"
                + ("" if not problems else "\n  " + "\n  ".join(problems))
            )
            failures += bool(problems)
    return failures
