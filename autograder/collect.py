"""``collect``: downloaded notebooks (an LMS zip or a folder) → nbgrader's submitted tree.

Recognised file names (case-insensitive; the notebook name may carry Colab's "Copy of "
prefix or a resubmission suffix such as "-1" or " (2)"), and the student id each gives
(see :mod:`autograder.students`):

* Canvas      ``doejane_123456_7890123_01_masks.ipynb`` (also ``doejane_LATE_123456_…``)
  → ``doejane_123456``
* Moodle      ``Jane Doe_20001_assignsubmission_file_01_masks.ipynb``, or the file
  ``01_masks.ipynb`` in a folder ``Jane Doe_20001_assignsubmission_file_`` → ``jane_doe_20001``
* Blackboard  ``01_masks_jdoe_attempt_2026-11-20-10-15-00_01_masks.ipynb`` → ``jdoe`` (the
  name comes from Blackboard's receipt ``…_attempt_2026-11-20-10-15-00.txt`` when present)
* folders     ``<student>/01_masks.ipynb`` or ``<student>/<assignment>/01_masks.ipynb``
* plain       ``<student>_01_masks.ipynb``

Folders: where a folder holds several folders with notebooks (one per student), each of those
is a student. Otherwise a name in the file name wins (``downloads/alice_01_masks.ipynb`` is
alice's), and only a notebook without one belongs to the folder it is in. Folders named like
an assignment or a notebook are never students.

Resubmissions of one student and notebook are ranked by the LMS's own order (the Canvas file
id, a number; the Blackboard attempt date), then by the copy suffix (``01_masks (1)``,
``01_masks-1`` and ``01_masks-2`` are later than ``01_masks``), then by the zip entry's
timestamp (a folder: the file's modification time); the newest one that can be read and is
within the size limit is collected.

Every input file ends up in ``collect_report.csv`` with its status: ``collected``,
``superseded`` (a later file of that student and notebook was collected), ``unmatched``
(not a notebook, or no released notebook, or no student in its name), ``ignored`` (operating
system files, Blackboard receipts), ``link`` (a symbolic link: never followed), ``too_large``
(over the size limit) or ``broken`` (cannot be unpacked or read); the note says why. Who is
who is recorded in ``students.csv``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import pathlib
import re

from autograder import course, students, unpack
from autograder.students import Person

MB = 1_000_000
DEFAULT_MAX_SIZE = 50 * MB
STATUSES = ("collected", "superseded", "unmatched", "ignored", "link", "too_large", "broken")
REPORT_COLUMNS = ["file", "status", "student_id", "assignment", "notebook", "note"]

CANVAS = re.compile(
    r"^(?P<name>[^\W_]+)_(?:late_)?(?P<uid>\d+)_(?P<order>\d+)_(?P<rest>.+)$", re.IGNORECASE
)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_[a-z]+_(?P<rest>.+)$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_[a-z]+_?$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+?)_(?P<login>[^_]+)_attempt_"
    r"(?P<date>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<rest>.+))?$"
)
RECEIPT_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<login>[^()]*)\)\s*$", re.MULTILINE)
COPY = re.compile(r"^\s*(?:\((?P<a>\d+)\)|[-_ ](?P<b>\d+)|-copy(?P<c>\d+))\s*$", re.IGNORECASE)
COPY_OF = re.compile(r"^copy[\W_]+of\b", re.IGNORECASE)
JUNK = ("__macosx", ".ds_store", "thumbs.db", "desktop.ini", ".ipynb_checkpoints")


@dataclasses.dataclass
class Entry:
    """What became of one input file (the first six fields are its row of the report)."""

    file: str
    status: str  # one of STATUSES ("pending" while collect works)
    student_id: str = ""
    assignment: str = ""
    notebook: str = ""
    note: str = ""
    person: Person | None = dataclasses.field(default=None, repr=False)
    order: tuple[int, ...] = ()  # the LMS's attempt number or date
    copy: int = 0  # the copy suffix: 1 for "01_masks (1)" or "01_masks-1"
    plain: str = ""  # a student name written before the notebook name
    item: unpack.Item | None = dataclasses.field(default=None, repr=False)

    @property
    def mtime(self) -> float:
        return self.item.mtime if self.item else 0.0

    def rank(self) -> tuple:
        return (self.order, self.copy, self.mtime, self.file)


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def notebook_in(text: str, known: dict[str, str]) -> tuple[str, str, str] | None:
    """The released notebook ``text`` names (the longest such), and the text before and after."""
    best = None
    for stem in known:
        words = [re.escape(w) for w in re.split(r"[\W_]+", stem) if w]
        pattern = r"(?<![^\W_])" + r"[\W_]+".join(words) + r"(?![^\W_])"
        match = re.search(pattern, text, re.IGNORECASE)
        if match and (best is None or len(stem) > len(best[0])):
            best = (stem, match)
    if best is None:
        return None
    stem, match = best
    return stem, text[: match.start()], text[match.end() :]


def parse_name(stem: str) -> tuple[Person | None, tuple[int, ...], str]:
    """Who an LMS file name says the file is from, the LMS's order, and the rest of the name."""
    if match := MOODLE.match(stem):
        return Person("moodle", match["uid"], match["name"].strip()), (), match["rest"]
    if match := BLACKBOARD.match(stem):
        order = tuple(int(n) for n in match["date"].split("-"))
        return (
            Person("blackboard", name=match["login"], login=match["login"]),
            order,
            (match["rest"] or ""),
        )
    if match := CANVAS.match(stem):
        person = Person("canvas", match["uid"], match["name"])
        return person, (int(match["order"]),), match["rest"]
    return None, (), stem


def _copy_number(suffix: str) -> int:
    match = COPY.match(suffix)
    return int(match["a"] or match["b"] or match["c"]) if match else 0


def _plain_name(prefix: str) -> str:
    name = prefix.strip(" _-.()[]")
    return COPY_OF.sub("", name).strip(" _-.()[]")


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(p.lower() in JUNK or p.startswith(("._", "~$")) for p in parts)


def describe(item: unpack.Item, known: dict[str, str]) -> Entry:
    """What a file is from its name alone (its owner may still depend on the folders)."""
    entry = Entry(file=item.name, status="pending", item=item)
    name = item.parts[-1]
    stem, dot, ext = name.rpartition(".")
    if item.kind == "broken":  # an unsafe name is not taken as anybody's
        entry.status, entry.note = item.kind, item.note
        return entry
    if _is_junk(item.parts):
        entry.status, entry.note = "ignored", "operating-system or editor file, ignored"
        return entry
    if not dot or ext.lower() != "ipynb":
        entry.status = "unmatched"
        entry.note = "not a notebook (.ipynb): ask the student to download the notebook itself"
        if dot and ext.lower() == "zip":
            entry.note = "a zip inside the download is not opened: collect it on its own"
        return entry
    person, entry.order, rest = parse_name(stem)
    found = notebook_in(rest, known)
    if found is None:
        entry.status = "unmatched"
        entry.note = f"the name matches no released notebook ({', '.join(sorted(known))})"
        return entry
    entry.notebook, prefix, suffix = found
    entry.assignment = known[entry.notebook]
    entry.copy = _copy_number(suffix)
    entry.person = person or _moodle_folder(item.parts[:-1])
    entry.plain = "" if entry.person else _plain_name(prefix)
    return entry


def _moodle_folder(folders: tuple[str, ...]) -> Person | None:
    for folder in reversed(folders):
        if match := MOODLE_FOLDER.match(folder):
            return Person("moodle", match["uid"], match["name"].strip())
    return None


def assign_owners(entries: list[Entry], known: dict[str, str]) -> None:
    """Give each notebook whose file name names no LMS user its owner from the folders."""
    skip = {_normal(a) for a in known.values()} | {_normal(n) for n in known}
    chains, children = {}, {}
    for entry in entries:
        if entry.notebook and entry.person is None:
            folders = entry.item.parts[:-1]
            kept = [i for i, folder in enumerate(folders) if _normal(folder) not in skip]
            chain = [folders[: i + 1] for i in kept]
            chains[id(entry)] = chain
            for parent, child in zip([()] + chain, chain):
                children.setdefault(parent, set()).add(child)
    for entry in entries:
        chain = chains.get(id(entry))
        if chain is None:
            continue
        parents = [()] + chain
        split = [folder for folder, parent in zip(chain, parents) if len(children[parent]) > 1]
        if split:  # one folder per student
            entry.person = Person("folder", name=split[0][-1])
        elif entry.plain:
            entry.person = Person("plain", name=entry.plain)
        elif chain:
            entry.person = Person("folder", name=chain[-1][-1])
        else:
            entry.status = "unmatched"
            entry.note = "cannot tell whose notebook this is (no student name or id in its name)"


def _read_receipts(entries: list[Entry]) -> dict[str, str]:
    """Blackboard's receipts (``…_attempt_<date>.txt``): the display name of each login."""
    names = {}
    for entry in entries:
        stem, _, ext = entry.file.rpartition("/")[2].rpartition(".")
        match = BLACKBOARD.match(stem)
        if ext.lower() != "txt" or not match or match["rest"] or entry.item.kind != "file":
            continue
        try:
            text = unpack.read_limited(entry.item, 1 << 16).decode("utf-8", "replace")
        except (unpack.TooLarge, unpack.Unreadable):
            text = ""
        found = RECEIPT_NAME.search(text)
        entry.status = "ignored"
        entry.note = "Blackboard's submission receipt" + (
            f": the name {found['name']} ({found['login']}) is taken from it" if found else ""
        )
        if found:
            names[found["login"].casefold()] = found["name"]
    return names


def _when(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def why_newer(a: Entry, b: Entry, clock: str) -> str:
    """Why ``a`` ranks above ``b`` (the first difference in their ranks)."""
    if a.order != b.order:
        lms = a.person.lms if a.person else ""
        if lms == "canvas" and b.order:
            return f"a later Canvas upload (file id {a.order[0]} > {b.order[0]})"
        if lms == "blackboard" and b.order:
            dates = [_when(datetime.datetime(*o).timestamp()) for o in (a.order, b.order)]
            return f"a later Blackboard attempt ({dates[0]} > {dates[1]})"
        return "the LMS numbers it as a later attempt"
    if a.copy != b.copy:
        return f"its name marks a later copy (copy {a.copy} > {b.copy or 'none'})"
    if a.mtime != b.mtime:
        return f"a newer {clock} ({_when(a.mtime)} > {_when(b.mtime)})"
    return "the same attempt and time: the later file name wins"


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB // 10 else f"{n:,} bytes"


def _too_large_note(err: unpack.TooLarge, limit: int) -> str:
    seen = (
        _size(err.size)
        if err.declared
        else f"more than {limit / MB:g} MB once unpacked (unpacking stopped there)"
    )
    return (
        f"too large: {seen}, the limit is {limit / MB:g} MB per notebook: ask the student to "
        "clear all outputs and hand it in again, or collect again with a larger --max-size"
    )


def _add_note(entry: Entry, note: str) -> None:
    entry.note = f"{entry.note}; {note}" if entry.note else note


def choose(
    candidates: list[Entry], course_root: pathlib.Path, limit: int, clock: str
) -> Entry | None:
    """Copy the newest readable candidate of one student and notebook; mark the others."""
    ranked = sorted(candidates, key=Entry.rank, reverse=True)
    failed, winner = [], None
    for entry in ranked:
        target = course_root / "submitted" / entry.student_id / entry.assignment
        target.mkdir(parents=True, exist_ok=True)
        try:
            unpack.copy_limited(entry.item, target / f"{entry.notebook}.ipynb", limit)
        except unpack.TooLarge as err:
            entry.status = "too_large"
            _add_note(entry, _too_large_note(err, limit))
        except unpack.Unreadable as err:
            entry.status = "broken"
            _add_note(entry, f"cannot unpack it: {err}")
        else:
            entry.status, winner = "collected", entry
            break
        failed.append(entry)
    if winner is None:
        for folder in (target, target.parent):  # no empty folder: grade would see a student
            if not any(folder.iterdir()):
                folder.rmdir()
        return None
    others = [e for e in ranked if e is not winner and e not in failed]
    if others:
        _add_note(
            winner,
            f"the newest of {len(others) + 1} files: {why_newer(winner, others[0], clock)} "
            f"than {others[0].file}",
        )
    if failed:
        _add_note(winner, "collected instead of the newer " + ", ".join(e.file for e in failed))
    for entry in others:
        entry.status = "superseded"
        _add_note(entry, f"superseded by {winner.file}: {why_newer(winner, entry, clock)}")
    return winner


def collect(
    source: pathlib.Path,
    course_root: pathlib.Path,
    known: dict[str, str] | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> list[Entry]:
    """Copy each recognised notebook to ``course_root/submitted/<student>/<assignment>/``.

    ``known`` maps notebook names to assignments (default: every released notebook);
    ``max_size`` is the limit per notebook in bytes, after unpacking. Writes
    ``course_root/collect_report.csv`` and ``course_root/students.csv``; returns the rows
    of the report.
    """
    if known is None:
        known = {
            nb: assignment
            for assignment in course.assignments()
            for nb in course.notebook_names(assignment)
        }
    course_root = pathlib.Path(course_root)
    roster = students.Roster(students.read(course_root))
    source = pathlib.Path(source)
    clock = "modification time" if source.is_dir() else "zip timestamp"
    with unpack.open_download(source) as items:
        entries = [describe(item, known) for item in items]
        assign_owners(entries, known)
        receipts = _read_receipts(entries)
        for entry in entries:
            if entry.person and entry.person.lms == "blackboard":
                login = entry.person.login.casefold()
                name = receipts.get(login, entry.person.name)
                entry.person = dataclasses.replace(entry.person, name=name)
        ids = roster.assign([e.person for e in entries if e.person])
        groups: dict[tuple[str, str], list[Entry]] = {}
        for entry in entries:
            if entry.person:
                entry.student_id = ids[entry.person]
            if entry.status == "pending" and entry.item.kind != "file":
                entry.status = entry.item.kind
                _add_note(entry, entry.item.note)
            elif entry.status == "pending":
                groups.setdefault((entry.student_id, entry.notebook), []).append(entry)
                _add_note(entry, entry.item.note)
            elif entry.item.kind != "file":
                entry.status = entry.item.kind
                entry.note = entry.item.note
        for key in sorted(groups):
            choose(groups[key], course_root, max_size, clock)
    write_report(entries, course_root / "collect_report.csv")
    students.write(course_root, roster)
    return entries


def write_report(entries: list[Entry], path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for entry in sorted(entries, key=lambda e: e.file):
            writer.writerow({c: getattr(entry, c) for c in REPORT_COLUMNS})
