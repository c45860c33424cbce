"""Finite-difference stencils as values: offsets and exact weights.

A stencil approximates f'(x) by ``sum(w_k * f(x + c_k h)) / h``. The weights
are the exact solution of the Taylor (Vandermonde) system, solved in rational
arithmetic once, so a stencil of order p has an error O(h**p).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from math import factorial

import numpy as np

SCHEMES = ("central", "forward", "backward")
CENTRAL_ORDERS = (2, 4, 6, 8)
ONE_SIDED_ORDERS = (1, 2)


@dataclass(frozen=True)
class Stencil:
    """A first-derivative stencil.

    Attributes
    ----------
    scheme : {"central", "forward", "backward"}
    order : int
        Accuracy order p: the truncation error is O(h**p).
    offsets : tuple of int
        Multiples c_k of the step at which f is evaluated.
    weights : tuple of Fraction
        Exact weights w_k, ``f'(x) ~ sum(w_k f(x + c_k h)) / h``.
    """

    scheme: str
    order: int
    offsets: tuple[int, ...]
    weights: tuple[Fraction, ...]

    @property
    def needs_center(self) -> bool:
        """True when f(x) itself is one of the points (one-sided stencils)."""
        return 0 in self.offsets

    @cached_property
    def perturbed(self) -> tuple[tuple[int, float], ...]:
        """(offset, weight) pairs of the points that move x; f(x) is shared."""
        return tuple((c, float(w)) for c, w in zip(self.offsets, self.weights) if c != 0)

    @cached_property
    def offsets_array(self) -> np.ndarray:
        """The offsets of :attr:`perturbed`, float64, read-only."""
        a = np.array([c for c, _ in self.perturbed], dtype=np.float64)
        a.flags.writeable = False
        return a

    @cached_property
    def antisymmetric_pairs(self) -> tuple[tuple[int, int, float], ...]:
        """For a central stencil (w(-c) = -w(c)): (index of +c, index of -c,
        w(c)) per pair, indices into :attr:`perturbed`; () for any other."""
        points = self.perturbed
        where = {c: q for q, (c, _) in enumerate(points)}
        pairs = []
        for q, (c, w) in enumerate(points):
            if c > 0:
                if -c not in where or points[where[-c]][1] != -w:
                    return ()
                pairs.append((q, where[-c], w))
        return tuple(pairs)

    @property
    def center_weight(self) -> float:
        return float(sum(w for c, w in zip(self.offsets, self.weights) if c == 0))

    @property
    def error_constant(self) -> float:
        """C in the truncation error C * h**p * f^(p+1)(x)."""
        p = self.order
        return float(abs(sum(w * Fraction(c) ** (p + 1) for c, w in zip(self.offsets, self.weights))
                         / factorial(p + 1)))

    def __repr__(self) -> str:
        terms = []
        for c, w in zip(self.offsets, self.weights):
            point = "f(x)" if c == 0 else f"f(x{'+' if c > 0 else '-'}{'' if abs(c) == 1 else abs(c)}h)"
            terms.append(f"{'-' if w < 0 else '+'} {abs(w)}·{point}")
        body = " ".join(terms).lstrip("+ ")
        return f"<Stencil {self.scheme} order {self.order}: f'(x) ≈ ({body}) / h>"


def _solve_exact(offsets: tuple[int, ...]) -> tuple[Fraction, ...]:
    # sum_k w_k c_k**j / j! = [j == 1] for j = 0..len-1, by Gauss-Jordan on Fractions.
    size = len(offsets)
    rows = [[Fraction(c) ** j / factorial(j) for c in offsets] + [Fraction(int(j == 1))]
            for j in range(size)]
    for col in range(size):
        pivot = next(r for r in range(col, size) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(size):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return tuple(rows[k][size] for k in range(size))


@lru_cache(maxsize=None)
def stencil(scheme: str = "central", order: int | None = None) -> Stencil:
    """The stencil of ``scheme`` and accuracy ``order``.

    Parameters
    ----------
    scheme : {"central", "forward", "backward"}
    order : int, optional
        2, 4, 6 or 8 for central (default 2); 1 or 2 for one-sided (default 1).

    Returns
    -------
    Stencil
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    if scheme == "central":
        order = 2 if order is None else int(order)
        if order not in CENTRAL_ORDERS:
            raise ValueError(f"central stencils have order 2, 4, 6 or 8, not {order}")
        half = order // 2
        offsets = tuple(c for c in range(-half, half + 1) if c != 0)
    else:
        order = 1 if order is None else int(order)
        if order not in ONE_SIDED_ORDERS:
            raise ValueError(f"{scheme} stencils have order 1 or 2, not {order}")
        sign = 1 if scheme == "forward" else -1
        offsets = tuple(sign * c for c in range(order + 1))
    weights = _solve_exact(offsets)
    kept = tuple((c, w) for c, w in zip(offsets, weights) if w != 0)
    return Stencil(scheme, order, tuple(c for c, _ in kept), tuple(w for _, w in kept))
