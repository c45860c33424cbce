"""Case files: schema, defaults, generators, and errors that name the file,
the case and the key.

A file is read with a safe YAML loader whose float rule also accepts ``1e-6``
(YAML 1.1 would read it as a string). Each case is validated on its own: a
broken case becomes a :class:`~fdcheck.errors.CaseError` in the list, and the
others are still returned.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import yaml

from .compare import AUTO_FACTOR
from .stencils import Method
from .errors import CaseError, ExpressionError
from .expr import Expression
from .layout import check_order

CASE_KEYS = ("name", "description", "inputs", "function", "wrt", "expect", "autograd",
             "tolerance", "order", "method", "dtype", "backend", "sparsity", "directions",
             "derivatives", "modes")
EXPECT_KEYS = ("value", "gradient", "jacobian", "hessian", "stages")
STAGE_EXPECT_KEYS = ("value", "gradient", "jacobian", "hessian")
MODES = ("reverse", "forward")
MAX_DIRECTIONS = 10_000
TOLERANCE_KEYS = ("atol", "rtol", "auto")
DTYPES = ("float64", "float32")
BACKENDS = ("numpy", "torch", "jax")
AUTOGRAD = ("torch", "jax")
GENERATORS = ("random", "eye", "zeros", "ones", "full", "arange")
RANDOM_KINDS = ("normal", "uniform", "spd", "orthogonal")
SUFFIXES = (".yaml", ".yml")


MAX_ALIASES = 100         # anchors used again: a handful in a real file
MAX_NODES = 10_000_000    # values of a file once its aliases are expanded
MAX_ELEMENTS = 10_000_000  # of one input or reference: 80 MB of float64
MAX_NDIM = 32


class _Loader(yaml.SafeLoader):
    """SafeLoader whose floats include ``1e-6`` and ``1E+3`` (YAML 1.2 style),
    that refuses a key given twice in a mapping, and refuses a file that uses
    aliases more than :data:`MAX_ALIASES` times (an alias bomb expands to
    billions of nodes from a few hundred bytes)."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                event = self.peek_event()
                raise yaml.constructor.ConstructorError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name): refused, as an alias "
                    "bomb would expand without end", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = getattr(key_node, "value", None)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping (first on line "
                    f"{seen[key].start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


@dataclass(frozen=True)
class PythonRef:
    """``{python: "package.module:callable"}``: a user's function, loaded on demand."""

    target: str


Ref = Any  # np.ndarray (literal) | Expression | PythonRef


@dataclass(frozen=True)
class Stage:
    """A named step of a case's function: an expression, a ``{python: ...}``
    reference, or (from the Python API) the caller's own callable."""

    name: str
    body: Any
    reads: tuple[str, ...]


@dataclass(frozen=True)
class Expected:
    """What a case (or one stage of it) expects: value, and per-input derivatives."""

    value: Ref | None = None
    gradient: Mapping[str, Ref] = field(default_factory=dict)
    jacobian: Mapping[str, Ref] = field(default_factory=dict)
    # Per input: v -> R v for flat v, a Jacobian given by its products (Python API).
    jvp: Mapping[str, Any] = field(default_factory=dict)
    hessian: Mapping[str, Ref] = field(default_factory=dict)

    @property
    def anything(self) -> bool:
        """Whether anything at all is expected."""
        return bool(self.value is not None or self.gradient or self.jacobian or self.jvp
                    or self.hessian)


@dataclass(frozen=True)
class Case:
    """One validated case, ready to run.

    From a case file, the inputs are float64 arrays; from the Python API
    (``native``), they are the caller's own arrays or tensors, used as given,
    and ``dtype`` None keeps each input's own precision.
    """

    name: str
    inputs: Mapping[str, np.ndarray]
    stages: tuple[Stage, ...]
    wrt: tuple[str, ...]
    expect: Expected = Expected()
    stage_expect: Mapping[str, Expected] = field(default_factory=dict)
    autograd: tuple[str, ...] = ()
    tolerance: Mapping[str, float] | None = None
    order: str = "C"
    method: Method = Method()
    dtype: str | None = "float64"
    backend: str = "numpy"
    sparsity: Any = None
    directions: int | None = None
    derivatives: int = 1
    modes: tuple[str, ...] = ("reverse",)
    file: str | None = None
    line: int | None = None
    native: bool = False

    @property
    def output(self) -> str:
        """The name of the output: the last stage's name."""
        return self.stages[-1].name

    @property
    def is_chain(self) -> bool:
        return len(self.stages) > 1

    @property
    def uses_python(self) -> bool:
        refs = [s.body for s in self.stages]
        for expected in (self.expect, *self.stage_expect.values()):
            refs += [expected.value, *expected.gradient.values(), *expected.jacobian.values(),
                     *expected.hessian.values()]
        return any(isinstance(r, PythonRef) for r in refs)

    def error(self, message: str, key: str | None = None) -> CaseError:
        return CaseError(message, file=self.file, case=self.name, key=key, line=self.line)


# -- reading files ----------------------------------------------------------------

def _key_lines(node: Any, prefix: str = "", out: dict[str, int] | None = None) -> dict[str, int]:
    """The line of every key of a case's node, by its dotted path (``tolerance.atol``)."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}{getattr(key, 'value', '')}"
            out.setdefault(path, key.start_mark.line + 1)
            _key_lines(value, path + ".", out)
    return out


def _expanded(node: Any, memo: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias in it is expanded:
    an alias bomb is a few aliases of aliases that stand for billions."""
    key = id(node)
    if key not in memo:
        memo[key] = 1  # a node reached again through itself counts once
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
            else ()
        memo[key] = 1 + sum(_expanded(child, memo) for child in children)
    return memo[key]


def _read_yaml(text: str) -> tuple[Any, list[int | None], list[dict[str, int]]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded(node, {}) > MAX_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"its aliases expand to more than {MAX_NODES} values: refused, as "
                "an alias bomb", node.start_mark)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    items: list[Any] = []
    if isinstance(node, yaml.MappingNode):
        items = [node]
        for key, value in node.value:
            if getattr(key, "value", None) == "cases" and isinstance(value, yaml.SequenceNode):
                items = value.value
    elif isinstance(node, yaml.SequenceNode):
        items = node.value
    return data, [item.start_mark.line + 1 for item in items], [_key_lines(i) for i in items]


def _yaml_hint(problem: str, text: str, line: int | None) -> str:
    """What to write instead, for the mistakes YAML reports obscurely."""
    source = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "\t" in problem or "'\\t'" in problem or "\t" in source:
        return "; YAML indents with spaces, not tabs: replace the tab with spaces"
    if "flow" in problem or "{" in source:
        return ("; inside {...} a comma ends a value: quote an expression that holds one "
                "(\"outer(a, b)\") or write the mapping in block style")
    return ""


def merge_defaults(defaults: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """A case over its file's defaults: mappings (inputs, tolerance, expect...)
    are merged one level deep, so a case adds inputs or overrides some; a
    value inside them (an input, a generator) is replaced whole, never mixed.
    A function is always replaced whole."""
    out = dict(defaults)
    for k, v in case.items():
        base = out.get(k)
        if k != "function" and isinstance(base, Mapping) and isinstance(v, Mapping):
            out[k] = {**base, **v}
        else:
            out[k] = v
    return out


def _suggest(word: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _check_keys(data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            hint = ""
            if any(ch in str(key) for ch in "()[]"):
                hint = ("; it looks like the end of an expression: inside {...} a comma ends a "
                        "value, so quote the expression (\"outer(a, b)\") or use block style")
            raise CaseError(f"unknown key {key!r}{_suggest(key, allowed)}; expected one of "
                            f"{', '.join(allowed)}{hint}", key=f"{where}{key}")


def load_text(text: str, file: str | None = None) -> list[Case | CaseError]:
    """Cases (or their errors) from the text of a case file; never raises."""
    try:
        return _load_text(text, file)
    except (RecursionError, MemoryError):
        return [CaseError("the file is nested too deeply, or too large, to read", file=file)]
    except Exception as exc:  # the last line of defence: one file never stops the run
        return [CaseError(f"cannot read the file: {type(exc).__name__}: {exc}", file=file)]


def _load_text(text: str, file: str | None = None) -> list[Case | CaseError]:
    try:
        data, lines, key_lines = _read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark else None
        return [CaseError(f"malformed YAML: {problem}{_yaml_hint(problem, text, line)}",
                          file=file, line=line)]
    if data is None:
        return [CaseError("the file is empty; expected a case (a mapping with 'name') or "
                          "a 'cases:' list", file=file)]
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping) and "cases" in data:
        extra = set(data) - {"cases", "defaults"}
        if extra:
            key = sorted(extra)[0]
            return [CaseError(f"unknown top-level key {key!r}{_suggest(key, ['cases', 'defaults'])}; "
                              "expected 'cases' and optionally 'defaults'", file=file, key=key)]
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            return [CaseError("'defaults' must be a mapping of case keys", file=file, key="defaults")]
        raw = data["cases"]
        if not isinstance(raw, list) or not raw:
            return [CaseError("'cases' must be a non-empty list of cases", file=file, key="cases")]
    elif isinstance(data, Mapping):
        raw, lines = [data], [1]
    elif isinstance(data, list):
        raw = data
    else:
        return [CaseError(f"expected a case or a 'cases:' list, found {type(data).__name__}",
                          file=file)]
    out: list[Case | CaseError] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        line = lines[i] if i < len(lines) else None
        name = item.get("name") if isinstance(item, Mapping) else None
        label = str(name) if name is not None else f"#{i + 1}"
        try:
            try:
                if not isinstance(item, Mapping):
                    raise CaseError(f"a case must be a mapping, not {type(item).__name__}")
                merged = merge_defaults(defaults, item)
                case = parse_case(merged, file=file, line=line)
            except CaseError:
                raise
            except (RecursionError, MemoryError):
                raise CaseError("the case is nested too deeply, or too large, to read") from None
            except Exception as exc:  # a value of a shape the schema did not foresee
                raise CaseError(f"cannot read the case: {type(exc).__name__}: {exc}") from None
            if case.name in seen:
                raise CaseError(f"duplicate name {case.name!r} in this file", key="name")
            seen.add(case.name)
            out.append(case)
        except CaseError as exc:
            keys = key_lines[i] if i < len(key_lines) else {}
            out.append(CaseError(exc.message, file=exc.file or file, case=exc.case or label,
                                 key=exc.key, line=_line_of(exc.key, keys) or exc.line or line,
                                 origin=exc.origin))
    return out


def _line_of(key: str | None, lines: Mapping[str, int]) -> int | None:
    """The line of ``key`` (``expect.jacobian.W``), or of its nearest parent found."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return None


def load_file(path: str | Path) -> list[Case | CaseError]:
    """Cases (or their errors) from one file; never raises for bad content."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [CaseError(f"cannot read the file: {exc}", file=str(path))]
    return load_text(text, str(path))


# What a case file has at its top level, and nothing else of YAML's does:
# cases: / defaults:, or name: beside function: or inputs:, or a list of "- name:".
_TOP = re.compile(r"^(cases|defaults)\s*:", re.M)
_NAME = re.compile(r"^(- +|- *\{ *)?name\s*:", re.M)
_BODY = re.compile(r"^(- +| +)?(function|inputs)\s*:", re.M)
SNIFF_BYTES = 64 * 1024


def looks_like_cases(path: Path) -> bool:
    """Whether a YAML file found in a folder is a case file, by its keys (read
    as text, never loaded: a training config or a CI workflow is passed over)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return True  # let loading say what is wrong with it
    return bool(_TOP.search(head) or (_NAME.search(head) and _BODY.search(head)))


def discover(paths: Sequence[str | Path], skipped: list[Any] | None = None
             ) -> Iterator[Path | CaseError]:
    """Case files under ``paths``, sorted: a file named is always loaded; in
    folders (searched recursively, hidden ones passed over), only the
    ``*.yaml`` / ``*.yml`` files that are case files; the others are
    appended to ``skipped``."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix not in SUFFIXES or not f.is_file() \
                        or any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if looks_like_cases(f):
                    yield f
                elif skipped is not None:
                    skipped.append(f)
        elif p.is_file():
            yield p
        else:
            yield CaseError("no such file or folder", file=str(raw))


# -- one case -----------------------------------------------------------------------

def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise CaseError(f"expected a number, not {value!r}", key=key)
    if isinstance(value, (int, float)):
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


def literal_array(value: Any, key: str) -> np.ndarray:
    """A float64 array from a YAML number or (rectangular) nested list."""
    if isinstance(value, list):
        _ragged(value, key)

        def conv(v: Any) -> Any:
            return [conv(x) for x in v] if isinstance(v, list) else _number(v, key)
        return np.array(conv(value), dtype=np.float64)
    return np.array(_number(value, key), dtype=np.float64)


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


def generate(spec: Mapping[str, Any], key: str) -> np.ndarray:
    """An input from a generator: ``{random: normal, shape: [3, 3], seed: 0}``,
    ``{eye: 3}``, ``{zeros: [2, 3]}``, ``{ones: [2, 3]}``, ``{full: [2, 3], value: 0.5}``,
    ``{arange: [2, 3]}`` (1, 2, 3, ... in row-major order)."""
    kinds = [g for g in GENERATORS if g in spec]
    if len(kinds) != 1:
        raise CaseError(f"an input generator has exactly one of {', '.join(GENERATORS)}; "
                        f"got keys {', '.join(map(str, spec))}{_suggest(next(iter(spec), ''), GENERATORS)}",
                        key=key)
    kind = kinds[0]
    allowed = {"random": ("random", "shape", "seed", "scale", "low", "high", "shift"),
               "full": ("full", "value")}.get(kind, (kind,))
    _check_keys(spec, allowed, f"{key}.")
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
        return np.full(_shape(spec["full"], f"{key}.full"), _number(spec.get("value", 0), f"{key}.value"))
    if kind == "arange":
        shape = _shape(spec["arange"], f"{key}.arange")
        return np.arange(1, int(np.prod(shape)) + 1, dtype=np.float64).reshape(shape)
    how = spec["random"]
    if how not in RANDOM_KINDS:
        raise CaseError(f"unknown random kind {how!r}{_suggest(how, RANDOM_KINDS)}; expected "
                        f"one of {', '.join(RANDOM_KINDS)}", key=f"{key}.random")
    if "shape" not in spec:
        raise CaseError("a random input needs a 'shape'", key=f"{key}.shape")
    shape = _shape(spec["shape"], f"{key}.shape")
    seed = spec.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CaseError(f"the seed must be an integer >= 0, not {seed!r}", key=f"{key}.seed")
    rng = np.random.default_rng(seed)
    scale = _number(spec.get("scale", 1.0), f"{key}.scale")
    shift = _number(spec.get("shift", 0.0), f"{key}.shift")
    if how == "uniform":
        low = _number(spec.get("low", 0.0), f"{key}.low")
        high = _number(spec.get("high", 1.0), f"{key}.high")
        return rng.uniform(low, high, shape) * scale + shift
    if how == "normal":
        return rng.standard_normal(shape) * scale + shift
    if len(shape) != 2 or shape[0] != shape[1]:
        raise CaseError(f"random: {how} needs a square shape, not {list(shape)}", key=f"{key}.shape")
    g = rng.standard_normal(shape)
    if how == "spd":
        return (g @ g.T / shape[0] + np.eye(shape[0])) * scale + shift
    q, r = np.linalg.qr(g)
    return q * np.sign(np.diag(r)) * scale + shift


def _input(value: Any, key: str) -> np.ndarray:
    if isinstance(value, Mapping):
        return generate(value, key)
    return literal_array(value, key)


def _python_ref(value: Mapping[str, Any], key: str) -> PythonRef:
    target = value.get("python")
    if set(value) != {"python"} or not isinstance(target, str) or ":" not in target:
        raise CaseError("a Python reference is {python: \"package.module:callable\"}", key=key)
    return PythonRef(target)


def _reference(value: Any, key: str, names: frozenset[str]) -> Ref:
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
            return _python_ref(value, key)
        raise CaseError("expected a number, a nested list, an expression or {python: ...}", key=key)
    return literal_array(value, key)


def _stages(function: Any, inputs: Mapping[str, np.ndarray]) -> tuple[Stage, ...]:
    names = set(inputs)
    if isinstance(function, str) or (isinstance(function, Mapping) and set(function) == {"python"}):
        function = {"f": function}
    if not isinstance(function, Mapping) or not function:
        raise CaseError("'function' is an expression, {python: ...}, or a mapping of named stages",
                        key="function")
    stages = []
    for name, body in function.items():
        key = f"function.{name}" if len(function) > 1 else "function"
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise CaseError(f"a stage name must be an identifier, not {name!r}", key=key)
        if name in inputs:
            raise CaseError(f"the stage {name!r} has the name of an input", key=key)
        if isinstance(body, Mapping):
            ref = _python_ref(body, key)
            stages.append(Stage(name, ref, tuple(sorted(names))))
        elif isinstance(body, (str, int, float)) and not isinstance(body, bool):
            try:
                expr = Expression(str(body), names)
            except ExpressionError as exc:
                hint = ("; inside {...} a comma ends a value: quote the expression "
                        "(\"outer(a, b)\") or write it in block style"
                        if "never closed" in str(exc) else "")
                raise CaseError(f"{exc}{hint}", key=key) from None
            stages.append(Stage(name, expr, tuple(sorted(expr.used))))
        else:
            raise CaseError(f"a stage is an expression, not {type(body).__name__}", key=key)
        names.add(name)
    return tuple(stages)


def _per_wrt(value: Any, key: str, wrt: tuple[str, ...], allowed: tuple[str, ...],
             names: frozenset[str]) -> dict[str, Ref]:
    if isinstance(value, Mapping) and "python" not in value:
        out = {}
        for name, v in value.items():
            if name not in allowed:
                raise CaseError(f"{name!r} is not differentiated (wrt: {', '.join(allowed)})"
                                f"{_suggest(name, allowed)}", key=f"{key}.{name}")
            out[name] = _reference(v, f"{key}.{name}", names)
        return out
    if len(wrt) != 1:
        raise CaseError(f"wrt names several inputs ({', '.join(wrt)}): give a mapping "
                        "NAME -> value", key=key)
    return {wrt[0]: _reference(value, key, names)}


def _expected(data: Mapping[str, Any], where: str, wrt: tuple[str, ...], names: frozenset[str],
              allowed: Sequence[str], differentiable: tuple[str, ...] | None = None) -> Expected:
    if not isinstance(data, Mapping):
        raise CaseError("expected a mapping", key=where.rstrip("."))
    _check_keys(data, allowed, where)
    value = _reference(data["value"], f"{where}value", names) if "value" in data else None
    diff = differentiable or wrt
    grad = _per_wrt(data["gradient"], f"{where}gradient", wrt, diff, names) if "gradient" in data else {}
    jac = _per_wrt(data["jacobian"], f"{where}jacobian", wrt, diff, names) if "jacobian" in data else {}
    hess = _per_wrt(data["hessian"], f"{where}hessian", wrt, diff, names) if "hessian" in data else {}
    return Expected(value, grad, jac, hessian=hess)


def _sparsity(value: Any) -> Any:
    """``diagonal``, ``detect``, ``{band: [lower, upper]}``, ``{blocks: k}`` or a 0/1 matrix."""
    if value is None or value in ("diagonal", "detect"):
        return value
    if isinstance(value, Mapping):
        if set(value) == {"band"} and isinstance(value["band"], list) and len(value["band"]) == 2 \
                and all(isinstance(v, int) and v >= 0 for v in value["band"]):
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
    raise CaseError(f"sparsity is diagonal, detect, {{band: [lower, upper]}}, {{blocks: k}} or a "
                    f"0/1 matrix, not {value!r}", key="sparsity")


def _tolerance(value: Any) -> dict[str, float] | None:
    """``{atol, rtol}``, or ``auto`` / ``{auto: factor}`` (judge each entry by the
    engine's own error estimate)."""
    if value is None:
        return None
    if value == "auto":
        return {"auto": AUTO_FACTOR}
    if not isinstance(value, Mapping):
        raise CaseError(f"a tolerance is auto or a mapping {{atol: ..., rtol: ...}}, not {value!r}",
                        key="tolerance")
    _check_keys(value, TOLERANCE_KEYS, "tolerance.")
    if value.get("auto") is True:
        value = {**value, "auto": AUTO_FACTOR}
    elif value.get("auto") is False:
        value = {k: v for k, v in value.items() if k != "auto"}
    out = {k: _number(v, f"tolerance.{k}") for k, v in value.items()}
    for k, v in out.items():
        if not v >= 0:
            raise CaseError(f"must be a number >= 0, not {v}", key=f"tolerance.{k}")
    return out


def _choice(value: Any, choices: Sequence[str], key: str) -> str:
    if value not in choices:
        raise CaseError(f"{value!r} is not one of {', '.join(choices)}{_suggest(value, choices)}",
                        key=key)
    return str(value)


def parse_case(data: Mapping[str, Any], *, file: str | None = None,
               line: int | None = None) -> Case:
    """Validate one case mapping (defaults already merged) into a :class:`Case`.

    Raises
    ------
    CaseError
        Naming the key at fault.
    """
    _check_keys(data, CASE_KEYS, "")
    name = data.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise CaseError("every case needs a 'name'", key="name")
    name = str(name)
    try:
        return _parse(data, name, file, line)
    except CaseError as exc:
        raise exc.located(case=name, file=file, line=line) from None


def _parse(data: Mapping[str, Any], name: str, file: str | None, line: int | None) -> Case:
    raw_inputs = data.get("inputs")
    if not isinstance(raw_inputs, Mapping) or not raw_inputs:
        raise CaseError("'inputs' must be a mapping NAME -> value", key="inputs")
    inputs = {}
    for k, v in raw_inputs.items():
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
            raise CaseError(f"an input name must be an identifier, not {k!r}", key=f"inputs.{k}")
        inputs[k] = _input(v, f"inputs.{k}")
    if "function" not in data:
        raise CaseError("every case needs a 'function'", key="function")
    stages = _stages(data["function"], inputs)
    wrt_raw = data.get("wrt", list(inputs))
    wrt = (wrt_raw,) if isinstance(wrt_raw, str) else tuple(wrt_raw) if isinstance(wrt_raw, list) else None
    if not wrt or not all(isinstance(w, str) for w in wrt):
        raise CaseError(f"'wrt' is an input name or a list of them, not {wrt_raw!r}", key="wrt")
    for w in wrt:
        if w not in inputs:
            raise CaseError(f"{w!r} is not an input{_suggest(w, inputs)}; inputs: "
                            f"{', '.join(inputs)}", key="wrt")
    names = frozenset(inputs) | {s.name for s in stages}
    expect_raw = data.get("expect") or {}
    expect = _expected(expect_raw, "expect.", wrt, frozenset(inputs) | {s.name for s in stages},
                       EXPECT_KEYS) if expect_raw else Expected()
    stage_expect = {}
    stages_raw = expect_raw.get("stages") if isinstance(expect_raw, Mapping) else None
    if stages_raw is not None and not isinstance(stages_raw, Mapping):
        raise CaseError("expect.stages is a mapping STAGE -> {value, gradient, jacobian, hessian}",
                        key="expect.stages")
    for sname, sdata in (stages_raw or {}).items():
        if sname not in {s.name for s in stages}:
            raise CaseError(f"{sname!r} is not a stage{_suggest(sname, [s.name for s in stages])}",
                            key=f"expect.stages.{sname}")
        earlier = tuple(s.name for s in stages[:[t.name for t in stages].index(sname)])
        stage_expect[sname] = _expected(sdata, f"expect.stages.{sname}.", wrt, names,
                                        STAGE_EXPECT_KEYS, wrt + earlier)
    autograd_raw = data.get("autograd") or []
    if not isinstance(autograd_raw, (str, list)):
        raise CaseError(f"autograd is a name or a list among {', '.join(AUTOGRAD)}, not "
                        f"{autograd_raw!r}", key="autograd")
    autograd = (autograd_raw,) if isinstance(autograd_raw, str) else tuple(autograd_raw)
    for a in autograd:
        _choice(a, AUTOGRAD, "autograd")
    try:
        order = check_order(data.get("order", "C"))
    except ValueError as exc:
        raise CaseError(str(exc), key="order") from None
    try:
        method = Method.parse(data.get("method"))
    except (ValueError, TypeError) as exc:
        raise CaseError(str(exc), key="method") from None
    sparsity = _sparsity(data.get("sparsity"))
    directions = data.get("directions")
    if directions is not None and (isinstance(directions, bool) or not isinstance(directions, int)
                                   or not 1 <= directions <= MAX_DIRECTIONS):
        raise CaseError(f"the number of random directions is an integer from 1 to "
                        f"{MAX_DIRECTIONS}, not {directions!r}", key="directions")
    derivatives = data.get("derivatives", 1)
    if derivatives not in (1, 2) or isinstance(derivatives, bool):
        raise CaseError(f"derivatives is 1 or 2, not {derivatives!r}", key="derivatives")
    modes_raw = data.get("modes", ["reverse"])
    modes = (modes_raw,) if isinstance(modes_raw, str) else tuple(modes_raw) \
        if isinstance(modes_raw, list) and modes_raw else None
    if modes is None:
        raise CaseError(f"modes is a list among {', '.join(MODES)}, not {modes_raw!r}", key="modes")
    for mode in modes:
        _choice(mode, MODES, "modes")
    return Case(name=name, inputs=inputs, stages=stages, wrt=wrt, expect=expect,
                stage_expect=stage_expect, autograd=autograd,
                tolerance=_tolerance(data.get("tolerance")), order=order, method=method,
                dtype=_choice(data.get("dtype", "float64"), DTYPES, "dtype"),
                backend=_choice(data.get("backend", "numpy"), BACKENDS, "backend"),
                sparsity=sparsity, directions=directions, derivatives=int(derivatives),
                modes=tuple(dict.fromkeys(modes)), file=file, line=line)
