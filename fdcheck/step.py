"""Step selection.

For a stencil of accuracy order p the truncation error grows like h**p and the
rounding error like eps/h; their sum is smallest near h = eps**(1/(p+1)) on a
function of unit scale. The step is taken relative to the input,
h = eps**(1/(p+1)) * max(1, |x|), as in SciPy's ``approx_derivative``; the
engine then divides by the step actually representable, (x + h) - x.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .stencil import Stencil

try:
    from . import _hotloop
except ImportError:  # not compiled: the NumPy arithmetic below gives the same steps
    _hotloop = None


@lru_cache(maxsize=None)
def _limits(dtype: np.dtype) -> tuple[float, float]:
    info = np.finfo(dtype)
    return float(info.eps), float(info.tiny)


def default_relative_step(dtype: np.dtype | type, stencil: Stencil) -> float:
    """eps(dtype) ** (1 / (order + 1)): 6.1e-6 for float64 central order 2."""
    return _limits(np.dtype(dtype))[0] ** (1.0 / (stencil.order + 1))


def steps_for(x: np.ndarray, dtype: np.dtype | type, stencil: Stencil,
              relative: float | None = None) -> np.ndarray:
    """Steps actually taken for each element of flat ``x``, as float64.

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
    dt = np.dtype(dtype)
    rel = default_relative_step(dt, stencil) if relative is None else float(relative)
    xd = np.asarray(x, dtype=dt)
    if _hotloop is not None:
        # One pass in C where NumPy takes six ufunc calls; None leaves float32,
        # strided x and every step that is not positive to the lines below.
        taken = _hotloop.steps(xd, rel)
        if taken is not None:
            return taken
    wanted = (rel * np.maximum(1.0, np.abs(xd.astype(np.float64, copy=False)))).astype(dt, copy=False)
    # The step actually representable: rounding (x + h) - x keeps the
    # difference quotient consistent with the points really evaluated.
    taken = ((xd + wanted) - xd).astype(np.float64, copy=False)
    # min() is one pass and cheaper than (taken > 0).all(); a nan makes it False.
    if not taken.size or taken.min() > 0:  # the usual case: no underflow, no inf or nan in x
        return taken
    tiny = _limits(dt)[1]
    return np.where(taken > 0, taken, np.maximum(wanted.astype(np.float64), tiny))


def central_points(x: np.ndarray, h: np.ndarray,
                   weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two points of each element for a central difference of order 2,
    and the factor of their difference.

    Parameters
    ----------
    x : ndarray, shape (n,)
        The point, in the evaluation dtype.
    h : ndarray of float64, shape (n,)
        The steps, from :func:`steps_for`.
    weight : float
        The stencil's weight of the upper point (1/2).

    Returns
    -------
    upper, lower : ndarray, shape (n,), x's dtype
        x + h and x - h, summed in float64 and rounded to the dtype.
    scale : ndarray of float64, shape (n,)
        weight / h: the difference of the two outputs times it is the column.
    """
    if _hotloop is not None:
        # One pass in C where NumPy takes five calls (their cost, not the
        # arithmetic, is what a small input pays); None leaves strided views
        # and dtypes other than float64 and float32 to the lines below.
        found = _hotloop.central(x, h, float(weight))
        if found is not None:
            return found
    x64 = x.astype(np.float64, copy=False)
    return (x64 + h).astype(x.dtype, copy=False), (x64 - h).astype(x.dtype, copy=False), weight / h
