"""Command line of the instructor tool: ``python -m autograder <command>``."""

from __future__ import annotations

import argparse
import pathlib
import sys

from autograder import (
    classbook,
    cluster,
    collect,
    course,
    demo,
    execute,
    export,
    feedback,
    grade,
    jupyter,
    publish,
    release,
    runlock,
    sandbox,
    sources,
    task,
)

DEFAULT_COURSE = course.BUILD / "course"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    r.add_argument("assignments", nargs="*", help="default: all")
    r.add_argument(
        "--check",
        action="store_true",
        help="only report whether notebooks/ is up to date (exit 1 if not)",
    )

    u = sub.add_parser(
        "publish",
        help="write the student repository (notebooks, helper package, README; no solutions)",
    )
    _publish_arguments(u)

    c = sub.add_parser("collect", help="a zip or folder of downloaded notebooks -> submitted/")
    c.add_argument("source", type=pathlib.Path)
    c.add_argument("--course", type=pathlib.Path, default=DEFAULT_COURSE)
    c.add_argument(
        "--max-size",
        type=float,
        default=collect.DEFAULT_MAX_SIZE / collect.MB,
        metavar="MB",
        help="largest notebook collected, in MB after unpacking "
        f"(default {collect.DEFAULT_MAX_SIZE / collect.MB:g})",
    )

    g = sub.add_parser(
        "grade",
        help="autograde what was collected and merge it into the course (class gradebook, "
        "grades.csv, reports)",
    )
    g.add_argument("assignments", nargs="*", help="default: all")
    g.add_argument("--course", type=pathlib.Path, default=DEFAULT_COURSE)
    g.add_argument("--jobs", type=int, default=1, help="students graded at once")
    g.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="grade on a Dask cluster instead: a scheduler's tcp://HOST:PORT, or local:N "
        "(N Dask workers on this machine); see the README",
    )
    g.add_argument(
        "--student", action="append", help="only this student (repeat for more); others are kept"
    )
    g.add_argument(
        "--no-wait",
        action="store_true",
        help="refuse instead of waiting when another grade runs on this course",
    )
    g.add_argument(
        "--discard-manual",
        action="store_true",
        help="drop manual scores and comments given in formgrader for what is graded "
        "(default: keep them)",
    )
    _limit_options(g, with_auto=True)

    x = sub.add_parser(
        "grades",
        help="export grades.csv and the reports again from the class gradebook "
        "(after manual grading in formgrader)",
    )
    x.add_argument("--course", type=pathlib.Path, default=DEFAULT_COURSE)

    fg = sub.add_parser("formgrader", help="nbgrader's formgrader (JupyterLab) on a graded course")
    fg.add_argument("--course", type=pathlib.Path, default=course.BUILD / "demo")
    fg.add_argument("--port", type=int, default=None)
    fg.add_argument("--ip", default=None)
    fg.add_argument("--no-browser", action="store_true")

    lab = sub.add_parser("lab", help="JupyterLab on notebooks/ for students")
    lab.add_argument("--port", type=int, default=None)
    lab.add_argument("--no-browser", action="store_true")

    f = sub.add_parser("feedback", help="HTML feedback per student and notebook")
    f.add_argument("assignments", nargs="*", help="default: all")
    f.add_argument("--course", type=pathlib.Path, default=DEFAULT_COURSE)

    x = sub.add_parser("export", help="grades.csv -> a file Canvas or Moodle imports")
    x.add_argument("--to", choices=export.TARGETS, required=True, help="the LMS")
    x.add_argument("--course", type=pathlib.Path, default=DEFAULT_COURSE)
    x.add_argument(
        "--out",
        type=pathlib.Path,
        help="canvas: the file (default COURSE/canvas_grades.csv); moodle: the folder of "
        "worksheets, one per assignment (default COURSE/moodle_worksheets)",
    )
    x.add_argument(
        "--title",
        action="append",
        default=[],
        metavar="ASSIGNMENT=COLUMN",
        help="canvas: the gradebook column of an assignment, e.g. '01_masks=Masks (4711)'",
    )

    d = sub.add_parser("demo", help="the whole loop on three made-up students")
    d.add_argument("--course", type=pathlib.Path, default=None)
    d.add_argument("--jobs", type=int, default=1)
    d.add_argument("assignments", nargs="*", help="default: all")

    e = sub.add_parser("execute", help="run the solution notebooks, keeping outputs")
    e.add_argument("assignments", nargs="*", help="default: all")

    w = sub.add_parser("grade-task", help=argparse.SUPPRESS)
    w.add_argument("task_file")
    w.add_argument("result_file")
    w.add_argument("--parent", type=int, default=0)
    return p


def _publish_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=pathlib.Path, help="the folder (a git repository) to write")
    p.add_argument("assignments", nargs="*", help="default: all; earlier ones stay published")
    p.add_argument(
        "--url",
        help="the student repository on GitHub (default: [tool.unet-course] in pyproject.toml)",
    )
    p.add_argument("--branch", help="its branch (default: the setting's, or main)")


def _limit_options(p: argparse.ArgumentParser, with_auto: bool) -> None:
    default = sandbox.Limits()
    p.add_argument(
        "--sandbox",
        choices=sandbox.MODES if with_auto else ("on", "off"),
        default="auto" if with_auto else "off",
        help="run student code in bubblewrap (auto: if it works here, else warn and go on)",
    )
    p.add_argument(
        "--cell-timeout",
        type=int,
        default=default.cell_timeout,
        help=f"seconds per cell (default {default.cell_timeout})",
    )
    p.add_argument(
        "--notebook-timeout",
        type=int,
        default=default.notebook_timeout,
        help=f"seconds per notebook in all (default {default.notebook_timeout})",
    )
    p.add_argument(
        "--memory-limit",
        type=float,
        default=default.memory,
        help=f"address space of a kernel, bytes or GiB (default "
        f"{default.memory / sandbox.GiB:g} GiB)",
    )


def _limits(args, sandboxed: bool) -> sandbox.Limits:
    memory = args.memory_limit
    memory = int(memory * sandbox.GiB) if memory < 4096 else int(memory)
    return sandbox.Limits(
        sandbox=sandboxed,
        memory=memory,
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.notebook_timeout,
    )


def _publish(args) -> int:
    try:
        setting = sources.student_repository()
        repo = sources.Repository(
            args.url or setting.url, args.branch or (setting.branch if not args.url else "main")
        )
        result = publish.publish(args.out, repo, args.assignments or None)
    except (publish.PublishError, sources.SourceError) as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 2
    print(publish.describe(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["publish"]:  # OUT --url URL ASSIGNMENTS...: options between positionals
        p = argparse.ArgumentParser(prog="python -m autograder publish")
        _publish_arguments(p)
        return _publish(p.parse_intermixed_args(argv[1:]))
    args = _parser().parse_args(argv)
    if args.command == "release":
        if args.check:
            problems = release.stale(args.assignments or None)
            print("\n".join(problems) if problems else "notebooks/ is up to date")
            return 1 if problems else 0
        for path in release.release(args.assignments or None):
            print(f"generated {path.relative_to(course.REPO)}")
        return 0
    if args.command == "collect":
        if args.max_size <= 0:
            print("--max-size must be a positive number of MB", file=sys.stderr)
            return 2
        try:
            entries = collect.collect(
                args.source, args.course.resolve(), max_size=int(args.max_size * collect.MB)
            )
        except (FileNotFoundError, ValueError) as err:
            print(f"collect: {err}", file=sys.stderr)
            return 2
        for e in entries:
            if e.status not in ("collected", "ignored"):
                print(f"{e.status}: {e.file} — {e.note}")
        counts = {s: sum(e.status == s for e in entries) for s in collect.STATUSES}
        print(
            ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == "collected")
            + f"; report: {args.course / 'collect_report.csv'}; "
            f"students: {args.course / 'students.csv'}"
        )
        return 0
    if args.command == "grade":
        return _grade(args)
    if args.command == "grades":
        try:
            rows = grade.export(args.course)
        except grade.GradeError as exc:
            print(f"grades: {exc}", file=sys.stderr)
            return 2
        demo.print_table(rows)
        print(f"\ngrades: {args.course / 'grades.csv'} (from {classbook.path(args.course)})")
        return 0
    if args.command in ("formgrader", "lab"):
        try:
            if args.command == "lab":
                cmd, cwd, env = jupyter.lab_command(port=args.port, browser=not args.no_browser)
            else:
                cmd, cwd, env = jupyter.formgrader_command(
                    args.course, port=args.port, ip=args.ip, browser=not args.no_browser
                )
        except FileNotFoundError as exc:
            print(f"{args.command}: {exc}", file=sys.stderr)
            return 2
        return jupyter.run(cmd, cwd, env)
    if args.command == "feedback":
        pages = feedback.feedback(args.course, args.assignments or None)
        print(f"{len(pages)} feedback pages under {args.course / 'feedback'}")
        return 0
    if args.command == "export":
        titles = dict(t.split("=", 1) for t in args.title if "=" in t)
        bad = [t for t in args.title if "=" not in t]
        if bad:
            print(f"--title needs ASSIGNMENT=COLUMN, not {bad[0]!r}", file=sys.stderr)
            return 2
        try:
            result = export.export(args.course, args.to, args.out, titles)
        except export.ExportError as error:
            print(error, file=sys.stderr)
            return 2
        print(result.summary(), file=sys.stderr if result.unmatched else sys.stdout)
        return 1 if result.unmatched else 0
    if args.command == "demo":
        return demo.demo(args.course, jobs=args.jobs, assignment_ids=args.assignments or None)
    if args.command == "execute":
        return 1 if execute.execute_solutions(args.assignments or None) else 0
    if args.command == "grade-task":
        return task.worker_main(args.task_file, args.result_file, args.parent)
    return 2


def _grade(args) -> int:
    connection = None
    try:
        if args.cluster:
            if args.jobs != 1:
                print(
                    "grade: --jobs and --cluster do not go together (the cluster's workers "
                    "say how many students are graded at once)",
                    file=sys.stderr,
                )
                return 2
            connection = cluster.connect(args.cluster, args.sandbox)
        result = grade.grade(
            args.course,
            jobs=args.jobs,
            assignment_ids=args.assignments or None,
            only=args.student,
            sandbox_mode=args.sandbox,
            limits=_limits(args, sandboxed=args.sandbox != "off"),
            wait=not args.no_wait,
            discard_manual=args.discard_manual,
            runner=connection.runner if connection else None,
        )
    except (
        grade.GradeError,
        runlock.CourseBusy,
        classbook.ClassbookError,
        cluster.ClusterError,
    ) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, runlock.CourseBusy) else 2
    except (KeyboardInterrupt, grade.Terminated) as exc:
        print(
            f"\ngrade: {'interrupted' if isinstance(exc, KeyboardInterrupt) else exc}; the workers "
            "were stopped. Students recorded so far keep their new results; the next grade "
            "run on this course lists the others.",
            file=sys.stderr,
        )
        return 130 if isinstance(exc, KeyboardInterrupt) else 143
    finally:
        if connection is not None:
            connection.close()
    demo.print_table(result["rows"])
    graded = result["students"]
    print(
        f"\n{len(graded)} student(s) graded in {result['seconds']} s "
        f"({'in the sandbox' if result['sandbox'] else 'WITHOUT the sandbox'}) and merged into "
        f"the course; grades: {args.course / 'grades.csv'}; why points were lost: "
        f"{args.course / 'cell_report.csv'}; formgrader: {jupyter.shell_command(args.course)}"
    )
    return 0
