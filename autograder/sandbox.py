"""The sandbox around student code: limits for every kernel, bubblewrap around it when present.

Every kernel the grader starts runs behind ``_launch.py``, which sets an address-space
limit (``memory_limit``) and a file-size limit and kills the kernel if its grading
worker dies. With the sandbox on, the kernel also runs inside ``bwrap`` (bubblewrap):

* no network: a network namespace of its own (``--unshare-net``), so the kernel talks to
  the grader over Jupyter's IPC transport (socket files in a private folder bind-mounted
  into the sandbox) instead of TCP;
* a file system of its own: the Python environment, the ``unet_course`` package and the
  stand-in data read-only, a private ``/tmp`` and home, and the student's own working
  folder (``autograded/<student>/<assignment>/``) as the only writable place. The
  repository (``solutions/``, ``.git``), the course folder (gradebooks, other students'
  submissions and graded notebooks) and everything else are simply not there;
* its own process, IPC and host-name namespaces, no capabilities, a clean environment.

See ``autograder/SANDBOX.md`` for what this protects against and what it does not.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Int, List, Unicode

from autograder import course

GiB = 1 << 30
MiB = 1 << 20
MODES = ("auto", "on", "off")
LAUNCH = pathlib.Path(__file__).with_name("_launch.py")

# What the kernel may see of /etc: enough for the dynamic linker, user and time-zone look-ups.
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "localtime",
    "timezone",
    "alternatives",
    "fonts",
    "mime.types",
    "ssl",
    "os-release",
)
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
# Environment variables a kernel keeps (prefixes end in "_"); everything else is dropped.
ENV_KEEP = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "LC_",
    "TF_",
    "KERAS_",
    "NBGRADER_",
    "UNET_COURSE_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "MPLBACKEND",
    "PYTHONHASHSEED",
    "CUDA_VISIBLE_DEVICES",
)


@dataclasses.dataclass(frozen=True)
class Limits:
    """How student code is run while grading; the defaults are the production settings."""

    sandbox: bool = True
    memory: int = 6 * GiB  # address space of a kernel (RLIMIT_AS)
    cell_timeout: int = 180  # seconds per cell, then the cell is interrupted
    notebook_timeout: int = 900  # seconds of execution per notebook, then the kernel is stopped
    file_size: int = 1 * GiB  # largest file a kernel may write
    output_per_cell: int = 2 * MiB  # characters of output kept per cell
    output_per_notebook: int = 20 * MiB  # ... and per notebook
    max_restarts: int = 5  # kernel deaths a notebook may survive (each restarts and replays)
    runtime: str = ""  # folder for the kernels' private folders (grade() makes one per run)
    # (a grading task carries these limits to its worker: autograder.task)


# --------------------------------------------------------------------------- is bwrap usable


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=1)
def probe() -> str | None:
    """``None`` when bubblewrap works here with the options the sandbox uses, else why not."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    cmd = [
        bwrap,
        *_namespaces(),
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--",
        sys.executable,
        "-I",
        "-S",
        "-c",
        "pass",
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be run: {exc}"
    if done.returncode != 0:
        return "bwrap does not work here: " + (done.stderr.strip() or f"exit {done.returncode}")
    return None


_warned = False


def resolve(mode: str) -> bool:
    """Whether to use the sandbox for ``--sandbox mode`` (auto: when bwrap works, warning once)."""
    if mode not in MODES:
        raise ValueError(f"--sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return False
    problem = probe()
    if problem is None:
        return True
    if mode == "on":
        raise RuntimeError(f"--sandbox on, but {problem}. Install bubblewrap (make sandbox-tools).")
    warn_unsandboxed(problem)
    return False


def warn_unsandboxed(problem: str) -> None:
    """The loud warning (once per process) that student code will run without the sandbox."""
    global _warned
    if not _warned:
        _warned = True
        bar = "!" * 78
        print(
            f"{bar}\nWARNING: {problem}.\nStudent code will run WITHOUT the sandbox: it can read "
            "the solutions, the gradebooks and other\nstudents' files, and use the network. "
            "Install bubblewrap (`make sandbox-tools`) before\ngrading real submissions, or pass "
            f"--sandbox off to silence this warning.\n{bar}",
            file=sys.stderr,
            flush=True,
        )


# --------------------------------------------------------------------------- the bwrap command


def _namespaces() -> list[str]:
    args = [
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--hostname",
        "sandbox",
        "--unsetenv",
        "JPY_PARENT_PID",
    ]
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]
    return args


@functools.lru_cache(maxsize=1)
def _bwrap_supports_size() -> bool:
    try:
        help_text = subprocess.run(
            [bwrap_path() or "bwrap", "--help"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--size" in help_text


def _inside(path: pathlib.Path, folder: pathlib.Path) -> bool:
    return path == folder or folder in path.parents


def readable_paths() -> list[pathlib.Path]:
    """What student code may read besides the system: Python, the helper package, the data."""
    import importlib.util

    prefixes = {pathlib.Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    candidates = prefixes | {pathlib.Path(p).resolve() for p in sys.path if p and os.path.isdir(p)}
    keep = set()
    for path in candidates:
        in_prefix = any(_inside(path, prefix) for prefix in prefixes)
        if _inside(course.REPO, path) and path not in prefixes:
            continue  # the repository itself, or a folder holding it
        if _inside(path, course.REPO) and not in_prefix:
            continue  # e.g. the repository on sys.path: only its package and data, below
        keep.add(path)
    spec = importlib.util.find_spec("unet_course")
    keep |= {pathlib.Path(p).resolve() for p in (spec.submodule_search_locations or [])}
    data = _standin_root()
    if data.is_dir():
        keep.add(data)
    return sorted(keep)


def bwrap_command(
    cwd: pathlib.Path,
    rundir: pathlib.Path,
    hidden: list[pathlib.Path],
    tmpfs_size: int = 512 * MiB,
) -> list[str]:
    """The ``bwrap …`` prefix for a kernel working in ``cwd`` and talking through ``rundir``.

    ``hidden``: folders that must stay invisible even when a readable folder contains them
    (the repository, the course folder); they are covered with empty file systems.
    """
    ops: list[tuple[pathlib.Path, int, list[str]]] = []

    def add(path, order, *args):
        ops.append((pathlib.Path(path), order, list(args)))

    sized = ["--size", str(tmpfs_size)] if _bwrap_supports_size() else []
    bound: list[pathlib.Path] = []
    for name in SYSTEM:
        p = pathlib.Path(name)
        if p.is_symlink():
            add(p, 0, "--symlink", os.readlink(p), str(p))
        elif p.is_dir():
            bound.append(p)
    bound += [pathlib.Path("/etc") / name for name in ETC if (pathlib.Path("/etc") / name).exists()]
    add("/tmp", 0, *sized, "--tmpfs", "/tmp")
    bound += readable_paths()
    for p in bound:
        add(p, 1, "--ro-bind", str(p), str(p))
    for p in hidden:
        p = p.resolve()
        if any(_inside(p, r.resolve()) for r in bound):  # a readable folder holds it: cover it
            add(p, 2, "--tmpfs", str(p))
    for p in (rundir, cwd):
        add(p, 3, "--bind", str(p), str(p))
    # parents before children; at one path: symlinks and tmpfs, then binds, then covers
    ops.sort(key=lambda op: (len(op[0].parts), op[1], str(op[0])))
    args = [bwrap_path() or "bwrap", *_namespaces()]
    for _, _, op in ops:
        args += op
    args += [
        "--dev",
        "/dev",
        *sized,
        "--tmpfs",
        "/dev/shm",
        "--proc",
        "/proc",
        "--chdir",
        str(cwd),
        "--",
    ]
    return args


def kernel_env(env: dict[str, str], rundir: pathlib.Path, sandboxed: bool) -> dict[str, str]:
    """The environment of a kernel: only what notebooks need (no tokens or keys of the grader).

    Home and temporary files in the kernel's private folder ``rundir``.
    """
    kept = {
        k: v
        for k, v in env.items()
        if any(k == p or (p.endswith("_") and k.startswith(p)) for p in ENV_KEEP)
    }
    kept.setdefault("LANG", "C.UTF-8")
    kept["MALLOC_ARENA_MAX"] = "2"  # glibc arenas reserve address space per thread
    kept["PYTHONDONTWRITEBYTECODE"] = "1"
    kept["MPLBACKEND"] = "Agg"
    kept["UNET_COURSE_DATA"] = env.get("UNET_COURSE_DATA") or str(_standin_root())
    kept.pop("JPY_PARENT_PID", None)
    home = rundir / "home"
    kept["HOME"] = str(home)
    kept["MPLCONFIGDIR"] = str(home / ".config" / "matplotlib")
    kept["TMPDIR"] = "/tmp" if sandboxed else str(rundir / "tmp")
    if sandboxed:
        kept["PATH"] = os.pathsep.join(
            [str(pathlib.Path(sys.executable).parent), "/usr/bin", "/bin"]
        )
    return kept


def _standin_root() -> pathlib.Path:
    from unet_course import standin

    return standin.standin_root().resolve()


def _warm_matplotlib(target: pathlib.Path) -> None:
    """Give a sandboxed kernel matplotlib's font cache, so it does not rebuild it (seconds)."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        for f in pathlib.Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copyfile(f, target / f.name)
    except Exception:  # only a speed-up
        pass


# --------------------------------------------------------------------------- the kernel manager


class GradingKernelManager(AsyncKernelManager):
    """A kernel manager that starts kernels behind ``_launch.py`` limits, in bwrap if asked."""

    sandbox = Bool(False, help="run the kernel in bubblewrap").tag(config=True)
    memory_limit = Int(6 * GiB, help="address-space limit of the kernel, bytes (0: none)").tag(
        config=True
    )
    file_size_limit = Int(1 * GiB, help="largest file the kernel may write, bytes").tag(config=True)
    hidden_paths = List(Unicode(), help="folders student code must not see").tag(config=True)
    runtime_base = Unicode("", help="where sandboxed kernels get their private folders").tag(
        config=True
    )

    _rundir: pathlib.Path | None = None

    def _launcher(self) -> list[str]:
        cmd = [sys.executable, "-I", "-S", str(LAUNCH), "--core", "0", "--pdeathsig"]
        if self.memory_limit:
            cmd += ["--as", str(self.memory_limit)]
        if self.file_size_limit:
            cmd += ["--fsize", str(self.file_size_limit)]
        if self.sandbox:
            cmd += ["--ignore-sigint"]  # SIGINT is for the kernel inside, not for bwrap
        return cmd + ["--"]

    async def _async_pre_start_kernel(self, **kw):
        # every kernel gets a private folder: its home and temporary files (so that parallel
        # kernels never write the same file, also without the sandbox) and, in the sandbox,
        # the IPC sockets it talks through
        base = self.runtime_base or ("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir())
        prefix = "k-" if self.runtime_base else "agk-"
        self._rundir = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        (self._rundir / "tmp").mkdir()
        _warm_matplotlib(self._rundir / "home" / ".config" / "matplotlib")
        if self.sandbox:
            self.transport = "ipc"
            self.ip = str(self._rundir / "k")
            self.connection_file = str(self._rundir / "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if not self.sandbox:
            return self._launcher() + cmd
        cwd = pathlib.Path(self._launch_args.get("cwd") or os.getcwd()).resolve()
        hidden = [pathlib.Path(p) for p in self.hidden_paths] + [course.REPO]
        assert self._rundir is not None
        return self._launcher() + bwrap_command(cwd, self._rundir, hidden) + cmd

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        assert self._rundir is not None
        kw["env"] = kernel_env(kw.get("env") or dict(os.environ), self._rundir, self.sandbox)
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._rundir is not None and not restart:
            shutil.rmtree(self._rundir, ignore_errors=True)
            self._rundir = None

    cleanup_resources = _async_cleanup_resources

    def exit_status(self) -> int | None:
        """How the kernel process ended: exit code, or minus the signal (None: running)."""
        process = getattr(self.provisioner, "process", None)
        return None if process is None else process.poll()
