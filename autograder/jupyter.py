"""JupyterLab for students (``make lab``) and formgrader for instructors (``make formgrader``).

Both run the Jupyter of the course's environment with that environment's ``bin/`` first
on ``PATH`` (nbgrader runs the ``alembic`` command of its environment to open a gradebook;
without it formgrader's pages answer HTTP 500).

* ``lab``: JupyterLab on ``notebooks/`` for students, with nbgrader's instructor parts
  (formgrader, the assignment and course lists, the create-assignment toolbar) switched
  off by the configuration in ``autograder/student_lab/`` (``JUPYTER_CONFIG_PATH``), so
  nothing opens a gradebook in the repository; checkpoints are kept outside the
  repository. The *Validate* button stays.
* ``formgrader``: JupyterLab in a graded course folder, started there so that nbgrader
  reads the course's ``nbgrader_config.py`` (written by ``grade``), opening formgrader.
"""

from __future__ import annotations

import os
import pathlib
import sys

from autograder import classbook, course

STUDENT_CONFIG = pathlib.Path(__file__).resolve().with_name("student_lab")


def environment(config_path: pathlib.Path | None = None) -> dict[str, str]:
    """This process's environment with the environment's ``bin/`` first on ``PATH``."""
    env = dict(os.environ)
    bin_dir = str(pathlib.Path(sys.executable).parent)
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    env["PATH"] = os.pathsep.join([bin_dir, *parts])
    if config_path is not None:
        extra = env.get("JUPYTER_CONFIG_PATH", "")
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(config_path), extra) if p)
    return env


def _server_args(port: int | None, ip: str | None, token: str | None, browser: bool) -> list[str]:
    args = []
    if port is not None:
        args += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if ip is not None:
        args.append(f"--ServerApp.ip={ip}")
    if token is not None:
        args.append(f"--IdentityProvider.token={token}")
    if not browser:
        args.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI run as root
    return args


def _jupyter() -> str:
    return str(pathlib.Path(sys.executable).with_name("jupyter"))


def lab_command(
    port: int | None = None, ip: str | None = None, token: str | None = None, browser: bool = True
) -> tuple[list[str], pathlib.Path, dict[str, str]]:
    """``(command, working folder, environment)`` of JupyterLab for students."""
    checkpoints = pathlib.Path.home() / ".cache" / "unet-course" / "checkpoints"
    cmd = [
        _jupyter(),
        "lab",
        f"--ServerApp.root_dir={course.NOTEBOOKS}",
        f"--FileCheckpoints.root_dir={checkpoints}",
        *_server_args(port, ip, token, browser),
    ]
    return cmd, course.NOTEBOOKS, environment(STUDENT_CONFIG)


def formgrader_command(
    course_root: pathlib.Path,
    port: int | None = None,
    ip: str | None = None,
    token: str | None = None,
    browser: bool = True,
) -> tuple[list[str], pathlib.Path, dict[str, str]]:
    """``(command, working folder, environment)`` of formgrader on a graded course."""
    root = pathlib.Path(course_root).resolve()
    if not classbook.path(root).exists():
        raise FileNotFoundError(
            f"{root} has no class gradebook ({classbook.CLASS_DB}): grade the course first "
            f"(python -m autograder grade --course {root}, or make demo)"
        )
    classbook.write_config(root)  # the repository may have moved since the course was graded
    cmd = [
        _jupyter(),
        "lab",
        f"--ServerApp.root_dir={root}",
        "--LabApp.default_url=/formgrader",
        *_server_args(port, ip, token, browser),
    ]
    return cmd, root, environment()


def shell_command(course_root: pathlib.Path) -> str:
    """The command an instructor types to open formgrader on ``course_root``."""
    root = pathlib.Path(course_root).resolve()
    default = (course.BUILD / "demo").resolve()
    where = "" if root == default else f" COURSE={root}"
    return f"make -C {course.REPO} formgrader{where}"


def run(cmd: list[str], cwd: pathlib.Path, env: dict[str, str]) -> int:
    """Replace this process with ``cmd`` (Ctrl-C then stops Jupyter as usual)."""
    os.chdir(cwd)
    sys.stdout.flush()
    os.execve(cmd[0], cmd, env)
    return 0  # not reached
