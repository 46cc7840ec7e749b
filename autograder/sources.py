"""One source for what several notebooks share: the student repository's URL and given code.

**The student repository.** Students open the notebooks from the *published* student
repository (``python -m autograder publish``), never from this one. Its URL is one setting,
``[tool.unet-course] student-repository`` in ``pyproject.toml``; every Colab badge (the
title cell's ``Open in Colab`` link) and every setup cell's install line
(``%pip install … "unet-course @ git+URL"``) is generated from it by :func:`apply_links`.

**The setup cell's head.** Every notebook's setup cell (grade id ``setup``) starts with the
same lines: install the helper package on Colab, import TensorFlow without its start-up
log. They have one source, ``autograder/setup_head.ipy``; :func:`apply_setup_head` writes
it over everything up to the template's last line (the notebook's own imports follow).

**Given cells.** A later notebook often needs the reference answers of earlier ones (03
builds on 02's ``double_conv``, 05 trains 04's ``build_unet``). Such a *given* cell is
never written by hand: its cell metadata names its sources,
``"unet_course": {"given": ["02_encoder/double_conv", "02_encoder/encoder_block"]}``
(assignment / grade id of a solution cell), and :func:`given_source` writes it from them:
each source cell's code with nbgrader's solution markers removed, unchanged, under a
comment naming where it comes from. A source cell says that it is reused with
``"unet_course": {"save": true}``, so whoever edits it knows that later notebooks get the
edit (the way d2l's ``#@save`` marks code that the book reuses).

:func:`sync` applies all three to ``solutions/`` (``release`` runs it before nbgrader generates
the student versions); ``sync(write=False)`` lists what is out of date, which
``release --check`` and the tests report.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import sys

import nbformat

from autograder import course, nbcode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = course.REPO / "pyproject.toml"
SETUP_HEAD = course.REPO / "autograder" / "setup_head.ipy"
BADGE = re.compile(r'<a href="https://colab\.research\.google\.com/github/[^"]*">')
INSTALL = re.compile(r'(unet-course @ git\+)([^"\s]+)')
GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


class SourceError(ValueError):
    """A setting or a given cell's source that cannot work; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class Repository:
    """Where students get the course: a GitHub repository and its branch."""

    url: str
    branch: str = "main"

    def __post_init__(self):
        if not GITHUB.match(self.url):
            raise SourceError(
                f"the student repository must be a GitHub URL such as "
                f"https://github.com/ORG/REPO (Colab opens notebooks from GitHub only), "
                f"not {self.url!r}"
            )

    @property
    def slug(self) -> str:
        org, name = GITHUB.match(self.url).groups()
        return f"{org}/{name}"

    def colab(self, assignment: str, notebook: str) -> str:
        """The address that opens a released notebook in Colab."""
        return (
            f"https://colab.research.google.com/github/{self.slug}/blob/{self.branch}/"
            f"notebooks/{assignment}/{notebook}.ipynb"
        )

    @property
    def install(self) -> str:
        """What pip installs the helper package from: ``git+https://github.com/ORG/REPO``."""
        return f"git+https://github.com/{self.slug}"


def settings(pyproject: pathlib.Path = PYPROJECT) -> dict:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    found = data.get("tool", {}).get("unet-course", {})
    if "student-repository" not in found:
        raise SourceError(f"{pyproject} has no [tool.unet-course] student-repository setting")
    return found


def student_repository(pyproject: pathlib.Path = PYPROJECT) -> Repository:
    """The configured student repository (``[tool.unet-course]`` in pyproject.toml)."""
    found = settings(pyproject)
    return Repository(found["student-repository"], found.get("branch", "main"))


# --------------------------------------------------------------------------- links


def apply_links(nb, repo: Repository, assignment: str, notebook: str) -> list[str]:
    """Point the notebook's Colab badges and install lines at ``repo``; what changed."""
    changed = []
    href = f'<a href="{repo.colab(assignment, notebook)}">'
    badges = installs = 0
    for index, cell in enumerate(nb.cells):
        new = cell.source
        if cell.cell_type == "markdown":
            badges += len(BADGE.findall(new))
            new = BADGE.sub(href, new)
        elif cell.cell_type == "code":
            installs += len(INSTALL.findall(new))
            new = INSTALL.sub(lambda m: m.group(1) + repo.install.removeprefix("git+"), new)
        if new != cell.source:
            cell.source = new
            changed.append(f"cell {index}: links")
    if not badges:
        raise SourceError(f"{assignment}/{notebook}: no 'Open in Colab' badge in the notebook")
    if not installs:
        raise SourceError(f"{assignment}/{notebook}: no `unet-course @ git+…` install line")
    return changed


# --------------------------------------------------------------------------- setup cell


def setup_head(repo: Repository, template: pathlib.Path = SETUP_HEAD) -> str:
    """The common head of every setup cell, its install line naming ``repo``."""
    text = template.read_text(encoding="utf-8").rstrip("\n")
    if len(INSTALL.findall(text)) != 1:
        raise SourceError(f"{template} must hold one `unet-course @ git+…` install line")
    return INSTALL.sub(lambda m: m.group(1) + repo.install.removeprefix("git+"), text)


def apply_setup_head(nb, repo: Repository, label: str) -> list[str]:
    """Write the common head over the start of the notebook's setup cell; what changed."""
    cells = [(i, c) for i, c in enumerate(nb.cells) if nbcode.grade_id(c) == "setup"]
    if len(cells) != 1:
        raise SourceError(f"{label}: needs exactly one setup cell (grade id 'setup')")
    index, cell = cells[0]
    head = setup_head(repo)
    last = head.splitlines()[-1]
    lines = cell.source.split("\n")
    if last not in lines:
        raise SourceError(
            f"{label}: the setup cell has no line {last!r}, so its head cannot be found. Put "
            f"that line back where the common head ends ({SETUP_HEAD.name}) and run "
            "`make release`."
        )
    new = "\n".join([head, *lines[lines.index(last) + 1 :]])
    if new == cell.source:
        return []
    cell.source = new
    return [f"cell {index} (setup): common head"]


# --------------------------------------------------------------------------- given cells


def _meta(cell) -> dict:
    return cell.metadata.get("unet_course", {})


def given_spec(cell) -> list[str]:
    return list(_meta(cell).get("given", []))


def _source_cell(ref: str, solutions: pathlib.Path, cache: dict):
    assignment, _, grade_id = ref.partition("/")
    if not grade_id:
        raise SourceError(f"given source {ref!r} is not of the form ASSIGNMENT/GRADE_ID")
    if assignment not in cache:
        paths = sorted((solutions / assignment).glob("*.ipynb"))
        if not paths:
            raise SourceError(f"given source {ref!r}: no notebook in solutions/{assignment}")
        cache[assignment] = [c for p in paths for c in nbcode.read(p).cells]
    for cell in cache[assignment]:
        if nbcode.grade_id(cell) == grade_id:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("solution") or cell.cell_type != "code":
                raise SourceError(f"given source {ref!r} is not a solution code cell")
            if not _meta(cell).get("save"):
                raise SourceError(
                    f"given source {ref!r} is not marked as reused: add "
                    '"unet_course": {"save": true} to its cell metadata'
                )
            return cell
    raise SourceError(f"given source {ref!r}: no cell with grade id {grade_id!r}")


def given_source(refs: list[str], solutions: pathlib.Path = course.SOLUTIONS, cache=None) -> str:
    """The source of a given cell made of the solution cells ``refs``."""
    cache = {} if cache is None else cache
    blocks = []
    for ref in refs:
        assignment, _, grade_id = ref.partition("/")
        code = nbcode.strip_markers(_source_cell(ref, solutions, cache).source).strip("\n")
        blocks.append(f"# The reference {grade_id} of notebook {assignment}.\n{code}")
    return "\n\n\n".join(blocks)


# --------------------------------------------------------------------------- sync


def sync_notebook(
    path: pathlib.Path,
    repo: Repository,
    solutions: pathlib.Path = course.SOLUTIONS,
    cache: dict | None = None,
):
    """Bring one solution notebook up to date in memory; (notebook, what changed)."""
    nb = nbcode.read(path)
    changes = apply_setup_head(nb, repo, f"{path.parent.name}/{path.name}")
    changes += apply_links(nb, repo, path.parent.name, path.stem)
    cache = {} if cache is None else cache
    for index, cell in enumerate(nb.cells):
        refs = given_spec(cell)
        if not refs:
            continue
        later = [r for r in refs if r.partition("/")[0] >= path.parent.name]
        if later:
            raise SourceError(
                f"{path.parent.name}, cell {index}: a given cell may only use earlier "
                f"notebooks, not {later}"
            )
        source = given_source(refs, solutions, cache)
        if cell.source != source:
            cell.source = source
            changes.append(f"cell {index} ({nbcode.grade_id(cell) or 'given'}): given code")
    return nb, changes


def sync(
    assignment_ids: list[str] | None = None,
    write: bool = True,
    repo: Repository | None = None,
) -> list[str]:
    """Regenerate links and given cells of ``solutions/``; one line per notebook changed.

    With ``write=False`` nothing is written and the lines say what is out of date.
    """
    repo = repo or student_repository()
    lines, cache = [], {}
    for assignment in assignment_ids or course.assignments():
        for path in sorted((course.SOLUTIONS / assignment).glob("*.ipynb")):
            nb, changes = sync_notebook(path, repo, course.SOLUTIONS, cache)
            if not changes:
                continue
            rel = path.relative_to(course.REPO)
            if write:
                nbformat.write(nb, path)
                lines.append(f"updated {rel}: " + "; ".join(changes))
            else:
                lines.append(f"{rel} is out of date ({'; '.join(changes)}): run `make release`")
    return lines
