"""The student repository: what students need, no answer of the course, links from one URL."""

import builtins
import json
import keyword
import re
import shutil
import subprocess
import sys

import pytest
import tomllib
from conftest import STUDENT_URL

from autograder import answers, cli, course, nbcode, publish, sources

pytestmark = pytest.mark.slow  # nbgrader generates the notebooks (about a minute)

SLUG = "test-school/unet-students"
MARK = re.compile(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)")
NAMES = re.compile(r"[A-Za-z_]\w*")
GENERIC = set(keyword.kwlist) | set(dir(builtins))


# --------------------------------------------------------------------------- the test's own
# reading of the answers: a line-by-line walk over the solution notebooks' JSON (publish uses
# autograder/answers.py; this does not).


def _telling(line):
    return len(line) >= 10 and bool(set(NAMES.findall(line)) - GENERIC)


def _given(cell):
    meta = cell.get("metadata", {})
    gid = meta.get("nbgrader", {}).get("grade_id", "")
    return gid.startswith("given_") or "given" in meta.get("unet_course", {})


def _course_answers():
    """{line: {(assignment, grade id, "SOLUTION" or "HIDDEN TESTS")}} of solutions/."""
    secret, public = {}, set()
    for path in sorted(course.SOLUTIONS.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if _given(cell):
                continue
            source = "".join(cell["source"])
            nbgrader = cell["metadata"].get("nbgrader", {})
            whole = nbgrader.get("solution") and not MARK.search(source)
            region = "SOLUTION" if whole else None
            for line in source.splitlines():
                mark = MARK.fullmatch(line.strip())
                if mark:
                    region = mark.group(2) if mark.group(1) == "BEGIN" else None
                elif region:
                    origin = (path.parent.name, nbgrader.get("grade_id"), region)
                    secret.setdefault(line.strip(), set()).add(origin)
                else:
                    public.add(line.strip())
    return {k: v for k, v in secret.items() if k not in public and _telling(k)}


ANSWERS = _course_answers()


def _places(tree):
    """(file, cell grade id, in a given cell, text) for every text in the tree."""
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = path.relative_to(tree).as_posix()
        if path.suffix != ".ipynb":
            yield rel, None, False, path.read_text(errors="replace")
            continue
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
            yield rel, gid, _given(cell), "".join(cell["source"])  # (a list, or one string)
            yield rel, gid, False, "\n".join(answers.strings({k: v for k, v in cell.items()
                                                       if k != "source"}))
        yield rel, None, False, "\n".join(answers.strings(nb["metadata"]))


def leaks(tree, reported):
    """Answer lines in ``tree`` that publish did not report as given by an earlier notebook."""
    found = []
    for rel, gid, given, text in _places(tree):
        notebook = rel.split("/")[1] if rel.startswith("notebooks/") else None
        allowed = reported.get((rel, gid), {}) if given else {}
        for line in {raw.strip() for raw in text.splitlines()} & ANSWERS.keys():
            if not any(
                kind == "SOLUTION" and a < (notebook or "") and g in allowed.get(a, {})
                for a, g, kind in ANSWERS[line]
            ):
                found.append((rel, gid, line, sorted(ANSWERS[line])))
    return found


# --------------------------------------------------------------------------- the whole course


def test_the_tree_holds_what_students_need_and_nothing_else(published):
    files = set(published.files)
    for name in ("README.md", "LICENSE", "pyproject.toml", "data/README.md", "Makefile",
                 ".gitignore", "unet_course/__init__.py", "unet_course/checks.py"):
        assert name in files, f"{name} is missing"
    notebooks = {f for f in files if f.endswith(".ipynb")}
    assert notebooks == {f"notebooks/{a}/{a}.ipynb" for a in course.assignments()}
    tops = {f.split("/")[0] for f in files}
    assert tops == {"README.md", "LICENSE", "pyproject.toml", "Makefile", ".gitignore",
                    "data", "notebooks", "unet_course"}
    assert "unet_course/_grading.py" not in files, "the grader's guard is not for students"
    assert not [f for f in files if f.endswith((".db", ".pyc")) or "gradebook" in f]
    assert "Apache License" in (published.out / "LICENSE").read_text()
    assert subprocess.run(["git", "status", "--porcelain"], cwd=published.out,
                          capture_output=True, text=True).stdout == "", "all of it is committed"


def test_no_hidden_test_and_no_unreported_solution_line_is_published(published):
    assert len(ANSWERS) > 500, "the test would read no answers"
    text = "\n".join(t for _, _, _, t in _places(published.out))
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert leaks(published.out, published.given) == []


def test_publish_names_the_answers_given_cells_make_public(published):
    public = published.public_answers()
    # notebook 03 opens with 02's double_conv, 04 with the blocks of 02 and 03 (by design)
    assert "double_conv" in public["02_encoder"]
    assert {"upsample", "crop_to_match", "decoder_block", "expanding_path"} <= set(
        public["03_decoder"]
    )
    readme = (published.out / "README.md").read_text()
    assert "## Reference answers in later notebooks" in readme
    for (file, cell), per in published.given.items():
        assert f"(cell `{cell}`)" in readme
        for assignment, ids in per.items():
            assert assignment < file.split("/")[1]
            assert all(gid in readme for gid in ids)
    said = publish.describe(published)
    assert "REFERENCE ANSWERS THAT BECOME PUBLIC" in said and "double_conv" in said


def test_an_injected_answer_line_is_found(published, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(published.out, tree, ignore=shutil.ignore_patterns(".git"))
    solution = next(k for k, v in ANSWERS.items() if ("04_unet", "build_unet", "SOLUTION") in v)
    hidden = next(k for k, v in ANSWERS.items() if any(o[2] == "HIDDEN TESTS" for o in v))
    with open(tree / "unet_course" / "plotting.py", "a") as f:
        f.write(f"\n    {solution}\n")
    path = tree / "notebooks" / "01_masks" / "01_masks.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][-1]["source"].append(f"\n{hidden}\n")
    path.write_text(json.dumps(nb))
    found = {(rel, line) for rel, _, line, _ in leaks(tree, published.given)}
    assert ("unet_course/plotting.py", solution) in found
    assert ("notebooks/01_masks/01_masks.ipynb", hidden) in found
    # publish's own guard sees them too
    _, guard = answers.scan(tree)
    assert {(f.file, f.line) for f in guard} >= found


def test_every_link_names_the_given_url(published):
    out = published.out
    for path in sorted(out.rglob("*")):
        if path.is_file() and ".git" not in path.parts:
            for slug in re.findall(r"github\.com/([\w.-]+/[\w.-]+)", path.read_text()):
                assert slug == SLUG, f"{path.relative_to(out)} links to {slug}"
    readme = (out / "README.md").read_text()
    for assignment in course.assignments():
        path = out / "notebooks" / assignment / f"{assignment}.ipynb"
        colab = sources.Repository(STUDENT_URL).colab(assignment, assignment)
        text = "\n".join(c.source for c in nbcode.read(path).cells)
        assert sources.BADGE.findall(text) == [f'<a href="{colab}">'], assignment
        assert sources.INSTALL.findall(text) == [("unet-course @ git+", f"https://github.com/{SLUG}")]
        assert readme.count(f'<a href="{colab}">') == 1, f"README: one badge for {assignment}"


def test_the_student_pyproject_is_the_helper_package_only(published):
    data = tomllib.loads((published.out / "pyproject.toml").read_text())
    assert data["tool"]["unet-course"]["student-repository"] == STUDENT_URL
    assert data["tool"]["unet-course"]["published"] == course.assignments()
    assert data["project"]["urls"]["Repository"] == STUDENT_URL
    every = json.dumps(data).lower()
    assert "nbgrader" not in every and "pytest" not in every
    assert not [r for r in data["project"]["dependencies"] if "tensorflow" in r]
    local = data["project"]["optional-dependencies"]["local"]
    assert any(r.startswith("tensorflow") for r in local)
    assert data["tool"]["setuptools"]["packages"] == ["unet_course"]


def test_pip_installs_the_published_tree_from_git(published, tmp_path):
    target = tmp_path / "site"
    spec = f"unet-course @ git+{published.out.as_uri()}"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target, spec],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "unet_course" / "checks.py").is_file()
    assert not (target / "unet_course" / "_grading.py").exists()
    code = f"import sys; sys.path.insert(0, {str(target)!r}); import unet_course.runtime as r"
    where = subprocess.run([sys.executable, "-I", "-c", f"{code}; print(r.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.strip().startswith(str(target)), where.stderr


# --------------------------------------------------------------------------- week by week


def test_week_by_week(tmp_path):
    out = tmp_path / "students"
    repo = sources.Repository(STUDENT_URL)
    first = publish.publish(out, repo, ["01_masks", "02_encoder"])
    assert first.assignments == ["01_masks", "02_encoder"] and first.given == {}
    assert leaks(out, {}) == [], "01 and 02 alone show no answer at all"
    assert "Reference answers" not in (out / "README.md").read_text()
    # a change by hand is never thrown away
    (out / "README.md").write_text("mine\n")
    with pytest.raises(publish.PublishError, match="not committed"):
        publish.publish(out, repo, ["03_decoder"])
    subprocess.run(["git", "checkout", "README.md"], cwd=out, check=True)
    with pytest.raises(publish.PublishError, match="was published for"):
        publish.publish(out, sources.Repository("https://github.com/other/place"), ["03_decoder"])
    second = publish.publish(out, repo, ["03_decoder"])
    assert second.assignments == ["01_masks", "02_encoder", "03_decoder"]
    assert second.added == ["03_decoder"]
    assert second.public_answers() == {"02_encoder": ["double_conv"]}
    assert leaks(out, second.given) == []
    log = subprocess.run(["git", "log", "--format=%s"], cwd=out, capture_output=True,
                         text=True).stdout.split("\n")
    assert log[:2] == ["Publish 03_decoder", "Publish 01_masks, 02_encoder"]
    assert publish.publish(out, repo, ["03_decoder"]).commit is None, "nothing new to commit"


# --------------------------------------------------------------------------- bad input


def _cli(capsys, *args):
    code = cli.main(["publish", *map(str, args)])
    return code, capsys.readouterr().err


def test_bad_input_is_refused_with_a_reason(tmp_path, capsys):
    code, err = _cli(capsys, tmp_path / "a", "--url", "https://gitlab.com/x/y")
    assert code == 2 and "GitHub" in err
    code, err = _cli(capsys, tmp_path / "a", "08_nothing", "--url", STUDENT_URL)
    assert code == 2 and "unknown assignment(s) 08_nothing" in err and "01_masks" in err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    code, err = _cli(capsys, tmp_path / "busy", "--url", STUDENT_URL)
    assert code == 2 and "not empty" in err
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    code, err = _cli(capsys, course.REPO / "student-copy", "--url", STUDENT_URL)
    assert code == 2 and "inside the instructor repository" in err
    assert not (course.REPO / "student-copy").exists()
    assert not (tmp_path / "a").exists()


def test_a_leak_stops_publish_before_anything_is_written(tmp_path, monkeypatch):
    line = next(k for k, v in ANSWERS.items() if ("01_masks", "to_class_ids", "SOLUTION") in v)
    stage_package = publish._stage_package

    def leaky(tree):
        stage_package(tree)
        (tree / "unet_course" / "extra.py").write_text(f"{line}\n")

    monkeypatch.setattr(publish, "_stage_package", leaky)
    with pytest.raises(publish.PublishError, match="nothing was published") as caught:
        publish.publish(tmp_path / "out", sources.Repository(STUDENT_URL), ["01_masks"])
    assert "unet_course/extra.py" in str(caught.value)
    assert not (tmp_path / "out").exists()
