"""``feedback``: one HTML page per student and notebook, from the autograded notebooks."""

from __future__ import annotations

import pathlib

from autograder import course, grade


def feedback(
    course_root: pathlib.Path, assignment_ids: list[str] | None = None
) -> list[pathlib.Path]:
    """Run nbgrader's generate_feedback for every autograded submission."""
    course_root = pathlib.Path(course_root).resolve()
    assignment_ids = assignment_ids or course.assignments()
    autograded = course_root / "autograded"
    failures = []
    for student in grade.students(course_root):
        if not (course_root / "gradebooks" / f"{student}.db").exists():
            continue
        api = course.api(grade.student_config(course_root, student))
        for assignment in assignment_ids:
            if not (autograded / student / assignment).is_dir():
                continue
            result = api.generate_feedback(assignment, student, force=True)
            if not result["success"]:
                failures.append(f"{student}/{assignment}: {result['error']}")
    if failures:
        print("feedback could not be generated for:\n  " + "\n  ".join(failures))
    return sorted((course_root / "feedback").glob("*/*/*.html"))
