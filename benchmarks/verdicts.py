"""Verdicts at the default settings: false alarms on correct derivatives, misses
on wrong ones, and the checks that fail as unverifiable (fdcheck says it cannot tell).

For each identity of benchmarks/problems.py (scalar functions with their
gradients, matrix functions with their Jacobians), at four kinds of point
(random, ill-conditioned with singular values 1..1e-3, small: x 1e-4, large:
x 1e4) and in float64 and float32, fdcheck.check is called with the correct
derivative and with the mistakes people make:

  transpose   the derivative transposed (where that changes it by more
              than 1e-6 of its largest entry)
  factor 2    twice the derivative
  sign        its negative
  kron swap   the two Kronecker factors swapped (where the identity has them)
  one entry   one entry off by 1% of the largest
  1e-3 rel    every entry off by 1e-3 relative

float32 means the input and the output are rounded to float32 (the constants
inside the functions stay float64).

    python benchmarks/verdicts.py [--verbose]
"""
from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter
from typing import Callable

import numpy as np

import fdcheck

try:
    from problems import IDENTITIES, POINTS, Identity, point
except ImportError:  # pragma: no cover
    from benchmarks.problems import IDENTITIES, POINTS, Identity, point

Mistake = Callable[[np.ndarray, Identity, np.ndarray], "np.ndarray | None"]


def _transpose(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray | None:
    return d.T.copy() if d.ndim == 2 and d.shape[0] == d.shape[1] else None


def _one_entry(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray:
    out = d.copy()
    k = np.random.default_rng(len(ident.name)).integers(out.size)
    out.flat[k] += 0.01 * max(np.abs(d).max(), 1e-300)
    return out


def _kron(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray | None:
    return None if ident.kron_swapped is None else ident.kron_swapped(x)


MISTAKES: dict[str, Mistake] = {
    "transpose": _transpose,
    "factor 2": lambda d, i, x: 2 * d,
    "sign": lambda d, i, x: -d,
    "kron swap": _kron,
    "one entry": _one_entry,
    "1e-3 rel": lambda d, i, x: d * (1 + 1e-3),
}


def run_check(ident: Identity, x: np.ndarray, derivative: np.ndarray, dtype: str) -> str:
    """``passed``, ``mismatch`` or ``unverifiable`` (fdcheck says it cannot tell)."""
    if dtype == "float32":
        f = lambda v: np.asarray(ident.f(v), dtype=np.float32)  # noqa: E731
        x = x.astype(np.float32)
    else:
        f = ident.f
    key = "gradient" if ident.scalar else "jacobian"
    try:
        checks = fdcheck.check(f, x, **{key: derivative}).checks
    except ValueError:  # a derivative of the wrong shape is refused, never passed
        return "mismatch"
    verdicts = {c.verdict for c in checks}
    return "mismatch" if "mismatch" in verdicts else "unverifiable" if "unverifiable" in verdicts \
        else "passed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="name every false alarm and miss")
    args = parser.parse_args()
    start = time.perf_counter()
    false_alarms: Counter[tuple[str, str]] = Counter()
    unverifiable: Counter[tuple[str, str]] = Counter()
    correct: Counter[tuple[str, str]] = Counter()
    misses: Counter[tuple[str, str]] = Counter()
    wrong: Counter[tuple[str, str]] = Counter()
    details: list[str] = []
    for dtype in ("float64", "float32"):
        for kind in POINTS:
            for ident in IDENTITIES:
                x = point(ident, kind)
                if dtype == "float32":
                    x = x.astype(np.float32).astype(np.float64)
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    d = np.asarray(ident.derivative(x), dtype=np.float64)
                    correct[dtype, kind] += 1
                    verdict = run_check(ident, x, d, dtype)
                    if verdict == "mismatch":
                        false_alarms[dtype, kind] += 1
                        details.append(f"false alarm: {ident.name}, {kind}, {dtype}")
                    elif verdict == "unverifiable":
                        unverifiable[dtype, kind] += 1
                        details.append(f"unverifiable: {ident.name}, {kind}, {dtype}")
                    for name, mistake in MISTAKES.items():
                        bad = mistake(d, ident, x)
                        if bad is None or bad.shape != d.shape:
                            continue
                        size = float(np.abs(bad - d).max() / np.abs(d).max())
                        if not size > 1e-6:   # transposing a nearly symmetric gradient
                            continue
                        wrong[dtype, name] += 1
                        if run_check(ident, x, bad, dtype) == "passed":
                            misses[dtype, name] += 1
                            details.append(f"miss: {ident.name}, {kind}, {dtype}, {name}: "
                                           f"off by {size:.1e} of max|derivative|")
    print(f"# {time.strftime('%Y-%m-%d')}; {len(IDENTITIES)} identities x {len(POINTS)} points "
          f"x 2 dtypes, default settings; {time.perf_counter() - start:.1f} s")
    print()
    print(f"{'correct derivatives':28s} {'float64':>14s} {'float32':>14s}")
    for kind in POINTS:
        cells = [f"{false_alarms[d, kind]:3d} of {correct[d, kind]:3d}" for d in ("float64", "float32")]
        print(f"false alarms, {kind:15s} {cells[0]:>14s} {cells[1]:>14s}")
    for kind in POINTS:
        cells = [f"{unverifiable[d, kind]:3d} of {correct[d, kind]:3d}" for d in ("float64", "float32")]
        print(f"unverifiable, {kind:15s} {cells[0]:>14s} {cells[1]:>14s}")
    print()
    print(f"{'wrong derivatives':28s} {'float64':>14s} {'float32':>14s}")
    for name in MISTAKES:
        cells = [f"{misses[d, name]:3d} of {wrong[d, name]:3d}" for d in ("float64", "float32")]
        print(f"misses, {name:21s} {cells[0]:>14s} {cells[1]:>14s}")
    print()
    print(f"total: {sum(false_alarms.values())} false alarms and {sum(unverifiable.values())} "
          f"unverifiable of {sum(correct.values())} correct, "
          f"{sum(misses.values())} misses of {sum(wrong.values())} wrong")
    if args.verbose:
        print("\n".join(details))


if __name__ == "__main__":
    main()
