"""Finite-difference stencils as values: offsets and exact weights.

A stencil approximates f'(x) by ``sum(w_k * f(x + c_k h)) / h``. The weights
are the exact solution of the Taylor (Vandermonde) system, solved in rational
arithmetic once, so a stencil of order p has an error O(h**p).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property, lru_cache
from math import factorial
from typing import Any, Mapping

import numpy as np

SCHEMES = ("central", "forward", "backward")
CENTRAL_ORDERS = (2, 4, 6, 8)
ONE_SIDED_ORDERS = (1, 2)
# Methods that are not one stencil: Richardson extrapolation over a sweep of
# steps (fdcheck.extrapolate) and the complex step (fdcheck.complexstep).
OTHER_SCHEMES = ("richardson", "complex-step")
ALL_SCHEMES = SCHEMES + OTHER_SCHEMES


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
        return self.scheme in SCHEMES

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
            step, order = spec.get("step"), spec.get("order")
            if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
                raise ValueError(f"a stencil's order is a whole number, not {order!r}")
            return cls(scheme=str(spec.get("scheme", "central")), order=order,
                       step=None if step is None else float(step))
        raise ValueError(f"a method is a name or a mapping, not {spec!r}")

    def with_step(self, step: float | None) -> "Method":
        return self if step is None else replace(self, step=float(step))


_DEFAULT = Method()
