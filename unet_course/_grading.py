"""Kept for the autograder: protection of the test helpers inside a kernel being graded.

Not for students, and not used by the notebooks themselves. The grader calls
:func:`install` once, before the first cell of a notebook runs, :func:`restore` before
every graded test cell, and :func:`after` at the end of every graded test cell, *inside
the cell's own execution* (the grader appends the call to the code it sends, so it runs
before anything the submission may have queued for after the cell: IPython's
``post_run_cell`` callbacks, user expressions, the next request). ``install`` takes a
snapshot of what the tests rely on; ``restore`` puts back whatever student code changed
since, and says what it was; ``after`` does the same, also removes trace and profile
hooks, runs a check that must fail, and raises :class:`GradingTampered` when anything
was found (:func:`verdict` tells the grader what it found, or that it never ran):

* the helper modules' attributes (``checks.expect_array = lambda *a, **k: None``), the
  code of their functions (``checks.expect_array.__code__ = ...``) and their entries in
  ``sys.modules`` (a fake ``unet_course.checks``);
* the names the tests use in the notebook (``checks``, ``np``, ``tf``) when they were
  rebound to something else (``checks = FakeChecks()``);
* ``builtins`` (``builtins.sorted = ...``) and the watched modules' attributes
  (``np.any = ...``, ``tf.image.resize = ...``, ``keras.layers.Conv2D = ...``);
* Keras' classes: everything in the class dicts of the classes of the watched Keras
  modules and their Keras base classes (``keras.layers.Conv2D.get_config = ...``,
  ``keras.Model.count_params = ...``, ``keras.Variable.shape``, ``Layer.__call__``);
* IPython's and the kernel's machinery: input and AST transformers, event callbacks,
  methods replaced on the shell, the kernel or their classes, trace and display hooks.

This raises the bar; it cannot make a Python process safe from code running in it.
The grader also runs a check that must fail before each test (a "canary") and flags
code that reaches for these places for a person to review (see autograder/SANDBOX.md).
"""

from __future__ import annotations

import builtins
import importlib
import sys
import threading
import types

_SNAPSHOT: dict | None = None

#: The names test cells use for modules, and the modules they must be.
ALIASES = {
    "checks": "unet_course.checks",
    "np": "numpy",
    "tf": "tensorflow",
    "keras": "keras",
    "layers": "keras.layers",
}
#: Submodules whose attributes are watched too (when their parent is watched).
SUBMODULES = {
    "tensorflow": ("image", "math", "nn", "random", "dtypes"),
    "keras": ("layers", "models", "initializers", "activations", "ops"),
}
#: Class attributes Python itself adds on first access (``cls.__annotations__``).
_LAZY = {"__annotations__"}
#: What :func:`after` found, by the nonce the grader gave it.
_VERDICTS: dict[str, list[str]] = {}


class GradingTampered(Exception):
    """Raised by :func:`after`: the submission changed the tests' machinery during a test."""


_SHELL_LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")


def _functions(namespace: dict) -> dict:
    return {
        name: (value, value.__code__, value.__defaults__, value.__kwdefaults__)
        for name, value in namespace.items()
        if isinstance(value, types.FunctionType)
    }


def _callables(obj) -> dict:
    return {k: v for k, v in vars(obj).items() if callable(v) and not isinstance(v, type)}


def _keras_classes(watched: dict[str, types.ModuleType]) -> list[type]:
    """The classes of the watched Keras modules and their Keras base classes."""
    found: dict[int, type] = {}
    for name, module in watched.items():
        if name.split(".")[0] != "keras":
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type):
                for cls in value.__mro__:
                    if (getattr(cls, "__module__", "") or "").split(".")[0] == "keras":
                        found.setdefault(id(cls), cls)
    return list(found.values())


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:  # not in IPython
        return None
    return get_ipython()


def install(modules=("numpy", "unet_course.checks")) -> list[str]:
    """Import ``modules`` and take the snapshot. Returns the modules watched."""
    global _SNAPSHOT
    watched: dict[str, types.ModuleType] = {}
    for name in modules:
        try:
            watched[name] = importlib.import_module(name)
        except Exception:  # a module the course does not have here
            continue
        for sub in SUBMODULES.get(name, ()):
            module = getattr(watched[name], sub, None)
            if isinstance(module, types.ModuleType):
                watched[f"{name}.{sub}"] = module
    shell = _shell()
    classes = []
    if shell is not None:
        classes = [
            c for c in type(shell).__mro__ if c.__module__.startswith(("IPython", "ipykernel"))
        ]
        kernel = getattr(shell, "kernel", None)
        if kernel is not None:
            classes += [c for c in type(kernel).__mro__ if c.__module__.startswith("ipykernel")]
            session = getattr(kernel, "session", None)
            if session is not None:
                classes += [type(session)]
    _SNAPSHOT = {
        "modules": watched,
        "dicts": {name: dict(vars(m)) for name, m in watched.items()},
        "functions": {
            name: _functions(vars(m)) for name, m in watched.items() if "unet_course" in name
        },
        "builtins": dict(vars(builtins)),
        "classes": [(c, _callables(c)) for c in classes],
        "keras": [(c, dict(vars(c))) for c in _keras_classes(watched)],
        "shell": _shell_state(shell),
        "sys": _sys_hooks(),
        "threads": {t.ident for t in threading.enumerate()},
    }
    return sorted(watched)


def _sys_hooks() -> dict:
    return {k: getattr(sys, k) for k in ("displayhook", "excepthook", "stdout", "stderr")}


def note_cell_state() -> None:
    """Run as cell code right after :func:`install`: what is different while a cell runs.

    IPython and the kernel swap some builtins (``input``, ``exit``) and ``sys`` hooks
    (``displayhook``, ``excepthook``) for the time a cell runs; :func:`after`, which runs
    inside a cell, compares with these.
    """
    if _SNAPSHOT is not None:
        _SNAPSHOT["cell"] = {"builtins": dict(vars(builtins)), "sys": _sys_hooks()}


def _same(now, saved) -> bool:
    # (a bound method is a new object each time it is looked up: ``kernel.raw_input``)
    return now is saved or (isinstance(saved, types.MethodType) and now == saved)


def _shell_state(shell) -> dict:
    if shell is None:
        return {}
    state = {"lists": {n: list(getattr(shell, n, [])) for n in _SHELL_LISTS}}
    state["events"] = {k: list(v) for k, v in shell.events.callbacks.items()}
    state["instance"] = {k: v for k, v in vars(shell).items() if callable(v)}
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        state["kernel"] = (kernel, {k: v for k, v in vars(kernel).items() if callable(v)})
        state["handlers"] = (kernel, dict(getattr(kernel, "shell_handlers", {})))
        session = getattr(kernel, "session", None)
        if session is not None:
            state["session"] = (session, {k: v for k, v in vars(session).items() if callable(v)})
    return state


def _trusted(func) -> bool:
    """Callbacks that IPython, the kernel or matplotlib register themselves (``%matplotlib``)."""
    owner = getattr(func, "__self__", None)
    module = getattr(func, "__module__", None) or type(owner).__module__ or ""
    return module.split(".")[0] in {"IPython", "ipykernel", "matplotlib_inline", "matplotlib"}


def _restore_instance(obj, saved: dict, label: str, changed: list[str]) -> None:
    current = vars(obj)
    for key in [k for k, v in current.items() if callable(v) and k not in saved]:
        if hasattr(type(obj), key):  # an instance attribute hiding a method
            del current[key]
            changed.append(f"{label}.{key}")
    for key, value in saved.items():
        if current.get(key) is not value:
            current[key] = value
            changed.append(f"{label}.{key}")


def restore(namespace: dict | None = None, in_cell: bool = False) -> list[str]:
    """Put back everything of the snapshot that changed; return what was changed.

    ``in_cell``: called from inside a cell (see :func:`note_cell_state`).
    """
    snap = _SNAPSHOT
    if snap is None:
        return ["(the grader's snapshot is missing)"]
    changed: list[str] = []
    hooks = snap.get("cell", snap) if in_cell else snap
    for key, value in hooks["builtins"].items():
        if not _same(vars(builtins).get(key), value):
            setattr(builtins, key, value)
            changed.append(f"builtins.{key}")
    for name, module in snap["modules"].items():
        if sys.modules.get(name, module) is not module:
            sys.modules[name] = module
            changed.append(f"sys.modules[{name!r}]")
        current = vars(module)
        saved = snap["dicts"][name]
        for key, value in saved.items():
            now = current.get(key)
            if now is value or (
                isinstance(value, types.ModuleType) and isinstance(now, types.ModuleType)
            ):
                continue  # (a lazily loaded submodule replaces its loader: not a change)
            current[key] = value
            changed.append(f"{name}.{key}")
        if "unet_course" in name:  # the helper modules: nothing added either
            for key in [k for k in current if k not in saved]:
                del current[key]
                changed.append(f"{name}.{key}")
        for key, (func, code, defaults, kwdefaults) in snap["functions"].get(name, {}).items():
            if func.__code__ is not code or func.__defaults__ != defaults:
                func.__code__, func.__defaults__ = code, defaults
                changed.append(f"{name}.{key}.__code__")
            if func.__kwdefaults__ != kwdefaults:
                func.__kwdefaults__ = kwdefaults
                changed.append(f"{name}.{key}.__kwdefaults__")
        parent, _, attr = name.rpartition(".")
        if parent in snap["modules"] and getattr(snap["modules"][parent], attr, None) is not module:
            setattr(snap["modules"][parent], attr, module)
            changed.append(f"{parent}.{attr}")
    if namespace is not None:
        if namespace.get("__builtins__", builtins) not in (builtins, vars(builtins)):
            namespace["__builtins__"] = builtins
            changed.append("__builtins__")
        for alias, name in ALIASES.items():
            module = snap["modules"].get(name)
            if module is not None and alias in namespace and namespace[alias] is not module:
                namespace[alias] = module
                changed.append(f"the name {alias!r} in the notebook")
    for cls, saved in snap["classes"]:
        current = vars(cls)
        for key, value in saved.items():
            if current.get(key) is not value:
                setattr(cls, key, value)
                changed.append(f"{cls.__name__}.{key}")
    for cls, saved in snap["keras"]:
        _restore_class(cls, saved, changed)
    _restore_shell(snap["shell"], changed)
    for key, value in hooks["sys"].items():
        if not _same(getattr(sys, key), value):
            setattr(sys, key, value)
            changed.append(f"sys.{key}")
    if sys.gettrace() is not None:
        sys.settrace(None)
        changed.append("sys.settrace")
    if sys.getprofile() is not None:
        sys.setprofile(None)
        changed.append("sys.setprofile")
    threading.settrace(None)
    threading.setprofile(None)
    return changed


def _restore_class(cls: type, saved: dict, changed: list[str]) -> None:
    """Put a class dict back as it was: changed, added and deleted attributes."""
    current = vars(cls)
    for key in [k for k in current if k not in saved and k not in _LAZY]:
        try:
            delattr(cls, key)
        except (AttributeError, TypeError):
            pass
        changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
    for key, value in saved.items():
        if key in _LAZY or current.get(key, _MISSING) is value:
            continue
        try:
            setattr(cls, key, value)
        except (AttributeError, TypeError):
            pass
        changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")


_MISSING = object()


def _restore_shell(state: dict, changed: list[str]) -> None:
    shell = _shell()
    if shell is None or not state:
        return
    for name, saved in state["lists"].items():
        current = getattr(shell, name, None)
        if current is not None and list(current) != saved:
            current[:] = saved
            changed.append(f"IPython {name}")
    for event, saved in state["events"].items():
        current = shell.events.callbacks.get(event)
        if current is None:
            continue
        keep = [f for f in current if f in saved or _trusted(f)]
        if keep != list(current):
            current[:] = keep
            changed.append(f"IPython event callbacks ({event})")
    _restore_instance(shell, state["instance"], "the IPython shell", changed)
    if "kernel" in state:
        _restore_instance(*state["kernel"], "the kernel", changed)
        kernel, handlers = state["handlers"]
        if dict(getattr(kernel, "shell_handlers", {})) != handlers:
            kernel.shell_handlers.clear()
            kernel.shell_handlers.update(handlers)
            changed.append("the kernel's message handlers")
    if "session" in state:
        _restore_instance(*state["session"], "the kernel session", changed)


def new_threads() -> list[str]:
    """Threads started since the snapshot (student code running in the background)."""
    if _SNAPSHOT is None:
        return []
    return sorted(t.name for t in threading.enumerate() if t.ident not in _SNAPSHOT["threads"])


def after(nonce: str, a: int, b: int, restore_helpers: bool = True) -> None:
    """End of a graded test cell: undo and report what changed during it, then a canary.

    Called by the code the grader appends to a test cell (the namespace is the caller's).
    Trace and profile hooks are removed first (they could act on this very check), then
    everything :func:`restore` covers is put back; then ``checks.expect_equal(a, b, ...)``
    must fail with the grader's message. Anything found is kept for :func:`verdict` and
    raised as :class:`GradingTampered`, so the cell ends in an error either way.
    """
    found = [
        name
        for name, hook in (("sys.setprofile", sys.getprofile()), ("sys.settrace", sys.gettrace()))
        if hook is not None
    ]
    sys.setprofile(None)
    sys.settrace(None)
    namespace = sys._getframe(1).f_globals
    if restore_helpers:
        found += [c for c in restore(namespace, in_cell=True) if c not in found]
    checks = namespace.get("checks") or (_SNAPSHOT or {}).get("modules", {}).get(
        "unet_course.checks"
    )
    try:
        checks.expect_equal(a, b, f"check {nonce}")
    except AssertionError as exc:
        if nonce not in str(exc):
            found.append("a check that must fail passed (its message was replaced)")
    except Exception as exc:  # noqa: BLE001 (whatever it is, the check did not work)
        found.append(f"a check that must fail raised {type(exc).__name__} instead")
    else:
        found.append("a check that must fail passed")
    _VERDICTS[nonce] = found
    if found:
        raise GradingTampered(
            "the submission interfered with the tests: "
            + ", ".join(found[:8])
            + (" …" if len(found) > 8 else "")
        )


def verdict(nonce: str) -> list[str] | None:
    """What :func:`after` found for ``nonce`` ([] nothing), or None if it did not run."""
    return _VERDICTS.pop(nonce, None)
