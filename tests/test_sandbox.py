"""The sandbox: each protection proven on a kernel started the way grading starts it.

The direct tests start a sandboxed kernel (no TensorFlow: seconds) in a made-up course
and try what hostile code would; the batch tests check the same protections on the
hostile suite (tests.hostile) as graded. Without a working bubblewrap the
sandbox tests are skipped, and ``--sandbox auto`` must fall back with a warning.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import socket
import sqlite3
import sys
import textwrap
import threading

import nbformat
import pytest

from autograder import course, sandbox
from tests import hostile

needs_bwrap = pytest.mark.skipif(sandbox.probe() is not None, reason=str(sandbox.probe()))


class Kernel:
    """A sandboxed kernel working in ``cwd``; ``run(code)`` returns its stdout and error."""

    def __init__(self, cwd: pathlib.Path, hidden: list[pathlib.Path], memory: int = 1 << 30):
        from traitlets.config import Config

        config = Config()
        config.GradingKernelManager.sandbox = True
        config.GradingKernelManager.memory_limit = memory
        config.GradingKernelManager.hidden_paths = [str(p) for p in hidden]
        self.km = sandbox.GradingKernelManager(kernel_name="python3", config=config)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.km.start_kernel(cwd=str(cwd)))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.loop.run_until_complete(self.kc.wait_for_ready(timeout=60))

    def run(self, code: str, timeout: float = 60) -> tuple[str, str]:
        out, err = [], []

        def hook(msg):
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                err.append(f"{content['ename']}: {content['evalue']}")

        self.loop.run_until_complete(
            self.kc.execute_interactive(textwrap.dedent(code), output_hook=hook, timeout=timeout)
        )
        return "".join(out), "".join(err)

    def alive(self) -> bool:
        return self.loop.run_until_complete(self.km.is_alive())

    def close(self):
        self.kc.stop_channels()
        if self.alive():
            self.loop.run_until_complete(self.km.shutdown_kernel(now=True))
        self.loop.run_until_complete(self.km.cleanup_resources())
        self.loop.close()


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """A course folder as grading leaves it: a gradebook, two students, a secret in the env."""
    root = tmp_path_factory.mktemp("course")
    mine = root / "autograded" / "alice" / "01_masks"
    mine.mkdir(parents=True)
    (mine / "data.txt").write_text("mine")
    other = root / "submitted" / "bob" / "01_masks"
    other.mkdir(parents=True)
    (other / "01_masks.ipynb").write_text("{}")
    (root / "autograded" / "bob" / "01_masks").mkdir(parents=True)
    (root / "gradebooks").mkdir()
    sqlite3.connect(root / "gradebooks" / "bob.db").execute("create table t (x)").connection.close()
    return root, mine


@pytest.fixture(scope="module")
def kernel(layout):
    if sandbox.probe() is not None:
        pytest.skip(sandbox.probe())
    root, mine = layout
    os.environ["AG_TEST_SECRET_TOKEN"] = "s3cret"
    k = Kernel(mine, [root, course.REPO, course.SOLUTIONS])
    yield k
    k.close()
    os.environ.pop("AG_TEST_SECRET_TOKEN", None)


@needs_bwrap
def test_no_network(kernel):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    out, err = kernel.run(f"""
        import socket
        s = socket.socket()
        s.settimeout(5)
        print(s.connect_ex(("127.0.0.1", {port})))
        try:
            socket.getaddrinfo("example.com", 80)
        except OSError as e:
            print("dns", type(e).__name__)
        """)
    assert err == ""
    assert out.splitlines()[0] in {"111", "101"}  # refused, or no route: never connected
    assert out.splitlines()[1] == "dns gaierror"
    server.close()
    assert accepted == []


@needs_bwrap
def test_solutions_repository_and_course_are_invisible(kernel, layout):
    root, mine = layout
    out, err = kernel.run(f"""
        import os
        for p in ({str(course.SOLUTIONS)!r}, {str(course.REPO / ".git")!r},
                  {str(root / "gradebooks")!r}, {str(root / "submitted" / "bob")!r},
                  {str(root / "autograded" / "bob")!r}, "../bob", "../../../gradebooks",
                  {str(course.REPO / "autograder")!r}):
            print(p, os.path.exists(p))
        print(sorted(os.listdir({str(course.REPO)!r})))
        """)
    assert err == ""
    lines = out.splitlines()
    assert all(line.endswith(" False") for line in lines[:-1]), lines
    # of the repository only the helper package, the stand-in data and (when the Python
    # environment lives in the repository, as `make` puts it in .venv) the environment
    allowed = {"unet_course", "data"}
    prefix = pathlib.Path(sys.prefix).resolve()
    if prefix.is_relative_to(course.REPO):
        allowed.add(prefix.relative_to(course.REPO).parts[0])
    assert set(eval(lines[-1])) <= allowed


@needs_bwrap
def test_own_folder_is_the_only_writable_place(kernel, layout):
    root, mine = layout
    out, err = kernel.run(f"""
        import os
        print(open("data.txt").read())
        open("result.txt", "w").write("ok")
        for p in ({str(course.REPO / "unet_course" / "x.py")!r}, "/usr/x", {str(root / "x")!r}):
            try:
                open(p, "w")
                print("wrote", p)
            except OSError as e:
                print(type(e).__name__)
        import unet_course.checks, numpy
        print("imports ok")
        """)
    assert err == ""
    assert out.splitlines()[0] == "mine" and (mine / "result.txt").read_text() == "ok"
    assert out.splitlines()[1:3] == ["OSError", "OSError"]  # read-only: package, system
    assert "imports ok" in out
    # the course folder around its own is an empty private file system: writes vanish
    assert not (root / "x").exists()


@needs_bwrap
def test_environment_processes_and_limits(kernel):
    out, err = kernel.run("""
        import os, resource
        print(sorted(k for k in os.environ if "SECRET" in k or "TOKEN" in k))
        print(len([p for p in os.listdir("/proc") if p.isdigit()]))
        print(resource.getrlimit(resource.RLIMIT_AS)[0])
        """)
    assert err == ""
    secrets, processes, limit = out.splitlines()
    assert secrets == "[]"
    assert int(processes) < 10  # its own process namespace: not the grader's processes
    assert int(limit) == 1 << 30


@needs_bwrap
def test_memory_bomb_is_contained(kernel):
    out, err = kernel.run("""
        chunks = []
        try:
            while True:
                chunks.append(bytearray(b"x" * (64 << 20)))
        except MemoryError:
            print("stopped at", len(chunks) * 64, "MB")
        del chunks
        """)
    assert err == "" and out.startswith("stopped at")
    assert int(out.split()[2]) < 1024
    assert kernel.alive()


@needs_bwrap
def test_kernel_death_takes_its_processes_along(layout):
    root, mine = layout
    k = Kernel(mine, [root])
    try:
        k.run("import subprocess\nsubprocess.Popen(['sleep', '4242.5'])\n")
        k.run("import os\nos._exit(9)", timeout=10)
    except Exception:
        pass
    for _ in range(50):
        if not k.alive():
            break
        asyncio.run(asyncio.sleep(0.1))
    assert not k.alive()
    assert k.km.exit_status() == 9
    leftovers = []
    for pid in os.listdir("/proc"):
        try:
            if b"4242.5" in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes():
                leftovers.append(pid)
        except OSError:
            pass
    k.close()
    assert leftovers == []


def test_auto_falls_back_loudly_without_bwrap(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    monkeypatch.setattr(sandbox, "_warned", False)
    sandbox.probe.cache_clear()
    try:
        assert sandbox.resolve("off") is False
        assert sandbox.resolve("auto") is False
        assert sandbox.resolve("auto") is False
        assert capsys.readouterr().err.count("WITHOUT the sandbox") == 1  # warned once
        with pytest.raises(RuntimeError, match="bubblewrap"):
            sandbox.resolve("on")
    finally:
        sandbox.probe.cache_clear()


def test_bwrap_command_hides_what_it_must(tmp_path):
    cmd = sandbox.bwrap_command(tmp_path / "work", tmp_path / "run", [course.REPO, tmp_path])
    text = " ".join(cmd)
    assert "--unshare-net" in cmd and "--unshare-pid" in cmd and "--die-with-parent" in cmd
    binds = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind")]
    assert str(course.REPO) not in binds and str(course.SOLUTIONS) not in binds
    assert str(course.REPO / "unet_course") in binds
    assert f"--bind {tmp_path / 'work'} {tmp_path / 'work'}" in text


# ----------------------------------------------------------------------------- the batch

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def batch():
    b = hostile.run_batch()
    if not b.sandbox:
        pytest.skip("graded without the sandbox")
    return b


@slow
def test_batch_spy_was_refused_everything(batch):
    rows = [r for r in batch.rows if r["student_id"] == "h_spy" and r["kind"] == "lost"]
    assert rows and all("refused by the sandbox" in r["reason"] for r in rows)
    assert batch.server_hits == []  # the download never left the sandbox
    graded = batch.root / "course" / "autograded" / "h_spy" / "01_masks" / "01_masks.ipynb"
    nb = nbformat.read(graded, as_version=4)
    spy = hostile.Release(batch.root / "release", "01_masks", "01_masks").answer(1).grade_id
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == spy]
    assert "unable to open database" in json.dumps(cell.outputs)
    assert "BEGIN HIDDEN TESTS" not in json.dumps(cell.outputs)  # the gradebook was not read
    con = sqlite3.connect(batch.root / "course" / "gradebooks" / "_template.db")
    assert con.execute("select min(max_score) from grade_cells").fetchone()[0] > 0
    con.close()


@slow
def test_batch_memory_bomb_and_crashes_cost_only_their_answer(batch):
    for student in ("h_memory_bomb", "h_os_exit", "h_segfault", "h_ignores_interrupt"):
        row = batch.grades[student]
        assert float(row["max_score"]) - float(row["score"]) == 2.0, student
    assert batch.lines["reference"] == batch.alone_line


@slow
def test_batch_left_no_sandbox_folders(batch):
    assert batch.leftover_rundirs == []  # every kernel's private folder was removed
