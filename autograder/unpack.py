"""Read a download (a folder, or a zip an LMS made) file by file, and never more than asked.

Every file of the download becomes an :class:`Item`: its name inside the download, what it
is (a regular ``file``, a symbolic ``link``, or ``broken``: damaged, unsafe, or not a
regular file), and for files how to read it. Nothing here follows a symbolic link, unpacks
a whole archive (``extractall``) or writes to a path taken from the download:
:func:`copy_limited` copies one item to a path the caller chose, and stops at a size limit
while it unpacks, so a zip bomb never gets further than that limit.

Zip entry names: an entry flagged UTF-8 whose name is not UTF-8 is still read (its bad
bytes shown as U+FFFD) and says so in its ``note``; an unflagged name is read as UTF-8 when
it is valid UTF-8 (what macOS and most tools write) and as code page 437 (the zip
standard's default) otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import os
import pathlib
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

CHUNK = 1 << 20
UTF8_FLAG = 0x800
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    OSError,
    UnicodeDecodeError,
)
METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma", 9: "Deflate64"}


class TooLarge(Exception):
    """An item is larger than the limit (``size`` bytes seen so far, or declared)."""

    def __init__(self, size: int, declared: bool):
        super().__init__(size)
        self.size, self.declared = size, declared


class Unreadable(Exception):
    """An item cannot be read; the message says why and what to do."""


@dataclasses.dataclass
class Item:
    """One file of the download."""

    parts: tuple[str, ...]  # its path inside the download
    kind: str  # file | link | broken
    size: int = 0  # declared size (zip) or size on disk (folder)
    mtime: float = 0.0  # zip entry timestamp or file modification time (seconds)
    note: str = ""  # why a link or broken item is not read; a remark on a file
    opener: Callable[[], BinaryIO] | None = dataclasses.field(default=None, repr=False)

    @property
    def name(self) -> str:
        return "/".join(self.parts)


@contextlib.contextmanager
def open_download(source: pathlib.Path) -> Iterator[list[Item]]:
    """The items of a folder or a zip archive (kept open while the context lasts)."""
    source = pathlib.Path(source)
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: give a folder or a .zip of notebooks")
    if source.is_dir():
        yield sorted(folder_items(source), key=lambda i: i.parts)
        return
    if not zipfile.is_zipfile(source):
        raise ValueError(f"{source} is neither a folder nor a zip archive")
    with open(source, "rb") as fh:
        archive, bad_names = _open_zip(fh, source)
        with archive:
            yield sorted(zip_items(archive, bad_names), key=lambda i: i.parts)


# --- folders ------------------------------------------------------------------------------


def folder_items(root: pathlib.Path) -> Iterator[Item]:
    """Every file below ``root``; symbolic links are reported, never followed."""
    unreadable: list[Item] = []

    def folder_error(err: OSError) -> None:
        where = pathlib.Path(err.filename or root)
        parts = where.relative_to(root).parts if where.is_relative_to(root) else (str(where),)
        unreadable.append(Item(parts, "broken", note=f"cannot read this folder: {err.strerror}"))

    for dirpath, dirnames, filenames, dirfd in os.fwalk(
        root, follow_symlinks=False, onerror=folder_error
    ):
        here = pathlib.Path(dirpath).relative_to(root).parts
        for name in dirnames + filenames:
            parts = (*here, name)
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except OSError as err:
                yield Item(parts, "broken", note=f"cannot read it: {err.strerror}")
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if stat.S_ISLNK(st.st_mode):
                yield Item(parts, "link", note=_link_note(os.readlink(name, dir_fd=dirfd)))
            elif stat.S_ISREG(st.st_mode):
                opener = _folder_opener(root, parts)
                yield Item(parts, "file", size=st.st_size, mtime=st.st_mtime, opener=opener)
            else:
                yield Item(parts, "broken", note="not a regular file (a pipe, socket or device)")
    yield from unreadable


def _folder_opener(root: pathlib.Path, parts: tuple[str, ...]) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        # one folder at a time, none of them a link: a folder swapped for a link since the
        # listing cannot lead anywhere else
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in parts[:-1]:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = inner
            file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError as err:
            raise Unreadable(f"cannot open it ({err.strerror}; a link is never followed)") from err
        finally:
            os.close(fd)
        if not stat.S_ISREG(os.fstat(file_fd).st_mode):
            os.close(file_fd)
            raise Unreadable("it is no longer a regular file")
        return os.fdopen(file_fd, "rb")

    return opener


def _link_note(target: str) -> str:
    return f"a symbolic link (to {target}): not followed, nothing it points to was copied"


# --- zip archives -------------------------------------------------------------------------


def _open_zip(fh: BinaryIO, source: pathlib.Path) -> tuple[zipfile.ZipFile, set[int]]:
    """The archive, and the indices of entries flagged UTF-8 whose names are not UTF-8.

    Python's zipfile refuses the whole archive for one such name; here the flag of those
    entries is cleared while reading (in memory, the file is not changed), so they are read
    like unflagged names and everything else is unaffected.
    """
    try:
        return zipfile.ZipFile(fh), set()
    except UnicodeDecodeError:
        patches, bad = _bad_utf8_flags(fh)
        archive = zipfile.ZipFile(_Patched(fh, patches))
        for index in bad:  # the entry's local header carries the flag as well
            offset = archive.infolist()[index].header_offset
            fh.seek(offset + 6)
            patches[offset + 7] = (struct.unpack("<H", fh.read(2))[0] & ~UTF8_FLAG) >> 8
        return archive, bad
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as err:
        raise ValueError(
            f"{source} is not a readable zip archive ({err}): download it again"
        ) from err


def _bad_utf8_flags(fh: BinaryIO) -> tuple[dict[int, int], set[int]]:
    """Positions and new values of the flag bytes to clear, and the entries they belong to."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    tail_start = max(0, size - 22 - 0xFFFF)
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("no end of central directory")
    cd_size = struct.unpack_from("<L", tail, at + 12)[0]
    end = tail_start + at
    if tail[at - 20 : at - 16] == b"PK\x06\x07":  # zip64: the 64-bit record precedes
        end -= 20 + 56
        fh.seek(end)
        cd_size = struct.unpack("<4s2Q2H2L4Q", fh.read(56))[8]
    start = end - cd_size
    fh.seek(start)
    data = fh.read(cd_size)
    patches, bad, pos, index = {}, set(), 0, 0
    while data[pos : pos + 4] == b"PK\x01\x02":
        flags = struct.unpack_from("<H", data, pos + 8)[0]
        name_len, extra_len, comment_len = struct.unpack_from("<3H", data, pos + 28)
        name = data[pos + 46 : pos + 46 + name_len]
        if flags & UTF8_FLAG:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                patches[start + pos + 9] = (flags & ~UTF8_FLAG) >> 8
                bad.add(index)
        pos += 46 + name_len + extra_len + comment_len
        index += 1
    return patches, bad


class _Patched(io.RawIOBase):
    """A read-only view of a file with a few bytes replaced."""

    def __init__(self, fh: BinaryIO, patches: dict[int, int]):
        self._fh, self._patches = fh, patches

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def readinto(self, buffer) -> int:
        start = self._fh.tell()
        n = self._fh.readinto(buffer)
        for pos, value in self._patches.items():
            if start <= pos < start + n:
                buffer[pos - start] = value
        return n


def entry_name(info: zipfile.ZipInfo, name_was_bad: bool) -> tuple[str, str]:
    """The entry's name as its author meant it, and a note if it could not be read cleanly."""
    if info.flag_bits & UTF8_FLAG:
        return info.filename, ""
    raw = info.orig_filename.encode("cp437")  # zipfile decoded unflagged names as cp437
    if name_was_bad:
        return raw.decode("utf-8", "replace"), (
            "the zip says this name is UTF-8 but it is not (the bad bytes are shown as \ufffd)"
        )
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError:
        return info.filename, ""


def zip_items(archive: zipfile.ZipFile, bad_names: set[int]) -> Iterator[Item]:
    for index, info in enumerate(archive.infolist()):
        name, note = entry_name(info, index in bad_names)
        raw_parts = name.replace("\\", "/").split("/")
        if name.endswith(("/", "\\")):
            continue  # a folder entry
        parts = tuple(p for p in raw_parts if p not in ("", "."))
        if raw_parts[0] == "" or ".." in parts or (parts and parts[0][1:2] == ":"):
            yield Item(
                parts or (name,),
                "broken",
                note="its name leads outside the download (an absolute path or '..'): not unpacked",
            )
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            target = _read_small(archive, info)
            yield Item(parts, "link", note=_link_note(target))
        elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            yield Item(parts, "broken", note="not a regular file (a device, pipe or socket)")
        elif info.flag_bits & 0x1:
            yield Item(
                parts,
                "broken",
                note="encrypted (password-protected): unzip it with the password and "
                "collect the folder",
            )
        elif info.compress_type not in READABLE_METHODS:
            method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            yield Item(
                parts,
                "broken",
                note=f"compressed with {method}, which collect does not unpack: unzip the "
                "download with another tool (unzip, 7-Zip) and collect the folder",
            )
        else:
            yield Item(
                parts,
                "file",
                size=info.file_size,
                mtime=_zip_time(info),
                note=note,
                opener=lambda info=info: archive.open(info),
            )


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = 4096) -> str:
    try:
        with archive.open(info) as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except READ_ERRORS:
        return "an unreadable target"


def _zip_time(info: zipfile.ZipInfo) -> float:
    try:
        return datetime.datetime(*info.date_time).timestamp()
    except (ValueError, OverflowError):
        return 0.0


# --- copying ------------------------------------------------------------------------------


def read_limited(item: Item, limit: int) -> bytes:
    """The whole content of a small item (at most ``limit`` bytes, else :class:`TooLarge`)."""
    buffer = io.BytesIO()
    _stream(item, buffer, limit)
    return buffer.getvalue()


def copy_limited(item: Item, target: pathlib.Path, limit: int) -> int:
    """Copy ``item`` to ``target``, stopping as soon as more than ``limit`` bytes come out.

    Raises :class:`TooLarge` or :class:`Unreadable`; ``target`` is then left as it was.
    Returns the number of bytes written.
    """
    part = target.with_name(target.name + ".part")
    try:
        with open(part, "wb") as out:
            size = _stream(item, out, limit)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return size


def _stream(item: Item, out: BinaryIO, limit: int) -> int:
    """Write ``item`` to ``out``: errors reading it are :class:`Unreadable`, writing ones not."""
    if item.size > limit:
        raise TooLarge(item.size, declared=True)
    if item.opener is None:
        raise Unreadable(item.note or "it cannot be read")
    total = 0
    try:
        src = item.opener()
    except READ_ERRORS as err:
        raise _damaged(err) from err
    with src:
        while True:
            try:
                chunk = src.read(CHUNK)
            except READ_ERRORS as err:
                raise _damaged(err) from err
            if not chunk:
                return total
            total += len(chunk)
            if total > limit:
                raise TooLarge(total, declared=False)
            out.write(chunk)


def _damaged(err: Exception) -> Unreadable:
    return Unreadable(
        f"its data is damaged ({err}): download it again, or ask the student for the file"
    )
