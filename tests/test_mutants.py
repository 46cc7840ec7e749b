"""Tests of the tests: plausible mistakes lose points, equivalent rewrites keep them, and
hard-coding the visible tests' inputs earns at most 10 % (tests/mutants/)."""

import pytest
from mutants import harness

pytestmark = pytest.mark.slow
MINIMUM = {"mistake": 12, "equivalent": 2, "hardcoder": 1}


def test_every_assignment_has_its_mutants():
    from autograder import course

    assert harness.assignments() == course.assignments()
    for assignment in harness.assignments():
        kinds = [m.kind for m in harness.catalogue(assignment)]
        for kind, least in MINIMUM.items():
            assert kinds.count(kind) >= least, f"{assignment}: fewer than {least} {kind}s"


@pytest.mark.parametrize("assignment", harness.assignments())
def test_the_grades_are_what_each_mutant_deserves(assignment):
    results = harness.run(assignment)
    reference = [r for r in results if r.mutant.name == "reference"]
    assert reference and reference[0].score == reference[0].max_score, harness.table(reference)
    wrong = [r for r in results if r.verdict != "ok"]
    assert not wrong, "\n" + harness.table(wrong) + "\n" + harness.summary(results)
