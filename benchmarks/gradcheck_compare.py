"""fdcheck against torch.autograd.gradcheck on the same custom Function, in one run.

Prints, for a correct backward and for three wrong ones, what each tool says
and how long it takes.  python benchmarks/gradcheck_compare.py
"""
from __future__ import annotations

import time

import torch

import fdcheck

torch.manual_seed(0)
A = torch.randn(8, 16, dtype=torch.float64, requires_grad=True)
W = torch.randn(16, 4, dtype=torch.float64, requires_grad=True)
B = torch.randn(4, dtype=torch.float64, requires_grad=True)


def make(backward):
    class Linear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, w, b):
            ctx.save_for_backward(a, w)
            return a @ w + b

        @staticmethod
        def backward(ctx, g):
            a, w = ctx.saved_tensors
            return backward(a, w, g)
    return Linear.apply


def off_entry(a, w, g):
    gw = a.T @ g
    gw[3, 1] += 1e-3
    return g @ w.T, gw, g.sum(0)


BACKWARDS = {
    "correct": lambda a, w, g: (g @ w.T, a.T @ g, g.sum(0)),
    "missing factor 2 on dW": lambda a, w, g: (g @ w.T, 0.5 * (a.T @ g), g.sum(0)),
    "dB not summed over rows": lambda a, w, g: (g @ w.T, a.T @ g, g[0]),
    "one entry of dW off by 1e-3": off_entry,
}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def gradcheck_message(f):
    try:
        ok = torch.autograd.gradcheck(f, (A, W, B), raise_exception=True)
        return "passed" if ok else "failed"
    except Exception as exc:  # gradcheck raises GradcheckError (a RuntimeError)
        return " ".join(str(exc).split())[:160] + " ..."


def main() -> None:
    from fdcheck.report import check_summary

    print(f"torch {torch.__version__}; A {tuple(A.shape)}, W {tuple(W.shape)}, B {tuple(B.shape)}")
    warm = make(BACKWARDS["correct"])  # imports and first-call costs, for neither tool's account
    fdcheck.check(warm, A, W, B)
    gradcheck_message(warm)
    for label, backward in BACKWARDS.items():
        f = make(backward)
        fd, t_fd = timed(lambda: fdcheck.check(f, A, W, B, output="Z", names=["A", "W", "B"]))
        gc, t_gc = timed(lambda: gradcheck_message(f))
        print(f"\n== {label}")
        print(f"fdcheck   {t_fd * 1e3:7.1f} ms  {'passed' if fd.passed else 'FAILED'}")
        for c in fd.checks:
            print("            " + check_summary(c))
        print(f"gradcheck {t_gc * 1e3:7.1f} ms  {gc}")


if __name__ == "__main__":
    main()
