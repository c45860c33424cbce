"""The complex step: f'(x) = Im f(x + i h) / h, with no subtraction and so no
cancellation; h can be 1e-20 and the error is that of evaluating f itself.

It is valid only for a function that is real-analytic and written with
operations that continue it analytically. ``abs``, ``max``, comparisons and
anything that drops the imaginary part give a wrong Jacobian without any
error. So before the Jacobian is built, :func:`probe` compares the complex
step with a central difference along a random direction and refuses a
function on which they disagree; compiled expressions are refused earlier,
by name, for the functions they use (see :data:`fdcheck.expr.NOT_COMPLEX_SAFE`).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from .errors import EvaluationError
from .evaluate import Batch, Serial

DEFAULT_STEP = 1e-20     # relative to max(1, |x|)
PROBE_RTOL = 1e-5        # relative agreement wanted (float64; float32 allows 100 eps**(2/3))
Progress = Callable[[int, int], None]


class ComplexStepError(EvaluationError):
    """The function cannot be differentiated by the complex step."""


def _complex_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.complex64 if dtype == np.float32 else np.complex128)


def _call_complex(fn: Any, z: np.ndarray) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # float(z), z.astype(float)...: NumPy only warns that it drops the imaginary part.
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            y = fn(z)
    except Exception as exc:  # a user's function may reject complex input in any way
        raise ComplexStepError(f"the function does not accept complex input "
                               f"({type(exc).__name__}: {exc}); use method richardson") from None
    if not np.iscomplexobj(y):
        raise ComplexStepError("the function returns real values for a complex input (it drops "
                               "the imaginary part), so the complex step cannot see its "
                               "derivative; use method richardson")
    return y


def _probe_steps(x: np.ndarray) -> np.ndarray:
    # From 1e-2 of the largest magnitude down to 1e-8 of the smallest nonzero
    # one: some step in between resolves a smooth function of any scale.
    ax = np.abs(x[np.isfinite(x)])
    top = max(1.0, float(ax.max(initial=0.0)))
    low = float(ax[ax > 0].min(initial=top))
    last = min(40, int(np.ceil(np.log10(top / low))) + 8)
    return top * 10.0 ** -np.arange(2, last + 1)


def probe(fn: Any, seed: int = 0) -> int:
    """Refuse a function whose complex step disagrees with central differences.

    Along a seeded random direction v, Im f(x + i h v) / h must agree with
    (f(x + t v) - f(x - t v)) / 2t for at least one step t of a sweep over
    the input's scales; a function that drops or folds the imaginary part
    (abs, max, a comparison) disagrees at every t.

    Returns
    -------
    int
        Evaluations used.

    Raises
    ------
    ComplexStepError
    """
    rng = np.random.default_rng(seed)
    x = fn.x0.astype(np.float64)
    v = rng.standard_normal(fn.n)
    h = DEFAULT_STEP * max(1.0, float(np.abs(x).max(initial=0.0)))
    by_complex = _call_complex(fn, (x + 1j * h * v).astype(_complex_dtype(fn.dtype))).imag / h
    size = float(np.abs(by_complex[np.isfinite(by_complex)]).max(initial=0.0))
    eps = float(np.finfo(fn.dtype).eps)
    tol = max(PROBE_RTOL, 100 * eps ** (2 / 3)) * max(size, eps)
    best, closest = np.inf, by_complex
    steps = _probe_steps(x)
    for t in steps:
        y_plus = np.asarray(fn((x + t * v).astype(fn.dtype)), dtype=np.float64)
        y_minus = np.asarray(fn((x - t * v).astype(fn.dtype)), dtype=np.float64)
        central = (y_plus - y_minus) / (2 * t)
        gap = np.abs(by_complex - central)
        worst = float(gap.max(initial=0.0)) if np.isfinite(gap).all() else np.inf
        if worst < best:
            best, closest = worst, central
        if worst <= tol:
            return 1 + 2 * len(steps)
    k = int(np.argmax(np.nan_to_num(np.abs(by_complex - closest), nan=np.inf)))
    raise ComplexStepError(
        f"the function is not complex-safe: along a random direction the complex step gives "
        f"{by_complex[k]:.8g} for output element {k}, central differences {closest[k]:.8g} at "
        "best (abs, max, a comparison, a real-only operation, or a complex function computed "
        "inexactly inside?); use method richardson")


def complex_step_columns(fn: Any, step: float | None = None, evaluator: Any = None,
                         progress: Progress | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The Jacobian of ``fn`` by the complex step, one evaluation per input element.

    Parameters
    ----------
    fn : FlatFunction
    step : float, optional
        Relative step; default 1e-20 (h = step * max(1, |x|)).

    Returns
    -------
    jacobian : ndarray, shape (m, n)
    error : ndarray, shape (m, n)
        Estimated error: a few ulps of each entry and of its row's largest.
    steps : ndarray, shape (n,)
    evaluations : int
        n.
    """
    evaluator = evaluator if evaluator is not None else Serial()
    n, m = fn.n, fn.m
    x64 = fn.x0.astype(np.float64)
    h = (DEFAULT_STEP if step is None else float(step)) * np.maximum(1.0, np.abs(x64))
    cdt = _complex_dtype(fn.dtype)
    z0 = x64.astype(cdt)
    jac_t = np.empty((n, m))
    per_chunk = max(1, evaluator.chunk_points(n, m))
    for a in range(0, n, per_chunk):
        b = min(n, a + per_chunk)
        cols = np.arange(a, b)
        values = (x64[cols] + 1j * h[cols]).astype(cdt)
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            ys = evaluator(fn, z0, Batch(cols, values), cdt)
        jac_t[a:b] = ys.imag / h[a:b, None]
        if progress is not None:
            progress(b, n)
    jac = jac_t.T.copy()
    eps = float(np.finfo(fn.dtype).eps)
    with np.errstate(invalid="ignore"):
        row = np.nanmax(np.abs(jac), axis=1, keepdims=True) if n else np.zeros((m, 1))
    error = 8 * eps * (np.abs(jac) + row * eps)
    return jac, error, h, n
