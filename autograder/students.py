"""Who is who: student ids made from LMS names, and ``course_root/students.csv``.

A student id is what nbgrader and every folder of the course use: lowercase ASCII letters,
digits and ``_``, at most :data:`MAX_ID` characters. Where the LMS gives its own user id,
the student id keeps it, so namesakes stay apart:

* Canvas ``doejane_123456_…`` → ``doejane_123456`` (Canvas user id 123456)
* Moodle ``Jane Doe_20001_assignsubmission_file_…`` → ``jane_doe_20001`` (participant id)
* a name with nothing Latin in it (``李雷_10004_…``) → ``student_10004``
* Blackboard ``…_jdoe_attempt_…`` → ``jdoe`` (the user name, unique in Blackboard)
* folders and plain file names → the name, accents removed (``José`` → ``jose``)

Accents are dropped and apostrophes vanish (``O'Brien`` → ``obrien``). Names are not
transliterated from other scripts: a guess at the reading of a name would be wrong as often
as not, and the name itself is kept in ``students.csv``.

``students.csv`` (``student_id,lms,lms_id,name,login``) records every student a collect
saw; later collects keep the rows of students they do not see and reuse the id of a
student they know (same LMS user id, same Blackboard login, or the same name for folders and
plain names), so an id never changes when a display name does. An id another person already
has gets a short suffix derived from who this person is (``jose_4f1c2a``).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import pathlib
import re
import unicodedata

COLUMNS = ["student_id", "lms", "lms_id", "name", "login"]
LMS_KINDS = ("canvas", "moodle", "blackboard", "folder", "plain")
MAX_ID = 64
FILE = "students.csv"

# Latin letters that do not decompose into a base letter and an accent
_LETTERS = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"}
)
_APOSTROPHES = re.compile(r"['’‘`ʼ´]")


@dataclasses.dataclass(frozen=True)
class Person:
    """A student as one download names them."""

    lms: str  # canvas | moodle | blackboard | folder | plain
    lms_id: str = ""  # Canvas user id or Moodle participant id
    name: str = ""  # the display name as the download gives it
    login: str = ""  # Blackboard's user name

    def key(self) -> tuple[str, str]:
        """What makes two mentions the same person."""
        if self.lms in ("canvas", "moodle"):
            return self.lms, self.lms_id
        if self.lms == "blackboard":
            return self.lms, self.login.casefold()
        return "name", unicodedata.normalize("NFC", self.name).casefold()

    def proposed_id(self) -> str:
        if self.lms in ("canvas", "moodle"):
            number = self.lms_id[:32]
            base = slug(self.name) or "student"
            return f"{base[: MAX_ID - 1 - len(number)].rstrip('_')}_{number}"
        base = slug(self.login if self.lms == "blackboard" else self.name)
        if not base:
            return f"student_{_digest(self.key())}"
        if len(base) > MAX_ID:
            return f"{base[: MAX_ID - 7].rstrip('_')}_{_digest(self.key())}"
        return base

    def row(self, student_id: str) -> dict[str, str]:
        return dict(
            student_id=student_id,
            lms=self.lms,
            lms_id=self.lms_id,
            name=self.name,
            login=self.login,
        )


def slug(text: str) -> str:
    """``text`` in lowercase ASCII letters, digits and ``_``: accents dropped, other scripts too."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_LETTERS)
    text = _APOSTROPHES.sub("", text)
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _digest(key: tuple[str, str]) -> str:
    return hashlib.sha1("\0".join(key).encode()).hexdigest()[:6]


def _person(row: dict[str, str]) -> Person:
    return Person(row["lms"], row["lms_id"], row["name"], row["login"])


class Roster:
    """The students of a course: those of earlier collects, and the ones of this one."""

    def __init__(self, rows: list[dict[str, str]] | None = None):
        self.rows = {r["student_id"]: r for r in rows or []}
        self._ids = {_person(r).key(): r["student_id"] for r in self.rows.values()}

    def assign(self, people: list[Person]) -> dict[Person, str]:
        """The student id of each person (in a stable order, so the result does not depend on
        the order of the download); the rows of all of them are updated."""
        ids = {}
        for person in sorted(set(people), key=lambda p: (p.key(), p.name, p.login)):
            key = person.key()
            if key not in self._ids:
                self._ids[key] = self._free_id(person)
            ids[person] = self._ids[key]
            self.rows[ids[person]] = person.row(ids[person])
        return ids

    def _free_id(self, person: Person) -> str:
        wanted = person.proposed_id()
        if wanted not in self.rows:
            return wanted
        stem = f"{wanted[: MAX_ID - 7].rstrip('_')}_{_digest(person.key())}"
        candidate, n = stem, 1
        while candidate in self.rows:
            n += 1
            candidate = f"{stem[: MAX_ID - 1 - len(str(n))]}_{n}"
        return candidate


def read(course_root: pathlib.Path) -> list[dict[str, str]]:
    """The rows of ``course_root/students.csv`` (none if it does not exist)."""
    path = pathlib.Path(course_root) / FILE
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8-sig") as fh:  # (a BOM: edited in Excel)
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path} lacks the column(s) {', '.join(missing)} (expected "
                f"{','.join(COLUMNS)}): fix it or move it away, then collect again"
            )
        return [{c: row[c] or "" for c in COLUMNS} for row in reader]


def write(course_root: pathlib.Path, roster: Roster) -> pathlib.Path:
    """Write ``course_root/students.csv`` (sorted by student id), replacing it atomically."""
    path = pathlib.Path(course_root) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with open(part, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(roster.rows[sid] for sid in sorted(roster.rows))
    os.replace(part, path)
    return path
