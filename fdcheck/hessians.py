"""The numeric Hessian of a scalar function, by second differences.

For input elements i != j, the mixed second difference

    H_ij = (f(x + h_i e_i + h_j e_j) - f(x + h_i e_i - h_j e_j)
            - f(x - h_i e_i + h_j e_j) + f(x - h_i e_i - h_j e_j)) / (4 h_i h_j)

and on the diagonal H_ii = (f(x + 2 h_i e_i) - 2 f(x) + f(x - 2 h_i e_i)) / (4 h_i**2),
the same formula with j = i. Both have an error series in even powers of h,
so Richardson extrapolation over a ladder of steps applies to them as to a
first difference (:mod:`fdcheck.extrapolate`), with an error estimate per
entry. Only the upper triangle is evaluated: 2n + 4 n(n-1)/2 evaluations.
Where a gradient function is at hand, the Hessian is instead its Jacobian, by
any first-order method (:func:`fdcheck.derive.jacobian`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .protocols import Evaluator, Flat
from .engine import NOISE, JacobianResult, Plan, execute, nonfinite_flag
from .evaluate import Batch
from .extrapolate import LEVELS, converge
from .stencils import Method
from .step import ladder_steps, second_steps


def _scalar(fn: Flat) -> None:
    if fn.m != 1:
        raise ValueError(f"the output has {fn.m} elements; a Hessian needs a scalar-valued "
                         "function")


def upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries (i, j), i < j, of the strict upper triangle, row by row."""
    i, j = np.triu_indices(n, 1)
    return i.astype(np.int64), j.astype(np.int64)


def _second_differences(fn: Flat, i: np.ndarray, j: np.ndarray, hi: np.ndarray, hj: np.ndarray,
                        evaluator: Evaluator | None) -> tuple[np.ndarray, np.ndarray, int]:
    """H_ij by the four-point formula for the pairs (i[k], j[k]), i != j, at
    steps (hi[k], hj[k]); with the largest |f| among each pair's points."""
    x64 = fn.x0.astype(np.float64)
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64)
    values = np.empty((len(i), 4, 2))
    values[:, :, 0] = x64[i, None] + signs[None, :, 0] * hi[:, None]
    values[:, :, 1] = x64[j, None] + signs[None, :, 1] * hj[:, None]
    values = values.astype(fn.dtype)
    indices = np.repeat(np.stack([i, j], axis=1)[:, None, :], 4, axis=1)
    # Steps really taken: (x + h) - x in the evaluation dtype.
    ti = (values[:, 0, 0].astype(np.float64) - values[:, 2, 0].astype(np.float64)) / 2
    tj = (values[:, 0, 1].astype(np.float64) - values[:, 1, 1].astype(np.float64)) / 2
    h, scale = np.empty(len(i)), np.empty(len(i))

    def points(a: int, b: int) -> Batch:
        return Batch(indices[a:b].reshape(-1), values[a:b].reshape(-1),
                     np.arange(0, 8 * (b - a) + 1, 2))

    def combine(out: np.ndarray, a: int, b: int) -> None:
        ys = out.reshape(b - a, 4)
        with np.errstate(all="ignore"):
            h[a:b] = (ys[:, 0] - ys[:, 1] - ys[:, 2] + ys[:, 3]) / (4 * ti[a:b] * tj[a:b])
        scale[a:b] = np.abs(ys).max(axis=1)

    used = execute(fn, Plan(len(i), 4, points, combine), evaluator)
    return h, scale, used


def _diagonal(fn: Flat, i: np.ndarray, hi: np.ndarray, evaluator: Evaluator | None
              ) -> tuple[np.ndarray, np.ndarray, int]:
    """H_ii by (f(x + 2h) - 2 f(x) + f(x - 2h)) / (4 h**2)."""
    x64 = fn.x0.astype(np.float64)
    values = (x64[i, None] + np.array([2.0, -2.0])[None, :] * hi[:, None]).astype(fn.dtype)
    t = (values[:, 0].astype(np.float64) - values[:, 1].astype(np.float64)) / 4
    f0 = float(fn.value[0])
    h, scale = np.empty(len(i)), np.empty(len(i))

    def combine(out: np.ndarray, a: int, b: int) -> None:
        ys = out.reshape(b - a, 2)
        with np.errstate(all="ignore"):
            h[a:b] = ((ys[:, 0] - f0) + (ys[:, 1] - f0)) / (4 * t[a:b] * t[a:b])
        scale[a:b] = np.maximum(np.abs(ys).max(axis=1), abs(f0))

    used = execute(fn, Plan(len(i), 2, lambda a, b: Batch(np.repeat(i[a:b], 2),
                                                           values[a:b].reshape(-1)), combine),
                   evaluator)
    return h, scale, used


def _entries(fn: Flat, i: np.ndarray, j: np.ndarray, hi: np.ndarray, hj: np.ndarray,
             evaluator: Evaluator | None) -> tuple[np.ndarray, np.ndarray, int]:
    """H_ij for any pairs, the diagonal ones by their own formula."""
    diag = i == j
    value = np.empty(len(i))
    scale = np.empty(len(i))
    used = 0
    if diag.any():
        value[diag], scale[diag], k = _diagonal(fn, i[diag], hi[diag], evaluator)
        used += k
    if (~diag).any():
        value[~diag], scale[~diag], k = _second_differences(fn, i[~diag], j[~diag], hi[~diag],
                                                            hj[~diag], evaluator)
        used += k
    return value, scale, used


def central_hessian(fn: Flat, method: Method | None = None, evaluator: Evaluator | None = None) -> JacobianResult:
    """The Hessian of scalar ``fn`` by central second differences.

    Parameters
    ----------
    fn : FlatFunction
        A scalar-valued function along one input of n elements.
    method : Method, optional
        Only its ``step`` is used: the relative step, default eps**(1/4).

    Returns
    -------
    JacobianResult
        ``jacobian`` is the Hessian, shape (n, n), symmetric, rows and columns
        in the case's order; ``out_shape`` is the input's shape, so that
        ``tensor`` is ``input.shape + input.shape``. ``evaluations`` is
        2n + 2n(n-1).

    Raises
    ------
    ValueError
        For a function that is not scalar-valued.
    """
    _scalar(fn)
    method = method if method is not None else Method()
    h = second_steps(fn.x0, fn.dtype, method.step)[0]
    n = fn.n
    i, j = upper_pairs(n)
    diag = np.arange(n)
    rows, cols = np.concatenate([diag, i]), np.concatenate([diag, j])
    value, _, used = _entries(fn, rows, cols, h[rows], h[cols], evaluator)
    hess = np.empty((n, n))
    hess[rows, cols] = value
    hess[cols, rows] = value
    eps = float(np.finfo(fn.dtype).eps)
    scale = float(np.abs(fn.value).max(initial=0.0))
    # Four points of weight one over 4 h_i h_j; a column's worst is its smallest h_i.
    rounding = NOISE * eps * scale / (h * (h.min() if n else 1.0))
    return JacobianResult(hess, fn.value, h, used, fn.in_shape, fn.in_shape, fn.order, method,
                          None, nonfinite_flag(hess), fn.precision, rounding)


def extrapolate_entries(fn: Flat, i: np.ndarray, j: np.ndarray, evaluator: Evaluator | None = None,
                        top: float | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """H_ij for the pairs (i[k], j[k]) by Richardson extrapolation over the
    ladder of steps ``top * max(1, |x|) * 2**-l``, with an error estimate.

    Returns
    -------
    value, error : ndarray, shape (len(i),)
    evaluations : int
    """
    _scalar(fn)
    x64 = fn.x0.astype(np.float64)
    eps = float(np.finfo(fn.dtype).eps)
    spent = [0]

    def levels(rows: Any, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = np.arange(len(i)) if rows is None else rows
        steps_i = ladder_steps(x64[i[rows]], first, last, top)
        steps_j = ladder_steps(x64[j[rows]], first, last, top)
        d, fs, hs = [], [], []
        for k in range(last - first):
            hi, hj = steps_i[:, k], steps_j[:, k]
            value, scale, used = _entries(fn, i[rows], j[rows], hi, hj, evaluator)
            spent[0] += used
            d.append(value)
            fs.append(scale)
            hs.append(hi * hj)
        return (np.stack(d, axis=1)[:, :, None], np.stack(fs, axis=1)[:, :, None],
                np.stack(hs, axis=1))

    value, error, _, _, _ = converge(*levels(None, 0, LEVELS), eps, levels, per_level=4)
    return value[:, 0], error[:, 0], spent[0]


def richardson_hessian(fn: Flat, method: Method, evaluator: Evaluator | None = None) -> JacobianResult:
    """The Hessian by Richardson extrapolation of second differences, with
    ``error`` for every entry (about 40 evaluations per entry of the upper
    triangle)."""
    _scalar(fn)
    n = fn.n
    i, j = np.triu_indices(n)
    value, error, used = extrapolate_entries(fn, i, j, evaluator, method.step)
    hess, err = np.empty((n, n)), np.empty((n, n))
    hess[i, j] = hess[j, i] = value
    err[i, j] = err[j, i] = error
    h = second_steps(fn.x0, fn.dtype)[0]
    return JacobianResult(hess, fn.value, h, used, fn.in_shape, fn.in_shape, fn.order, method,
                          err, nonfinite_flag(hess), fn.precision)
