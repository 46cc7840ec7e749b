"""``grade --cluster ADDRESS`` and ``--cluster local:N``: one Dask task per student.

The grader stays where the course is: it builds each student's task (:mod:`autograder.task`,
the student's files, the release, the template gradebook and the limits, all as bytes),
sends it to a Dask cluster (`distributed`_), and merges each result that comes back into
the course exactly as ``--jobs N`` does. The cluster's machines share no file system with
the grader; each needs the course's checkout and environment (the same version as the
grader's, checked) and bubblewrap for the sandbox (checked on every worker before any
student is graded).

On a worker, a task is graded the way ``--jobs N`` grades it: in a grading process of its
own (:func:`autograder.task.run_isolated`) that dies with the worker, so a worker killed
while grading leaves nothing running. Dask hands the tasks of a worker that died to the
others; a student whose task failed on every try (Dask's ``retries`` for errors, the
scheduler's ``allowed-failures`` for workers that died under it) gets zero with the reason,
and the batch goes on. Every result is recorded once, whatever Dask ran twice.

.. _distributed: https://distributed.dask.org
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator

from autograder import course, sandbox, task

#: seconds to wait for the scheduler to answer before saying it cannot be reached
CONNECT_TIMEOUT = 5
#: seconds to wait for a first worker when the scheduler has none
WORKER_WAIT = 30
#: times a task that raised is tried again (a worker that died is the scheduler's business:
#: its ``distributed.scheduler.allowed-failures``, 3 by default)
RETRIES = 2


class ClusterError(RuntimeError):
    """The cluster cannot grade (the message says what to do); nothing was graded."""


# --------------------------------------------------------------------------- on a worker


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """What the grading depends on, on this machine: the tool, the helper package, nbgrader."""
    import nbgrader

    digest = hashlib.sha256(f"nbgrader {nbgrader.__version__}\n".encode())
    for package in ("autograder", "unet_course"):
        for path in sorted((course.REPO / package).rglob("*.py")):
            digest.update(f"\n{path.relative_to(course.REPO).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_worker() -> dict:
    """Run on every worker before grading: the stand-in data, the sandbox, the code version."""
    from autograder import grade

    grade.ensure_data()
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "sandbox": sandbox.probe(),  # None: bubblewrap works here
        "code": code_digest(),
        "python": sys.executable,
    }


def grade_on_worker(packed: bytes) -> dict:
    """The Dask task: grade one packed task in a grading process; the packed result."""
    from distributed import get_worker

    item = task.unpack(packed)
    if not isinstance(item, task.Task):
        raise TypeError("a grading task was expected")
    worker = get_worker()
    address = worker.address
    if item.limits.sandbox and sandbox.probe() is not None:
        # a worker that joined after the check: never grade without the sandbox asked for
        raise ClusterError(f"worker {address}: {sandbox.probe()} (the sandbox is on)")
    started = time.time()
    result = task.run_isolated(item)
    return {
        "result": task.pack(result),
        "worker": address,
        "name": str(worker.name),
        "pid": os.getpid(),
        "started": started,
        "finished": time.time(),
    }


def task_function() -> Callable:
    """The function a Dask task runs: ``f(packed)`` grades, ``f(None)`` answers a ping.

    A nested function is pickled by value, and it imports the course's code only when it
    runs: the scheduler, which reads every task, needs Dask but not the course.
    """

    def grade_student(packed: bytes | None) -> dict:
        from autograder import cluster

        return cluster.grade_on_worker(packed) if packed is not None else {"ping": True}

    return grade_student


# --------------------------------------------------------------------------- the grader's side


def clock(t: float) -> str:
    """``t`` (seconds since the epoch) as the local time of day, to a tenth of a second."""
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 10) % 10}"


def _describe(error: BaseException) -> str:
    name = type(error).__name__
    if name == "KilledWorker":
        return (
            "the Dask workers grading this student died every time it was tried "
            f"(KilledWorker: {error})"
        )
    return f"grading on the cluster failed on every try: {name}: {error}"


@dataclasses.dataclass
class Attempt:
    """When and where a student's result was graded (for the log and the tests)."""

    student: str
    worker: str
    name: str
    pid: int
    started: float
    finished: float
    received: float
    error: str = ""


class DaskRunner:
    """A runner for :func:`autograder.grade.grade` on a Dask cluster (see :func:`connect`).

    ``runner(make_task, students, jobs)`` submits one task per student (``jobs`` is
    ignored: the cluster's workers say how many run at once) and yields the results as
    they come in. ``work`` is the function the workers run (default
    :func:`grade_on_worker`). ``log``: where a line per student goes (None: nowhere).
    """

    def __init__(self, client, address: str, workers: dict, sandbox_on: bool, log=sys.stderr):
        self.client = client
        self.address = address
        self.workers = workers
        self.sandbox_on = sandbox_on
        self.log = log
        self.work: Callable[[bytes], dict] = task_function()
        self.retries = RETRIES
        self.attempts: list[Attempt] = []

    def resolve_sandbox(self, mode: str) -> bool:
        """What :func:`grade.grade` uses instead of probing bubblewrap on the grader's machine."""
        return self.sandbox_on

    def _say(self, text: str) -> None:
        if self.log is not None:
            print(text, file=self.log, flush=True)

    def __call__(
        self, make_task: Callable[[str], task.Task], students: list[str], jobs: int = 1
    ) -> Iterator[task.Result]:
        from distributed import as_completed

        tasks, futures = {}, {}
        for student in students:
            item = make_task(student)
            # the workers have no file system in common with the grader, nor its folders
            item = dataclasses.replace(item, limits=dataclasses.replace(item.limits, runtime=""))
            tasks[student] = item
            future = self.client.submit(
                self.work,
                task.pack(item),
                key=f"grade-{student}-{os.urandom(4).hex()}",
                retries=self.retries,
                pure=False,
            )
            futures[future] = student
        self._say(
            f"cluster {self.address}: {len(students)} student(s) sent to "
            f"{len(self.client.nthreads())} worker(s)"
        )
        seen: set[str] = set()
        pending = as_completed(list(futures), loop=self.client.loop)
        try:
            for future in pending:
                student = futures.pop(future)
                if student in seen:  # never: one future per student; a guard all the same
                    continue
                seen.add(student)
                try:
                    done = future.result()
                    result = task.unpack(done["result"])
                    if not isinstance(result, task.Result) or result.student != student:
                        raise TypeError("the worker returned something else than its result")
                    attempt = Attempt(
                        student,
                        done["worker"],
                        done["name"],
                        done["pid"],
                        done["started"],
                        done["finished"],
                        time.time(),
                    )
                    where = attempt.worker
                    if attempt.name != attempt.worker:
                        where = f"{attempt.name} ({attempt.worker})"
                    self._say(
                        f"  {student}: graded on {where}, {clock(attempt.started)} to "
                        f"{clock(attempt.finished)} ({attempt.finished - attempt.started:.1f} s)"
                    )
                except Exception as error:  # noqa: BLE001 (the student gets zero with why)
                    why = _describe(error)
                    result = task.crashed(tasks[student], why)
                    attempt = Attempt(student, "", "", 0, 0.0, 0.0, time.time(), why)
                    self._say(f"  {student}: {why} ({clock(attempt.received)})")
                finally:
                    future.release()
                self.attempts.append(attempt)
                yield result
        finally:
            if futures:  # stopped early (Ctrl-C, an error while recording): cancel the rest
                self.client.cancel(list(futures), force=True)


def _check(client, address: str, mode: str) -> tuple[dict, bool]:
    """Every worker's :func:`check_worker`; whether to use the sandbox (else a ClusterError)."""
    from autograder import grade

    try:
        client.get_versions(check=True)
    except ValueError as exc:
        raise ClusterError(
            f"the Dask cluster at {address} runs other versions of Dask's packages than the "
            f"grader: {exc}"
        ) from None
    try:  # a task goes through the scheduler like the grading tasks will
        client.submit(task_function(), None, pure=False).result(timeout=WORKER_WAIT)
    except Exception as exc:  # noqa: BLE001 (whatever it is, nothing can be graded)
        raise ClusterError(
            f"the Dask cluster at {address} cannot run the grader's tasks "
            f"({type(exc).__name__}: {exc})"
        ) from None
    grade.ensure_data()  # the grader's own machine first: local workers share its folders
    answers = client.run(check_worker, on_error="return")
    if not answers:
        raise ClusterError(f"the Dask scheduler at {address} has no workers")
    broken = {w: a for w, a in answers.items() if isinstance(a, BaseException)}
    if broken:
        lines = [f"  {w}: {type(a).__name__}: {a}" for w, a in sorted(broken.items())]
        raise ClusterError(
            "these Dask workers cannot grade:\n"
            + "\n".join(lines)
            + "\nEach worker needs the course's checkout and environment: start it there with "
            "`PYTHONPATH=$PWD .venv/bin/dask worker ...` (see the README)."
        )
    mine = code_digest()
    other = [f"{w} ({a['code']})" for w, a in sorted(answers.items()) if a["code"] != mine]
    if other:
        raise ClusterError(
            f"these Dask workers run another version of the grader or nbgrader than this one "
            f"({mine}): {', '.join(other)}. Bring their "
            "checkout and environment to the grader's version, or stop them."
        )
    if mode == "off":
        return answers, False
    lacking = {w: a["sandbox"] for w, a in answers.items() if a["sandbox"] is not None}
    if lacking and (mode == "on" or len(lacking) < len(answers)):
        lines = [f"  {w} ({answers[w]['host']}): {why}" for w, why in sorted(lacking.items())]
        raise ClusterError(
            "the sandbox does not work on these Dask workers:\n"
            + "\n".join(lines)
            + "\nInstall bubblewrap there (`make sandbox-tools`), or stop those workers"
            + (" (or grade with --sandbox off)." if mode == "on" else ".")
        )
    if lacking:  # auto, and no worker has it: the same loud warning as on one machine
        first = next(iter(lacking.values()))
        sandbox.warn_unsandboxed(f"on every Dask worker: {first}")
        return answers, False
    return answers, True


def _local_workers(spec: str) -> int:
    try:
        n = int(spec.split(":", 1)[1])
    except ValueError:
        n = 0
    if n < 1:
        raise ClusterError(f"--cluster {spec}: local:N needs a number of workers N >= 1")
    return n


@dataclasses.dataclass
class Connection:
    runner: DaskRunner
    close: Callable[[], None]


def connect(spec: str, mode: str = "auto", log=sys.stderr) -> Connection:
    """Connect to ``spec`` (``tcp://host:port`` or ``local:N``), check every worker, and
    return the runner. Raises :class:`ClusterError` with what to do when it cannot grade."""
    import dask
    from distributed import Client, LocalCluster

    if mode not in sandbox.MODES:
        raise ValueError(f"--sandbox must be one of {', '.join(sandbox.MODES)}, not {mode!r}")
    cluster = None
    if spec.startswith("local:"):
        n = _local_workers(spec)
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: never the one of another cluster
        )
        address = cluster.scheduler_address
    else:
        address = spec if "://" in spec else f"tcp://{spec}"
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s"}):
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}). "
            f"Start it (`dask scheduler` on that machine, workers with `dask worker {address}`), "
            "check the address and that its port is open from here, or grade on this "
            "machine with --cluster local:N or --jobs N. Nothing was graded."
        ) from None

    def close() -> None:
        client.close()
        if cluster is not None:
            cluster.close()

    try:
        if not client.nthreads():
            print(
                f"cluster {address}: no worker yet, waiting up to {WORKER_WAIT} s for one",
                file=log,
                flush=True,
            )
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT)
            except (TimeoutError, OSError):
                raise ClusterError(
                    f"the Dask scheduler at {address} has no workers after {WORKER_WAIT} s: "
                    f"start some (`dask worker {address}` on each machine, see the README). "
                    "Nothing was graded."
                ) from None
        workers, use = _check(client, address, mode)
    except BaseException:
        close()
        raise
    hosts = sorted({a["host"] for a in workers.values()})
    print(
        f"cluster {address}: {len(workers)} worker(s) on {', '.join(hosts)}, "
        f"{'sandbox on' if use else 'WITHOUT the sandbox'}",
        file=log,
        flush=True,
    )
    return Connection(DaskRunner(client, address, workers, use, log), close)
