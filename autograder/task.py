"""One student's grading as a self-contained task: what it needs in, what the parent merges out.

A :class:`Task` carries everything grading one student needs, as bytes: the student's
submitted files, the release (the student versions), the run's template gradebook (the
assignments' cells and points, generated once per run) and the limits. :func:`run` grades
it in a private scratch folder laid out like a course and returns a :class:`Result`: the
student's gradebook file, the staged and the autograded notebooks and the outcome (what
happened, for the report). Nothing in between reads or writes the course folder, so the
same task can run in another process (:func:`run_isolated`, what ``grade --jobs N`` does)
or on another machine without a shared file system: :func:`pack` and :func:`unpack` turn
tasks and results into zip archives (bytes) and back.

:func:`run_isolated` runs a task in a worker process (``python -m autograder grade-task``)
that dies with its parent (``PR_SET_PDEATHSIG``), as do the kernels it starts (see
:mod:`autograder._launch` and bubblewrap's ``--die-with-parent``): a grader that is killed
leaves nothing grading on. A worker that crashes or runs out of time costs only its
student (:func:`crashed`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator

from autograder import classbook, course, sandbox

TEMPLATE = "template.db"
GRADEBOOK = "gradebook.db"
LOG = "worker.log"
#: files the kernels wrote in their working folder are returned up to this size per assignment
EXTRA_FILES_LIMIT = 20 << 20


@dataclasses.dataclass
class Task:
    """Grading one student: ``files`` maps ``release/<a>/…``, ``submitted/<a>/…`` and
    ``template.db`` to their contents."""

    student: str
    assignments: list[str]
    limits: sandbox.Limits
    files: dict[str, bytes]
    hide: list[str] = dataclasses.field(default_factory=list)  # folders kernels must not see


@dataclasses.dataclass
class Result:
    """What grading one student gives back: ``files`` maps ``gradebook.db``,
    ``staged/<a>/…``, ``autograded/<a>/…`` (and ``worker.log``) to their contents."""

    student: str
    outcome: dict
    files: dict[str, bytes]


# --------------------------------------------------------------------------- building a task


def _files(folder: pathlib.Path, prefix: str) -> dict[str, bytes]:
    """Regular files under ``folder`` (symbolic links are never followed) as ``prefix/rel``."""
    found = {}
    if not folder.is_dir() or folder.is_symlink():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            path = pathlib.Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            found[f"{prefix}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return found


def shared_files(course_root: pathlib.Path, assignments: list[str]) -> dict[str, bytes]:
    """What every task of a run carries: the release and the template gradebook."""
    course_root = pathlib.Path(course_root)
    files = {TEMPLATE: (course_root / "gradebooks" / "_template.db").read_bytes()}
    for assignment in assignments:
        files.update(_files(course_root / "release" / assignment, f"release/{assignment}"))
    return files


def build(
    course_root: pathlib.Path,
    student: str,
    assignments: list[str],
    limits: sandbox.Limits,
    shared: dict[str, bytes] | None = None,
) -> Task:
    """The task of grading ``student`` (``shared``: what :func:`shared_files` gives)."""
    course_root = pathlib.Path(course_root)
    files = dict(shared if shared is not None else shared_files(course_root, assignments))
    for assignment in assignments:
        folder = course_root / "submitted" / student / assignment
        files.update(_files(folder, f"submitted/{assignment}"))
    return Task(student, list(assignments), limits, files, hide=[str(course_root.resolve())])


# --------------------------------------------------------------------------- packing


def safe_name(name: str) -> str:
    parts = pathlib.PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("..", "") for p in parts) or "\\" in name:
        raise ValueError(f"unsafe path in a grading task or result: {name!r}")
    return name


def pack(item: Task | Result) -> bytes:
    """A task or result as a zip archive: ``meta.json`` and its files under ``files/``."""
    meta = dataclasses.asdict(item)
    meta.pop("files")
    meta["kind"] = type(item).__name__
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("meta.json", json.dumps(meta))
        for name, data in sorted(item.files.items()):
            archive.writestr(f"files/{safe_name(name)}", data)
    return buffer.getvalue()


def unpack(data: bytes) -> Task | Result:
    """The task or result that :func:`pack` made of ``data``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        meta = json.loads(archive.read("meta.json"))
        files = {
            safe_name(info.filename[len("files/") :]): archive.read(info)
            for info in archive.infolist()
            if info.filename.startswith("files/") and not info.is_dir()
        }
    kind = meta.pop("kind")
    if kind == "Task":
        meta["limits"] = sandbox.Limits(**meta["limits"])
        return Task(files=files, **meta)
    return Result(files=files, **meta)


def _write_files(root: pathlib.Path, files: dict[str, bytes], mapping: dict[str, str]) -> None:
    """Write ``files`` whose name starts with a key of ``mapping`` under that key's folder."""
    for name, data in files.items():
        for prefix, folder in mapping.items():
            if name == prefix or name.startswith(prefix + "/"):
                target = root / folder / safe_name(name)[len(prefix) :].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)


# --------------------------------------------------------------------------- grading


def grading_config(course_root: pathlib.Path, student: str, limits: sandbox.Limits, hide=()):
    """nbgrader configuration for grading one student in the course-like folder ``course_root``."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor, CoalesceStreamsPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from autograder.executor import GradingExecute, StderrAsText

    root = pathlib.Path(course_root).resolve()
    # the course's folders, with the student's own gradebook instead of the class's
    directories = classbook.directories(root)
    directories["db_url"] = f"sqlite:///{root / 'gradebooks' / (student + '.db')}"
    config = course.load_config(**directories)
    # nbgrader's Execute forces its kernel manager class: ours replaces it in the list
    config.Autograde.autograde_preprocessors = [
        GradingExecute,
        # a kernel's output comes in as many pieces as it was flushed: one piece per stream
        # and cell, so the graded notebook does not depend on timing
        CoalesceStreamsPreprocessor,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        StderrAsText,  # (stderr in a test cell is text, not a failure)
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    config.CoalesceStreamsPreprocessor.enabled = True  # nbconvert's are off unless enabled
    config.GradingExecute.timeout = limits.cell_timeout
    config.GradingExecute.notebook_timeout = limits.notebook_timeout
    config.GradingExecute.output_per_cell = limits.output_per_cell
    config.GradingExecute.output_per_notebook = limits.output_per_notebook
    config.GradingExecute.max_restarts = limits.max_restarts
    config.GradingKernelManager.sandbox = limits.sandbox
    config.GradingKernelManager.memory_limit = limits.memory
    config.GradingKernelManager.file_size_limit = limits.file_size
    config.GradingKernelManager.runtime_base = limits.runtime
    config.GradingKernelManager.hidden_paths = [
        str(root),
        str(course.REPO),
        str(course.SOLUTIONS),
        *map(str, hide),
    ]
    return config


def stage(course_root: pathlib.Path, student: str, assignment: str) -> dict:
    """Read and repair one student's notebooks of ``assignment`` into ``staged/`` (see repair)."""
    import nbformat

    from autograder import repair

    root = pathlib.Path(course_root)
    folder = root / "submitted" / student / assignment
    target = root / "staged" / student / assignment
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    names = sorted(q.stem for q in (root / "release" / assignment).glob("*.ipynb"))
    notebooks, used = {}, set()
    for name in names:
        release_nb = nbformat.read(root / "release" / assignment / f"{name}.ipynb", as_version=4)
        result = repair.intake(folder, name, names, release_nb)
        if result.nb is not None:
            # repairing makes new cells with random ids: number them, so that grading the
            # same submission twice (or elsewhere) gives the same files, feedback included
            for index, cell in enumerate(result.nb.cells):
                cell["id"] = f"cell-{index:03d}"
            nbformat.write(result.nb, target / f"{name}.ipynb")
        used.add(result.file)
        notebooks[name] = result.summary()
    extra = sorted(q.name for q in folder.glob("*.ipynb") if q.name not in used)
    if extra and names:
        notebooks[names[0]]["notes"].append(
            repair.note(
                "ignored", f"not graded (not a notebook of {assignment}): " + ", ".join(extra)
            )
        )
    if (folder / "timestamp.txt").is_file():
        shutil.copyfile(folder / "timestamp.txt", target / "timestamp.txt")
    return notebooks


def grade_student(
    course_root: pathlib.Path,
    student: str,
    assignment_ids: list[str],
    limits: sandbox.Limits,
    hide=(),
) -> dict:
    """Autograde one student in the course-like folder ``course_root``; return the outcome."""
    from autograder import executor

    root = pathlib.Path(course_root)
    shutil.copyfile(root / "gradebooks" / "_template.db", root / "gradebooks" / f"{student}.db")
    api = course.api(grading_config(root, student, limits, hide))
    outcome = {"student": student, "sandbox": limits.sandbox, "assignments": {}}
    for assignment in assignment_ids:
        base = {"sandbox": limits.sandbox, "memory": limits.memory}
        if not (root / "submitted" / student / assignment).is_dir():
            outcome["assignments"][assignment] = {"submitted": False, **base}
            continue
        started = time.perf_counter()
        notebooks = stage(root, student, assignment)
        executor.EVENTS.clear()
        if any(nb["status"] == "ok" for nb in notebooks.values()):
            result = api.autograde(assignment, student, force=True, create=True)
            success, error = bool(result["success"]), result.get("error") or ""
        else:
            shutil.rmtree(root / "autograded" / student / assignment, ignore_errors=True)
            success, error = True, ""
        for (a, name), events in executor.EVENTS.items():
            if a == assignment and name in notebooks:
                notebooks[name]["events"] = events
        outcome["assignments"][assignment] = {
            "submitted": True,
            "success": success,
            "error": error,
            "seconds": round(time.perf_counter() - started, 2),
            "notebooks": notebooks,
            **base,
        }
    return outcome


def _autograded_files(folder: pathlib.Path, prefix: str, notebooks: dict) -> dict[str, bytes]:
    """The graded notebooks, and what the kernel wrote beside them up to the size limit."""
    files, used = {}, 0
    for name, data in _files(folder, prefix).items():
        keep = name.endswith(".ipynb") or name.endswith("/timestamp.txt")
        if not keep and used + len(data) > EXTRA_FILES_LIMIT:
            if notebooks:
                first = notebooks[sorted(notebooks)[0]]
                first.setdefault("notes", []).append(
                    {
                        "kind": "ignored",
                        "cell": "",
                        "text": f"not kept: {name.split('/', 2)[-1]} ({len(data):,} bytes) written "
                        f"while grading (files beside the notebooks are kept up to "
                        f"{EXTRA_FILES_LIMIT >> 20} MB)",
                    }
                )
            continue
        used += 0 if keep else len(data)
        files[name] = data
    return files


def run(task: Task) -> Result:
    """Grade ``task`` in this process, in a scratch folder of its own (removed afterwards)."""
    runtime = (
        task.limits.runtime if task.limits.runtime and os.path.isdir(task.limits.runtime) else ""
    )
    own = "" if runtime else tempfile.mkdtemp(prefix="agk-", dir=_tmp())
    runtime = runtime or own
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="t-", dir=runtime))
    try:
        (scratch / "gradebooks").mkdir()
        _write_files(
            scratch,
            task.files,
            {
                "release": "release",
                "submitted": f"submitted/{task.student}",
                TEMPLATE: "gradebooks/_template.db",
            },
        )
        limits = dataclasses.replace(task.limits, runtime=runtime)
        outcome = grade_student(scratch, task.student, task.assignments, limits, task.hide)
        files = {}
        db = scratch / "gradebooks" / f"{task.student}.db"
        if db.exists():
            files[GRADEBOOK] = db.read_bytes()
        for assignment in task.assignments:
            files.update(
                _files(scratch / "staged" / task.student / assignment, f"staged/{assignment}")
            )
            info = outcome["assignments"].get(assignment, {})
            files.update(
                _autograded_files(
                    scratch / "autograded" / task.student / assignment,
                    f"autograded/{assignment}",
                    info.get("notebooks", {}),
                )
            )
        return Result(task.student, outcome, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if own:
            shutil.rmtree(own, ignore_errors=True)


def _tmp() -> str | None:
    return "/tmp" if os.path.isdir("/tmp") else None


def crashed(task: Task, error: str, log: bytes = b"") -> Result:
    """The result of a task whose worker died or was stopped: 0 points, with the reason."""
    info = {
        "crashed": True,
        "error": error,
        "sandbox": task.limits.sandbox,
        "memory": task.limits.memory,
    }
    outcome = {
        "student": task.student,
        "crashed": True,
        "error": error,
        "sandbox": task.limits.sandbox,
        "assignments": {a: dict(info) for a in task.assignments},
    }
    return Result(task.student, outcome, {LOG: log} if log else {})


# --------------------------------------------------------------------------- in a worker process


def worker_timeout(task: Task) -> float:
    """Seconds a worker may take before it is stopped: each notebook's limit, with margin."""
    notebooks = sum(
        1 for name in task.files if name.startswith("release/") and name.endswith(".ipynb")
    )
    return 120 + max(1, notebooks) * (task.limits.notebook_timeout + 120)


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


class Stopped(RuntimeError):
    """The grader is stopping: no new worker is started."""


def allow_workers() -> None:
    """Let :func:`run_isolated` start workers again (after :func:`stop_workers`)."""
    _STOPPING.clear()


def stop_workers() -> None:
    """Kill every worker process this process started, and start no new one."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        running = list(_RUNNING)
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_isolated(task: Task, workdir: pathlib.Path | None = None) -> Result:
    """Grade ``task`` in a worker process that dies with this one; never raises for its student."""
    own = workdir is None
    workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="agw-", dir=_tmp()))
    stem = f"{task.student}-{os.getpid()}-{threading.get_ident()}"
    task_file, result_file = workdir / f"{stem}.task", workdir / f"{stem}.result"
    log_file = workdir / f"{stem}.log"
    task_file.write_bytes(pack(task))
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade-task",
        str(task_file),
        str(result_file),
        "--parent",
        str(os.getpid()),
    ]
    timeout = worker_timeout(task)
    try:
        # the worker's output goes to a file: a kernel flooding its stderr cannot fill our memory
        with open(log_file, "wb") as out, _RUNNING_LOCK:
            if _STOPPING.is_set():
                raise Stopped("the grader is stopping")
            proc = subprocess.Popen(
                cmd, cwd=course.REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            _RUNNING.add(proc)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            why = f"the grading worker was stopped after {timeout:.0f} s"
            return crashed(task, why, _tail(log_file))
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
        if proc.returncode != 0 or not result_file.exists():
            tail = _tail(log_file, 4000).decode("utf-8", "replace").strip().splitlines()[-5:]
            why = "\n".join(tail) or f"the grading worker ended with exit status {proc.returncode}"
            return crashed(task, why, _tail(log_file))
        result = unpack(result_file.read_bytes())
        if not isinstance(result, Result) or result.student != task.student:
            return crashed(task, "the grading worker returned something else than its result")
        result.files[LOG] = _tail(log_file)
        return result
    finally:
        for path in (task_file, result_file, log_file):
            path.unlink(missing_ok=True)
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def run_local(
    make_task: Callable[[str], Task],
    students: list[str],
    jobs: int = 1,
    workdir: pathlib.Path | None = None,
) -> Iterator[Result]:
    """Grade ``make_task(student)`` for each student, ``jobs`` at a time, each in a worker
    process (:func:`run_isolated`); yield the results as they come in.

    This is what ``grade --jobs N`` runs; another runner with the same signature (a Dask
    cluster, say) can take its place (``grade.grade(runner=...)``). Closing the generator
    early, or an exception while it waits (Ctrl-C), stops every worker. The threads that
    wait for the workers are daemons and the results come through a queue whose ``get``
    can be interrupted safely, so a stopped grader never waits for a thread.
    """
    allow_workers()
    todo: queue.SimpleQueue = queue.SimpleQueue()
    done: queue.SimpleQueue = queue.SimpleQueue()
    for student in students:
        todo.put(student)

    def work() -> None:
        while not _STOPPING.is_set():
            try:
                student = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((True, run_isolated(make_task(student), workdir)))
            except BaseException as error:  # noqa: BLE001 (handed to the consumer)
                done.put((False, error))
                return

    threads = [
        threading.Thread(target=work, name=f"grading-{n}", daemon=True)
        for n in range(max(1, min(jobs, len(students))))
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in students:
            ok, value = done.get()
            if not ok:
                raise value
            yield value
    except BaseException:
        stop_workers()
        raise
    for thread in threads:
        thread.join()


def _tail(path: pathlib.Path, size: int = 1 << 20) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - size))
            return fh.read()
    except OSError:
        return b""


def worker_main(task_file: str, result_file: str, parent: int) -> int:
    """``python -m autograder grade-task``: grade one packed task, write the packed result."""
    from autograder import _launch

    _launch.die_with_parent()
    if parent and os.getppid() != parent:  # the parent died before we could ask to die with it
        return 1
    task = unpack(pathlib.Path(task_file).read_bytes())
    if not isinstance(task, Task):
        raise SystemExit(f"{task_file} is not a grading task")
    result = run(task)
    tmp = pathlib.Path(result_file + ".tmp")
    tmp.write_bytes(pack(result))
    tmp.replace(result_file)
    return 0
