"""Checks used by the notebooks' tests, with messages that say what was expected and found.

Every check raises ``AssertionError`` naming what was checked, the expected value
and the value found, so a failing test tells the student where to look.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)


def expect_equal(found: Any, expected: Any, what: str, hint: str = "") -> None:
    """``found == expected`` for plain values (numbers, strings, tuples, lists, dicts).

    ``found`` must be made of plain Python values (NumPy scalars count as numbers), or be
    of exactly the class of ``expected`` when that is not plain (a dtype, a path): an
    object of another class is reported rather than asked whether it is equal, so an
    object that claims to equal everything cannot pass.
    """
    if _is_plain(expected):
        plain = _plain(found, what)
        same = _kind(plain) == _kind(_plain(expected, what)) and plain == expected
    elif type(found) is not type(expected):
        raise AssertionError(
            _join(
                f"{what}: expected {expected!r} (a {type(expected).__name__}), got a "
                f"{type(found).__name__}: {found!r}.",
                hint,
            )
        )
    else:
        same = found == expected
    if not same:
        raise AssertionError(_join(f"{what}: expected {expected!r}, got {found!r}.", hint))


_PLAIN = (bool, int, float, complex, str, bytes, type(None))


def _is_plain(value: Any) -> bool:
    if isinstance(value, np.generic) or type(value) in _PLAIN:
        return True
    if type(value) in (list, tuple):
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def _kind(value: Any) -> type:
    """Numbers compare with numbers (1 == 1.0); a list is not a tuple."""
    return complex if isinstance(value, (bool, int, float, complex)) else type(value)


def _plain(value: Any, what: str) -> Any:
    """``value`` as plain Python data, or an AssertionError naming its type."""
    if isinstance(value, np.generic):
        return value.item()
    if type(value) in _PLAIN:
        return value
    if type(value) in (list, tuple):
        return type(value)(_plain(v, what) for v in value)
    if type(value) is dict:
        return {_plain(k, what): _plain(v, what) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        raise AssertionError(
            f"{what}: expected a plain Python value, got a NumPy array of shape "
            f"{value.shape} (convert it, e.g. with .tolist() or int(...))."
        )
    raise AssertionError(f"{what}: expected a plain Python value, got a {type(value).__name__}.")


def expect_type(found: Any, types: type | tuple[type, ...], what: str) -> None:
    if not isinstance(found, types):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise AssertionError(f"{what}: expected a {names}, got {type(found).__name__}.")


def expect_shape(found: Any, expected: Sequence[int | None], what: str, hint: str = "") -> None:
    """``found`` (an array, a tensor or nested lists) has the shape ``expected``."""
    if found is None:
        raise AssertionError(f"{what}: got None. Did the function forget to `return` its result?")
    shape = getattr(found, "shape", None)
    shape = tuple(_numpy(found).shape) if shape is None else tuple(shape)
    shape = tuple(None if d is None else int(d) for d in shape)
    if shape != tuple(expected):
        raise AssertionError(
            _join(f"{what}: expected shape {tuple(expected)}, got {shape}.", hint)
        )


def expect_array(
    found: Any,
    expected: Any,
    what: str,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    hint: str = "",
) -> None:
    """Same shape and values (exactly, or within ``atol``/``rtol``); names the first difference."""
    if found is None:
        raise AssertionError(f"{what}: got None. Did the function forget to `return` its result?")
    f, e = _numpy(found), _numpy(expected)
    expect_shape(f, e.shape, what, hint)
    if f.dtype.kind in "OSU" and e.dtype.kind not in "OSU":
        raise AssertionError(f"{what}: expected numbers, got an array of {f.dtype}.")
    if atol or rtol:
        bad = ~np.isclose(f.astype(float), e.astype(float), atol=atol, rtol=rtol)
    else:
        bad = f != e
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        place = f" at index {index}" if index else ""
        tol = f" (tolerance {atol:g})" if atol else ""
        raise AssertionError(
            _join(
                f"{what}: expected {e[index].tolist()!r}{place}, got {f[index].tolist()!r}{tol}; "
                f"{int(bad.sum())} of {bad.size} values differ.",
                hint,
            )
        )


def expect_close(found: Any, expected: Any, what: str, atol: float = 1e-6, hint: str = "") -> None:
    expect_array(found, expected, what, atol=atol, hint=hint)


def expect_values_in(found: Any, allowed: Iterable, what: str, hint: str = "") -> None:
    """Every value of ``found`` is one of ``allowed`` (e.g. class ids)."""
    values = np.unique(_numpy(found))
    extra = sorted(set(values.tolist()) - set(allowed))
    if extra:
        raise AssertionError(
            _join(f"{what}: values must be in {sorted(allowed)}, found also {extra[:10]}.", hint)
        )


def expect_dtype(found: Any, kinds: str, what: str, hint: str = "") -> None:
    """numpy dtype kind: ``"iu"`` integers, ``"f"`` floats, ``"b"`` booleans."""
    dtype = _numpy(found).dtype
    if dtype.kind not in kinds:
        names = {"i": "signed integer", "u": "unsigned integer", "f": "float", "b": "bool"}
        want = " or ".join(names.get(k, k) for k in kinds)
        raise AssertionError(_join(f"{what}: expected a {want} array, got dtype {dtype}.", hint))


def expect_raises(call: Callable[[], Any], errors: type | tuple[type, ...], what: str) -> None:
    """``call()`` raises one of ``errors`` (e.g. a clear ``ValueError`` on bad input)."""
    try:
        call()
    except errors:
        return
    except Exception as exc:  # the wrong kind of error is a finding, not a crash of the test
        names = (
            errors.__name__ if isinstance(errors, type) else "/".join(e.__name__ for e in errors)
        )
        raise AssertionError(f"{what}: expected {names}, got {type(exc).__name__}: {exc}") from None
    raise AssertionError(f"{what}: expected an error, but the call returned normally.")


def _join(message: str, hint: str) -> str:
    return f"{message} Hint: {hint}" if hint else message


# --------------------------------------------------------------------------- Keras 3 layers
#
# Keras 3 removed ``layer.output_shape``; everything below reads ``layer.output.shape``.
# A layer is described as a plain dict (class, output shape, parameters and the settings
# that matter for a U-Net), so expected architectures can be written down as lists of
# dicts that carry only the keys a test cares about (see ``spec``).

CONV_KEYS = ("filters", "kernel_size", "strides", "padding", "activation", "initializer")
MAIN_KEYS = ("class", "output_shape", "params")


def describe_layer(layer) -> dict:
    """A Keras 3 layer as a plain dict: class, output shape, parameters and its key settings.

    Convolutions (``Conv2D``, ``Conv2DTranspose``) add filters, kernel_size, strides,
    padding, activation and initializer (the kernel initializer's class name, e.g.
    ``"HeNormal"``); pooling adds pool_size, strides and padding; ``Dropout`` its rate;
    ``Cropping2D`` its cropping; ``Concatenate`` its axis (counted from the front, so -1
    and 3 agree for 4-D tensors); ``Activation`` its activation.
    """
    try:
        out = layer.output
    except (AttributeError, ValueError, RuntimeError):  # never called, or called twice
        out = None
    if isinstance(out, (list, tuple)):
        out = out[0] if out else None
    shape = tuple(out.shape) if out is not None else None
    info: dict[str, Any] = {
        "class": type(layer).__name__,
        "output_shape": shape,
        "params": count_weights(layer) if layer.built else 0,
    }
    config = _keras_method(layer, "get_config")()
    if "filters" in config and "kernel_size" in config:
        info.update(
            filters=config["filters"],
            kernel_size=tuple(config["kernel_size"]),
            strides=tuple(config["strides"]),
            padding=config["padding"],
            activation=_name(config.get("activation")),
            initializer=_name(config.get("kernel_initializer")),
        )
    elif "pool_size" in config:
        info.update(
            pool_size=tuple(config["pool_size"]),
            strides=tuple(config["strides"]),
            padding=config["padding"],
        )
    elif "rate" in config:
        info["rate"] = config["rate"]
    elif "cropping" in config:
        info["cropping"] = tuple(tuple(c) for c in config["cropping"])
    elif type(layer).__name__ == "Concatenate":
        axis = config.get("axis", -1)
        if axis is not None and axis < 0 and shape is not None:
            axis += len(shape)  # -1 and 3 are the same axis of a 4-D tensor
        info["axis"] = axis
    elif type(layer).__name__ == "Activation":
        info["activation"] = _name(config.get("activation"))
    elif type(layer).__name__ == "ReLU":  # plain ReLU only: no cap, slope or threshold
        info["plain_relu"] = not (
            config.get("max_value") is not None
            or config.get("negative_slope")
            or config.get("threshold")
        )
    return info


def _keras_method(obj, name: str):
    """``obj.<name>`` as Keras defines it, not as an instance or a subclass outside Keras does.

    (``layer.get_config = lambda: {...}`` on a layer, or a student's subclass that
    overrides it, cannot change what the checks read.)
    """
    for cls in type(obj).__mro__:
        if (getattr(cls, "__module__", "") or "").split(".")[0] == "keras" and name in vars(cls):
            return vars(cls)[name].__get__(obj, type(obj))
    return getattr(obj, name)


def count_weights(model) -> int:
    """Parameters of a Keras model or layer, counted from the shapes of its weights.

    Read through Keras' own ``Layer.weights`` (not ``count_params()``, which a
    submission can replace on its model), each shared weight once.
    """
    import keras

    if not isinstance(model, keras.layers.Layer):
        raise AssertionError(f"expected a Keras model or layer, got {type(model).__name__}.")
    unique = {id(w): w for w in keras.layers.Layer.weights.fget(model)}
    total = 0
    for weight in unique.values():
        size = 1
        for dim in tuple(weight.shape):
            size *= int(dim)
        total += size
    return total


def _name(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):  # serialized objects: {"class_name": "HeNormal", ...}
        return value.get("class_name") or value.get("config", {}).get("name")
    return getattr(value, "__name__", type(value).__name__)


def spec(cls: str, output_shape=None, params: int | None = None, **settings) -> dict:
    """An expected layer for ``compare_layers``: only the keys given are compared.

    ``spec("Conv2D", (None, 48, 64, 64), 36_928, padding="same", activation="relu")``
    """
    info: dict[str, Any] = {"class": cls}
    if output_shape is not None:
        info["output_shape"] = _tuples(output_shape)
    if params is not None:
        info["params"] = int(params)
    for key, value in settings.items():
        info[key] = _tuples(value)
    return info


def _tuples(value):
    """Lists (also nested ones) as tuples, the way ``describe_layer`` reports settings."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def layer_summary(model, skip_inputs: bool = False) -> list[dict]:
    """``describe_layer`` for every layer of a functional model, in order.

    Keras orders a functional model's layers by their distance from the output (then
    by the order in which the graph is traversed), not by when they were created, so
    the order depends only on how the layers are connected. ``skip_inputs`` leaves the
    ``InputLayer``s out: in a model with several inputs they sit between other layers.
    """
    return [info for _, info in _labelled(model, skip_inputs)]


def _labelled(model, skip_inputs: bool) -> list[tuple[str, dict]]:
    """(label, description) pairs; the label names the layer for messages.

    A convolution (or dense layer) without activation followed by a layer that only
    applies an activation (``Activation("relu")``, ``ReLU()``) computes the same function
    as the convolution with that activation: the pair is described as that one layer
    (with ``folded`` set), so either way of writing it compares equal.
    """
    if hasattr(model, "layers"):
        pairs = [(layer.name, describe_layer(layer)) for layer in model.layers]
    else:  # a list of layer descriptions (dicts) or of Keras layers, e.g. model.layers[-2:]
        pairs = [
            ("", dict(item)) if isinstance(item, dict) else (item.name, describe_layer(item))
            for item in model
        ]
    if skip_inputs:
        pairs = [p for p in pairs if p[1].get("class") != "InputLayer"]
    pairs = _fold_activations(pairs)
    return [
        (f"layer {i} ({name})" if name else f"layer {i}", info)
        for i, (name, info) in enumerate(pairs)
    ]


def _activation_of(info: dict) -> str | None:
    """The activation a pure activation layer applies (None: not such a layer)."""
    if info.get("class") == "Activation":
        return info.get("activation")
    if info.get("class") == "ReLU" and info.get("plain_relu", True):
        return "relu"
    return None


def _fold_activations(pairs: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    folded: list[tuple[str, dict]] = []
    for name, info in pairs:
        act = _activation_of(info)
        if act is not None and folded:
            prev_name, prev = folded[-1]
            if "activation" in prev and prev.get("activation") in (None, "linear") and (
                prev.get("class") != "Activation"
            ):
                merged = dict(prev, activation=act, folded=True)
                if info.get("output_shape") is not None:
                    merged["output_shape"] = info["output_shape"]
                if prev.get("params") is not None or info.get("params") is not None:
                    merged["params"] = (prev.get("params") or 0) + (info.get("params") or 0)
                folded[-1] = (f"{prev_name} + {name}" if prev_name else prev_name, merged)
                continue
        folded.append((name, info))
    return folded


FOLD_NOTE = (
    "(A convolution followed by its own activation layer counts as one convolution with "
    "that activation.)"
)


def short(info: dict) -> str:
    """``Conv2D (None, 48, 64, 64) with 36,928 params``."""
    return _partial(info)


def _partial(info: dict) -> str:
    parts = [info.get("class", "a layer")]
    if info.get("output_shape") is not None:
        parts.append(str(tuple(info["output_shape"])))
    if info.get("params") is not None:
        parts.append(f"with {info['params']:,} params")
    return " ".join(parts)


def _differs(got: dict, want: dict) -> bool:
    return any(got.get(key) != value for key, value in want.items() if key != "folded")


def _signature(info: dict, keys: tuple[str, ...]) -> tuple:
    return tuple(info.get(k) for k in keys)


def _count_detail(got: list, want: list) -> str:
    """Where the layer lists part ways: the first extra, missing or different layer.

    The lists are aligned by layer class and output shape (difflib), so one inserted
    layer is reported as that layer, not as the first of many that "differ".
    """
    keys = ("class", "output_shape") if all("output_shape" in w for w in want) else ("class",)
    matcher = difflib.SequenceMatcher(
        a=[_signature(w, keys) for w in want],
        b=[_signature(g, keys) for _, g in got],
        autojunk=False,
    )
    for tag, i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert":
            label, info = got[j1]
            return f"first extra layer: {label}, {short(info)}"
        if tag == "delete":
            after = f", after {got[j1 - 1][0]}" if j1 > 0 else ", at the start"
            return f"first missing layer: expected layer {i1}, {_partial(want[i1])}{after}"
        label, info = got[j1]
        return f"first difference: {label}: expected {_partial(want[i1])}, got {short(info)}"
    return "the layers match apart from their number"  # pragma: no cover


def compare_layers(
    found, expected, what: str = "model", *, skip_inputs: bool = False, hint: str = ""
) -> None:
    """Compare a model layer by layer with an expected summary (a model or a list of dicts).

    ``found`` may also be a list of layers (``model.layers[-2:]``), ``expected`` a list of
    layers or of dicts.

    Expected entries may carry only some keys (``class``, ``output_shape``, ``params``,
    ``padding`` …, see ``spec``): only those are compared. A convolution followed by its
    own activation layer counts as the convolution with that activation. A different
    number of layers is always an error (extra layers are never silently ignored),
    reported with the first extra, missing or different layer; otherwise the message
    names the first layer that differs, with the expected and the found values, e.g.
    ``model, layer 4 (conv2d_3): expected Conv2D (None, 48, 64, 64) with 36,928 params,
    got Conv2D (None, 48, 64, 32) with 18,464 params.``
    """
    if found is None:
        raise AssertionError(f"{what}: got None instead of a model.")
    got = _labelled(found, skip_inputs)
    want = [info for _, info in _labelled(expected, skip_inputs)]
    note = FOLD_NOTE if any(g.get("folded") for _, g in got) else ""
    if len(got) != len(want):
        count = f"{len(want)} layer{'s' if len(want) != 1 else ''}"
        kind = " (not counting inputs)" if skip_inputs else ""
        message = f"{what}: expected {count}{kind}, got {len(got)}; {_count_detail(got, want)}."
        raise AssertionError(_join(" ".join(filter(None, [message, note])), hint))
    first = next((i for i, ((_, g), w) in enumerate(zip(got, want)) if _differs(g, w)), None)
    if first is None:
        return
    (label, g), w = got[first], want[first]
    main = [k for k in MAIN_KEYS if k in w]
    if any(g.get(k) != w[k] for k in main):
        message = f"{what}, {label}: expected {_partial(w)}, got {short(g)}."
    else:
        key = next(k for k in w if k != "folded" and g.get(k) != w[k])
        message = (
            f"{what}, {label} ({g['class']}): expected {key}={w[key]!r}, got {key}={g.get(key)!r}."
        )
    raise AssertionError(_join(" ".join(filter(None, [message, note])), hint))


def expect_params(model, expected: int, what: str = "model", hint: str = "") -> None:
    """The model (or layer) has exactly ``expected`` parameters."""
    if model is None:
        raise AssertionError(f"{what}: got None instead of a model.")
    if not getattr(model, "built", True):
        raise AssertionError(f"{what}: the model is not built yet (call it on an input first).")
    found = count_weights(model)
    said = model.count_params()
    if type(said) is not int or said != found:  # (a model whose count_params() was replaced)
        raise AssertionError(
            f"{what}: count_params() says {said!r} parameters, but its weights hold {found:,}."
        )
    if found != expected:
        raise AssertionError(
            _join(f"{what}: expected {expected:,} parameters, got {found:,}.", hint)
        )


def expect_keras_tensor(found: Any, shape: Sequence[int | None], what: str, hint: str = "") -> None:
    """``found`` is one (symbolic) tensor of the given shape, e.g. ``(None, 48, 64, 64)``."""
    if found is None:
        raise AssertionError(f"{what}: got None. Did the function forget to `return` its result?")
    if isinstance(found, (tuple, list)):
        raise AssertionError(
            _join(
                f"{what}: expected one tensor, got a {type(found).__name__} of {len(found)}.", hint
            )
        )
    if not hasattr(found, "shape"):
        raise AssertionError(f"{what}: expected a tensor, got {type(found).__name__}.")
    got = tuple(None if d is None else int(d) for d in found.shape)
    if got != tuple(shape):
        raise AssertionError(_join(f"{what}: expected shape {tuple(shape)}, got {got}.", hint))


def compare_layers_either(
    found, alternatives, what: str = "model", *, skip_inputs: bool = False, hint: str = ""
) -> None:
    """``compare_layers`` against several equally right layer lists; one must match.

    Two right answers can list their layers in different orders: concatenating
    ``[skip, up]`` instead of ``[up, skip]`` makes Keras list a skip's ``Cropping2D``
    before the ``Conv2DTranspose`` instead of after it. ``alternatives`` holds one expected
    list per right answer. When none matches, the message is the one of the alternative
    whose sequence of layer classes is closest to ``found``, so it points at the student's
    own mistake and not at the order they chose.
    """
    alternatives = list(alternatives)
    if not alternatives:
        raise ValueError("compare_layers_either needs at least one expected layer list")
    failures = []
    for expected in alternatives:
        try:
            compare_layers(found, expected, what, skip_inputs=skip_inputs, hint=hint)
            return
        except AssertionError as exc:
            failures.append(exc)
    if found is None or len(failures) == 1:
        raise failures[0]
    classes = [info.get("class") for _, info in _labelled(found, skip_inputs)]

    def closeness(expected) -> float:
        want = [info.get("class") for _, info in _labelled(expected, skip_inputs)]
        return difflib.SequenceMatcher(a=want, b=classes, autojunk=False).ratio()

    best = max(range(len(alternatives)), key=lambda i: closeness(alternatives[i]))
    raise failures[best]


def expect_raises_naming(
    call: Callable[[], Any],
    errors: type | tuple[type, ...],
    words: Sequence[str],
    what: str,
) -> None:
    """``call()`` raises one of ``errors`` with a message that contains each of ``words``.

    For functions whose docstring promises a message that names what was wrong
    (``ValueError: ... found [1, 2, 4]``): raising is not enough, the message must say it.
    A function that does not exist (``NameError``) or is not answered yet
    (``NotImplementedError``) is not a wrong error: that error itself reaches the student,
    with the grader's reason (e.g. why the answer cell failed).
    """
    try:
        call()
    except (NameError, NotImplementedError):
        raise
    except errors as exc:
        missing = [w for w in words if w not in str(exc)]
        if missing:
            raise AssertionError(
                f"{what}: the {type(exc).__name__} should name {', '.join(map(repr, missing))}; "
                f"its message is {str(exc)!r}."
            ) from None
        return
    except Exception as exc:
        names = (
            errors.__name__ if isinstance(errors, type) else "/".join(e.__name__ for e in errors)
        )
        raise AssertionError(f"{what}: expected {names}, got {type(exc).__name__}: {exc}") from None
    raise AssertionError(f"{what}: expected an error, but the call returned normally.")


def input_of(model, layer_name: str):
    """A model from ``model``'s inputs to what its layer ``layer_name`` receives.

    For a layer (a nested model, such as an encoder) called once inside a functional model:
    running the result on images shows what the model feeds that layer, e.g. whether the
    images were rescaled first. Fails with a message naming the layer if it is not there
    or not reached from the model's inputs.
    """
    import keras

    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        names = [layer.name for layer in model.layers]
        message = f"the model has no layer {layer_name!r}; its layers: {names}"
        raise AssertionError(message) from None
    # one input as a tensor, not a list of one: the model is then called on a plain array
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    for node in reversed(layer._inbound_nodes):
        tensors = node.input_tensors
        if not tensors:
            continue
        try:
            return keras.Model(inputs, tensors[0])
        except ValueError:  # a call of the layer outside this model
            continue
    raise AssertionError(f"{layer_name!r} is not called on the inputs of the model {model.name!r}")


def expect_runs(call: Callable[[], Any], what: str, hint: str = "") -> Any:
    """The value of ``call()``; if it raises, an AssertionError that says what was tried.

    For an exercise's function on an input the visible tests do not show: the student
    reads which input failed and how, instead of a bare error from deep inside TensorFlow.
    """
    try:
        return call()
    except Exception as error:  # any failure of the student's code on this input
        message = f"{what} failed: {type(error).__name__}: {str(error)[:300]}"
        raise AssertionError(_join(message, hint)) from error
