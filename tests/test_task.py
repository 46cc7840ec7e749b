"""One student's grading as a task: it carries its files (never through a symbolic link),
packs into a zip and back, refuses unsafe names, and a worker that breaks down gives a
result that says why instead of an exception (fast: no notebook runs here)."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from autograder import sandbox, task


@pytest.fixture
def course_root(tmp_path):
    root = tmp_path / "course"
    (root / "release" / "01_masks").mkdir(parents=True)
    (root / "release" / "01_masks" / "01_masks.ipynb").write_text("{}")
    (root / "gradebooks").mkdir()
    (root / "gradebooks" / "_template.db").write_bytes(b"template")
    mine = root / "submitted" / "s1" / "01_masks"
    mine.mkdir(parents=True)
    (mine / "01_masks.ipynb").write_text('{"mine": 1}')
    (mine / "timestamp.txt").write_text("2026-11-20 10:00:00")
    other = root / "submitted" / "s2" / "01_masks"
    other.mkdir(parents=True)
    (other / "01_masks.ipynb").write_text('{"other": 2}')
    os.symlink(other / "01_masks.ipynb", mine / "copied.ipynb")  # another student's work
    os.symlink("/etc", mine / "etc")
    return root


def test_a_task_carries_its_students_files_and_no_link(course_root):
    limits = sandbox.Limits(sandbox=False)
    t = task.build(course_root, "s1", ["01_masks"], limits)
    assert sorted(t.files) == [
        "release/01_masks/01_masks.ipynb",
        "submitted/01_masks/01_masks.ipynb",
        "submitted/01_masks/timestamp.txt",
        "template.db",
    ]
    assert t.files["submitted/01_masks/01_masks.ipynb"] == b'{"mine": 1}'
    back = task.unpack(task.pack(t))
    assert back == t and isinstance(back.limits, sandbox.Limits)
    result = task.Result("s1", {"student": "s1", "assignments": {}}, {"gradebook.db": b"x"})
    assert task.unpack(task.pack(result)) == result


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b", "a\\b"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(ValueError, match="unsafe path"):
        task.safe_name(name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("meta.json", '{"kind": "Result", "student": "s", "outcome": {}}')
        archive.writestr(f"files/{name}", b"x")
    with pytest.raises(ValueError, match="unsafe path"):
        task.unpack(buffer.getvalue())


def test_a_broken_worker_gives_a_result_with_the_reason(course_root):
    t = task.build(course_root, "s1", ["01_masks"], sandbox.Limits(sandbox=False))
    t.files["template.db"] = b"not a gradebook"
    result = task.run_isolated(t)
    assert result.student == "s1" and result.outcome["crashed"]
    info = result.outcome["assignments"]["01_masks"]
    assert info["crashed"] and info["error"]  # the worker's last lines say what broke
    assert "gradebook.db" not in result.files and result.files[task.LOG]
