"""``grade --cluster``: the grader on a real Dask cluster gives what ``--jobs 1`` gives.

The module starts a ``dask scheduler`` and two ``dask worker`` processes (``--nthreads 1``,
``--no-nanny``, so a worker killed stays dead) on 127.0.0.1 at free ports, and stops every
process it started (each carries a marker in its environment, as do the grading processes
and kernels they start, so they are found in ``/proc`` even when their parent is gone).
The class: the three demo students of 01_masks and a broken file from the hostile suite,
graded once with ``--jobs 1`` (the reference, shared by the tests) and then through the
cluster while one worker is killed (SIGKILL) in the middle of grading a student.

Slow: about three minutes on two cores.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from autograder import cli, cluster, course, feedback, grade, sandbox, submissions
from tests import hostile

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not pathlib.Path("/proc/self/environ").exists(), reason="needs /proc"),
]
ASSIGNMENT = "01_masks"
HOSTILE = ["h_invalid_json"]
STUDENTS = sorted(["reference", "partial", "untouched", *HOSTILE])
KERNEL = ["reference", "partial", "untouched"]  # readable notebooks: staged and graded
USE_SANDBOX = sandbox.probe() is None
MODE = "on" if USE_SANDBOX else "off"
LIMITS = hostile.TEST_LIMITS
LIMIT_ARGS = [
    "--sandbox",
    MODE,
    "--cell-timeout",
    str(LIMITS["cell_timeout"]),
    "--notebook-timeout",
    str(LIMITS["notebook_timeout"]),
    "--memory-limit",
    str(LIMITS["memory"]),
]
DASK = str(pathlib.Path(sys.executable).parent / "dask")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _marked(marker: bytes) -> dict[int, str]:
    """pid -> command line of every live process whose environment holds ``marker``."""
    found = {}
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                if "\nState:\tZ" not in (entry / "status").read_text():
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
    return {pid: cmd.decode("utf-8", "replace") for pid, cmd in found.items()}


class Daemon:
    """A ``dask`` command started by the tests, found with what it starts by its marker."""

    def __init__(self, log_dir: pathlib.Path, name: str, *args: str, env: dict | None = None):
        run = uuid.uuid4().hex
        self.name = name
        self.marker = f"UNET_COURSE_TEST_RUN={run}".encode()
        env = dict(env or os.environ, UNET_COURSE_TEST_RUN=run, PYTHONPATH=str(course.REPO))
        self.log = log_dir / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [DASK, *args],
                cwd=course.REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> dict[int, str]:
        return _marked(self.marker)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in self.processes():  # what left its process group (kernels in bwrap)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


class Cluster:
    def __init__(self, log_dir: pathlib.Path):
        self.log_dir = log_dir
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.daemons: list[Daemon] = []
        port = self.address.rsplit(":", 1)[1]
        self.start(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"
        )

    def start(self, name: str, *args: str, env: dict | None = None) -> Daemon:
        daemon = Daemon(self.log_dir, name, *args, env=env)
        self.daemons.append(daemon)
        return daemon

    def worker(self, name: str, env: dict | None = None) -> Daemon:
        return self.start(
            name,
            "worker",
            self.address,
            "--nthreads",
            "1",
            "--no-nanny",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--name",
            name,
            env=env,
        )

    def wait_for_workers(self, n: int, timeout: float = 120) -> dict[str, int]:
        """Wait until the scheduler has exactly ``n`` workers; their address -> pid."""
        from distributed import Client

        deadline = time.monotonic() + timeout
        with Client(self.address, timeout=60, set_as_default=False) as client:
            while time.monotonic() < deadline:
                if len(client.nthreads()) == n:
                    return client.run(os.getpid)
                time.sleep(0.3)
        logs = "\n".join(d.text()[-2000:] for d in self.daemons)
        pytest.fail(f"the Dask cluster did not get to {n} workers:\n{logs}")

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two workers (``w1``, ``w2``), each its own process; all stopped after."""
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        c.workers = [c.worker("w1"), c.worker("w2")]
        c.wait_for_workers(2)
        yield c
    finally:
        c.stop()
    deadline = time.monotonic() + 30
    while any(d.processes() for d in c.daemons) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(d.processes() for d in c.daemons), "a process of the cluster was left"


@pytest.fixture(scope="module")
def submitted(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("class")
    submissions.write_submissions(course.NOTEBOOKS, root / "submitted", [ASSIGNMENT])
    hostile.write_suite(root, sandbox=USE_SANDBOX, only=HOSTILE)
    assert sorted(p.name for p in (root / "submitted").iterdir()) == STUDENTS
    return root / "submitted"


def _course(submitted: pathlib.Path, root: pathlib.Path, like: pathlib.Path | None = None):
    """A course of the class; ``like``: with the release and template gradebook of that
    graded course (as a second run on it has them: not generated again)."""
    shutil.copytree(submitted, root / "submitted")
    if like is not None:
        shutil.copytree(like / "release", root / "release")
        (root / "gradebooks").mkdir()
        for name in ("_template.db", "_template.json"):
            shutil.copyfile(like / "gradebooks" / name, root / "gradebooks" / name)
    return root


@pytest.fixture(scope="module")
def reference(submitted, tmp_path_factory) -> pathlib.Path:
    """The class graded with ``--jobs 1`` (what every cluster run must give)."""
    root = _course(submitted, tmp_path_factory.mktemp("jobs1") / "course")
    assert cli.main(["grade", "--course", str(root), "--jobs", "1", *LIMIT_ARGS]) == 0
    feedback.feedback(root, [ASSIGNMENT])
    return root


def _rows(root: pathlib.Path) -> dict[str, dict]:
    with open(root / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len({r["student_id"] for r in rows}), "a student counted twice"
    return {r["student_id"]: r for r in rows}


def _same_files(one: pathlib.Path, two: pathlib.Path, students: list[str]) -> None:
    names = ["grades.csv", "cell_report.csv"] + [f"reports/{s}.csv" for s in students]
    names += [f"staged/{s}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb" for s in students if s in KERNEL]
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    pages = sorted(p.relative_to(one) for p in (one / "feedback").rglob("*.html"))
    assert pages and pages == sorted(p.relative_to(two) for p in (two / "feedback").rglob("*.html"))
    for page in pages:
        assert (one / page).read_bytes() == (two / page).read_bytes(), page


def _grading_child(worker: Daemon) -> tuple[int, str] | None:
    """(pid, student) of the grading process the worker runs now, if any."""
    for pid, cmd in worker.processes().items():
        if " grade-task " in f" {cmd} ":
            task_file = pathlib.Path(cmd.split(" grade-task ", 1)[1].split()[0])
            return pid, task_file.name.rsplit("-", 2)[0]
    return None


@pytest.fixture(scope="module")
def killed_run(dask_cluster, submitted, reference, tmp_path_factory):
    """``grade --cluster tcp://…`` in a process of its own; one worker is killed (SIGKILL)
    a few seconds into grading a student. Returns what the test saw, with a timeline."""
    root = _course(submitted, tmp_path_factory.mktemp("cluster") / "course", like=reference)
    log = root.parent / "grade.err"
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        "--course",
        str(root),
        "--cluster",
        dask_cluster.address,
        *LIMIT_ARGS,
    ]
    events = [(time.time(), "grade --cluster starts")]
    with open(log, "wb") as err:
        grader = subprocess.Popen(cmd, cwd=course.REPO, stdout=subprocess.DEVNULL, stderr=err)
    try:
        victim, seen = None, {}  # worker name -> (its grading process, since when)
        deadline = time.monotonic() + 240
        while victim is None and grader.poll() is None and time.monotonic() < deadline:
            for worker in dask_cluster.workers:
                child = _grading_child(worker)
                if child is None:
                    seen.pop(worker.name, None)
                elif seen.get(worker.name, (None,))[0] != child:
                    seen[worker.name] = (child, time.monotonic())
                    events.append((time.time(), f"{worker.name} starts grading {child[1]}"))
                elif time.monotonic() - seen[worker.name][1] > 3:  # its kernel runs by now
                    victim, student = worker, child[1]
                    break
            time.sleep(0.2)
        assert victim is not None, f"no worker was seen grading:\n{log.read_text()}"
        doomed = victim.processes()  # the worker, its grading process, the kernel
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(timeout=30)
        events.append(
            (
                time.time(),
                f"SIGKILL {victim.name} (pid {victim.proc.pid}) while it grades {student}",
            )
        )
        deadline = time.monotonic() + 30
        while set(doomed) & set(victim.processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = victim.processes()
        assert grader.wait(timeout=600) == 0, log.read_text()
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
    events.append((time.time(), "grade --cluster exits 0"))
    return {
        "root": root,
        "killed_student": student,
        "victim": victim,
        "doomed": doomed,
        "left": left,
        "log": log.read_text(),
        "events": events,
    }


def test_cluster_gives_the_same_results_as_jobs_1(killed_run, reference):
    root = killed_run["root"]
    feedback.feedback(root, [ASSIGNMENT])
    _same_files(reference, root, STUDENTS)
    assert sorted(_rows(root)) == STUDENTS
    assert "2 worker(s)" in killed_run["log"]
    assert ("sandbox on" if USE_SANDBOX else "WITHOUT the sandbox") in killed_run["log"]


def test_a_killed_worker_costs_nothing_and_counts_nothing_twice(killed_run, dask_cluster):
    log, student = killed_run["log"], killed_run["killed_student"]
    # the worker's grading process and kernel died with it
    assert len(killed_run["doomed"]) >= 2 and not killed_run["left"]
    # each student graded once, the killed worker's student by the other worker
    graded = {
        line.split(":")[0].strip(): line for line in log.splitlines() if ": graded on " in line
    }
    assert sorted(graded) == STUDENTS and len(graded) == log.count(": graded on "), log
    survivor = next(w for w in dask_cluster.workers if w is not killed_run["victim"])
    assert f"graded on {survivor.name} " in graded[student], log
    rows = _rows(killed_run["root"])
    timeline = [(cluster.clock(t), what) for t, what in killed_run["events"]]
    for who, line in graded.items():
        where, span = line.split("graded on ", 1)[1].split(", ", 1)
        start, end = span.split(" (")[0].split(" to ")
        timeline += [
            (start, f"{where.split()[0]} starts {who} (the attempt that counted)"),
            (end, f"{where.split()[0]} finishes {who}"),
        ]
    timeline.sort()
    timeline.append(("", "final grades: " + ", ".join(f"{s} {rows[s]['score']}" for s in STUDENTS)))
    text = "\n".join(f"{t:>10}  {what}" for t, what in timeline)
    print(f"\nfault timeline:\n{text}")
    (killed_run["root"].parent / "timeline.txt").write_text(text + "\n")


def test_a_student_failing_on_every_try_gets_zero_with_the_reason(
    dask_cluster, submitted, reference, tmp_path
):
    root = _course(submitted, tmp_path / "course", like=reference)
    tries = tmp_path / "tries"
    tries.mkdir()
    connection = cluster.connect(dask_cluster.address, MODE, log=io.StringIO())
    real = connection.runner.work

    def work(packed):  # pickled by value; runs on the workers
        import pathlib
        import uuid

        from autograder import task

        item = task.unpack(packed)
        if item.student == "untouched":
            (pathlib.Path(str(tries)) / uuid.uuid4().hex).touch()
            raise OSError("No space left on device (a test's stand-in for a broken worker)")
        return real(packed)

    connection.runner.work = work
    try:
        grade.grade(
            root,
            assignment_ids=[ASSIGNMENT],
            only=["untouched", "h_invalid_json"],
            sandbox_mode=MODE,
            limits=sandbox.Limits(**LIMITS),
            runner=connection.runner,
        )
    finally:
        connection.close()
    assert len(list(tries.iterdir())) == 1 + cluster.RETRIES
    rows = _rows(root)
    assert rows["h_invalid_json"] == _rows(reference)["h_invalid_json"]
    assert float(rows["untouched"]["score"]) == 0
    report = (root / "reports" / "untouched.csv").read_text()
    assert "failed on every try" in report and "No space left on device" in report


def test_a_worker_without_the_sandbox_is_named(dask_cluster):
    if not USE_SANDBOX:
        pytest.skip("bubblewrap does not work here")
    alive = [w for w in dask_cluster.workers if w.proc.poll() is None]
    before = len(dask_cluster.wait_for_workers(len(alive)))
    bare = dict(os.environ, PATH=str(pathlib.Path(sys.executable).parent))  # no bwrap on PATH
    worker = dask_cluster.worker("nobwrap", env=bare)
    try:
        pids = dask_cluster.wait_for_workers(before + 1)
        address = next(a for a, pid in pids.items() if pid == worker.proc.pid)
        for mode in ("on", "auto"):
            with pytest.raises(cluster.ClusterError) as caught:
                cluster.connect(dask_cluster.address, mode, log=io.StringIO())
            message = str(caught.value)
            assert address in message and "bubblewrap" in message, message
            assert [a for a in pids if a in message] == [address], message
    finally:
        worker.stop()
    dask_cluster.wait_for_workers(before)


def test_an_unreachable_scheduler_is_a_clear_error_before_grading(
    submitted, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    root = _course(submitted, tmp_path / "course")
    address = f"tcp://127.0.0.1:{_free_port()}"
    assert cli.main(["grade", "--course", str(root), "--cluster", address, *LIMIT_ARGS]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in err, err
    assert "dask scheduler" in err and "Nothing was graded" in err
    assert sorted(p.name for p in root.iterdir()) == ["submitted"]  # nothing written


def test_local_cluster_grades_like_jobs_1(submitted, reference, tmp_path):
    root = _course(submitted, tmp_path / "course", like=reference)
    who = ["untouched", "h_invalid_json"]
    args = ["grade", "--course", str(root), "--cluster", "local:2", *LIMIT_ARGS]
    assert cli.main(args + [f"--student={s}" for s in who]) == 0
    assert sorted(_rows(root)) == sorted(who)
    for name in [f"reports/{s}.csv" for s in who]:
        assert (root / name).read_bytes() == (reference / name).read_bytes(), name
    lines = (root / "grades.csv").read_text().splitlines()
    reference_lines = (reference / "grades.csv").read_text().splitlines()
    assert lines[0] == reference_lines[0] and set(lines[1:]) <= set(reference_lines[1:])
