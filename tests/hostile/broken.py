"""Broken and runaway submissions: loops, crashes, memory, edited structure, editors, files."""

from __future__ import annotations

import copy
import json
import random
import string

import nbformat

from autograder import submissions
from tests.hostile.base import Case, Release, dump, gid, index, set_answer

# --------------------------------------------------------------------------- the cases
# Each builder returns (case, files): files maps file names to contents written into
# submitted/<student>/<assignment>/ (None: the folder exists but holds no notebook).


def honest(r: Release, ctx: dict):
    case = Case("reference", "the reference solution (honest)")
    yield case, {f"{r.notebook}.ipynb": dump(r.reference())}
    half = r.answers[(len(r.answers) + 1) // 2 :]
    partial = submissions.make_submission("partial", r.source_path, r.path)
    case = Case(
        "partial",
        "half of the exercises answered (honest)",
        lost=[t for a in half for t in a.tests],
    )
    case.reasons = {t: "not answered" for t in case.lost}
    yield case, {f"{r.notebook}.ipynb": dump(partial)}


def runaway(r: Release, ctx: dict):
    nb, a = r.reference(), r.answer(0)
    cell = nb.cells[index(nb, a.grade_id)]
    cell.source = "while True:  # an infinite loop\n    pass\n\n" + cell.source
    case = Case(
        "h_infinite_loop",
        f"an infinite loop in the answer cell {a.grade_id}",
        lost=a.tests,
        reasons={t: "timed out" for t in a.tests},
        cell_notes={a.grade_id: "not graded itself"},
    )
    yield case, {f"{r.notebook}.ipynb": dump(nb)}

    nb, a = r.reference(), r.answer(1)
    cell = nb.cells[index(nb, a.grade_id)]
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
    yield case, {f"{r.notebook}.ipynb": dump(nb)}


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
        cell = nb.cells[index(nb, a.grade_id)]
        cell.source = code + "\n" + cell.source
        case = Case(
            student,
            f"{title} in the answer cell {a.grade_id}",
            lost=a.tests,
            reasons={t: why for t in a.tests},
            notes=["ran the cells before it again"],
        )
        yield case, {f"{r.notebook}.ipynb": dump(nb)}


def memory_bomb(r: Release, ctx: dict):
    nb, a = r.reference(), r.answer(4)
    cell = nb.cells[index(nb, a.grade_id)]
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
    yield case, {f"{r.notebook}.ipynb": dump(nb)}


def structure(r: Release, ctx: dict):
    # deleted test cells: put back, and graded
    nb, a0, a1 = r.reference(), r.answer(0), r.answer(1)
    gone = [a0.tests[0], a1.tests[-1]]
    nb.cells = [c for c in nb.cells if gid(c) not in gone]
    case = Case(
        "h_deleted_tests",
        f"test cells {', '.join(gone)} deleted",
        notes=[f"{g} was missing from the submission" for g in gone],
    )
    yield case, {f"{r.notebook}.ipynb": dump(nb)}

    # edited test cells (on an unanswered exercise): the release's tests run
    nb, a = r.reference(), r.answer(0)
    set_answer(nb, a.grade_id, r.release.cells[index(r.release, a.grade_id)].source)
    for t in a.tests:
        nb.cells[index(nb, t)].source = "print('all tests passed')\n"
    case = Case(
        "h_edited_tests",
        f"{a.grade_id} unanswered, its tests replaced by a print",
        lost=a.tests,
        reasons={t: "not answered" for t in a.tests},
        notes=[f"{t} was edited" for t in a.tests],
    )
    yield case, {f"{r.notebook}.ipynb": dump(nb)}

    # changed points: the release's count
    nb, a0, a1 = r.reference(), r.answer(0), r.answer(1)
    set_answer(nb, a1.grade_id, r.release.cells[index(r.release, a1.grade_id)].source)
    for t in a0.tests:
        nb.cells[index(nb, t)].metadata["nbgrader"]["points"] = 50
    for t in a1.tests:
        nb.cells[index(nb, t)].metadata["nbgrader"]["points"] = 0
    case = Case(
        "h_changed_points",
        f"points of {a0.grade_id}'s tests set to 50, of {a1.grade_id}'s (unanswered) to 0",
        lost=a1.tests,
        reasons={t: "not answered" for t in a1.tests},
        notes=[f"the points of {a0.tests[0]} were changed"],
    )
    yield case, {f"{r.notebook}.ipynb": dump(nb)}

    # inserted cells, and an answer moved below its tests
    nb, a = r.reference(), r.answer(1)
    moved = nb.cells.pop(index(nb, a.grade_id))
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
    yield case, {f"{r.notebook}.ipynb": dump(nb)}

    # duplicated grade ids: a copied test cell and a copied answer cell (a draft first)
    nb, a0, a2 = r.reference(), r.answer(0), r.answer(2)
    test = nb.cells[index(nb, a0.tests[0])]
    twin = copy.deepcopy(test)
    twin["id"] = nbformat.v4.new_code_cell().id
    nb.cells.insert(index(nb, a0.tests[0]) + 1, twin)
    draft = copy.deepcopy(r.release.cells[index(r.release, a2.grade_id)])
    draft["id"] = nbformat.v4.new_code_cell().id
    nb.cells.insert(index(nb, a2.grade_id), draft)
    case = Case(
        "h_duplicate_ids",
        f"test {a0.tests[0]} and answer {a2.grade_id} duplicated",
        notes=[
            f"grade id '{a0.tests[0]}' appears 2 times",
            f"grade id '{a2.grade_id}' appears 2 times",
        ],
    )
    yield case, {f"{r.notebook}.ipynb": dump(nb)}


def _random_id(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def editors(r: Release, ctx: dict):
    rng = random.Random(7)
    # saved by Colab: extra metadata, kernelspec without language, new cell ids, outputs
    data = json.loads(dump(r.reference()))
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
    data = json.loads(dump(r.reference()))
    for cell in data["cells"]:
        cell["metadata"] = {}
        cell["id"] = _random_id(rng)
    case = Case("h_stripped", "all nbgrader metadata stripped", notes=["metadata repaired"])
    yield case, {f"{r.notebook}.ipynb": json.dumps(data, indent=1)}

    # pasted into a fresh Colab notebook: code cells only, no metadata, the (empty-looking)
    # hidden-test cells left out
    ref = r.reference()
    hidden = [gid(c) for c in r.release.cells if gid(c) and "Hidden tests" in c.source]
    fresh = nbformat.v4.new_notebook()
    fresh.metadata = {
        "colab": {"provenance": []},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
    }
    for cell in ref.cells:
        if cell.cell_type == "code" and gid(cell) not in hidden:
            fresh.cells.append(nbformat.v4.new_code_cell(cell.source))
    case = Case(
        "h_fresh_copy",
        "code pasted into a fresh notebook (no metadata, no markdown, hidden-test cells left out)",
        notes=["metadata repaired"] + [f"{h} was missing" for h in hidden[:1]],
    )
    yield case, {f"{r.notebook}.ipynb": dump(fresh)}


def files(r: Release, ctx: dict):
    text = dump(r.reference())
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
        index(nb, a.grade_id) + 1,
        nbformat.v4.new_code_cell(
            "print('x' * 30_000_000)\nfor i in range(300_000):\n    print(i)"
        ),
    )
    case = Case(
        "h_big_output", "megabytes of output (30 MB in one line, 300,000 lines)", notes=["cut at"]
    )
    yield case, {f"{r.notebook}.ipynb": dump(nb)}


def exits(r: Release, ctx: dict):
    """exit()/quit() end the kernel a moment after their cell; sys.exit() stops the cell."""
    nb, a = r.reference(), r.answer(0)
    cell = nb.cells[index(nb, a.grade_id)]
    cell.source += "\n\nexit()  # done for today\n"
    yield (
        Case(
            "h_exit",
            f"exit() at the end of the answer cell {a.grade_id}",
            lost=a.tests,
            reasons={t: "exit()" for t in a.tests},
            notes=["ran the cells before it again"],
        ),
        {f"{r.notebook}.ipynb": dump(nb)},
    )
    nb, a2, a3 = r.reference(), r.answer(2), r.answer(3)
    nb.cells[index(nb, a2.grade_id)].source += "\n\nquit()\n"
    cell = nb.cells[index(nb, a3.grade_id)]
    cell.source = 'import sys\nsys.exit("not finished")\n\n' + cell.source
    yield (
        Case(
            "h_quit_sys_exit",
            f"quit() at the end of {a2.grade_id}, sys.exit() at the top of {a3.grade_id}",
            lost=a2.tests + a3.tests,
            reasons={**{t: "exit()" for t in a2.tests}, **{t: "sys.exit()" for t in a3.tests}},
        ),
        {f"{r.notebook}.ipynb": dump(nb)},
    )


def old_format(r: Release, ctx: dict):
    nb = r.reference()
    yield (
        Case("h_nbformat3", "the reference solution saved as nbformat 3", notes=["nbformat 3"]),
        {f"{r.notebook}.ipynb": nbformat.writes(nb, version=3)},
    )


LOGGING = {  # correct code that writes to stderr: a log line, a print, a progress bar
    0: "import logging\n\n_quiet_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n"
    "    logging.warning('{name}: %d argument(s)', len(args))\n"
    "    return _quiet_{name}(*args, **kwargs)\n",
    1: "import sys\n\n_quiet_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n"
    "    print('{name}: working', file=sys.stderr)\n"
    "    return _quiet_{name}(*args, **kwargs)\n",
    2: "try:\n    from tqdm import tqdm\nexcept ImportError:  # the same kind of output by hand\n"
    "    def tqdm(items, **kwargs):\n        import sys\n"
    "        for i, item in enumerate(items):\n"
    "            print(f'\\r{{i}}/{{len(items)}}', end='', file=sys.stderr)\n"
    "            yield item\n\n_quiet_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n"
    "    for _ in tqdm(range(3), desc='{name}'):\n        pass\n"
    "    return _quiet_{name}(*args, **kwargs)\n",
}


def honest_noise(r: Release, ctx: dict):
    """Correct answers that log to stderr, and a plain cell that never ends: full marks."""
    nb = r.reference()
    for k, template in LOGGING.items():
        a = r.answer(k)
        cell = nb.cells[index(nb, a.grade_id)]
        cell.source += "\n\n" + template.format(name=a.names[0])
    yield (
        Case(
            "h_logs_stderr",
            "correct answers that call logging.warning, print to stderr, show a progress bar",
        ),
        {f"{r.notebook}.ipynb": dump(nb)},
    )
    nb, a = r.reference(), r.answer(1)
    at = index(nb, a.grade_id)
    nb.cells.insert(at, nbformat.v4.new_code_cell("while True:  # waiting for nothing\n    pass\n"))
    yield (
        Case(
            "h_slow_plain_cell",
            f"an infinite loop in a plain code cell (cell {at}, not graded)",
            cell_notes={f"cell {at}": "not graded itself"},
        ),
        {f"{r.notebook}.ipynb": dump(nb)},
    )
