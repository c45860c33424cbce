"""Tolerances: what an entry of a comparison is allowed.

An entry passes where ``abs(numeric - reference) <= atol + rtol * abs(reference)``.

Precedence of tolerances, highest first (each of atol and rtol separately):
1. the command line (``--atol``, ``--rtol``) or the keyword arguments of an API call;
2. the case's ``tolerance`` (after its file's ``defaults`` are merged in);
3. the built-in default for the case's dtype and method (:data:`DEFAULTS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

# (dtype, method label) -> (atol, rtol). The method label is the stencil's
# scheme and order ("central2"); "*" matches any method of that dtype.
# A default atol is relative: it is multiplied by the largest magnitude in the
# reference (with a floor, FLOORS), because a fixed absolute atol hides a 1%
# error in a gradient whose entries are all near 1e-2. An atol a person gives
# (case, command line, API) is absolute, as written.
# Each row is a few hundred times the error the method makes on a function of
# unit scale, so a correct derivative is not called wrong, and a derivative
# wrong by 1e-3 relative (float64) or 1% (float32) still fails.
DEFAULTS: dict[tuple[str, str], tuple[float, float]] = {
    ("float64", "central2"): (1e-6, 1e-5),
    ("float64", "central4"): (1e-7, 1e-6),
    ("float64", "central6"): (1e-7, 1e-6),
    ("float64", "central8"): (1e-7, 1e-6),
    ("float64", "forward1"): (1e-5, 1e-4),
    ("float64", "backward1"): (1e-5, 1e-4),
    ("float64", "forward2"): (1e-6, 1e-5),
    ("float64", "backward2"): (1e-6, 1e-5),
    ("float64", "richardson"): (1e-8, 1e-7),
    ("float64", "complex-step"): (1e-10, 1e-9),
    ("float32", "*"): (1e-4, 3e-4),
    ("float32", "forward1"): (1e-2, 5e-3),
    ("float32", "backward1"): (1e-2, 5e-3),
    # Half precision: a central difference there is good to a few percent at
    # best (bfloat16 keeps 8 bits), and its check says so by its resolution.
    ("float16", "*"): (1e-2, 1e-2),
    ("bfloat16", "*"): (5e-2, 5e-2),
    # Second differences of f (a Hessian with no gradient at hand): their
    # rounding error is eps |f| / h**2 instead of eps |f| / h.
    ("float64", "hessian"): (1e-5, 1e-4),
    ("float32", "hessian"): (3e-3, 3e-3),
}
FLOORS = {"float64": 1e-12, "float32": 1e-6, "float16": 1e-3, "bfloat16": 1e-2}
# tolerance: auto -- an entry fails where |numeric - reference| exceeds
# AUTO_FACTOR times the engine's own error estimate for it, plus the floor
# (relative to the reference's largest magnitude).
AUTO_FACTOR = 10.0


@dataclass(frozen=True)
class Tolerance:
    """``atol`` and ``rtol``, with where they came from."""

    atol: float
    rtol: float
    source: str = "default"
    scaled: bool = False      # atol is relative to the reference's largest magnitude
    floor: float = 0.0        # the least absolute atol when scaled
    auto: float | None = None  # tolerance: auto -- the multiple of the error estimate

    def absolute_atol(self, reference: np.ndarray) -> float:
        """The atol in force against ``reference``."""
        if not self.scaled:
            return self.atol
        return max(self.floor, self.atol * largest_finite(reference))


def largest_finite(a: np.ndarray) -> float:
    """The largest |entry| of ``a`` that is finite (0 for none)."""
    if not a.size:
        return 0.0
    # Two reductions without a copy; the masked copy only where something is not finite.
    with np.errstate(invalid="ignore"):
        top = max(float(np.max(a)), -float(np.min(a)))
    if np.isfinite(top):
        return top
    finite = np.abs(a[np.isfinite(a)])
    return float(finite.max()) if finite.size else 0.0


def default_tolerance(dtype: str, method_label: str) -> Tolerance:
    """The built-in tolerance for ``dtype`` and a method label such as ``central2``."""
    key = (dtype, method_label)
    if key not in DEFAULTS:
        key = (dtype, "*") if (dtype, "*") in DEFAULTS else ("float64", "central2")
    atol, rtol = DEFAULTS[key]
    return Tolerance(atol, rtol, f"default for {dtype}, {method_label}", scaled=True,
                     floor=FLOORS.get(dtype, FLOORS["float64"]))


def auto_factor(value: str | float | None) -> float | None:
    """The multiple of ``tolerance: auto`` from ``"auto"`` or a positive number.

    Raises
    ------
    ValueError
        For anything else.
    """
    if value is None:
        return None
    if isinstance(value, str) and value == "auto":
        return AUTO_FACTOR
    try:
        factor = float(value)
    except (TypeError, ValueError):
        factor = -1.0
    if not factor > 0:
        raise ValueError(f"expected auto or a positive multiple of the error estimate, "
                         f"not {value!r}")
    return factor


def auto_tolerance(dtype: str, factor: float = AUTO_FACTOR, source: str = "the case") -> Tolerance:
    """``tolerance: auto``: ``factor`` x the error estimate + the dtype's floor x max|reference|."""
    floor = FLOORS.get(dtype, FLOORS["float64"])
    return Tolerance(floor, 0.0, f"auto from {source}: {factor:g} x the estimated error "
                     f"+ {floor:g} x max|reference|", scaled=True, floor=floor, auto=factor)


def resolve(dtype: str, method_label: str, *layers: Mapping[str, Any]) -> Tolerance:
    """The tolerance in force: each of atol/rtol from the first layer that sets it.

    Parameters
    ----------
    dtype, method_label : str
        Pick the built-in default, used for whatever no layer sets.
    *layers : mapping with optional keys "atol", "rtol" (and "source"), highest first.
        A layer ``{"auto": factor}`` (``tolerance: auto``) decides alone when
        no higher layer sets atol or rtol.
    """
    for layer in layers:
        if not layer:
            continue
        if layer.get("auto"):
            return auto_tolerance(dtype, float(layer["auto"]), layer.get("source", "the caller"))
        if layer.get("atol") is not None or layer.get("rtol") is not None:
            break
    base = default_tolerance(dtype, method_label)
    atol = rtol = None
    sources = []
    for layer in layers:
        taken = []
        if atol is None and layer.get("atol") is not None:
            atol = float(layer["atol"])
            taken.append("atol")
        if rtol is None and layer.get("rtol") is not None:
            rtol = float(layer["rtol"])
            taken.append("rtol")
        if taken:
            sources.append(f"{'/'.join(taken)} from {layer.get('source', 'the caller')}")
    if atol is None or rtol is None:
        sources.append(base.source)
    return Tolerance(base.atol if atol is None else atol, base.rtol if rtol is None else rtol,
                     "; ".join(sources), scaled=atol is None, floor=base.floor)
