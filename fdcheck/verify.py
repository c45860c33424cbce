"""From a numeric Jacobian and a reference to a verdict one can trust.

A first comparison uses the cheap Jacobian (central differences by default).
Only where it finds mismatches is more work done, so a passing check costs
nothing extra:

1. the mismatched columns are derived again by Richardson extrapolation
   (:mod:`fdcheck.extrapolate`), which adapts its step to the scale of each
   input element and estimates its own error; an entry then fails only where
   the reference is further from this better value than the tolerance plus
   10 x its estimated error. This removes the false alarms of a step that
   suits unit scale but not the input (x near 1e-4, sin(1e6 x)).
2. entries that still differ are tested for a kink or a jump: the one-sided
   slopes at steps h and h/2. For a smooth function their gap halves with
   the step; at a kink it stays, at a jump it doubles. Such entries are
   reported as unreliable (the numeric derivative means nothing there), not
   as mismatches of the reference.

With ``tolerance: auto`` the whole Jacobian carries an error estimate (it is
derived by Richardson extrapolation if its method gives none) and each entry
is judged against its own estimate.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from .compare import Comparison, Tolerance, compare, entry_bounds, mismatched
from .engine import JacobianResult, Plan, execute
from .evaluate import Batch
from .extrapolate import extrapolate_columns
from .stencil import stencil
from .step import steps_for

KINK_RATIO = 0.75     # gap(h/2) / gap(h): 0.5 for a smooth function, 1 at a kink, 2 at a jump
KINK_NOISE = 100.0    # a gap must exceed this many times the rounding level to count


@dataclass
class Verifier:
    """One numeric Jacobian, checked against any number of references.

    Work done to settle one check (re-derived columns, kink tests) is kept
    and reused by the next.

    Parameters
    ----------
    fn : FlatFunction or None
        The function the Jacobian is of; None disables refinement.
    result : JacobianResult
    evaluator : Evaluator, optional
    refine : bool
        Re-derive mismatched columns before declaring them wrong.
    """

    fn: Any
    result: JacobianResult
    evaluator: Any = None
    refine: bool = True
    evaluations: int = 0
    _refined: dict[int, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict)
    _kinks: dict[int, np.ndarray] = field(default_factory=dict)
    _slopes: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _full: tuple[np.ndarray, np.ndarray] | None = None

    def _numeric(self, auto: bool) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
        res = self.result
        if not auto or res.error is not None or self.fn is None:
            return res.jacobian, res.error, []
        if self._full is None:
            ext = extrapolate_columns(self.fn, None, self.evaluator)
            self.evaluations += ext.evaluations
            self._full = (ext.jacobian, ext.error)
        return self._full[0], self._full[1], [
            f"tolerance auto: derived by Richardson extrapolation for its error estimate "
            f"({res.method.label} gives none)"]

    def _refine(self, columns: Sequence[int]) -> None:
        todo = [c for c in columns if c not in self._refined]
        if not todo:
            return
        ext = extrapolate_columns(self.fn, todo, self.evaluator)
        self.evaluations += ext.evaluations
        for k, c in enumerate(todo):
            self._refined[c] = (ext.jacobian[:, k], ext.error[:, k], float(ext.steps[k]))

    def _kink(self, columns: Sequence[int]) -> None:
        todo = [c for c in columns if c not in self._kinks]
        if not todo:
            return
        # The kink test wants a step at which the function is resolved: the one
        # extrapolation chose for the column, else the plain central step.
        steps = steps_for(self.fn.x0, self.fn.dtype, stencil("central", 2))[todo]
        for k, c in enumerate(todo):
            if c in self._refined and np.isfinite(self._refined[c][2]):
                steps[k] = self._refined[c][2]
        found, low, high, used = one_sided_kinks(self.fn, todo, steps, self.evaluator,
                                                 with_slopes=True)
        self.evaluations += used
        for k, c in enumerate(todo):
            self._kinks[c] = found[:, k]
            self._slopes[c] = (low[:, k], high[:, k])

    def check(self, reference: np.ndarray, tolerance: Tolerance, **where: Any) -> Comparison:
        """Compare with ``reference`` (m, n); ``where`` as for :func:`compare`."""
        auto = bool(tolerance.auto)
        numeric, estimate, notes = self._numeric(auto)
        if tolerance.scaled:
            # The method's own rounding level replaces the dtype's fixed floor
            # (an error estimate, where there is one, already holds it).
            tolerance = replace(tolerance, floor=0.0)
            if estimate is None:
                where = {**where, "floor": self.result.noise}
        numeric = numeric.copy()
        estimate = None if estimate is None else estimate.copy()
        unreliable = ~np.isfinite(numeric)
        notes += [f.message for f in self.result.flags]
        comp = compare(numeric, reference, tolerance, unreliable=unreliable, estimate=estimate,
                       notes=notes, **where)
        if comp.passed or self.fn is None:
            return comp
        if self.refine and not auto and self.result.method.scheme != "richardson":
            # Non-finite entries too: a step too large for the function's domain
            # (log near 0) is what extrapolation's smaller steps are for.
            cols = sorted(set(_mismatched_columns(numeric, reference, tolerance, unreliable,
                                                  estimate, where.get("floor")))
                          | {int(c) for c in np.flatnonzero(unreliable.any(axis=0))}
                          | set(_blind_columns(comp)))
            if not cols:
                return comp
            self._refine(cols)
            if estimate is None:
                estimate = np.zeros_like(numeric)
            for c in cols:
                value, err, _ = self._refined[c]
                ok = np.isfinite(value)
                numeric[ok, c] = value[ok]
                estimate[ok, c] = err[ok]
            notes.append(f"{len(cols)} column(s) derived again by Richardson extrapolation "
                         f"after a first mismatch")
            unreliable = ~np.isfinite(numeric)
            comp = compare(numeric, reference, tolerance, unreliable=unreliable,
                           estimate=estimate, notes=notes, **where)
            if comp.passed:
                return comp
        cols = _mismatched_columns(numeric, reference, tolerance, unreliable, estimate,
                                   where.get("floor"))
        self._kink(cols)
        kinked = np.zeros_like(unreliable)
        outside = 0
        _, bound = entry_bounds(reference, tolerance, estimate, where.get("floor"))
        for c in cols:
            # At a kink any value between the one-sided slopes is a right
            # (sub)gradient; a reference outside that range is wrong all the same.
            low, high = self._slopes[c]
            within = (reference[:, c] >= low - bound[:, c]) & (reference[:, c] <= high + bound[:, c])
            kinked[:, c] = self._kinks[c] & within
            outside += int(np.count_nonzero(self._kinks[c] & ~within))
        if kinked.any():
            notes.append(f"{int(kinked.sum())} entries where the one-sided slopes differ and "
                         f"do not converge (a kink or a jump): the derivative does not exist "
                         f"there, and the reference lies between them")
        if outside:
            notes.append(f"{outside} entries where the one-sided slopes do not converge and the "
                         f"reference lies outside them: counted as mismatches (a kink's "
                         f"subgradients lie between its one-sided slopes; at a smooth point, the "
                         f"numeric derivative cannot resolve it at this precision)")
        return compare(numeric, reference, tolerance, unreliable=unreliable | kinked,
                       estimate=estimate, notes=notes, **where)


def _blind_columns(comp: Comparison) -> list[int]:
    """Columns whose allowance exceeds the reference's largest entry: where the
    first look could see no mistake, a better estimate may."""
    mat = comp.matrices
    if mat is None or mat.bound.ndim != 2 or not comp.resolution > 1:
        return []
    size = np.abs(mat.reference[np.isfinite(mat.reference)]).max(initial=0.0)
    return [int(c) for c in np.flatnonzero((mat.bound > size).any(axis=0))]


def _mismatched_columns(numeric: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
                        unreliable: np.ndarray, estimate: np.ndarray | None,
                        floor: np.ndarray | None) -> list[int]:
    bad = mismatched(numeric, reference, tolerance, estimate, floor) & ~unreliable
    return [int(c) for c in np.flatnonzero(bad.any(axis=0))]


def one_sided_kinks(fn: Any, columns: Sequence[int], steps: np.ndarray, evaluator: Any = None,
                    with_slopes: bool = False) -> Any:
    """Entries where the one-sided slopes disagree and do not converge.

    For each column i, the slopes (f(x + h e_i) - f(x)) / h and
    (f(x) - f(x - h e_i)) / h at h and h/2. Their gap is h |f''| for a smooth
    function, and so halves with h; at a kink it stays, at a jump it grows.

    Returns
    -------
    flags : ndarray of bool, shape (m, len(columns))
    low, high : ndarray, shape (m, len(columns)), with ``with_slopes``
        The smaller and the larger of the two one-sided slopes at h/2.
    evaluations : int
        4 per column.
    """
    cols = np.asarray(columns, dtype=np.int64)
    x64 = fn.x0.astype(np.float64)
    h = np.asarray(steps, dtype=np.float64)[:, None] * np.array([1.0, -1.0, 0.5, -0.5])
    values = (x64[cols][:, None] + h).astype(fn.dtype)
    taken = values.astype(np.float64) - x64[cols][:, None]
    ys = np.empty((len(cols), 4, fn.m))

    def points(a: int, b: int) -> Batch:
        return Batch(np.repeat(cols[a:b], 4), values[a:b].reshape(-1))

    def combine(out: np.ndarray, a: int, b: int) -> None:
        ys[a:b] = out.reshape(b - a, 4, fn.m)

    used = execute(fn, Plan(len(cols), 4, points, combine), evaluator, nan_where_raises=True)
    f0 = fn.value.real[None, :]
    eps = float(np.finfo(fn.dtype).eps)
    with np.errstate(all="ignore"):
        slope = (ys - f0[:, None, :]) / taken[:, :, None]           # (k, 4, m)
        gap_h = np.abs(slope[:, 0] - slope[:, 1])
        gap_half = np.abs(slope[:, 2] - slope[:, 3])
        scale = np.maximum(np.abs(ys).max(axis=1), np.abs(f0))
        noise = KINK_NOISE * eps * scale / np.abs(taken[:, 2:3])
        flags = (gap_half >= KINK_RATIO * gap_h) & (gap_half > noise)
        flags |= ~np.isfinite(slope).all(axis=1)
    if with_slopes:
        low = np.fmin(slope[:, 2], slope[:, 3]).T
        high = np.fmax(slope[:, 2], slope[:, 3]).T
        return flags.T, low, high, used
    return flags.T, used


def verify_hessian(fn: Any, result: JacobianResult, reference: np.ndarray, tolerance: Tolerance,
                   evaluator: Any = None, refine: bool = True, **where: Any
                   ) -> tuple[Comparison, int]:
    """A numeric Hessian (:mod:`fdcheck.hessians`) against ``reference`` (n, n).

    As for a Jacobian, a first comparison uses the cheap second differences;
    where it finds mismatches, those entries are derived again by Richardson
    extrapolation of second differences, and an entry then fails only where
    the reference is further from that value than the tolerance plus 10 x its
    estimated error.

    Returns
    -------
    Comparison, and the evaluations the second look used.
    """
    from .hessians import extrapolate_entries

    numeric = result.jacobian.copy()
    estimate = None if result.error is None else result.error.copy()
    if tolerance.scaled:
        tolerance = replace(tolerance, floor=0.0)
        if estimate is None:
            where = {**where, "floor": result.noise}
    notes = [f.message for f in result.flags]
    comp = compare(numeric, reference, tolerance, estimate=estimate, notes=notes, **where)
    if comp.passed or not refine or result.error is not None:
        return comp, 0
    bad = mismatched(numeric, reference, tolerance, estimate, where.get("floor"))
    i, j = np.nonzero(np.triu(bad | bad.T))
    value, error, used = extrapolate_entries(fn, i, j, evaluator)
    ok = np.isfinite(value)
    estimate = np.zeros_like(numeric)
    for a, b, v, e in zip(i[ok], j[ok], value[ok], error[ok]):
        numeric[a, b] = numeric[b, a] = v
        estimate[a, b] = estimate[b, a] = e
    notes.append(f"{len(i)} entries derived again by Richardson extrapolation of second "
                 f"differences after a first mismatch")
    return compare(numeric, reference, tolerance, estimate=estimate, notes=notes, **where), used
