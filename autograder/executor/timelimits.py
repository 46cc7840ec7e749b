"""Time limits: a cell that runs too long is interrupted, one that ignores it is stopped.

Each cell has ``timeout`` seconds (nbclient's setting); then the kernel is interrupted,
and a cell that does not stop within ``interrupt_grace`` seconds has its kernel killed
(the grader then restarts it, see :mod:`.restarts`). A notebook has ``notebook_timeout``
seconds in all: after that its kernel is killed and the remaining cells are marked as
not run.
"""

from __future__ import annotations

import os
import signal
from queue import Empty
from time import monotonic

from traitlets import HasTraits, Int

from autograder.executor.common import (
    NOT_RUN,
    TIME_LIMIT,
    UNRESPONSIVE,
    KernelStopped,
    error_output,
)


class TimeLimits(HasTraits):
    """Mixin for :class:`autograder.executor.GradingExecute`."""

    notebook_timeout = Int(900, help="seconds of execution per notebook").tag(config=True)
    interrupt_grace = Int(10, help="seconds a cell gets to stop after an interrupt").tag(
        config=True
    )

    def _start_clock(self) -> None:
        self._deadline = monotonic() + self.notebook_timeout
        self._stopped: str | None = None

    def _remaining(self) -> float:
        return self._deadline - monotonic()

    def _stop(self, why: str) -> None:
        """No more cells run in this notebook (``why`` is what they say)."""
        if self._stopped is None:
            self._stopped = why
            self._event("stopped", why)

    def _mark_rest(self, start: int) -> None:
        for cell in self.nb.cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(NOT_RUN, self._stopped or "not run")]
                cell.execution_count = None

    def _not_run(self, cell) -> bool:
        """Whether the cell must not run (the notebook is out of time or stopped): it says so."""
        if self._stopped is None and self._remaining() <= 0:
            self._stop(f"not run: the notebook used up its time limit of {self.notebook_timeout} s")
        if self._stopped is None:
            return False
        cell.outputs = [error_output(NOT_RUN, self._stopped)]
        cell.execution_count = None
        return True

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        remaining = max(1, int(self._remaining() + 0.999)) if hasattr(self, "_deadline") else None
        if remaining is None:
            return timeout
        return remaining if timeout is None else min(timeout, remaining)

    async def _async_poll_for_reply(
        self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive
    ):
        self._current_msg_id = msg_id
        return await super()._async_poll_for_reply(
            msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive
        )

    async def _async_handle_timeout(self, timeout, cell=None):
        if self._remaining() <= 0.5:
            await self._kill()
            raise KernelStopped(
                TIME_LIMIT,
                f"stopped: the notebook ran longer than its time limit of "
                f"{self.notebook_timeout} s in all",
                fatal=True,
            )
        await self.km.interrupt_kernel()
        if cell is None:  # waiting for the kernel itself (kernel_info)
            return None
        if await self._wait_reply(getattr(self, "_current_msg_id", ""), self.interrupt_grace):
            evalue = f"timed out: the cell ran longer than {timeout} s and was interrupted"
            return {
                "content": {
                    "status": "error",
                    "ename": "CellTimeoutError",
                    "evalue": evalue,
                    "traceback": [f"\x1b[0;31mCellTimeoutError\x1b[0m: {evalue}"],
                }
            }
        await self._kill()
        raise KernelStopped(
            UNRESPONSIVE,
            f"timed out: the cell ran longer than {timeout} s and did not stop when "
            f"interrupted, so its kernel was stopped",
        )

    async def _wait_reply(self, msg_id: str, timeout: float) -> dict | None:
        """The shell reply to ``msg_id`` within ``timeout`` seconds, or None."""
        deadline = monotonic() + timeout
        while (left := deadline - monotonic()) > 0:
            try:
                msg = await self.kc.shell_channel.get_msg(timeout=left)
            except Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    async def _kill(self) -> None:
        """Kill the kernel and everything it started (its process group)."""
        provisioner = getattr(self.km, "provisioner", None)
        pgid = getattr(provisioner, "pgid", None)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        try:
            await self.km._async_kill_kernel()
        except Exception:  # already gone
            pass
