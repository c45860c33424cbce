"""The numeric Jacobian: the one evaluation loop, and the stencil's plan.

Every method describes a :class:`Plan`: units of work (an input element, a
group of columns, a level of a ladder, a probe), the points each unit needs
(a :class:`~fdcheck.evaluate.Batch` near x0), and how the outputs of those
points combine into the result. :func:`execute` is the only loop that
evaluates: it hands the plan's points to an evaluator in chunks that fit a
bounded buffer and gives each chunk's outputs to the plan. Evaluators only
evaluate; methods only plan and combine.

Cost is counted in function evaluations: a central stencil of order 2 uses
exactly 2n evaluations for n inputs (f(x0) is evaluated once beforehand by
:class:`~fdcheck.flatfun.FlatFunction` to learn the output's shape).
"""
from __future__ import annotations

from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .notes import Note, note
from .protocols import Evaluator, Flat
from .dtypes import eps as dtype_eps
from .errors import EvaluationError
from .evaluate import Batch, Serial, nonfinite_rows
from .flatfun import in_place_error, raised_by_function
from .layout import matrix_to_tensor
from .stencils import Method, Stencil, stencil
from .step import steps_for

Progress = Callable[[int, int], None]
NOISE = 10.0   # rounding of one evaluation, in ulps of the largest output, with a margin


@dataclass(frozen=True)
class Plan:
    """What a method wants evaluated, and what it does with the outputs.

    Attributes
    ----------
    units : int
        How many units of work (columns, groups, levels, probes).
    per_unit : int
        Points each unit needs; a chunk always holds whole units.
    points : callable(a, b) -> Batch
        The ``(b - a) * per_unit`` points of units a to b, unit by unit.
    combine : callable(ys, a, b)
        Takes their outputs, ``ys`` of shape ((b - a) * per_unit, m). ``ys``
        is a reused buffer: whatever is kept must be copied out of it.
    base : ndarray, shape (n,), optional
        The point the batch's entries are changes of; default ``fn.x0``
        (the complex step's is complex).
    out_dtype : numpy dtype
        Of the outputs: float64, or complex for the complex step.
    """

    units: int
    per_unit: int
    points: Callable[[int, int], Batch]
    combine: Callable[[np.ndarray, int, int], None]
    base: np.ndarray | None = None
    out_dtype: Any = np.float64


def execute(fn: Flat, plan: Plan, evaluator: Evaluator | None = None, progress: Progress | None = None,
            nan_where_raises: bool = False) -> int:
    """Evaluate every point of ``plan``, chunk by chunk, and combine them.

    Parameters
    ----------
    fn : FlatFunction
    plan : Plan
    evaluator : Evaluator, optional
        Default :class:`~fdcheck.evaluate.Serial`.
    progress : callable(done, total), optional
        Called after each chunk with the plan's evaluations done and planned.
    nan_where_raises : bool
        Where the function raises at a point (outside its domain), evaluate
        the chunk's units one by one and give the plan NaN for the outputs of
        those that raise, instead of raising: for methods that try several
        steps and keep the ones that work (Richardson, kink probes).

    Returns
    -------
    int
        The evaluations made: ``plan.units * plan.per_unit``.
    """
    evaluator = evaluator if evaluator is not None else Serial()
    base = fn.x0 if plan.base is None else plan.base
    per_chunk = max(1, evaluator.chunk_points(fn.n, fn.m) // max(1, plan.per_unit))
    total = plan.units * plan.per_unit
    # One buffer for every chunk: a buffer that stays in cache saves the page
    # faults a fresh one costs on its first write.
    buffer = np.empty((min(plan.units, per_chunk) * plan.per_unit, fn.m), dtype=plan.out_dtype)
    for a in range(0, plan.units, per_chunk):
        b = min(plan.units, a + per_chunk)
        try:
            ys = evaluator(fn, base, plan.points(a, b), plan.out_dtype, buffer)
        except Exception as exc:  # a user's function may raise anything outside its domain
            if not nan_where_raises or not outside_domain(exc):
                raise
            ys = _unit_by_unit(fn, plan, evaluator, base, a, b)
        plan.combine(ys, a, b)
        if progress is not None:
            progress(b * plan.per_unit, total)
    return total


def central_plan(fn: Flat, points: Callable[[int, int], Batch], h: np.ndarray,
                 f0: np.ndarray) -> tuple[Plan, np.ndarray, np.ndarray]:
    """A plan of units of two points each, ``x - h_u`` then ``x + h_u``, that
    combines each unit as it comes into its central difference
    ``(f+ - f-) / 2 h_u`` and the scale of its values, ``max(|f-|, |f+|, f0)``
    (the rounding level a Richardson table needs): the two arrays, (units, m),
    are filled as the plan is executed."""
    steps = np.asarray(h, dtype=np.float64).reshape(-1)
    d = np.empty((len(steps), fn.m))
    fscale = np.empty((len(steps), fn.m))

    def combine(out: np.ndarray, a: int, b: int) -> None:
        ys = out.reshape(b - a, 2, fn.m)
        with np.errstate(all="ignore"):
            twice = np.where(steps[a:b] > 0, 2 * steps[a:b], np.nan)[:, None]
            d[a:b] = (ys[:, 1] - ys[:, 0]) / twice
            fscale[a:b] = np.maximum(np.maximum(np.abs(ys[:, 0]), np.abs(ys[:, 1])), f0)

    return Plan(len(steps), 2, points, combine), d, fscale


@dataclass(frozen=True)
class Flag:
    """Numerical trouble found while differentiating: a result, not a crash.

    Attributes
    ----------
    kind : {"non-finite", "retried"}
        Not finite at a perturbed point; or raised there, and taken with a
        smaller step or one-sided.
    columns : tuple of int
        The input elements concerned.
    error : str
        What the function raised, for ``retried``.
    """

    kind: str
    columns: tuple[int, ...] = ()
    error: str = ""

    @property
    def note(self) -> Note:
        return note(self.kind, count=len(self.columns), error=self.error)


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
    rounding : ndarray, shape (n,), optional
        The rounding error an entry of each column can carry, where the
        method knows it better than :attr:`noise` does from a stencil.
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
    rounding: np.ndarray | None = None

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
        if self.rounding is not None:
            return self.rounding
        if self.error is not None or not self.steps.size:
            return np.zeros(self.steps.shape)
        eps = dtype_eps(self.dtype)
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


def outside_domain(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's function refusing a point (outside its
    domain), which another step may avoid: raised by the function itself, and
    not fdcheck's own EvaluationError (a wrong shape, complex values), a write
    to a read-only input, a dead worker or exhausted memory. An exception of
    fdcheck's own code is never taken for one."""
    return isinstance(exc, Exception) and raised_by_function(exc) \
        and not isinstance(exc, (EvaluationError, BrokenExecutor, MemoryError)) \
        and in_place_error(exc) is None


def _unit_by_unit(fn: Flat, plan: Plan, evaluator: Evaluator, base: np.ndarray, a: int,
                  b: int) -> np.ndarray:
    """Units a to b evaluated one at a time; NaN for those where the function raises."""
    k = plan.per_unit
    ys = np.full(((b - a) * k, fn.m), np.nan, dtype=plan.out_dtype)
    for u in range(a, b):
        try:
            ys[(u - a) * k:(u - a + 1) * k] = evaluator(fn, base, plan.points(u, u + 1),
                                                        plan.out_dtype)
        except Exception as exc:  # this unit stays NaN
            if not outside_domain(exc):
                raise
    return ys


def columns_flag(cols: list[int]) -> tuple[Flag, ...]:
    """The flag for input elements at which the function was not finite."""
    if not cols:
        return ()
    return (Flag("non-finite", tuple(cols)),)


def nonfinite_flag(jac: np.ndarray) -> tuple[Flag, ...]:
    """:func:`columns_flag` for the columns of ``jac`` that are not finite."""
    return columns_flag(nonfinite_rows(jac.T))


def stencil_plan(fn: Flat, st: Stencil, h: np.ndarray, jac_t: np.ndarray,
                 bad: list[int], units: tuple[int, int] | None = None) -> Plan:
    """The plan of a stencil: one unit per input element, its perturbed points.

    Column i of the Jacobian is written into ``jac_t[i]`` (shape (n, m)), and
    the elements whose column is not finite are appended to ``bad``. With
    ``units=(start, stop)``, only those elements, written into
    ``jac_t[i - start]``.
    """
    start, stop = units if units is not None else (0, fn.n)
    offsets = st.offsets_array
    weights = [w for _, w in st.perturbed]
    p = len(offsets)
    x64 = fn.x0.astype(np.float64, copy=False)
    f0 = fn.value.real

    def points(a: int, b: int) -> Batch:
        a, b = a + start, b + start
        values = (x64[a:b, None] + offsets * h[a:b, None]).reshape(-1).astype(fn.dtype, copy=False)
        return Batch(np.arange(a, b).repeat(p), values)

    def combine(ys: np.ndarray, a: int, b: int) -> None:
        ys = ys.reshape(b - a, p, fn.m)
        dest = jac_t[a:b]
        steps = h[a + start:b + start, None]
        pairs = st.antisymmetric_pairs
        if len(pairs) == 1 and p == 2:  # central, order 2: one difference, one scale
            q_plus, q_minus, w = pairs[0]
            np.subtract(ys[:, q_plus], ys[:, q_minus], out=dest)
            dest *= w / steps
        else:
            if pairs:
                dest.fill(0.0)
                for q_plus, q_minus, w in pairs:
                    dest += (ys[:, q_plus] - ys[:, q_minus]) * w
            else:
                # Summed as differences, sum_q w_q (f_q - f_ref), never as sum_q w_q f_q:
                # an output the element does not affect then gets exactly 0, not the
                # rounding of |f| times weights that only cancel on paper.
                np.multiply(ys[:, 0] - f0, weights[0], out=dest)
                for q in range(1, p):
                    dest += (ys[:, q] - f0) * weights[q]
            dest /= steps
        # Checked while the chunk is in cache, not in one more pass over the Jacobian.
        bad.extend(a + start + c for c in nonfinite_rows(dest))

    return Plan(stop - start, p, points, combine)


def stencil_jacobian(fn: Flat, method: Method, evaluator: Evaluator | None = None,
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
    st = method.stencil()
    h = steps_for(fn.x0, fn.dtype, st, method.step)
    jac_t = np.empty((fn.n, fn.m), dtype=np.float64)
    bad: list[int] = []
    flags: tuple[Flag, ...] = ()
    try:
        count = execute(fn, stencil_plan(fn, st, h, jac_t, bad), evaluator, progress)
    except Exception as exc:  # a user's function may raise anything outside its domain
        if not outside_domain(exc):
            raise
        bad.clear()
        count, flags = _column_by_column(fn, st, h, jac_t, bad, evaluator, exc)
    return JacobianResult(jac_t.T, fn.value, h, count, fn.in_shape, fn.out_shape, fn.order,
                          method, None, columns_flag(bad) + flags, fn.precision)


# Where the function raises at a point of the stencil: smaller steps first,
# then one side only.
RETRY_SHRINK = (1.0, 0.1, 0.01)
RETRY_SIDES = ("forward", "backward")


def _column_by_column(fn: Flat, st: Stencil, h: np.ndarray, jac_t: np.ndarray, bad: list[int],
                      evaluator: Evaluator | None, first: Exception) -> tuple[int, tuple[Flag, ...]]:
    """The columns again one at a time, after the function raised at a point of
    the stencil (outside its domain): each with the stencil, then with smaller
    steps, then one-sided. Returns the evaluations and a flag naming the
    columns taken otherwise.

    Raises
    ------
    EvaluationError
        Naming the element and its value, where nothing works.
    """
    tries = [(st, shrink) for shrink in RETRY_SHRINK] + \
        [(stencil(side, 1), RETRY_SHRINK[1]) for side in RETRY_SIDES]
    count, changed = 0, []
    for i in range(fn.n):
        last: Exception = first
        for k, (rule, shrink) in enumerate(tries):
            found: list[int] = []
            plan = stencil_plan(fn, rule, h * shrink, jac_t[i:i + 1], found, units=(i, i + 1))
            try:
                count += execute(fn, plan, evaluator)
            except Exception as exc:  # outside the domain here too: the next rule
                if not outside_domain(exc):
                    raise
                last = exc
                continue
            bad.extend(found)
            if k:
                changed.append(i)
            break
        else:
            raise EvaluationError(
                f"the function raises near input element {i} (x = {float(fn.x0[i])!r}) at every "
                f"step tried, central and one-sided: {type(last).__name__}: {last}") from None
    error = f"{type(first).__name__}: {first}"
    return count, (Flag("retried", tuple(changed), error),) if changed else ()
