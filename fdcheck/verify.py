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
2. entries that still differ are probed by one-sided slopes at four halving
   steps (:func:`probe_entries`). For a smooth function their gap halves with
   the step, and the entry is judged by the extrapolated central differences
   where the estimate so far disagrees with them; at a kink each slope
   converges, to different limits, and a reference between them is a right
   subgradient; at a jump the function moves by the same amount whatever the
   step, and the derivative does not exist. An entry where none of these is
   shown is unverified, and the check fails as unverifiable (unless the
   reference lies far outside estimates that are flat over the steps): an
   entry is never excused merely because an estimate went wrong.

With ``tolerance: auto`` the whole Jacobian carries an error estimate (it is
derived by Richardson extrapolation if its method gives none) and each entry
is judged against its own estimate.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from .notes import Note, note
from .protocols import Evaluator, Flat
from .compare import Comparison, beyond, compare, compare_columns, entry_bounds, mismatched
from .tolerances import AUTO_FACTOR, Tolerance
from .dtypes import eps as dtype_eps
from .engine import JacobianResult, Plan, execute
from .evaluate import Batch
from .extrapolate import extrapolate_columns
from .stencils import stencil
from .step import halving_steps, steps_for

LEVELS = 4            # one-sided slopes at h, h/2, h/4, h/8
SHRINKS = 0.75        # a gap that shrinks goes to at most this fraction of itself per halving
GROWS = 1.5           # difference quotients that blow up grow by at least this per halving
KINK_NOISE = 100.0    # a gap must exceed this many times the rounding level to count
FLAT = 0.01           # unsettled estimates within 1% of each other over the ladder are flat
PROBE_ENTRIES = 2 ** 20  # slopes a probe holds at once (8 MB): columns are probed in groups
STAIR_ROUNDING = 100.0  # a move of at most this many rounding units is no move
STAIR_SLACK = 0.05       # how far from a whole multiple of the stair a move may be
STAIR_VARIES = 0.25      # a staircase's mean slopes over the ladder differ by more than this
FAR = 100.0           # a first mismatch this many times its bound is far beyond the first
                      # look's usual error; the furthest CONFIRM such columns, confirmed,
                      # make the verdict, so the others are believed as they are
CONFIRM = 2           # far columns re-derived (the furthest) before the others are believed

SMOOTH, KINK, JUMP, UNDECIDED = 0, 1, 2, 3


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
    refine : bool or "all"
        Re-derive mismatched columns before declaring them wrong: with True,
        where more than CONFIRM columns differ by more than FAR times their
        bound, only the CONFIRM furthest of those are (with every nearer
        one), and if they confirm the mismatch the rest are believed; with
        "all", every one.
    """

    fn: Flat
    result: JacobianResult
    evaluator: Evaluator | None = None
    refine: bool | str = True
    evaluations: int = 0
    _refined: dict[int, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict)
    _probes: dict[int, tuple[np.ndarray, ...]] = field(default_factory=dict)
    _full: tuple[np.ndarray, np.ndarray] | None = None

    def _numeric(self, auto: bool) -> tuple[np.ndarray, np.ndarray | None, list[Note]]:
        res = self.result
        if not auto or res.error is not None or self.fn is None:
            return res.jacobian, res.error, []
        if self._full is None:
            ext = extrapolate_columns(self.fn, None, self.evaluator)
            self.evaluations += ext.evaluations
            self._full = (ext.jacobian, ext.error)
        return self._full[0], self._full[1], [note("auto-derived", method=res.method.label)]

    def _refine(self, columns: Sequence[int]) -> None:
        todo = [c for c in columns if c not in self._refined]
        if not todo:
            return
        ext = extrapolate_columns(self.fn, todo, self.evaluator)
        self.evaluations += ext.evaluations
        for k, c in enumerate(todo):
            self._refined[c] = (ext.jacobian[:, k], ext.error[:, k], float(ext.steps[k]))

    def _probe(self, columns: Sequence[int]) -> None:
        todo = [c for c in columns if c not in self._probes]
        if not todo:
            return
        # The ladder starts at the plain central step, or at the smaller one
        # extrapolation chose: a step too large for the function (near a pole)
        # is what sent the entry here.
        steps = steps_for(self.fn.x0, self.fn.dtype, stencil("central", 2))[todo]
        for k, c in enumerate(todo):
            if c in self._refined and np.isfinite(self._refined[c][2]):
                steps[k] = min(steps[k], self._refined[c][2])
        # In groups of columns: a probe keeps several (columns, 2 LEVELS, m)
        # arrays, which for every column of a large failing check would be
        # many times the Jacobian itself.
        group = max(1, PROBE_ENTRIES // (2 * LEVELS * max(1, self.fn.m)))
        for a in range(0, len(todo), group):
            cols = todo[a:a + group]
            probe = probe_entries(self.fn, cols, steps[a:a + group], self.evaluator)
            self.evaluations += probe.evaluations
            for k, c in enumerate(cols):
                self._probes[c] = tuple(v[:, k].copy() for v in (
                    probe.kind, probe.estimate, probe.error, probe.low, probe.high,
                    probe.quantum if probe.quantum is not None else probe.error * np.nan))

    def check(self, reference: np.ndarray, tolerance: Tolerance, rows: slice = slice(None),
              floor: np.ndarray | None = None, **where: Any) -> Comparison:
        """Compare with ``reference`` (m, n), or with the rows ``rows`` of the
        Jacobian (one output of several, see :mod:`fdcheck.outputs`);
        ``floor`` (n,), the rounding level the reference itself carries where
        it is numeric too (the chain rule's product), over the Jacobian's own;
        ``where`` as for :func:`compare`."""
        auto = bool(tolerance.auto)
        numeric, estimate, notes = self._numeric(auto)
        numeric = numeric[rows]
        estimate = None if estimate is None else estimate[rows]
        if tolerance.scaled:
            # The method's own rounding level replaces the dtype's fixed floor
            # (an error estimate, where there is one, already holds it).
            tolerance = replace(tolerance, floor=0.0)
            if estimate is None:
                own = self.result.noise
                where = {**where, "floor": own if floor is None else np.maximum(own, floor)}
        numeric = numeric.copy()
        estimate = None if estimate is None else estimate.copy()
        unreliable = ~np.isfinite(numeric)
        notes += [f.note for f in self.result.flags]
        comp = compare(numeric, reference, tolerance, unreliable=unreliable, estimate=estimate,
                       notes=notes, **where)
        # A pass with entries left uncounted (not finite at the first step: a
        # step out of the function's domain) is no pass until those are tried
        # at smaller steps: a wrong reference there would go unseen.
        if comp.passed and not (unreliable.any() and self.refine) or self.fn is None:
            return comp
        if self.refine and not auto and self.result.method.scheme != "richardson":
            second, estimate = self._second_look(comp, numeric, reference, tolerance,
                                                 unreliable, estimate, notes, where, rows)
            if second is not None:
                return second
            unreliable = ~np.isfinite(numeric)
        return self._settle(numeric, reference, tolerance, unreliable, estimate, notes, where, rows)

    def _with_refined(self, numeric: np.ndarray, estimate: np.ndarray | None,
                      cols: Sequence[int], rows: slice) -> np.ndarray:
        """Columns ``cols`` of ``numeric`` (in place) as derived again, and the
        estimate that goes with it."""
        estimate = np.zeros_like(numeric) if estimate is None else estimate
        for c in cols:
            value, err, _ = self._refined[c]
            value, err = value[rows], err[rows]
            ok = np.isfinite(value)
            numeric[ok, c], estimate[ok, c] = value[ok], err[ok]
        return estimate

    def _second_look(self, comp: Comparison, numeric: np.ndarray, reference: np.ndarray,
                     tolerance: Tolerance, unreliable: np.ndarray, estimate: np.ndarray | None,
                     notes: list[Note], where: dict[str, Any], rows: slice
                     ) -> tuple[Comparison | None, np.ndarray | None]:
        """Derive the columns of a first mismatch again: the comparison that
        settles the check (or None, for the last look to decide), and the
        estimate; ``numeric`` and ``notes`` are updated in place."""
        # Non-finite entries too: a step too large for the function's domain
        # (log near 0) is what extrapolation's smaller steps are for.
        # The first comparison's mismatches, column by column, not a second
        # pass to find them again.
        mat = comp.matrices
        assert mat is not None
        # (Without mismatches a comparison keeps no column reductions: none differ.)
        failing = np.flatnonzero(mat.columns.mismatches) if mat.columns is not None else ()
        cols = sorted({int(c) for c in failing}
                      | {int(c) for c in np.flatnonzero(unreliable.any(axis=0))}
                      | set(_blind_columns(comp)))
        if not cols:
            return comp, estimate
        ranked, far = self._ranked(comp, cols) if self.refine != "all" else ([], [])
        if ranked:
            fast = self._confirmed(numeric, reference, tolerance, estimate, notes, where, rows,
                                   (far or ranked)[:CONFIRM], far, comp)
            if fast is not None:
                return fast, estimate
        self._refine(cols)
        estimate = self._with_refined(numeric, estimate, cols, rows)
        notes.append(note("refined", count=len(cols)))
        comp = compare(numeric, reference, tolerance, unreliable=~np.isfinite(numeric),
                       estimate=estimate, notes=notes, **where)
        return (comp if comp.passed else None), estimate

    def _ranked(self, comp: Comparison, cols: Sequence[int]) -> tuple[list[int], list[int]]:
        """The columns of ``cols`` whose first look is beyond its bound, furthest
        first, and those of them more than FAR times beyond; both empty where
        any column's first look is not finite (smaller steps are needed)."""
        mat = comp.matrices
        if mat is None or mat.numeric.ndim != 2 or mat.columns is None \
                or not np.isfinite(mat.numeric).all():
            return [], []
        # Each column's largest error over bound, as the comparison took it;
        # where the reference is not finite (the comparison counts that as
        # infinitely far), from the column's finite ratios alone.
        worst = mat.columns.ratio.copy()
        for c in np.flatnonzero(mat.columns.nonfinite):
            with np.errstate(all="ignore"):
                ratio = np.abs(mat.numeric[:, c] - mat.reference[:, c]) / mat.bound[:, c]
            worst[c] = np.nan_to_num(ratio, nan=0.0, posinf=np.inf).max()
        ranked = sorted((c for c in cols if worst[c] > 1), key=lambda c: -worst[c])
        return ranked, [c for c in ranked if worst[c] > FAR]

    def _confirmed(self, numeric: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
                   estimate: np.ndarray | None, notes: list[Note], where: dict[str, Any],
                   rows: slice, probed: list[int], far: list[int], first: Comparison
                   ) -> Comparison | None:
        """Fail fast: probe ``probed`` (the CONFIRM furthest far columns, or
        where none is far the furthest mismatched ones) over a ladder of
        steps, without Richardson's sweep; if the ladder shows them wrong
        (smooth, and the reference beyond the bound plus its error) and their
        first look accurate, believe the first look of the other ``far``
        columns: the verdict is decided. The nearer columns get the last look
        as ever. None where the ladder does not show it (a kink, a jump, a
        step out of the domain, a ladder that does not settle, a first look
        off): then every column is derived again. ``first``: the comparison
        of the first look, whose columns not probed stand as they were."""
        numeric, notes = numeric.copy(), list(notes)
        self._probe(probed)
        said = [self._ladder_says(c, numeric, reference, tolerance, where.get("floor"), rows)
                for c in probed]
        # Believed only where the ladder shows the first look accurate too: a
        # first look off by more than the tolerance (a step too large for the
        # input's scale) would mislead the diagnosis of every column kept.
        if not all(wrong and accurate for wrong, accurate in said):
            # Derived again, these columns are probed again from the step
            # extrapolation chose: a step too large is what may have misled.
            for c in probed:
                del self._probes[c]
            return None
        # The nearer columns, within reach of their tolerance, are probed
        # too (the last look): believed far off, a first look could be near.
        kept = [c for c in far if c not in probed]
        comp = self._settle(numeric, reference, tolerance, ~np.isfinite(numeric),
                            None if estimate is None else estimate.copy(), notes, where, rows,
                            skip=kept, first=first)
        mat = comp.matrices
        if comp.verdict != "mismatch" or comp.unverified or mat is None:
            return None
        # The probed columns alone, not a pass over all.
        counted = [beyond(mat.numeric[:, c], mat.reference[:, c], mat.bound[:, c])
                   & ~mat.unreliable[:, c] for c in probed]
        if not all(bool(b.any()) for b in counted):
            return None
        return replace(comp, notes=(*comp.notes, note(
            "confirmed", confirmed=len(probed), skipped=len(kept), far=FAR)))

    def _ladder_says(self, c: int, numeric: np.ndarray, reference: np.ndarray,
                     tolerance: Tolerance, floor: np.ndarray | None, rows: slice
                     ) -> tuple[bool, bool]:
        """What the ladder of column ``c`` shows: whether the reference is
        wrong at one entry at least (smooth there, and further from the
        ladder's extrapolated estimate than its bound plus AUTO_FACTOR times
        that estimate's error); and whether the first look ``numeric`` is
        within the bound a right reference would have of the ladder's
        estimate at every smooth entry."""
        kind, value, error = (a[rows] for a in self._probes[c][:3])
        column = reference[:, c]
        # The column's bound as entry_bounds gives it, without a pass over the
        # whole; the first look's accuracy by the bound a right reference
        # (the numeric one) would have, not a wrong one's (a zeroed gradient's
        # bound is the floor alone).
        least = 0.0
        if floor is not None:
            floors = np.asarray(floor, dtype=np.float64).reshape(-1)
            least = float(floors[c] if floors.size > 1 else floors[0])
        with np.errstate(invalid="ignore"):
            bound = max(tolerance.absolute_atol(reference), least) \
                + tolerance.rtol * np.abs(column)
            own = max(tolerance.absolute_atol(numeric), least) + tolerance.rtol * np.abs(value)
            smooth = kind == SMOOTH
            wrong = smooth & (np.abs(value - column) > bound + AUTO_FACTOR * error)
            off = smooth & ~(np.abs(numeric[:, c] - value) <= own)
        return bool(wrong.any()), not bool(off.any())

    def _settle(self, numeric: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
                unreliable: np.ndarray, estimate: np.ndarray | None, notes: list[Note],
                where: dict[str, Any], rows: slice, skip: Sequence[int] = (),
                first: Comparison | None = None) -> Comparison:
        """The last look at entries that still differ: one-sided slopes over a
        ladder of steps (:func:`probe_entries`) decide each one.

        - smooth: judged by the ladder's estimate wherever the estimate so far
          is inconsistent with it (a refinement that went wrong);
        - a kink: the reference must lie between the one-sided limits;
        - a jump: the derivative does not exist; not counted;
        - none of these shown: a mismatch where the reference lies far outside
          estimates that are flat over the ladder, else unverified, and the
          check cannot pass.
        """
        floor = where.get("floor")
        if first is not None and first.matrices is not None \
                and first.matrices.columns is not None:
            # The matrices ``first`` compared, unchanged (failing fast): its
            # bounds, and its columns' mismatches, with no pass over the whole.
            bound = first.matrices.bound
            candidates = np.flatnonzero(first.matrices.columns.mismatches)
        else:
            first = None
            _, bound = entry_bounds(reference, tolerance, estimate, floor)
            candidates = np.flatnonzero((beyond(numeric, reference, bound) & ~unreliable).any(axis=0))
        skipped = set(skip)   # failing fast, these keep their first look, unprobed
        cols = [int(c) for c in candidates if int(c) not in skipped]
        self._probe(cols)
        if estimate is None:
            estimate = np.zeros_like(numeric)
        excused = np.zeros_like(unreliable)
        unverified = np.zeros_like(unreliable)
        counts = dict(rejudged=0, kink=0, outside=0, jump=0)
        stairs: list[float] = []
        for c in cols:
            kind, value, error, low, high, quantum = (a[rows] for a in self._probes[c])
            differ = beyond(numeric[:, c], reference[:, c], bound[:, c]) & ~unreliable[:, c]
            with np.errstate(invalid="ignore"):
                inconsistent = ~(np.abs(numeric[:, c] - value)
                                 <= AUTO_FACTOR * (np.nan_to_num(estimate[:, c]) + error))
                smooth = differ & (kind == SMOOTH) & inconsistent
                numeric[smooth, c], estimate[smooth, c] = value[smooth], error[smooth]
                # At a kink any value between the one-sided limits is a right
                # (sub)gradient; a reference outside them is wrong all the same.
                kink = differ & (kind == KINK)
                within = (reference[:, c] >= low - bound[:, c]) & (reference[:, c] <= high + bound[:, c])
            counts["rejudged"] += int(smooth.sum())
            counts["kink"] += int((kink & within).sum())
            counts["outside"] += int((kink & ~within).sum())
            counts["jump"] += int((differ & (kind == JUMP)).sum())
            excused[:, c] = (kink & within) | (differ & (kind == JUMP))
            # Where nothing settles, a reference further from every estimate
            # (the ladder's and the one so far) than they are from each other
            # is shown wrong all the same (det(X) at an ill-conditioned X:
            # linear in each entry, its differences agree to rounding).
            with np.errstate(invalid="ignore"):
                lo, hi = np.fmin(low, numeric[:, c]), np.fmax(high, numeric[:, c])
                spread = hi - lo + error + bound[:, c]
                # Only where the estimates are flat over an 8-fold range of steps:
                # ones that trend with the step may all be far from the truth.
                flat = hi - lo <= FLAT * np.fmax(np.abs(lo), np.abs(hi)) + error
                shown = flat & ((reference[:, c] < lo - spread) | (reference[:, c] > hi + spread))
            unverified[:, c] = differ & (kind != SMOOTH) & (kind != KINK) & np.isfinite(quantum) \
                | differ & (kind == UNDECIDED) & ~shown
            excused[:, c] &= ~np.isfinite(quantum)
            stairs += [float(v) for v in quantum[unverified[:, c] & np.isfinite(quantum)]]
        counts["unverified"] = int(unverified.sum()) - len(stairs)
        notes += _settle_notes(counts)
        if stairs:
            # Rounding to a grid finer than the step: the numeric derivative is
            # the stairs' mean slope, the true one 0 between stairs; neither is shown.
            notes.append(note("staircase", count=len(stairs), quantum=float(np.median(stairs))))
        if first is not None:
            # Only the columns looked at again can have changed.
            return compare_columns(first, cols, numeric, reference, tolerance,
                                   unreliable=unreliable | excused, unverified=unverified,
                                   estimate=estimate, notes=notes, **where)
        return compare(numeric, reference, tolerance, unreliable=unreliable | excused,
                       unverified=unverified, estimate=estimate, notes=notes, **where)


SETTLE_KINDS = ("rejudged", "kink", "outside", "jump", "unverified")


def _settle_notes(counts: dict[str, int]) -> list[Note]:
    return [note(kind, count=counts[kind]) for kind in SETTLE_KINDS if counts.get(kind)]


def _blind_columns(comp: Comparison) -> list[int]:
    """Columns whose allowance exceeds the reference's largest entry: where the
    first look could see no mistake, a better estimate may."""
    mat = comp.matrices
    if mat is None or not comp.resolution > 1:
        return []
    size = np.abs(mat.reference[np.isfinite(mat.reference)]).max(initial=0.0)
    return [int(c) for c in np.flatnonzero((mat.bound > size).any(axis=0))]


@dataclass(frozen=True)
class Probe:
    """What one-sided slopes over a ladder of steps show about entries.

    Attributes
    ----------
    kind : ndarray of int, shape (m, k)
        SMOOTH (the one-sided slopes meet as the step shrinks), KINK (each
        converges, to different limits), JUMP (the function moves by the same
        nonzero amount whatever the step: it is discontinuous there), UNDECIDED (none of these is shown:
        rounding or noise dominates, or the steps are not yet small enough).
    estimate, error : ndarray, shape (m, k)
        For SMOOTH entries, the derivative from the two smallest central
        differences, extrapolated, and a bound on its error; for UNDECIDED
        ones, NaN and the rounding level the ladder counts as noise at its
        smallest step; NaN elsewhere.
    low, high : ndarray, shape (m, k)
        For KINK entries, the one-sided limits (the range of subgradients);
        for UNDECIDED ones, the range of the central differences over the
        ladder (a reference far outside it is wrong all the same).
    evaluations : int
        2 * LEVELS per column.
    quantum : ndarray, shape (m, k)
        Where the function's moves over the ladder are whole multiples of one
        step of its value, not all zero and not proportional to the step (a
        staircase: values rounded to a grid finer than the finite-difference
        step), that step; else NaN.
    """

    kind: np.ndarray
    estimate: np.ndarray
    error: np.ndarray
    low: np.ndarray
    high: np.ndarray
    evaluations: int
    quantum: np.ndarray | None = None


def probe_entries(fn: Flat, columns: Sequence[int], steps: np.ndarray,
                  evaluator: Evaluator | None = None) -> Probe:
    """One-sided slopes of columns ``columns`` at steps h 2^-j, j < LEVELS.

    With F_j = (f(x + h_j e_i) - f(x)) / h_j and B_j = (f(x) - f(x - h_j e_i)) / h_j:
    for a smooth function F_j - B_j = h_j f'' + O(h_j^2), so the gap halves with
    the step and the central differences (F_j + B_j) / 2 converge as h_j^2;
    at a kink F_j and B_j each converge, to different limits, and the gap stays;
    at a jump f(x + h_j e_i) - f(x) settles to a nonzero amount on one side,
    so the quotients grow like 1 / h_j. An entry is called a
    kink or a jump only where every halving shows it, never because one
    estimate went wrong.
    """
    cols = np.asarray(columns, dtype=np.int64)
    k = len(cols)
    x64 = fn.x0.astype(np.float64)
    h = halving_steps(steps, LEVELS)
    values = (x64[cols][:, None] + h).astype(fn.dtype)
    taken = values.astype(np.float64) - x64[cols][:, None]          # (k, 2L), exact
    f0 = fn.value.real[None, :]
    slope = np.empty((k, 2 * LEVELS, fn.m))
    scale = np.empty((k, fn.m))

    def points(a: int, b: int) -> Batch:
        return Batch(np.repeat(cols[a:b], 2 * LEVELS), values[a:b].reshape(-1))

    def combine(out: np.ndarray, a: int, b: int) -> None:
        ys = out.reshape(b - a, 2 * LEVELS, fn.m)
        with np.errstate(all="ignore"):
            slope[a:b] = (ys - f0[:, None, :]) / taken[a:b, :, None]
        scale[a:b] = np.maximum(np.abs(ys).max(axis=1), np.abs(f0))

    used = execute(fn, Plan(k, 2 * LEVELS, points, combine), evaluator, nan_where_raises=True)
    eps = max(float(np.finfo(fn.dtype).eps), dtype_eps(fn.precision))
    with np.errstate(all="ignore"):
        fwd, bwd = slope[:, :LEVELS], slope[:, LEVELS:]
        # The rounding error of a one-sided slope at each step.
        rounding = eps * scale[:, None, :] / np.abs(taken[:, :LEVELS, None])
        gap = np.abs(fwd - bwd)
        central = 0.5 * (fwd + bwd)
        kind, estimate, error, low, high = _classify(fwd, bwd, gap, central, rounding,
                                                     np.abs(taken[:, :LEVELS, None]))
    kind = np.where(np.isfinite(slope).all(axis=1), kind, JUMP)
    quantum = _quantum(slope * taken[:, :, None], slope, eps * scale, kind)
    return Probe(kind.T, estimate.T, error.T, low.T, high.T, used, quantum.T)


def _quantum(moves: np.ndarray, slope: np.ndarray, rounding: np.ndarray,
             kind: np.ndarray) -> np.ndarray:
    """(k, m): the step of a staircase where the moves (k, 2L, m) show one
    (see :attr:`Probe.quantum`), else NaN. Smooth and kink entries have none,
    and neither has a function whose moves are proportional to the step (a
    linear function's moves at halving steps are whole multiples too)."""
    with np.errstate(all="ignore"):
        size = np.abs(moves)
        moved = size > STAIR_ROUNDING * rounding[:, None, :]
        q = np.where(moved, size, np.inf).min(axis=1)                    # (k, m)
        multiple = size / q[:, None, :]
        whole = (np.abs(multiple - np.round(multiple)) <= STAIR_SLACK) | ~moved
        rate = np.abs(slope)
        fastest = np.where(moved, rate, -np.inf).max(axis=1)
        slowest = np.where(moved, rate, np.inf).min(axis=1)
        varies = ~moved.all(axis=1) | (fastest > (1 + STAIR_VARIES) * slowest)
        stairs = whole.all(axis=1) & moved.any(axis=1) & varies & (kind != SMOOTH) \
            & (kind != KINK) & np.isfinite(q)
    return np.where(stairs, q, np.nan)


def _settles(seq: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Where a sequence over the ladder (axis 1) converges: each change at
    most SHRINKS of the one before, or within the rounding level."""
    d = np.abs(np.diff(seq, axis=1))                                    # (k, L-1, m)
    return np.asarray(((d[:, 1:] <= SHRINKS * d[:, :-1]) | (d[:, 1:] <= noise[:, 2:])).all(axis=1))


def _classify(fwd: np.ndarray, bwd: np.ndarray, gap: np.ndarray, central: np.ndarray,
              rounding: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, ...]:
    noise = KINK_NOISE * rounding
    last = noise[:, -1]
    # Smooth: the gap shrinks at every halving (or is down to rounding), and
    # the central differences settle.
    gap_shrinks = ((gap[:, 1:] <= SHRINKS * gap[:, :-1]) | (gap[:, 1:] <= noise[:, 1:])).all(axis=1)
    smooth = gap_shrinks & _settles(central, noise)
    # Kink: each one-sided slope settles, and the gap stays well above rounding
    # without shrinking at any halving.
    gap_stays = ((gap[:, 1:] > SHRINKS * gap[:, :-1]) & (gap[:, 1:] < GROWS * gap[:, :-1])).all(axis=1)
    kink = ~smooth & gap_stays & (gap[:, -1] > last) & _settles(fwd, noise) & _settles(bwd, noise)
    # Jump: on one side the function moves by the same nonzero amount
    # whatever the step (f(x + h) - f(x) settles), so its quotient grows at
    # every halving. A smooth function probed with steps far above its own
    # scale (log near 0 at 1e-4) has quotients that grow too, but moves that
    # keep changing: that is not shown to be a jump.
    biggest = np.maximum(np.abs(fwd), np.abs(bwd))
    grows = ((biggest[:, 1:] >= GROWS * biggest[:, :-1]).all(axis=1)) & (biggest[:, -1] > last)
    moves = [side * h for side in (fwd, bwd)]
    steady = [_settles(move, noise * h) & (np.abs(move[:, -1]) > noise[:, -1] * h[:, -1])
              for move in moves]
    jump = ~smooth & ~kink & grows & (steady[0] | steady[1])
    kind = np.full(smooth.shape, UNDECIDED)
    kind[smooth], kind[kink], kind[jump] = SMOOTH, KINK, JUMP
    # Richardson on the two smallest central differences (errors ~ h^2); its
    # error bound is their whole difference plus the rounding level, which
    # over-states it by about 3x where the h^2 term dominates.
    step = central[:, -1] - central[:, -2]
    estimate = np.where(smooth, central[:, -1] + step / 3.0, np.nan)
    error = np.where(smooth, np.abs(step) + rounding[:, -1], np.nan)
    # One-sided slopes converge as h: the limits lie within one change of the last.
    spread_f = np.abs(fwd[:, -1] - fwd[:, -2])
    spread_b = np.abs(bwd[:, -1] - bwd[:, -2])
    low = np.where(kink, np.fmin(fwd[:, -1] - spread_f, bwd[:, -1] - spread_b), np.nan)
    high = np.where(kink, np.fmax(fwd[:, -1] + spread_f, bwd[:, -1] + spread_b), np.nan)
    undecided = kind == UNDECIDED
    error = np.where(undecided, last, error)
    low = np.where(undecided, central.min(axis=1), low)
    high = np.where(undecided, central.max(axis=1), high)
    return kind, estimate, error, low, high


def verify_hessian(fn: Flat, result: JacobianResult, reference: np.ndarray, tolerance: Tolerance,
                   evaluator: Evaluator | None = None, refine: bool = True, **where: Any
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
    notes = [f.note for f in result.flags]
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
    notes.append(note("refined-hessian", count=len(i)))
    return compare(numeric, reference, tolerance, estimate=estimate, notes=notes, **where), used
