"""Values as case files write them: numbers, nested lists, input generators;
and the small validators every key's parser uses (each error names its key,
with the nearest known word suggested)."""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import CaseError

GENERATORS = ("random", "eye", "zeros", "ones", "full", "arange")
RANDOM_KINDS = ("normal", "uniform", "spd", "orthogonal")
MAX_ELEMENTS = 10_000_000  # of one input or reference: 80 MB of float64
MAX_NDIM = 32


def suggest(word: Any, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``choices``, or nothing."""
    near = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def check_keys(data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """Refuse a key of ``data`` not in ``allowed``, naming it under ``where``."""
    for key in data:
        if key not in allowed:
            hint = ""
            if any(ch in str(key) for ch in "()[]"):
                hint = ("; it looks like the end of an expression: inside {...} a comma ends a "
                        "value, so quote the expression (\"outer(a, b)\") or use block style")
            raise CaseError(f"unknown key {key!r}{suggest(key, allowed)}; expected one of "
                            f"{', '.join(allowed)}{hint}", key=f"{where}{key}")


def choice(value: Any, choices: Sequence[str], key: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise CaseError(f"{value!r} is not one of {', '.join(choices)}{suggest(value, choices)}",
                        key=key)
    return value


def number(value: Any, key: str) -> float:
    """A float from a number, or a string that reads as one (``"1e-6"``)."""
    if isinstance(value, bool):
        raise CaseError(f"expected a number, not {value!r}", key=key)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise CaseError(f"expected a number, not {value!r}", key=key)


def _ragged(value: Any, key: str) -> None:
    def shape_of(v: Any, path: str) -> tuple[int, ...]:
        if not isinstance(v, list):
            return ()
        shapes = [shape_of(x, f"{path}[{i}]") for i, x in enumerate(v)]
        for i, s in enumerate(shapes[1:], 1):
            if s != shapes[0]:
                raise CaseError(f"ragged array: {path}[{i}] has shape {s}, {path}[0] has "
                                f"{shapes[0]}; rows must all have the same length", key=key)
        return (len(v),) + (shapes[0] if shapes else ())
    shape_of(value, "")


def scalar(value: Any, key: str) -> float | complex:
    """A number, or a complex one written as Python writes it: ``1+2j``,
    ``-0.5j``, ``3e-2-1j`` (YAML reads them as strings)."""
    if isinstance(value, str) and value.strip().lower().endswith("j"):
        try:
            return complex(value.replace(" ", ""))
        except ValueError:
            pass
    return number(value, key)


def literal_array(value: Any, key: str) -> np.ndarray:
    """A float64 array from a YAML number or (rectangular) nested list;
    complex128 where an entry is complex (``1+2j``)."""
    if isinstance(value, list):
        _ragged(value, key)

        def conv(v: Any) -> Any:
            return [conv(x) for x in v] if isinstance(v, list) else scalar(v, key)
        arr = np.array(conv(value))
    else:
        arr = np.array(scalar(value, key))
    return arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64)


def _shape(value: Any, key: str) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in items):
        raise CaseError(f"a shape is a list of non-negative integers, not {value!r}", key=key)
    _bounded(tuple(items), key)
    return tuple(items)


def _bounded(shape: tuple[int, ...], key: str) -> None:
    if len(shape) > MAX_NDIM:
        raise CaseError(f"{len(shape)} dimensions; at most {MAX_NDIM}", key=key)
    size = 1
    for s in shape:
        size *= s
    if size > MAX_ELEMENTS:
        raise CaseError(f"shape {list(shape)} has {size} elements; at most {MAX_ELEMENTS} are "
                        "generated (check very large inputs from Python, with directions=)",
                        key=key)


# -- inputs ---------------------------------------------------------------------------

def _random(spec: Mapping[str, Any], key: str) -> np.ndarray:
    how = spec["random"]
    if how not in RANDOM_KINDS:
        raise CaseError(f"unknown random kind {how!r}{suggest(how, RANDOM_KINDS)}; expected "
                        f"one of {', '.join(RANDOM_KINDS)}", key=f"{key}.random")
    if "shape" not in spec:
        raise CaseError("a random input needs a 'shape'", key=f"{key}.shape")
    shape = _shape(spec["shape"], f"{key}.shape")
    seed = spec.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CaseError(f"the seed must be an integer >= 0, not {seed!r}", key=f"{key}.seed")
    rng = np.random.default_rng(seed)
    scale = number(spec.get("scale", 1.0), f"{key}.scale")
    shift = number(spec.get("shift", 0.0), f"{key}.shift")
    if how == "uniform":
        low = number(spec.get("low", 0.0), f"{key}.low")
        high = number(spec.get("high", 1.0), f"{key}.high")
        return rng.uniform(low, high, shape) * scale + shift
    if how == "normal":
        return rng.standard_normal(shape) * scale + shift
    if len(shape) != 2 or shape[0] != shape[1]:
        raise CaseError(f"random: {how} needs a square shape, not {list(shape)}",
                        key=f"{key}.shape")
    g = rng.standard_normal(shape)
    if how == "spd":
        return (g @ g.T / shape[0] + np.eye(shape[0])) * scale + shift
    q, r = np.linalg.qr(g)
    return q * np.sign(np.diag(r)) * scale + shift


GENERATOR_KEYS = {"random": ("random", "shape", "seed", "scale", "low", "high", "shift"),
                  "full": ("full", "value")}


def generate(spec: Mapping[str, Any], key: str) -> np.ndarray:
    """An input from a generator: ``{random: normal, shape: [3, 3], seed: 0}``,
    ``{eye: 3}``, ``{zeros: [2, 3]}``, ``{ones: [2, 3]}``, ``{full: [2, 3], value: 0.5}``,
    ``{arange: [2, 3]}`` (1, 2, 3, ... in row-major order)."""
    kinds = [g for g in GENERATORS if g in spec]
    if len(kinds) != 1:
        raise CaseError(f"an input generator has exactly one of {', '.join(GENERATORS)}; got "
                        f"keys {', '.join(map(str, spec))}"
                        f"{suggest(next(iter(spec), ''), GENERATORS)}", key=key)
    kind = kinds[0]
    check_keys(spec, GENERATOR_KEYS.get(kind, (kind,)), f"{key}.")
    if kind == "eye":
        shape = _shape(spec["eye"], f"{key}.eye")
        if len(shape) != 1:
            raise CaseError(f"eye takes one size (an n x n identity), not {spec['eye']!r}",
                            key=f"{key}.eye")
        _bounded((shape[0], shape[0]), f"{key}.eye")
        return np.eye(shape[0])
    if kind in ("zeros", "ones"):
        return (np.zeros if kind == "zeros" else np.ones)(_shape(spec[kind], f"{key}.{kind}"))
    if kind == "full":
        return np.full(_shape(spec["full"], f"{key}.full"),
                       number(spec.get("value", 0), f"{key}.value"))
    if kind == "arange":
        shape = _shape(spec["arange"], f"{key}.arange")
        return np.arange(1, int(np.prod(shape)) + 1, dtype=np.float64).reshape(shape)
    return _random(spec, key)


def input_value(value: Any, key: str) -> np.ndarray:
    """An input: a literal, or what its generator makes."""
    if isinstance(value, Mapping):
        return generate(value, key)
    return literal_array(value, key)
