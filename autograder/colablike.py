"""A Colab-like runtime on this machine, for running notebooks as a student on Colab would.

* **The image**: a virtual environment (``build/colab/venv``) with only the packages
  Colab preinstalls that the course uses (:data:`COLAB_PACKAGES`), at the versions of the
  course's own environment (so pip's cache serves them), created once and reused while
  those requirements stay the same; a fake ``google.colab`` package, which the kernel
  imports at start as Colab's does; matplotlib's font cache built in advance.
* **A fresh runtime per notebook**: the image as it was made (what the last setup cell
  installed is uninstalled first; runs take turns), an empty folder with the notebook
  alone, and a fresh home whose ``~/tensorflow_datasets/downloads`` holds the archives of
  Oxford-IIIT Pet as tfds keeps what it downloaded, made of the offline stand-in
  (:func:`ensure_pets_download`); tfds extracts and prepares them there itself.
* **No network**: a git configuration sends the notebook's ``https://github.com/ORG/REPO``
  to a local published repository (``url.<local>.insteadOf``), so the setup cell's
  unchanged ``%pip install … git+https://github.com/…`` line really runs; pip has no
  index and finds only :data:`LOCAL_WHEELS` in a local folder (setuptools to build the
  helper, importlib_resources for the setup cell), so nothing else, and no second
  TensorFlow, can be installed.
* **A small budget**: ``UNET_COURSE_BUDGET=graded`` (:mod:`unet_course.runtime`) makes
  training as short as in grading while the notebook still takes Colab's data path
  (``NBGRADER_EXECUTION`` would also switch the data to the offline stand-in).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder import course, nbcode, sources

ROOT = course.BUILD / "colab"
#: What Colab preinstalls that the course uses (nothing else is installed by hand).
COLAB_PACKAGES = (
    "tensorflow",
    "keras",
    "tensorflow-datasets",
    "matplotlib",
    "numpy",
    "imageio",
    "pillow",
    "ipykernel",
)
#: All pip can find while a notebook runs: the helper's build backend, and what the setup
#: cell installs when it is missing (the version of the course's environment).
LOCAL_WHEELS = ("setuptools>=77", "importlib_resources")
FAKE_COLAB = '''"""A stand-in for Colab's google.colab package (the course's Colab-like runtime).

Colab's kernel imports google.colab when it starts; notebooks tell Colab by it.
"""
'''


class ColabLikeError(RuntimeError):
    """The Colab-like environment could not be made (the message says what failed)."""


def _pins(names) -> list[str]:
    return [f"{name}=={importlib.metadata.version(name)}" for name in names]


def requirements() -> tuple[list[str], list[str], list[str]]:
    """(packages, constraints, local wheels): pinned to the course environment's versions."""
    own = {"unet-course"}
    constraints = sorted(
        {
            f"{d.metadata['Name']}=={d.version}"
            for d in importlib.metadata.distributions()
            if d.metadata["Name"] and d.metadata["Name"].lower() not in own
            and d.metadata["Name"].lower() != "setuptools"
        },
        key=str.lower,
    )
    wheels = [LOCAL_WHEELS[0], *_pins(LOCAL_WHEELS[1:])]
    return _pins(COLAB_PACKAGES), constraints, wheels


@dataclasses.dataclass
class Environment:
    root: pathlib.Path
    created_in: float | None  # seconds it took to create; None: reused

    @property
    def venv(self) -> pathlib.Path:
        return self.root / "venv"

    @property
    def python(self) -> pathlib.Path:
        return self.venv / "bin" / "python"

    @property
    def wheels(self) -> pathlib.Path:
        return self.root / "wheels"

    @property
    def fake(self) -> pathlib.Path:
        return self.root / "fake-colab"

    @property
    def mplconfig(self) -> pathlib.Path:
        return self.root / "matplotlib"

    @property
    def tfds(self) -> pathlib.Path:
        """What each run's ``~/tensorflow_datasets`` starts with (:func:`ensure_pets_download`)."""
        return self.root / "tensorflow_datasets"

    def installed(self) -> dict[str, str]:
        """``{distribution name: version}`` of the image."""
        return installed(self.python)

    def base(self) -> dict[str, str]:
        """What the image held when it was made (no run may change it)."""
        return json.loads((self.root / "base.json").read_text())

    def reset(self) -> list[str]:
        """Uninstall what a setup cell (or anybody) added to the image; return what it was."""
        extra = sorted(set(self.installed()) - set(self.base()))
        if extra:
            _run([self.python, "-I", "-m", "pip", "uninstall", "--quiet", "--yes", *extra])
        return extra


def _ask(python: pathlib.Path, code: str) -> str:
    done = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise ColabLikeError(f"{python} -c ... failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def installed(python: pathlib.Path) -> dict[str, str]:
    """``{distribution name: version}`` of the environment of ``python``."""
    return json.loads(_ask(python, (
        "import importlib.metadata as m, json; print(json.dumps("
        "{d.metadata['Name']: d.version for d in m.distributions()}))"
    )))


def helper_origin(python: pathlib.Path) -> str | None:
    """Where pip installed unet-course from (its direct_url.json), or None."""
    text = _ask(python, (
        "import importlib.metadata as m\n"
        "try: print(m.distribution('unet-course').read_text('direct_url.json') or '')\n"
        "except m.PackageNotFoundError: print('')"
    ))
    return json.loads(text).get("url") if text else None


def _run(cmd, **kw) -> None:
    kw.setdefault("cwd", tempfile.gettempdir())  # (not a folder with a package in it)
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if done.returncode:
        raise ColabLikeError(
            f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n"
            f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )


def _key() -> str:
    packages, constraints, wheels = requirements()
    text = "\n".join([sys.version, *packages, "--", *constraints, "--", *wheels, FAKE_COLAB])
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_environment(root: pathlib.Path = ROOT) -> Environment:
    """The Colab-like environment under ``root``: reused, or created (a few minutes)."""
    env = Environment(root, None)
    stamp = root / "requirements.sha256"
    key = _key()
    if stamp.is_file() and stamp.read_text() == key and env.python.exists():
        env.reset()  # (what the last run's setup cell installed)
        if env.installed() == env.base():
            return env  # (else changed by hand since it was made: make it again)
    started = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    packages, constraints, wheels = requirements()
    (root / "requirements.txt").write_text("\n".join(packages) + "\n")
    (root / "constraints.txt").write_text("\n".join(constraints) + "\n")
    _run([sys.executable, "-m", "venv", env.venv])
    pip = [env.python, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "install", "-r", root / "requirements.txt", "-c", root / "constraints.txt"])
    _run([*pip, "download", "--only-binary=:all:", "--no-deps", "-d", env.wheels, *wheels])
    (env.fake / "google" / "colab").mkdir(parents=True)
    (env.fake / "google" / "colab" / "__init__.py").write_text(FAKE_COLAB)
    # matplotlib's font cache comes with Colab's image; build it once here
    _run(
        [env.python, "-c", "import matplotlib.pyplot"],
        env={**_base_env(env, root), "MPLBACKEND": "Agg"},
    )
    (root / "base.json").write_text(json.dumps(env.installed(), indent=1, sort_keys=True))
    stamp.write_text(key)
    env.created_in = time.perf_counter() - started
    return env


def ensure_pets_download(env: Environment) -> pathlib.Path:
    """Oxford-IIIT Pet as tfds keeps it once downloaded, made of the offline stand-in.

    The stand-in's raw folders packed as the two archives of the real data set
    (``images.tar.gz``, ``annotations.tar.gz``), under the names and with the ``.INFO``
    files tfds' download manager gives its downloads, in ``<data_dir>/downloads``. So on
    the first ``tfds.load('oxford_iiit_pet')`` of a run tfds skips only the transfer: it
    finds the archives "already downloaded" and extracts and prepares the data set with
    its own builder, as it does on a fresh Colab runtime (checksum registry included, which
    needs importlib_resources). Made once, in the course's environment.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import resource

    from unet_course import standin

    raw = standin.ensure_oxford_standin()
    marker = (raw / standin.MARKER_NAME).read_text()
    stamp = env.tfds / "downloads" / standin.MARKER_NAME
    if stamp.is_file() and stamp.read_text() == marker:
        return env.tfds
    shutil.rmtree(env.tfds, ignore_errors=True)
    name = "oxford_iiit_pet"
    target = env.tfds / "downloads" / name
    target.mkdir(parents=True)
    for url, info in tfds.builder_cls(name).url_infos.items():
        original = url.rsplit("/", 1)[-1]  # images.tar.gz, annotations.tar.gz
        path = target / resource.get_dl_fname(url, info.checksum)
        with tarfile.open(path, "w:gz") as archive:
            archive.add(raw / original.split(".")[0], arcname=original.split(".")[0])
        resource.write_info_file(url, path, name, original, info)
    stamp.write_text(marker)
    return env.tfds


# --------------------------------------------------------------------------- runs


def _base_env(env: Environment, home: pathlib.Path) -> dict[str, str]:
    return {
        "PATH": os.pathsep.join([str(env.venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "MPLCONFIGDIR": str(env.mplconfig),
    }


@dataclasses.dataclass
class Run:
    notebook: nbformat.NotebookNode
    seconds: float
    error: dict | None  # {"cell", "grade_id", "ename", "evalue"} of the cell that stopped it
    installed: list[str]  # what the setup cell installed (distribution names)
    changed: list[str]  # packages of the image it removed or replaced (must be none)
    helper_from: str | None  # the URL pip installed unet-course from

    def cell(self, grade_id: str):
        return next(c for c in self.notebook.cells if nbcode.grade_id(c) == grade_id)

    def stderr(self, grade_id: str) -> str:
        """What a cell printed on stderr (red in Colab)."""
        outputs = self.cell(grade_id).get("outputs", [])
        return "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")

    def cell_seconds(self, grade_id: str) -> float | None:
        """How long a cell ran (nbclient's timing), or None if it did not run."""
        execution = self.cell(grade_id).metadata.get("execution", {})
        timing = [execution.get("iopub.execute_input"), execution.get("shell.execute_reply")]
        if not all(timing):
            return None
        start, end = (datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in timing)
        return (end - start).total_seconds()


def solution_copy(assignment: str, url: str, folder: pathlib.Path) -> pathlib.Path:
    """The solution notebook in ``folder``, its links pointing at ``url`` as published ones do."""
    path = course.SOLUTIONS / assignment / f"{assignment}.ipynb"
    nb = nbcode.read(path)
    sources.apply_links(nb, sources.Repository(url), assignment, path.stem)
    copy = folder / path.name
    nbformat.write(nb, copy)
    return copy


def _kernel(python: pathlib.Path, where: pathlib.Path) -> KernelManager:
    kernels = where / "kernels" / "colab-like"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(where / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name="colab-like", kernel_spec_manager=specs)


def _first_error(nb) -> dict | None:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                return {"cell": index, "grade_id": grade_id, "ename": out["ename"],
                        "evalue": out["evalue"]}
    return None


def run(
    env: Environment,
    notebook: pathlib.Path,
    published: pathlib.Path,
    url: str,
    timeout: int = 900,
) -> Run:
    """Run ``notebook`` in a fresh Colab-like runtime until it ends or a cell fails.

    ``published`` is a local git repository that stands for ``url`` (the GitHub
    repository the notebook's install line names).
    """
    env.reset()
    python = env.python
    with tempfile.TemporaryDirectory(prefix="colab-like-") as tmp:
        where = pathlib.Path(tmp)
        folder, home = where / "content", where / "root"
        folder.mkdir()
        shutil.copyfile(notebook, folder / notebook.name)
        startup = home / ".ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernel does\n")
        shutil.copytree(env.tfds, home / "tensorflow_datasets", symlinks=True)
        (where / "tmp").mkdir()
        gitconfig = where / "gitconfig"
        gitconfig.write_text(f'[url "{published.resolve().as_uri()}"]\n\tinsteadOf = {url}\n')
        kernel_env = {
            **_base_env(env, home),
            "TMPDIR": str(where / "tmp"),
            "PYTHONPATH": str(env.fake),
            "COLAB_RELEASE_TAG": "colab-like",
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(env.wheels),
            "UNET_COURSE_BUDGET": "graded",
        }
        nb = nbformat.read(folder / notebook.name, as_version=4)
        client = NotebookClient(
            nb,
            km=_kernel(python, where),
            timeout=timeout,
            allow_errors=False,
            record_timing=True,
            resources={"metadata": {"path": str(folder)}},
        )
        started = time.perf_counter()
        try:
            client.execute(env=kernel_env)
        except CellExecutionError:
            pass  # the cell's error output says what went wrong
        seconds = time.perf_counter() - started
        after, origin = installed(python), helper_origin(python)
    base = env.base()
    added = sorted(set(after) - set(base))
    changed = sorted(name for name, version in base.items() if after.get(name) != version)
    return Run(nb, seconds, _first_error(nb), added, changed, origin)
