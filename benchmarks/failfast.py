"""What a failing check costs beside the same check passing, and beside
torch's gradcheck (slow mode: the whole numeric Jacobian, as fdcheck takes it).

For each function, in one process: the check of a right reference (pass), of
a wrong one as fdcheck runs it by default (failing fast), and with
``refine="all"`` (every failing column derived again); the seconds, the
evaluations, and the seconds the diagnosis took (timed apart). The target of
failing fast: a failing check at most 1.5 times the passing one, plus its
diagnosis. For PyTorch layers, gradcheck's seconds on the same wrong rule.

    python benchmarks/failfast.py [--large]

``--large`` adds a tanh layer of 4000 weights (a Jacobian of 9.6 million
entries, under the 16.7 million above which fdcheck checks along directions).
"""
from __future__ import annotations

import argparse
import time
import warnings
from typing import Any, Callable

import numpy as np

import fdcheck
from fdcheck import runner

warnings.filterwarnings("ignore")
DIAGNOSIS = [0.0]


def _timed_diagnosis() -> None:
    """Count the seconds runner._diagnosis takes, apart from the rest."""
    inner = runner._diagnosis

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            DIAGNOSIS[0] += time.perf_counter() - start
    runner._diagnosis = timed  # type: ignore[assignment]


def run(call: Callable[[], Any], repeat: int = 2) -> tuple[float, int, float, str]:
    """(seconds, evaluations, diagnosis seconds, verdict) of one check, the
    best of ``repeat`` runs (the first also imports and warms up)."""
    best: tuple[float, int, float, str] | None = None
    for _ in range(repeat):
        DIAGNOSIS[0] = 0.0
        start = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - start
        verdicts = {c.verdict for c in result.checks}
        verdict = "pass" if result.passed else "mismatch" if "mismatch" in verdicts else "other"
        if best is None or seconds < best[0]:
            best = (seconds, result.evaluations, DIAGNOSIS[0], verdict)
    assert best is not None
    return best


def numpy_rows() -> list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any],
                               dict[str, Any], Callable[..., Any] | None]]:
    rows: list[Any] = []
    for n in (1000, 3000):
        x = np.linspace(0.1, 2.0, n)
        rows.append((f"x**2, n = {n}", lambda x: x ** 2, (x,), {"jacobian": np.diag(2 * x)},
                     {"jacobian": np.diag(3 * x)}, None))
    rng = np.random.default_rng(0)
    A, W = rng.standard_normal((40, 30)), rng.standard_normal((30, 20))

    def layer_jacobian(W: np.ndarray, factor: float) -> np.ndarray:
        d = 1 - np.tanh(A @ W) ** 2
        return factor * d.reshape(-1)[:, None] * np.kron(A, np.eye(W.shape[1]))
    rows.append(("tanh(A W), 600 weights", lambda W: np.tanh(A @ W), (W,),
                 {"jacobian": lambda W: layer_jacobian(W, 1.0)},
                 {"jacobian": lambda W: layer_jacobian(W, 1.01)}, None))
    return rows


def torch_layer(rows: int, inner: int, cols: int, factor: float) -> tuple[Callable[..., Any],
                                                                          tuple[Any, ...]]:
    """tanh(A W) as an autograd.Function whose dW is ``factor`` times right."""
    import torch

    class Layer(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, A: Any, W: Any) -> Any:
            Z = torch.tanh(A @ W)
            ctx.save_for_backward(A, W, Z)
            return Z

        @staticmethod
        def backward(ctx: Any, G: Any) -> Any:
            A, W, Z = ctx.saved_tensors
            D = G * (1 - Z ** 2)
            return D @ W.T, factor * (A.T @ D)

    g = torch.Generator().manual_seed(0)
    A = torch.randn(rows, inner, dtype=torch.float64, generator=g)
    W = torch.randn(inner, cols, dtype=torch.float64, generator=g, requires_grad=True)
    return (lambda A, W: Layer.apply(A, W)), (A, W)


def gradcheck_seconds(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[float, str]:
    import torch
    start = time.perf_counter()
    try:
        ok = torch.autograd.gradcheck(fn, args, check_undefined_grad=False,
                                      check_batched_grad=False)
    except Exception:  # gradcheck raises on a mismatch
        ok = False
    return time.perf_counter() - start, "pass" if ok else "mismatch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add a layer of 4000 weights")
    options = parser.parse_args()
    _timed_diagnosis()
    print(f"# {time.strftime('%Y-%m-%d')}; seconds (evaluations); diag: the diagnosis's seconds; "
          "ratio: (fail - diag) / pass")
    print(f"{'function':28s} {'pass':>16s} {'fail fast':>16s} {'diag':>7s} {'ratio':>6s} "
          f"{'refine=all':>18s} {'gradcheck':>10s}")
    table: list[Any] = numpy_rows()
    sizes = [(16, 24, 12), (48, 80, 50)] if options.large else [(16, 24, 12)]
    for rows, inner, cols in sizes:
        right, args = torch_layer(rows, inner, cols, 1.0)
        wrong, _ = torch_layer(rows, inner, cols, 1.01)
        table.append((f"torch tanh(A W), {inner * cols} weights", None, args, right, wrong, True))
    for label, fn, args, right, wrong, framework in table:
        if framework:
            good = run(lambda: fdcheck.check(right, *args))
            bad = run(lambda: fdcheck.check(wrong, *args))
            full = run(lambda: fdcheck.check(wrong, *args, refine="all"), 1)
            gc = f"{gradcheck_seconds(wrong, args)[0]:9.2f}s"
        else:
            good = run(lambda: fdcheck.check(fn, *args, **right))
            bad = run(lambda: fdcheck.check(fn, *args, **wrong))
            full = run(lambda: fdcheck.check(fn, *args, refine="all", **wrong), 1)
            gc = f"{'-':>10s}"
        assert good[3] == "pass" and bad[3] == full[3] == "mismatch", (label, good, bad, full)
        ratio = (bad[0] - bad[2]) / good[0]
        print(f"{label:28s} {good[0]:7.2f}s ({good[1]:6d}) {bad[0]:7.2f}s ({bad[1]:6d}) "
              f"{bad[2]:6.2f}s {ratio:6.2f} {full[0]:8.2f}s ({full[1]:7d}) {gc}", flush=True)


if __name__ == "__main__":
    main()
