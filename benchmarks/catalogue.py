"""The catalogue of matrix functions (cases/matrix_functions.yaml): for each
function, whether the numeric Jacobian agrees with the derivative from the
literature and with PyTorch's and JAX's autograd, at what resolution, and what
it cost.

    python benchmarks/catalogue.py

A column reads ``ok 3e-09`` (agrees; the largest difference between the
numeric Jacobian and that reference, relative to the reference's largest
entry), ``FAIL``, or ``-`` where the
framework has no differentiable routine (the case says why); the resolution
column is the smallest mistake any of the case's checks could have caught,
relative to the reference's largest entry.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

import fdcheck

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases" / "matrix_functions.yaml"


def _cell(checks: list) -> str:
    if not checks:
        return "-"
    worst = max(c.max_abs_error / max(float(np.abs(c.matrices.reference).max()), 1e-300)
                for c in checks)
    verdict = "ok" if all(c.passed for c in checks) else "FAIL"
    return f"{verdict} {worst:.0e}"


def main() -> None:
    start = time.perf_counter()
    results = fdcheck.run(str(CASES), allow_python=True)
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, numpy {np.__version__}; "
          f"{len(results)} functions in {time.perf_counter() - start:.1f} s")
    print(f"{'function':34} {'literature':>11} {'torch':>11} {'jax':>11} {'resolution':>10} "
          f"{'evals':>6} {'seconds':>8}")
    for r in results:
        name = r.name.split(" (")[0].replace(", within their sign gauge", "")[:34]
        if r.exception is not None:
            print(f"{name:34} ERROR {r.exception}")
            continue
        by = {k: [c for c in r.checks if c.against == k] for k in ("analytic", "torch", "jax")}
        resolution = max(c.resolution for c in r.checks)
        print(f"{name:34} {_cell(by['analytic']):>11} {_cell(by['torch']):>11} "
              f"{_cell(by['jax']):>11} {resolution:>10.1e} {r.evaluations:>6} {r.seconds:>8.3f}")


if __name__ == "__main__":
    main()
