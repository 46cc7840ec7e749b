"""The test guard: test helpers restored and checked before and at the end of every test.

Before each graded test cell the grader restores the test helpers and the machinery the
tests rely on (``unet_course._grading.restore``), in a request of its own, and runs a
check that must fail (a "canary"). What an earlier cell had changed is put back and
noted: the test then runs with the real helpers.

At the end of each graded test cell, *in the same execution* (the grader appends a call
to ``unet_course._grading.after`` to the code it sends; the stored cell is unchanged),
the same restore and a second canary run before anything the submission may have
scheduled for after the cell (IPython's ``post_run_cell`` callbacks, user expressions,
the next request). Whatever was changed while the test ran, a canary that passed, or a
test that reports success although the check never ran, gives the cell an error
(``GradingTampered``, no points): "the submission interfered with the tests".
"""

from __future__ import annotations

import ast
import secrets
from queue import Empty
from time import monotonic

from jupyter_core.utils import run_sync
from traitlets import Bool, HasTraits, List, Unicode

from autograder.executor.common import INTERFERED, TAMPERED, error_output, has_error, is_test

GRADING = "__import__('unet_course._grading', fromlist=['restore'])"


def _shown(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (" …" if len(items) > limit else "")


class TestGuard(HasTraits):
    """Mixin for :class:`autograder.executor.GradingExecute`."""

    guard = Bool(True, help="restore the test helpers and run a canary around tests").tag(
        config=True
    )
    guard_restore = Bool(True, help="restore the helpers (off: only the canary, for tests)").tag(
        config=True
    )
    guard_modules = List(
        Unicode(),
        ["numpy", "unet_course.checks", "tensorflow", "keras"],
        help="modules the guard watches",
    ).tag(config=True)

    def _install_guard(self) -> None:
        if not self.guard:
            return
        modules = ", ".join(repr(m) for m in self.guard_modules)
        expr = f"{GRADING}.install([{modules}])"
        # (imports TensorFlow and Keras, which the notebook's setup cell would import anyway)
        timeout = max(1, min(max(self.timeout or 0, 120), self._remaining()))
        reply = run_sync(self._side_execute)("", timeout=timeout, user_expressions={"ag": expr})
        if _expression(reply) is None:
            self._event("guard", "the test-helper guard could not be installed in the kernel")
            return
        run_sync(self._side_execute)(f"{GRADING}.note_cell_state()", timeout=30)

    async def _guarded(self, run, cell, cell_index: int):
        """Run a test cell (``run``) between the guard's two checks; the cell."""
        if not (self.guard and is_test(cell)):
            return await run()
        label = self._label(cell)
        before = await self._guard_before(cell, label)
        nonce = secrets.token_hex(8)
        a = secrets.randbelow(10**6)
        check = (
            f"{GRADING}.after({nonce!r}, {a}, {a + 1 + secrets.randbelow(99)}, "
            f"{self.guard_restore!r})"
        )
        source = cell.source
        inline = not source.lstrip().startswith("%%")  # a cell magic owns the whole cell
        if inline:
            cell.source = source.rstrip() + "\n" + check + "\n"
        try:
            cell = await run()
        finally:
            cell.source = source
        if self._exit_asked:  # the kernel is about to end: the test's error says so
            return cell
        if not inline:
            await self._side_execute(check, timeout=30, silent=False)
        during = await self._guard_after(cell, nonce)
        if before or during:
            why = before or during
            cell.outputs = [o for o in cell.outputs if o.get("ename") != TAMPERED]
            cell.outputs.append(error_output(TAMPERED, why))
            self._event("tampered", why, cell)
        return cell

    async def _guard_before(self, cell, label: str) -> str | None:
        """Restore the helpers, run a check that must fail; why the test can't be trusted."""
        call = "restore(globals())" if self.guard_restore else "new_threads()"
        reply = await self._side_execute(
            "", timeout=30, user_expressions={"ag": f"{GRADING}.{call}"}
        )
        if reply is None:
            return None  # the kernel is busy or gone: the cell itself will say so
        if reply["content"].get("status") == "aborted":
            return (
                f"{INTERFERED}: the kernel refused to run the grader's check before this "
                "test (it aborts requests), so the test result cannot be trusted"
            )
        restored = _expression(reply)
        if restored is None:
            return (
                f"{INTERFERED}: the grader could not check the test helpers before this test "
                "(the submission changed Python's import machinery or the notebook's "
                "builtins), so its result cannot be trusted"
            )
        if restored and self.guard_restore:
            self._event(
                "restored",
                f"before the test {label}, an earlier cell of the submission had changed "
                f"{_shown(restored)}; the grader put the originals back, so {label} ran with "
                "the real test helpers (the submission needs a person to review it)",
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
                f"{INTERFERED}: before this test, a check that must fail passed, so the test "
                "result cannot be trusted (the submission needs a person to review it)"
            )
        return None

    async def _guard_after(self, cell, nonce: str) -> str | None:
        """What the check at the end of the test found; None when the test can be trusted."""
        reply = await self._side_execute(
            "", timeout=30, user_expressions={"ag": f"{GRADING}.verdict({nonce!r})"}
        )
        if reply is None:
            return None  # the kernel died or hangs: the cell says so already
        found = _expression(reply)
        if found:
            return (
                f"{INTERFERED} while this test ran (found by the grader's check at its end; "
                "no points, and the submission needs a person to review it): it changed "
                f"{_shown(found, 5)}"
            )
        if found is None and not has_error(cell):
            return (
                f"{INTERFERED}: the test reports success, but the grader's check at its end "
                "never ran (the submission changed how the cell runs), so it gets no points "
                "(the submission needs a person to review it)"
            )
        return None

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
