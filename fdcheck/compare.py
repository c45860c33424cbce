"""The comparison of a numeric Jacobian with a reference, under a tolerance
(:mod:`fdcheck.tolerances`): an entry passes where ``abs(numeric - reference)
<= atol + rtol * abs(reference)``. Pure functions over arrays: no formatting
here (see :mod:`fdcheck.report`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Sequence

import numpy as np

from .columns import Columns, as_columns, stacked, summarize
from .notes import Note, note
from .layout import unravel
from .tolerances import AUTO_FACTOR, Tolerance


@dataclass(frozen=True)
class Worst:
    """The entry that most exceeds (or comes closest to) its tolerance."""

    output: tuple[int, ...]
    input: tuple[int, ...] | None
    numeric: float
    reference: float
    bound: float = float("nan")    # what the entry was allowed: atol + rtol |ref| + slack
    estimate: float | None = None  # the numeric entry's estimated error, where known


BLOCK_ENTRIES = 2 ** 17  # entries a blockwise pass over a matrix takes at a time
BLOCKWISE = 2 ** 20      # a comparison of a matrix this large goes a block of rows at a time


def row_blocks(shape: tuple[int, ...]) -> Iterator[slice]:
    """The rows of an (m, n) matrix, a block of about BLOCK_ENTRIES entries
    (a row at least) at a time."""
    step = max(1, BLOCK_ENTRIES // max(1, shape[1]))
    for a in range(0, shape[0], step):
        yield slice(a, a + step)


@dataclass(frozen=True)
class Matrices:
    """What a check compared, kept so that nothing has to be recomputed to look
    closer (a diagnosis, a heatmap, ``--save``).

    Attributes
    ----------
    numeric, reference : ndarray, shape (m, n) (or (m,) for a value)
    estimate : ndarray or None
        The numeric entries' estimated errors, where the method gives them.
    bound : ndarray
        What each entry was allowed.
    unreliable : ndarray of bool
        Entries left out of the verdict.
    tolerance : Tolerance
        As given to :func:`compare` (a relative atol still relative).
    floor : ndarray, shape (n,), or None
    out_shape, in_shape : tuple of int
    order : {"C", "F"}
    columns : Columns, optional
        Each column's reductions (see :mod:`fdcheck.columns`), from which the
        comparison's figures were taken.
    """

    numeric: np.ndarray
    reference: np.ndarray
    estimate: np.ndarray | None
    bound: np.ndarray
    unreliable: np.ndarray
    tolerance: "Tolerance"
    floor: np.ndarray | None
    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...] | None
    order: str
    columns: Columns | None = None
    # What is worked out once from the matrices and read again (a diagnosis
    # tries each explanation at the same worst entries).
    found: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def worst_entries(self, most: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) of the worst entry of each failing column, the
        ``most`` furthest columns first (a comparison with mismatches: it
        keeps its column reductions)."""
        key = ("worst", most)
        if key not in self.found:
            cols = self.columns
            assert cols is not None
            failing = np.flatnonzero(cols.mismatches)
            at = failing[np.argsort(-cols.ratio[failing], kind="stable")[:most]]
            self.found[key] = (self.worst_rows(at), at)
        return self.found[key]

    def worst_rows(self, cols: np.ndarray) -> np.ndarray:
        """For each column of ``cols``, the first row of its counted entry
        furthest beyond its bound (0 where none is counted)."""
        at = np.asarray(cols, dtype=np.intp)
        num, ref, bound, skip = (as_columns(a)[:, at] for a in (
            self.numeric, self.reference, self.bound, self.unreliable))
        _, _, ratio, _ = _errors(num, ref, bound)
        return np.argmax(np.where(skip, -1.0, ratio), axis=0) if num.shape[0] \
            else np.zeros(at.size, dtype=np.intp)

    def worst_entry(self) -> tuple[int, int] | None:
        """(row, column), of the matrix as columns, of the counted entry
        furthest beyond its bound: the first in row-major order among equals
        (None where nothing is counted). A block of rows at a time, stopping
        at the first block that holds it: where every entry ties (a check
        whose errors are all 0) that is the first row, not a pass over the
        whole matrix."""
        cols = self.columns
        assert cols is not None
        tied = cols.furthest()
        if not tied.size:
            return None
        top = cols.ratio[tied[0]]
        num, ref, bound, skip = (as_columns(a) for a in (
            self.numeric, self.reference, self.bound, self.unreliable))
        every = tied.size == num.shape[1]
        for rows in row_blocks(num.shape):
            n, r, b, s = (a[rows] if every else a[rows][:, tied] for a in (num, ref, bound, skip))
            _, _, ratio, _ = _errors(n, r, b)
            hit = (ratio == top) & ~s
            if hit.any():
                row, col = divmod(int(np.argmax(hit)), hit.shape[1])
                return rows.start + row, int(tied[col])
        raise AssertionError("the furthest column's entry was not found again")

    def mismatched(self) -> np.ndarray:
        """The counted entries beyond their kept bounds: the comparison's own
        mismatches, as :meth:`mismatched_by` of the reference finds them (a
        block of rows at a time: no temporary the matrix's size)."""
        if self.numeric.ndim != 2:
            return beyond(self.numeric, self.reference, self.bound) & ~self.unreliable
        out = np.empty(self.numeric.shape, dtype=bool)
        for rows in row_blocks(self.numeric.shape):
            np.logical_and(beyond(self.numeric[rows], self.reference[rows], self.bound[rows]),
                           ~self.unreliable[rows], out=out[rows])
        return out

    def mismatched_by(self, candidate: np.ndarray) -> np.ndarray:
        """The counted entries where the numeric matrix differs from ``candidate``
        (a reference read another way) beyond this check's tolerance."""
        return mismatched(self.numeric, candidate, self.tolerance, self.estimate,
                          self.floor) & ~self.unreliable

    def differs_by(self, candidate: np.ndarray) -> bool:
        """``mismatched_by(candidate).any()``, a block of rows at a time:
        stopping at the first block that differs, and with no temporary the
        size of the matrix (each a round of page faults on a large one)."""
        if self.numeric.ndim != 2:
            return bool(self.mismatched_by(candidate).any())
        atol = self.tolerance.absolute_atol(candidate)
        for rows in row_blocks(self.numeric.shape):
            _, bound = entry_bounds(candidate[rows], self.tolerance,
                                    None if self.estimate is None else self.estimate[rows],
                                    self.floor, atol=atol)
            if (beyond(self.numeric[rows], candidate[rows], bound)
                    & ~self.unreliable[rows]).any():
                return True
        return False


@dataclass(frozen=True)
class Diagnosis:
    """An explanation of a mismatch: ``kind`` (sign, scale, transpose, order,
    symmetric, other-input, rows, columns, entries), a sentence, and the
    fields that go with the kind (``factor``, ``input``, ``outputs``, ``inputs``)."""

    kind: str
    message: str
    fields: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Comparison:
    """The verdict of one check: numeric against one reference."""

    against: str                  # value | analytic | chain | torch | jax
    wrt: str | None
    passed: bool
    max_abs_error: float
    max_rel_error: float
    worst: Worst | None
    tolerance: Tolerance
    entries: int
    mismatches: int
    out_name: str = "f"
    stage: str | None = None
    unreliable: int = 0
    notes: tuple[Note, ...] = field(default=())
    derivative: int = 1           # 2: a Hessian, or the derivative of a vector-Jacobian product
    mode: str = "reverse"         # how the framework computed it: reverse or forward
    diagnosis: tuple[Diagnosis, ...] = ()
    matrices: Matrices | None = field(default=None, compare=False, repr=False)
    # The smallest mistake the check could have caught, relative to the largest
    # entry of the reference: what its PASS proves.
    resolution: float = float("nan")
    # Mismatched entries whose numeric value is not proven either (see verify).
    unverified: int = 0
    # A block of a second derivative: the input whose first derivative is
    # differentiated (None: ``wrt`` itself), and whether ``wrt`` is the
    # cotangent v of the backward J^T v rather than an input.
    of: str | None = None
    cotangent: bool = False
    # A check of how a rule behaves rather than of its values against the
    # numeric derivative: reentrant, undefined-grad, dtypes, batched,
    # batched-forward (see fdcheck.checks.behaviour).
    aspect: str | None = None
    # The labels of the columns (and rows of a second derivative) where an
    # input is structured and its elements are coordinates (s11, s21, ...);
    # None: the element labels of the shape.
    in_labels: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    out_labels: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def verdict(self) -> str:
        """``passed``; ``mismatch`` (the reference is shown to be wrong); or
        ``unverifiable`` (nothing it could be wrong by was shown: every
        difference is in unverified entries, or the allowance exceeds the
        derivative itself)."""
        if self.passed:
            return "passed"
        # A failed check with no counted mismatch is one that could see none.
        return "unverifiable" if self.unverified == self.mismatches else "mismatch"


def entry_bounds(reference: np.ndarray, tolerance: Tolerance, estimate: np.ndarray | None = None,
                 floor: np.ndarray | None = None, atol: float | None = None
                 ) -> tuple[np.ndarray | float, np.ndarray]:
    """The atol in force and what each entry of ``reference`` is allowed:
    ``atol + rtol |reference|`` (+ the multiple of ``estimate``); see
    :func:`compare`. ``atol``: the absolute atol, where ``reference`` is
    part of the matrix it was taken from."""
    ref = np.asarray(reference, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        base = _floored(tolerance.absolute_atol(ref) if atol is None else atol,
                        floor if ref.ndim == 2 else None)
        bound = base + tolerance.rtol * np.abs(ref)
        if estimate is not None:
            factor = tolerance.auto if tolerance.auto else AUTO_FACTOR
            bound = bound + factor * np.where(np.isnan(estimate), 0.0, estimate)
    return base, bound


def _floored(atol: float, floor: np.ndarray | None) -> float | np.ndarray:
    """``atol``, or where each column of a Jacobian has its least atol
    (``floor``, shape (n,)), the larger of the two, shape (1, n)."""
    if floor is None:
        return atol
    return np.maximum(atol, np.asarray(floor, dtype=np.float64)[None, :])


def mismatched(numeric: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
               estimate: np.ndarray | None = None, floor: np.ndarray | None = None) -> np.ndarray:
    """Entries beyond their bound (NaN anywhere is a mismatch); same shape."""
    _, bound = entry_bounds(reference, tolerance, estimate, floor)
    return beyond(numeric, reference, bound)


def beyond(numeric: np.ndarray, reference: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """Entries further from the reference than ``bound`` (bounds already
    taken, by :func:`entry_bounds` or a comparison's matrices): NaN anywhere,
    or an infinite reference, is beyond."""
    with np.errstate(invalid="ignore"):
        return ~(np.abs(np.asarray(numeric, dtype=np.float64) - reference) <= bound) \
            | ~np.isfinite(reference)


def compare(numeric: np.ndarray, reference: np.ndarray, tolerance: Tolerance, *,
            against: str, wrt: str | None, out_shape: Sequence[int],
            in_shape: Sequence[int] | None, order: str = "C", out_name: str = "f",
            stage: str | None = None, unreliable: np.ndarray | None = None,
            unverified: np.ndarray | None = None, notes: Sequence[Note] = (),
            estimate: np.ndarray | None = None,
            floor: np.ndarray | None = None, derivative: int = 1,
            mode: str = "reverse", scale: float = 0.0) -> Comparison:
    """Compare ``numeric`` with ``reference`` entrywise.

    Parameters
    ----------
    numeric, reference : ndarray, shape (m, n) for a Jacobian or (m,) for a value
    tolerance : Tolerance
    against : str
        What the reference is (``analytic``, ``torch``...).
    wrt : str or None
        The input differentiated (None for a value check).
    out_shape, in_shape : tuple of int
        Shapes that turn a flat row or column back into an element index.
    unreliable : ndarray of bool, same shape, optional
        Entries whose numeric derivative cannot be trusted (kink, non-finite
        value nearby); they are counted apart and never make the check fail.
    unverified : ndarray of bool, same shape, optional
        Entries whose numeric value could not be shown to be right; where such
        an entry differs, the check fails as unverifiable rather than as a
        mismatch.
    estimate : ndarray, same shape, optional
        The numeric entries' estimated errors. With an auto tolerance an entry
        is allowed ``tolerance.auto`` times its estimate; otherwise an entry
        whose estimate is known is allowed the tolerance plus 10 x its estimate
        (a numeric value known to be that uncertain cannot prove a mismatch).
    floor : ndarray, shape (n,), optional
        The least absolute atol for each column of a Jacobian: the numeric
        method's rounding level (see ``JacobianResult.noise``).
    derivative, mode :
        What is compared, carried into the result: 2 for a Hessian or the
        derivative of a vector-Jacobian product; the framework's mode.
    scale : float
        The largest entry of the whole derivative this one is a part of (a
        block of the double backward): the resolution of a part that is not
        all 0 is read against it where it is larger than the part's own, as
        it would be for those rows of one Jacobian.

    Returns
    -------
    Comparison
    """
    num = np.asarray(numeric, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if num.shape != ref.shape:
        raise ValueError(f"shapes differ: numeric {num.shape}, reference {ref.shape}")
    skip = np.zeros(num.shape, dtype=bool) if unreliable is None else np.asarray(unreliable, dtype=bool)
    if num.ndim == 2 and num.size >= BLOCKWISE:
        atol, bound, reductions = _by_blocks(num, ref, tolerance, estimate, floor, skip,
                                             unverified)
        kept = _kept(num, ref, estimate, bound, skip, tolerance, floor, out_shape, in_shape,
                     order, reductions)
        figures = _column_figures(kept, scale)
        if not figures.mismatches:
            kept = replace(kept, columns=None)   # kept by failing comparisons alone
        return _concluded(kept, atol, figures, against=against, wrt=wrt, out_name=out_name,
                          stage=stage, notes=notes, derivative=derivative, mode=mode)
    atol, bound = entry_bounds(ref, tolerance, estimate, floor)
    err, bad, ratio, rel = _errors(num, ref, bound)
    counted = ~skip
    mismatches = int(np.count_nonzero(bad & counted))
    figures = _Figures(
        mismatches, 0 if unverified is None else int(np.count_nonzero(bad & counted & unverified)),
        *_maxima(err, rel, counted, mismatches), _worst_entry(ratio, counted),
        *_resolution(ref, bound, counted, scale), bool(counted.any()), int(np.count_nonzero(skip)))
    # A failing comparison keeps its columns' reductions: the last look redoes
    # a few columns (compare_columns), the diagnosis starts at their worst.
    columns = summarize(err, bad, ratio, rel, ref, bound, counted, unverified) \
        if mismatches else None
    return _concluded(_kept(num, ref, estimate, bound, skip, tolerance, floor, out_shape,
                            in_shape, order, columns),
                      atol, figures, against=against, wrt=wrt, out_name=out_name, stage=stage,
                      notes=notes, derivative=derivative, mode=mode)


def _by_blocks(num: np.ndarray, ref: np.ndarray, tolerance: Tolerance,
               estimate: np.ndarray | None, floor: np.ndarray | None, skip: np.ndarray,
               unverified: np.ndarray | None) -> tuple[float | np.ndarray, np.ndarray, Columns]:
    """The atol in force, the bounds and the columns' reductions of a large
    comparison, a block of rows at a time: each pass over a block in cache,
    and no temporary the matrix's size but the bounds it keeps (each a
    round of page faults)."""
    base = tolerance.absolute_atol(ref)
    atol = _floored(base, floor)
    bound = np.empty_like(ref)
    parts = []
    for rows in row_blocks(num.shape):
        _, bound[rows] = entry_bounds(ref[rows], tolerance,
                                      None if estimate is None else estimate[rows], floor,
                                      atol=base)
        parts.append(_summary(num[rows], ref[rows], bound[rows], skip[rows],
                              None if unverified is None else np.asarray(unverified)[rows]))
    return atol, bound, stacked(parts)


def _kept(num: np.ndarray, ref: np.ndarray, estimate: np.ndarray | None, bound: np.ndarray,
          skip: np.ndarray, tolerance: Tolerance, floor: np.ndarray | None,
          out_shape: Sequence[int], in_shape: Sequence[int] | None, order: str,
          columns: Columns | None) -> Matrices:
    """The matrices a comparison keeps."""
    return Matrices(num, ref, None if estimate is None else np.asarray(estimate, dtype=np.float64),
                    bound, skip, tolerance, None if floor is None else np.asarray(floor),
                    tuple(out_shape), None if in_shape is None else tuple(in_shape), order,
                    columns)


@dataclass(frozen=True)
class _Figures:
    """What a comparison found, before it is a Comparison."""

    mismatches: int
    unproven: int
    max_abs: float
    max_rel: float
    worst: tuple[int, int] | None       # (row, column) of the matrix as columns
    resolution: float
    relative: bool
    counted: bool                       # any entry counted
    skipped: int


def compare_columns(first: Comparison, cols: Sequence[int], numeric: np.ndarray,
                    reference: np.ndarray, tolerance: Tolerance, *, against: str,
                    wrt: str | None, out_shape: Sequence[int], in_shape: Sequence[int] | None,
                    order: str = "C", out_name: str = "f", stage: str | None = None,
                    unreliable: np.ndarray | None = None, unverified: np.ndarray | None = None,
                    notes: Sequence[Note] = (), estimate: np.ndarray | None = None,
                    floor: np.ndarray | None = None, derivative: int = 1,
                    mode: str = "reverse", scale: float = 0.0) -> Comparison:
    """:func:`compare` of matrices that differ from those ``first`` compared
    in the columns ``cols`` alone (numeric entries, estimates, entries left
    out or unverified): those columns are compared again, the others' figures
    are ``first``'s. The same Comparison as :func:`compare` gives, without a
    pass over the columns that did not change.

    Raises
    ------
    ValueError
        Where ``first`` kept no column reductions (a comparison of a vector).
    """
    mat = first.matrices
    if mat is None or mat.columns is None or mat.numeric.ndim != 2:
        raise ValueError("the first comparison kept no column reductions")
    num = np.asarray(numeric, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    at = np.asarray(sorted(set(int(c) for c in cols)), dtype=np.intp)
    skip = np.zeros(num.shape, dtype=bool) if unreliable is None else np.asarray(unreliable, dtype=bool)
    # The reference is the same: so is its atol; the bounds of the changed columns alone.
    base = tolerance.absolute_atol(ref)
    atol = _floored(base, floor)
    bound = mat.bound
    if at.size:
        part = None if estimate is None else estimate[:, at]
        column_floor = None if floor is None else np.asarray(floor, dtype=np.float64)[at]
        _, changed_bounds = entry_bounds(ref[:, at], tolerance, part, column_floor, atol=base)
        # The first comparison's bounds are shared (never written to) where
        # these columns' are the same: a large matrix's copy is a round of page faults.
        if not np.array_equal(changed_bounds, bound[:, at], equal_nan=True):
            bound = bound.copy()
            bound[:, at] = changed_bounds
    changed = _summary(num[:, at], ref[:, at], bound[:, at], skip[:, at],
                       None if unverified is None else np.asarray(unverified)[:, at])
    kept = _kept(num, ref, estimate, bound, skip, tolerance, floor, out_shape, in_shape, order,
                 mat.columns.replaced(at, changed))
    return _concluded(kept, atol, _column_figures(kept, scale), against=against, wrt=wrt,
                      out_name=out_name, stage=stage, notes=notes, derivative=derivative,
                      mode=mode)


def _summary(num: np.ndarray, ref: np.ndarray, bound: np.ndarray, skip: np.ndarray,
             unverified: np.ndarray | None) -> Columns:
    """Each column's reductions of a comparison of ``num`` with ``ref``."""
    return summarize(*_errors(num, ref, bound), ref, bound, ~skip, unverified)


def _column_figures(mat: Matrices, scale: float) -> _Figures:
    """The figures of a comparison from its columns' reductions: the same as
    the whole matrix gives (``tests/test_columns.py`` holds them equal)."""
    cols = mat.columns
    assert cols is not None
    mismatches = int(cols.mismatches.sum())
    if mismatches and cols.nonfinite.any():
        max_abs = max_rel = float("inf")
    else:
        max_abs = float(np.max(cols.max_abs, initial=0.0))
        max_rel = float(np.max(cols.max_rel, initial=0.0))
    worst = mat.worst_entry()
    size = int(mat.numeric.size)
    resolution, relative = _relative(float(np.max(cols.allowed, initial=0.0)),
                                     float(np.max(cols.size, initial=0.0)), size, scale)
    counted = int(cols.counted.sum())
    return _Figures(mismatches, int(cols.unproven.sum()), max_abs, max_rel, worst, resolution,
                    relative, counted > 0, size - counted)


def _concluded(mat: Matrices, atol: float | np.ndarray, figures: _Figures, *, against: str,
               wrt: str | None, out_name: str, stage: str | None, notes: Sequence[Note],
               derivative: int, mode: str) -> Comparison:
    """The Comparison of the entries ``mat`` holds, whose figures are ``figures``."""
    tolerance = mat.tolerance
    atol_in_force = float(np.max(atol)) if np.ndim(atol) and np.size(atol) else float(np.sum(atol))
    in_force = Tolerance(atol_in_force, tolerance.rtol, tolerance.source, auto=tolerance.auto)
    # A check none of whose entries could be judged has verified nothing.
    size = int(mat.numeric.size)
    nothing = size > 0 and not figures.counted
    if nothing:
        notes = (*notes, note("nothing-verified"))
    blind = against != "value" and figures.relative and figures.resolution > 1 \
        and figures.mismatches == 0 and not nothing
    if blind:
        # Every counted entry "agrees" only because it is allowed more than the
        # derivative's own size: the check can see no mistake at all.
        notes = (*notes, note("blind", resolution=figures.resolution))
    return Comparison(against, wrt, figures.mismatches == 0 and not nothing and not blind,
                      figures.max_abs, figures.max_rel, _worst(mat, figures.worst), in_force,
                      size, figures.mismatches, out_name, stage, figures.skipped, tuple(notes),
                      derivative, mode, (), mat, figures.resolution, figures.unproven)


def judged_at(comp: Comparison, scale: float) -> Comparison:
    """``comp`` with its resolution read against ``scale``, the largest
    entry of the whole derivative it is a part of, where that is larger than
    its own reference's (as :func:`compare`'s ``scale`` reads it): a part
    all at rounding level, blind at its own scale, is judged at the whole's.
    Anything but a blind comparison is returned as it is."""
    mat = comp.matrices
    if mat is None or not any(n.kind == "blind" for n in comp.notes):
        return comp
    resolution, _ = _resolution(mat.reference, mat.bound, ~mat.unreliable, scale)
    others = tuple(n for n in comp.notes if n.kind != "blind")
    if resolution > 1:
        return replace(comp, resolution=resolution,
                       notes=(*others, note("blind", resolution=resolution)))
    return replace(comp, passed=True, resolution=resolution, notes=others)


def _errors(num: np.ndarray, ref: np.ndarray, bound: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each entry's absolute error, whether it is beyond its bound, its error
    over its bound, and its relative error."""
    # In place and with where=: a few arrays of the Jacobian's size, not a dozen.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        err = np.subtract(num, ref)
        np.abs(err, out=err)
        # NaN anywhere is a mismatch, and so is an infinite reference: its bound
        # would be infinite too, and let any numeric value pass.
        bad = ~(err <= bound)
        bad |= ~np.isfinite(ref)
        ratio = np.divide(err, bound, out=np.zeros_like(err), where=bound > 0)
        ratio[(bound == 0) & (err > 0)] = np.inf
        ratio[bad & ~np.isfinite(err)] = np.inf
        # An infinite error over an infinite bound (an infinite numeric entry
        # with an infinite error estimate) is furthest of all, as NaN would be
        # to argmax: a NaN would drop out of the columns' maxima.
        ratio[np.isnan(ratio)] = np.inf
        rel = np.divide(err, np.abs(ref), out=np.zeros_like(err), where=ref != 0)
    return err, bad, ratio, rel


def _maxima(err: np.ndarray, rel: np.ndarray, counted: np.ndarray,
            mismatches: int) -> tuple[float, float]:
    """The largest absolute and relative errors of the counted entries
    (infinite where a counted mismatch is not finite)."""
    if not err.size:
        return 0.0, 0.0
    if mismatches and (~np.isfinite(err) & counted).any():
        return float("inf"), float("inf")
    max_abs = float(np.max(err, where=np.isfinite(err) & counted, initial=0.0))
    return max_abs, float(np.max(rel, where=np.isfinite(rel) & counted, initial=0.0))


def _worst_entry(ratio: np.ndarray, counted: np.ndarray) -> tuple[int, int] | None:
    """(row, column), of the matrix as columns, of the counted entry furthest
    beyond its bound: the first in row-major order among equals."""
    if not ratio.size or not counted.any():
        return None
    flat = int(np.argmax(np.where(counted, ratio, -1.0)))
    n = ratio.shape[1] if ratio.ndim == 2 else 1
    return flat // n, flat % n


def _worst(mat: Matrices, at: tuple[int, int] | None) -> Worst | None:
    """The entry at ``at`` (row, column) as the report reads it."""
    if at is None:
        return None
    row, col = at
    idx = (row, col) if mat.numeric.ndim == 2 else (row,) if mat.numeric.ndim == 1 else ()
    out_idx = unravel(row, mat.out_shape, mat.order)
    in_idx = unravel(col, mat.in_shape, mat.order) \
        if mat.numeric.ndim == 2 and mat.in_shape is not None else None
    return Worst(out_idx, in_idx, float(mat.numeric[idx]), float(mat.reference[idx]),
                 float(mat.bound[idx]),
                 None if mat.estimate is None else float(mat.estimate[idx]))


def _resolution(ref: np.ndarray, bound: np.ndarray, counted: np.ndarray,
                scale: float = 0.0) -> tuple[float, bool]:
    """The smallest mistake the check could have caught: its largest allowance,
    relative to the largest entry of the reference, or of the whole it is a
    part of (``scale``) where that is larger (True), or absolute where the
    reference is all 0 (False: then any small numeric value is its proof)."""
    if not bound.size:
        return 0.0, False
    with np.errstate(invalid="ignore", over="ignore"):
        allowed = float(np.max(bound, where=counted & np.isfinite(bound), initial=0.0))
        size = float(np.max(np.abs(ref), where=counted & np.isfinite(ref), initial=0.0))
    return _relative(allowed, size, int(bound.size), scale)


def _relative(allowed: float, largest: float, entries: int, scale: float) -> tuple[float, bool]:
    """The resolution from the largest allowance and the largest |reference|
    entry (see :func:`_resolution`)."""
    if not entries:
        return 0.0, False
    if largest > 0:
        return allowed / max(largest, scale), True
    return allowed, False
