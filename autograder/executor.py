"""How a submission's cells are run while grading: nbgrader's Execute, made robust.

:class:`GradingExecute` takes the place of nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors`` (see ``grade.student_config``). Compared with it:

* kernels are started by :class:`autograder.sandbox.GradingKernelManager`: limits always,
  bubblewrap when the sandbox is on (nbgrader's Execute forces its own kernel manager
  class through keyword arguments, hence a subclass and not a configuration value);
* a cell that runs too long is interrupted (``cell_timeout``); one that ignores the
  interrupt has its kernel stopped; a notebook has ``notebook_timeout`` seconds in all,
  after which its kernel is stopped and the remaining cells are marked as not run;
* when the kernel dies (``os._exit``, a segmentation fault, the memory limit) the cell
  records why, a new kernel is started, the cells before it are run again (without
  keeping their new outputs) and grading goes on with the next cell, up to
  ``max_restarts`` times: only what depends on the crashing cell loses points;
* output is capped per cell and per notebook (megabytes of prints cannot exhaust the
  grader), and kernel messages larger than a limit are refused;
* before each graded test cell the test helpers are restored (``unet_course._grading``)
  and a check that must fail is run; if it passes, student code has subverted the tests
  and the cell gets an error (no points) saying so.

Everything notable is recorded in :data:`EVENTS` for the report.
"""

from __future__ import annotations

import ast
import asyncio
import os
import secrets
import signal
from queue import Empty
from time import monotonic

import zmq
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Int, List, Unicode

from autograder.sandbox import GradingKernelManager, MiB

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

SIGNALS = {
    signal.SIGSEGV: "a segmentation fault (invalid memory access, e.g. from ctypes or C code)",
    signal.SIGBUS: "a bus error (invalid memory access)",
    signal.SIGILL: "an illegal instruction",
    signal.SIGFPE: "an arithmetic error in C code",
    signal.SIGABRT: "an abort (a failed check in C/C++ code, or running out of memory there)",
    signal.SIGKILL: "SIGKILL, usually the system's out-of-memory killer",
}


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
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


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


class GradingExecute(Execute):
    """nbgrader's Execute with limits, a sandboxed kernel, crash recovery and a test guard."""

    notebook_timeout = Int(900, help="seconds of execution per notebook").tag(config=True)
    max_restarts = Int(5, help="kernel deaths a notebook may survive").tag(config=True)
    interrupt_grace = Int(10, help="seconds a cell gets to stop after an interrupt").tag(
        config=True
    )
    output_per_cell = Int(2 * MiB, help="characters of output kept per cell").tag(config=True)
    output_per_notebook = Int(20 * MiB, help="characters of output kept per notebook").tag(
        config=True
    )
    max_message = Int(64 * MiB, help="largest kernel message accepted, bytes").tag(config=True)
    guard = Bool(True, help="restore the test helpers and run a canary before tests").tag(
        config=True
    )
    guard_restore = Bool(True, help="restore the helpers (off: only the canary, for tests)").tag(
        config=True
    )
    guard_modules = List(
        Unicode(), ["numpy", "unet_course.checks", "tensorflow"], help="modules the guard watches"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = GradingKernelManager
        # nothing in a graded kernel needs a graceful shutdown (its outputs are read):
        # killing it saves seconds per notebook
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ the notebook loop

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        info = (resources or {}).get("nbgrader", {})
        key = (info.get("assignment", ""), info.get("notebook", ""))
        self._events = EVENTS[key] = []
        self._deadline = monotonic() + self.notebook_timeout
        self._stopped: str | None = None
        self._died: str | None = None
        self._crashed: set[int] = set()  # cells not to run again: they timed out or crashed
        self._replay_problem = ""
        self._restarts = 0
        self._nb_output = 0
        start: int | None = 0
        while start is not None:
            start = self._session(start)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _event(self, kind: str, text: str, cell=None) -> None:
        label = ""
        if cell is not None:
            label = cell.metadata.get("nbgrader", {}).get("grade_id") or ""
            if not label:
                index = next((i for i, c in enumerate(self.nb.cells) if c is cell), None)
                label = f"cell {index}" if index is not None else ""
        self._events.append({"kind": kind, "cell": label, "text": text})

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
        return None

    def _remaining(self) -> float:
        return self._deadline - monotonic()

    def _stop(self, why: str) -> None:
        if self._stopped is None:
            self._stopped = why
            self._event("stopped", why)

    def _mark_rest(self, start: int) -> None:
        for cell in self.nb.cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output(NOT_RUN, self._stopped or "not run")]
                cell.execution_count = None

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

    # ------------------------------------------------------------------ one cell

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        remaining = max(1, int(self._remaining() + 0.999)) if hasattr(self, "_deadline") else None
        if remaining is None:
            return timeout
        return remaining if timeout is None else min(timeout, remaining)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )
        if self._stopped is None and self._remaining() <= 0:
            self._stop(f"not run: the notebook used up its time limit of {self.notebook_timeout} s")
        if self._stopped is not None:
            cell.outputs = [error_output(NOT_RUN, self._stopped)]
            cell.execution_count = None
            return cell
        self._cell_output = 0
        self._cell_truncated = False
        tampered = await self._guard_before(cell) if self.guard and is_test(cell) else None
        try:
            cell = await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )
        except DeadKernelError:
            status = await self._exit_status()
            why = describe_exit(status, self.km.sandbox if self.km else False)
            cell.outputs.append(error_output(KERNEL_DIED, why))
            self._crashed.add(cell_index)
            self._died = why
        except KernelStopped as stop:
            cell.outputs.append(error_output(stop.ename, stop.evalue))
            self._crashed.add(cell_index)
            if stop.fatal:
                self._stop(f"not run: {stop.evalue}")
            else:
                self._died = stop.evalue
        except CellTimeoutError:
            why = "the cell's output could not be read completely (too much, or too fast)"
            cell.outputs.append(error_output(OUTPUT_LOST, why))
            self._event("output", why, cell)
        if tampered:
            cell.outputs.append(error_output(TAMPERED, tampered))
            self._event("tampered", tampered, cell)
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            self._crashed.add(cell_index)
        if any(o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
            await self._side_execute(FREE_MEMORY, timeout=30)  # the traceback keeps it alive
        return cell

    execute_cell = run_sync(async_execute_cell)

    async def _exit_status(self) -> int | None:
        for _ in range(20):  # the process may take a moment to be reaped
            status = self.km.exit_status() if self.km else None
            if status is not None:
                return status
            await asyncio.sleep(0.1)
        return None

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

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        reply = kwargs.get("execute_reply") or {}
        if reply.get("content", {}).get("status") == "aborted":
            # an aborted cell has no error output: nbgrader would give it full points
            kwargs["cell"].outputs.append(
                error_output(
                    ABORTED,
                    "not run: the kernel aborted this cell instead of running it (student code "
                    "can cause this, e.g. through the kernel's internals)",
                )
            )

    # ------------------------------------------------------------------ output

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

    # ------------------------------------------------------------------ the kernel side

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

    async def _side_execute(
        self,
        code: str,
        timeout: float = 60,
        silent: bool = True,
        user_expressions: dict | None = None,
    ) -> dict | None:
        """Run code the grader needs (not a cell); the reply, or None without one in time."""
        try:
            # stop_on_error=False: a failing check must not make the kernel abort the next cell
            msg_id = self.kc.execute(
                code,
                silent=silent,
                store_history=False,
                user_expressions=user_expressions or {},
                stop_on_error=False,
            )
        except Exception:
            return None
        deadline = monotonic() + timeout
        while (left := deadline - monotonic()) > 0:
            try:
                msg = await self.kc.shell_channel.get_msg(timeout=min(left, 1.0))
            except Empty:
                if not await self.km.is_alive():
                    return None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    def _install_guard(self) -> None:
        if not self.guard:
            return
        modules = ", ".join(repr(m) for m in self.guard_modules)
        expr = f"__import__('unet_course._grading', fromlist=['install']).install([{modules}])"
        # (imports TensorFlow, which the notebook's setup cell would import anyway)
        timeout = max(1, min(max(self.timeout or 0, 120), self._remaining()))
        reply = run_sync(self._side_execute)("", timeout=timeout, user_expressions={"ag": expr})
        value = _expression(reply)
        if value is None:
            self._event("guard", "the test-helper guard could not be installed in the kernel")

    async def _guard_before(self, cell) -> str | None:
        """Restore the helpers, run a check that must fail; why the test can't be trusted."""
        call = "restore(globals())" if self.guard_restore else "new_threads()"
        expr = f"__import__('unet_course._grading', fromlist=['restore']).{call}"
        reply = await self._side_execute("", timeout=30, user_expressions={"ag": expr})
        if reply is None:
            return None  # the kernel is busy or gone: the cell itself will say so
        if reply["content"].get("status") == "aborted":
            return (
                "the kernel refused to run the grader's check before this test (it aborts "
                "requests), so the test result cannot be trusted"
            )
        restored = _expression(reply)
        if restored is None:
            return (
                "the grader could not check the test helpers before this test (the submission "
                "changed Python's import machinery or the notebook's builtins), so its result "
                "cannot be trusted"
            )
        if restored and self.guard_restore:
            shown = ", ".join(restored[:8]) + (" …" if len(restored) > 8 else "")
            self._event(
                "restored",
                f"changed by the submission and restored before this test: {shown}",
                cell,
            )
        nonce = secrets.token_hex(6)
        a = secrets.randbelow(10**6)
        canary = f"checks.expect_equal({a}, {a + 1 + secrets.randbelow(99)}, 'check {nonce}')"
        reply = await self._side_execute(canary, timeout=30, silent=False)
        if reply is None:
            return None
        content = reply["content"]
        fooled = content.get("status") == "ok" or (
            content.get("ename") == "AssertionError" and nonce not in content.get("evalue", "")
        )
        if fooled:
            return (
                "the test result cannot be trusted: a check that must fail passed, so the "
                "submission interferes with the tests (needs a person to review it)"
            )
        return None


def _expression(reply: dict | None):
    """The value of the grader's user expression in a reply (a Python literal), else None."""
    if not reply or reply["content"].get("status") != "ok":
        return None
    result = reply["content"].get("user_expressions", {}).get("ag", {})
    if result.get("status") != "ok":
        return None
    try:
        return ast.literal_eval(result.get("data", {}).get("text/plain", ""))
    except (ValueError, SyntaxError):
        return None


def _size(content) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, dict):
        return sum(_size(v) for v in content.values())
    if isinstance(content, (list, tuple)):
        return sum(_size(v) for v in content)
    return 0
