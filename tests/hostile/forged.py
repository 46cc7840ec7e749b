"""Submissions that try to get points they did not earn: spying, tampering with the tests."""

from __future__ import annotations

import pathlib

from autograder.executor import INTERFERED
from tests.hostile.base import WRONG, Answer, Case, Release, dump, index, set_answer


def spies(r: Release, ctx: dict):
    """One student whose answers come from places student code must not reach."""
    root = pathlib.Path(ctx["course_root"])
    a0, a1, a2, a3 = r.answer(0), r.answer(1), r.answer(2), r.answer(3)
    nb = r.reference()
    # 0: the reference solutions, by absolute path
    set_answer(
        nb,
        a0.grade_id,
        (
            "import json\n"
            f"_src = json.load(open({str(r.source_path)!r}))\n"
            "for _c in _src['cells']:\n"
            f"    if _c['metadata'].get('nbgrader', {{}}).get('grade_id') == {a0.grade_id!r}:\n"
            "        exec(''.join(_c['source']))\n"
        ),
    )
    # 1: the gradebook (it holds the hidden tests): read it, and try to change the grades
    cell = nb.cells[index(nb, a1.grade_id)]
    cell.source = (
        "import sqlite3\n"
        f"_db = {str(root / 'gradebooks' / '_template.db')!r}\n"
        "_con = sqlite3.connect(f'file:{_db}?mode=ro', uri=True)\n"
        "print([row for row in _con.execute('select name, source from source_cell')])\n"
        "_con = sqlite3.connect('file:../../../gradebooks/_template.db?mode=rw', uri=True)\n"
        "_con.execute('update grade_cells set max_score = 0')\n"
        "_con.commit()\n\n" + cell.source
    )
    # 2: another student's notebook (graded or submitted), relative and absolute paths
    other = root / "submitted" / "reference" / r.assignment / f"{r.notebook}.ipynb"
    set_answer(
        nb,
        a2.grade_id,
        (
            "import json, os\n"
            f"for _path in ('../../reference/{r.assignment}/{r.notebook}.ipynb',\n"
            f"              '../../../submitted/reference/{r.assignment}/{r.notebook}.ipynb',\n"
            f"              {str(other)!r}):\n"
            "    if os.path.exists(_path):\n"
            "        break\n"
            "_other = json.load(open(_path))\n"
            "for _c in _other['cells']:\n"
            f"    if _c['metadata'].get('nbgrader', {{}}).get('grade_id') == {a2.grade_id!r}:\n"
            "        exec(''.join(_c['source']))\n"
        ),
    )
    # 3: the network: the answer downloaded while grading
    url = (ctx.get("answer_url") or "http://127.0.0.1:9") + f"/{a3.grade_id}.py"
    set_answer(
        nb,
        a3.grade_id,
        (
            "import urllib.request\n"
            f"exec(urllib.request.urlopen({url!r}, timeout=10).read().decode())\n"
        ),
    )
    lost = a0.tests + a1.tests + a2.tests + a3.tests
    reasons = {t: "refused by the sandbox" for t in a0.tests + a1.tests + a2.tests}
    reasons.update({t: "no network" for t in a3.tests})
    case = Case(
        "h_spy",
        f"answers read from solutions/ ({a0.grade_id}), the gradebook "
        f"({a1.grade_id}), another student ({a2.grade_id}), the network ({a3.grade_id})",
        lost=lost,
        reasons=reasons,
        sandbox_only=True,
    )
    yield case, {f"{r.notebook}.ipynb": dump(nb)}


def tampering(r: Release, ctx: dict):
    def wrong(a: Answer) -> str | None:
        return "\n".join(WRONG[n] for n in a.names if n in WRONG) or None

    a0, a1, a2, a3, a4 = (r.answer(k) for k in range(5))
    if wrong(a0):
        nb = r.reference()
        set_answer(
            nb,
            a0.grade_id,
            wrong(a0)
            + (
                "\n# make every check pass: change one helper's code, replace the others\n"
                "checks.expect_array.__code__ = (lambda *a, **k: None).__code__\n"
                "for _name in dir(checks):\n"
                "    if _name.startswith('expect') and _name != 'expect_array':\n"
                "        setattr(checks, _name, lambda *a, **k: None)\n"
            ),
        )
        yield (
            Case(
                "h_rebinds_helpers",
                f"wrong {a0.grade_id} and checks.expect_* = no-ops",
                lost=a0.tests,
                notes=["ran with the real test helpers"],
            ),
            {f"{r.notebook}.ipynb": dump(nb)},
        )
    if wrong(a1):
        nb = r.reference()
        set_answer(
            nb,
            a1.grade_id,
            wrong(a1)
            + (
                "\nimport sys, types\n"
                "_noop = lambda *a, **k: None\n"
                "checks = types.SimpleNamespace(**{_n: _noop for _n in dir(checks)})\n"
                "sys.modules['unet_course.checks'] = checks\n"
            ),
        )
        yield (
            Case(
                "h_replaces_checks",
                f"wrong {a1.grade_id} and a fake checks module",
                lost=a1.tests,
                notes=["ran with the real test helpers"],
            ),
            {f"{r.notebook}.ipynb": dump(nb)},
        )
    if wrong(a2):
        nb = r.reference()
        set_answer(
            nb,
            a2.grade_id,
            wrong(a2)
            + (
                "\nimport builtins\nbuiltins.sorted = lambda *a, **k: []\n"
                "np.any = lambda *a, **k: False\n"
            ),
        )
        yield (
            Case(
                "h_patches_builtins",
                f"wrong {a2.grade_id}, builtins.sorted and np.any patched",
                lost=a2.tests,
                notes=["builtins.sorted"],
            ),
            {f"{r.notebook}.ipynb": dump(nb)},
        )
    if wrong(a3):
        nb = r.reference()
        names = ", ".join(a3.names)
        set_answer(
            nb,
            a3.grade_id,
            (
                "class Liar:\n    '''Equal to everything.'''\n"
                "    def __eq__(self, other):\n        return True\n"
                "    def __ne__(self, other):\n        return False\n"
                "    def __hash__(self):\n        return 0\n"
                "    def __float__(self):\n        return 1.0\n\n"
                f"def {a3.names[0]}(*args, **kwargs):\n"
                "    n = int(args[-1]) if args else 3\n"
                "    liars = np.array([Liar() for _ in range(n)], dtype=object)\n"
                "    return liars, liars\n"
            ),
        )
        yield (
            Case(
                "h_lying_eq",
                f"{names} returns objects whose __eq__/__ne__ lie",
                lost=a3.tests,
                reasons={a3.tests[0]: "array of object"},
            ),
            {f"{r.notebook}.ipynb": dump(nb)},
        )
    nb = r.reference()
    set_answer(
        nb,
        a4.grade_id,
        r.release.cells[index(r.release, a4.grade_id)].source
        + (
            "\n\nget_ipython().input_transformers_cleanup.append(\n"
            "    lambda lines: ['pass\\n'] if any('checks.' in line for line in lines)\n"
            "    else lines)\n"
        ),
    )
    yield (
        Case(
            "h_ipython_hooks",
            f"{a4.grade_id} unanswered, an input transformer that turns test cells into `pass`",
            lost=a4.tests,
            reasons={t: "not answered" for t in a4.tests},
            notes=["IPython input_transformers_cleanup"],
        ),
        {f"{r.notebook}.ipynb": dump(nb)},
    )


def aborts(r: Release, ctx: dict):
    nb, a = r.reference(), r.answer(4)
    set_answer(
        nb,
        a.grade_id,
        r.release.cells[index(r.release, a.grade_id)].source
        + "\n\nget_ipython().kernel._aborting = True  # the kernel now aborts every request\n",
    )
    yield (
        Case(
            "h_aborts_cells",
            f"{a.grade_id} unanswered, then the kernel told to abort every later cell (an "
            "aborted cell has no error: plain nbgrader gives it full points)",
            lost=a.tests,
            reasons={t: "aborted" for t in a.tests},
        ),
        {f"{r.notebook}.ipynb": dump(nb)},
    )


# Forgeries that act while a test runs (the student's function is called by the test) and
# hide before the next request: the guard's check at the end of the test cell sees them.
UNDO_AFTER_TEST = """
import unet_course.checks as _c

_originals = dict(vars(_c))


def _undo(result=None):  # after the cell: put the real checks back, leave no trace
    vars(_c).update(_originals)
    get_ipython().events.unregister("post_run_cell", _undo)


def {name}(*args, **kwargs):
    for _n in _originals:
        if _n.startswith("expect"):
            setattr(_c, _n, lambda *a, **k: None)
    if _undo not in get_ipython().events.callbacks["post_run_cell"]:
        get_ipython().events.register("post_run_cell", _undo)
    return _wrong_{name}(*args, **kwargs)
"""
FRAME_REBIND = """
import sys
import types


def {name}(*args, **kwargs):
    _g = sys._getframe(1).f_globals  # the test's globals: rebind its name `checks`
    if not isinstance(_g.get("checks"), types.SimpleNamespace):
        _real = _g.get("checks")
        _g["checks"] = types.SimpleNamespace(
            **{{_n: (lambda *a, **k: None) for _n in dir(_real) if _n.startswith("expect")}}
        )

        def _back(result=None):
            _g["checks"] = _real
            get_ipython().events.unregister("post_run_cell", _back)

        get_ipython().events.register("post_run_cell", _back)
    return _wrong_{name}(*args, **kwargs)
"""
PROFILE_HOOK = """
import sys

import numpy as _np


def _rewrite(frame, event, arg):  # every check called from now on compares found with itself
    if event != "call" or frame.f_globals.get("__name__") != "unet_course.checks":
        return
    loc, name = frame.f_locals, frame.f_code.co_name
    if "expected" in loc and "found" in loc:
        found = loc["found"]
        shape = found if isinstance(found, tuple) else tuple(_np.shape(_np.asarray(found)))
        loc["expected"] = shape if name == "expect_shape" else found
    if name == "expect_dtype":
        loc["kinds"] = "biufcmMOSUV"
    if name == "expect":
        loc["condition"] = True
    if name == "expect_values_in":
        loc["allowed"] = set(_np.unique(_np.asarray(loc["found"])).tolist())
    if name == "expect_raises":
        errors = loc["errors"]

        def _raise(e=errors[0] if isinstance(errors, tuple) else errors):
            raise e("forged")

        loc["call"] = _raise


def _unhook(result=None):
    sys.setprofile(None)
    get_ipython().events.unregister("post_run_cell", _unhook)


def {name}(*args, **kwargs):
    sys.setprofile(_rewrite)
    if _unhook not in get_ipython().events.callbacks["post_run_cell"]:
        get_ipython().events.register("post_run_cell", _unhook)
    return _wrong_{name}(*args, **kwargs)
"""
DISPLAYHOOK = """
import sys


def {name}(*args, **kwargs):
    sys.displayhook("ok")  # an execute_result: plain nbgrader reads it as full points
    return _wrong_{name}(*args, **kwargs)
"""


def _wrapped(a: Answer, template: str) -> str | None:
    """A wrong answer for ``a`` (see WRONG) behind a wrapper built from ``template``."""
    name = next((n for n in a.names if n in WRONG), None)
    if name is None:
        return None
    wrong = WRONG[name].replace(f"def {name}(", f"def _wrong_{name}(", 1)
    return wrong + template.format(name=name)


def during_tests(r: Release, ctx: dict):
    """Wrong answers whose functions forge the test that calls them, then hide it."""
    for k, student, template, title, reason in (
        (1, "h_displayhook", DISPLAYHOOK, "calls sys.displayhook('ok')", "expected"),
        (0, "h_undo_after_test", UNDO_AFTER_TEST,
         "disables the checks during the test, undoes it in a post_run_cell callback",
         INTERFERED),
        (2, "h_frame_rebind", FRAME_REBIND,
         "rebinds the test's `checks` through sys._getframe(1).f_globals (undone after)",
         INTERFERED),
        (4, "h_profile_hook", PROFILE_HOOK,
         "installs a profile hook that rewrites the checks' arguments (removed after)",
         INTERFERED),
    ):  # fmt: skip
        a = r.answer(k)
        source = _wrapped(a, template)
        if source is None:
            continue
        nb = r.reference()
        set_answer(nb, a.grade_id, source)
        case = Case(
            student,
            f"wrong {a.grade_id}, whose function {title}",
            lost=a.tests,
            # the first test is forged; a later one may catch the wrong answer honestly
            # first (a check that was already running when the forgery began), which is
            # a right reason too
            reasons={t: reason for t in (a.tests if reason != INTERFERED else a.tests[:1])},
        )
        yield case, {f"{r.notebook}.ipynb": dump(nb)}
