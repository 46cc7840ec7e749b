"""A suite of hostile and broken submissions, generated from the release, with what each must get.

:func:`write_suite` writes one student per case into ``<course>/submitted/`` (next to the
honest ``reference`` and ``partial`` students), and returns the :class:`Case` list: for
each, the cells that must lose their points, the text each reason must contain, and the
notes the report must carry. ``tests/test_hostile.py`` grades them all in one batch.

The cases are built from any assignment's release and reference solution: "answer 0"
is the first answer cell (its ``def`` and the graded test cells after it, up to the next
answer cell), "answer 1" the second, and so on. Only the tampering cases need a wrong
answer that survives the test code once the checks are disabled; those are given per
function in :data:`WRONG` (01_masks for now: add an assignment's functions to extend).

Run ``python -m autograder.hostile --course DIR [assignment]`` to write the suite and
grade it by hand.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pathlib
import random
import string
from collections.abc import Callable

import nbformat

from autograder import course, submissions

#: Wrong answers that pass their tests when the checks are disabled (for the tampering cases).
WRONG = {
    "to_class_ids": "def to_class_ids(trimap):\n"
    "    return tf.zeros_like(tf.convert_to_tensor(trimap), dtype=tf.uint8)\n",
    "foreground_mask": "def foreground_mask(trimap):\n"
    "    return tf.zeros_like(tf.convert_to_tensor(trimap), dtype=tf.uint8)\n",
    "resize_mask": "def resize_mask(mask, size):\n"
    "    mask = tf.convert_to_tensor(mask)\n"
    "    shape = tf.concat([tf.shape(mask)[:-3], tf.constant(size), tf.shape(mask)[-1:]], 0)\n"
    "    return tf.zeros(shape, mask.dtype)\n",
    "class_balance": "def class_balance(masks, num_classes):\n"
    "    return np.full(num_classes, 1.0 / num_classes), np.ones(num_classes)\n",
    "sample_weights": "def sample_weights(mask, class_weights):\n"
    "    return tf.zeros(tf.shape(mask), tf.float32)\n",
}


@dataclasses.dataclass
class Answer:
    grade_id: str
    names: list[str]  # the functions it defines
    tests: list[str]  # the graded cells after it
    points: float


@dataclasses.dataclass
class Case:
    """One submission and what grading it must give."""

    student: str
    title: str
    lost: list[str] = dataclasses.field(default_factory=list)  # graded cells that lose points
    whole: bool = False  # the whole notebook gets 0
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # cell -> text in reason
    notes: list[str] = dataclasses.field(default_factory=list)  # texts among the notes
    sandbox_only: bool = False  # the expectation holds only with the sandbox
    max_score: float = 0.0
    expected: float = 0.0

    def describe(self) -> str:
        return f"{self.student}: {self.title}"


class Release:
    """One released notebook, its reference answers and its answer cells."""

    def __init__(self, release_dir: pathlib.Path, assignment: str, notebook: str):
        self.assignment, self.notebook = assignment, notebook
        self.path = release_dir / assignment / f"{notebook}.ipynb"
        self.source_path = course.SOLUTIONS / assignment / f"{notebook}.ipynb"
        self.release = nbformat.read(self.path, as_version=4)
        self.answers: list[Answer] = []
        self.points: dict[str, float] = {}
        current = None
        for cell in self.release.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                names = [
                    line.split("(")[0][4:].strip()
                    for line in cell.source.splitlines()
                    if line.startswith("def ")
                ]
                current = Answer(meta["grade_id"], names, [], 0.0)
                self.answers.append(current)
            elif meta.get("grade"):
                self.points[meta["grade_id"]] = float(meta["points"])
                if current is not None:
                    current.tests.append(meta["grade_id"])
                    current.points += float(meta["points"])
        self.max_score = sum(self.points.values())

    def answer(self, k: int) -> Answer:
        return self.answers[k % len(self.answers)]

    def reference(self):
        return submissions.make_submission("reference", self.source_path, self.path)

    def untouched(self):
        return copy.deepcopy(self.release)


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if _gid(c) == grade_id)


def _set_answer(nb, grade_id: str, source: str) -> None:
    nb.cells[_index(nb, grade_id)].source = source


def _dump(nb) -> str:
    return nbformat.writes(nb)


# --------------------------------------------------------------------------- the cases
# Each builder returns (case, files): files maps file names to contents written into
# submitted/<student>/<assignment>/ (None: the folder exists but holds no notebook).


def honest(r: Release, ctx: dict):
    case = Case("reference", "the reference solution (honest)")
    yield case, {f"{r.notebook}.ipynb": _dump(r.reference())}
    half = r.answers[(len(r.answers) + 1) // 2 :]
    partial = submissions.make_submission("partial", r.source_path, r.path)
    case = Case(
        "partial",
        "half of the exercises answered (honest)",
        lost=[t for a in half for t in a.tests],
    )
    case.reasons = {t: "not answered" for t in case.lost}
    yield case, {f"{r.notebook}.ipynb": _dump(partial)}


def runaway(r: Release, ctx: dict):
    nb, a = r.reference(), r.answer(0)
    cell = nb.cells[_index(nb, a.grade_id)]
    cell.source = "while True:  # an infinite loop\n    pass\n\n" + cell.source
    case = Case(
        "h_infinite_loop",
        f"an infinite loop in the answer cell {a.grade_id}",
        lost=a.tests,
        reasons={t: "timed out" for t in a.tests},
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}

    nb, a = r.reference(), r.answer(1)
    cell = nb.cells[_index(nb, a.grade_id)]
    cell.source = (
        "import time\nwhile True:  # a loop that swallows the interrupt\n    try:\n"
        "        time.sleep(0.2)\n    except KeyboardInterrupt:\n        pass\n\n" + cell.source
    )
    case = Case(
        "h_ignores_interrupt",
        f"a loop ignoring interrupts in {a.grade_id}",
        lost=a.tests,
        reasons={t: "did not stop when interrupted" for t in a.tests},
        notes=["ran the cells before it again"],
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}


def crashes(r: Release, ctx: dict):
    for k, student, code, why, title in (
        (2, "h_os_exit", "import os\nos._exit(3)\n", "exit code 3", "os._exit(3)"),
        (
            3,
            "h_segfault",
            "import ctypes\nctypes.string_at(0)\n",
            "SIGSEGV",
            "a segmentation fault (ctypes.string_at(0))",
        ),
    ):
        nb, a = r.reference(), r.answer(k)
        cell = nb.cells[_index(nb, a.grade_id)]
        cell.source = code + "\n" + cell.source
        case = Case(
            student,
            f"{title} in the answer cell {a.grade_id}",
            lost=a.tests,
            reasons={t: why for t in a.tests},
            notes=["ran the cells before it again"],
        )
        yield case, {f"{r.notebook}.ipynb": _dump(nb)}


def memory_bomb(r: Release, ctx: dict):
    nb, a = r.reference(), r.answer(4)
    cell = nb.cells[_index(nb, a.grade_id)]
    cell.source = (
        "def _grow():  # takes memory until something gives\n    chunks = []\n    while True:\n"
        "        chunks.append(bytearray(b'x' * (256 << 20)))\n\n_grow()\n\n" + cell.source
    )
    case = Case(
        "h_memory_bomb",
        f"a memory bomb in the answer cell {a.grade_id}",
        lost=a.tests,
        reasons={t: "out of memory" for t in a.tests},
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}


def structure(r: Release, ctx: dict):
    # deleted test cells: put back, and graded
    nb, a0, a1 = r.reference(), r.answer(0), r.answer(1)
    gone = [a0.tests[0], a1.tests[-1]]
    nb.cells = [c for c in nb.cells if _gid(c) not in gone]
    case = Case(
        "h_deleted_tests",
        f"test cells {', '.join(gone)} deleted",
        notes=[f"{g} was missing from the submission" for g in gone],
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}

    # edited test cells (on an unanswered exercise): the release's tests run
    nb, a = r.reference(), r.answer(0)
    _set_answer(nb, a.grade_id, r.release.cells[_index(r.release, a.grade_id)].source)
    for t in a.tests:
        nb.cells[_index(nb, t)].source = "print('all tests passed')\n"
    case = Case(
        "h_edited_tests",
        f"{a.grade_id} unanswered, its tests replaced by a print",
        lost=a.tests,
        reasons={t: "not answered" for t in a.tests},
        notes=[f"{t} was edited" for t in a.tests],
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}

    # changed points: the release's count
    nb, a0, a1 = r.reference(), r.answer(0), r.answer(1)
    _set_answer(nb, a1.grade_id, r.release.cells[_index(r.release, a1.grade_id)].source)
    for t in a0.tests:
        nb.cells[_index(nb, t)].metadata["nbgrader"]["points"] = 50
    for t in a1.tests:
        nb.cells[_index(nb, t)].metadata["nbgrader"]["points"] = 0
    case = Case(
        "h_changed_points",
        f"points of {a0.grade_id}'s tests set to 50, of {a1.grade_id}'s (unanswered) to 0",
        lost=a1.tests,
        reasons={t: "not answered" for t in a1.tests},
        notes=[f"the points of {a0.tests[0]} were changed"],
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}

    # inserted cells, and an answer moved below its tests
    nb, a = r.reference(), r.answer(1)
    moved = nb.cells.pop(_index(nb, a.grade_id))
    nb.cells.append(moved)
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("My notes: read the docs first."))
    nb.cells.insert(5, nbformat.v4.new_code_cell("scratch = [i * i for i in range(10)]\nscratch"))
    case = Case(
        "h_inserted_reordered",
        f"cells inserted; answer {a.grade_id} moved to the end",
        lost=a.tests,
        reasons={t: "is not defined" for t in a.tests},
        notes=[f"the answer cell {a.grade_id} comes after its test"],
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}

    # duplicated grade ids: a copied test cell and a copied answer cell (a draft first)
    nb, a0, a2 = r.reference(), r.answer(0), r.answer(2)
    test = nb.cells[_index(nb, a0.tests[0])]
    twin = copy.deepcopy(test)
    twin["id"] = nbformat.v4.new_code_cell().id
    nb.cells.insert(_index(nb, a0.tests[0]) + 1, twin)
    draft = copy.deepcopy(r.release.cells[_index(r.release, a2.grade_id)])
    draft["id"] = nbformat.v4.new_code_cell().id
    nb.cells.insert(_index(nb, a2.grade_id), draft)
    case = Case(
        "h_duplicate_ids",
        f"test {a0.tests[0]} and answer {a2.grade_id} duplicated",
        notes=[
            f"grade id '{a0.tests[0]}' appears 2 times",
            f"grade id '{a2.grade_id}' appears 2 times",
        ],
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}


def _random_id(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def editors(r: Release, ctx: dict):
    rng = random.Random(7)
    # saved by Colab: extra metadata, kernelspec without language, new cell ids, outputs
    data = json.loads(_dump(r.reference()))
    data["metadata"] = {
        "colab": {"provenance": [], "toc_visible": True, "gpuType": "T4"},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"},
        "accelerator": "GPU",
    }
    for cell in data["cells"]:
        cell["id"] = _random_id(rng)
        cell["metadata"]["id"] = cell["id"]
        if cell["cell_type"] == "code":
            cell["metadata"]["colab"] = {"base_uri": "https://localhost:8080/", "height": 35}
            cell["metadata"]["outputId"] = _random_id(rng, 36)
            cell["execution_count"] = rng.randint(1, 40)
            cell["outputs"] = [
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": ["W tensorflow: something on Colab\n"],
                }
            ]
    case = Case(
        "h_colab",
        "saved by Colab (colab metadata, kernelspec without language, new "
        "cell ids, stderr outputs)",
    )
    yield case, {f"{r.notebook}.ipynb": json.dumps(data, indent=1)}

    # nbgrader metadata stripped from every cell (and ids changed)
    data = json.loads(_dump(r.reference()))
    for cell in data["cells"]:
        cell["metadata"] = {}
        cell["id"] = _random_id(rng)
    case = Case("h_stripped", "all nbgrader metadata stripped", notes=["metadata repaired"])
    yield case, {f"{r.notebook}.ipynb": json.dumps(data, indent=1)}

    # pasted into a fresh Colab notebook: code cells only, no metadata, the (empty-looking)
    # hidden-test cells left out
    ref = r.reference()
    hidden = [_gid(c) for c in r.release.cells if _gid(c) and "Hidden tests" in c.source]
    fresh = nbformat.v4.new_notebook()
    fresh.metadata = {
        "colab": {"provenance": []},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
    }
    for cell in ref.cells:
        if cell.cell_type == "code" and _gid(cell) not in hidden:
            fresh.cells.append(nbformat.v4.new_code_cell(cell.source))
    case = Case(
        "h_fresh_copy",
        "code pasted into a fresh notebook (no metadata, no markdown, hidden-test cells left out)",
        notes=["metadata repaired"] + [f"{h} was missing" for h in hidden[:1]],
    )
    yield case, {f"{r.notebook}.ipynb": _dump(fresh)}


def files(r: Release, ctx: dict):
    text = _dump(r.reference())
    yield (
        Case(
            "h_invalid_json",
            "the download was cut short (invalid JSON)",
            whole=True,
            reasons={"(whole notebook)": "not valid JSON"},
        ),
        {f"{r.notebook}.ipynb": text[: len(text) // 2]},
    )
    yield (
        Case("h_empty_file", "an empty file", whole=True, reasons={"(whole notebook)": "is empty"}),
        {f"{r.notebook}.ipynb": ""},
    )
    yield (
        Case(
            "h_wrong_name",
            "the notebook handed in as 'my masks (final).ipynb'",
            notes=["(the file had another name)"],
        ),
        {"my masks (final).ipynb": text},
    )
    yield (
        Case(
            "h_missing",
            "no notebook, only a text file",
            whole=True,
            reasons={"(whole notebook)": "not submitted"},
        ),
        {"answers.txt": "see notebook"},
    )


def output_flood(r: Release, ctx: dict):
    nb, a = r.reference(), r.answer(0)
    nb.cells.insert(
        _index(nb, a.grade_id) + 1,
        nbformat.v4.new_code_cell(
            "print('x' * 30_000_000)\nfor i in range(300_000):\n    print(i)"
        ),
    )
    case = Case(
        "h_big_output", "megabytes of output (30 MB in one line, 300,000 lines)", notes=["cut at"]
    )
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}


def spies(r: Release, ctx: dict):
    """One student whose answers come from places student code must not reach."""
    root = pathlib.Path(ctx["course_root"])
    a0, a1, a2, a3 = r.answer(0), r.answer(1), r.answer(2), r.answer(3)
    nb = r.reference()
    # 0: the reference solutions, by absolute path
    _set_answer(
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
    cell = nb.cells[_index(nb, a1.grade_id)]
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
    _set_answer(
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
    _set_answer(
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
    yield case, {f"{r.notebook}.ipynb": _dump(nb)}


def tampering(r: Release, ctx: dict):
    def wrong(a: Answer) -> str | None:
        return "\n".join(WRONG[n] for n in a.names if n in WRONG) or None

    a0, a1, a2, a3, a4 = (r.answer(k) for k in range(5))
    if wrong(a0):
        nb = r.reference()
        _set_answer(
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
                notes=["restored before this test"],
            ),
            {f"{r.notebook}.ipynb": _dump(nb)},
        )
    if wrong(a1):
        nb = r.reference()
        _set_answer(
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
                notes=["restored before this test"],
            ),
            {f"{r.notebook}.ipynb": _dump(nb)},
        )
    if wrong(a2):
        nb = r.reference()
        _set_answer(
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
            {f"{r.notebook}.ipynb": _dump(nb)},
        )
    if wrong(a3):
        nb = r.reference()
        names = ", ".join(a3.names)
        _set_answer(
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
            {f"{r.notebook}.ipynb": _dump(nb)},
        )
    nb = r.reference()
    _set_answer(
        nb,
        a4.grade_id,
        r.release.cells[_index(r.release, a4.grade_id)].source
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
        {f"{r.notebook}.ipynb": _dump(nb)},
    )


def aborts(r: Release, ctx: dict):
    nb, a = r.reference(), r.answer(4)
    _set_answer(
        nb,
        a.grade_id,
        r.release.cells[_index(r.release, a.grade_id)].source
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
        {f"{r.notebook}.ipynb": _dump(nb)},
    )


BUILDERS: list[Callable] = [
    honest,
    runaway,
    crashes,
    memory_bomb,
    structure,
    editors,
    files,
    output_flood,
    spies,
    tampering,
    aborts,
]


def write_suite(
    course_root: pathlib.Path,
    release_dir: pathlib.Path | None = None,
    assignment: str = "01_masks",
    sandbox: bool = True,
    answer_url: str | None = None,
    only: list[str] | None = None,
) -> list[Case]:
    """Write the suite's submissions into ``course_root/submitted``; return the cases.

    ``release_dir``: the student versions (default ``notebooks/``). Cases whose outcome
    depends on the sandbox are left out when ``sandbox`` is False. ``answer_url``: where
    the network case downloads its answer from (a server the caller runs, to show that
    the refusal is the sandbox's doing). ``only``: these students only.
    """
    course_root = pathlib.Path(course_root)
    release_dir = pathlib.Path(release_dir or course.NOTEBOOKS)
    (notebook,) = course.notebook_names(assignment)[:1] or [assignment]
    r = Release(release_dir, assignment, notebook)
    ctx = {"course_root": course_root, "answer_url": answer_url}
    cases = []
    for builder in BUILDERS:
        for case, contents in builder(r, ctx):
            if (case.sandbox_only and not sandbox) or (only and case.student not in only):
                continue
            folder = course_root / "submitted" / case.student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in contents.items():
                (folder / name).write_text(text, encoding="utf-8")
            case.max_score = r.max_score
            case.expected = 0.0 if case.whole else r.max_score - sum(r.points[t] for t in case.lost)
            cases.append(case)
    return cases


class AnswerServer:
    """A local web server with the reference answers (``/<grade id>.py``), counting requests.

    The network case downloads its answer from it: if the sandbox let the request out,
    the answer would work, so a refusal is the sandbox's doing, not a missing internet.
    """

    def __init__(self, r: Release):
        import http.server
        import threading

        answers = {}
        for cell in r.reference().cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                answers[f"/{meta['grade_id']}.py"] = cell.source.encode()
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                server.hits.append(self.path)
                body = answers.get(self.path, b"")
                self.send_response(200 if body else 404)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclasses.dataclass
class Batch:
    """The suite graded in one batch (and the reference graded alone, for comparison)."""

    root: pathlib.Path
    cases: list[Case]
    result: dict
    grades: dict  # student -> grades.csv row
    lines: dict  # student -> grades.csv line (the exact text)
    rows: list[dict]  # cell_report.csv rows
    alone_line: str  # the reference's grades.csv line when graded alone
    server_hits: list[str]
    sandbox: bool
    limits: object
    leftover_rundirs: list  # private folders of sandboxed kernels that were not removed


#: Limits for the suite in tests: short time-outs keep the runaway cases to seconds.
TEST_LIMITS = dict(cell_timeout=20, notebook_timeout=240, memory=4 << 30)
_BATCH: dict[tuple, Batch] = {}


def run_batch(
    assignment: str = "01_masks", jobs: int = 2, root: pathlib.Path | None = None
) -> Batch:
    """Write the suite and grade it in one batch (once per process: tests share it)."""
    import csv
    import shutil
    import tempfile

    from autograder import grade
    from autograder import sandbox as sb

    key = (assignment, jobs)
    if key in _BATCH:
        return _BATCH[key]
    if root is None:
        import atexit
        import os

        root = pathlib.Path(tempfile.mkdtemp(prefix="hostile-"))
        if not os.environ.get("AUTOGRADER_KEEP"):  # keep it to look at: AUTOGRADER_KEEP=1
            atexit.register(shutil.rmtree, root, ignore_errors=True)
    root = pathlib.Path(root)
    use = sb.probe() is None
    limits = sb.Limits(sandbox=use, **TEST_LIMITS)
    release_dir = root / "release"
    from autograder import release as rel

    rel.generate(release_dir, [assignment])
    (notebook,) = course.notebook_names(assignment)[:1]
    server = AnswerServer(Release(release_dir, assignment, notebook))
    try:
        cases = write_suite(
            root / "course", release_dir, assignment, sandbox=use, answer_url=server.url
        )
        mode = "on" if use else "off"
        result = grade.grade(
            root / "course",
            jobs=jobs,
            assignment_ids=[assignment],
            sandbox_mode=mode,
            limits=limits,
        )
    finally:
        server.stop()
    leftovers = result["leftover_kernel_folders"]
    alone = root / "alone"
    (alone / "submitted").mkdir(parents=True)
    shutil.copytree(root / "course" / "submitted" / "reference", alone / "submitted" / "reference")
    grade.grade(alone, jobs=1, assignment_ids=[assignment], sandbox_mode=mode, limits=limits)

    def lines(path):
        text = (path / "grades.csv").read_text().splitlines()
        return {line.split(",")[3]: line for line in text[1:]}

    with open(root / "course" / "grades.csv") as fh:
        grades = {r["student_id"]: r for r in csv.DictReader(fh)}
    with open(root / "course" / "cell_report.csv") as fh:
        rows = list(csv.DictReader(fh))
    batch = Batch(
        root,
        cases,
        result,
        grades,
        lines(root / "course"),
        rows,
        lines(alone)["reference"],
        list(server.hits),
        use,
        limits,
        leftovers,
    )
    _BATCH[key] = batch
    return batch


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m autograder.hostile", description=__doc__)
    p.add_argument("assignment", nargs="?", default="01_masks")
    p.add_argument("--course", type=pathlib.Path, required=True, help="an empty folder")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    batch = run_batch(args.assignment, args.jobs, args.course)
    bad = 0
    for case in batch.cases:
        got = float(batch.grades[case.student]["score"])
        bad += got != case.expected
        flag = "ok " if got == case.expected else "BAD"
        print(
            f"{flag} {case.student:22} {got:g} of {case.max_score:g} "
            f"(expected {case.expected:g}): {case.title}"
        )
    print(
        f"report: {batch.root / 'course' / 'cell_report.csv'}; "
        f"sandbox {'on' if batch.sandbox else 'OFF'}; {batch.result['seconds']} s"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
