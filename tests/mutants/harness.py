"""The mutation suite's machinery: plausible student mistakes graded like real submissions.

A *mutant* is the reference solution of one assignment with a small edit, written the way a
student would get it wrong (``mistake``), a different but correct way of writing it
(``equivalent``), or answers that return the right values for exactly the inputs of the
visible tests and are wrong elsewhere (``hardcoder``). Each assignment's mutants live in
``tests/mutants/m<assignment>.py`` as a list ``MUTANTS``.

:func:`run` writes every mutant of an assignment as one student into a fresh course,
grades them all in one batch with the real grader (``autograder.grade``: the sandbox,
the hidden tests, the time limits), and returns one :class:`Result` per mutant. The
grade must be what the mutant deserves:

* every mistake loses at least one point;
* every equivalent rewrite gets full marks;
* the hard-coder gets at most 10 % of the notebook's points.

``python -m tests.mutants [assignment ...]`` (``make mutants``) prints the table: mutant,
points, and the first message the student sees.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import tempfile

import nbformat

from autograder import course, grade, nbcode, release, report, submissions

KINDS = ("mistake", "equivalent", "hardcoder")
HARDCODER_SHARE = 0.10


@dataclasses.dataclass
class Mutant:
    """One submission made from the reference by editing answer cells."""

    name: str
    kind: str
    why: str
    #: grade id of an answer cell -> list of (old, new) replacements in its reference code
    edits: dict[str, list[tuple[str, str]]] = dataclasses.field(default_factory=dict)
    #: grade id of an answer cell -> its whole new source
    cells: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, not {self.kind!r}")
        if not self.edits and not self.cells and self.name != "reference":
            raise ValueError(f"{self.name}: a mutant must change something")


def mistake(name: str, cell: str, *edits: tuple[str, str], why: str) -> Mutant:
    """A plausible wrong answer: ``edits`` are (old, new) replacements in answer ``cell``."""
    return Mutant(name, "mistake", why, edits={cell: list(edits)})


def equivalent(name: str, cell: str, *edits: tuple[str, str], why: str) -> Mutant:
    """A correct answer written differently: it must keep full marks."""
    return Mutant(name, "equivalent", why, edits={cell: list(edits)})


def rewrite(name: str, kind: str, why: str, **cells: str) -> Mutant:
    """Answer cells replaced as a whole (``grade_id=source``)."""
    return Mutant(name, kind, why, cells=cells)


def hardcoder(why: str = "right for exactly the visible tests' inputs, wrong elsewhere",
              **cells: str) -> Mutant:
    return Mutant("hardcoder", "hardcoder", why, cells=cells)


#: the least of each kind an assignment's catalogue holds (and ``make test`` grades)
MINIMUM = {"mistake": 12, "equivalent": 2, "hardcoder": 1}


def catalogue(assignment: str) -> list[Mutant]:
    """The mutants of one assignment (``tests/mutants/m<assignment>.py``)."""
    module = importlib.import_module(f"{__package__}.m{assignment}")
    names = [m.name for m in module.MUTANTS]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"{assignment}: mutant names used twice: {sorted(duplicates)}")
    return list(module.MUTANTS)


def core(assignment: str) -> list[Mutant]:
    """The first :data:`MINIMUM` mutants of each kind, in the catalogue's order.

    Each catalogue lists first the mistakes the course's review and issues name; every
    mutant is one more graded student (seconds to a minute each), so ``make test`` grades
    this core and ``make mutants`` the whole catalogue.
    """
    taken = {kind: 0 for kind in MINIMUM}
    chosen = []
    for mutant in catalogue(assignment):
        if taken[mutant.kind] < MINIMUM[mutant.kind]:
            taken[mutant.kind] += 1
            chosen.append(mutant)
    return chosen


def assignments() -> list[str]:
    here = pathlib.Path(__file__).parent
    return sorted(p.stem[1:] for p in here.glob("m*.py") if p.stem[1:] in course.assignments())


def apply(mutant: Mutant, reference: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The reference submission with the mutant's edits; an edit that finds nothing fails."""
    nb = nbformat.reads(nbformat.writes(reference), as_version=4)
    cells = {nbcode.grade_id(c): c for c in nb.cells if nbcode.grade_id(c)}
    for grade_id, edits in mutant.edits.items():
        if grade_id not in cells:
            raise KeyError(f"{mutant.name}: no answer cell {grade_id!r}")
        source = cells[grade_id].source
        for old, new in edits:
            if old not in source:
                raise ValueError(
                    f"{mutant.name}: {old!r} is not in the reference code of {grade_id} "
                    "(the solution changed: update the mutant)"
                )
            source = source.replace(old, new)
        cells[grade_id].source = source
    for grade_id, source in mutant.cells.items():
        if grade_id not in cells:
            raise KeyError(f"{mutant.name}: no answer cell {grade_id!r}")
        cells[grade_id].source = source
    return nb


@dataclasses.dataclass
class Result:
    assignment: str
    mutant: Mutant
    student: str
    score: float
    max_score: float
    first_message: str

    @property
    def verdict(self) -> str:
        """``ok`` when the grade is what the mutant deserves, else what is wrong."""
        kind = self.mutant.kind
        if kind == "mistake" and self.score >= self.max_score:
            return "SURVIVED: full marks for a mistake"
        if kind == "equivalent" and self.score < self.max_score:
            return "WRONG: an equivalent rewrite lost points"
        if kind == "hardcoder" and self.score > HARDCODER_SHARE * self.max_score:
            return f"WRONG: the hard-coder got more than {HARDCODER_SHARE:.0%}"
        return "ok"


def _student(assignment: str, name: str) -> str:
    return f"m{assignment[:2]}-{name}".lower().replace("_", "-")


def _release_order(course_root: pathlib.Path, assignment: str) -> dict[str, int]:
    order = {}
    for path in sorted((course_root / "release" / assignment).glob("*.ipynb")):
        for index, cell in enumerate(nbcode.read(path).cells):
            if nbcode.grade_id(cell):
                order.setdefault(nbcode.grade_id(cell), index)
    return order


def run(
    assignment: str,
    mutants: list[Mutant] | None = None,
    jobs: int = 2,
    course_root: pathlib.Path | None = None,
    sandbox_mode: str = "auto",
) -> list[Result]:
    """Grade the reference and every mutant of ``assignment`` in one batch."""
    mutants = catalogue(assignment) if mutants is None else mutants
    reference = Mutant("reference", "equivalent", "the reference solution")
    with tempfile.TemporaryDirectory(prefix=f"mutants-{assignment}-") as tmp:
        root = pathlib.Path(course_root or tmp).resolve()
        fresh = root / "student_release"
        release.generate(fresh, [assignment])
        students = {}
        for release_path in sorted((fresh / assignment).glob("*.ipynb")):
            source_path = course.SOLUTIONS / assignment / release_path.name
            ref = submissions.make_submission("reference", source_path, release_path)
            for mutant in [reference, *mutants]:
                nb = ref if mutant is reference else apply(mutant, ref)
                student = _student(assignment, mutant.name)
                target = root / "submitted" / student / assignment / release_path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, target)
                students[student] = mutant
        outcome = grade.grade(
            root, jobs=jobs, assignment_ids=[assignment], only=sorted(students),
            sandbox_mode=sandbox_mode,
        )
        order = _release_order(root, assignment)
        results = []
        rows = {r["student_id"]: r for r in outcome["rows"] if r["assignment"] == assignment}
        cells = report.read_rows(root / "cell_report.csv")
        for student, mutant in students.items():
            lost = [
                c for c in cells
                if c["student_id"] == student and c["kind"] == "lost"
                and c["assignment"] == assignment
            ]
            lost.sort(key=lambda c: order.get(c["cell"], 10**6))
            row = rows[student]
            results.append(
                Result(
                    assignment, mutant, student, float(row["score"]), float(row["max_score"]),
                    lost[0]["reason"] if lost else "",
                )
            )
        return results


def table(results: list[Result]) -> str:
    """One line per mutant: kind, name, points, verdict, the first message the student sees."""
    lines = []
    for r in results:
        message = r.first_message if len(r.first_message) <= 110 else r.first_message[:109] + "…"
        lines.append(
            f"{r.assignment:<12} {r.mutant.kind:<10} {r.mutant.name:<28} "
            f"{r.score:>5g}/{r.max_score:<4g} {r.verdict:<8} {message}"
        )
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    mistakes = [r for r in results if r.mutant.kind == "mistake"]
    killed = sum(r.score < r.max_score for r in mistakes)
    equivalents = [r for r in results if r.mutant.kind == "equivalent"]
    hard = [r for r in results if r.mutant.kind == "hardcoder"]
    parts = [f"{killed}/{len(mistakes)} mistakes lose points"]
    parts.append("equivalent rewrites: " + ", ".join(f"{r.score:g}/{r.max_score:g}"
                                                   for r in equivalents))
    parts.append("hard-coder: " + ", ".join(f"{r.score:g}/{r.max_score:g}" for r in hard))
    return "; ".join(parts)
