"""The stub a student finds in place of each solution region: it names its exercise.

nbgrader replaces every ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region with one
fixed stub (``raise NotImplementedError()``). An unanswered exercise then fails with a
bare ``NotImplementedError``, often under another exercise's test. :class:`NamedStubs`
writes a stub that says which exercise is missing::

    # YOUR CODE HERE
    raise NotImplementedError("exercise 2 (encoder_block) is not answered yet")

The exercise is the number of the last ``### Exercise N`` heading before the cell and
the function the cell defines. It is nbgrader's ``ClearSolutions`` otherwise; the
course's configuration (``nbgrader_config.py``) puts it in its place.
"""

from __future__ import annotations

import re

from nbgrader import utils
from nbgrader.preprocessors import ClearSolutions

HEADING = re.compile(r"(?m)^#+\s*Exercise\s+(\d+)\b")
DEF = re.compile(r"(?m)^def\s+([A-Za-z_]\w*)\s*\(")


def label(exercise: str | None, source: str) -> str:
    """``exercise 2 (encoder_block)``, or what of it is known."""
    names = DEF.findall(source)
    name = f"({', '.join(names)})" if names else ""
    if exercise:
        return f"exercise {exercise} {name}".strip()
    return f"the exercise {name}".strip() if names else "this exercise"


def stub(exercise: str | None, source: str) -> str:
    message = f"{label(exercise, source)} is not answered yet"
    return f'# YOUR CODE HERE\nraise NotImplementedError("{message}")'


class NamedStubs(ClearSolutions):
    """nbgrader's ClearSolutions, with a stub that names the exercise it stands for."""

    def preprocess(self, nb, resources):
        self._exercise = None
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            found = HEADING.findall(cell.source)
            if found:
                self._exercise = found[-1]
            return super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type != "code" or not utils.is_solution(cell):
            return super().preprocess_cell(cell, resources, cell_index)
        language = resources["language"]
        saved = self.code_stub
        self.code_stub = dict(saved, **{language: stub(self._exercise, cell.source)})
        try:
            return super().preprocess_cell(cell, resources, cell_index)
        finally:
            self.code_stub = saved
