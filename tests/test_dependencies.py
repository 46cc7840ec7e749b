"""pyproject.toml and environment.yml list the same packages; Colab never gets a TensorFlow."""

import pathlib
import re

import tomllib
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _normal(requirement: str) -> str:
    requirement = requirement.split(";")[0].replace(" ", "")
    name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower() + requirement[len(name):]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_environment_yml_lists_exactly_the_pyproject_packages():
    project = _pyproject()
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["course"] + [
        r for r in extras["dev"] if not r.startswith("unet-course")
    ]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = [r for r in pip_section if not r.startswith("-e")]
    assert sorted(map(_normal, listed)) == sorted(map(_normal, wanted)), (
        "environment.yml and pyproject.toml disagree; keep both lists equal"
    )
    assert "-e ." in pip_section, "environment.yml must install the course package itself"


def test_helper_package_never_pulls_tensorflow_into_colab():
    base = [_normal(r) for r in _pyproject()["dependencies"]]
    heavy = [r for r in base if r.startswith(("tensorflow", "keras", "tf-", "jax", "torch"))]
    assert not heavy, f"the Colab install (base dependencies) must not list {heavy}"
