"""The numeric Jacobian: which perturbed points to evaluate, in which batches,
and how to combine them. Knows nothing of YAML, tolerances or output.

Cost is counted in function evaluations: a central stencil of order 2 uses
exactly 2n evaluations for n inputs (f(x0) is evaluated once beforehand by
:class:`~fdcheck.flatfun.FlatFunction` to learn the output's shape).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping

import numpy as np

from .complexstep import complex_step_columns, probe
from .evaluate import Batch, Serial, nonfinite_rows
from .extrapolate import extrapolate_columns
from .layout import matrix_to_tensor
from .stencil import SCHEMES, Stencil, stencil
from .step import central_points, steps_for

Progress = Callable[[int, int], None]
STENCIL_SCHEMES = SCHEMES
# Methods that are not one stencil: Richardson extrapolation over a sweep of
# steps (fdcheck.extrapolate) and the complex step (fdcheck.complexstep).
OTHER_SCHEMES = ("richardson", "complex-step")
CHUNK_SECONDS = 0.05  # a chunk of the one-pass path grows while it takes less
# A Jacobian this large lives outside the cache: writing it (page faults,
# misses) and the differences cost over a tenth of the calls that make it,
# and are better done by a second core while the calls go on.
WRITE_BEHIND_BYTES = 64 * 2**20
NOISE = 10.0   # rounding of one evaluation, in ulps of the largest output, with a margin
ALL_SCHEMES = STENCIL_SCHEMES + OTHER_SCHEMES


@dataclass(frozen=True)
class Method:
    """How the numeric derivative is taken.

    Attributes
    ----------
    scheme : str
        ``central`` (default), ``forward``, ``backward``: one stencil;
        ``richardson``: extrapolation over a sweep of steps, with an error
        estimate per entry; ``complex-step``.
    order : int, optional
        Accuracy order of the stencil (central: 2, 4, 6, 8; one-sided: 1, 2).
    step : float, optional
        Relative step factor: h = step * max(1, |x|). Default
        eps**(1/(order+1)) of the evaluation dtype for a stencil, 1e-20 for
        the complex step, 1/8 for the largest step of the Richardson sweep.
    """

    scheme: str = "central"
    order: int | None = None
    step: float | None = None

    def __post_init__(self) -> None:
        if self.scheme not in ALL_SCHEMES:
            raise ValueError(f"unknown method {self.scheme!r}; expected one of "
                             f"{', '.join(ALL_SCHEMES)}")
        if self.is_stencil:
            self.stencil()  # validates the order
        elif self.order is not None:
            raise ValueError(f"{self.scheme} takes no order (it was given order {self.order})")
        if self.step is not None and not (np.isfinite(self.step) and self.step > 0):
            raise ValueError(f"step must be a positive number, not {self.step!r}")

    @property
    def is_stencil(self) -> bool:
        return self.scheme in STENCIL_SCHEMES

    def stencil(self) -> Stencil:
        """The stencil; for richardson, the central one it extrapolates."""
        if self.scheme == "complex-step":
            raise ValueError("the complex step is not a stencil")
        return stencil("central" if self.scheme == "richardson" else self.scheme, self.order)

    @property
    def label(self) -> str:
        """``central2``, ``forward1``..., ``richardson``, ``complex-step``."""
        if not self.is_stencil:
            return self.scheme
        st = self.stencil()
        return f"{st.scheme}{st.order}"

    @classmethod
    def parse(cls, spec: "Method | str | Mapping[str, Any] | None") -> "Method":
        """A Method from ``"central"``, ``{"scheme": "central", "order": 4}``..."""
        if spec is None:
            return _DEFAULT  # frozen, so one instance serves every call
        if isinstance(spec, Method):
            return spec
        if isinstance(spec, str):
            return cls(scheme=spec)
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"scheme", "order", "step"}
            if unknown:
                raise ValueError(f"unknown method key(s): {', '.join(sorted(unknown))}; "
                                 "expected scheme, order, step")
            step = spec.get("step")
            return cls(scheme=str(spec.get("scheme", "central")),
                       order=None if spec.get("order") is None else int(spec["order"]),
                       step=None if step is None else float(step))
        raise ValueError(f"a method is a name or a mapping, not {spec!r}")

    def with_step(self, step: float | None) -> "Method":
        return self if step is None else replace(self, step=float(step))


_DEFAULT = Method()


@dataclass(frozen=True)
class Flag:
    """Numerical trouble found while differentiating: a result, not a crash."""

    kind: str          # "non-finite"
    message: str
    columns: tuple[int, ...] = ()


@dataclass(frozen=True)
class JacobianResult:
    """A numeric Jacobian and what it cost.

    Attributes
    ----------
    jacobian : ndarray, shape (m, n)
        Row k, column i: d vec(f)[k] / d vec(x)[i].
    value : ndarray, shape (m,)
        vec(f(x0)).
    steps : ndarray, shape (n,)
        The steps actually taken.
    evaluations : int
        Function evaluations used for the Jacobian.
    in_shape, out_shape : tuple of int
    order : {"C", "F"}
    method : Method
    error : ndarray, shape (m, n), optional
        Estimated absolute error of each entry, where the method gives one.
    flags : tuple of Flag
    dtype : str
        The precision the function was evaluated in ("float64", "float32").
    """

    jacobian: np.ndarray
    value: np.ndarray
    steps: np.ndarray
    evaluations: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    order: str
    method: Method
    error: np.ndarray | None = None
    flags: tuple[Flag, ...] = field(default=())
    dtype: str = "float64"

    @classmethod
    def _of(cls, *values: Any) -> "JacobianResult":
        """``JacobianResult(*values)``, every field given, for the plain mode."""
        # The __init__ of a frozen dataclass sets each field through
        # object.__setattr__, which made it a tenth of the fixed cost of a
        # small Jacobian; filling the instance's __dict__ at once builds the
        # same (still frozen) object in a fraction of that.
        result = object.__new__(cls)
        result.__dict__.update(zip(_RESULT_FIELDS, values))
        return result

    @property
    def tensor(self) -> np.ndarray:
        """The Jacobian as an array of shape out_shape + in_shape."""
        return matrix_to_tensor(self.jacobian, self.out_shape, self.in_shape, self.order)

    @property
    def noise(self) -> np.ndarray:
        """The rounding error an entry of each column can carry, whatever the
        reference, shape (n,): NOISE x eps x sum|w| x max|f| / h_j for a
        stencil; 0 for the methods whose ``error`` already holds it. Serves as
        the least absolute tolerance, so that a derivative whose entries are
        all tiny (det at 1e-4 scale) is still judged, and one that is exactly
        0 is not failed for noise."""
        if self.error is not None or not self.steps.size:
            return np.zeros(self.steps.shape)
        eps = float(np.finfo(self.dtype).eps)
        weights = sum(abs(w) for _, w in self.method.stencil().perturbed)
        finite = np.abs(self.value[np.isfinite(self.value)])
        scale = float(finite.max()) if finite.size else 0.0
        return NOISE * eps * weights * scale / self.steps

    @property
    def gradient(self) -> np.ndarray:
        """For a scalar-valued function: the gradient, shaped like the input."""
        if self.jacobian.shape[0] != 1:
            raise ValueError(f"the output has {self.jacobian.shape[0]} elements; a gradient "
                             "needs a scalar-valued function (use the Jacobian)")
        return self.jacobian[0].reshape(self.in_shape, order=self.order)


_RESULT_FIELDS = tuple(f.name for f in fields(JacobianResult))


def _columns_flag(cols: list[int]) -> tuple[Flag, ...]:
    if not cols:
        return ()
    return (Flag("non-finite", f"the function is not finite at a perturbed point for "
                               f"{len(cols)} input element(s)", tuple(cols)),)


def _nonfinite_flag(jac: np.ndarray) -> tuple[Flag, ...]:
    return _columns_flag(nonfinite_rows(jac.T))


def _combine(fn: Any, evaluator: Any, st: Stencil, x0: np.ndarray, x64: np.ndarray, h: np.ndarray,
             a: int, b: int, buffer: np.ndarray, dest: np.ndarray) -> None:
    """Columns a to b of the Jacobian, into ``dest`` (b - a, m): the stencil's
    points of those elements evaluated as one batch, then combined."""
    offsets = st.offsets_array
    weights = [w for _, w in st.perturbed]
    p = len(offsets)
    cols = np.arange(a, b).repeat(p)
    values = (x64[a:b, None] + offsets * h[a:b, None]).reshape(-1).astype(fn.dtype, copy=False)
    ys = evaluator(fn, x0, Batch(cols, values), np.float64, buffer).reshape(b - a, p, fn.m)
    if p == 2 and weights[0] == -weights[1]:
        np.subtract(ys[:, 1], ys[:, 0], out=dest)
        dest *= (weights[1] / h[a:b])[:, None]
        return
    # Summed as differences, sum_q w_q (f_q - f_ref), never as sum_q w_q f_q:
    # an output the element does not affect then gets exactly 0, not the
    # rounding of |f| times weights that only cancel on paper.
    if st.antisymmetric_pairs:
        dest.fill(0.0)
        for q_plus, q_minus, w in st.antisymmetric_pairs:
            dest += (ys[:, q_plus] - ys[:, q_minus]) * w
    else:
        f0 = fn.value.real
        np.multiply(ys[:, 0] - f0, weights[0], out=dest)
        for q in range(1, p):
            dest += (ys[:, q] - f0) * weights[q]
    dest /= h[a:b, None]


def stencil_jacobian(fn: Any, method: Method, evaluator: Any = None,
                     progress: Progress | None = None) -> JacobianResult:
    """The Jacobian of ``fn`` by a finite-difference stencil.

    Parameters
    ----------
    fn : FlatFunction
        The function along one input (``fn.x0``, ``fn.value``, ``fn.m``).
    method : Method
    evaluator : Evaluator, optional
        Default :class:`~fdcheck.evaluate.Serial`.
    progress : callable(done, total), optional
        Called after each chunk with evaluations done and planned.

    Returns
    -------
    JacobianResult
        ``evaluations`` is n times the number of non-centre points of the
        stencil: 2n for central order 2.
    """
    evaluator = evaluator if evaluator is not None else Serial()
    st = method.stencil()
    x0, n, m = fn.x0, fn.n, fn.m
    h = steps_for(x0, fn.dtype, st, method.step)
    p = len(st.perturbed)
    jac_t = np.empty((n, m), dtype=np.float64)
    per_chunk = max(1, evaluator.chunk_points(n, m) // p)
    total = n * p
    # The central difference of order 2 in one pass where the evaluator offers it.
    fused = getattr(evaluator, "differences", None) if st.offsets == (-1, 1) else None
    if fused is not None:
        # The same arithmetic as the points _combine evaluates: x + offset * h, then the dtype.
        upper, lower, scale = central_points(x0, h, st.perturbed[1][1])
    behind = jac_t.nbytes >= WRITE_BEHIND_BYTES
    buffer = None  # one for every chunk, allocated only if the points are evaluated apart
    bad: list[int] = []
    a = 0
    while a < n:
        b = min(n, a + per_chunk)
        dest = jac_t[a:b]
        found = None
        if fused is not None:
            started = time.perf_counter()
            found = fused(fn, x0, a, upper[a:b], lower[a:b], scale[a:b], dest, behind)
            if found is None:
                fused = None
            elif time.perf_counter() - started < CHUNK_SECONDS:
                # No buffer bounds this path's chunks: grow them while they are
                # quick, so the fixed cost of a chunk vanishes and progress still ticks.
                per_chunk *= 2
        if found is None:
            if buffer is None:
                buffer = np.empty((min(n, per_chunk) * p, m), dtype=np.float64)
                x64 = x0.astype(np.float64, copy=False)
            _combine(fn, evaluator, st, x0, x64, h, a, b, buffer, dest)
            # Checked while the chunk is in cache, not in one more pass over the Jacobian.
            found = nonfinite_rows(dest)
        bad += [a + c for c in found]
        if progress is not None:
            progress(b * p, total)
        a = b
    jac = jac_t.T
    return JacobianResult._of(jac, fn.value, h, total, fn.in_shape, fn.out_shape, fn.order,
                              method, None, _columns_flag(bad), fn.dtype_name)


def richardson_jacobian(fn: Any, method: Method, evaluator: Any = None,
                        progress: Progress | None = None) -> JacobianResult:
    """The Jacobian by Richardson extrapolation, with ``error`` for every entry."""
    ext = extrapolate_columns(fn, None, evaluator, progress, top=method.step)
    return JacobianResult(ext.jacobian, fn.value.real, ext.steps, ext.evaluations, fn.in_shape,
                          fn.out_shape, fn.order, method, ext.error,
                          _nonfinite_flag(ext.jacobian), fn.dtype_name)


def complex_step_jacobian(fn: Any, method: Method, evaluator: Any = None,
                          progress: Progress | None = None) -> JacobianResult:
    """The Jacobian by the complex step, after :func:`~fdcheck.complexstep.probe`
    has found the function complex-safe (else ComplexStepError)."""
    probing = probe(fn)
    jac, error, h, count = complex_step_columns(fn, method.step, evaluator, progress)
    return JacobianResult(jac, fn.value.real, h, count + probing, fn.in_shape, fn.out_shape, fn.order,
                          method, error, _nonfinite_flag(jac), fn.dtype_name)


def numeric_jacobian(fn: Any, method: Method | str | Mapping[str, Any] | None = None,
                     evaluator: Any = None, progress: Progress | None = None) -> JacobianResult:
    """The numeric Jacobian of ``fn`` (a FlatFunction) by ``method``.

    Raises
    ------
    ComplexStepError
        For ``complex-step`` on a function that is not complex-safe.
    """
    m = Method.parse(method)
    if m.scheme == "richardson":
        return richardson_jacobian(fn, m, evaluator, progress)
    if m.scheme == "complex-step":
        return complex_step_jacobian(fn, m, evaluator, progress)
    return stencil_jacobian(fn, m, evaluator, progress)
