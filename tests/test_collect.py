"""collect: LMS download names -> student ids and nbgrader's submitted tree, with a report of
everything and ``students.csv``. (Links, damaged zips and size limits: test_collect_safety.)"""

import os

import pytest

from autograder import cli, collect
from tests.collect_fixtures import KNOWN, make_zip, report, roster, submitted


def collect_names(tmp_path, names, **kwargs):
    """Collect a zip holding an (empty-notebook) file of each name; the report rows by file."""
    archive = make_zip(tmp_path / "download.zip", dict.fromkeys(names, "{}"))
    collect.collect(archive, tmp_path / "course", KNOWN, **kwargs)
    return report(tmp_path / "course")


@pytest.mark.parametrize(
    ("name", "student", "notebook"),
    [
        ("doejane_123456_7890123_01_masks.ipynb", "doejane_123456", "01_masks"),
        ("doejane_LATE_123456_7890123_02_encoder.ipynb", "doejane_123456", "02_encoder"),
        ("Jane Doe_20001_assignsubmission_file_01_masks.ipynb", "jane_doe_20001", "01_masks"),
        ("Jane Doe_20001_assignsubmission_file_/01_masks.ipynb", "jane_doe_20001", "01_masks"),
        ("01_masks_jdoe_attempt_2026-11-20-10-15-00_01_masks.ipynb", "jdoe", "01_masks"),
        ("Smith_01_masks.ipynb", "smith", "01_masks"),
        ("doejane_123456_7890123_Copy of 01_masks (1).ipynb", "doejane_123456", "01_masks"),
        ("doejane_123456_7890123_01_masks-1.ipynb", "doejane_123456", "01_masks"),
        ("Copy of 01_masks.ipynb", None, None),
        ("alice/01_masks.ipynb", "alice", "01_masks"),
        ("alice/02_encoder/02_encoder.ipynb", "alice", "02_encoder"),
        ("submitted/bob/01_masks/01_masks.ipynb", "bob", "01_masks"),
    ],
)
def test_recognised_names(tmp_path, name, student, notebook):
    row = collect_names(tmp_path, [name])[name]
    if student is None:
        assert row["status"] == "unmatched" and "cannot tell whose" in row["note"]
    else:
        assert (row["status"], row["student_id"], row["notebook"]) == (
            "collected",
            student,
            notebook,
        )
        assert (tmp_path / "course/submitted" / student / notebook / f"{notebook}.ipynb").exists()


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("doejane_123456_7890123_homework.ipynb", "unmatched", "matches no released notebook"),
        ("01_masks.ipynb", "unmatched", "cannot tell whose"),
        ("doejane_123456_7890123_01_masks.pdf", "unmatched", "not a notebook"),
        ("doejane_123456_7890123_submission.zip", "unmatched", "zip inside the download"),
        ("__MACOSX/._doejane_1_2_01_masks.ipynb", "ignored", "operating-system"),
        ("alice/.ipynb_checkpoints/01_masks-checkpoint.ipynb", "ignored", "operating-system"),
    ],
)
def test_unmatched_names_say_why(tmp_path, name, status, reason):
    row = collect_names(tmp_path, [name, "carol_02_encoder.ipynb"])[name]
    assert row["status"] == status and reason in row["note"]


def test_collect_zip_keeps_latest_and_reports_everything(tmp_path):
    archive = make_zip(
        tmp_path / "download.zip",
        {
            "doejane_1_100_01_masks.ipynb": "first",
            "doejane_1_200_01_masks-1.ipynb": "second",
            "roe_2_300_01_masks.ipynb": "{ not json",
            "roe_2_301_notes.txt": "hello",
        },
    )
    entries = collect.collect(archive, tmp_path / "course", KNOWN)
    files = submitted(tmp_path / "course")
    assert files["doejane_1/01_masks/01_masks.ipynb"] == b"second"
    # broken files are collected as they are: grading reports them, nothing is lost
    assert files["roe_2/01_masks/01_masks.ipynb"] == b"{ not json"
    assert sorted((e.file, e.status) for e in entries) == [
        ("doejane_1_100_01_masks.ipynb", "superseded"),
        ("doejane_1_200_01_masks-1.ipynb", "collected"),
        ("roe_2_300_01_masks.ipynb", "collected"),
        ("roe_2_301_notes.txt", "unmatched"),
    ]
    rows = report(tmp_path / "course")
    assert len(rows) == 4
    assert list(next(iter(rows.values()))) == collect.REPORT_COLUMNS


def test_collect_missing_source_says_what_to_give(tmp_path):
    with pytest.raises(FileNotFoundError, match="give a folder or a .zip"):
        collect.collect(tmp_path / "nope.zip", tmp_path / "course", KNOWN)


# --- who is who -----------------------------------------------------------------------------


def test_moodle_namesakes_and_punctuation_stay_apart(tmp_path):
    rows = collect_names(
        tmp_path,
        [
            "Jane Doe_20001_assignsubmission_file_01_masks.ipynb",
            "Jane Doe_20002_assignsubmission_file_01_masks.ipynb",
            "O'Brien_20003_assignsubmission_file_01_masks.ipynb",
            "O Brien_20004_assignsubmission_file_01_masks.ipynb",
        ],
    )
    assert {r["status"] for r in rows.values()} == {"collected"}
    assert sorted(r["student_id"] for r in rows.values()) == [
        "jane_doe_20001",
        "jane_doe_20002",
        "o_brien_20004",
        "obrien_20003",
    ]
    assert len(submitted(tmp_path / "course")) == 4


def test_accents_and_non_latin_names(tmp_path):
    rows = collect_names(
        tmp_path,
        [
            "José García_10005_assignsubmission_file_01_masks.ipynb",
            "李雷_10004_assignsubmission_file_01_masks.ipynb",
            "Łukasz Żółć_10006_assignsubmission_file_01_masks.ipynb",
            "李雷_88_1234_01_masks.ipynb",  # Canvas keeps letters of any script in its names
            "José/01_masks.ipynb",
            "Jose/01_masks.ipynb",
            "王芳/01_masks.ipynb",
        ],
    )
    ids = {f: r["student_id"] for f, r in rows.items()}
    assert {r["status"] for r in rows.values()} == {"collected"}
    assert ids["José García_10005_assignsubmission_file_01_masks.ipynb"] == "jose_garcia_10005"
    assert ids["李雷_10004_assignsubmission_file_01_masks.ipynb"] == "student_10004"
    assert ids["Łukasz Żółć_10006_assignsubmission_file_01_masks.ipynb"] == "lukasz_zolc_10006"
    assert ids["李雷_88_1234_01_masks.ipynb"] == "student_88"
    # folder names: two different people, however alike their ASCII forms
    folder_ids = [
        ids["José/01_masks.ipynb"],
        ids["Jose/01_masks.ipynb"],
        ids["王芳/01_masks.ipynb"],
    ]
    assert len(set(folder_ids)) == 3
    assert all(i.isascii() and i.startswith(("jose", "student_")) for i in folder_ids)
    by_id = {r["student_id"]: r for r in roster(tmp_path / "course")}
    assert by_id["student_10004"] == {
        "student_id": "student_10004",
        "lms": "moodle",
        "lms_id": "10004",
        "name": "李雷",
        "login": "",
    }


def test_long_names_are_capped_and_stay_apart(tmp_path):
    long_a, long_b = "a" * 253, "a" * 252 + "b"
    rows = collect_names(
        tmp_path,
        [
            f"{long_a}_01_masks.ipynb",
            f"{long_b}_01_masks.ipynb",
            f"{'Jane ' * 50}_20007_assignsubmission_file_01_masks.ipynb",
        ],
    )
    ids = [r["student_id"] for r in rows.values()]
    assert all(r["status"] == "collected" for r in rows.values())
    assert len(set(ids)) == 3 and all(len(i) <= 64 for i in ids)
    assert any(i.endswith("_20007") for i in ids)


def test_one_top_level_folder_is_not_a_student(tmp_path):
    rows = collect_names(
        tmp_path, ["downloads/alice_01_masks.ipynb", "downloads/bob_01_masks.ipynb"]
    )
    assert sorted((r["student_id"], r["status"]) for r in rows.values()) == [
        ("alice", "collected"),
        ("bob", "collected"),
    ]


def test_one_folder_per_student_under_a_common_folder(tmp_path):
    rows = collect_names(
        tmp_path,
        [
            "class/alice/submission/01_masks.ipynb",
            "class/bob/final_01_masks.ipynb",  # a word before the notebook name is no student
            "class/bob/02_encoder/02_encoder.ipynb",
            "class/carol_02_encoder.ipynb",
        ],
    )
    assert {f: r["student_id"] for f, r in rows.items()} == {
        "class/alice/submission/01_masks.ipynb": "alice",
        "class/bob/final_01_masks.ipynb": "bob",
        "class/bob/02_encoder/02_encoder.ipynb": "bob",
        "class/carol_02_encoder.ipynb": "carol",
    }


def test_blackboard_receipt_gives_the_name(tmp_path):
    stem = "Unit 1_jdoe_attempt_2026-11-20-10-15-00"
    archive = make_zip(
        tmp_path / "bb.zip",
        {
            f"{stem}_01_masks.ipynb": "{}",
            f"{stem}.txt": "Name: Jane Doe (jdoe)\nAssignment: Unit 1\nDate Submitted: ...\n",
        },
    )
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert rows[f"{stem}.txt"]["status"] == "ignored"
    assert roster(tmp_path / "course") == [
        {
            "student_id": "jdoe",
            "lms": "blackboard",
            "lms_id": "",
            "name": "Jane Doe",
            "login": "jdoe",
        }
    ]


def test_students_csv_merges_across_collects(tmp_path):
    course_root = tmp_path / "course"
    first = make_zip(
        tmp_path / "week1.zip",
        {
            "doejane_123456_1_01_masks.ipynb": "{}",
            "roebob_999_2_01_masks.ipynb": "{}",
            "Ann Lee_20001_assignsubmission_file_01_masks.ipynb": "{}",
        },
    )
    collect.collect(first, course_root, KNOWN)
    assert [r["student_id"] for r in roster(course_root)] == [
        "ann_lee_20001",
        "doejane_123456",
        "roebob_999",
    ]
    # week 2: Jane changed her name in Canvas, Bob did not hand in, Carol is new
    second = make_zip(
        tmp_path / "week2.zip",
        {
            "smithjane_123456_3_02_encoder.ipynb": "{}",
            "carol_5_4_02_encoder.ipynb": "{}",
        },
    )
    collect.collect(second, course_root, KNOWN)
    rows = {r["student_id"]: r for r in roster(course_root)}
    assert (course_root / "students.csv").read_text().splitlines()[0] == (
        "student_id,lms,lms_id,name,login"
    )
    assert sorted(rows) == ["ann_lee_20001", "carol_5", "doejane_123456", "roebob_999"]
    assert rows["doejane_123456"]["name"] == "smithjane"  # same Canvas user: same student
    assert rows["roebob_999"] == {
        "student_id": "roebob_999",
        "lms": "canvas",
        "lms_id": "999",
        "name": "roebob",
        "login": "",
    }
    assert "doejane_123456/02_encoder/02_encoder.ipynb" in submitted(course_root)


def test_a_taken_id_gets_a_suffix_not_someone_elses_folder(tmp_path):
    course_root = tmp_path / "course"
    collect.collect(make_zip(tmp_path / "a.zip", {"José/01_masks.ipynb": "1"}), course_root, KNOWN)
    collect.collect(make_zip(tmp_path / "b.zip", {"Jose/01_masks.ipynb": "2"}), course_root, KNOWN)
    collect.collect(
        make_zip(tmp_path / "c.zip", {"José/02_encoder.ipynb": "3"}), course_root, KNOWN
    )
    rows = {r["name"]: r["student_id"] for r in roster(course_root)}
    assert rows["José"] == "jose" and rows["Jose"].startswith("jose_")
    files = submitted(course_root)
    assert files["jose/01_masks/01_masks.ipynb"] == b"1"
    assert files["jose/02_encoder/02_encoder.ipynb"] == b"3"
    assert files[f"{rows['Jose']}/01_masks/01_masks.ipynb"] == b"2"


def test_students_csv_with_other_columns_is_refused_before_anything_is_copied(tmp_path):
    course_root = tmp_path / "course"
    course_root.mkdir()
    (course_root / "students.csv").write_text("id,name\n1,x\n")
    archive = make_zip(tmp_path / "d.zip", {"alice_01_masks.ipynb": "{}"})
    with pytest.raises(ValueError, match="lacks the column"):
        collect.collect(archive, course_root, KNOWN)
    assert not (course_root / "submitted").exists()
    assert (course_root / "students.csv").read_text() == "id,name\n1,x\n"


# --- resubmissions --------------------------------------------------------------------------


def _winner(rows, student):
    [won] = [
        f for f, r in rows.items() if r["student_id"] == student and r["status"] == "collected"
    ]
    return won


def test_canvas_file_ids_are_compared_as_numbers(tmp_path):
    rows = collect_names(
        tmp_path, ["doejane_1_999_01_masks.ipynb", "doejane_1_1000_01_masks.ipynb"]
    )
    assert _winner(rows, "doejane_1") == "doejane_1_1000_01_masks.ipynb"
    assert (
        "a later Canvas upload (file id 1000 > 999)" in rows["doejane_1_999_01_masks.ipynb"]["note"]
    )
    assert "the newest of 2 files" in rows["doejane_1_1000_01_masks.ipynb"]["note"]


def test_blackboard_attempt_dates_rank(tmp_path):
    rows = collect_names(
        tmp_path,
        [
            "U1_jdoe_attempt_2026-11-21-09-00-00_01_masks.ipynb",
            "U1_jdoe_attempt_2026-11-20-23-59-59_01_masks (1).ipynb",
        ],
    )
    assert _winner(rows, "jdoe") == "U1_jdoe_attempt_2026-11-21-09-00-00_01_masks.ipynb"
    assert (
        "a later Blackboard attempt (2026-11-21 09:00:00 > 2026-11-20 23:59:59)"
        in (rows["U1_jdoe_attempt_2026-11-20-23-59-59_01_masks (1).ipynb"]["note"])
    )


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("alice_01_masks.ipynb", "alice_01_masks (1).ipynb"),
        ("alice_01_masks.ipynb", "alice_01_masks-1.ipynb"),
        ("alice_01_masks-1.ipynb", "alice_01_masks-2.ipynb"),
        ("alice_01_masks (2).ipynb", "alice_01_masks (10).ipynb"),
    ],
)
def test_copy_suffixes_are_later(tmp_path, older, newer):
    # the older file has the newer timestamp: the name's copy number counts first
    archive = make_zip(
        tmp_path / "d.zip",
        {older: ("old", (2026, 11, 21, 0, 0, 0)), newer: ("new", (2026, 11, 20, 0, 0, 0))},
    )
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert _winner(rows, "alice") == newer
    assert "its name marks a later copy" in rows[older]["note"]
    assert submitted(tmp_path / "course")["alice/01_masks/01_masks.ipynb"] == b"new"


def test_moodle_resubmissions_rank_by_zip_timestamp(tmp_path):
    names = [
        "Jane Doe_20001_assignsubmission_file_/01_masks.ipynb",
        "Jane Doe_20001_assignsubmission_file_/Copy of 01_masks.ipynb",
    ]
    archive = make_zip(
        tmp_path / "d.zip",
        {names[0]: ("late", (2026, 11, 22, 8, 30, 0)), names[1]: ("early", (2026, 11, 2, 0, 0, 0))},
    )
    collect.collect(archive, tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert _winner(rows, "jane_doe_20001") == names[0]
    assert (
        "a newer zip timestamp (2026-11-22 08:30:00 > 2026-11-02 00:00:00)"
        in (rows[names[1]]["note"])
    )


def test_folder_resubmissions_rank_by_modification_time(tmp_path):
    folder = tmp_path / "download" / "alice"
    folder.mkdir(parents=True)
    (folder / "01_masks.ipynb").write_text("new")
    (folder / "01_masks_final.ipynb").write_text("old")
    os.utime(folder / "01_masks.ipynb", (2_000_000_000, 2_000_000_000))
    os.utime(folder / "01_masks_final.ipynb", (1_900_000_000, 1_900_000_000))
    collect.collect(tmp_path / "download", tmp_path / "course", KNOWN)
    rows = report(tmp_path / "course")
    assert _winner(rows, "alice") == "alice/01_masks.ipynb"
    assert "a newer modification time" in rows["alice/01_masks_final.ipynb"]["note"]
    assert submitted(tmp_path / "course")["alice/01_masks/01_masks.ipynb"] == b"new"


# --- the command line -----------------------------------------------------------------------


def test_cli_collect_prints_a_summary_and_takes_a_size_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(collect.course, "assignments", lambda: list(KNOWN))
    monkeypatch.setattr(collect.course, "notebook_names", lambda a: [a])
    archive = make_zip(
        tmp_path / "d.zip",
        {"alice_01_masks.ipynb": "{}", "bob_01_masks.ipynb": "x" * 3000, "notes.txt": ""},
    )
    course_root = tmp_path / "course"
    status = cli.main(
        ["collect", str(archive), "--course", str(course_root), "--max-size", "0.002"]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "too_large: bob_01_masks.ipynb — too large: 3,000 bytes, the limit is 0.002 MB" in out
    assert "1 collected, 1 unmatched, 1 too_large; report:" in out and "students.csv" in out
    assert list(submitted(course_root)) == ["alice/01_masks/01_masks.ipynb"]
    assert cli.main(["collect", str(tmp_path / "nope.zip"), "--course", str(course_root)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_module_docstring_names_every_status():
    assert all(f"``{s}``" in collect.__doc__ for s in collect.STATUSES)
