"""Speed against the anchors, in one process: seconds and ratios to the floor.

The floor is 2n plain evaluations of the function (a central difference on a
black box cannot do fewer). Each row times, on the same function and size:
fdcheck's plain (one point per call) and vectorized modes, SciPy's
approx_derivative(method="3-point"), and the numeric Jacobian that
torch.autograd.gradcheck builds. "batch" is the function's own cost on the
same 2n points stacked along a leading axis, in the vectorized mode's chunks:
the floor of any vectorized evaluation. "write" is the cost of writing a fresh
dense (m, n) result once, which every tool here pays and the floor does not;
"p/(f+w)" is plain / (floor + write). "speed-up" is plain / vector; "bound"
is plain / batch, the most any vectorized evaluation of this function could
gain over the plain mode on this machine; "v/b" is vector / batch. "us/call"
is one plain call of the function, which decides the plain mode's target:
at most 1.10 of the floor from 20 us a call, 1.35 below; "target" says
whether the row meets it, whether plain beats SciPy and torch, and whether
the vectorized mode is within 1.15 of the batched calls. Each
figure is the best of several repeats, each repeat long enough (>= 20 ms) to
time, with memory warm; the measurements of one row are interleaved. Then a second table:
evaluations and seconds where structure allows fewer than 2n (a sparsity
pattern given or detected; the directional check).

    python benchmarks/speed.py [--sizes 64,256,1024,4096,16384] [--repeat 3]
"""
from __future__ import annotations

import argparse
import platform
import time
from typing import Any, Callable

import numpy as np
from scipy.optimize._numdiff import approx_derivative

import fdcheck
from fdcheck.backends import get
from fdcheck.evaluate import Vectorized
from fdcheck.expr import Expression


def simd_level() -> str:
    """The widest SIMD level NumPy dispatches to here. Element-wise functions
    such as tanh are chosen by it, so it moves the floor from one machine to
    another (and with it every ratio to the batched calls)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        return "unknown"
    found = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    return found[-1] if found else "baseline"


def once(fn: Callable[[], Any], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def best_of(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Seconds per call of each, best of ``repeat`` rounds; the rounds
    interleave the functions, so that a slow moment of the machine hits all."""
    numbers = {}
    for name, fn in fns.items():
        fn()  # warm-up: imports, caches, first-touch of memory
        numbers[name] = max(1, int(0.02 / max(once(fn, 1), 1e-7)))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if numbers[name] == 1:
                # One untimed call first: on a virtual machine that hands freed
                # memory back to its host, the first touch of a large result
                # after a pause costs ~2 ms/MB and would land on whichever
                # tool happens to run after the slowest one.
                fn()
            times[name].append(once(fn, numbers[name]))
    return {name: min(t) for name, t in times.items()}


def floor(f: Callable[[np.ndarray], Any], x: np.ndarray) -> None:
    flat = x.reshape(-1)
    view = flat.reshape(x.shape)
    h = 1e-6
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v + h
        f(view)
        flat[i] = v - h
        f(view)
        flat[i] = v


def write(m: int, n: int) -> None:
    """A fresh dense (m, n) float64 Jacobian written once: what any tool that
    returns one pays beyond the floor's calls (mostly first-touch page faults)."""
    np.empty((n, m)).fill(1.0)


def batch(f: Callable[[np.ndarray], Any], x: np.ndarray) -> None:
    n = x.size
    chunk = Vectorized().call_points(n, np.size(f(x)))
    for a in range(0, 2 * n, chunk):
        f(np.repeat(x[None], min(chunk, 2 * n - a), axis=0))


def torch_numeric(f_torch: Callable[..., Any], x: np.ndarray) -> None:
    import torch
    from torch.autograd.gradcheck import _get_numerical_jacobian
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    _get_numerical_jacobian(f_torch, (t,), eps=1e-6)


def problems(n: int) -> list[tuple[str, Callable[..., Any], Callable[..., Any], np.ndarray]]:
    """(label, numpy f(x) accepting a leading batch axis, torch f, x) with x.size == n."""
    import torch
    rng = np.random.default_rng(0)
    out = []
    cols = max(1, n // 32)
    A = rng.standard_normal((4, 32)) / 6
    At = torch.tensor(A)
    out.append(("tanh(A @ W)", lambda W: np.tanh(A @ W), lambda W: torch.tanh(At @ W),
                rng.standard_normal((32, cols))))
    side = int(round(np.sqrt(n)))
    if side * side == n and n <= 4096:
        X = rng.standard_normal((side, side)) + side * np.eye(side)
        out.append(("inv(X)", np.linalg.inv, torch.linalg.inv, X))
    expr = Expression("sum(tanh(A @ X))", {"A", "X"})  # from cases/identities.yaml
    ops = get("numpy").ops
    Ae = rng.standard_normal((8, 32))

    def case_fn(X: np.ndarray) -> Any:
        batch = X.shape[0] if X.ndim == 3 else None
        Ab = np.broadcast_to(Ae, (batch,) + Ae.shape) if batch else Ae
        return expr({"A": Ab, "X": X}, ops, batch=batch)
    out.append(("case: sum(tanh(A @ X))", case_fn,
                lambda X: torch.tanh(torch.tensor(Ae) @ X).sum(), rng.standard_normal((32, cols))))
    return out


def verdict(r: dict[str, float], per_call: float) -> str:
    """Which of the targets the row meets: plain within 1.10 of the floor (from
    20 us a call) or 1.35 (below), faster than SciPy and torch, vectorized within
    1.15 of the batched calls. "ok" or the names of the ones missed."""
    missed = []
    if r["plain"] > (1.10 if per_call >= 20 else 1.35):
        missed.append("plain")
    if r["plain"] >= min(r["scipy"], r["torch"]):
        missed.append("anchors")
    if r["vector"] > 1.15 * r["batch"]:
        missed.append("vector")
    return "ok" if not missed else "MISS " + ",".join(missed)


def tridiagonal(x: np.ndarray) -> np.ndarray:
    y = 2 * x ** 3
    y[1:] -= np.sin(x[:-1])
    y[:-1] += x[1:] ** 2
    return y


def structure() -> None:
    """Evaluations and seconds where the problem allows fewer than 2n."""
    print()
    print(f"{'structure':34s} {'n':>8s} {'evaluations':>12s} {'seconds':>9s}   (plain: 2n evaluations)")
    rng = np.random.default_rng(0)

    def row(label: str, n: int, run: Callable[[], Any]) -> None:
        last = {}

        def timed() -> None:  # keeps the result, for its evaluations: no untimed extra run
            last["result"] = run()
        seconds = best_of({label: timed}, 2)[label]
        print(f"{label:34s} {n:8d} {last['result'].evaluations:12d} {seconds:9.3f}", flush=True)

    for n in (1_000, 4_000):
        x = rng.standard_normal(n)
        for label, spec in (("tridiagonal, band given", {"band": [1, 1]}),
                            ("tridiagonal, pattern detected", "detect")):
            row(label, n, lambda: fdcheck.numeric(tridiagonal, x, sparsity=spec))
    A = rng.standard_normal((4, 32)) / 6
    W = rng.standard_normal((32, 64))
    row("tanh(A @ W), pattern detected", W.size,
        lambda: fdcheck.numeric(lambda W: np.tanh(A @ W), W, sparsity="detect"))
    for n in (10_000, 1_000_000):
        x = rng.standard_normal(n)
        gradient = 2 * x * np.sin(x) + x ** 2 * np.cos(x)

        def directional() -> Any:
            res = fdcheck.check(lambda x: np.sum(x ** 2 * np.sin(x)), x, gradient=gradient,
                                directions=3)
            assert res.passed
            return res
        row("directional check, 3 directions", n, directional)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024,4096,16384")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, {platform.python_version()}, "
          f"numpy {np.__version__}, SIMD {simd_level()}")
    head = (f"{'function':24s} {'n':>6s} {'floor s':>9s} {'plain':>7s} {'write':>7s} {'p/(f+w)':>8s} "
            f"{'vector':>7s} {'batch':>7s} {'scipy':>7s} {'torch':>7s} {'speed-up':>9s} {'bound':>6s}"
            f" {'v/b':>5s} {'us/call':>8s}  target   (ratios to the floor but p/(f+w), v/b)")
    print(head)
    for n in sizes:
        for label, f, f_torch, x in problems(n):
            work = x.copy()
            m = np.size(f(x))
            t = best_of({
                "floor": lambda: floor(f, work),
                "plain": lambda: fdcheck.numeric(f, x),
                "write": lambda: write(m, n),
                "vector": lambda: fdcheck.numeric(f, x, vectorized=True),
                "batch": lambda: batch(f, x),
                "scipy": lambda: approx_derivative(lambda v: np.ravel(f(v.reshape(x.shape))),
                                                   x.reshape(-1), method="3-point"),
                "torch": lambda: torch_numeric(f_torch, x),
            }, args.repeat if n <= 4096 else 4)
            r = {k: v / t["floor"] for k, v in t.items()}
            per_call = t["floor"] / (2 * n) * 1e6
            print(f"{label:24s} {n:6d} {t['floor']:9.4f} {r['plain']:7.2f} {r['write']:7.2f} "
                  f"{t['plain'] / (t['floor'] + t['write']):8.2f} {r['vector']:7.2f} "
                  f"{r['batch']:7.2f} {r['scipy']:7.2f} {r['torch']:7.2f} "
                  f"{t['plain'] / t['vector']:8.1f}x {t['plain'] / t['batch']:5.1f}x "
                  f"{t['vector'] / t['batch']:5.2f} {per_call:8.1f}  {verdict(r, per_call)}",
                  flush=True)
    structure()


if __name__ == "__main__":
    main()
