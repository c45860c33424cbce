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

import numpy as np

from .protocols import Evaluator, Flat
from .engine import JacobianResult, Plan, Progress, central_plan, execute, nonfinite_flag
from .errors import ComplexStepError
from .evaluate import Batch
from .stencils import Method
from .step import complex_steps, probe_steps

PROBE_RTOL = 1e-5        # relative agreement wanted (float64; float32 allows 100 eps**(2/3))


def _complex_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.complex64 if dtype == np.float32 else np.complex128)


def _call_complex(fn: Flat, z: np.ndarray) -> np.ndarray:
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


def probe(fn: Flat, seed: int = 0) -> int:
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
    h = float(complex_steps(np.abs(x).max(initial=0.0, keepdims=True), fn.dtype)[0][0])
    by_complex = _call_complex(fn, (x + 1j * h * v).astype(_complex_dtype(fn.dtype))).imag / h
    size = float(np.abs(by_complex[np.isfinite(by_complex)]).max(initial=0.0))
    eps = float(np.finfo(fn.dtype).eps)
    tol = max(PROBE_RTOL, 100 * eps ** (2 / 3)) * max(size, eps)
    best, closest = np.inf, by_complex
    steps = probe_steps(x)
    for t in steps:
        central = _central(fn, x, v, t)
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


def _central(fn: Flat, x: np.ndarray, v: np.ndarray, t: float) -> np.ndarray:
    """(f(x + t v) - f(x - t v)) / 2t, through the engine; shape (m,)."""
    dense = np.stack([(x - t * v).astype(fn.dtype), (x + t * v).astype(fn.dtype)])
    none = np.empty(0, dtype=np.int64)
    plan, d, _ = central_plan(fn, lambda a, b: Batch(none, none, None, dense[2 * a:2 * b]),
                              np.array([t]), np.zeros(fn.m))
    execute(fn, plan)
    return d[0]


def complex_step_columns(fn: Flat, step: float | None = None, evaluator: Evaluator | None = None,
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
    n, m = fn.n, fn.m
    x64 = fn.x0.astype(np.float64)
    h, ulps = complex_steps(x64, fn.dtype, step)
    cdt = _complex_dtype(fn.dtype)
    jac_t = np.empty((n, m))

    def points(a: int, b: int) -> Batch:
        return Batch(np.arange(a, b), (x64[a:b] + 1j * h[a:b]).astype(cdt))

    def combine(ys: np.ndarray, a: int, b: int) -> None:
        jac_t[a:b] = ys.imag / h[a:b, None]

    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        count = execute(fn, Plan(n, 1, points, combine, x64.astype(cdt), cdt), evaluator, progress)
    jac = jac_t.T.copy()
    eps = float(np.finfo(fn.dtype).eps)
    with np.errstate(invalid="ignore"):
        row = np.nanmax(np.abs(jac), axis=1, keepdims=True) if n else np.zeros((m, 1))
    error = ulps[None, :] * (np.abs(jac) + row * eps)
    return jac, error, h, count


def complex_step_jacobian(fn: Flat, method: Method, evaluator: Evaluator | None = None,
                          progress: Progress | None = None) -> JacobianResult:
    """The Jacobian by the complex step, after :func:`probe` has found the
    function complex-safe (else ComplexStepError)."""
    probing = probe(fn)
    jac, error, h, count = complex_step_columns(fn, method.step, evaluator, progress)
    return JacobianResult(jac, fn.value.real, h, count + probing, fn.in_shape, fn.out_shape,
                          fn.order, method, error, nonfinite_flag(jac), fn.precision)
