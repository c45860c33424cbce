"""The directional ("fast") check: J v along a few seeded random directions,
against the reference's own R v, at a cost independent of n.

A Jacobian of a function of 10^6 inputs cannot be built column by column,
but J v can be: 2 evaluations of f per direction (a central difference along
v) where it agrees with the reference, about 20 more (Richardson extrapolation
along v, with its error estimate) where it does not. When a direction
disagrees, the disagreement is localized by bisection: the support of v is halved, and
the half whose J v_S still disagrees with R v_S is kept, down to one input
element, whose column is then derived and compared entry by entry. Only the
column a failing check needs is ever computed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from .notes import Note, note
from .protocols import Evaluator, Flat
from .compare import Comparison, compare, mismatched
from .tolerances import Tolerance
from .engine import NOISE, central_plan, execute
from .evaluate import Batch
from .extrapolate import extrapolate_columns, extrapolate_direction
from .step import direction_step
from .layout import unravel

Jvp = Callable[[np.ndarray], np.ndarray]
Vjp = Callable[[np.ndarray], np.ndarray]


def central_direction(fn: Flat, v: np.ndarray, evaluator: Evaluator | None = None
                      ) -> tuple[np.ndarray, np.ndarray, int]:
    """J v by one central difference along v, (f(x + t v) - f(x - t v)) / 2t with
    t = eps**(1/3), and its rounding error, ``NOISE eps max|f| / t`` per entry:
    2 evaluations. The cheap first look of a directional check; where it does
    not agree, Richardson extrapolation along v decides."""
    x64 = fn.x0.astype(np.float64)
    eps = float(np.finfo(fn.dtype).eps)
    t = direction_step(fn.dtype)
    dense = np.stack([(x64 - t * v).astype(fn.dtype), (x64 + t * v).astype(fn.dtype)])
    none = np.empty(0, dtype=np.int64)
    plan, d, fscale = central_plan(fn, lambda a, b: Batch(none, none, None, dense[2 * a:2 * b]),
                                   np.array([t]), np.zeros(fn.m))
    used = execute(fn, plan, evaluator)
    with np.errstate(all="ignore"):
        rounding = NOISE * eps * fscale[0] / t
    return d[0], np.where(np.isfinite(rounding), rounding, np.inf), used


def reference_jvp(reference: np.ndarray) -> Jvp:
    """R v for a reference Jacobian (m, n) in matrix form."""
    mat = np.asarray(reference, dtype=np.float64)
    return lambda v: mat @ v


@dataclass
class DirectionalCheck:
    """Check ``fn``'s Jacobian against ``jvp`` (v -> R v) along random directions.

    Parameters
    ----------
    fn : FlatFunction
    jvp : callable, (n,) -> (m,)
    tolerance : Tolerance
    directions : int
        How many seeded random directions.
    evaluator : Evaluator, optional
    seed : int
    """

    fn: Flat
    jvp: Jvp
    tolerance: Tolerance
    directions: int = 3
    evaluator: Evaluator | None = None
    seed: int = 0
    evaluations: int = 0

    # -- what differs between a reference by R v and one by R^T u --------------------

    def _draw(self, rng: np.random.Generator, v: np.ndarray) -> Any:
        """What the reference needs besides the direction v (nothing for R v)."""
        return None

    def _measure(self, v: np.ndarray, extra: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """numeric, its error, reference along v: J v against R v."""
        ref = np.asarray(self.jvp(v), dtype=np.float64).reshape(-1)
        for derive in (central_direction, extrapolate_direction):
            value, error, used = derive(self.fn, v, self.evaluator)
            self.evaluations += used
            if not self._bad(value, error, ref):
                break
        return value, error, ref

    def _column(self, i: int, extra: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """numeric, reference, estimate of input element i's column, shape (m, 1)."""
        ext = extrapolate_columns(self.fn, [i], self.evaluator)
        self.evaluations += ext.evaluations
        unit = np.zeros(self.fn.n)
        unit[i] = 1.0
        return ext.jacobian, np.asarray(self.jvp(unit), dtype=np.float64).reshape(-1, 1), ext.error

    # How the notes name this check: J v against R v ("jvp"), or u^T J v ("vjp").
    kind = "jvp"

    # -- the check --------------------------------------------------------------------

    def _bad(self, value: np.ndarray, error: np.ndarray, ref: np.ndarray) -> bool:
        return bool(mismatched(value, ref, self.tolerance, error).any())

    def run(self, **where: Any) -> Comparison:
        """The verdict; ``where`` as for :func:`fdcheck.compare.compare` (names, order)."""
        fn = self.fn
        rng = np.random.default_rng(self.seed)
        scale = np.maximum(1.0, np.abs(fn.x0.astype(np.float64)))
        values, errors, refs = [], [], []
        for k in range(self.directions):
            v = rng.standard_normal(fn.n) * scale
            extra = self._draw(rng, v)
            value, error, ref = self._measure(v, extra)
            values.append(value)
            errors.append(error)
            refs.append(ref)
            if self._bad(value, error, ref):
                return self._localize(v, extra, k, **where)
        comp = compare(np.concatenate(values), np.concatenate(refs), self.tolerance,
                       estimate=np.concatenate(errors),
                       **{**where, "in_shape": None, "out_shape": (sum(len(v) for v in values),)})
        return _with_notes(comp, note("directional", product=self.kind,
                                      directions=self.directions, evaluations=self.evaluations))

    def _localize(self, v: np.ndarray, extra: Any, k: int, **where: Any) -> Comparison:
        """Halve the support of v while the disagreement stays; compare one column."""
        support = np.arange(self.fn.n)
        steps = 0
        while support.size > 1:
            half = support[: support.size // 2]
            part = np.zeros_like(v)
            part[half] = v[half]
            value, error, ref = self._measure(part, extra)
            support = half if self._bad(value, error, ref) else support[support.size // 2:]
            steps += 1
        i = int(support[0])
        numeric, reference, estimate = self._column(i, extra)
        rows = where["out_shape"] if len(numeric) == self.fn.m else (len(numeric),)
        comp = compare(numeric, reference, self.tolerance, estimate=estimate,
                       **{**where, "in_shape": None, "out_shape": rows})
        in_shape = where.get("in_shape")
        index = unravel(i, in_shape, where.get("order", "C")) if in_shape else (i,)
        worst = None if comp.worst is None else replace(comp.worst, input=index)
        found = note("localized", product=self.kind, direction=k + 1, steps=steps, element=i,
                     evaluations=self.evaluations)
        return _with_notes(comp, found, worst=worst, passed=False)


@dataclass
class ProjectedCheck(DirectionalCheck):
    """Check ``fn``'s Jacobian against a reference known by its vector-Jacobian
    products (``vjp``: u -> R^T u, flat (m,) -> (n,)): u^T J v along random
    directions, never a whole matrix.

    One VJP per direction gives w = R^T u; then u^T R v_S = w[S] . v[S] for any
    part S of the direction's support, so the bisection that localizes a
    disagreement costs the reference nothing more. The numeric side is u^T (J v)
    with J v by a central difference (or, where it disagrees, Richardson
    extrapolation) along v, its error estimate |u| times J v's.
    """

    vjp: Vjp | None = None

    kind = "vjp"

    def _draw(self, rng: np.random.Generator, v: np.ndarray) -> Any:
        u = rng.standard_normal(self.fn.m)
        if self.vjp is None:
            raise TypeError("a projected check needs its vector-Jacobian product")
        return u, np.asarray(self.vjp(u), dtype=np.float64).reshape(-1)

    def _measure(self, v: np.ndarray, extra: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u, w = extra
        ref = np.array([w @ v])
        for derive in (central_direction, extrapolate_direction):
            value, error, used = derive(self.fn, v, self.evaluator)
            self.evaluations += used
            scalar = np.array([u @ value])
            bound = np.array([np.abs(u) @ np.where(np.isfinite(error), error, np.inf)])
            if not self._bad(scalar, bound, ref):
                break
        return scalar, bound, ref

    def _column(self, i: int, extra: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u, w = extra
        ext = extrapolate_columns(self.fn, [i], self.evaluator)
        self.evaluations += ext.evaluations
        return (np.array([[u @ ext.jacobian[:, 0]]]), np.array([[w[i]]]),
                np.array([[np.abs(u) @ ext.error[:, 0]]]))


def _with_notes(comp: Comparison, added: Note, **changes: Any) -> Comparison:
    return replace(comp, notes=(*comp.notes, added), **changes)


def check_products(fn: Flat, products: Sequence[tuple[str, str, Any]], tolerance: Tolerance,
                   directions: int, evaluator: Evaluator | None = None, **where: Any
                   ) -> tuple[list[Comparison], int]:
    """One directional check per reference, each ``(against, kind, product)``:
    kind ``jvp`` for ``v -> R v`` (compared as vectors), ``vjp`` for
    ``u -> R^T u`` (compared as u^T R v).

    Returns the comparisons and the evaluations they used; ``where`` as for
    :meth:`DirectionalCheck.run` (wrt, out_shape, in_shape, order, out_name,
    derivative, mode).
    """
    checks, evaluations = [], 0
    if tolerance.scaled:
        # Every product carries its rounding error as its estimate: the method's
        # own level replaces the dtype's fixed floor, as for a whole Jacobian (a
        # function of scale 1e-14 is otherwise unverifiable along any direction).
        tolerance = replace(tolerance, floor=0.0)
    for against, kind, product in products:
        if kind == "vjp":
            run: DirectionalCheck = ProjectedCheck(fn, _no_jvp, tolerance, directions, evaluator,
                                                   vjp=product)
        else:
            run = DirectionalCheck(fn, product, tolerance, directions, evaluator)
        with np.errstate(all="ignore"), fn.backend.no_grad():
            checks.append(run.run(against=against, **where))
        evaluations += run.evaluations
    return checks, evaluations


def _no_jvp(v: np.ndarray) -> np.ndarray:
    raise TypeError("a projected check has no R v")
