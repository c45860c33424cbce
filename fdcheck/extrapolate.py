"""Richardson extrapolation over a sweep of steps, with an error estimate for
every entry of the Jacobian.

For input element i the central difference D(h) = (f(x + h e_i) - f(x - h e_i)) / 2h
is taken at the steps h_j = H_i 2**-j. Its error is a series in even powers of
h, so two Richardson eliminations turn three consecutive D's into an estimate
R_j of order h**6. Every entry keeps the R_j whose estimated error is smallest,
the estimate being the larger change to R_{j-1} or R_{j+1} (the truncation
error still left) plus the rounding error, ``c eps (|f| / h_j + |R_j|)``.

The sweep adapts to the scale of each input element instead of assuming unit
scale: it starts at H_i = max(1, |x_i|) / 8 and, where 0 < |x_i| < 1, goes on
down to |x_i| / 4096. A function that varies on the scale of x_i itself
(sqrt near 1e-4, sin(1e6 x) near 1e-6) is then resolved as well as one of
unit scale, and one that does not (x_i small by chance in a well-scaled
function) simply keeps an estimate from a larger step. Where an entry is still
converging at the smallest step, the sweep goes on down (a function that
varies on a finer scale than its input, inv(X) near a singular X). The price
is 2 * levels evaluations per element: 20 for |x_i| >= 1, about
20 + 2 log2(1/|x_i|) below, 16 more per extension.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .protocols import Evaluator, Flat
from .engine import JacobianResult, Progress, central_plan, execute, nonfinite_flag
from .evaluate import Batch, Serial
from .stencils import Method
from .step import LADDER_RATIO as RATIO, direction_ladder, ladder

LEVELS = 10              # steps for an element of unit scale or more
MAX_LEVELS = 64          # no sweep goes further than this
EXTEND = 8               # levels added while an entry still converges at the smallest step
ROUNDING = 3.0           # c in c eps (|f| / h + |value|): evaluation noise above one ulp



@dataclass(frozen=True)
class Extrapolated:
    """Columns of a Jacobian by extrapolation.

    Attributes
    ----------
    jacobian : ndarray, shape (m, k)
        The k columns asked for, in the order asked.
    error : ndarray, shape (m, k)
        Estimated absolute error of each entry (inf where no step gave a finite value).
    steps : ndarray, shape (k,)
        For each column, the step chosen for its largest entry.
    evaluations : int
    """

    jacobian: np.ndarray
    error: np.ndarray
    steps: np.ndarray
    evaluations: int


def _grow(a: np.ndarray, rows: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """``a`` (k, L, ...) with ``extra`` levels appended for ``rows``; NaN for the others."""
    out = np.full((a.shape[0], a.shape[1] + extra.shape[1]) + a.shape[2:], np.nan)
    out[:, :a.shape[1]] = a
    out[rows, a.shape[1]:] = extra
    return out


def levels_for(x: np.ndarray) -> np.ndarray:
    """Number of steps in the sweep of each element of flat ``x``; shape (n,)."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(divide="ignore"):
        extra = np.where((ax > 0) & (ax < 1), np.ceil(np.log2(1.0 / np.where(ax > 0, ax, 1))), 0)
    return np.minimum(LEVELS + extra.astype(np.int64), MAX_LEVELS)


def _table(d: np.ndarray) -> np.ndarray:
    # d: (c, L, m) central differences at steps H 2**-j. Two eliminations of
    # the h**2 and h**4 terms: R1_j = D_j + (D_j - D_{j-1}) / 3, then
    # R2_j = R1_j + (R1_j - R1_{j-1}) / 15. Levels without enough history stay NaN.
    r1 = np.full_like(d, np.nan)
    r1[:, 1:] = d[:, 1:] + (d[:, 1:] - d[:, :-1]) / (RATIO ** 2 - 1)
    r2 = np.full_like(d, np.nan)
    r2[:, 2:] = r1[:, 2:] + (r1[:, 2:] - r1[:, 1:-1]) / (RATIO ** 4 - 1)
    return r2


def _select(d: np.ndarray, fscale: np.ndarray, h: np.ndarray, eps: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best extrapolant per entry. d, fscale: (c, L, m); h: (c, L).

    Returns value, error, the level chosen (each (c, m)), and whether the
    truncation error still dominates there (the sweep may need smaller steps).
    """
    r = _table(d)
    # The change from the previous and to the next extrapolant, the larger:
    # taking the smallest estimate over many levels would otherwise favour
    # one that is small by chance.
    step = np.full_like(r, np.inf)
    step[:, 3:] = np.abs(r[:, 3:] - r[:, 2:-1])
    change = step.copy()
    change[:, :-1] = np.fmax(step[:, :-1], np.where(np.isfinite(step[:, 1:]), step[:, 1:], 0.0))
    # No value is known better than a few ulps of itself.
    rounding = ROUNDING * eps * (fscale / h[:, :, None] + np.abs(r))
    est = change + rounding
    est = np.where(np.isfinite(est) & np.isfinite(r), est, np.inf)
    best = np.argmin(est, axis=1)                       # (c, m)
    take = best[:, None, :]
    value = np.take_along_axis(r, take, axis=1)[:, 0]
    error = np.take_along_axis(est, take, axis=1)[:, 0]
    value = np.where(np.isfinite(error), value, np.nan)
    unsettled = np.take_along_axis(change > rounding, take, axis=1)[:, 0]
    return value, error, best, unsettled


def converge(d: np.ndarray, fscale: np.ndarray, h: np.ndarray, eps: float,
              deeper: Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]],
              per_level: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Select per entry; while some entry still converges at the smallest step
    (the function varies on a finer scale than assumed), add EXTEND smaller
    steps for its row, from ``deeper(rows, first, last)``.

    ``h`` is the scale the rounding error of a difference is divided by: the
    step for a first difference, its square for a second one (``per_level``
    evaluations a level: 2 for a first difference, 4 for a mixed second one).

    Returns value, error, best (as :func:`_select`), the steps h, and the
    evaluations the extensions used.
    """
    used = 0
    while True:
        with np.errstate(all="ignore"):
            value, error, best, unsettled = _select(d, fscale, h, eps)
        depth = d.shape[1]
        more = np.flatnonzero((unsettled & (best >= depth - 2)).any(axis=1))
        if not more.size or depth + EXTEND > MAX_LEVELS:
            return value, error, best, h, used
        d2, f2, h2 = deeper(more, depth, depth + EXTEND)
        used += per_level * EXTEND * len(more)
        d, fscale, h = _grow(d, more, d2), _grow(fscale, more, f2), _grow(h, more, h2)


def _levels(fn: Flat, evaluator: Evaluator, cols: np.ndarray, first: int, last: int, top: float | None,
            f0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences along ``cols`` at levels first..last-1: d, fscale (k, L, m); h (k, L)."""
    count = last - first
    reach = getattr(fn, "reach", None)
    if reach is not None:
        top = reach if top is None else min(top, reach)
    plus, minus, h = ladder(fn.x0[cols], fn.dtype, first, last, top)
    # One unit a (column, level): its two points, minus then plus.
    values = np.stack([minus, plus], axis=2).reshape(-1)
    element = np.repeat(cols, 2 * count)

    def points(a: int, b: int) -> Batch:
        return Batch(element[2 * a:2 * b], values[2 * a:2 * b])

    plan, d, fscale = central_plan(fn, points, h, f0)
    # A step that leaves the function's domain gives NaN and is simply not chosen.
    execute(fn, plan, evaluator, nan_where_raises=True)
    shape = (len(cols), count, fn.m)
    return d.reshape(shape), fscale.reshape(shape), h


def extrapolate_columns(fn: Flat, columns: Sequence[int] | np.ndarray | None = None,
                        evaluator: Evaluator | None = None, progress: Progress | None = None,
                        top: float | None = None) -> Extrapolated:
    """Columns of the Jacobian of ``fn`` by Richardson extrapolation.

    Parameters
    ----------
    fn : FlatFunction
    columns : sequence of int, optional
        Input elements to differentiate along; default all n.
    evaluator : Evaluator, optional
    progress : callable(done, total), optional
    top : float, optional
        The largest step relative to max(1, |x|); default 1/8.

    Returns
    -------
    Extrapolated
    """
    evaluator = evaluator if evaluator is not None else Serial()
    cols = np.arange(fn.n) if columns is None else np.asarray(columns, dtype=np.int64)
    m = fn.m
    eps = float(np.finfo(fn.dtype).eps)
    x64 = fn.x0.astype(np.float64)
    levels = levels_for(x64[cols])
    jac = np.empty((m, len(cols)))
    err = np.empty((m, len(cols)))
    steps = np.empty(len(cols))
    planned = int(2 * levels.sum())
    total = 0
    f0 = np.abs(fn.value.real)
    for L in np.unique(levels):
        where = np.flatnonzero(levels == L)
        per_chunk = max(1, evaluator.chunk_points(fn.n, m) // (2 * int(L)))
        for a in range(0, len(where), per_chunk):
            pos = where[a:a + per_chunk]
            c = cols[pos]
            d, fscale, h = _levels(fn, evaluator, c, 0, int(L), top, f0)
            def deeper(rows: np.ndarray, first: int, last: int, c: np.ndarray = c
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
                return _levels(fn, evaluator, c[rows], first, last, top, f0)
            value, error, best, h, extended = converge(d, fscale, h, eps, deeper)
            used = 2 * int(L) * len(c) + extended
            jac[:, pos] = value.T
            err[:, pos] = error.T
            big = np.argmax(np.where(np.isfinite(value), np.abs(value), -1), axis=1)
            steps[pos] = h[np.arange(len(c)), best[np.arange(len(c)), big]]
            total += used
            if progress is not None:
                progress(total, planned)
    return Extrapolated(jac, err, steps, total)


def extrapolate_direction(fn: Flat, v: np.ndarray, evaluator: Evaluator | None = None,
                          top: float | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """J v by Richardson extrapolation along one direction, with its error estimate.

    Parameters
    ----------
    fn : FlatFunction
    v : ndarray, shape (n,)
        The direction; points are x0 + t v for t = top 2**-j.

    Returns
    -------
    value, error : ndarray, shape (m,)
    evaluations : int
        2 per level: about 20, whatever n.
    """
    x64 = fn.x0.astype(np.float64)
    eps = float(np.finfo(fn.dtype).eps)
    f0 = np.abs(fn.value.real)
    none = np.empty(0, dtype=np.int64)

    def levels(rows: Any, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # One direction: every level is for its one row.
        t = direction_ladder(first, last, top)
        dense = np.stack([(x64 + s * v).astype(fn.dtype) for tk in t for s in (-tk, tk)])
        plan, d, fs = central_plan(fn, lambda a, b: Batch(none, none, None, dense[2 * a:2 * b]),
                                   t, f0)
        execute(fn, plan, evaluator)
        return d[None], fs[None], t[None]

    value, error, _, _, extended = converge(*levels(None, 0, LEVELS), eps, levels)
    return value[0], error[0], 2 * LEVELS + extended


def richardson_jacobian(fn: Flat, method: Method, evaluator: Evaluator | None = None,
                        progress: Progress | None = None) -> JacobianResult:
    """The Jacobian by Richardson extrapolation, with ``error`` for every entry."""
    ext = extrapolate_columns(fn, None, evaluator, progress, top=method.step)
    return JacobianResult(ext.jacobian, fn.value.real, ext.steps, ext.evaluations, fn.in_shape,
                          fn.out_shape, fn.order, method, ext.error,
                          nonfinite_flag(ext.jacobian), fn.precision)
