"""Outputs: capped while they are read, and nothing in a test cell's output but errors scores.

* Output is capped per cell and per notebook (megabytes of prints cannot exhaust the
  grader), and kernel messages larger than a limit are refused.
* nbgrader scores a test cell from its outputs: 0 for an error or any stderr, the number
  of an ``execute_result`` as partial credit, and *full* points for an ``execute_result``
  that is not a number. The grader makes the points depend only on whether the cell
  raised: a test cell's ``execute_result``s become ``display_data`` (same data, no
  score; student code can make one with ``sys.displayhook``), and its stderr text
  (logging, warnings, progress bars) becomes plain text (:class:`StderrAsText`).
  Partial credit printed by a test cell is therefore not supported.
"""

from __future__ import annotations

import re

import zmq
from jupyter_core.utils import ensure_async, run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import HasTraits, Int

from autograder.executor.common import is_test
from autograder.sandbox import MiB

CARRIAGE_RETURN = re.compile(r"[^\n]*\r(?=[^\n])")  # text a later \r writes over


class OutputCaps(HasTraits):
    """Mixin for :class:`autograder.executor.GradingExecute`."""

    output_per_cell = Int(2 * MiB, help="characters of output kept per cell").tag(config=True)
    output_per_notebook = Int(20 * MiB, help="characters of output kept per notebook").tag(
        config=True
    )
    max_message = Int(64 * MiB, help="largest kernel message accepted, bytes").tag(config=True)

    def _start_cell_output(self) -> None:
        self._cell_output = 0
        self._cell_truncated = False

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg.get("content", {}))
        cell_left = self.output_per_cell - getattr(self, "_cell_output", 0)
        nb_left = self.output_per_notebook - getattr(self, "_nb_output", 0)
        if size > min(cell_left, nb_left):
            if not getattr(self, "_cell_truncated", False):
                self._cell_truncated = True
                limit = self.output_per_cell if cell_left <= nb_left else self.output_per_notebook
                scope = "this cell" if cell_left <= nb_left else "this notebook"
                text = (
                    f"\n[output truncated by the grader: {scope} printed more than "
                    f"{limit / MiB:g} MB]\n"
                )
                outs.append(NotebookNode(output_type="stream", name="stdout", text=text))
                cell = self.nb.cells[cell_index]
                self._event("truncated", f"output of {scope} cut at {limit / MiB:g} MB", cell)
            return None
        self._cell_output = getattr(self, "_cell_output", 0) + size
        self._nb_output = getattr(self, "_nb_output", 0) + size
        return super().output(outs, msg, display_id, cell_index)

    async def async_start_new_kernel_client(self):
        """nbclient's, with a cap on the size of the messages the grader accepts."""
        assert self.km is not None
        try:
            self.kc = self.km.client()
            if self.max_message:
                self.kc.context.setsockopt(zmq.MAXMSGSIZE, self.max_message)
            await ensure_async(self.kc.start_channels())
            await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        except Exception:
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)


def without_scores(cell) -> None:
    """A test cell's ``execute_result`` outputs as ``display_data``: shown, never a score."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            output.output_type = "display_data"
            output.pop("execution_count", None)
            output.setdefault("metadata", {})


def stderr_as_text(cell) -> None:
    """A test cell's stderr streams as one plain text output (``display_data``), not a failure.

    The pieces are joined where the first one was, and carriage returns are applied the
    way a terminal would (a progress bar keeps its last state).
    """
    outputs, merged = [], None
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            if merged is None:
                merged = NotebookNode(
                    output_type="display_data",
                    data={"text/plain": ""},
                    metadata={"autograder": {"stream": "stderr"}},
                )
                outputs.append(merged)
            text = output.get("text", "")
            merged.data["text/plain"] += "".join(text) if isinstance(text, list) else text
        else:
            outputs.append(output)
    if merged is not None:
        merged.data["text/plain"] = CARRIAGE_RETURN.sub("", merged.data["text/plain"])
    cell.outputs = outputs


class StderrAsText(NbGraderPreprocessor):
    """The stderr policy: in a graded test cell, errors are error outputs, stderr is text.

    nbgrader gives 0 to a test cell with any stderr output, so correct code that logs
    (``logging.warning``, ``print(..., file=sys.stderr)``, a progress bar) would lose its
    points. Runs after nbgrader's ``IgnorePattern`` (which drops TensorFlow's log lines)
    and ``LimitOutput``, before the grades are saved.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if is_test(cell):
            stderr_as_text(cell)
        return cell, resources


def _size(content) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, dict):
        return sum(_size(v) for v in content.values())
    if isinstance(content, (list, tuple)):
        return sum(_size(v) for v in content)
    return 0
