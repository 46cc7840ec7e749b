"""Hostile and broken submissions, graded in one batch with honest ones (tests.hostile).

Every case must get exactly its expected score with a reason a person can read, the
batch must complete, and the honest reference must get full marks with the same
grades.csv row as when it is graded alone. The fast tests at the end run the executor
directly on tiny notebooks (time-outs, crashes, the canary), without TensorFlow.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder import executor, sandbox
from tests import hostile

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def batch():
    return hostile.run_batch()


@slow
def test_every_case_gets_its_expected_score(batch):
    wrong = []
    for case in batch.cases:
        got = float(batch.grades[case.student]["score"])
        if got != case.expected:
            wrong.append(f"{case.describe()}: got {got:g}, expected {case.expected:g}")
    assert not wrong, "\n".join(wrong)


@slow
def test_the_batch_completes_with_a_row_for_everyone(batch):
    students = {case.student for case in batch.cases}
    assert students <= set(batch.grades), students - set(batch.grades)
    assert all(
        r["max_score"] == batch.grades["reference"]["max_score"] for r in batch.grades.values()
    )
    assert not [o for o in batch.result["outcomes"] if o.get("crashed")]


@slow
def test_exactly_the_affected_cells_lose_points_with_the_right_reasons(batch):
    problems = []
    for case in batch.cases:
        lost = {
            r["cell"]: r
            for r in batch.rows
            if r["student_id"] == case.student and r["kind"] == "lost"
        }
        expected = {"(whole notebook)"} if case.whole else set(case.lost)
        if set(lost) != expected:
            problems.append(f"{case.student}: lost {sorted(lost)}, expected {sorted(expected)}")
            continue
        for cell, text in case.reasons.items():
            if text.lower() not in lost[cell]["reason"].lower():
                problems.append(f"{case.student} {cell}: {text!r} not in {lost[cell]['reason']!r}")
    assert not problems, "\n".join(problems)


@slow
def test_notes_explain_what_the_grader_did(batch):
    problems = []
    for case in batch.cases:
        notes = " | ".join(
            r["reason"]
            for r in batch.rows
            if r["student_id"] == case.student and r["kind"] == "note"
        )
        problems += [
            f"{case.student}: no note with {n!r} in {notes!r}" for n in case.notes if n not in notes
        ]
        for cell, text in case.cell_notes.items():
            if not any(
                r["student_id"] == case.student
                and r["kind"] == "note"
                and r["cell"] == cell
                and text in r["reason"]
                for r in batch.rows
            ):
                problems.append(f"{case.student}: no note for {cell} with {text!r}")
    assert not problems, "\n".join(problems)


@slow
def test_every_lost_point_has_a_reason_and_adds_up(batch):
    for student, row in batch.grades.items():
        lost = sum(
            float(r["max_points"]) - float(r["points"])
            for r in batch.rows
            if r["student_id"] == student and r["kind"] == "lost"
        )
        assert lost == pytest.approx(float(row["max_score"]) - float(row["score"])), student
    assert all(r["reason"] for r in batch.rows)


@slow
def test_reference_is_unharmed_by_the_batch(batch):
    assert float(batch.grades["reference"]["score"]) == float(
        batch.grades["reference"]["max_score"]
    )
    assert not [r for r in batch.rows if r["student_id"] == "reference"], "reference has rows"
    assert batch.lines["reference"] == batch.alone_line


@slow
def test_the_submitted_files_are_kept_as_they_were(batch):
    submitted = batch.root / "course" / "submitted"
    assert (
        (submitted / "h_invalid_json" / "01_masks" / "01_masks.ipynb").read_text().startswith("{")
    )
    assert (submitted / "h_empty_file" / "01_masks" / "01_masks.ipynb").read_text() == ""
    stripped = (submitted / "h_stripped" / "01_masks" / "01_masks.ipynb").read_text()
    assert '"nbgrader"' not in stripped  # repaired into staged/, not in place
    assert (submitted / "h_wrong_name" / "01_masks" / "my masks (final).ipynb").exists()


@slow
def test_output_flood_is_cut(batch):
    graded = batch.root / "course" / "autograded" / "h_big_output" / "01_masks" / "01_masks.ipynb"
    assert graded.stat().st_size < 3 * batch.limits.output_per_cell + (1 << 20)
    feedback_free = graded.read_text()
    assert "output truncated by the grader" in feedback_free


# ----------------------------------------------------------------------------- fast tests


def _notebook(*sources: str, graded: tuple[int, ...] = ()):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        if i in graded:
            cell.metadata["nbgrader"] = {
                "grade": True,
                "solution": False,
                "locked": True,
                "points": 1,
                "grade_id": f"t{i}",
                "schema_version": 3,
            }
        nb.cells.append(cell)
    return nb


def _run(nb, tmp_path, sandboxed=None, **settings):
    from traitlets.config import Config

    config = Config()
    config.GradingKernelManager.sandbox = (
        sandbox.probe() is None if sandboxed is None else sandboxed
    )
    config.GradingKernelManager.memory_limit = 2 << 30
    config.GradingExecute.guard_modules = ["numpy", "unet_course.checks"]
    config.GradingExecute.interrupt_grace = 3
    for key, value in settings.items():
        setattr(config.GradingExecute, key, value)
    run = executor.GradingExecute(config=config)
    resources = {
        "metadata": {"path": str(tmp_path)},
        "nbgrader": {"assignment": "a", "notebook": "n"},
    }
    nb, _ = run.preprocess(nb, resources)
    errors = [[o.get("ename") for o in c.outputs if o.output_type == "error"] for c in nb.cells]
    return nb, errors, executor.EVENTS[("a", "n")]


def test_time_outs_crashes_and_limits_are_contained(tmp_path):
    nb = _notebook(
        "x = 1",
        "while True:\n    pass",  # interrupted after the cell limit
        "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
        "    except KeyboardInterrupt:\n        pass",  # ignores it: killed, kernel restarted
        "import os\nos._exit(7)",  # kernel dies: restarted
        "y = x + 1",  # runs in the new kernel (x was replayed)
        "assert y == 2, y",
        "import time\ntime.sleep(30)",  # hits the notebook's time limit
        "z = 3",
    )
    nb, errors, events = _run(nb, tmp_path, timeout=3, notebook_timeout=40)
    assert errors[0] == [] and errors[4] == [] and errors[5] == []
    assert "CellTimeoutError" in errors[1]
    assert errors[2] == [executor.UNRESPONSIVE]
    assert errors[3] == [executor.KERNEL_DIED] and "exit code 7" in nb.cells[3].outputs[-1].evalue
    assert "CellTimeoutError" in errors[6] or executor.TIME_LIMIT in errors[6]
    kinds = [e["kind"] for e in events]
    assert kinds.count("restart") == 2
    timeouts = [e for e in events if e["kind"] == "timeout"]  # ungraded cells: a note each
    assert timeouts[0]["cell"] == "cell 1" and "not graded" in timeouts[0]["text"]


def test_notebook_time_limit_stops_the_rest(tmp_path):
    nb = _notebook("import time\ntime.sleep(60)", "a = 1", "b = 2")
    nb, errors, events = _run(nb, tmp_path, timeout=120, notebook_timeout=5)
    assert errors[0] == [executor.TIME_LIMIT]
    assert errors[1] == [executor.NOT_RUN] and errors[2] == [executor.NOT_RUN]
    assert "time limit of 5 s" in nb.cells[1].outputs[0].evalue


def test_the_canary_catches_tampering_the_restore_does_not_undo(tmp_path):
    source = (
        "from unet_course import checks",
        "checks.expect_equal = lambda *a, **k: None",
        "checks.expect_equal(1, 2, 'one is two')",
    )
    nb, errors, events = _run(_notebook(*source, graded=(2,)), tmp_path, guard_restore=False)
    assert errors[2] == [executor.TAMPERED]  # the test "passed", the canary did not
    assert "cannot be trusted" in nb.cells[2].outputs[-1].evalue
    nb, errors, events = _run(_notebook(*source, graded=(2,)), tmp_path)
    assert errors[2] == ["AssertionError"]  # restored: the test fails as it should
    assert any(e["kind"] == "restored" and "expect_equal" in e["text"] for e in events)


def test_honest_code_is_not_flagged(tmp_path):
    source = (
        "from unet_course import checks\nimport numpy as np",
        "def f(x):\n    return np.asarray(x) * 2",
        "checks.expect_array(f([1, 2]), [2, 4], 'f doubles')",
    )
    nb, errors, events = _run(_notebook(*source, graded=(2,)), tmp_path)
    assert errors == [[], [], []]
    assert events == []


def test_output_is_capped(tmp_path):
    nb = _notebook("print('x' * 5_000_000)", "for i in range(100_000):\n    print(i)")
    nb, errors, events = _run(nb, tmp_path, output_per_cell=100_000, output_per_notebook=150_000)
    sizes = [sum(len(o.get("text", "")) for o in c.outputs) for c in nb.cells]
    assert all(size < 200_000 for size in sizes), sizes
    assert any(e["kind"] == "truncated" for e in events)


def test_aborted_cells_get_no_points(tmp_path):
    source = (
        "from unet_course import checks",
        "get_ipython().kernel._aborting = True",
        "checks.expect_equal(1, 2, 'one is two')",
    )
    nb, errors, events = _run(_notebook(*source, graded=(2,)), tmp_path)
    assert executor.ABORTED in errors[2]


def test_without_the_sandbox_limits_and_private_folders_remain(tmp_path):
    source = (
        "import os, resource, tempfile",
        "print(resource.getrlimit(resource.RLIMIT_AS)[0])",
        "print(os.environ['HOME'] != os.path.expanduser('~root'), tempfile.gettempdir())",
        "import os\nos._exit(1)",
        "print('after the crash')",
    )
    nb, errors, events = _run(_notebook(*source), tmp_path, sandboxed=False, timeout=30)
    assert nb.cells[1].outputs[0].text.strip() == str(2 << 30)
    assert nb.cells[2].outputs[0].text.startswith("True ") and "/tmp" in nb.cells[2].outputs[0].text
    assert (
        errors[3] == [executor.KERNEL_DIED] and nb.cells[4].outputs[0].text == "after the crash\n"
    )


def test_exit_and_quit_end_their_own_cell_and_are_not_run_again(tmp_path):
    nb = _notebook(
        "x = 1",
        "def g():\n    return 2\nexit()",  # ends the kernel a moment after the cell
        "print(x)",  # the next cell runs (in a new kernel), not blamed
        "assert g() == 2",  # the exit() cell was not run again: g is missing
        "quit()",
        "print('after quit', x)",
        "import sys\nsys.exit(3)",  # only stops the cell (IPython), the kernel lives on
        "exit(keep_kernel=True)",
        "print('end')",
        graded=(3,),
    )
    nb, errors, events = _run(nb, tmp_path, timeout=20)
    assert errors == [
        [], [executor.KERNEL_DIED], [], ["NameError"], [executor.KERNEL_DIED], [],
        ["SystemExit"], [], [],
    ]  # fmt: skip
    assert "exit() or quit() in this cell" in nb.cells[1].outputs[-1].evalue
    assert nb.cells[2].outputs[0].text == "1\n" and nb.cells[8].outputs[0].text == "end\n"
    assert [e["cell"] for e in events if e["kind"] == "restart"] == ["cell 1", "cell 4"]


# Student functions that forge a passing test while it runs, and undo it before the next
# request: the check at the end of the test cell (in the same execution) must see them.
UNDO_IN_POST_RUN_CELL = """
def undo_f(x):
    import unet_course.checks as c
    ip = get_ipython()
    saved = dict(vars(c))
    for name in list(saved):
        if name.startswith("expect"):
            setattr(c, name, lambda *a, **k: None)
    def undo(result=None):
        vars(c).update(saved)
        ip.events.unregister("post_run_cell", undo)
    ip.events.register("post_run_cell", undo)
    return x
"""
REBIND_THROUGH_FRAME = """
def frame_f(x):
    import sys, types
    caller = sys._getframe(1).f_globals
    caller["checks"] = types.SimpleNamespace(expect_equal=lambda *a, **k: None)
    return x
"""
PROFILE_HOOK = """
def profile_f(x):
    import sys
    def rewrite(frame, event, arg):  # makes every check compare a value with itself
        if event == "call" and frame.f_globals.get("__name__") == "unet_course.checks":
            if "expected" in frame.f_locals:
                frame.f_locals["expected"] = frame.f_locals["found"]
    sys.setprofile(rewrite)
    return x
"""
DISPLAYHOOK = """
def display_f(x):
    import sys
    sys.displayhook("ok")  # an execute_result: nbgrader would read it as full points
    return x
"""
LOGS = """
def logging_f(x):
    import logging, sys
    logging.warning("computing %s", x)
    print("progress 50%", file=sys.stderr)
    return x
"""


def test_tests_cannot_be_forged_while_they_run(tmp_path):
    from nbgrader.utils import determine_grade

    from autograder.executor.outputs import stderr_as_text

    nb = _notebook(
        "from unet_course import checks",
        UNDO_IN_POST_RUN_CELL,
        "_y = undo_f(1)\nchecks.expect_equal(_y, 5, 'one is five')",
        REBIND_THROUGH_FRAME,
        "_y = frame_f(1)\nchecks.expect_equal(_y, 5, 'one is five')",
        PROFILE_HOOK,
        "_y = profile_f(1)\nchecks.expect_equal(_y, 5, 'one is five')",
        DISPLAYHOOK,
        "_y = display_f(1)\nchecks.expect_equal(_y, 5, 'one is five')",
        LOGS,
        "_y = logging_f(1)\nchecks.expect_equal(_y, 1, 'one is one')",
        "checks.expect_equal(1, 1, 'after all that, an honest test')",
        graded=(2, 4, 6, 8, 10, 11),
    )
    nb, errors, events = _run(nb, tmp_path, timeout=30)
    for i in (2, 4, 6):
        assert errors[i] == [executor.TAMPERED], (i, errors[i])
        assert executor.INTERFERED in nb.cells[i].outputs[-1].evalue
    assert "unet_course.checks.expect_equal" in nb.cells[2].outputs[-1].evalue
    assert "the name 'checks' in the notebook" in nb.cells[4].outputs[-1].evalue
    assert "sys.setprofile" in nb.cells[6].outputs[-1].evalue
    assert errors[8] == ["AssertionError"] and errors[10] == [] and errors[11] == []
    assert [o.output_type for o in nb.cells[8].outputs] == ["display_data", "error"]
    assert [e["cell"] for e in events if e["kind"] == "tampered"] == ["t2", "t4", "t6"]
    assert not [e for e in events if e["kind"] == "restored"]  # undone at each test's end
    points = {}
    for i in (2, 4, 6, 8, 10, 11):
        stderr_as_text(nb.cells[i])
        points[i] = determine_grade(nb.cells[i])[0]
    assert points == {2: 0, 4: 0, 6: 0, 8: 0, 10: 1, 11: 1}
    logged = nb.cells[10].outputs[0]
    assert "computing 1" in logged.data["text/plain"] and "progress 50%" in str(nb.cells[10])


def test_keras_is_guarded_before_and_during_tests(tmp_path):
    structure = (
        "_inp = keras.Input((8, 8, 2))\n_m = keras.Model(_inp, {f}(_inp))\n"
        "checks.compare_layers(_m, [checks.spec('InputLayer'), "
        "checks.spec('Conv2D', activation='relu', initializer='HeNormal')])"
    )
    relu_he = "lambda self: dict(_real(self), activation='relu', kernel_initializer='HeNormal')"
    nb = _notebook(
        "import keras\nfrom keras import layers\nfrom unet_course import checks",
        "def plain(x):\n    return layers.Conv2D(4, 3, padding='same')(x)\n"
        f"_real = layers.Conv2D.get_config\nlayers.Conv2D.get_config = {relu_he}",
        structure.format(f="plain"),  # restored before: the test sees the real config
        "def sneaky(x):\n    global _real\n    _real = layers.Conv2D.get_config\n"
        f"    layers.Conv2D.get_config = {relu_he}\n"
        "    keras.Model.count_params = lambda self: 0\n"
        "    return layers.Conv2D(4, 3, padding='same')(x)",
        structure.format(f="sneaky"),  # patched during the test: caught at its end
        "checks.expect_params(keras.Model(_inp, plain(_inp)), 76)",
        graded=(2, 4, 5),
    )
    nb, errors, events = _run(
        nb, tmp_path, timeout=60, guard_modules=["numpy", "unet_course.checks", "keras"]
    )
    assert errors[2] == ["AssertionError"] and "activation" in nb.cells[2].outputs[-1].evalue
    restored = [e["text"] for e in events if e["kind"] == "restored"]
    assert restored and "Conv2D.get_config" in restored[0]
    assert errors[4] == [executor.TAMPERED]
    assert "Conv2D.get_config" in nb.cells[4].outputs[-1].evalue
    assert "Model.count_params" in nb.cells[4].outputs[-1].evalue
    assert errors[5] == []
