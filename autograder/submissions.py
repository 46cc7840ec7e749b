"""Make the demo's submissions from the release: reference, untouched and partial."""

from __future__ import annotations

import pathlib

import nbformat

from autograder import course, nbcode

KINDS = ("reference", "untouched", "partial")


def solved_source(source: str) -> str:
    """A solution cell's source as a student who solved it would hand it in (markers removed)."""
    return nbcode.strip_markers(source)


def _solutions_by_id(source_nb) -> dict[str, str]:
    return {
        cell.metadata["nbgrader"]["grade_id"]: solved_source(cell.source)
        for cell in source_nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def make_submission(kind: str, source_path: pathlib.Path, release_path: pathlib.Path):
    """The notebook a student of ``kind`` would hand in.

    ``reference`` fills every solution cell with the reference answer, ``untouched``
    is the release as downloaded, ``partial`` answers the first half of the
    solution cells (rounded up) and leaves the rest as released.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    released = nbformat.read(release_path, as_version=4)
    if kind == "untouched":
        return released
    answers = _solutions_by_id(nbformat.read(source_path, as_version=4))
    solution_ids = [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in released.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    ]
    if kind == "partial":
        if len(solution_ids) < 2:
            raise ValueError(f"{release_path.name}: a partial submission needs two solution cells")
        solution_ids = solution_ids[: (len(solution_ids) + 1) // 2]
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solution_ids:
            cell.source = answers[grade_id]
    return released


def write_submissions(
    release_dir: pathlib.Path, out_dir: pathlib.Path, assignment_ids: list[str]
) -> list[pathlib.Path]:
    """Write ``out_dir/<kind>/<assignment>/<notebook>.ipynb`` for every released notebook."""
    written = []
    released = (p for a in assignment_ids for p in (release_dir / a).glob("*.ipynb"))
    for release_path in sorted(released):
        assignment = release_path.parent.name
        source_path = course.SOLUTIONS / assignment / release_path.name
        for kind in KINDS:
            nb = make_submission(kind, source_path, release_path)
            target = out_dir / kind / assignment / release_path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            written.append(target)
    return written
