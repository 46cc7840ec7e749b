"""Where the course's answers are, and where copies of them turn up.

An *answer line* is a line of a solution region (``### BEGIN SOLUTION`` … ``### END
SOLUTION``, or a whole solution cell without markers) or of a hidden-test block
(``### BEGIN HIDDEN TESTS`` …) of a solution notebook: stripped, at least
:data:`MIN_LENGTH` characters long, and shown nowhere in public, that is in no other
part of any solution notebook (text, scaffolding, visible tests), given cells aside.

:func:`scan` looks for answer lines in a tree (the student repository that
``publish`` is about to write). Each one it finds is either

* **given**: a solution line of an *earlier* assignment (it may also occur elsewhere)
  inside a given cell of a later notebook (a cell whose metadata names its sources,
  ``"unet_course": {"given": [...]}``, or whose grade id starts with ``given_``): a
  reference answer that becomes public by design, which ``publish`` reports; or
* a **leak**: anything else (a hidden test anywhere, an answer in the helper package,
  in a README, in an ordinary cell, or in a notebook that comes before its own).
"""

from __future__ import annotations

import builtins
import collections
import dataclasses
import json
import keyword
import pathlib
import re

import nbformat

from autograder import course, nbcode, sources

REGION = re.compile(
    r"(?ms)^[ \t]*### BEGIN (SOLUTION|HIDDEN TESTS)[ \t]*$(.*?)^[ \t]*### END \1[ \t]*$"
)
#: Shorter lines (``else:``, ``return x``, ``)``) say nothing about an answer, and nor do
#: lines made of keywords and builtins alone (``raise ValueError(``).
MIN_LENGTH = 10
_GENERIC = set(keyword.kwlist) | set(dir(builtins))


@dataclasses.dataclass(frozen=True, order=True)
class Origin:
    """Where an answer line comes from: an assignment's solution cell or hidden test."""

    assignment: str
    grade_id: str
    kind: str  # "solution" or "hidden test"


@dataclasses.dataclass(frozen=True, order=True)
class Found:
    """An answer line found in a file (``cell``: the notebook cell's grade id or index)."""

    file: str
    cell: str
    line: str
    origins: tuple[Origin, ...]


def is_given(cell) -> bool:
    grade_id = nbcode.grade_id(cell) or ""
    return bool(sources.given_spec(cell)) or grade_id.startswith("given_")


def telling(line: str) -> bool:
    """Whether a stripped line can say something about an answer."""
    names = set(re.findall(r"[A-Za-z_]\w*", line)) - _GENERIC
    return len(line) >= MIN_LENGTH and bool(names)


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def answer_lines(solutions: pathlib.Path = course.SOLUTIONS) -> dict[str, set[Origin]]:
    """Every answer line of ``solutions/`` and where it comes from."""
    secret: dict[str, set[Origin]] = collections.defaultdict(set)
    public: set[str] = set()
    for path in sorted(solutions.glob("*/*.ipynb")):
        assignment = path.parent.name
        for index, cell in enumerate(nbcode.read(path).cells):
            if is_given(cell):
                continue
            meta = cell.metadata.get("nbgrader", {})
            grade_id = nbcode.grade_id(cell) or f"cell {index}"
            regions = REGION.findall(cell.source)
            rest = REGION.sub("", cell.source)
            if meta.get("solution") and not regions:  # nbgrader replaces the whole cell
                regions, rest = [("SOLUTION", cell.source)], ""
            for kind, body in regions:
                origin = Origin(assignment, grade_id, kind.lower().replace("tests", "test"))
                for line in _lines(body):
                    secret[line].add(origin)
            public |= _lines(rest)
    return {
        line: origins
        for line, origins in secret.items()
        if telling(line) and line not in public
    }


def strings(value):
    """Every string inside a notebook's JSON value (outputs, metadata, attachments)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def _notebook_texts(path: pathlib.Path):
    """(cell label, is a given cell, text) for everything in a notebook that holds text."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb.get("cells", [])):
        label = nbcode.grade_id(nbformat.from_dict(cell)) or f"cell {index}"
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        yield label, is_given(nbformat.from_dict(cell)), source
        rest = {k: v for k, v in cell.items() if k != "source"}
        yield label, False, "\n".join(strings(rest))
    yield "metadata", False, "\n".join(strings({k: v for k, v in nb.items() if k != "cells"}))


def _texts(tree: pathlib.Path):
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = path.relative_to(tree).as_posix()
        if path.suffix == ".ipynb":
            for label, given, text in _notebook_texts(path):
                yield rel, label, given, text
            continue
        data = path.read_bytes()
        yield rel, "", False, data.decode("utf-8", errors="replace")


def scan(
    tree: pathlib.Path, answers: dict[str, set[Origin]] | None = None
) -> tuple[list[Found], list[Found]]:
    """The answer lines in ``tree``: ``(given, leaks)`` (see the module docstring)."""
    answers = answer_lines() if answers is None else answers
    given, leaks = [], []
    for rel, label, in_given_cell, text in _texts(tree):
        notebook = pathlib.PurePosixPath(rel).parent.name if rel.endswith(".ipynb") else ""
        for line in sorted(_lines(text) & answers.keys()):
            origins = tuple(sorted(answers[line]))
            earlier = tuple(o for o in origins if o.kind == "solution" and o.assignment < notebook)
            if in_given_cell and earlier:
                given.append(Found(rel, label, line, earlier))
            else:
                leaks.append(Found(rel, label, line, origins))
    return given, leaks


def summary(found: list[Found], answers: dict[str, set[Origin]]) -> dict:
    """What the found lines come from: ``{(file, cell): {assignment: {grade id: text}}}``,
    the text ``"in full"`` or ``"in part, 3 of 12 lines"`` of that cell's answer lines."""
    total = collections.Counter(o for origins in answers.values() for o in origins)
    seen: dict[tuple[str, str], dict[Origin, set[str]]] = {}
    for f in found:
        per = seen.setdefault((f.file, f.cell), collections.defaultdict(set))
        for origin in f.origins:
            per[origin].add(f.line)
    out: dict = {}
    for key, per in sorted(seen.items()):
        for origin, lines in sorted(per.items()):
            n, of = len(lines), total[origin]
            text = "in full" if n == of else f"in part, {n} of {of} lines"
            out.setdefault(key, {}).setdefault(origin.assignment, {})[origin.grade_id] = text
    return out
