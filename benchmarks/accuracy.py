"""Accuracy against exact Jacobians, and the honesty of fdcheck's error estimate.

For each problem (benchmarks/problems.py) and method, the largest entrywise
error scaled by max(1, |J|). Methods: fdcheck's central stencils of order 2, 4
and 6, Richardson extrapolation and the complex step; SciPy's
approx_derivative with "3-point" and "cs"; the numeric Jacobian inside
torch.autograd.gradcheck (eps = 1e-6); numdifftools.Jacobian (its default
Richardson scheme). Then, for fdcheck's Richardson estimate: the share of
entries whose actual error is within the estimate, and the median of
estimate / actual error over entries with a nonzero error.

    python benchmarks/accuracy.py
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np
from scipy.optimize._numdiff import approx_derivative

import fdcheck

try:  # run as a script from the repository root or from benchmarks/
    from problems import accuracy_problems
except ImportError:  # pragma: no cover
    from benchmarks.problems import accuracy_problems

Method = Callable[[Callable[[np.ndarray], Any], np.ndarray], np.ndarray]


def flat(f: Callable[[np.ndarray], Any], shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda v: np.ravel(f(v.reshape(shape)))


def fd(method: Any) -> Method:
    return lambda f, x: fdcheck.jacobian(f, x, method=method)


def scipy_method(name: str) -> Method:
    return lambda f, x: np.atleast_2d(approx_derivative(flat(f, x.shape), x.ravel(), method=name))


def torch_gradcheck(f: Callable[[np.ndarray], Any], x: np.ndarray) -> np.ndarray:
    import torch
    from torch.autograd.gradcheck import _get_numerical_jacobian

    def tf(t: Any) -> Any:
        return torch.as_tensor(np.asarray(f(t.detach().numpy())))
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    jac = _get_numerical_jacobian(tf, (t,), eps=1e-6)[0][0]   # (n, m)
    return jac.numpy().T


def numdifftools(f: Callable[[np.ndarray], Any], x: np.ndarray) -> np.ndarray:
    import numdifftools as nd
    return np.atleast_2d(nd.Jacobian(flat(f, x.shape))(x.ravel())).reshape(-1, x.size)


METHODS: dict[str, Method] = {
    "fd central2": fd("central"),
    "fd central4": fd({"scheme": "central", "order": 4}),
    "fd central6": fd({"scheme": "central", "order": 6}),
    "fd richardson": fd("richardson"),
    "fd complex": fd("complex-step"),
    "scipy 3-point": scipy_method("3-point"),
    "scipy cs": scipy_method("cs"),
    "torch gradcheck": torch_gradcheck,
    "numdifftools": numdifftools,
}


def scaled_error(jac: np.ndarray, exact: np.ndarray) -> float:
    err = np.abs(np.asarray(jac, dtype=float).reshape(exact.shape) - exact) / np.maximum(1, np.abs(exact))
    return float(np.nanmax(np.where(np.isfinite(err), err, np.inf)))


def main() -> None:
    print(f"# {time.strftime('%Y-%m-%d')}; largest |error| / max(1, |J|) against the exact Jacobian")
    names = list(METHODS)
    print(f"{'problem':22s} " + " ".join(f"{n:>15s}" for n in names))
    covered, total, ratios = 0, 0, []
    for p in accuracy_problems():
        cells = []
        for name in names:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    cells.append(f"{scaled_error(METHODS[name](p.f, p.x.copy()), p.jacobian):15.1e}")
                except Exception as exc:  # a method that cannot run here says so
                    label = "refused" if type(exc).__name__ == "ComplexStepError" else type(exc).__name__
                    cells.append(f"{label[:15]:>15s}")
        print(f"{p.name:22s} " + " ".join(cells), flush=True)
        with np.errstate(all="ignore"):
            res = fdcheck.numeric(p.f, p.x.copy(), method="richardson")
        err = np.abs(res.jacobian - p.jacobian)
        covered += int(np.count_nonzero(err <= res.error))
        total += err.size
        nonzero = err > 0
        ratios.extend((res.error[nonzero] / err[nonzero]).tolist())
    print()
    print(f"fdcheck richardson estimate: {covered}/{total} entries ({100 * covered / total:.1f}%) "
          f"have |error| <= estimate; median estimate / |error| = {np.median(ratios):.1f} "
          f"over {len(ratios)} entries with a nonzero error")


if __name__ == "__main__":
    main()
