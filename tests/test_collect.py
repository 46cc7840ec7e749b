"""collect: LMS download names -> nbgrader's submitted tree, with a report of everything."""

import csv
import pathlib
import zipfile

import pytest

from autograder import collect

KNOWN = {"01_masks": "01_masks", "02_encoder": "02_encoder"}


@pytest.mark.parametrize(
    ("name", "student", "notebook"),
    [
        ("doejane_123456_7890123_01_masks.ipynb", "doejane", "01_masks"),
        ("doejane_LATE_123456_7890123_02_encoder.ipynb", "doejane", "02_encoder"),
        ("Jane Doe_12345_assignsubmission_file_01_masks.ipynb", "jane_doe", "01_masks"),
        ("01_masks_jdoe_attempt_2026-11-20-10-15-00_01_masks.ipynb", "jdoe", "01_masks"),
        ("smith_01_masks.ipynb", "smith", "01_masks"),
        ("doejane_123456_7890123_Copy of 01_masks (1).ipynb", "doejane", "01_masks"),
        ("doejane_123456_7890123_01_masks-1.ipynb", "doejane", "01_masks"),
        ("alice/01_masks.ipynb", "alice", "01_masks"),
        ("alice/02_encoder/02_encoder.ipynb", "alice", "02_encoder"),
    ],
)
def test_recognised_names(name, student, notebook):
    entry = collect.identify(pathlib.PurePath(name), KNOWN)
    assert (entry.status, entry.student_id, entry.notebook) == ("collected", student, notebook)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("doejane_123456_7890123_homework.ipynb", "matches no released notebook"),
        ("01_masks.ipynb", "cannot tell whose notebook"),
        ("doejane_123456_7890123_01_masks.pdf", "not a notebook"),
        ("__MACOSX/._doejane_1_2_01_masks.ipynb", "ignored"),
    ],
)
def test_unmatched_names_say_why(name, reason):
    entry = collect.identify(pathlib.PurePath(name), KNOWN)
    assert entry.status == "unmatched" and reason in entry.note


def test_collect_zip_keeps_latest_and_reports_everything(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("doejane_1_100_01_masks.ipynb", "first")
        z.writestr("doejane_1_200_01_masks-1.ipynb", "second")
        z.writestr("roe_2_300_01_masks.ipynb", "{ not json")
        z.writestr("roe_2_301_notes.txt", "hello")
    entries = collect.collect(archive, tmp_path / "course", KNOWN)
    submitted = tmp_path / "course" / "submitted"
    assert (submitted / "doejane" / "01_masks" / "01_masks.ipynb").read_text() == "second"
    # broken files are collected as they are: grading reports them, nothing is lost
    assert (submitted / "roe" / "01_masks" / "01_masks.ipynb").read_text() == "{ not json"
    statuses = sorted((e.file, e.status) for e in entries)
    assert statuses == [
        ("doejane_1_100_01_masks.ipynb", "superseded"),
        ("doejane_1_200_01_masks-1.ipynb", "collected"),
        ("roe_2_300_01_masks.ipynb", "collected"),
        ("roe_2_301_notes.txt", "unmatched"),
    ]
    with open(tmp_path / "course" / "collect_report.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {r["status"] for r in rows} == {"collected", "superseded", "unmatched"}


def test_collect_missing_source_says_what_to_give(tmp_path):
    with pytest.raises(FileNotFoundError, match="give a folder or a .zip"):
        collect.collect(tmp_path / "nope.zip", tmp_path / "course", KNOWN)
