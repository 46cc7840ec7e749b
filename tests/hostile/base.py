"""What the hostile suite is built from: a release, its answers, and what a case must get."""

from __future__ import annotations

import copy
import dataclasses
import pathlib

import nbformat

from autograder import course, submissions

#: Wrong answers that pass their tests when the checks are disabled (for the tampering cases).
WRONG = {
    "to_class_ids": "def to_class_ids(trimap):\n"
    "    return tf.zeros_like(tf.convert_to_tensor(trimap), dtype=tf.uint8)\n",
    "foreground_mask": "def foreground_mask(trimap):\n"
    "    return tf.zeros_like(tf.convert_to_tensor(trimap), dtype=tf.uint8)\n",
    "resize_mask": "def resize_mask(mask, size):\n"
    "    mask = tf.convert_to_tensor(mask)\n"
    "    shape = tf.concat([tf.shape(mask)[:-3], tf.constant(size), tf.shape(mask)[-1:]], 0)\n"
    "    return tf.zeros(shape, mask.dtype)\n",
    "class_balance": "def class_balance(masks, num_classes):\n"
    "    return np.full(num_classes, 1.0 / num_classes), np.ones(num_classes)\n",
    "sample_weights": "def sample_weights(mask, class_weights):\n"
    "    return tf.zeros(tf.shape(mask), tf.float32)\n",
}


@dataclasses.dataclass
class Answer:
    grade_id: str
    names: list[str]  # the functions it defines
    tests: list[str]  # the graded cells after it
    points: float


@dataclasses.dataclass
class Case:
    """One submission and what grading it must give."""

    student: str
    title: str
    lost: list[str] = dataclasses.field(default_factory=list)  # graded cells that lose points
    whole: bool = False  # the whole notebook gets 0
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # cell -> text in reason
    notes: list[str] = dataclasses.field(default_factory=list)  # texts among the notes
    cell_notes: dict[str, str] = dataclasses.field(default_factory=dict)  # cell -> note text
    sandbox_only: bool = False  # the expectation holds only with the sandbox
    max_score: float = 0.0
    expected: float = 0.0

    def describe(self) -> str:
        return f"{self.student}: {self.title}"


class Release:
    """One released notebook, its reference answers and its answer cells."""

    def __init__(self, release_dir: pathlib.Path, assignment: str, notebook: str):
        self.assignment, self.notebook = assignment, notebook
        self.path = release_dir / assignment / f"{notebook}.ipynb"
        self.source_path = course.SOLUTIONS / assignment / f"{notebook}.ipynb"
        self.release = nbformat.read(self.path, as_version=4)
        self.answers: list[Answer] = []
        self.points: dict[str, float] = {}
        current = None
        for cell in self.release.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                names = [
                    line.split("(")[0][4:].strip()
                    for line in cell.source.splitlines()
                    if line.startswith("def ")
                ]
                current = Answer(meta["grade_id"], names, [], 0.0)
                self.answers.append(current)
            elif meta.get("grade"):
                self.points[meta["grade_id"]] = float(meta["points"])
                if current is not None:
                    current.tests.append(meta["grade_id"])
                    current.points += float(meta["points"])
        self.max_score = sum(self.points.values())

    def answer(self, k: int) -> Answer:
        return self.answers[k % len(self.answers)]

    def reference(self):
        return submissions.make_submission("reference", self.source_path, self.path)

    def untouched(self):
        return copy.deepcopy(self.release)


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if gid(c) == grade_id)


def set_answer(nb, grade_id: str, source: str) -> None:
    nb.cells[index(nb, grade_id)].source = source


def dump(nb) -> str:
    return nbformat.writes(nb)
