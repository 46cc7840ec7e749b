"""collect on hostile or damaged downloads: links are never followed, one bad entry costs only
itself, nothing is unpacked beyond the size limit or outside the course, long names are capped."""

import csv
import io
import os
import zipfile

import pytest

from autograder import collect, grade, unpack
from tests.collect_fixtures import (
    KNOWN,
    add_symlink,
    damage,
    data_offset,
    make_zip,
    replace_bytes,
    report,
    roster,
    set_utf8_flag,
    submitted,
)

SECRET = b"instructor's solution"


def test_symbolic_links_in_a_folder_are_reported_not_followed(tmp_path):
    solutions = tmp_path / "solutions" / "01_masks"
    solutions.mkdir(parents=True)
    (solutions / "01_masks.ipynb").write_bytes(SECRET)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "01_masks.ipynb").write_bytes(SECRET)
    download = tmp_path / "download"
    (download / "bob").mkdir(parents=True)
    (download / "bob" / "01_masks.ipynb").write_bytes(b"bob's work")
    (download / "alice_01_masks.ipynb").write_bytes(b"alice's work")
    (download / "mallory_01_masks.ipynb").symlink_to(solutions / "01_masks.ipynb")
    (download / "eve_01_masks.ipynb").symlink_to(download / "bob" / "01_masks.ipynb")
    (download / "eve_02_encoder.ipynb").symlink_to("/etc/passwd")
    (download / "trudy").symlink_to(elsewhere, target_is_directory=True)
    (download / "dangling_01_masks.ipynb").symlink_to(tmp_path / "nothing")
    os.mkfifo(download / "pipe_01_masks.ipynb")  # reading it would wait for ever

    collect.collect(download, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    links = ["mallory_01_masks.ipynb", "eve_01_masks.ipynb", "eve_02_encoder.ipynb", "trudy"]
    for name in [*links, "dangling_01_masks.ipynb"]:
        assert rows[name]["status"] == "link", rows[name]
        assert "symbolic link" in rows[name]["note"] and "not followed" in rows[name]["note"]
    assert str(solutions / "01_masks.ipynb") in rows["mallory_01_masks.ipynb"]["note"]
    assert rows["mallory_01_masks.ipynb"]["student_id"] == "mallory"  # who tried is known
    files = submitted(tmp_path / "course")
    assert files == {
        "alice/01_masks/01_masks.ipynb": b"alice's work",
        "bob/01_masks/01_masks.ipynb": b"bob's work",
    }
    assert not any(SECRET in content for content in files.values())
    assert rows["pipe_01_masks.ipynb"]["status"] == "broken"
    assert "not a regular file" in rows["pipe_01_masks.ipynb"]["note"]
    assert len(rows) == 8  # every input file has its row


def test_symbolic_links_in_a_zip_are_reported_not_followed(tmp_path):
    archive = make_zip(tmp_path / "d.zip", {"alice_01_masks.ipynb": "alice's work"})
    add_symlink(archive, "mallory_01_masks.ipynb", "../../solutions/01_masks/01_masks.ipynb")
    add_symlink(archive, "eve/01_masks.ipynb", "/etc/passwd")
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert rows["mallory_01_masks.ipynb"]["status"] == "link"
    assert "../../solutions/01_masks/01_masks.ipynb" in rows["mallory_01_masks.ipynb"]["note"]
    assert rows["eve/01_masks.ipynb"]["status"] == "link"
    assert submitted(tmp_path / "course") == {"alice/01_masks/01_masks.ipynb": b"alice's work"}


def test_zip_slip_names_are_not_unpacked(tmp_path):
    archive = make_zip(
        tmp_path / "d.zip",
        {
            "../evil_01_masks.ipynb": "x",
            "a/../../evil_02_encoder.ipynb": "x",
            "/tmp/evil_01_masks.ipynb": "x",
            "alice_01_masks.ipynb": "ok",
        },
    )
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    broken = [f for f, r in rows.items() if r["status"] == "broken"]
    assert len(broken) == 3 and all("leads outside the download" in rows[f]["note"] for f in broken)
    assert sorted(p.name for p in tmp_path.rglob("evil*")) == []
    assert submitted(tmp_path / "course") == {"alice/01_masks/01_masks.ipynb": b"ok"}
    assert [r["student_id"] for r in roster(tmp_path / "course")] == ["alice"]


def test_one_corrupt_entry_costs_only_itself(tmp_path):
    notebook = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}' * 50
    archive = make_zip(
        tmp_path / "d.zip",
        {
            "alice_01_masks.ipynb": notebook,
            "bob_01_masks.ipynb": notebook,
            "carol_01_masks.ipynb": notebook,
            "dave_01_masks.ipynb": notebook,
        },
    )
    damage(archive, "bob_01_masks.ipynb", start=1 / 3, length=8)  # damaged data
    start, _ = data_offset(archive, "carol_01_masks.ipynb")
    data = bytearray(archive.read_bytes())
    local = data.rfind(b"PK\x03\x04", 0, start)
    data[local : local + 4] = b"XXXX"  # damaged header
    archive.write_bytes(bytes(data))

    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert rows["bob_01_masks.ipynb"]["status"] == "broken"
    assert rows["carol_01_masks.ipynb"]["status"] == "broken"
    assert "cannot unpack it: its data is damaged" in rows["bob_01_masks.ipynb"]["note"]
    assert rows["bob_01_masks.ipynb"]["student_id"] == "bob"
    assert sorted(submitted(tmp_path / "course")) == [
        "alice/01_masks/01_masks.ipynb",
        "dave/01_masks/01_masks.ipynb",
    ]
    assert not list((tmp_path / "course").rglob("*.part"))
    assert not (tmp_path / "course" / "submitted" / "bob").exists()  # no empty folder either


def test_a_broken_resubmission_falls_back_to_the_earlier_one(tmp_path):
    archive = make_zip(
        tmp_path / "d.zip",
        {"doejane_1_100_01_masks.ipynb": "first " * 100, "doejane_1_200_01_masks.ipynb": "x" * 600},
    )
    damage(archive, "doejane_1_200_01_masks.ipynb")
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert rows["doejane_1_200_01_masks.ipynb"]["status"] == "broken"
    assert rows["doejane_1_100_01_masks.ipynb"]["status"] == "collected"
    assert "instead of the newer doejane_1_200" in rows["doejane_1_100_01_masks.ipynb"]["note"]


def test_a_name_not_in_the_encoding_its_flag_says(tmp_path):
    bad = "Müller_20005_assignsubmission_file_01_masks.ipynb"
    archive = make_zip(
        tmp_path / "d.zip",
        {
            "alice_01_masks.ipynb": "a",
            bad: "m",
            "Zoë_20006_assignsubmission_file_01_masks.ipynb": "z",
        },
    )
    # the UTF-8 flag is set, but the name's bytes are Latin-1, not UTF-8
    replace_bytes(archive, "Müller".encode(), b"M\xfc\xfcller")
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(archive)  # what used to abort the whole collect
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    [name] = [f for f in rows if f.startswith("M")]
    assert name == "M\ufffd\ufffdller_20005_assignsubmission_file_01_masks.ipynb"
    assert "the zip says this name is UTF-8 but it is not" in rows[name]["note"]
    assert rows[name]["student_id"] == "m_ller_20005"  # the Moodle id still tells who it is
    assert rows["alice_01_masks.ipynb"]["status"] == "collected"
    assert rows["Zoë_20006_assignsubmission_file_01_masks.ipynb"]["student_id"] == "zoe_20006"
    assert submitted(tmp_path / "course")["m_ller_20005/01_masks/01_masks.ipynb"] == b"m"


def test_unflagged_utf8_names_are_read_as_utf8(tmp_path):
    name = "José_10007_assignsubmission_file_01_masks.ipynb"
    archive = make_zip(
        tmp_path / "d.zip", {name: "j", "李雷_10004_assignsubmission_file_01_masks.ipynb": "l"}
    )
    set_utf8_flag(archive, name.encode(), on=False)  # as macOS's Archive Utility writes it
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert rows[name]["student_id"] == "jose_10007" and rows[name]["note"] == ""
    assert sorted(submitted(tmp_path / "course")) == [
        "jose_10007/01_masks/01_masks.ipynb",
        "student_10004/01_masks/01_masks.ipynb",
    ]


def test_entries_collect_cannot_unpack_say_what_to_do(tmp_path):
    archive = make_zip(tmp_path / "d.zip", {"alice_01_masks.ipynb": "a"})
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_BZIP2) as z:
        z.writestr("bob_01_masks.ipynb", "b" * 1000)
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert rows["bob_01_masks.ipynb"]["status"] == "broken"
    assert "compressed with bzip2" in rows["bob_01_masks.ipynb"]["note"]
    assert "collect the folder" in rows["bob_01_masks.ipynb"]["note"]


def test_a_file_that_is_not_a_zip_says_so(tmp_path):
    (tmp_path / "d.zip").write_bytes(b"PK\x03\x04 truncated download")
    with pytest.raises(ValueError, match="neither a folder nor a zip"):
        collect.collect(tmp_path / "d.zip", tmp_path / "course", KNOWN)


# --- sizes ----------------------------------------------------------------------------------


def test_size_limit_in_a_folder(tmp_path):
    folder = tmp_path / "download" / "alice"
    folder.mkdir(parents=True)
    (folder / "01_masks.ipynb").write_bytes(b"x" * 2_000_001)
    (folder / "01_masks (1).ipynb").write_bytes(b"y" * 3_000_000)
    (folder / "02_encoder.ipynb").write_bytes(b"small")
    (tmp_path / "download" / "bob").mkdir()
    (tmp_path / "download" / "bob" / "01_masks.ipynb").write_bytes(b"z" * 1_999_999)
    collect.collect(tmp_path / "download", tmp_path / "course", KNOWN, max_size=2_000_000)
    rows = report(tmp_path / "course")
    for name, size in (("alice/01_masks.ipynb", "2.0 MB"), ("alice/01_masks (1).ipynb", "3.0 MB")):
        assert rows[name]["status"] == "too_large"
        assert f"too large: {size}, the limit is 2 MB per notebook" in rows[name]["note"]
        assert "--max-size" in rows[name]["note"]
    assert sorted(submitted(tmp_path / "course")) == [
        "alice/02_encoder/02_encoder.ipynb",
        "bob/01_masks/01_masks.ipynb",
    ]
    assert not (tmp_path / "course/submitted/alice/01_masks").exists()


def test_default_limit_is_50_mb():
    assert collect.DEFAULT_MAX_SIZE == 50_000_000


def test_a_zip_bomb_is_not_unpacked_beyond_the_limit(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"alice_01_masks.ipynb": b"\0" * 60_000_000})
    assert bomb.stat().st_size < 100_000
    collect.collect(bomb, tmp_path / "course", KNOWN, max_size=1_000_000)
    row = report(tmp_path / "course")["alice_01_masks.ipynb"]
    assert row["status"] == "too_large" and "60.0 MB, the limit is 1 MB" in row["note"]
    assert sum(p.stat().st_size for p in (tmp_path / "course").rglob("*") if p.is_file()) < 10_000


def test_a_zip_bomb_that_lies_about_its_size(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"alice_01_masks.ipynb": b"\0" * 50_000_000})
    with zipfile.ZipFile(bomb) as z:
        declared = z.getinfo("alice_01_masks.ipynb").file_size
    replace_bytes(bomb, declared.to_bytes(4, "little"), (1000).to_bytes(4, "little"))
    collect.collect(bomb, tmp_path / "course", KNOWN, max_size=1_000_000)
    row = report(tmp_path / "course")["alice_01_masks.ipynb"]
    assert row["status"] in ("broken", "too_large"), row
    assert sum(p.stat().st_size for p in (tmp_path / "course").rglob("*") if p.is_file()) < 10_000


def test_copying_stops_at_the_limit_whatever_the_declared_size(tmp_path):
    reads = []

    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):  # 16 MiB, whatever the zip said
            if sum(reads) >= 16 * unpack.CHUNK:
                return 0
            reads.append(len(buffer))
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    item = unpack.Item(("alice_01_masks.ipynb",), "file", size=10, opener=Endless)
    target = tmp_path / "01_masks.ipynb"
    with pytest.raises(unpack.TooLarge) as err:
        unpack.copy_limited(item, target, limit=3 * unpack.CHUNK)
    assert not err.value.declared and err.value.size <= 4 * unpack.CHUNK
    assert not target.exists() and not list(tmp_path.iterdir())
    assert sum(reads) <= 4 * unpack.CHUNK


# --- long names, then grade -----------------------------------------------------------------


@pytest.mark.slow  # about 45 s: nbgrader generates the release, one worker grades
def test_a_253_character_name_is_capped_and_grade_does_not_crash(tmp_path):
    course_root = tmp_path / "course"
    name = "x" * 253
    archive = make_zip(
        tmp_path / "d.zip",
        {
            f"{name}_01_masks.ipynb": "{}",  # JSON but no notebook: graded 0 without a kernel
            f"{'Jane' * 63}_20001_assignsubmission_file_01_masks.ipynb": "{}",
        },
    )
    collect.collect(archive, course_root, {"01_masks": "01_masks"})
    ids = sorted(p.name for p in (course_root / "submitted").iterdir())
    assert len(ids) == 2 and all(len(i) <= 64 for i in ids)
    result = grade.grade(course_root, assignment_ids=["01_masks"], sandbox_mode="off")
    assert sorted(result["students"]) == ids
    with open(course_root / "grades.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["student_id"] for r in rows) == ids
    assert all(float(r["score"]) == 0 for r in rows)
    for path in course_root.rglob("*"):
        assert all(len(part.encode()) < 255 for part in path.parts), path
    assert len(max((str(p) for p in course_root.rglob("*")), key=len)) < os.pathconf(
        "/", "PC_PATH_MAX"
    )
