"""Kernel restarts: when the kernel dies, say why, start a new one and go on.

When the kernel dies in a cell (``os._exit``, a segmentation fault, the memory limit,
``exit()``) the cell records why, a new kernel is started, the cells before it are run
again (without keeping their new outputs) and grading goes on with the next cell, up to
``max_restarts`` times: only what depends on the crashing cell loses points. Cells that
timed out or ended the kernel are not run again.

``exit()`` and ``quit()`` do not stop the kernel at once: IPython stops it a moment
after the cell, so whichever cell runs then would die. The cell that asked is known from
its reply (an ``ask_exit`` payload): the grader ends the kernel right after that cell
and blames it, so the outcome does not depend on timing.
"""

from __future__ import annotations

import asyncio
import signal

from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from traitlets import HasTraits, Int

from autograder.executor.common import KERNEL_DIED, KernelStopped, error_output

SIGNALS = {
    signal.SIGSEGV: "a segmentation fault (invalid memory access, e.g. from ctypes or C code)",
    signal.SIGBUS: "a bus error (invalid memory access)",
    signal.SIGILL: "an illegal instruction",
    signal.SIGFPE: "an arithmetic error in C code",
    signal.SIGABRT: "an abort (a failed check in C/C++ code, or running out of memory there)",
    signal.SIGKILL: "SIGKILL, usually the system's out-of-memory killer",
}
EXITED = (
    "the kernel was ended by exit() or quit() in this cell (in a notebook they end the "
    "kernel, not the cell: raise an exception to stop a cell)"
)

# After a MemoryError: drop what keeps the failed cell's memory alive (its traceback).
FREE_MEMORY = """
import sys as _s, gc as _g
_s.last_type = _s.last_value = _s.last_traceback = None
if hasattr(_s, "last_exc"):
    _s.last_exc = None
try:
    get_ipython().last_execution_result = None
except Exception:
    pass
del _s
_g.collect()
del _g
"""


def describe_exit(status: int | None, sandboxed: bool) -> str:
    """Why a kernel process ended, for a person."""
    if status is None:
        return "the kernel stopped responding"
    sig = -status if status < 0 else (status - 128 if sandboxed and status > 128 else 0)
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"the kernel crashed ({name}: {SIGNALS.get(sig, 'killed by a signal')})"
    return f"the kernel exited (exit code {status}, e.g. os._exit() or sys.exit() in C code)"


def asks_exit(reply: dict | None) -> bool:
    """Whether a cell called ``exit()``/``quit()`` (and did not keep the kernel), by its reply."""
    payloads = (reply or {}).get("content", {}).get("payload") or []
    return any(p.get("source") == "ask_exit" and not p.get("keepkernel") for p in payloads)


class KernelRestarts(HasTraits):
    """Mixin for :class:`autograder.executor.GradingExecute`."""

    max_restarts = Int(5, help="kernel deaths a notebook may survive").tag(config=True)

    def _start_restarts(self) -> None:
        self._died: str | None = None
        self._crashed: set[int] = set()  # cells not to run again: they timed out or crashed
        self._replay_problem = ""
        self._restarts = 0
        self._exit_asked = False

    def _run_all(self) -> None:
        start: int | None = 0
        while start is not None:
            start = self._session(start)

    def _session(self, start: int) -> int | None:
        """One kernel: replay the cells before ``start``, run the rest; where to go on, or None."""
        self.km = self.kc = None
        with self.setup_kernel():
            reply = self.wait_for_reply(self.kc.kernel_info())
            if reply:
                self.nb.metadata["language_info"] = reply["content"]["language_info"]
            self._install_guard()
            if start and not self._replay(start):
                self._stop(
                    f"not run: the kernel died in an earlier cell and running the cells before "
                    f"it again failed ({self._replay_problem})"
                )
                self._mark_rest(start)
                return None
            for index in range(start, len(self.nb.cells)):
                self.preprocess_cell(self.nb.cells[index], self.resources, index)
                if self._died is not None:
                    return self._after_death(index)
        return None

    def _after_death(self, index: int) -> int | None:
        why, self._died = self._died, None
        if self._restarts < self.max_restarts and self._remaining() > 5:
            self._restarts += 1
            self._event(
                "restart",
                f"{why}; a new kernel ran the cells before it again and grading went "
                "on with the next cell",
                self.nb.cells[index],
            )
            return index + 1
        self._stop(
            f"not run: {why} in cell {index}, and the kernel was not restarted "
            f"again ({self._restarts} restarts)"
        )
        self._mark_rest(index + 1)
        return None

    def _replay(self, stop: int) -> bool:
        """Run the code cells before ``stop`` again in the new kernel, outputs discarded.

        Cells that timed out or killed the kernel the first time are left out.
        """
        for index, cell in enumerate(self.nb.cells[:stop]):
            if cell.cell_type != "code" or not cell.source.strip() or index in self._crashed:
                continue
            if self._remaining() <= 0:
                self._replay_problem = f"the notebook used up its {self.notebook_timeout} s"
                return False
            timeout = max(1, min(self.timeout or 3600, self._remaining()))
            msg_id = self.kc.execute(cell.source, store_history=True, stop_on_error=False)
            if run_sync(self._wait_reply)(msg_id, timeout) is None:
                if not run_sync(self.km.is_alive)():
                    self._replay_problem = f"cell {index} killed the new kernel too"
                    return False
                run_sync(self.km.interrupt_kernel)()
                if run_sync(self._wait_reply)(msg_id, self.interrupt_grace) is None:
                    self._replay_problem = f"cell {index} did not finish when run again"
                    return False
        return True

    async def _run_surviving(self, run, cell, cell_index):
        """``await run()``, recording on ``cell`` a kernel death or a stop by the grader."""
        self._exit_asked = False
        try:
            cell = await run()
        except DeadKernelError:
            status = await self._exit_status()
            why = EXITED if self._exit_asked else describe_exit(status, self._sandboxed())
            self._died_in(cell, cell_index, KERNEL_DIED, why)
        except KernelStopped as stop:
            self._died_in(cell, cell_index, stop.ename, stop.evalue)
            if stop.fatal:
                self._died = None
                self._stop(f"not run: {stop.evalue}")
        else:
            if self._exit_asked:  # end it now, before another cell runs into its death
                await self._kill()
                self._died_in(cell, cell_index, KERNEL_DIED, EXITED)
        return cell

    def _died_in(self, cell, cell_index: int, ename: str, why: str) -> None:
        cell.outputs.append(error_output(ename, why))
        self._crashed.add(cell_index)
        self._died = why

    def _note_exit(self, reply: dict | None) -> None:
        if asks_exit(reply):
            self._exit_asked = True

    def _sandboxed(self) -> bool:
        return bool(self.km.sandbox) if self.km else False

    async def _exit_status(self) -> int | None:
        for _ in range(20):  # the process may take a moment to be reaped
            status = self.km.exit_status() if self.km else None
            if status is not None:
                return status
            await asyncio.sleep(0.1)
        return None

    async def _free_memory(self, cell) -> None:
        if any(o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
            await self._side_execute(FREE_MEMORY, timeout=30)  # the traceback keeps it alive
