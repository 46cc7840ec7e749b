"""One source for links and given code: badges, install lines and given cells are generated."""

import shutil

import nbformat
import pytest

from autograder import course, nbcode, sources

SOLUTIONS = sorted(course.SOLUTIONS.glob("*/*.ipynb"))


def test_solutions_are_in_sync_with_their_sources():
    assert sources.sync(write=False) == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_badge_and_install_line_name_the_configured_repository(path):
    repo = sources.student_repository()
    text = path.read_text()
    assert repo.colab(path.parent.name, path.stem) in text
    assert f"unet-course @ {repo.install}" in text
    assert "--no-deps" in text, "the Colab install must never pull dependencies"


def test_links_follow_another_repository():
    path = course.SOLUTIONS / "02_encoder" / "02_encoder.ipynb"
    nb = nbcode.read(path)
    repo = sources.Repository("https://github.com/some-school/unet-2027", branch="fall")
    assert sources.apply_links(nb, repo, "02_encoder", "02_encoder")
    text = nbformat.writes(nb)
    assert (
        "https://colab.research.google.com/github/some-school/unet-2027/blob/fall/"
        "notebooks/02_encoder/02_encoder.ipynb" in text
    )
    assert "unet-course @ git+https://github.com/some-school/unet-2027" in text
    assert "unet-course/unet-course" not in text


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "git@github.com:a/b.git", "a/b"])
def test_a_repository_colab_cannot_open_is_refused(url):
    with pytest.raises(sources.SourceError, match="GitHub"):
        sources.Repository(url)


def _copy_solutions(tmp_path):
    target = tmp_path / "solutions"
    shutil.copytree(course.SOLUTIONS, target)
    return target


def _given_cell(nb):
    return next(c for c in nb.cells if sources.given_spec(c))


def _edit(tmp_path, assignment, pick, change):
    """A copy of solutions/ with one cell of ``assignment`` changed: (solutions, path, old)."""
    solutions = _copy_solutions(tmp_path)
    path = solutions / assignment / f"{assignment}.ipynb"
    nb = nbcode.read(path)
    old = pick(nb).source
    pick(nb).source = change(old)
    nbformat.write(nb, path)
    return solutions, path, old


def test_a_given_cell_edited_by_hand_is_regenerated(tmp_path):
    solutions, path, original = _edit(
        tmp_path, "03_decoder", _given_cell, lambda s: s.replace("he_normal", "glorot_uniform")
    )
    fixed, changes = sources.sync_notebook(path, sources.student_repository(), solutions)
    assert changes and "given code" in changes[-1]
    assert _given_cell(fixed).source == original


def test_a_fix_in_the_source_reaches_the_given_cells(tmp_path):
    solutions = _copy_solutions(tmp_path)
    source = solutions / "02_encoder" / "02_encoder.ipynb"
    nb = nbcode.read(source)
    cell = next(c for c in nb.cells if nbcode.grade_id(c) == "double_conv")
    cell.source = cell.source.replace('"he_normal"', '"he_uniform"')
    nbformat.write(nb, source)
    for later in ("03_decoder", "04_unet"):
        path = solutions / later / f"{later}.ipynb"
        fixed, changes = sources.sync_notebook(path, sources.student_repository(), solutions)
        assert changes, f"{later} was not updated"
        assert "he_uniform" in _given_cell(fixed).source


def test_given_code_is_the_solution_without_markers():
    nb = nbcode.read(course.SOLUTIONS / "03_decoder" / "03_decoder.ipynb")
    given = _given_cell(nb).source
    assert "### BEGIN SOLUTION" not in given
    source = nbcode.read(course.SOLUTIONS / "02_encoder" / "02_encoder.ipynb")
    cell = next(c for c in source.cells if nbcode.grade_id(c) == "double_conv")
    assert nbcode.strip_markers(cell.source).strip() in given


def test_a_source_must_be_marked_as_reused(tmp_path):
    solutions = _copy_solutions(tmp_path)
    path = solutions / "02_encoder" / "02_encoder.ipynb"
    nb = nbcode.read(path)
    for cell in nb.cells:
        cell.metadata.pop("unet_course", None)
    nbformat.write(nb, path)
    with pytest.raises(sources.SourceError, match="not marked as reused"):
        sources.given_source(["02_encoder/double_conv"], solutions)


def test_a_given_cell_may_use_earlier_notebooks_only(tmp_path):
    solutions = _copy_solutions(tmp_path)
    path = solutions / "03_decoder" / "03_decoder.ipynb"
    nb = nbcode.read(path)
    _given_cell(nb).metadata["unet_course"]["given"] = ["04_unet/build_unet"]
    nbformat.write(nb, path)
    with pytest.raises(sources.SourceError, match="earlier notebooks"):
        sources.sync_notebook(path, sources.student_repository(), solutions)


# --------------------------------------------------------------------------- the setup cell


def _setup_cell(nb):
    return next(c for c in nb.cells if nbcode.grade_id(c) == "setup")


@pytest.mark.parametrize(
    "path", SOLUTIONS + sorted(course.NOTEBOOKS.glob("*/*.ipynb")), ids=lambda p: str(p.parent)
)
def test_every_setup_cell_starts_with_the_common_head(path):
    head = sources.setup_head(sources.student_repository())
    cell = _setup_cell(nbcode.read(path))
    assert cell.source.startswith(head + "\n"), f"run `make release` ({sources.SETUP_HEAD.name})"
    own = cell.source[len(head):]
    assert "%pip" not in own, "the notebook's own part of the setup cell installs nothing"


def test_an_edited_head_is_regenerated_and_the_notebooks_own_part_kept(tmp_path):
    solutions, path, original = _edit(
        tmp_path, "02_encoder", _setup_cell, lambda s: s.replace("--no-deps ", "")
    )
    fixed, changes = sources.sync_notebook(path, sources.student_repository(), solutions)
    assert "cell 2 (setup): common head" in changes
    assert _setup_cell(fixed).source == original


def test_a_setup_cell_without_the_heads_last_line_is_refused(tmp_path):
    last = sources.setup_head(sources.student_repository()).splitlines()[-1]
    solutions, path, _ = _edit(
        tmp_path, "02_encoder", _setup_cell, lambda s: s.replace(last + "\n", "")
    )
    with pytest.raises(sources.SourceError, match="head cannot be found"):
        sources.sync_notebook(path, sources.student_repository(), solutions)
