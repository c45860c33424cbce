"""A call of the Python API as the :class:`~fdcheck.case.Case` it describes:
the inputs named after the function's parameters, the references picked per
input, every keyword validated by the schema's own parsers (an error names
the keyword as a case file's names the key)."""
from __future__ import annotations

import contextlib
import inspect
import types
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import adapt, backends, complexify
from .case import Case, Expected, Stage
from .tolerances import auto_factor
from .errors import CaseError
from .functions import CallRef, UserCall
from .options import RunOptions
from .dtypes import NAMES as FLOAT_NAMES, is_bfloat16
from .schema import (parse_behaviours, parse_convention, parse_derivatives, parse_directions,
                     parse_gauge, parse_locate, parse_method, parse_structure,
                     parse_modes, parse_order, parse_sparsity, tolerance_number)
from .explore import parse_spec
from .values import choice


Reference = Any  # an array (2-D or tensor form), or a callable of the inputs returning one
MethodSpec = Any  # a Method, a name ("central"), or a mapping {scheme, order, step}


def _names(f: Callable[..., Any], count: int) -> list[str]:
    """The names of ``f``'s first ``count`` positional parameters, or x0, x1..."""
    if isinstance(f, types.FunctionType) and not f.__defaults__:
        # A plain function or lambda: its code names them (inspect costs ten times more).
        params = list(f.__code__.co_varnames[:f.__code__.co_argcount])
    else:
        try:
            params = [p.name for p in inspect.signature(f).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
    if len(params) >= count:
        return params[:count]
    return ["x"] if count == 1 else [f"x{i}" for i in range(count)]


def _differentiable(inputs: Sequence[Any]) -> list[int]:
    torch_inputs = [i for i, x in enumerate(inputs) if backends.name_of(x) == "torch"]
    if torch_inputs:
        asked = [i for i in torch_inputs if getattr(inputs[i], "requires_grad", False)]
        if asked:
            return asked
    return [i for i, x in enumerate(inputs)
            if ("float" in str(x.dtype) if backends.name_of(x) != "numpy"
                else np.asarray(x).dtype.kind in "fc" or is_bfloat16(np.asarray(x).dtype))]


def _targets(wrt: Any, inputs: Sequence[Any], names: Sequence[str]) -> list[int]:
    """The positions of the inputs to check: ``wrt`` as positions or names."""
    if wrt is None:
        found = _differentiable(inputs)
        if not found:
            kinds = ", ".join(f"{n} is {np.asarray(backends.get(backends.name_of(x)).to_numpy(x)).dtype}"
                              for n, x in zip(names, inputs))
            raise CaseError(f"no input is floating ({kinds}): integers and booleans have no "
                            "derivative; pass floats (x.astype(float)), or name the input in "
                            "wrt= to have it taken as float64")
        return found
    if isinstance(wrt, (int, np.integer, str)):
        chosen = [wrt]
    elif isinstance(wrt, (list, tuple)):
        chosen = list(wrt)
    else:
        raise ValueError(f"wrt={wrt!r}: expected an input's position or name, or a list of them")
    out = []
    for w in chosen:
        if isinstance(w, str):
            if w not in names:
                raise ValueError(f"wrt={w!r} is not an input; inputs: {', '.join(names)}")
            out.append(list(names).index(w))
        elif isinstance(w, (int, np.integer)) and -len(inputs) <= w < len(inputs):
            out.append(int(w) % len(inputs))
        else:
            raise ValueError(f"wrt={w!r}: expected an input's position (0 to {len(inputs) - 1}) "
                             "or its name")
    return out


def _pick(ref: Any, i: int, position: int, count: int, names: Sequence[str]) -> Any:
    """The reference for input i: a mapping by name or index, a tuple with one
    entry per checked input, or the same reference for the only one."""
    if ref is None:
        return None
    if isinstance(ref, Mapping):
        return ref.get(names[i], ref.get(i))
    if isinstance(ref, tuple) and count > 1:
        return ref[position]
    return ref


def _reference(ref: Any, position: int, count: int) -> Any:
    """A reference as the runner reads it: a callable of the inputs, or an array."""
    if callable(ref):
        return CallRef(ref, position if count > 1 else None)
    if isinstance(ref, (tuple, list, dict)) and ref and \
            all(hasattr(v, "shape") for v in (ref.values() if isinstance(ref, dict) else ref)):
        # One per output of a function returning several; the runner splits it.
        return ref
    arr = np.asarray(backends.get(backends.name_of(ref)).to_numpy(ref))
    if arr.dtype.kind == "c":
        raise ValueError("a complex Jacobian or Hessian: give it for the real form of the "
                         "complex inputs and outputs (z as view_as_real(z): [..., 0] the real "
                         "part, [..., 1] the imaginary part); a complex gradient= is read in "
                         "PyTorch's convention")
    return np.asarray(arr, dtype=np.float64)


def _label(f: Callable[..., Any]) -> str:
    """How a checked function is named in reports: a ``Function.apply`` after
    its class, anything else after its own name or type."""
    owner = getattr(f, "__self__", None)
    if getattr(f, "__name__", None) == "apply" and isinstance(owner, type):
        return owner.__name__
    return getattr(f, "__name__", None) or type(f).__name__


def _raise_origin(exc: CaseError) -> None:
    """What the API raises for a call that cannot be run: the exception a
    user's function raised, where there was one, else the named error."""
    origin = exc.origin
    raise origin if isinstance(origin, Exception) else exc


@contextlib.contextmanager
def _keywords() -> Iterator[None]:
    """A keyword the schema refuses, named as a keyword: ``rtol: must be ...``."""
    try:
        yield
    except CaseError as exc:
        if exc.key is None or exc.file is not None:
            raise
        raise CaseError(f"{exc.key}: {exc.message}", origin=exc.origin) from None


def call_case(f: Callable[..., Any], inputs: Sequence[Any], *, wrt: Any = None,
              names: Sequence[str] | None = None, output: str = "f", name: str | None = None,
              order: str = "C", method: MethodSpec = None, step: float | None = None,
              dtype: str | None = None, vectorized: bool | str = False, sparsity: Any = None,
              directions: int | None = None, derivatives: int = 1,
              modes: str | Sequence[str] = ("reverse",), autograd: bool = False,
              expect: Expected = Expected(), behaviours: str | Sequence[str] = (),
              nondet_tol: float = 0.0, cotangent: Any = None, sparse: str = "masked",
              noncontiguous_cotangent: bool = False, structure: Any = None,
              convention: str = "projected", gauge: Any = None,
              locate: bool | str | None = None, vary: Any = None) -> Case:
    """The case a call of the API describes, validated by the schema's own
    parsers (an error names the keyword as a case file's names the key).

    With ``wrt`` None: every input :func:`check` would differentiate.
    """
    backend_name = backends.detect(inputs)
    for i, x in enumerate(inputs):
        if getattr(getattr(x, "device", None), "type", None) == "meta":
            raise ValueError(f"input {i} is a meta tensor: it has a shape but no values to "
                             "differentiate at; pass a tensor on a real device")
    names = _checked_names(f, names, len(inputs))
    name = name or _label(f)
    f, inputs, patterns = adapt.sparse_inputs(f, inputs, sparse)
    complex_names = tuple(n for n, x in zip(names, inputs) if complexify.is_complex(x))
    f, inputs = adapt.complex_inputs(f, inputs)
    targets = _targets(wrt, inputs, names)
    if autograd and backend_name == "numpy":
        raise ValueError("autograd=True needs PyTorch tensors or JAX arrays; NumPy has no autograd")
    with _keywords():
        if dtype is not None:
            choice(dtype, FLOAT_NAMES, "dtype")
        return Case(name=name, inputs=dict(zip(names, inputs)),
                    stages=(Stage(output, UserCall(f, names, vectorized), tuple(names)),),
                    wrt=tuple(names[i] for i in targets), expect=expect,
                    autograd=(backend_name,) if autograd else (), order=parse_order(order),
                    method=parse_method(method).with_step(step), dtype=dtype,
                    backend=backend_name, sparsity=parse_sparsity(sparsity),
                    directions=parse_directions(directions),
                    derivatives=parse_derivatives(derivatives), modes=parse_modes(modes),
                    behaviours=parse_behaviours(behaviours),
                    nondet_tol=tolerance_number(nondet_tol, "nondet_tol"),
                    cotangent=cotangent, noncontiguous_cotangent=bool(noncontiguous_cotangent),
                    complex_inputs=complex_names,
                    sparse_inputs={names[i]: p for i, p in patterns.items()},
                    structure=parse_structure(structure), convention=parse_convention(convention),
                    gauge=parse_gauge(gauge), locate=parse_locate(locate),
                    explore=parse_spec(vary, "vary"), native=True)


def _checked_names(f: Callable[..., Any], names: Sequence[str] | None, count: int
                   ) -> list[str]:
    """``names``, or the parameter names of ``f``: identifiers (or the paths
    :mod:`fdcheck.models` makes), one per input, each once."""
    from .models import Paths
    if names is not None and not isinstance(names, Paths) and (
            isinstance(names, str) or not isinstance(names, (list, tuple))
            or not all(isinstance(n, str) and n.isidentifier() for n in names)):
        raise ValueError(f"names is a list of identifiers, one per input, not {names!r}")
    names = list(names) if names is not None else _names(f, count)
    if len(names) != count:
        raise ValueError(f"names has {len(names)} entries for {count} inputs")
    if len(set(names)) != len(names):
        raise ValueError(f"names has an entry twice: {names}")
    return names


def _expected(targets: Sequence[str], gradient: Reference, jacobian: Reference,
              hessian: Reference, jvp: Any, names: Sequence[str]) -> Expected:
    """The references of a call, per input checked."""
    expected: dict[str, dict[str, Any]] = {"gradient": {}, "jacobian": {}, "hessian": {}}
    for position, wrt in enumerate(targets):
        i = list(names).index(wrt)
        for kind, ref in (("gradient", gradient), ("jacobian", jacobian), ("hessian", hessian)):
            chosen = _pick(ref, i, position, len(targets), names)
            if chosen is not None:
                expected[kind][wrt] = _reference(chosen, position, len(targets))
    return Expected(None, expected["gradient"], expected["jacobian"],
                    {w: jvp for w in targets} if jvp is not None else {}, expected["hessian"])


def _options(atol: float | None, rtol: float | None, tolerance: str | float | None,
             **rest: Any) -> RunOptions:
    """RunOptions for a call: atol and rtol validated as a case's are."""
    try:
        auto = auto_factor(tolerance)
    except ValueError as exc:
        raise CaseError(f"tolerance: {exc}") from None
    if "refine" in rest and rest["refine"] not in (True, False, "all"):
        raise CaseError(f"refine: True, False or 'all', not {rest['refine']!r}")
    with _keywords():
        return RunOptions(atol=None if atol is None else tolerance_number(atol, "atol"),
                          rtol=None if rtol is None else tolerance_number(rtol, "rtol"),
                          auto=auto, source="the call", **rest)
