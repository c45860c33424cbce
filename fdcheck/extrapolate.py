"""Richardson extrapolation over a sweep of steps, with an error estimate for
every entry of the Jacobian.

For input element i the central difference D(h) = (f(x + h e_i) - f(x - h e_i)) / 2h
is taken at the steps h_j = H_i 2**-j. Its error is a series in even powers of
h, so two Richardson eliminations turn three consecutive D's into an estimate
R_j of order h**6. Every entry keeps the R_j whose estimated error is smallest,
the estimate being the change from R_{j-1} (the truncation error still left)
plus the rounding error the extrapolation amplifies, ``c eps |f| / h_j``.

The sweep adapts to the scale of each input element instead of assuming unit
scale: it starts at H_i = max(1, |x_i|) / 8 and, where 0 < |x_i| < 1, goes on
down to |x_i| / 4096. A function that varies on the scale of x_i itself
(sqrt near 1e-4, sin(1e6 x) near 1e-6) is then resolved as well as one of
unit scale, and one that does not (x_i small by chance in a well-scaled
function) simply keeps an estimate from a larger step. The price is
2 * levels evaluations per element: 20 for |x_i| >= 1, about 20 + 2 log2(1/|x_i|)
below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .evaluate import Batch, Serial

TOP = 2.0 ** -3          # the largest step, relative to max(1, |x|)
LEVELS = 10              # steps for an element of unit scale or more
MAX_LEVELS = 64          # no sweep goes further than this
RATIO = 2.0              # between consecutive steps
ROUNDING = 3.0

Progress = Callable[[int, int], None]


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
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best extrapolant per entry. d, fscale: (c, L, m); h: (c, L)."""
    r = _table(d)
    change = np.full_like(r, np.inf)
    change[:, 3:] = np.abs(r[:, 3:] - r[:, 2:-1])
    # No value is known better than a few ulps of itself.
    rounding = ROUNDING * eps * (fscale / h[:, :, None] + np.abs(r))
    est = change + rounding
    est = np.where(np.isfinite(est) & np.isfinite(r), est, np.inf)
    best = np.argmin(est, axis=1)                       # (c, m)
    take = best[:, None, :]
    value = np.take_along_axis(r, take, axis=1)[:, 0]
    error = np.take_along_axis(est, take, axis=1)[:, 0]
    value = np.where(np.isfinite(error), value, np.nan)
    return value, error, best


def extrapolate_columns(fn: Any, columns: Sequence[int] | np.ndarray | None = None,
                        evaluator: Any = None, progress: Progress | None = None,
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
    x0 = fn.x0
    cols = np.arange(fn.n) if columns is None else np.asarray(columns, dtype=np.int64)
    m = fn.m
    eps = float(np.finfo(fn.dtype).eps)
    x64 = x0.astype(np.float64)
    levels = levels_for(x64[cols])
    jac = np.empty((m, len(cols)))
    err = np.empty((m, len(cols)))
    steps = np.empty(len(cols))
    total = int(2 * levels.sum())
    done = 0
    f0 = np.abs(fn.value.real)
    for L in np.unique(levels):
        where = np.flatnonzero(levels == L)
        per_chunk = max(1, evaluator.chunk_points(fn.n, m) // (2 * int(L)))
        for a in range(0, len(where), per_chunk):
            pos = where[a:a + per_chunk]
            c = cols[pos]
            scale = np.maximum(1.0, np.abs(x64[c]))
            wanted = (TOP if top is None else top) * scale[:, None] * RATIO ** -np.arange(L)[None, :]      # (k, L)
            plus = (x64[c][:, None] + wanted).astype(fn.dtype)
            minus = (x64[c][:, None] - wanted).astype(fn.dtype)
            # Divide by the distance between the points really evaluated.
            h = (plus.astype(np.float64) - minus.astype(np.float64)) / 2
            values = np.stack([minus, plus], axis=2).reshape(-1)                # (k*L*2,)
            ys = evaluator(fn, x0, Batch(np.repeat(c, 2 * L), values), np.float64)
            ys = ys.reshape(len(c), L, 2, m)
            with np.errstate(all="ignore"):
                d = (ys[:, :, 1] - ys[:, :, 0]) / np.where(h > 0, 2 * h, np.nan)[:, :, None]
                fscale = np.maximum(np.maximum(np.abs(ys[:, :, 0]), np.abs(ys[:, :, 1])), f0)
                value, error, best = _select(d, fscale, h, eps)
            jac[:, pos] = value.T
            err[:, pos] = error.T
            big = np.argmax(np.where(np.isfinite(value), np.abs(value), -1), axis=1)
            steps[pos] = h[np.arange(len(c)), best[np.arange(len(c)), big]]
            done += 2 * L * len(c)
            if progress is not None:
                progress(done, total)
    return Extrapolated(jac, err, steps, total)
