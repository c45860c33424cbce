"""The one declaration of a case's keys: their values, defaults and limits.

Everything about a key derives from :data:`KEYS`: the case-file loader
validates each key by its parser (errors name the key, with the nearest known
key suggested), the Python API validates its keywords by the same parsers,
``fdcheck schema`` prints :func:`json_schema` for editors, and a test keeps
the reference's key table (docs/cases.md) equal to it. Adding a case key
means adding its :class:`Key` here and the check that uses it.

No YAML here, and no engine: the Python API imports this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .case import Case, Expected, PythonRef, Ref, Stage
from .tolerances import AUTO_FACTOR
from .complexify import literal_case
from .errors import CaseError, ExpressionError
from .expr import Expression
from .layout import check_order
from .stencils import ALL_SCHEMES, Method
from .explore import parse_spec as parse_explore_spec
from .values import (RANDOM_KINDS, check_keys, choice, input_value, literal_array, number,
                     suggest)

MODES = ("reverse", "forward")
MAX_DIRECTIONS = 10_000
TOLERANCE_KEYS = ("atol", "rtol", "auto")
DTYPES = ("float64", "float32")
BACKENDS = ("numpy", "torch", "jax")
AUTOGRAD = ("torch", "jax")
EXPECT_KEYS = ("value", "gradient", "jacobian", "hessian", "stages")
STAGE_EXPECT_KEYS = ("value", "gradient", "jacobian", "hessian")


def parse_inputs(value: Any) -> dict[str, np.ndarray]:
    if not isinstance(value, Mapping) or not value:
        raise CaseError("'inputs' must be a mapping NAME -> value", key="inputs")
    inputs = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
            raise CaseError(f"an input name must be an identifier, not {k!r}", key=f"inputs.{k}")
        inputs[k] = input_value(v, f"inputs.{k}")
    return inputs


# -- function and references ----------------------------------------------------------

def python_ref(value: Mapping[str, Any], key: str) -> PythonRef:
    target = value.get("python")
    if set(value) != {"python"} or not isinstance(target, str) or ":" not in target:
        raise CaseError("a Python reference is {python: \"package.module:callable\"}", key=key)
    return PythonRef(target)


def reference(value: Any, key: str, names: frozenset[str]) -> Ref:
    """A literal, an expression over ``names``, or ``{python: ...}``."""
    if isinstance(value, str):
        try:
            return literal_array(value, key)
        except CaseError:
            pass
        try:
            return Expression(value, names)
        except ExpressionError as exc:
            raise CaseError(str(exc), key=key) from None
    if isinstance(value, Mapping):
        if "python" in value:
            return python_ref(value, key)
        raise CaseError("expected a number, a nested list, an expression or {python: ...}",
                        key=key)
    return literal_array(value, key)


def _stage(name: Any, body: Any, key: str, names: set[str], inputs: Mapping[str, Any]) -> Stage:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise CaseError(f"a stage name must be an identifier, not {name!r}", key=key)
    if name in inputs:
        raise CaseError(f"the stage {name!r} has the name of an input", key=key)
    if isinstance(body, Mapping):
        return Stage(name, python_ref(body, key), tuple(sorted(names)))
    if isinstance(body, (str, int, float)) and not isinstance(body, bool):
        try:
            expr = Expression(str(body), names)
        except ExpressionError as exc:
            hint = ("; inside {...} a comma ends a value: quote the expression "
                    "(\"outer(a, b)\") or write it in block style"
                    if "never closed" in str(exc) else "")
            raise CaseError(f"{exc}{hint}", key=key) from None
        return Stage(name, expr, tuple(sorted(expr.used)))
    raise CaseError(f"a stage is an expression, not {type(body).__name__}", key=key)


def parse_function(function: Any, inputs: Mapping[str, Any]) -> tuple[Stage, ...]:
    """An expression, ``{python: ...}``, or a mapping of named stages."""
    if isinstance(function, (str, int, float)) and not isinstance(function, bool) or \
            (isinstance(function, Mapping) and set(function) == {"python"}):
        function = {"f": function}
    if not isinstance(function, Mapping) or not function:
        raise CaseError("'function' is an expression, {python: ...}, or a mapping of named "
                        "stages", key="function")
    names = set(inputs)
    stages = []
    for name, body in function.items():
        key = f"function.{name}" if len(function) > 1 else "function"
        stages.append(_stage(name, body, key, names, inputs))
        names.add(name)
    return tuple(stages)


def parse_wrt(value: Any, inputs: Mapping[str, Any]) -> tuple[str, ...]:
    wrt = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) \
        else None
    if not wrt or not all(isinstance(w, str) for w in wrt):
        raise CaseError(f"'wrt' is an input name or a list of them, not {value!r}", key="wrt")
    for w in wrt:
        if w not in inputs:
            raise CaseError(f"{w!r} is not an input{suggest(w, inputs)}; inputs: "
                            f"{', '.join(inputs)}", key="wrt")
    if len(set(wrt)) != len(wrt):
        raise CaseError(f"'wrt' names an input twice: {list(wrt)}", key="wrt")
    return wrt


def _per_wrt(value: Any, key: str, wrt: tuple[str, ...], allowed: tuple[str, ...],
             names: frozenset[str]) -> dict[str, Ref]:
    if isinstance(value, Mapping) and "python" not in value:
        out = {}
        for name, v in value.items():
            if name not in allowed:
                raise CaseError(f"{name!r} is not differentiated (wrt: {', '.join(allowed)})"
                                f"{suggest(name, allowed)}", key=f"{key}.{name}")
            out[name] = reference(v, f"{key}.{name}", names)
        return out
    if len(wrt) != 1:
        raise CaseError(f"wrt names several inputs ({', '.join(wrt)}): give a mapping "
                        "NAME -> value", key=key)
    return {wrt[0]: reference(value, key, names)}


def _expected(data: Any, where: str, wrt: tuple[str, ...], names: frozenset[str],
              allowed: Sequence[str], differentiable: tuple[str, ...] | None = None) -> Expected:
    if not isinstance(data, Mapping):
        raise CaseError("expected a mapping", key=where.rstrip("."))
    check_keys(data, allowed, where)
    value = reference(data["value"], f"{where}value", names) if "value" in data else None
    diff = differentiable or wrt
    per = {kind: _per_wrt(data[kind], f"{where}{kind}", wrt, diff, names) if kind in data else {}
           for kind in ("gradient", "jacobian", "hessian")}
    return Expected(value, per["gradient"], per["jacobian"], hessian=per["hessian"])


def parse_expect(value: Any, stages: tuple[Stage, ...], wrt: tuple[str, ...],
                 inputs: Mapping[str, Any]) -> tuple[Expected, dict[str, Expected]]:
    """``expect`` and its ``stages`` part, each reference read over the names
    it may use (the inputs and the stages)."""
    if not value:
        return Expected(), {}
    names = frozenset(inputs) | {s.name for s in stages}
    expect = _expected(value, "expect.", wrt, names, EXPECT_KEYS)
    raw = value.get("stages")
    if raw is None:
        return expect, {}
    if not isinstance(raw, Mapping):
        raise CaseError("expect.stages is a mapping STAGE -> {value, gradient, jacobian, hessian}",
                        key="expect.stages")
    order = [s.name for s in stages]
    out = {}
    for name, data in raw.items():
        if name not in order:
            raise CaseError(f"{name!r} is not a stage{suggest(name, order)}",
                            key=f"expect.stages.{name}")
        earlier = tuple(order[:order.index(name)])
        out[name] = _expected(data, f"expect.stages.{name}.", wrt, names, STAGE_EXPECT_KEYS,
                              wrt + earlier)
    return expect, out


# -- the other keys -------------------------------------------------------------------

def parse_tolerance(value: Any, key: str = "tolerance") -> dict[str, float] | None:
    """``{atol, rtol}``, or ``auto`` / ``{auto: factor}`` (judge each entry by the
    engine's own error estimate)."""
    if value is None:
        return None
    if value == "auto":
        return {"auto": AUTO_FACTOR}
    if not isinstance(value, Mapping):
        raise CaseError(f"a tolerance is auto or a mapping {{atol: ..., rtol: ...}}, not "
                        f"{value!r}", key=key)
    check_keys(value, TOLERANCE_KEYS, f"{key}.")
    if value.get("auto") is True:
        value = {**value, "auto": AUTO_FACTOR}
    elif value.get("auto") is False:
        value = {k: v for k, v in value.items() if k != "auto"}
    return {k: tolerance_number(v, f"{key}.{k}") for k, v in value.items()}


def tolerance_number(value: Any, key: str) -> float:
    """A finite number >= 0: an infinite tolerance passes anything."""
    v = number(value, key)
    if not (np.isfinite(v) and v >= 0):
        raise CaseError(f"must be a finite number >= 0, not {v}", key=key)
    return v


def parse_order(value: Any, key: str = "order") -> str:
    try:
        return check_order(value)
    except ValueError as exc:
        raise CaseError(str(exc), key=key) from None


def parse_method(value: Any, key: str = "method") -> Method:
    try:
        return Method.parse(value)
    except (ValueError, TypeError) as exc:
        raise CaseError(str(exc), key=key) from None


def parse_sparsity(value: Any, key: str = "sparsity") -> Any:
    """``diagonal``, ``detect``, ``{band: [lower, upper]}``, ``{blocks: k}`` or a 0/1 matrix."""
    if value is None or (isinstance(value, str) and value in ("diagonal", "detect")):
        return value
    if isinstance(value, Mapping):
        if set(value) == {"band"} and isinstance(value["band"], list) and len(value["band"]) == 2 \
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                        for v in value["band"]):
            return {"band": list(value["band"])}
        if set(value) == {"blocks"} and isinstance(value["blocks"], int) and value["blocks"] > 0:
            return dict(value)
    elif isinstance(value, list):
        try:
            arr = np.asarray(value, dtype=float)
        except (ValueError, TypeError):
            arr = None
        if arr is not None and arr.ndim == 2:
            return arr != 0
    raise CaseError(f"sparsity is diagonal, detect, {{band: [lower, upper]}}, {{blocks: k}} or "
                    f"a 0/1 matrix, not {value!r}", key=key)


def parse_directions(value: Any, key: str = "directions") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 1 <= value <= MAX_DIRECTIONS:
        raise CaseError(f"the number of random directions is an integer from 1 to "
                        f"{MAX_DIRECTIONS}, not {value!r}", key=key)
    return int(value)


def parse_derivatives(value: Any, key: str = "derivatives") -> int:
    if isinstance(value, bool) or value not in (1, 2):
        raise CaseError(f"derivatives is 1 or 2, not {value!r}", key=key)
    return int(value)


def parse_modes(value: Any, key: str = "modes") -> tuple[str, ...]:
    modes = (value,) if isinstance(value, str) else tuple(value) \
        if isinstance(value, (list, tuple)) and value else None
    if modes is None:
        raise CaseError(f"modes is a list among {', '.join(MODES)}, not {value!r}", key=key)
    for mode in modes:
        choice(mode, MODES, key)
    return tuple(dict.fromkeys(modes))


BEHAVIOURS = ("reentrant", "undefined-grad", "dtypes", "batched", "batched-forward",
              "batched-second")


def parse_behaviours(value: Any, key: str = "behaviours") -> tuple[str, ...]:
    if value is None:
        return ()
    listed = (value,) if isinstance(value, str) else tuple(value) \
        if isinstance(value, (list, tuple)) else None
    if listed is None:
        raise CaseError(f"behaviours is a list among {', '.join(BEHAVIOURS)}, not {value!r}",
                        key=key)
    for b in listed:
        choice(b, BEHAVIOURS, key)
    return tuple(dict.fromkeys(listed))


def parse_nondet_tol(value: Any, key: str = "nondet_tol") -> float:
    return tolerance_number(value, key)


STRUCTURES = ("symmetric", "spd", "lower", "upper", "diagonal", "skew", "orthogonal")
CONVENTIONS = ("projected", "entries")


def parse_structure(value: Any, key: str = "structure") -> dict[str, str]:
    """``{S: symmetric, Q: orthogonal}``: input name -> structure."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CaseError(f"structure maps input names to one of {', '.join(STRUCTURES)}, not "
                        f"{value!r}", key=key)
    for name, kind in value.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise CaseError(f"{name!r} is not an input name", key=key)
        choice(kind, STRUCTURES, f"{key}.{name}")
    return dict(value)


def parse_convention(value: Any, key: str = "convention") -> str:
    return str(choice(value, CONVENTIONS, key))


GAUGES = ("column-sign", "column-phase")


def parse_locate(value: Any, key: str = "locate") -> bool | str | None:
    """true, false, or ``ops`` (built-in operations too: the first whose
    backward returns NaN)."""
    if value is not None and not isinstance(value, bool) and value != "ops":
        raise CaseError(f"locate is true, false or 'ops', not {value!r}", key=key)
    return value




def parse_gauge(value: Any, key: str = "gauge") -> Any:
    """``column-sign`` or ``column-phase``; in the API, also a mapping from an
    output's position or key (of a function returning several) to one."""
    if value is None:
        return None
    if isinstance(value, Mapping) and value:
        for k, kind in value.items():
            choice(kind, GAUGES, f"{key}.{k}")
        return dict(value)
    return choice(value, GAUGES, key)


def parse_autograd(value: Any, key: str = "autograd") -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (str, list)):
        raise CaseError(f"autograd is a name or a list among {', '.join(AUTOGRAD)}, not "
                        f"{value!r}", key=key)
    names = (value,) if isinstance(value, str) else tuple(value)
    for name in names:
        choice(name, AUTOGRAD, key)
    return tuple(dict.fromkeys(names))


def _name(value: Any, key: str = "name") -> str:
    if value is None or (isinstance(value, str) and not value.strip()) \
            or isinstance(value, (Mapping, list)):
        raise CaseError("every case needs a 'name'", key=key)
    return str(value)


def _text(value: Any, key: str) -> str | None:
    return None if value is None else str(value)


# -- the declaration --------------------------------------------------------------------

NUMBER: dict[str, Any] = {"anyOf": [{"type": "number"},
                                    {"type": "string", "pattern": r"^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$"}]}
NONNEGATIVE: dict[str, Any] = {"anyOf": [{"type": "number", "minimum": 0},
                                         {"type": "string",
                                          "pattern": r"^[+]?[0-9.]+([eE][-+]?[0-9]+)?$"}]}
_REAL = r"[0-9.]*([eE][-+]?[0-9]+)?"   # an array's entry may be complex: "1+2j", "-0.5j"
COMPLEX: dict[str, Any] = {"type": "string", "pattern": rf"^ *[-+]?{_REAL} *([-+] *{_REAL})? *[jJ] *$"}
NESTED: dict[str, Any] = {"anyOf": [NUMBER, COMPLEX,
                                    {"type": "array", "items": {"$ref": "#/$defs/nested"}}]}
PYTHON: dict[str, Any] = {"type": "object", "properties": {"python": {"type": "string"}},
                          "required": ["python"], "additionalProperties": False}
REFERENCE: dict[str, Any] = {"anyOf": [{"$ref": "#/$defs/nested"}, {"type": "string"}, PYTHON]}
PER_INPUT: dict[str, Any] = {"anyOf": [REFERENCE, {"type": "object",
                                                   "additionalProperties": REFERENCE}]}


def _generator_schema() -> dict[str, Any]:
    shape = {"anyOf": [{"type": "integer", "minimum": 0},
                       {"type": "array", "items": {"type": "integer", "minimum": 0}}]}
    forms = [{"type": "object", "properties": {"random": {"enum": list(RANDOM_KINDS)},
                                               "shape": shape, "seed": {"type": "integer",
                                                                        "minimum": 0},
                                               **{k: NUMBER for k in ("scale", "low", "high",
                                                                      "shift")}},
              "required": ["random", "shape"], "additionalProperties": False},
             {"type": "object", "properties": {"full": shape, "value": NUMBER},
              "required": ["full"], "additionalProperties": False}]
    forms += [{"type": "object", "properties": {g: shape}, "required": [g],
               "additionalProperties": False} for g in ("eye", "zeros", "ones", "arange")]
    return {"anyOf": forms}


def _expect_schema(keys: Sequence[str]) -> dict[str, Any]:
    props: dict[str, Any] = {"value": REFERENCE, **{k: PER_INPUT for k in keys[1:4]}}
    if "stages" in keys:
        props["stages"] = {"type": "object",
                           "additionalProperties": _expect_schema(STAGE_EXPECT_KEYS)}
    return {"type": "object", "properties": props, "additionalProperties": False}


def _one_or_list(choices: Sequence[str], empty: bool = False) -> dict[str, Any]:
    """One of ``choices`` or a list of them (``empty``: the list may be empty,
    as ``autograd: []`` overrides a file's defaults with none)."""
    return {"anyOf": [{"enum": list(choices)},
                      {"type": "array", "items": {"enum": list(choices)},
                       "minItems": 0 if empty else 1}]}


IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]*$"
STAGE: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "number"}, PYTHON]}


@dataclass(frozen=True)
class Key:
    """One key of a case.

    Attributes
    ----------
    name : str
    json : dict
        The JSON Schema of its value.
    doc : str
        What it means, in one line.
    parse : callable(value, key) -> value, optional
        Its validator, for the keys that stand alone (the others, inputs,
        function, wrt and expect, depend on each other and are read by
        :func:`parse_case` itself).
    default : object
        Its value when left out.
    api : str, optional
        The keyword of :func:`fdcheck.check` that sets it.
    cli : str, optional
        The option of ``fdcheck run`` that overrides it.
    """

    name: str
    json: dict[str, Any]
    doc: str
    parse: Callable[[Any, str], Any] | None = None
    default: Any = None
    api: str | None = None
    cli: str | None = None


KEYS: tuple[Key, ...] = (
    Key("name", {"type": ["string", "number"]}, "required; unique within its file", _name),
    Key("description", {"type": "string"}, "free text for the readers of the file", _text),
    Key("inputs", {"type": "object", "minProperties": 1,
                   "propertyNames": {"pattern": IDENTIFIER},
                   "additionalProperties": {"anyOf": [{"$ref": "#/$defs/nested"},
                                                      {"$ref": "#/$defs/generator"}]}},
        "required: NAME -> a number, a nested list or a generator"),
    Key("function", {"anyOf": [STAGE, {"type": "object", "minProperties": 1,
                                       "propertyNames": {"pattern": IDENTIFIER},
                                       "additionalProperties": STAGE}]},
        "required: an expression, {python: ...}, or a mapping of named stages"),
    Key("wrt", {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"},
                                                "minItems": 1}]},
        "the input name(s) to differentiate with respect to", api="wrt"),
    Key("expect", _expect_schema(EXPECT_KEYS), "value, gradient, jacobian, hessian, stages",
        api="gradient"),
    Key("autograd", _one_or_list(AUTOGRAD, empty=True), "frameworks whose derivatives are compared too",
        parse_autograd, (), api="autograd"),
    Key("tolerance", {"anyOf": [{"const": "auto"},
                                {"type": "object", "properties": {
                                    "atol": NONNEGATIVE, "rtol": NONNEGATIVE,
                                    "auto": {"anyOf": [NONNEGATIVE, {"type": "boolean"}]}},
                                 "additionalProperties": False}]},
        "{atol, rtol}, auto or {auto: k}", parse_tolerance, api="atol", cli="--atol"),
    Key("order", {"enum": ["C", "F"]}, "C (row-major) or F (column-major)", parse_order, "C",
        api="order"),
    Key("method", {"anyOf": [{"enum": list(ALL_SCHEMES)},
                             {"type": "object", "properties": {
                                 "scheme": {"enum": list(ALL_SCHEMES)},
                                 "order": {"type": "integer"}, "step": NUMBER},
                              "additionalProperties": False}]},
        "how the numeric derivative is taken", parse_method, Method(), api="method",
        cli="--method"),
    Key("dtype", {"enum": list(DTYPES)}, "the precision the function is evaluated in",
        lambda v, k: choice(v, DTYPES, k), "float64", api="dtype"),
    Key("backend", {"enum": list(BACKENDS)}, "the framework the function is evaluated in",
        lambda v, k: choice(v, BACKENDS, k), "numpy"),
    Key("sparsity", {"anyOf": [{"enum": ["diagonal", "detect"]},
                               {"type": "object", "properties": {
                                   "band": {"type": "array", "items": {"type": "integer",
                                                                       "minimum": 0},
                                            "minItems": 2, "maxItems": 2}},
                                "required": ["band"], "additionalProperties": False},
                               {"type": "object", "properties": {
                                   "blocks": {"type": "integer", "minimum": 1}},
                                "required": ["blocks"], "additionalProperties": False},
                               {"type": "array", "items": {"type": "array"}}]},
        "where the Jacobian may be nonzero", parse_sparsity, api="sparsity"),
    Key("directions", {"type": "integer", "minimum": 1, "maximum": MAX_DIRECTIONS},
        "check along this many random directions", parse_directions, api="directions"),
    Key("derivatives", {"enum": [1, 2]}, "1, or 2 to check second derivatives too",
        parse_derivatives, 1, api="derivatives"),
    Key("modes", _one_or_list(MODES), "which autograd modes are compared", parse_modes,
        ("reverse",), api="modes"),
    Key("behaviours", _one_or_list(BEHAVIOURS, empty=True), "what a PyTorch rule must also do: the same "
        "gradient twice, undefined output gradients, dtypes, vmap", parse_behaviours, (),
        api="behaviours"),
    Key("nondet_tol", {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]},
        "how far two runs of the backward may differ (behaviour reentrant)", parse_nondet_tol,
        0.0, api="nondet_tol"),
    Key("structure", {"type": "object", "propertyNames": {"pattern": IDENTIFIER},
                      "additionalProperties": {"enum": list(STRUCTURES)}},
        "inputs with structure, checked within it: NAME -> symmetric, spd, lower, upper, "
        "diagonal, skew or orthogonal", parse_structure, {}, api="structure"),
    Key("convention", {"enum": list(CONVENTIONS)}, "how a reference for a structured input is "
        "read: projected (a gradient, or its projection) or entries (over the independent "
        "entries)", parse_convention, "projected", api="convention"),
    Key("gauge", {"enum": list(GAUGES)}, "the output's columns are defined up to sign "
        "(eigenvectors, singular vectors) or phase: aligned with the base point's before "
        "differencing", parse_gauge, None, api="gauge"),
    Key("locate", {"anyOf": [{"type": "boolean"}, {"const": "ops"}]}, "check each custom rule the function calls on its own "
        "(default: where a check of the whole fails)", parse_locate, None, api="locate",
        cli="--locate"),
    Key("explore", {"type": "object", "properties": {
        "dims": {"type": "object", "additionalProperties": {"type": "array"}},
        "inputs": {"type": "object", "additionalProperties": {"type": "object"}}},
        "additionalProperties": False},
        "how --explore draws inputs: dims, and per input its shape and condition range",
        parse_explore_spec, None),
)
BY_NAME = {k.name: k for k in KEYS}
CASE_KEYS = tuple(BY_NAME)
REQUIRED = ("name", "inputs", "function")


def case_schema(required: Sequence[str] = REQUIRED) -> dict[str, Any]:
    """The JSON Schema of one case; ``required`` the keys it must have (a case
    under ``cases:`` may take the others from ``defaults``)."""
    return {"type": "object", "properties": {k.name: k.json for k in KEYS},
            "required": list(required), "additionalProperties": False}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a case file: one case, a list of cases, or
    ``{cases: [...], defaults: {...}}``."""
    listed = case_schema(["name"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fdcheck case file",
        "description": "Cases for fdcheck, the finite-difference checker of derivatives of "
                       "functions of matrices.",
        "$defs": {"nested": NESTED, "generator": _generator_schema()},
        "anyOf": [case_schema(),
                  {"type": "array", "items": listed, "minItems": 1},
                  {"type": "object", "properties": {
                      "defaults": case_schema(()),
                      "cases": {"type": "array", "items": listed, "minItems": 1}},
                   "required": ["cases"], "additionalProperties": False}],
    }


# -- one case ------------------------------------------------------------------------------

def _standalone(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every key that stands alone, parsed (its default where left out)."""
    return {k.name: k.parse(data[k.name], k.name) if k.name in data else k.default
            for k in KEYS if k.parse is not None}


def parse_case(data: Mapping[str, Any], *, file: str | None = None,
               line: int | None = None) -> Case:
    """Validate one case mapping (defaults already merged) into a :class:`Case`.

    Raises
    ------
    CaseError
        Naming the key at fault.
    """
    check_keys(data, CASE_KEYS, "")
    name = _name(data.get("name"))
    try:
        inputs = parse_inputs(data.get("inputs"))
        if "function" not in data:
            raise CaseError("every case needs a 'function'", key="function")
        stages = parse_function(data["function"], inputs)
        wrt = parse_wrt(data.get("wrt", list(inputs)), inputs)
        expect, stage_expect = parse_expect(data.get("expect"), stages, wrt, inputs)
        inputs, expect, complex_inputs = literal_case(inputs, expect)
        keys = _standalone(data)
        return Case(name=name, inputs=inputs, stages=stages, wrt=wrt, expect=expect,
                    stage_expect=stage_expect, autograd=keys["autograd"],
                    tolerance=keys["tolerance"], order=keys["order"], method=keys["method"],
                    dtype=keys["dtype"], backend=keys["backend"], sparsity=keys["sparsity"],
                    directions=keys["directions"], derivatives=keys["derivatives"],
                    modes=keys["modes"], behaviours=keys["behaviours"],
                    nondet_tol=keys["nondet_tol"], structure=keys["structure"],
                    convention=keys["convention"], gauge=keys["gauge"], explore=keys["explore"],
                    locate=keys["locate"], complex_inputs=complex_inputs, file=file, line=line)
    except CaseError as exc:
        raise exc.located(case=name, file=file, line=line) from None
