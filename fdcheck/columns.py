"""A comparison's figures column by column.

Every figure of a comparison (its mismatches, largest errors, worst entry and
resolution) is a reduction over the entries; taken first over each column's
rows, the whole is a reduction over n columns. A comparison whose numeric side
changed in a few columns only (the last look at a failing check, which
derives a few columns again) is then redone on those columns: the other
columns' reductions stand.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def as_columns(a: np.ndarray) -> np.ndarray:
    """``a`` as a matrix of columns: itself where 2-D, a vector (a value
    check) as one column, a scalar as one entry."""
    if a.ndim == 2:
        return a
    return a.reshape(a.shape[0] if a.ndim else 1, 1)


@dataclass(frozen=True)
class Columns:
    """Each column's reductions over its rows, counted entries only.

    Attributes
    ----------
    mismatches, unproven : ndarray of int, shape (n,)
        Entries beyond their bound; of those, the unverified ones.
    nonfinite : ndarray of bool, shape (n,)
        Whether an entry's error is not finite (always a mismatch).
    max_abs, max_rel : ndarray, shape (n,)
        The largest finite absolute and relative errors (0 for none; the
        absolute one is not read where ``nonfinite``: the largest error is
        infinite then).
    ratio : ndarray, shape (n,)
        The largest error over bound (-1 where nothing is counted).
    allowed, size : ndarray, shape (n,)
        The largest finite bound and the largest finite |reference|.
    counted : ndarray of int, shape (n,)
    """

    mismatches: np.ndarray
    unproven: np.ndarray
    nonfinite: np.ndarray
    max_abs: np.ndarray
    max_rel: np.ndarray
    ratio: np.ndarray
    allowed: np.ndarray
    size: np.ndarray
    counted: np.ndarray

    def replaced(self, cols: np.ndarray, other: "Columns") -> "Columns":
        """These columns with those of ``cols`` taken from ``other`` (the
        reductions of those columns alone, in the order of ``cols``)."""
        def spliced(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
            out = mine.copy()
            out[cols] = theirs
            return out
        return Columns(*(spliced(getattr(self, f), getattr(other, f))
                         for f in self.__dataclass_fields__))

    def furthest(self) -> np.ndarray:
        """The columns that hold the counted entry furthest beyond its bound
        (several where they tie), in order; empty where nothing is counted."""
        if not self.counted.any():
            return np.zeros(0, dtype=np.intp)
        # A counted entry's ratio is at least 0; a column with none counted has -1.
        return np.flatnonzero(self.ratio == self.ratio.max())


def stacked(parts: list[Columns]) -> Columns:
    """The reductions of a matrix from those of its blocks of rows, in order
    (each block's :func:`summarize`): the same as the whole's."""
    def total(name: str) -> np.ndarray:
        return np.sum([getattr(p, name) for p in parts], axis=0)

    def most(name: str) -> np.ndarray:
        return np.max([getattr(p, name) for p in parts], axis=0)
    nonfinite = np.any([p.nonfinite for p in parts], axis=0)
    # As summarize has it: the absolute error is not read (0) where one is not finite.
    return Columns(total("mismatches"), total("unproven"), nonfinite,
                   np.where(nonfinite, 0.0, most("max_abs")), most("max_rel"), most("ratio"),
                   most("allowed"), most("size"), total("counted"))


def summarize(err: np.ndarray, bad: np.ndarray, ratio: np.ndarray, rel: np.ndarray,
              ref: np.ndarray, bound: np.ndarray, counted: np.ndarray,
              unverified: np.ndarray | None) -> Columns:
    """The reductions of each column of the (m, n) matrices of one comparison
    (a vector's as one column, see :func:`as_columns`): absolute errors
    ``err``, whether beyond the bound ``bad``, error over bound ``ratio``
    (never NaN), relative error ``rel``; ``counted``, the entries judged;
    ``unverified``, those whose numeric value is not shown."""
    err, bad, ratio, rel, ref, bound, counted = (as_columns(np.asarray(a)) for a in (
        err, bad, ratio, rel, ref, bound, counted))
    unverified = None if unverified is None else as_columns(np.asarray(unverified, dtype=bool))
    n = err.shape[1]
    judged = bad & counted
    with np.errstate(invalid="ignore", over="ignore"):
        # A NaN or infinite error is the column's maximum: one reduction finds
        # both the largest error and whether one is not finite.
        largest = np.max(err, axis=0, where=counted, initial=0.0)
        nonfinite = ~np.isfinite(largest)
        max_rel = np.max(rel, axis=0, where=np.isfinite(rel) & counted, initial=0.0)
        top = np.max(ratio, axis=0, where=counted, initial=-1.0)
        allowed = np.max(bound, axis=0, where=counted & np.isfinite(bound), initial=0.0)
        size = np.max(np.abs(ref), axis=0, where=counted & np.isfinite(ref), initial=0.0)
    unproven = np.count_nonzero(judged & unverified, axis=0) if unverified is not None \
        else np.zeros(n, dtype=np.intp)
    return Columns(np.count_nonzero(judged, axis=0), unproven, nonfinite,
                   np.where(nonfinite, 0.0, largest), max_rel, top, allowed, size,
                   np.count_nonzero(counted, axis=0))
