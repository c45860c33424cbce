"""Every step rule of fdcheck, in one place.

A rule that can estimate the error its steps leave returns ``(steps,
estimate)`` (the estimate None where it depends on derivatives the rule cannot
see); a rule whose error is estimated by the method that uses it (a ladder,
whose Richardson table estimates it, a probe) returns its steps alone, and
says so ("step-only"):

=======================  =====================================  ======================
rule                     used by                                returns
=======================  =====================================  ======================
:func:`stencil_steps`    stencils, sparsity groups              (steps, None)
:func:`steps_for`        the same, steps alone                  step-only
:func:`second_steps`     Hessians by second differences         (steps, None)
:func:`complex_steps`    the complex step                       (steps, ulps of error)
:func:`ladder`,          Richardson over a column's ladder      step-only: the table
:func:`ladder_steps`                                            estimates the error
:func:`direction_step`,  the directional check (one look, then  step-only
:func:`direction_ladder` Richardson along the direction)
:func:`halving_steps`    the kink and jump probes of verify     step-only
:func:`probe_steps`      the complex step's safety probe        step-only
:func:`pattern_steps`    sparsity detection                     step-only
=======================  =====================================  ======================

For a stencil of accuracy order p the truncation error grows like h**p and the
rounding error like eps/h; their sum is smallest near h = eps**(1/(p+1)) on a
function of unit scale. The step is taken relative to the input,
h = eps**(1/(p+1)) * max(1, |x|), as in SciPy's ``approx_derivative``; the
difference is then divided by the step actually representable, (x + h) - x,
so that the quotient matches the points really evaluated.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .stencils import Stencil

Steps = tuple[np.ndarray, "np.ndarray | None"]

# Richardson extrapolation (fdcheck.extrapolate): a ladder of steps H 2**-j.
LADDER_TOP = 2.0 ** -3      # the largest step, relative to max(1, |x|)
LADDER_RATIO = 2.0          # between consecutive steps
# The complex step: no subtraction, so the step can be far below eps.
COMPLEX_STEP = 1e-20        # relative to max(1, |x|)


@lru_cache(maxsize=None)
def _limits(dtype: np.dtype) -> tuple[float, float]:
    info = np.finfo(dtype)
    return float(info.eps), float(info.tiny)


def default_relative_step(dtype: np.dtype | type, stencil: Stencil) -> float:
    """eps(dtype) ** (1 / (order + 1)): 6.1e-6 for float64 central order 2."""
    return _limits(np.dtype(dtype))[0] ** (1.0 / (stencil.order + 1))


def steps_for(x: np.ndarray, dtype: np.dtype | type, stencil: Stencil,
              relative: float | None = None) -> np.ndarray:
    """Step-only. Steps of a stencil for each element of flat ``x``, as float64.

    Parameters
    ----------
    x : ndarray, shape (n,)
        The point, already in ``dtype``.
    dtype : numpy dtype
        The precision in which the function is evaluated.
    stencil : Stencil
    relative : float, optional
        Relative step factor; default :func:`default_relative_step`.

    Returns
    -------
    ndarray, shape (n,), float64
        h_i > 0 with ``x_i + h_i`` exactly representable in ``dtype``.
    """
    return stencil_steps(x, dtype, stencil, relative)[0]


def stencil_steps(x: np.ndarray, dtype: np.dtype | type, stencil: Stencil,
                  relative: float | None = None) -> Steps:
    """:func:`steps_for` with its error estimate: None, since the truncation
    error depends on derivatives of the function that one step cannot see."""
    dt = np.dtype(dtype)
    rel = default_relative_step(dt, stencil) if relative is None else float(relative)
    xd = np.asarray(x, dtype=dt)
    wanted = (rel * np.maximum(1.0, np.abs(xd.astype(np.float64, copy=False)))).astype(dt, copy=False)
    taken = ((xd + wanted) - xd).astype(np.float64, copy=False)
    # min() is one pass; a nan makes it False.
    if not taken.size or np.minimum.reduce(taken) > 0:  # the usual case: no underflow, no inf or nan in x
        return taken, None
    tiny = _limits(dt)[1]
    return np.where(taken > 0, taken, np.maximum(wanted.astype(np.float64), tiny)), None


def second_steps(x: np.ndarray, dtype: np.dtype | type, relative: float | None = None) -> Steps:
    """Steps of a second difference: eps**(1/4) * max(1, |x|) (1.2e-4 for
    float64), where its truncation error (h**2 times the fourth derivative)
    meets its rounding error (eps |f| / h**2); representable in ``dtype``."""
    dt = np.dtype(dtype)
    rel = _limits(dt)[0] ** 0.25 if relative is None else float(relative)
    xd = np.asarray(x, dtype=dt)
    wanted = (rel * np.maximum(1.0, np.abs(xd.astype(np.float64)))).astype(dt)
    taken = ((xd + wanted) - xd).astype(np.float64)
    return np.where(taken > 0, taken, np.maximum(wanted.astype(np.float64), _limits(dt)[1])), None


def ladder(x: np.ndarray, dtype: np.dtype | type, first: int, last: int,
           top: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step-only (the Richardson table estimates the error): the ladder of each
    element, levels ``first`` to ``last - 1``.

    Level j moves x_i by ``top * max(1, |x_i|) * 2**-j`` each way.

    Parameters
    ----------
    x : ndarray, shape (k,)
        The elements, in float64.
    dtype : numpy dtype
        The evaluation precision: the points are rounded to it.
    top : float, optional
        The largest relative step; default :data:`LADDER_TOP`.

    Returns
    -------
    plus, minus : ndarray, shape (k, last - first), ``dtype``
        The points of each level.
    h : ndarray, shape (k, last - first), float64
        Half the distance between the points really evaluated.
    """
    xc = np.asarray(x, dtype=np.float64)[:, None]
    wanted = ladder_steps(xc[:, 0], first, last, top)
    plus = (xc + wanted).astype(dtype)
    minus = (xc - wanted).astype(dtype)
    return plus, minus, (plus.astype(np.float64) - minus.astype(np.float64)) / 2


def direction_step(dtype: np.dtype | type) -> float:
    """Step-only. The step t of one central difference along a direction v (points
    x0 +- t v, v scaled by max(1, |x|)): eps**(1/3), as for a coordinate."""
    return _limits(np.dtype(dtype))[0] ** (1 / 3)


def ladder_steps(x: np.ndarray, first: int, last: int, top: float | None = None) -> np.ndarray:
    """Step-only. The Richardson ladder's steps of each element, shape (k, last - first):
    ``top * max(1, |x|) * 2**-j`` for levels j = first .. last - 1."""
    top = LADDER_TOP if top is None else float(top)
    scale = top * np.maximum(1.0, np.abs(np.asarray(x, dtype=np.float64)))
    return scale[:, None] * LADDER_RATIO ** -np.arange(first, last, dtype=np.float64)[None, :]


def direction_ladder(first: int, last: int, top: float | None = None) -> np.ndarray:
    """Step-only. The steps t of levels ``first`` to ``last - 1`` along a direction v
    (points x0 +- t v); shape (last - first,)."""
    top = LADDER_TOP if top is None else float(top)
    return top * LADDER_RATIO ** -np.arange(first, last, dtype=np.float64)


def complex_steps(x: np.ndarray, dtype: np.dtype | type, relative: float | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The complex step h = relative * max(1, |x|) and its error: a few ulps
    of the result, since nothing is subtracted (per unit of |f'|), shape (n,)."""
    x64 = np.asarray(x, dtype=np.float64)
    h = (COMPLEX_STEP if relative is None else float(relative)) * np.maximum(1.0, np.abs(x64))
    return h, np.full(x64.shape, 8 * _limits(np.dtype(dtype))[0])


def halving_steps(steps: np.ndarray, levels: int) -> np.ndarray:
    """Step-only: each element's ``steps`` halved ``levels - 1`` times, forward
    then backward, shape (k, 2 levels): ``h, h/2, ..., -h, -h/2, ...``."""
    ladder = 0.5 ** np.arange(levels)
    return np.asarray(steps, dtype=np.float64)[:, None] * np.concatenate([ladder, -ladder])


def probe_steps(x: np.ndarray) -> np.ndarray:
    """Step-only. Steps of the complex step's safety probe: from 1e-2 of the largest
    magnitude down to 1e-8 of the smallest nonzero one, so that some step
    resolves a smooth function of any scale."""
    ax = np.abs(x[np.isfinite(x)])
    top = max(1.0, float(ax.max(initial=0.0)))
    low = float(ax[ax > 0].min(initial=top))
    last = min(40, int(np.ceil(np.log10(top / low))) + 8)
    return top * 10.0 ** -np.arange(2, last + 1)


def pattern_steps(x: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Step-only. The moves of the sparsity probes: the central difference's own step
    scale, so that what it would see as a nonzero, the probes see moving."""
    eps = _limits(np.dtype(dtype))[0]
    return eps ** (1 / 3) * np.maximum(1.0, np.abs(np.asarray(x, dtype=np.float64)))
