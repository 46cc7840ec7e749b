"""Downloads built in the tests of collect: zips as LMSs write them, and the damage they carry."""

from __future__ import annotations

import csv
import pathlib
import stat
import struct
import zipfile

KNOWN = {"01_masks": "01_masks", "02_encoder": "02_encoder"}
WHEN = (2026, 11, 20, 10, 0, 0)


def make_zip(path: pathlib.Path, files: dict, method: int = zipfile.ZIP_DEFLATED) -> pathlib.Path:
    """A zip of ``files``: name -> content, or name -> (content, date_time)."""
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, value in files.items():
            content, when = value if isinstance(value, tuple) else (value, WHEN)
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = method
            archive.writestr(info, content)
    return path


def add_symlink(path: pathlib.Path, name: str, target: str) -> None:
    """Append a symbolic link entry (as Info-ZIP stores one: the target is the content)."""
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo(name, date_time=WHEN)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)


def headers(data: bytes, name: bytes) -> list[tuple[int, int]]:
    """(position of the flag bits, position of the name) of the local and central headers of
    the entry called ``name``."""
    found = []
    for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        pos = data.find(signature)
        while pos >= 0:
            if data[pos + name_at : pos + name_at + len(name)] == name:
                found.append((pos + flags_at, pos + name_at))
            pos = data.find(signature, pos + 1)
    return found


def set_utf8_flag(path: pathlib.Path, name: bytes, on: bool) -> None:
    data = bytearray(path.read_bytes())
    places = headers(bytes(data), name)
    assert len(places) == 2, places
    for flags_at, _ in places:
        flags = struct.unpack_from("<H", data, flags_at)[0]
        flags = flags | 0x800 if on else flags & ~0x800
        struct.pack_into("<H", data, flags_at, flags)
    path.write_bytes(bytes(data))


def replace_bytes(path: pathlib.Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert len(old) == len(new) and data.count(old) >= 1
    path.write_bytes(data.replace(old, new))


def data_offset(path: pathlib.Path, name: str) -> tuple[int, int]:
    """Where an entry's compressed data starts in the file, and its length."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = path.read_bytes()
    name_len, extra_len = struct.unpack_from("<2H", data, info.header_offset + 26)
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def damage(path: pathlib.Path, name: str, start: float = 0.0, length: int | None = None) -> None:
    """Overwrite part of an entry's compressed data (from ``start``, a fraction of it)."""
    offset, size = data_offset(path, name)
    offset += int(size * start)
    length = size - int(size * start) if length is None else length
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = b"\xff" * length
    path.write_bytes(bytes(data))


def report(course_root: pathlib.Path) -> dict[str, dict]:
    with open(course_root / "collect_report.csv", encoding="utf-8") as fh:
        return {r["file"]: r for r in csv.DictReader(fh)}


def roster(course_root: pathlib.Path) -> list[dict]:
    with open(course_root / "students.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def submitted(course_root: pathlib.Path) -> dict[str, bytes]:
    """Every file under ``submitted/``, by its path there."""
    base = course_root / "submitted"
    return {
        str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
    }
