"""``export --to canvas|moodle``: the layouts the LMSs import, ids matched, nobody dropped silently.

The example files in ``tests/lms_examples/`` are written from the LMSs' documentation
(sources in its README.md): Canvas' Instructor Guide "How do I import grades in the
Gradebook?" (https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807)
and MoodleDocs "Assignment settings", offline grading worksheet
(https://docs.moodle.org/en/Assignment_settings). The two readers below do what those
importers do with a file (find the columns by name, the Points Possible row, the
student by id) and are checked on the examples first.
"""

from __future__ import annotations

import csv
import datetime
import pathlib

import pytest

from autograder import cli, export, grade, report
from autograder import students as student_file

EXAMPLES = pathlib.Path(__file__).parent / "lms_examples"
NOW = datetime.datetime(2026, 12, 1, 9, 5)


def _rows(path: pathlib.Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def read_like_canvas(path: pathlib.Path) -> dict:
    """What Canvas' gradebook import takes from a file: assignments with their points
    possible, and per student (found by ID, the Canvas user id) the scores."""
    header, *rows = _rows(path)
    assert header[:5] == export.CANVAS_IDENTITY, header
    assignments = header[5:]
    points = [r for r in rows if r and r[0].strip() == "Points Possible"]
    assert len(points) == 1, "exactly one Points Possible row"
    assert points[0][1:5] == ["", "", "", ""]
    possible = dict(zip(assignments, (float(p) for p in points[0][5:])))
    students = {}
    for row in rows:
        if row[0].strip() == "Points Possible":
            continue
        assert len(row) == len(header), row
        assert row[1].isdigit(), f"no Canvas user id in {row}"
        assert row[1] not in students, f"Canvas id {row[1]} twice"
        students[row[1]] = {
            "name": row[0],
            "scores": {a: (float(v) if v else None) for a, v in zip(assignments, row[5:])},
        }
    return {"possible": possible, "students": students}


def read_like_moodle(path: pathlib.Path) -> dict:
    """What Moodle's grading worksheet upload takes: per participant id the grade, the
    time it was set, and the feedback comment (columns found by their names)."""
    header, *rows = _rows(path)
    index = {name: header.index(name) for name in header}
    for needed in ("Identifier", "Grade", "Last modified (grade)"):
        assert needed in index, f"Moodle refuses a worksheet without {needed!r}"
    found = {}
    for row in rows:
        ident = row[index["Identifier"]]
        assert ident.startswith("Participant "), ident
        pid = ident[len("Participant ") :]
        assert pid.isdigit(), ident
        modified = row[index["Last modified (grade)"]]
        when = None if modified == "-" else datetime.datetime.strptime(modified, export.MOODLE_DATE)
        grade_text = row[index["Grade"]]
        found[pid] = {
            "grade": float(grade_text) if grade_text else None,
            "max": float(row[index["Maximum Grade"]]),
            "modified": when,
            "comment": row[index["Feedback comments"]] if "Feedback comments" in index else None,
            "name": row[index["Full name"]],
        }
    return found


def test_the_readers_accept_the_documented_examples():
    canvas = read_like_canvas(EXAMPLES / "canvas_gradebook_import.csv")
    assert canvas["possible"] == {"Assignment 1 (101)": 10.0, "Quiz 2 (102)": 20.0}
    assert canvas["students"]["12346"]["scores"]["Quiz 2 (102)"] is None
    moodle = read_like_moodle(EXAMPLES / "moodle_grading_worksheet.csv")
    assert set(moodle) == {"20001", "20002"} and moodle["20001"]["max"] == 100.0


# ------------------------------------------------------------------------- a small course

GRADES = {  # student -> assignment -> score (max: 10 and 20)
    "alice_501": {"01_masks": 10.0, "02_encoder": 17.5},
    "bob_502": {"01_masks": 4.0, "02_encoder": 0.0},
    "carol_20003": {"01_masks": 8.0, "02_encoder": 12.0},
    "dave": {"01_masks": 6.0, "02_encoder": 20.0},
    "erin_20005": {"01_masks": 9.0},  # not graded in 02_encoder
}
STUDENTS = [
    ("alice_501", "canvas", "501", "Alice Liddell", ""),
    ("bob_502", "canvas", "502", "O'Brien, Bob", ""),
    ("carol_20003", "moodle", "20003", "Carol Ng", "carol@uni.example"),
    ("erin_20005", "moodle", "20005", "李雷", ""),
    ("frank", "folder", "", "frank", ""),
]
HIDDEN_LINE = "_ids = to_class_ids(tf.constant(_t))"  # a line of a hidden test of 01_masks


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def make_course(root: pathlib.Path, students=STUDENTS) -> pathlib.Path:
    top = {"01_masks": 10.0, "02_encoder": 20.0}
    rows = []
    for student, scores in GRADES.items():
        for assignment, score in scores.items():
            row = dict.fromkeys(grade.EXPORT_COLUMNS, "")
            row.update(
                assignment=assignment,
                student_id=student,
                raw_score=score,
                late_submission_penalty=0.0,
                score=score,
                max_score=top[assignment],
            )
            rows.append([row[c] for c in grade.EXPORT_COLUMNS])
    _write(root / "grades.csv", grade.EXPORT_COLUMNS, rows)
    reasons = [
        [
            "carol_20003",
            "01_masks",
            "01_masks",
            "test_resize_mask_labels",
            0.0,
            1.0,
            f"ValueError: ['{HIDDEN_LINE}'] <b>bold</b>",
            "lost",
        ],
        [
            "carol_20003",
            "01_masks",
            "01_masks",
            "test_class_balance",
            0.0,
            1.0,
            "AssertionError: class_balance frequencies: expected [0.125 ...",
            "lost",
        ],
        ["carol_20003", "01_masks", "01_masks", "(notebook)", "", "", "metadata repaired", "note"],
    ]
    _write(root / "cell_report.csv", report.COLUMNS, reasons)
    if students is not None:
        _write(root / "students.csv", student_file.COLUMNS, students)
    return root


def test_canvas_layout_ids_and_scores(tmp_path):
    result = export.canvas(make_course(tmp_path), titles={"02_encoder": "Encoder (4712)"})
    example = _rows(EXAMPLES / "canvas_gradebook_import.csv")
    ours = _rows(result.written[0])
    assert ours[0][:5] == example[0][:5]
    assert ours[1][0] == example[1][0] and ours[1][1:5] == example[1][1:5]
    got = read_like_canvas(result.written[0])
    assert got["possible"] == {"01_masks": 10.0, "Encoder (4712)": 20.0}
    assert set(got["students"]) == {"501", "502"}
    assert got["students"]["501"] == {
        "name": "Alice Liddell",
        "scores": {"01_masks": 10.0, "Encoder (4712)": 17.5},
    }
    assert got["students"]["502"]["name"] == "O'Brien, Bob"
    assert result.matched == ["alice_501", "bob_502"]
    assert set(result.unmatched) == {"carol_20003", "dave", "erin_20005"}
    assert "moodle" in result.unmatched["carol_20003"]
    assert "not in students.csv" in result.unmatched["dave"]


def test_moodle_worksheet_per_assignment(tmp_path):
    result = export.moodle(make_course(tmp_path), now=NOW)
    example = _rows(EXAMPLES / "moodle_grading_worksheet.csv")
    assert [p.name for p in result.written] == ["01_masks.csv", "02_encoder.csv"]
    for path in result.written:
        assert _rows(path)[0] == example[0]  # the columns of the documented worksheet
    masks = read_like_moodle(tmp_path / "moodle_worksheets" / "01_masks.csv")
    assert set(masks) == {"20003", "20005"}
    assert masks["20003"]["grade"] == 8.0 and masks["20003"]["max"] == 10.0
    assert masks["20003"]["modified"] == NOW.replace(second=0)
    assert masks["20005"]["name"] == "李雷"
    comment = masks["20003"]["comment"]
    assert comment.startswith("Autograded: 8 of 10 points.")
    assert "Exercise 3, `resize_mask` (test_resize_mask_labels), 0 of 1: ValueError" in comment
    assert "Exercise 4, `class_balance` (test_class_balance)" in comment
    assert comment.index("resize_mask") < comment.index("class_balance")  # notebook order
    assert HIDDEN_LINE not in comment and "[hidden test code]" in comment
    assert "<b>" not in comment and "&lt;b&gt;" in comment  # Moodle reads comments as HTML
    assert "metadata repaired" not in comment
    encoder = read_like_moodle(tmp_path / "moodle_worksheets" / "02_encoder.csv")
    assert set(encoder) == {"20003"}, "no grade, no row: Moodle keeps what it has"
    assert set(result.unmatched) == {"alice_501", "bob_502", "dave"}
    assert "canvas" in result.unmatched["alice_501"]


def test_a_student_without_a_grade_in_one_assignment_gets_a_blank_cell(tmp_path):
    students = STUDENTS + [("dave", "canvas", "504", "Dave", "")]
    result = export.canvas(make_course(tmp_path, students))
    assert result.matched == ["alice_501", "bob_502", "dave"]
    rows = {r[1]: r for r in _rows(result.written[0])[2:]}
    assert rows["504"][5:] == ["6", "20"]
    # erin has no 02_encoder grade: as a Canvas student her cell would be blank, never 0
    students = [("erin_20005", "canvas", "505", "Erin", "")]
    result = export.canvas(make_course(tmp_path, students))
    assert _rows(result.written[0])[2] == ["Erin", "505", "", "", "", "9", ""]


def test_without_students_csv_nobody_is_matched_and_everybody_is_named(tmp_path, capsys):
    make_course(tmp_path, students=None)
    code = cli.main(["export", "--to", "canvas", "--course", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "canvas_grades.csv") in err
    assert "5 students could NOT be matched" in err
    for student in GRADES:
        assert f"{student}: no students.csv in the course" in err
    assert len(_rows(tmp_path / "canvas_grades.csv")) == 2  # header and Points Possible only


def test_two_students_with_one_lms_id_are_both_left_out(tmp_path):
    students = [("alice_501", "canvas", "501", "A", ""), ("bob_502", "canvas", "501", "B", "")]
    result = export.canvas(make_course(tmp_path, students))
    assert result.matched == []
    assert "Canvas user id 501 is also given for bob_502" in result.unmatched["alice_501"]
    assert "also given for alice_501" in result.unmatched["bob_502"]
    students = [
        ("alice_501", "moodle", "Participant 7", "A", ""),
        ("bob_502", "moodle", "", "B", ""),
    ]
    result = export.moodle(make_course(tmp_path, students))
    assert "'Participant 7', which is not a Moodle participant id" in result.unmatched["alice_501"]
    assert "gives no Moodle participant id" in result.unmatched["bob_502"]


def test_a_fully_matched_export_exits_0(tmp_path, capsys):
    students = [(s, "canvas", str(600 + i), s, "") for i, s in enumerate(GRADES)]
    make_course(tmp_path, students)
    out = tmp_path / "elsewhere" / "grades_for_canvas.csv"
    code = cli.main(["export", "--to", "canvas", "--course", str(tmp_path), "--out", str(out)])
    assert code == 0, capsys.readouterr()
    assert "5 students matched to their Canvas user id" in capsys.readouterr().out
    assert set(read_like_canvas(out)["students"]) == {str(600 + i) for i in range(5)}


def test_bad_input_gets_a_clear_error(tmp_path, capsys):
    with pytest.raises(export.ExportError, match="no grades.csv .* grade first"):
        export.canvas(tmp_path)
    make_course(tmp_path)
    _write(tmp_path / "students.csv", ["student_id", "canvas_id"], [["alice_501", "501"]])
    with pytest.raises(export.ExportError, match="lacks the column.*lms, lms_id, name, login"):
        export.moodle(tmp_path)
    assert cli.main(["export", "--to", "moodle", "--course", str(tmp_path)]) == 2
    assert "lacks the column" in capsys.readouterr().err
    _write(tmp_path / "students.csv", student_file.COLUMNS, STUDENTS + [STUDENTS[0]])
    with pytest.raises(export.ExportError, match="'alice_501' is listed twice"):
        export.canvas(tmp_path)
    assert cli.main(["export", "--to", "canvas", "--course", str(tmp_path), "--title", "x"]) == 2
