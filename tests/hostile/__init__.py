"""A suite of hostile and broken submissions, generated from the release, with what each must get.

:func:`write_suite` writes one student per case into ``<course>/submitted/`` (next to the
honest ``reference`` and ``partial`` students), and returns the :class:`Case` list: for
each, the cells that must lose their points, the text each reason must contain, and the
notes the report must carry. ``tests/test_hostile.py`` grades them all in one batch
(:func:`run_batch`).

The cases are built from any assignment's release and reference solution: "answer 0"
is the first answer cell (its ``def`` and the graded test cells after it, up to the next
answer cell), "answer 1" the second, and so on. Only the tampering cases need a wrong
answer that survives the test code once the checks are disabled; those are given per
function in :data:`base.WRONG` (01_masks for now: add an assignment's functions to extend).

* :mod:`.base`: a release, its answers, and what a case must get;
* :mod:`.broken`: loops, crashes, memory, edited structure, editors, files, exits, logs;
* :mod:`.forged`: answers taken from elsewhere, and tampering with the tests;
* :mod:`.suite`: all cases written into a course folder; :mod:`.batch`: graded at once.

From the repository root, ``.venv/bin/python -m tests.hostile --course DIR [assignment]``
writes the suite into the empty folder DIR, grades it and prints each case's score.
"""

from tests.hostile.base import WRONG, Answer, Case, Release
from tests.hostile.batch import TEST_LIMITS, AnswerServer, Batch, run_batch
from tests.hostile.suite import BUILDERS, write_suite

__all__ = [
    "BUILDERS",
    "TEST_LIMITS",
    "WRONG",
    "Answer",
    "AnswerServer",
    "Batch",
    "Case",
    "Release",
    "run_batch",
    "write_suite",
]
