"""Diagnoses at the default settings: how often the first diagnosis of a failing
check names the mistake that was made, and how often an unstructured mistake
is given a structured explanation.

The identities and points of benchmarks/problems.py (as verdicts.py uses them),
float64, with each kind of mistake applied to the exact derivative:

  sign        its negative                                      -> sign
  factor 2    twice it; factor 1/2: half of it                  -> scale
  transpose   the input's axes transposed (square matrix inputs) -> transpose
  order       read in column-major order (matrix input or output) -> order
  rows        one output's row times 3 (vector outputs)          -> rows
  columns     one input element's column times 3                 -> columns
  one entry   one entry off by 1% of the largest                 -> entries
  noise       every entry off by a random 1% of the largest      -> no structured kind

A mutation that leaves the derivative unchanged beyond 1e-6 of its largest
entry (a symmetric gradient transposed) is not counted, nor a row or column
with one nonzero entry (one entry, then). A first diagnosis of another kind
counts as right where that kind's reading of the exact derivative is the very
mistake made: a square matrix's gradient read in column-major order is its
transpose, and "transpose" names it as well as "order".

    python benchmarks/diagnosis.py [--verbose]
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Callable

import numpy as np

import fdcheck
from fdcheck.diagnose import STRUCTURED

try:
    from problems import IDENTITIES, POINTS, Identity, point
except ImportError:  # pragma: no cover
    from benchmarks.problems import IDENTITIES, POINTS, Identity, point

Mutation = Callable[[np.ndarray, Identity, np.ndarray], "np.ndarray | None"]


def _matrix(d: np.ndarray, ident: Identity) -> np.ndarray:
    return d.reshape(1, -1) if ident.scalar else d


def _back(m: np.ndarray, d: np.ndarray, ident: Identity) -> np.ndarray:
    return m.reshape(d.shape) if ident.scalar else m


def _read_as_transposed(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray | None:
    """The derivative read as if it were with respect to X^T (any matrix X)."""
    if x.ndim != 2:
        return None
    m = _matrix(d, ident)
    idx = np.arange(x.size).reshape(x.shape)
    return _back(m[:, idx.T.reshape(-1)], d, ident)


def _transpose(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray | None:
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        return None
    return _read_as_transposed(d, ident, x)


def _order(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray | None:
    m = _matrix(d, ident)
    out_shape = np.shape(ident.f(x))
    rows = np.arange(m.shape[0]).reshape(out_shape or (1,)).reshape(-1, order="F") \
        if len(out_shape) > 1 else np.arange(m.shape[0])
    cols = np.arange(x.size).reshape(x.shape).reshape(-1, order="F") if x.ndim > 1 \
        else np.arange(x.size)
    if len(out_shape) < 2 and x.ndim < 2:
        return None
    return _back(m[np.ix_(rows, cols)], d, ident)


def _rows(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray | None:
    m = _matrix(d, ident)
    row = int(np.argmax(np.abs(m).max(axis=1)))
    if m.shape[0] < 2 or np.count_nonzero(m[row]) < 2:   # one entry is no row
        return None
    out = m.copy()
    out[row] *= 3
    return _back(out, d, ident)


def _columns(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray | None:
    m = _matrix(d, ident)
    col = int(np.argmax(np.abs(m).max(axis=0)))
    if m.shape[1] < 2 or np.count_nonzero(m[:, col]) < 2:
        return None
    out = m.copy()
    out[:, col] *= 3
    return _back(out, d, ident)


def _one_entry(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray:
    out = d.copy()
    k = np.random.default_rng(len(ident.name)).integers(out.size)
    out.flat[k] += 0.01 * max(np.abs(d).max(), 1e-300)
    return out


def _noise(d: np.ndarray, ident: Identity, x: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(len(ident.name) + 7)
    return d + 0.01 * np.abs(d).max() * rng.standard_normal(d.shape)


# A first diagnosis of another kind is right too where that kind's reading of
# the exact derivative is the same matrix as the mistake (a square gradient
# read in column-major order is its transpose).
EQUIVALENT: dict[str, Mutation] = {"transpose": _read_as_transposed, "order": _order}

MUTATIONS: dict[str, tuple[Mutation, str | None]] = {
    "sign": (lambda d, i, x: -d, "sign"),
    "factor 2": (lambda d, i, x: 2 * d, "scale"),
    "factor 1/2": (lambda d, i, x: d / 2, "scale"),
    "transpose": (_transpose, "transpose"),
    "order": (_order, "order"),
    "rows": (_rows, "rows"),
    "columns": (_columns, "columns"),
    "one entry": (_one_entry, "entries"),
    "noise": (_noise, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every wrong first diagnosis")
    args = parser.parse_args()
    start = time.perf_counter()
    named, counted, missed = Counter(), Counter(), Counter()
    structured_to_noise = 0
    noise_checks = 0
    for ident in IDENTITIES:
        for kind in POINTS:
            x = point(ident, kind)
            exact = ident.derivative(x)
            for label, (mutate, expected) in MUTATIONS.items():
                wrong = mutate(exact, ident, x)
                if wrong is None or np.abs(wrong - exact).max() <= 1e-6 * np.abs(exact).max():
                    continue
                key = "gradient" if ident.scalar else "jacobian"
                result = fdcheck.check(ident.f, x, **{key: wrong})
                (check,) = result.checks
                if check.passed:
                    missed[label] += 1
                    continue
                first = check.diagnosis[0].kind if check.diagnosis else None
                if expected is None:
                    noise_checks += 1
                    if {d.kind for d in check.diagnosis} & set(STRUCTURED):
                        structured_to_noise += 1
                        if args.verbose:
                            print(f"  structured for noise: {ident.name} at {kind}: {first}")
                    continue
                counted[label] += 1
                same = EQUIVALENT.get(first or "", lambda d, i, x: None)(exact, ident, x)
                if first == expected or same is not None and np.allclose(same, wrong):
                    named[label] += 1
                elif args.verbose:
                    print(f"  {label}: {ident.name} at {kind}: first diagnosis {first}")
    print(f"# {time.strftime('%Y-%m-%d')}; {len(IDENTITIES)} identities x {len(POINTS)} points, "
          f"float64, default settings; {time.perf_counter() - start:.1f} s")
    print(f"{'mistake':14s} {'first diagnosis right':>24s} {'not caught':>11s}")
    for label in MUTATIONS:
        if MUTATIONS[label][1] is None:
            continue
        n = counted[label]
        print(f"{label:14s} {named[label]:>12d} of {n:4d} ({100 * named[label] / max(n, 1):5.1f}%)"
              f" {missed[label]:>8d}")
    total, right = sum(counted.values()), sum(named.values())
    print(f"{'all':14s} {right:>12d} of {total:4d} ({100 * right / max(total, 1):5.1f}%)")
    print(f"unstructured mistakes given a structured kind: {structured_to_noise} of {noise_checks} "
          f"({100 * structured_to_noise / max(noise_checks, 1):.1f}%); not caught: {missed['noise']}")


if __name__ == "__main__":
    main()
