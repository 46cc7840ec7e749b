"""The hostile suite graded in one batch, as the tests (and an instructor) run it."""

from __future__ import annotations

import dataclasses
import pathlib

from autograder import course
from tests.hostile.base import Case, Release
from tests.hostile.suite import write_suite


class AnswerServer:
    """A local web server with the reference answers (``/<grade id>.py``), counting requests.

    The network case downloads its answer from it: if the sandbox let the request out,
    the answer would work, so a refusal is the sandbox's doing, not a missing internet.
    """

    def __init__(self, r: Release):
        import http.server
        import threading

        answers = {}
        for cell in r.reference().cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                answers[f"/{meta['grade_id']}.py"] = cell.source.encode()
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                server.hits.append(self.path)
                body = answers.get(self.path, b"")
                self.send_response(200 if body else 404)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclasses.dataclass
class Batch:
    """The suite graded in one batch (and the reference graded alone, for comparison)."""

    root: pathlib.Path
    cases: list[Case]
    result: dict
    grades: dict  # student -> grades.csv row
    lines: dict  # student -> grades.csv line (the exact text)
    rows: list[dict]  # cell_report.csv rows
    alone_line: str  # the reference's grades.csv line when graded alone
    server_hits: list[str]
    sandbox: bool
    limits: object
    leftover_rundirs: list  # private folders of sandboxed kernels that were not removed


#: Limits for the suite in tests: short time-outs keep the runaway cases to seconds.
TEST_LIMITS = dict(cell_timeout=20, notebook_timeout=240, memory=4 << 30)
_BATCH: dict[tuple, Batch] = {}


def run_batch(
    assignment: str = "01_masks", jobs: int = 2, root: pathlib.Path | None = None
) -> Batch:
    """Write the suite and grade it in one batch (once per process: tests share it)."""
    import csv
    import shutil
    import tempfile

    from autograder import grade
    from autograder import sandbox as sb

    key = (assignment, jobs)
    if key in _BATCH:
        return _BATCH[key]
    if root is None:
        import atexit
        import os

        root = pathlib.Path(tempfile.mkdtemp(prefix="hostile-"))
        if not os.environ.get("AUTOGRADER_KEEP"):  # keep it to look at: AUTOGRADER_KEEP=1
            atexit.register(shutil.rmtree, root, ignore_errors=True)
    root = pathlib.Path(root)
    use = sb.probe() is None
    limits = sb.Limits(sandbox=use, **TEST_LIMITS)
    release_dir = root / "release"
    from autograder import release as rel

    rel.generate(release_dir, [assignment])
    (notebook,) = course.notebook_names(assignment)[:1]
    server = AnswerServer(Release(release_dir, assignment, notebook))
    try:
        cases = write_suite(
            root / "course", release_dir, assignment, sandbox=use, answer_url=server.url
        )
        mode = "on" if use else "off"
        result = grade.grade(
            root / "course",
            jobs=jobs,
            assignment_ids=[assignment],
            sandbox_mode=mode,
            limits=limits,
        )
    finally:
        server.stop()
    leftovers = result["leftover_kernel_folders"]
    alone = root / "alone"
    (alone / "submitted").mkdir(parents=True)
    shutil.copytree(root / "course" / "submitted" / "reference", alone / "submitted" / "reference")
    grade.grade(alone, jobs=1, assignment_ids=[assignment], sandbox_mode=mode, limits=limits)

    def lines(path):
        text = (path / "grades.csv").read_text().splitlines()
        return {line.split(",")[3]: line for line in text[1:]}

    with open(root / "course" / "grades.csv") as fh:
        grades = {r["student_id"]: r for r in csv.DictReader(fh)}
    with open(root / "course" / "cell_report.csv") as fh:
        rows = list(csv.DictReader(fh))
    batch = Batch(
        root,
        cases,
        result,
        grades,
        lines(root / "course"),
        rows,
        lines(alone)["reference"],
        list(server.hits),
        use,
        limits,
        leftovers,
    )
    _BATCH[key] = batch
    return batch
