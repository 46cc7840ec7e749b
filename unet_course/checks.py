"""Checks used by the notebooks' tests, with messages that say what was expected and found.

Every check raises ``AssertionError`` naming what was checked, the expected value
and the value found, so a failing test tells the student where to look.
"""

from __future__ import annotations

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
    """``found == expected`` for plain values (numbers, strings, tuples)."""
    if found != expected:
        raise AssertionError(_join(f"{what}: expected {expected!r}, got {found!r}.", hint))


def expect_type(found: Any, types: type | tuple[type, ...], what: str) -> None:
    if not isinstance(found, types):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise AssertionError(f"{what}: expected a {names}, got {type(found).__name__}.")


def expect_shape(found: Any, expected: Sequence[int | None], what: str, hint: str = "") -> None:
    shape = tuple(_numpy(found).shape) if not isinstance(found, tuple) else found
    if tuple(shape) != tuple(expected):
        raise AssertionError(
            _join(f"{what}: expected shape {tuple(expected)}, got {tuple(shape)}.", hint)
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
                f"{what}: expected {e[index]!r}{place}, got {f[index]!r}{tol}; "
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

CONV_KEYS = ("filters", "kernel_size", "strides", "padding", "activation", "initializer")


def describe_layer(layer) -> dict:
    """A Keras 3 layer as a plain dict: class, output shape, parameters and its key settings."""
    out = layer.output
    shape = tuple(out.shape) if not isinstance(out, (list, tuple)) else tuple(out[0].shape)
    info: dict[str, Any] = {
        "class": type(layer).__name__,
        "output_shape": shape,
        "params": int(layer.count_params()) if layer.built else 0,
    }
    config = layer.get_config()
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
    elif type(layer).__name__ == "Activation":
        info["activation"] = _name(config.get("activation"))
    return info


def _name(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):  # serialized objects: {"class_name": "HeNormal", ...}
        return value.get("class_name") or value.get("config", {}).get("name")
    return getattr(value, "__name__", type(value).__name__)


def layer_summary(model) -> list[dict]:
    """``describe_layer`` for every layer of a functional model, in order."""
    return [describe_layer(layer) for layer in model.layers]


def short(info: dict) -> str:
    return f"{info['class']} {info['output_shape']} with {info['params']:,} params"


def compare_layers(found, expected, what: str = "model") -> None:
    """Compare a model layer by layer with an expected summary (a model or a list of dicts).

    Expected entries may carry only some keys (``class``, ``output_shape``, ``params``,
    ``padding`` …): only those are compared. The message names the first layer that
    differs, with the expected and the found values, and a different number of layers
    is always an error (extra layers are not silently ignored).
    """
    got = layer_summary(found) if hasattr(found, "layers") else list(found)
    want = layer_summary(expected) if hasattr(expected, "layers") else list(expected)
    for i, (g, w) in enumerate(zip(got, want)):
        name = f"layer {i} ({found.layers[i].name})" if hasattr(found, "layers") else f"layer {i}"
        main = [k for k in ("class", "output_shape", "params") if k in w]
        if any(g.get(k) != w[k] for k in main):
            raise AssertionError(f"{what}, {name}: expected {_partial(w)}, got {short(g)}.")
        for key in w:
            if key not in main and g.get(key) != w[key]:
                raise AssertionError(
                    f"{what}, {name} ({g['class']}): expected {key}={w[key]!r}, "
                    f"got {key}={g.get(key)!r}."
                )
    if len(got) != len(want):
        if len(got) > len(want):
            detail = f"first extra layer: layer {len(want)}, {short(got[len(want)])}"
        else:
            detail = f"first missing layer: layer {len(got)}, {_partial(want[len(got)])}"
        raise AssertionError(f"{what}: expected {len(want)} layers, got {len(got)} ({detail}).")


def _partial(info: dict) -> str:
    parts = [info.get("class", "a layer")]
    if "output_shape" in info:
        parts.append(str(tuple(info["output_shape"])))
    if "params" in info:
        parts.append(f"with {info['params']:,} params")
    return " ".join(parts)


def expect_params(model, expected: int, what: str = "model") -> None:
    found = int(model.count_params())
    if found != expected:
        raise AssertionError(f"{what}: expected {expected:,} parameters, got {found:,}.")
