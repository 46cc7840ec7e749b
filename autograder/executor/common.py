"""What the parts of the executor share: the error names it gives cells, and its events."""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader import utils

#: (assignment, notebook) -> events of the last run: dicts with "kind", "cell", "text".
EVENTS: dict[tuple[str, str], list[dict]] = {}

# error names the grader gives cells (report.py explains them)
KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
TIME_LIMIT = "NotebookTimeLimit"
TAMPERED = "GradingTampered"
UNRESPONSIVE = "KernelUnresponsive"
OUTPUT_LOST = "OutputTimeout"
ABORTED = "CellAborted"

#: The reason every test cell gets when the guard found the submission at work.
INTERFERED = "the submission interfered with the tests"


class KernelStopped(Exception):
    """The grader stopped the kernel (``fatal``: and the notebook; else it restarts)."""

    def __init__(self, ename: str, evalue: str, fatal: bool = False):
        super().__init__(evalue)
        self.ename, self.evalue, self.fatal = ename, evalue, fatal


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error",
        ename=ename,
        evalue=evalue,
        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"],
    )


def is_test(cell) -> bool:
    """A graded test cell (its points come from running it)."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def has_error(cell, *names: str) -> bool:
    """The cell has an error output (named one of ``names``, when given)."""
    return any(
        o.get("output_type") == "error" and (not names or o.get("ename") in names)
        for o in cell.get("outputs", [])
    )
