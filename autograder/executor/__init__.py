"""How a submission's cells are run while grading: nbgrader's Execute, made robust.

:class:`GradingExecute` takes the place of nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors`` (see ``grade.student_config``). Compared with it:

* kernels are started by :class:`autograder.sandbox.GradingKernelManager`: limits always,
  bubblewrap when the sandbox is on (nbgrader's Execute forces its own kernel manager
  class through keyword arguments, hence a subclass and not a configuration value);
* time limits per cell and per notebook (:mod:`.timelimits`);
* a kernel that dies is restarted, the cells before it replayed (:mod:`.restarts`);
* output is capped, and a test cell's points depend only on whether it raised
  (:mod:`.outputs`);
* the test helpers are restored and checked before and at the end of every graded test
  cell (:mod:`.guard`).

Everything notable is recorded in :data:`EVENTS` for the report.
"""

from __future__ import annotations

import functools

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError
from nbgrader.preprocessors import Execute

from autograder.executor.common import (
    ABORTED,
    EVENTS,
    INTERFERED,
    KERNEL_DIED,
    NOT_RUN,
    OUTPUT_LOST,
    TAMPERED,
    TIME_LIMIT,
    UNRESPONSIVE,
    KernelStopped,
    error_output,
    has_error,
    is_test,
)
from autograder.executor.guard import TestGuard
from autograder.executor.outputs import OutputCaps, StderrAsText, without_scores
from autograder.executor.restarts import KernelRestarts, describe_exit
from autograder.executor.timelimits import TimeLimits
from autograder.sandbox import GradingKernelManager

__all__ = [
    "ABORTED",
    "EVENTS",
    "INTERFERED",
    "KERNEL_DIED",
    "NOT_RUN",
    "OUTPUT_LOST",
    "TAMPERED",
    "TIME_LIMIT",
    "UNRESPONSIVE",
    "GradingExecute",
    "KernelStopped",
    "StderrAsText",
    "describe_exit",
    "error_output",
    "is_test",
]


class GradingExecute(TestGuard, OutputCaps, KernelRestarts, TimeLimits, Execute):
    """nbgrader's Execute with limits, a sandboxed kernel, crash recovery and a test guard."""

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = GradingKernelManager
        # nothing in a graded kernel needs a graceful shutdown (its outputs are read):
        # killing it saves seconds per notebook
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        info = (resources or {}).get("nbgrader", {})
        key = (info.get("assignment", ""), info.get("notebook", ""))
        self._events = EVENTS[key] = []
        self._start_clock()
        self._start_restarts()
        self._nb_output = 0
        self._run_all()
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _label(self, cell) -> str:
        label = cell.metadata.get("nbgrader", {}).get("grade_id") or ""
        if not label:
            index = next((i for i, c in enumerate(self.nb.cells) if c is cell), None)
            label = f"cell {index}" if index is not None else ""
        return label

    def _event(self, kind: str, text: str, cell=None) -> None:
        self._events.append({"kind": kind, "cell": self._label(cell) if cell else "", "text": text})

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        run = functools.partial(
            super().async_execute_cell, cell, cell_index, execution_count, store_history
        )
        if cell.cell_type != "code" or not cell.source.strip():
            return await run()
        if self._not_run(cell):
            return cell
        self._start_cell_output()
        cell = await self._run_surviving(
            lambda: self._guarded(lambda: self._read_outputs(run, cell), cell, cell_index),
            cell,
            cell_index,
        )
        if is_test(cell):
            without_scores(cell)
        if has_error(cell, "CellTimeoutError"):
            self._crashed.add(cell_index)  # not run again after a restart
            if not is_test(cell):  # (a test cell's row says it already)
                why = next(
                    o.get("evalue") for o in cell.outputs if o.get("ename") == "CellTimeoutError"
                )
                self._event(
                    "timeout",
                    f"{why or 'timed out'}; this cell is not "
                    "graded itself, but what it should have defined or computed is missing "
                    "for the cells after it",
                    cell,
                )
        await self._free_memory(cell)
        return cell

    execute_cell = run_sync(async_execute_cell)

    async def _read_outputs(self, run, cell):
        try:
            return await run()
        except CellTimeoutError:
            why = "the cell's output could not be read completely (too much, or too fast)"
            cell.outputs.append(error_output(OUTPUT_LOST, why))
            self._event("output", why, cell)
            return cell

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        reply = kwargs.get("execute_reply") or {}
        self._note_exit(reply)
        if reply.get("content", {}).get("status") == "aborted":
            # an aborted cell has no error output: nbgrader would give it full points
            kwargs["cell"].outputs.append(
                error_output(
                    ABORTED,
                    "not run: the kernel aborted this cell instead of running it (student code "
                    "can cause this, e.g. through the kernel's internals)",
                )
            )
