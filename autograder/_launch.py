"""Start a kernel with resource limits: ``python -I -S _launch.py [options] -- command ...``.

Run by the grader in front of every kernel it starts (and in front of ``bwrap`` when the
sandbox is on). It sets the limits, then replaces itself with the command, so the
limits hold for the kernel and for everything the kernel starts:

``--as BYTES``       address space (RLIMIT_AS): allocations beyond it fail (MemoryError)
``--fsize BYTES``    largest file the kernel may write (RLIMIT_FSIZE)
``--core 0``         no core dumps of crashed kernels
``--ignore-sigint``  the command ignores SIGINT (bwrap: the kernel inside is interrupted,
                     not the sandbox around it)
``--pdeathsig``      the command is killed when the grading worker dies

Only the standard library, and nothing from the course: it runs before ``site``.
"""

import os
import resource
import signal
import sys

LIMITS = {
    "--as": resource.RLIMIT_AS,
    "--fsize": resource.RLIMIT_FSIZE,
    "--core": resource.RLIMIT_CORE,
}
PR_SET_PDEATHSIG = 1


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (also used by grading workers)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker's own clean-up still applies
        pass


def main(argv: list[str]) -> None:
    if "--" not in argv:
        sys.exit("usage: _launch.py [--as BYTES] [--fsize BYTES] [--ignore-sigint] -- command")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    i = 0
    while i < len(options):
        name = options[i]
        if name in LIMITS:
            _limit(LIMITS[name], int(options[i + 1]))
            i += 2
            continue
        if name == "--ignore-sigint":
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        elif name == "--pdeathsig":
            die_with_parent()
            if os.getppid() == 1:  # the parent is already gone
                sys.exit(1)
        else:
            sys.exit(f"_launch.py: unknown option {name}")
        i += 1
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
