"""The Python API's numeric derivatives: :func:`numeric`, :func:`jacobian`,
:func:`gradient`, :func:`hessian`, through the same translation and
preparation as :func:`fdcheck.check`.

>>> import numpy as np, fdcheck
>>> A = np.array([[1., 2, 3], [4, 5, 6]]); W = np.array([[7., 8], [10, 11], [12, 13]])
>>> fdcheck.gradient(lambda A, W: (A @ W).sum(), A, W, wrt=1).round(6).tolist()
[[5.0, 5.0], [7.0, 7.0], [9.0, 9.0]]
"""
from __future__ import annotations

import contextlib
from concurrent.futures import Executor
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import backends, derive
from .calls import MethodSpec, _keywords, _raise_origin, call_case
from .engine import JacobianResult
from .errors import CaseError, EvaluationError
from .flatfun import FlatFunction
from .options import RunOptions
from .schema import parse_sparsity
from .subject import Subject, phase, prepare


@contextlib.contextmanager
def _numeric_subject(f: Callable[..., Any], inputs: Sequence[Any], wrt: int | str,
                     order: str, method: MethodSpec, step: float | None, dtype: str | None,
                     vectorized: bool | str, executor: Any, workers: int | None,
                     progress: Callable[[int, int], None] | None
                     ) -> Iterator[tuple[Subject, FlatFunction]]:
    """The subject of a numeric derivative alone, through the same translation
    and preparation as :func:`check`, and the input's flat function; within
    the block, the framework is set as fdcheck needs it and what the user's
    function raises is raised as it is."""
    case = call_case(f, inputs, wrt=wrt, order=order, method=method, step=step, dtype=dtype,
                     vectorized=vectorized)
    report = None if progress is None else (lambda label, done, total: progress(done, total))
    options = RunOptions(executor=executor, workers=workers, progress=report,
                         mode="auto" if vectorized else "serial", source="the call")
    try:
        with np.errstate(all="ignore"), backends.scoped(case.backend), phase("function"):
            subject = prepare(case, options, values=False, checks=False)
            prepared = subject.wrt[case.wrt[0]]
            if vectorized == "vmap" and prepared.unbatched is not None:
                from .report import vmap_reason
                raise EvaluationError(f"vectorized='vmap': {vmap_reason(prepared.unbatched)}; "
                                      "leave vectorized out to evaluate one point a call")
            yield subject, prepared.fn
    except CaseError as exc:
        _raise_origin(exc)


def numeric(f: Callable[..., Any], *inputs: Any, wrt: int | str = 0, order: str = "C",
            method: MethodSpec = None, step: float | None = None,
            dtype: str | None = None, vectorized: bool | str = False,
            executor: Executor | None = None, workers: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            sparsity: Any = None) -> JacobianResult:
    """The numeric Jacobian of ``f`` at ``inputs`` with respect to ``inputs[wrt]``, with
    what it cost.

    Parameters
    ----------
    f : callable
        ``f(*inputs) -> array``, or a tuple, list or dict of arrays (the
        floating outputs joined into one vector, in order: rows of the
        Jacobian); NumPy, PyTorch or JAX, evaluated in its own framework.
    *inputs : arrays or numbers
        Integers are promoted to float64.
    wrt : int or str
        The input to differentiate with respect to: its position or name.
    order : {"C", "F"}
        Row-major (default) or column-major vectorization of input and output.
    method : str, mapping or Method
        ``"central"`` (default), ``"forward"``, ``"backward"``, ``"richardson"``
        (with an error estimate per entry, ``.error``), ``"complex-step"``, or
        ``{"scheme": "central", "order": 4, "step": 1e-4}``.
    step : float, optional
        Relative step, h = step * max(1, |x|).
    dtype : {"float64", "float32"}, optional
        Evaluation precision; default the input's own.
    vectorized : bool or "vmap"
        True: ``f`` accepts a leading batch axis on ``inputs[wrt]``; "vmap":
        ``torch.vmap``/``jax.vmap`` provides one. Many points per call.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Evaluate on it (``f`` and the inputs must pickle).
    progress : callable(done, total), optional
    sparsity : array (m, n), scipy sparse, "diagonal", {"band": [l, u]}, {"blocks": k} or "detect"
        Where the Jacobian may be nonzero: structurally independent columns
        are perturbed together (2 evaluations per group of columns for a
        central difference). "detect" finds the pattern from random probes.

    Returns
    -------
    JacobianResult
        ``.jacobian`` (m, n), ``.tensor``, ``.gradient``, ``.evaluations``, ``.steps``.

    Raises
    ------
    CaseError
        For an argument that is not valid (it names the keyword).
    EvaluationError
        Where ``f`` returns something that is not numbers; whatever ``f``
        itself raises is raised as it is.
    """
    with _keywords():
        sparsity = parse_sparsity(sparsity)
    with _numeric_subject(f, inputs, wrt, order, method, step, dtype, vectorized, executor,
                          workers, progress) as (subject, fn):
        return subject.numeric(fn, subject.call, f"d{subject.case.output}/d{subject.case.wrt[0]}",
                               sparsity)
    raise AssertionError("unreachable")  # the block returns or raises; for type checkers


def jacobian(f: Callable[..., Any], *inputs: Any, wrt: int | str = 0, order: str = "C",
             tensor: bool = False, **options: Any) -> np.ndarray:
    """The numeric Jacobian of ``f`` with respect to ``inputs[wrt]``.

    Returns
    -------
    ndarray, shape (f.size, inputs[wrt].size)
        Row k, column i: d vec(f)[k] / d vec(x)[i], vec in ``order``. With
        ``tensor=True``, shape ``f.shape + inputs[wrt].shape``.

    Other parameters are those of :func:`numeric`.
    """
    result = numeric(f, *inputs, wrt=wrt, order=order, **options)
    return result.tensor if tensor else result.jacobian


def gradient(f: Callable[..., Any], *inputs: Any, wrt: int | str = 0,
             **options: Any) -> np.ndarray:
    """The numeric gradient of a scalar-valued ``f``, shaped like ``inputs[wrt]``."""
    return numeric(f, *inputs, wrt=wrt, **options).gradient


def hessian(f: Callable[..., Any], *inputs: Any, wrt: int | str = 0, order: str = "C",
            tensor: bool = False, method: MethodSpec = None, step: float | None = None,
            dtype: str | None = None, gradient: Callable[..., Any] | None = None,
            vectorized: bool | str = False, executor: Executor | None = None,
            workers: int | None = None) -> np.ndarray:
    """The numeric Hessian of a scalar-valued ``f`` with respect to ``inputs[wrt]``.

    Parameters
    ----------
    f : callable
        ``f(*inputs) -> scalar`` (any array of one element), NumPy, PyTorch or JAX.
    gradient : callable, optional
        ``gradient(*inputs)`` -> the gradient of f with respect to ``inputs[wrt]``,
        shaped like it. Given, the Hessian is its numeric Jacobian (2n
        evaluations of the gradient, any first-order ``method``); else it is
        taken by second differences of f (about 2n**2 evaluations; ``method``
        ``"central"`` or ``"richardson"``, with an error estimate per entry),
        as a case's ``expect.hessian`` is.
    tensor : bool
        Return shape ``input.shape + input.shape`` instead of (n, n).

    Other parameters are those of :func:`numeric`.

    Returns
    -------
    ndarray, shape (n, n)
        Row i, column j: d2 f / d vec(x)[i] d vec(x)[j], vec in ``order``.

    Raises
    ------
    ValueError
        For a function that is not scalar-valued, or a method that takes no
        Hessian (one-sided stencils, the complex step).
    """
    if gradient is not None:
        res = numeric(gradient, *inputs, wrt=wrt, order=order, method=method, step=step,
                      dtype=dtype, vectorized=vectorized, executor=executor, workers=workers)
    else:
        with _numeric_subject(f, inputs, wrt, order, method, step, dtype, vectorized, executor,
                              workers, None) as (subject, fn), subject.backend.no_grad():
            how = derive.hessian_method(subject.method, auto=False)
            res = derive.hessian(fn, how, subject.evaluator(fn))
    return res.tensor if tensor else res.jacobian
