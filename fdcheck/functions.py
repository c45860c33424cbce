"""What a case's function is, as a callable over any backend.

:class:`StagesCall` runs compiled stages in order over an ops namespace;
:class:`PythonCall` calls a user's ``package.module:callable`` with the inputs
as keyword arguments; :class:`UserCall` is the callable a caller of the Python
API hands over, with its inputs positional. They pickle (by source, by name,
or as the user's callable does), so they can be evaluated in worker processes.
"""
from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any, Callable, Mapping, Sequence

from . import backends
from .errors import CaseError
from .expr import Expression


def load_python(target: str, key: str, near: str | None = None) -> Callable[..., Any]:
    """Import ``package.module:attr``.

    The folder ``near`` (the case file's) is searched first, then the current
    directory, then the usual ``sys.path``, so a module kept beside its case
    file is found wherever fdcheck is run from.
    """
    module_name, _, attr = target.partition(":")
    extra = [p for p in (near, "") if p is not None and p not in sys.path]
    sys.path[:0] = extra
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way
        raise CaseError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}", key=key) from None
    finally:
        for p in extra:
            sys.path.remove(p)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CaseError(f"{module_name!r} has no attribute {attr!r}", key=key)
        obj = getattr(obj, part)
    if not callable(obj):
        raise CaseError(f"{target!r} is not callable", key=key)
    return obj


class PythonCall:
    """A user's function called with the inputs as keyword arguments."""

    def __init__(self, target: str, names: Sequence[str], key: str = "function",
                 near: str | None = None) -> None:
        self.target = target
        self.names = tuple(names)
        self.key = key
        self.near = near
        self._fn: Callable[..., Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fn": None}

    @property
    def fn(self) -> Callable[..., Any]:
        if self._fn is None:
            self._fn = load_python(self.target, self.key, self.near)
        return self._fn

    def accepted(self) -> tuple[str, ...]:
        """The inputs the function takes: those its signature names, or all of
        them when it takes ``**kwargs`` (inputs merged in from defaults are not
        forced on a function that does not want them)."""
        try:
            params = inspect.signature(self.fn).parameters.values()
        except (TypeError, ValueError):
            return self.names
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return self.names
        named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        return tuple(n for n in self.names if n in named)

    def __call__(self, *arrays: Any) -> Any:
        values = dict(zip(self.names, arrays))
        return self.fn(**{n: values[n] for n in self.accepted()})


class UserCall:
    """A callable from the Python API, called with the inputs positionally.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs) -> array`` in the inputs' framework.
    names : sequence of str
        The names of its inputs, in order.
    vectorized : bool or "vmap"
        True: ``fn`` takes a leading batch axis on any one input; ``"vmap"``:
        the framework's vmap gives it one.
    """

    def __init__(self, fn: Callable[..., Any], names: Sequence[str],
                 vectorized: bool | str = False,
                 batch_fn: Callable[..., Any] | None = None) -> None:
        self.fn = fn
        self.names = tuple(names)
        self.vectorized = vectorized
        # What evaluates a batch where fn itself takes one (vectorized=True), if not fn.
        self.batch_fn = batch_fn

    def __call__(self, *arrays: Any) -> Any:
        return self.fn(*arrays)

    def batched(self, wrt: int, backend: str) -> Callable[..., Any] | None:
        """The callable that evaluates many points of input ``wrt`` at once, if any."""
        if not self.vectorized:
            return None
        if self.vectorized == "vmap":
            return backends.get(backend).vmap(self.fn, wrt, len(self.names))
        return self.batch_fn or self.fn


class CallRef:
    """A reference given as a callable of the inputs (Python API): its value is
    ``fn(*inputs)``, or item ``position`` of it where it returns one per input."""

    def __init__(self, fn: Callable[..., Any], position: int | None = None) -> None:
        self.fn = fn
        self.position = position

    def value(self, inputs: Sequence[Any]) -> Any:
        out = self.fn(*inputs)
        if self.position is not None and isinstance(out, tuple):
            out = out[self.position]
        return out


class StagesCall:
    """Named stages evaluated in order; returns the value of ``upto`` (default the last).

    Parameters
    ----------
    stages : sequence of (name, Expression or PythonCall)
    names : sequence of str
        The names of the positional arguments (the case's inputs, or what a
        stage reads).
    backend : str
        Which ops namespace the expressions run on.
    dtype : str
        Precision of the constants the expressions create.
    """

    def __init__(self, stages: Sequence[tuple[str, Any]], names: Sequence[str], backend: str,
                 dtype: str, upto: str | None = None,
                 lifts: Mapping[str, Callable[[Any], Any]] | None = None,
                 gauge: tuple[str, Callable[[Any], Any]] | None = None) -> None:
        self.stages = tuple(stages)
        # Structured inputs: name -> the map from their coordinates to the
        # matrix the stages read (see :mod:`fdcheck.structure`).
        self.lifts = dict(lifts or {})
        # (stage name, aligner): that stage's value aligned with its value at
        # the base point (see :mod:`fdcheck.gauge`).
        self.gauge = gauge
        if upto is not None:
            cut = [s for s, _ in self.stages].index(upto)
            self.stages = self.stages[:cut + 1]
        self.names = tuple(names)
        self.backend = backend
        self.dtype = dtype
        self._ops: Any = None
        self._native: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_ops": None, "_native": None}

    def _prepare(self, like: Any) -> None:
        b = backends.get(self.backend)
        self._ops = b.ops_for(like)
        self._native = b.native_dtype(self.dtype) if hasattr(b, "native_dtype") else self.dtype

    def _run(self, arrays: Sequence[Any], batch: int | None) -> Any:
        if self._ops is None:
            self._prepare(arrays[0] if arrays else None)
        env = dict(zip(self.names, arrays))
        for name, lift in self.lifts.items():
            if name in env:
                env[name] = lift(env[name])
        value = None
        for name, body in self.stages:
            if isinstance(body, Expression):
                value = body(env, self._ops, batch=batch, dtype=self._native)
            else:
                value = body(*(env[n] for n in body.names))
            if self.gauge is not None and name == self.gauge[0]:
                value = self.gauge[1](value)
            env[name] = value
        return value

    def __call__(self, *arrays: Any) -> Any:
        return self._run(arrays, None)

    @property
    def direct(self) -> Callable[..., Any]:
        """What to call at each point: a caller's own function itself where it
        is the one stage over these names (no stage machinery a call), else
        this."""
        if len(self.stages) == 1 and not self.lifts and self.gauge is None:
            body = self.stages[0][1]
            if isinstance(body, UserCall) and body.names == self.names:
                return body.fn
        return self

    def batched(self, wrt: int) -> Callable[..., Any]:
        """A callable whose argument ``wrt`` has a leading batch axis; the
        others are broadcast along it (without copying)."""
        if any(not isinstance(body, Expression) for _, body in self.stages):
            raise ValueError("only expressions are vectorized automatically")
        return _Batched(self, wrt)


class _Batched:
    def __init__(self, call: StagesCall, wrt: int) -> None:
        self.call = call
        self.wrt = wrt

    def __call__(self, *arrays: Any) -> Any:
        call = self.call
        if call._ops is None:
            call._prepare(arrays[self.wrt])
        k = arrays[self.wrt].shape[0]
        ops = call._ops
        full = [a if i == self.wrt else ops.broadcast_to(a[None], (k,) + tuple(a.shape))
                for i, a in enumerate(arrays)]
        return call._run(full, k)
