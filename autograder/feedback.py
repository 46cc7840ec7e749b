"""``feedback``: one HTML page per student and notebook, from the autograded notebooks.

Each page starts with the grader's report for its assignment (why points were lost, and
the notes), and ``feedback/<student>/report.html`` has that report for all assignments,
also for notebooks that could not be graded at all (missing, unreadable).
"""

from __future__ import annotations

import pathlib

from autograder import course, grade, report


def feedback(
    course_root: pathlib.Path, assignment_ids: list[str] | None = None
) -> list[pathlib.Path]:
    """Run nbgrader's generate_feedback for every autograded submission, then add the reports."""
    course_root = pathlib.Path(course_root).resolve()
    assignment_ids = assignment_ids or course.assignments()
    autograded = course_root / "autograded"
    failures = []
    for student in grade.students(course_root):
        if not (course_root / "gradebooks" / f"{student}.db").exists():
            continue
        config = grade.student_config(course_root, student)
        # student output is shown to the instructor too: no scripts from it in the pages
        config.HTMLExporter.sanitize_html = True
        api = course.api(config)
        for assignment in assignment_ids:
            if not (autograded / student / assignment).is_dir():
                continue
            result = api.generate_feedback(assignment, student, force=True)
            if not result["success"]:
                failures.append(f"{student}/{assignment}: {result['error']}")
    if failures:
        print("feedback could not be generated for:\n  " + "\n  ".join(failures))
    report.write_feedback_reports(course_root)
    return sorted((course_root / "feedback").glob("*/*/*.html"))
