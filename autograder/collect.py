"""``collect``: downloaded notebooks (an LMS zip or a folder) → nbgrader's submitted tree.

Recognised file names (case-insensitive; the notebook name may carry Colab's
"Copy of " prefix or a resubmission suffix such as "-1" or " (2)"):

* Canvas      ``doejane_123456_7890123_01_masks.ipynb`` (also ``doejane_LATE_123456_…``)
* Moodle      ``Jane Doe_12345_assignsubmission_file_01_masks.ipynb``
* Blackboard  ``01_masks_jdoe_attempt_2026-11-20-10-15-00_01_masks.ipynb``
* folders     ``<student>/01_masks.ipynb`` or ``<student>/<assignment>/01_masks.ipynb``
* plain       ``<student>_01_masks.ipynb``

Every input file ends up in the report: collected, superseded by a later
submission of the same student, or not matched (with the reason).
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib
import re
import shutil
import tempfile
import zipfile

from autograder import course

CANVAS = re.compile(r"^(?P<student>[a-z0-9]+)_(?:late_)?(?P<uid>\d+)_(?P<order>\d+)_(?P<rest>.+)$")
MOODLE = re.compile(r"^(?P<student>.+?)_(?P<uid>\d+)_assignsubmission_file_(?P<rest>.+)$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+?)_(?P<student>[^_]+)_attempt_(?P<order>[\d-]+)_(?P<rest>.+)$"
)
JUNK = ("__macosx", ".ds_store", "thumbs.db", ".ipynb_checkpoints")


@dataclasses.dataclass
class Entry:
    """What became of one input file."""

    file: str
    status: str  # collected | superseded | unmatched
    student_id: str = ""
    assignment: str = ""
    notebook: str = ""
    note: str = ""
    order: str = ""


def clean_id(text: str) -> str:
    """A student id nbgrader accepts: lowercase letters, digits, ``_`` and ``-``."""
    return re.sub(r"[^a-z0-9_-]+", "_", text.strip().lower()).strip("_-")


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _find_notebook(text: str, known: dict[str, str]) -> str | None:
    """The released notebook whose name ``text`` contains (the longest such), if any."""
    text = _normal(text)
    hits = [stem for stem in known if re.search(rf"(^|_){re.escape(_normal(stem))}(_|$)", text)]
    return max(hits, key=len) if hits else None


def identify(relpath: pathlib.PurePath, known: dict[str, str]) -> Entry:
    """Work out whose submission a file is and which notebook it answers."""
    entry = Entry(file=str(relpath), status="unmatched")
    name = relpath.name
    if any(part.lower() in JUNK for part in relpath.parts):
        entry.note = "operating-system or editor file, ignored"
        return entry
    if not name.lower().endswith(".ipynb"):
        entry.note = "not a notebook (.ipynb): ask the student to download the notebook itself"
        return entry
    stem = name[: -len(".ipynb")]
    student = order = ""
    rest = stem
    low = stem.lower()
    for pattern in (MOODLE, BLACKBOARD, CANVAS):
        match = pattern.match(low if pattern is CANVAS else stem)
        if match:
            student = match["student"]
            order = match.groupdict().get("order") or ""
            rest = match["rest"]
            break
    notebook = _find_notebook(rest, known)
    if notebook is None:
        entry.note = f"the name matches no released notebook ({', '.join(sorted(known))})"
        return entry
    if not student:
        folders = [
            p for p in relpath.parts[:-1] if _normal(p) not in {_normal(a) for a in known.values()}
        ]
        if folders:
            student = folders[0]
        else:
            prefix = re.split(rf"[_\-\s]*{re.escape(_normal(notebook))}", _normal(rest))[0]
            student = prefix if prefix and not prefix.startswith("copy_of") else ""
    student = clean_id(student)
    if not student:
        entry.note = "cannot tell whose notebook this is (no student name or id in the file name)"
        return entry
    entry.status = "collected"
    entry.student_id, entry.notebook, entry.assignment = student, notebook, known[notebook]
    entry.order = order
    return entry


def _input_files(
    source: pathlib.Path, tmp: pathlib.Path
) -> tuple[pathlib.Path, list[pathlib.Path]]:
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: give a folder or a .zip of notebooks")
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise ValueError(f"{source} is neither a folder nor a zip archive")
        with zipfile.ZipFile(source) as archive:
            archive.extractall(tmp)
        source = tmp
    files = sorted(p for p in source.rglob("*") if p.is_file())
    return source, files


def collect(
    source: pathlib.Path,
    course_root: pathlib.Path,
    known: dict[str, str] | None = None,
) -> list[Entry]:
    """Copy each recognised notebook to ``course_root/submitted/<student>/<assignment>/``.

    ``known`` maps notebook names to assignments (default: every released notebook).
    Writes ``course_root/collect_report.csv`` and returns its rows.
    """
    if known is None:
        known = {
            nb: assignment
            for assignment in course.assignments()
            for nb in course.notebook_names(assignment)
        }
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        root, files = _input_files(pathlib.Path(source), pathlib.Path(tmp))
        entries = [identify(f.relative_to(root), known) for f in files]
        chosen: dict[tuple[str, str], Entry] = {}
        for entry in entries:
            if entry.status != "collected":
                continue
            key = (entry.student_id, entry.notebook)
            previous = chosen.get(key)
            if previous is None or (entry.order, entry.file) > (previous.order, previous.file):
                if previous is not None:
                    previous.status, previous.note = (
                        "superseded",
                        f"a later file replaces it: {entry.file}",
                    )
                chosen[key] = entry
            else:
                entry.status, entry.note = (
                    "superseded",
                    f"a later file replaces it: {previous.file}",
                )
        for entry in chosen.values():
            target = course_root / "submitted" / entry.student_id / entry.assignment
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / entry.file, target / f"{entry.notebook}.ipynb")
    write_report(entries, course_root / "collect_report.csv")
    return entries


def write_report(entries: list[Entry], path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["file", "status", "student_id", "assignment", "notebook", "note"]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for entry in sorted(entries, key=lambda e: e.file):
            writer.writerow(dataclasses.asdict(entry))
