"""Find the wrong rule inside a function: ``locate=True``.

The function is run once while every custom rule it calls is recorded:
PyTorch ``autograd.Function`` subclasses (through ``Function.apply``, both
the ``forward(ctx, ...)`` and the ``setup_context`` styles), JAX
``custom_vjp`` and ``custom_jvp`` functions (run with jit disabled, so that
their arguments are values, not tracers). Each recorded rule is then checked
on its own, at the inputs it was called with there, by the same checks as
the whole (its backward, forward mode, second order where asked), and the
rules are reported in call order: those that pass, and those that fail, with
their name, where they were called, the shapes they were called at, the
worst entry and the diagnosis. A rule called several times from one place is
checked at its first call.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

# Rules checked at most: a model calling thousands is located by its first ones.
MOST = 50
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Call:
    """One call of a custom rule, as recorded."""

    name: str
    site: str
    rule: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Located:
    """A recorded rule checked on its own."""

    name: str
    site: str
    shapes: tuple[tuple[int, ...], ...]
    result: Any = field(repr=False)   # its CaseResult

    @property
    def passed(self) -> bool:
        return bool(self.result.passed)


@dataclass(frozen=True)
class Location:
    """What locating found: every rule recorded, checked, in call order."""

    rules: tuple[Located, ...]
    recorded: int
    seconds: float
    evaluations: int
    # locate="ops": the first built-in operation whose backward returned NaN
    # (its name and where it was called), or "" where none did; None: not asked.
    nan_op: str | None = None
    # The function is its one rule, called with its own inputs: the whole's
    # checks are the rule's, and were not run a second time.
    alone: bool = False

    @property
    def first_failing(self) -> Located | None:
        return next((r for r in self.rules if not r.passed), None)


def _site() -> str:
    """The first frame outside fdcheck, torch and jax: where the user called the rule."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_HERE) or f"{os.sep}torch{os.sep}" in path
                or f"{os.sep}jax{os.sep}" in path or f"{os.sep}jaxlib{os.sep}" in path):
            return f"{os.path.basename(path)}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


class _Applied:
    """``cls.apply`` as it is outside the recording."""

    def __init__(self, apply: Callable[..., Any], cls: Any) -> None:
        self.apply, self.cls = apply, cls
        self.__name__ = cls.__qualname__

    def __call__(self, *args: Any) -> Any:
        return self.apply(self.cls, *args)


@contextlib.contextmanager
def _recording_torch(calls: list[Call], seen: list[tuple[Any, tuple[Any, ...]]]
                     ) -> Iterator[None]:
    import torch
    from torch.autograd import Function
    original = Function.__dict__["apply"]

    def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if not kwargs:
            kept = tuple(a.detach().clone().requires_grad_(a.requires_grad)
                         if isinstance(a, torch.Tensor) else a for a in args)
            # The rule as checked later calls the original apply, not this recorder.
            calls.append(Call(cls.__qualname__, _site(), _Applied(original.__func__, cls), kept))
        out = original.__func__(cls, *args, **kwargs)
        seen.append((out, args))
        return out

    Function.apply = classmethod(apply)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Function.apply = original  # type: ignore[method-assign]


class _Called:
    """A custom_vjp / custom_jvp function called as it is outside the recording."""

    def __init__(self, call: Callable[..., Any], rule: Any) -> None:
        self.call, self.rule = call, rule
        self.__name__ = getattr(rule.fun, "__name__", "rule")

    def __call__(self, *args: Any) -> Any:
        return self.call(self.rule, *args)


@contextlib.contextmanager
def _recording_jax(calls: list[Call], seen: list[tuple[Any, tuple[Any, ...]]]
                   ) -> Iterator[None]:
    import jax
    originals = {kind: kind.__call__ for kind in (jax.custom_vjp, jax.custom_jvp)}

    def wrap(kind: Any) -> Callable[..., Any]:
        call = originals[kind]

        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not kwargs and not getattr(self, "nondiff_argnums", ()):
                name = getattr(self.fun, "__qualname__", type(self).__name__)
                calls.append(Call(name, _site(), _Called(call, self), tuple(args)))
            out = call(self, *args, **kwargs)
            seen.append((out, args))
            return out
        return recorded

    for kind in originals:
        kind.__call__ = wrap(kind)  # type: ignore[method-assign]
    try:
        with jax.disable_jit():
            yield
    finally:
        for kind, call in originals.items():
            kind.__call__ = call  # type: ignore[method-assign]


def _jax_rule(fn: Any, inputs: Sequence[Any]) -> Call | None:
    """``fn`` as its own one call, where it is a ``custom_vjp`` or
    ``custom_jvp`` function: its derivative is its rule's alone, whatever its
    primal calls (the rules inside it are not differentiated), so nothing is
    run, which with jit disabled would compile each operation afresh."""
    import jax
    kind: Any = type(fn)
    nondiff: Any = getattr(fn, "nondiff_argnums", ())
    if kind not in (jax.custom_vjp, jax.custom_jvp) or nondiff:
        return None
    name = getattr(fn.fun, "__qualname__", kind.__name__)
    return Call(name, _site(), _Called(kind.__call__, fn), tuple(inputs))


def record(fn: Callable[..., Any], inputs: Sequence[Any], backend: str
           ) -> tuple[list[Call], bool]:
    """Run ``fn(*inputs)`` once, recording the custom rules it calls; and
    whether ``fn`` is its one rule (called once with ``inputs`` themselves,
    its output returned as it is)."""
    if backend == "jax":
        rule = _jax_rule(fn, inputs)
        if rule is not None:
            return [rule], True
    calls: list[Call] = []
    seen: list[tuple[Any, tuple[Any, ...]]] = []
    recorder = _recording_torch if backend == "torch" else _recording_jax
    with recorder(calls, seen):
        out = fn(*inputs)
    whole = len(calls) == len(seen) == 1 and seen[0][0] is out \
        and len(seen[0][1]) == len(inputs) and all(a is b for a, b in zip(seen[0][1], inputs))
    return calls, whole


def _differentiable(args: Sequence[Any], backend: str) -> list[int]:
    if backend == "torch":
        return [i for i, a in enumerate(args) if getattr(a, "requires_grad", False)
                and a.is_floating_point()]
    import jax.numpy as jnp
    return [i for i, a in enumerate(args) if hasattr(a, "dtype")
            and jnp.issubdtype(a.dtype, jnp.floating)]


def _shape(a: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in getattr(a, "shape", ()))


def first_nan_op(fn: Callable[..., Any], inputs: Sequence[Any]) -> str:
    """PyTorch: the first operation whose backward returns NaN in a backward
    pass of ``fn`` at ``inputs`` (anomaly mode names it, and where its forward
    was called), or "" where none does."""
    import re
    import warnings

    import torch
    wrt = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    if not wrt:
        return ""
    with warnings.catch_warnings(record=True) as caught, \
            torch.autograd.detect_anomaly(check_nan=True):
        warnings.simplefilter("always")
        out = fn(*inputs)
        outs = [o for o in (out if isinstance(out, (tuple, list)) else [out])
                if isinstance(o, torch.Tensor) and o.requires_grad]
        if not outs:
            return ""
        try:
            torch.autograd.grad(torch.stack([o.sum() for o in outs]).sum(), wrt,
                                allow_unused=True)
        except RuntimeError as exc:
            found = re.search(r"Function '(\w+)' returned nan values", str(exc))
            if found is None:
                raise
            name = found.group(1)
        else:
            return ""
    sites = [m for w in caught for m in re.findall(r'File "([^"]+)", line (\d+)', str(w.message))]
    user = [f"{os.path.basename(f)}:{line}" for f, line in sites
            if not (os.path.abspath(f).startswith(_HERE) or f"{os.sep}torch{os.sep}" in f)]
    return f"{name} ({user[-1]})" if user else name


def locate(fn: Callable[..., Any], inputs: Sequence[Any], backend: str,
           check: Callable[..., Any], ops: bool = False, whole: Any = None) -> Location:
    """Record the custom rules ``fn`` calls at ``inputs`` and check each on
    its own with ``check(rule, *args, wrt=[...], name=...)`` (the API's
    check, with the whole check's options bound), in call order. Where ``fn``
    is nothing but one rule and ``whole`` (the whole's CaseResult) checked
    only what the rule's own check would, that result is the rule's: the
    same check is not run twice."""
    start = time.perf_counter()
    calls, is_rule = record(fn, inputs, backend)
    alone = is_rule and whole is not None and bool(_differentiable(calls[0].args, backend))
    seen: set[tuple[str, str]] = set()
    rules: list[Located] = []
    evaluations = 0
    for call in calls:
        if (call.name, call.site) in seen or len(rules) >= MOST:
            continue
        seen.add((call.name, call.site))
        wrt = _differentiable(call.args, backend)
        if not wrt:
            continue
        result = whole if alone else check(call.rule, *call.args, wrt=wrt,
                                           name=f"{call.name} ({call.site})")
        evaluations += 0 if alone else result.evaluations
        rules.append(Located(call.name, call.site, tuple(_shape(call.args[i]) for i in wrt),
                             result))
    nan_op = first_nan_op(fn, inputs) if ops and backend == "torch" else None
    return Location(tuple(rules), len(calls), time.perf_counter() - start, evaluations, nan_op,
                    alone=alone)
