"""Tests of the tests: plausible mistakes lose points, equivalent rewrites keep them, and
hard-coding the visible tests' inputs earns at most 10 % (tests/mutants/).

Each assignment's core (12 mistakes, 2 equivalent rewrites, the hard-coder: the least every
catalogue must hold) is graded here in one batch with the real grader; ``make mutants``
grades every mutant of every catalogue and prints the table.
"""

import pytest
from mutants import harness

pytestmark = pytest.mark.slow
MINIMUM = harness.MINIMUM


def test_every_assignment_has_its_mutants():
    from autograder import course

    assert harness.assignments() == course.assignments()
    for assignment in harness.assignments():
        kinds = [m.kind for m in harness.catalogue(assignment)]
        for kind, least in MINIMUM.items():
            assert kinds.count(kind) >= least, f"{assignment}: fewer than {least} {kind}s"


@pytest.mark.parametrize("assignment", harness.assignments())
def test_the_grades_are_what_each_mutant_deserves(assignment):
    results = harness.run(assignment, harness.core(assignment))
    reference = [r for r in results if r.mutant.name == "reference"]
    assert reference and reference[0].score == reference[0].max_score, harness.table(reference)
    wrong = [r for r in results if r.verdict != "ok"]
    assert not wrong, "\n" + harness.table(wrong) + "\n" + harness.summary(results)
