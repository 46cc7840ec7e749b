"""Notebook code outside Jupyter: the one place that reads code out of the course's notebooks.

Tests, benchmarks, the mutation suite and :mod:`autograder.sources` use it to

* remove nbgrader's region markers from a cell (:func:`strip_markers`), the way a student
  who solved the exercise hands it in;
* take the imports and function definitions of a notebook's code cells and run them in a
  fresh namespace (:func:`definitions`), so that a test can call the notebook's own
  ``build_unet`` without building or training anything else on the way.
"""

from __future__ import annotations

import ast
import pathlib
import re

import nbformat

#: nbgrader's region markers, each on a line of its own.
MARKER = re.compile(r"(?m)^[ \t]*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)[ \t]*\n?")
#: IPython magics and shell escapes (``%pip``, ``!ls``): not Python.
MAGIC = re.compile(r"(?m)^(\s*)[%!].*$")
_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def strip_markers(source: str) -> str:
    """``source`` with the ``### BEGIN/END SOLUTION`` and ``… HIDDEN TESTS`` lines removed."""
    return MARKER.sub("", source)


def read(path: pathlib.Path | str) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_test(cell) -> bool:
    """A graded test cell (nbgrader ``grade`` and not ``solution``)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def definitions_source(source: str) -> str:
    """The imports, functions and classes of one cell's code, as Python source."""
    source = MAGIC.sub(r"\1pass", strip_markers(source))
    return "\n\n".join(ast.unparse(n) for n in ast.parse(source).body if isinstance(n, _KEEP))


def definitions(
    path: pathlib.Path | str,
    names: tuple[str, ...] | list[str] = (),
    namespace: dict | None = None,
) -> dict:
    """Run the imports and definitions of every non-test code cell of a notebook.

    Returns the namespace. ``names`` are functions the caller needs: a missing one is an
    ``AssertionError`` naming the notebook, so a renamed exercise fails loudly.
    """
    path = pathlib.Path(path)
    namespace = namespace if namespace is not None else {"__name__": f"notebook_{path.stem}"}
    for cell in read(path).cells:
        if cell.cell_type == "code" and not is_test(cell):
            exec(compile(definitions_source(cell.source), str(path), "exec"), namespace)
    missing = [name for name in names if not callable(namespace.get(name))]
    if missing:
        raise AssertionError(f"{path.name} defines no {', '.join(missing)}")
    return namespace
