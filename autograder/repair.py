"""Read a submitted notebook, normalise it, and repair its nbgrader metadata from the release.

Before nbgrader sees a submission, the grading worker (``grade.stage``) runs every
submitted notebook through :func:`intake`:

* the file is read defensively: an empty file, broken JSON, JSON that is not a notebook
  or a notebook nbformat cannot read is *unreadable*, with the reason, and never
  crashes grading;
* a notebook under a wrong name (``01_masks_final.ipynb``) is graded as the notebook it
  answers when that is unambiguous, with a note;
* the notebook is rebuilt clean (cell sources and the metadata that matters, the
  release's kernelspec): what Colab or other editors add (``colab`` metadata, cell ids,
  a ``kernelspec`` without ``language``, outputs) cannot confuse nbgrader;
* cells are matched to the release (:func:`repair`): cells that keep their nbgrader
  metadata by grade id (duplicates and unknown ids are neutralised, edited tests and
  points are noted: nbgrader runs the release's version); cells that lost it (a
  notebook pasted into a fresh Colab notebook, metadata stripped) by their content:
  locked and test cells by exact source, answer cells by their ``def name(`` line or the
  similarity of the scaffolding text, in notebook order. Missing locked cells (the
  setup, the tests) are put back where the release has them; answer cells that cannot
  be found are reported, never silently zeroed;
* code that reaches for the grader's machinery is flagged for a person to review.

The submitted file itself is never changed: the worker writes the result to a separate
folder (``staged/``) that nbgrader grades.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import pathlib
import re

import nbformat

MISSING_MARK = "was missing from the submission"
CONVERTED = "(converted from nbformat 3)"
DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.M)
# Code in a student cell that a person should look at: it can interfere with grading.
REVIEW = [
    (re.compile(r"\bchecks\s*\.\s*\w+\s*=(?!=)"), "assigns to a test helper (checks.…)"),
    (re.compile(r"^\s*checks\s*=(?!=)", re.M), "rebinds the name checks"),
    (re.compile(r"\b(import\s+builtins|__builtins__)\b"), "touches builtins"),
    (re.compile(r"\bsys\s*\.\s*modules\b"), "changes sys.modules"),
    (re.compile(r"\bget_ipython\s*\(\s*\)"), "uses the IPython shell (get_ipython())"),
    (re.compile(r"\b(settrace|setprofile|addaudithook)\b"), "installs a trace or audit hook"),
    (re.compile(r"\bdef\s+__(eq|ne)__\b"), "defines __eq__/__ne__"),
    (re.compile(r"\b(unet_course\s*\.\s*_grading|_grading)\b"), "refers to the grader's guard"),
    (re.compile(r"\bgc\s*\.\s*get_(objects|referrers)\b"), "walks the garbage collector"),
    (re.compile(r"\bimport\s+ctypes\b|\bfrom\s+ctypes\b"), "uses ctypes"),
    (re.compile(r"\bos\s*\.\s*_exit\b|\bos\s*\.\s*kill\b"), "ends processes"),
    (
        re.compile(r"^\s*(import|from)\s+(socket|urllib|requests|http|ftplib|smtplib)\b", re.M),
        "uses the network",
    ),
    (re.compile(r"[\"'/](solutions|gradebooks?|autograded|submitted)\b"), "names grader folders"),
]


@dataclasses.dataclass
class Intake:
    """What became of one expected notebook of a submission."""

    notebook: str  # the release's notebook name (no .ipynb)
    status: str  # ok | missing | unreadable
    file: str = ""  # the submitted file used
    reason: str = ""  # why missing or unreadable
    notes: list[dict] = dataclasses.field(default_factory=list)
    nb: nbformat.NotebookNode | None = None

    def summary(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "nb"}


def note(kind: str, text: str, cell: str = "") -> dict:
    return {"kind": kind, "cell": cell, "text": text}


# --------------------------------------------------------------------------- reading


def read_notebook(path: pathlib.Path) -> tuple[dict | None, str]:
    """The notebook's JSON (nbformat 4), or None and why it cannot be read.

    An old notebook (nbformat 3) is converted: its JSON then has the key ``CONVERTED``.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable file: {exc.strerror or exc}"
    if not data.strip():
        return None, f"unreadable file: {path.name} is empty ({len(data)} bytes)"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, f"unreadable file: {path.name} is not text (not UTF-8); not a notebook"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, (
            f"unreadable file: {path.name} is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}); the file was probably cut short or edited by hand"
        )
    if isinstance(raw, dict) and (raw.get("nbformat") in (2, 3) or "worksheets" in raw):
        return upgrade(raw, path.name)
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        return None, f"unreadable file: {path.name} is JSON but not a Jupyter notebook (no cells)"
    return raw, ""


def upgrade(raw: dict, name: str) -> tuple[dict | None, str]:
    """An nbformat 3 notebook (``worksheets``: old Jupyter, some LMS previews) as nbformat 4."""
    version = raw.get("nbformat") if raw.get("nbformat") in (2, 3) else 3
    old = dict(raw, nbformat=version, nbformat_minor=raw.get("nbformat_minor", 0))
    old.setdefault("metadata", {})
    try:
        nb = nbformat.convert(nbformat.from_dict(old), 4)
    except Exception as exc:  # nbformat raises several kinds for broken old notebooks
        reason = _text(getattr(exc, "message", "")) or str(exc)
        return None, (
            f"unreadable file: {name} is an old Jupyter notebook (nbformat 3) that could not "
            f"be converted: {' '.join(reason.split())[:200]}"
        )
    if not isinstance(nb.get("cells"), list):
        return (
            None,
            f"unreadable file: {name} is an old Jupyter notebook (nbformat 3) without cells",
        )
    converted = json.loads(json.dumps(nb))
    converted[CONVERTED] = True
    return converted, ""


def _text(value) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def normalise(raw: dict, release) -> tuple[nbformat.NotebookNode, list[dict]]:
    """A clean nbformat-4 notebook from submitted JSON: sources and the metadata that matter."""
    notes = []
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(release.metadata)
    dropped = 0
    for cell in raw["cells"]:
        if not isinstance(cell, dict):
            dropped += 1
            continue
        kind = cell.get("cell_type")
        source = _text(cell.get("source", cell.get("input", "")))
        if kind == "code":
            new = nbformat.v4.new_code_cell(source)
        elif kind == "markdown":
            new = nbformat.v4.new_markdown_cell(source)
        elif kind == "raw":
            new = nbformat.v4.new_raw_cell(source)
        else:
            dropped += 1
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        for key in ("nbgrader", "deletable", "editable", "tags"):
            if key in meta:
                new.metadata[key] = copy.deepcopy(meta[key])
        if not isinstance(new.metadata.get("nbgrader", {}), dict):
            del new.metadata["nbgrader"]
        nb.cells.append(new)
    if dropped:
        notes.append(note("normalised", f"{dropped} cell(s) of an unknown kind were left out"))
    return nb, notes


# --------------------------------------------------------------------------- repair


def _meta(cell) -> dict:
    return (
        cell.metadata.get("nbgrader", {}) if isinstance(cell.metadata.get("nbgrader"), dict) else {}
    )


def _gid(cell) -> str | None:
    gid = _meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def _graded(meta: dict) -> bool:
    return any(meta.get(k) for k in ("grade", "solution", "locked", "task"))


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _kind(meta: dict) -> str:
    if meta.get("solution"):
        return "answer cell"
    if meta.get("grade"):
        return "test cell"
    return "locked cell"


def repair(nb, release) -> tuple[nbformat.NotebookNode, list[dict]]:
    """Give every cell of ``nb`` the release's nbgrader metadata where it belongs (see module)."""
    notes: list[dict] = []
    release_meta = {_gid(c): c for c in release.cells if _gid(c) and _graded(_meta(c))}
    # 1. cells that carry grade ids: duplicates, unknown ids, edits, points
    seen: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        gid = _gid(cell)
        if gid is None:
            if "nbgrader" in cell.metadata:
                del cell.metadata["nbgrader"]
            continue
        if gid not in release_meta:
            del cell.metadata["nbgrader"]
            notes.append(
                note(
                    "unknown_id",
                    f"a cell has the grade id {gid!r}, which the release "
                    "does not have: it runs as an ordinary cell",
                    gid,
                )
            )
            continue
        seen.setdefault(gid, []).append(index)
    for gid, indices in seen.items():
        if len(indices) > 1:
            for index in indices[:-1]:
                del nb.cells[index].metadata["nbgrader"]
            notes.append(
                note(
                    "duplicate",
                    f"grade id {gid!r} appears {len(indices)} times; only "
                    "the last copy counts as that cell (as in nbgrader)",
                    gid,
                )
            )
    for gid, indices in seen.items():
        cell, original = nb.cells[indices[-1]], release_meta[gid]
        _compare(cell, original, notes)
        _adopt(cell, original)
    # 2. release cells whose grade id is missing: find them by content
    missing = [c for c in release.cells if _gid(c) in release_meta and _gid(c) not in seen]
    if missing:
        _match_by_content(nb, release, release_meta, set(seen), notes)
    _check_order(nb, release, notes)
    return nb, notes


def _compare(cell, original, notes: list[dict]) -> None:
    gid, meta, want = _gid(original), _meta(cell), _meta(original)
    if cell.cell_type != original.cell_type:
        notes.append(
            note(
                "edited",
                f"{_kind(want)} {gid} was changed from {original.cell_type} "
                f"to {cell.cell_type}; the release's kind is used",
                gid,
            )
        )
    if want.get("locked") and _norm(cell.source) != _norm(original.source):
        notes.append(
            note(
                "edited",
                f"{_kind(want)} {gid} was edited in the submission; the "
                "release's version was run instead",
                gid,
            )
        )
    if want.get("grade") and meta.get("points") != want.get("points"):
        notes.append(
            note(
                "points",
                f"the points of {gid} were changed in the notebook's "
                f"metadata ({meta.get('points')!r} instead of {want.get('points')!r}); "
                "the release's points count",
                gid,
            )
        )
    flags = [k for k in ("grade", "solution", "locked") if bool(meta.get(k)) != bool(want.get(k))]
    if flags:
        notes.append(
            note(
                "edited",
                f"the nbgrader flags of {gid} were changed ({', '.join(flags)}"
                "); the release's are used",
                gid,
            )
        )


def _adopt(cell, original) -> None:
    """Take over the release's nbgrader metadata (and its cell kind) for ``cell``."""
    if cell.cell_type != original.cell_type:
        cell.cell_type = original.cell_type
        if original.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
    for key in ("deletable", "editable"):
        if key in original.metadata:
            cell.metadata[key] = original.metadata[key]
        else:
            cell.metadata.pop(key, None)


def _defs(source: str) -> set[str]:
    return set(DEF.findall(source))


def _scaffold(source: str) -> str:
    """The lines of an answer cell that the student was given: comments, docstring, def."""
    keep, in_doc = [], False
    for line in source.splitlines():
        s = line.strip()
        quotes = s.count('"""') + s.count("'''")
        if in_doc or quotes or s.startswith(("#", "def ")):
            keep.append(s)
        if quotes % 2:
            in_doc = not in_doc
    return "\n".join(keep)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _match_by_content(nb, release, release_meta, present: set[str], notes: list[dict]) -> None:
    def signature(cell, side):
        gid = _gid(cell)
        if gid and gid in present:
            return ("id", gid)
        if side == "release" and gid in release_meta and _meta(cell).get("solution"):
            return ("answer", gid)  # matched below, by its def line or its scaffolding
        return (cell.cell_type, _norm(cell.source))

    r_sig = [signature(c, "release") for c in release.cells]
    s_sig = [signature(c, "submission") for c in nb.cells]
    pairs: dict[int, int] = {}  # release index -> submission index
    blocks = difflib.SequenceMatcher(None, r_sig, s_sig, autojunk=False).get_matching_blocks()
    for block in blocks:
        for k in range(block.size):
            pairs[block.a + k] = block.b + k
    taken = set(pairs.values())
    repaired, inserted, unmatched = [], [], []

    def window(r_index):
        before = [pairs[i] for i in pairs if i < r_index]
        after = [pairs[i] for i in pairs if i > r_index]
        return (max(before) + 1 if before else 0), (min(after) if after else len(nb.cells))

    for r_index, original in enumerate(release.cells):
        gid = _gid(original)
        if gid not in release_meta or gid in present:
            continue
        if r_index in pairs:  # found by exact content
            _adopt(nb.cells[pairs[r_index]], original)
            repaired.append(gid)
            continue
        lo, hi = window(r_index)
        candidates = [
            i
            for i, c in enumerate(nb.cells)
            if i not in taken and c.cell_type == original.cell_type and not _gid(c)
        ]
        best = _best_candidate(original, nb, candidates, lo, hi)
        if best is not None:
            _adopt(nb.cells[best], original)
            pairs[r_index] = best
            taken.add(best)
            repaired.append(gid)
            continue
        if _meta(original).get("solution"):
            names = ", ".join(sorted(_defs(original.source))) or "its code"
            unmatched.append(gid)
            notes.append(
                note(
                    "missing_answer",
                    f"metadata repair could not find the answer cell "
                    f"{gid} ({names}) in the submission; the tests that use it run "
                    "without it",
                    gid,
                )
            )
            continue
        # a locked or test cell that is not there at all: put the release's back
        cell = copy.deepcopy(original)
        cell.pop("id", None)
        cell = nbformat.from_dict(cell)
        cell["id"] = nbformat.v4.new_code_cell().id
        nb.cells.insert(lo, cell)
        for r in pairs:  # shift the submission indices after the insertion
            if pairs[r] >= lo:
                pairs[r] += 1
        taken = {t + 1 if t >= lo else t for t in taken}
        pairs[r_index] = lo
        taken.add(lo)
        inserted.append(gid)
        notes.append(
            note(
                "restored_cell",
                f"{_kind(_meta(original))} {gid} {MISSING_MARK} and was put back",
                gid,
            )
        )
    if repaired:
        notes.insert(
            0,
            note(
                "repaired",
                f"metadata repaired: {len(repaired)} cell(s) had lost "
                "their nbgrader metadata and were matched to the release by their "
                f"content ({', '.join(repaired)})",
            ),
        )
    total = sum(1 for c in release.cells if c.cell_type == "markdown" or _gid(c))
    found = sum(
        1 for i in pairs if release.cells[i].cell_type == "markdown" or _gid(release.cells[i])
    )
    if total and found - len(inserted) < 0.25 * total:
        notes.append(
            note(
                "foreign",
                f"this does not look like the released notebook: only "
                f"{found - len(inserted)} of {total} of its cells were found",
            )
        )


def _best_candidate(original, nb, candidates, lo, hi) -> int | None:
    meta = _meta(original)
    names = _defs(original.source)
    inside = [i for i in candidates if lo <= i < hi]
    if meta.get("solution"):
        for pool in (inside, candidates):  # its place first, then anywhere (moved cells)
            by_def = [i for i in pool if names and names & _defs(nb.cells[i].source)]
            if by_def:
                return by_def[0]
        scored = [
            (_similarity(_scaffold(original.source), _scaffold(nb.cells[i].source)), i)
            for i in inside
        ]
        scored = [s for s in scored if s[0] >= 0.5]
        return max(scored)[1] if scored else None
    # locked and test cells: an edited copy (nbgrader runs the release's source anyway)
    scored = [(_similarity(_norm(original.source), _norm(nb.cells[i].source)), i) for i in inside]
    scored = [s for s in scored if s[0] >= 0.8]
    return max(scored)[1] if scored else None


def _check_order(nb, release, notes: list[dict]) -> None:
    """Answer cells that now come after a test of theirs (the test runs before the answer)."""
    position = {_gid(c): i for i, c in enumerate(nb.cells) if _gid(c)}
    order = [_gid(c) for c in release.cells if _gid(c)]
    for k, gid in enumerate(order):
        if gid not in position or not _meta(nb.cells[position[gid]]).get("solution"):
            continue
        for later in order[k + 1 :]:
            meta = _meta(nb.cells[position[later]]) if later in position else {}
            if meta.get("solution"):
                break
            if meta.get("grade") and position[later] < position[gid]:
                notes.append(
                    note(
                        "order",
                        f"the answer cell {gid} comes after its test {later} "
                        "in the submission, so the test ran before the answer was "
                        "defined",
                        later,
                    )
                )
                break


def review(nb) -> list[dict]:
    """Notes for student code (unlocked cells) that can interfere with grading."""
    found: dict[str, list[str]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _meta(cell).get("locked"):
            continue
        for pattern, what in REVIEW:
            if pattern.search(cell.source):
                found.setdefault(what, []).append(_gid(cell) or f"cell {index}")
    return [
        note("review", f"for a person to review: student code {what} ({', '.join(where[:5])})")
        for what, where in found.items()
    ]


# --------------------------------------------------------------------------- one notebook


def locate(folder: pathlib.Path, name: str, others: list[str]) -> tuple[pathlib.Path | None, str]:
    """The submitted file for notebook ``name`` in ``folder``, and a note if it is not exact."""
    exact = folder / f"{name}.ipynb"
    if exact.is_file():
        return exact, ""

    def key(text):
        return re.sub(r"[^a-z0-9]+", "", text.lower())

    spare = sorted(
        p
        for p in folder.glob("*.ipynb")
        if p.is_file() and p.stem not in others and not p.name.startswith(".")
    )
    named = [p for p in spare if key(name) in key(p.stem)]
    pool = named or spare
    if len(pool) == 1:
        return pool[0], f"graded {pool[0].name} as {name}.ipynb (the file had another name)"
    if pool:
        listing = ", ".join(p.name for p in pool)
        return None, f"no {name}.ipynb, and more than one other notebook ({listing}): not graded"
    return None, ""


def intake(folder: pathlib.Path, name: str, others: list[str], release) -> Intake:
    """Read, normalise and repair the submission of notebook ``name`` found in ``folder``."""
    path, located = locate(folder, name, others)
    if path is None:
        listing = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        reason = located or (
            f"not submitted: no {name}.ipynb was handed in"
            + (f" (the folder holds: {', '.join(listing[:5])})" if listing else "")
        )
        return Intake(name, "missing", reason=reason)
    result = Intake(name, "ok", file=path.name)
    if located:
        result.notes.append(note("renamed", located))
    raw, problem = read_notebook(path)
    if raw is None:
        result.status, result.reason = "unreadable", problem
        return result
    if raw.pop(CONVERTED, False):
        result.notes.append(
            note(
                "normalised",
                f"{path.name} is an old Jupyter notebook (nbformat 3, e.g. from an old "
                "Jupyter or an LMS preview): converted to nbformat 4 and graded",
            )
        )
    nb, notes = normalise(raw, release)
    result.notes += notes
    nb, notes = repair(nb, release)
    result.notes += notes + review(nb)
    result.nb = nb
    return result
