"""fdcheck beside the frameworks' own checkers, on the same functions, in one run.

For each function (a custom linear layer, a LayerNorm, X^T A X in PyTorch; a
softplus with a custom_vjp or custom_jvp in JAX), in a correct version and with
the mistakes people make (a factor on one gradient, a transposed gradient, a
backward that is not differentiable, a wrong jvp), each tool's verdict and its
seconds (best of 3, warm: the first call, which compiles and imports, is not
timed):

  fdcheck            fdcheck.check, first derivatives, reverse mode
  fdcheck d2+fwd     derivatives=2, modes=(reverse, forward)
  fdcheck dir=1      directions=1: products only (one VJP), for large inputs
  gradcheck          torch.autograd.gradcheck
  gradgradcheck      torch.autograd.gradgradcheck
  gc fast            gradcheck(fast_mode=True)
  gc fwd             gradcheck(check_forward_ad=True)
  check_grads 1/2    jax.test_util.check_grads(order=1 or 2, modes=["fwd", "rev"])

A verdict is "pass" or "FAIL" (an exception counts as FAIL, as it would stop a
test). A dash: the tool does not apply.

    python benchmarks/frameworks.py
"""
from __future__ import annotations

import platform
import time
import warnings
from typing import Any, Callable

import numpy as np

import fdcheck

warnings.filterwarnings("ignore")


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, str]:
    """(best seconds, verdict) of fn, which returns True/False or raises."""
    def verdict() -> str:
        try:
            ok = fn()
        except Exception:  # a checker that raises has failed the check
            return "FAIL"
        return "pass" if ok is not False else "FAIL"
    first = verdict()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        verdict()
        best = min(best, time.perf_counter() - start)
    return best, first


def table(title: str, tools: dict[str, Callable[..., Any]],
          rows: list[tuple[str, tuple[Any, ...]]]) -> None:
    """A row per case: each tool's verdict and seconds on ``tool(*args)``."""
    print(title)
    print(f"{'case':28s}" + "".join(f"{t:>18s}" for t in tools))
    for label, args in rows:
        cells = []
        for tool in tools.values():
            seconds, verdict = timed(lambda: tool(*args))
            cells.append(f"{verdict} {seconds:8.4f}s")
        print(f"{label:28s}" + "".join(f"{c:>18s}" for c in cells), flush=True)


def torch_cases() -> list[tuple[str, Callable[..., Any], tuple[Any, ...]]]:
    import torch

    def linear(dw_factor: float = 1.0, transpose: bool = False, detach: bool = False,
               jvp_factor: float = 1.0) -> Callable[..., Any]:
        class Linear(torch.autograd.Function):
            @staticmethod
            def forward(A, W, B):
                return torch.tanh(A @ W + B)

            @staticmethod
            def setup_context(ctx, inputs, output):
                A, W, _ = inputs
                ctx.save_for_backward(A, W, output)
                ctx.primal = inputs

            @staticmethod
            def backward(ctx, G):
                A, W, Z = ctx.saved_tensors
                if detach:
                    Z = Z.detach()
                D = G * (1 - Z ** 2)
                dW = A.T @ D * dw_factor
                if transpose:
                    dW = (D.T @ A).T.flip(0)
                return D @ W.T, dW, D.sum(0)

            @staticmethod
            def jvp(ctx, tA, tW, tB):
                A, W, B = ctx.primal
                Z = torch.tanh(A @ W + B)
                return (1 - Z ** 2) * (tA @ W + jvp_factor * (A @ tW) + tB)

        return Linear.apply

    g = torch.Generator().manual_seed(0)
    A = torch.randn(8, 16, dtype=torch.float64, generator=g, requires_grad=True)
    W = torch.randn(16, 4, dtype=torch.float64, generator=g, requires_grad=True)
    B = torch.randn(4, dtype=torch.float64, generator=g, requires_grad=True)
    X = torch.randn(32, 64, dtype=torch.float64, generator=g, requires_grad=True)
    weight = torch.randn(64, dtype=torch.float64, generator=g)
    Xq = torch.randn(40, 30, dtype=torch.float64, generator=g, requires_grad=True)
    Aq = torch.randn(40, 40, dtype=torch.float64, generator=g)
    layer_norm = lambda x: torch.nn.functional.layer_norm(x, (64,), weight)  # noqa: E731
    return [
        ("linear, correct", linear(), (A, W, B)),
        ("linear, dW x 0.5", linear(dw_factor=0.5), (A, W, B)),
        ("linear, dW transposed", linear(transpose=True), (A, W, B)),
        ("linear, backward detached", linear(detach=True), (A, W, B)),
        ("linear, wrong jvp", linear(jvp_factor=2.0), (A, W, B)),
        ("LayerNorm 32x64", layer_norm, (X,)),
        ("X^T A X 40x30", lambda x: x.T @ Aq @ x, (Xq,)),
    ]


def torch_rows() -> None:
    import torch
    from torch.autograd import gradcheck, gradgradcheck
    tools: dict[str, Callable[[Any, tuple[Any, ...]], Any]] = {
        "fdcheck": lambda f, x: fdcheck.check(f, *x).passed,
        "fdcheck d2+fwd": lambda f, x: fdcheck.check(f, *x, derivatives=2,
                                                     modes=("reverse", "forward")).passed,
        "fdcheck dir=1": lambda f, x: fdcheck.check(f, *x, directions=1).passed,
        "gradcheck": lambda f, x: gradcheck(f, x),
        "gradgradcheck": lambda f, x: gradgradcheck(f, x),
        "gc fast": lambda f, x: gradcheck(f, x, fast_mode=True),
        "gc fwd": lambda f, x: gradcheck(f, x, check_forward_ad=True),
    }
    table(f"torch {torch.__version__}", tools, [(label, (f, x)) for label, f, x in torch_cases()])


def jax_rows() -> None:
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads
    jax.config.update("jax_enable_x64", True)

    def softplus_vjp(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
        @jax.custom_vjp
        def sp(x: Any) -> Any:
            return jnp.logaddexp(x, 0.0)
        sp.defvjp(lambda x: (sp(x), x), lambda x, g: (g * rule(x),))
        return sp

    def softplus_jvp(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
        @jax.custom_jvp
        def sp(x: Any) -> Any:
            return jnp.logaddexp(x, 0.0)

        @sp.defjvp
        def _(primals: Any, tangents: Any) -> Any:
            return sp(primals[0]), rule(primals[0]) * tangents[0]
        return sp

    rng = np.random.default_rng(0)
    A = jnp.asarray(rng.standard_normal((8, 12)))
    W = jnp.asarray(rng.standard_normal((12, 8)))
    sigmoid = jax.nn.sigmoid
    both, rev = ("reverse", "forward"), ("reverse",)
    # A custom_vjp has no forward mode: it is checked in reverse mode by every tool.
    cases = [
        ("tanh(A W) sum, 96+96 inputs", lambda A, W: jnp.sum(jnp.tanh(A @ W)), both),
        ("softplus vjp, correct", lambda A, W: jnp.sum(softplus_vjp(sigmoid)(A @ W)), rev),
        ("softplus vjp, factor 2",
         lambda A, W: jnp.sum(softplus_vjp(lambda x: 2 * sigmoid(x))(A @ W)), rev),
        ("softplus vjp, stop_gradient",
         lambda A, W: jnp.sum(softplus_vjp(lambda x: jax.lax.stop_gradient(sigmoid(x)))(A @ W)),
         rev),
        ("softplus jvp, correct", lambda A, W: jnp.sum(softplus_jvp(sigmoid)(A @ W)), both),
        ("softplus jvp, sign", lambda A, W: jnp.sum(softplus_jvp(lambda x: -sigmoid(x))(A @ W)),
         both),
    ]
    short = {"reverse": "rev", "forward": "fwd"}
    tools: dict[str, Callable[[Any, Any], Any]] = {
        "fdcheck": lambda f, modes: fdcheck.check(f, A, W).passed,
        "fdcheck d2+modes": lambda f, modes: fdcheck.check(f, A, W, derivatives=2,
                                                           modes=modes).passed,
        "check_grads 1": lambda f, modes: check_grads(f, (A, W), order=1,
                                                      modes=[short[m] for m in modes]),
        "check_grads 2": lambda f, modes: check_grads(f, (A, W), order=2,
                                                      modes=[short[m] for m in modes]),
    }
    table(f"\njax {jax.__version__}; modes: reverse and forward, reverse only for a custom_vjp",
          tools, [(label, (f, modes)) for label, f, modes in cases])


def main() -> None:
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, {platform.python_version()}, "
          f"numpy {np.__version__}; best of 3 warm runs; verdict and seconds per tool")
    torch_rows()
    jax_rows()


if __name__ == "__main__":
    main()
