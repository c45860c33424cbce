"""The mistakes people make in matrix calculus and custom layers, written by hand
as users write them, each labelled with the diagnosis it should get.

Every entry is a function, its inputs and a reference (a gradient, a
Jacobian, a jvp or a Hessian; a torch ``autograd.Function`` or a JAX
``custom_vjp``) with one mistake in it. fdcheck checks it; the benchmark
reports, over the entries:

  right     the first diagnosis is of the labelled kind
  named     the diagnosis is not empty (a kind, or where and how much)
  noise     on references that are the right one plus unstructured noise,
            how often a structured kind is claimed (it should not be)

A mistake labelled ``where`` has no structured kind: its diagnosis is right
when it says where and how much (a kind outside the structured ones); so is
a noise entry's.

and the table by kind. The entries were written before looking at what
fdcheck detects; a kind fdcheck has no explanation for counts as missed.

  python benchmarks/mistakes.py [--verbose]
"""
from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import fdcheck

RNG = np.random.default_rng(7)
NOISE = "noise"           # the right reference plus random noise: no structured kind fits
FALLBACK = "where"        # a mistake no structured kind describes: where and how much


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def spd(n: int) -> np.ndarray:
    a = rand(n, n)
    return a @ a.T + n * np.eye(n)


@dataclass
class Mistake:
    name: str
    kind: str
    framework: str
    make: Callable[[], tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


MISTAKES: list[Mistake] = []


def mistake(name: str, kind: str, framework: str = "numpy") -> Callable[[Any], Any]:
    def register(make: Callable[[], Any]) -> Any:
        MISTAKES.append(Mistake(name, kind, framework, make))
        return make
    return register


# -- NumPy: gradients, Jacobians, jvps and Hessians written by hand -------------------

X4, W4, G4 = rand(4, 4), rand(4, 4), rand(4, 4)
A3, B3 = rand(3, 3), rand(3, 3)


@mistake("linear layer dL/dX = G @ W (W.T belongs)", "factor-transposed")
def _() -> Any:
    return (lambda X, W: np.sum(G4 * (X @ W)), (X4, W4),
            dict(wrt="X", gradient=lambda X, W: G4 @ W))


@mistake("linear layer dL/dW = X @ G (X.T belongs)", "factor-transposed")
def _() -> Any:
    return (lambda X, W: np.sum(G4 * (X @ W)), (X4, W4),
            dict(wrt="W", gradient=lambda X, W: X @ G4))


@mistake("attention scores S = Q K^T, dL/dQ = G K^T (G K belongs)", "factor-transposed")
def _() -> Any:
    Q, K = rand(4, 4), rand(4, 4)
    return (lambda Q, K: np.sum(G4 * (Q @ K.T)), (Q, K),
            dict(wrt="Q", gradient=lambda Q, K: G4 @ K.T))


@mistake("attention scores S = Q K^T, dL/dK = G Q (G^T Q belongs)", "factor-transposed")
def _() -> Any:
    Q, K = rand(4, 4), rand(4, 4)
    return (lambda Q, K: np.sum(G4 * (Q @ K.T)), (Q, K),
            dict(wrt="K", gradient=lambda Q, K: G4 @ Q))


@mistake("Z = A X B, dZ/dX Jacobian A (x) B (B^T belongs, row-major)", "factor-transposed")
def _() -> Any:
    return (lambda X: A3 @ X @ B3, (rand(3, 3),), dict(jacobian=np.kron(A3, B3)))


@mistake("d inv(X) = -X^-1 dX^T X^-1", "factor-transposed")
def _() -> Any:
    X = spd(3) + rand(3, 3)

    def jac(X: np.ndarray) -> np.ndarray:
        Xi = np.linalg.inv(X)
        return -np.kron(Xi, Xi.T) @ _commutation(3)
    return (np.linalg.inv, (X,), dict(jacobian=jac))


def _commutation(n: int) -> np.ndarray:
    """K with K vec(X) = vec(X^T), row-major."""
    k = np.zeros((n * n, n * n))
    for i in range(n):
        for j in range(n):
            k[i * n + j, j * n + i] = 1
    return k


@mistake("matrix square X X, jvp 2 X dX (X dX + dX X belongs)", "product-term")
def _() -> Any:
    X = rand(3, 3)
    return (lambda X: X @ X, (X,), dict(jacobian=lambda X: 2 * np.kron(X, np.eye(3))))


@mistake("Gram X^T X, Jacobian 2 X^T dX (dX^T X + X^T dX belongs)", "product-term")
def _() -> Any:
    X = rand(3, 3)
    return (lambda X: X.T @ X, (X,), dict(jacobian=lambda X: 2 * np.kron(X.T, np.eye(3))))


@mistake("X X^T, Jacobian only dX X^T (X dX^T missing)", "product-term")
def _() -> Any:
    X = rand(3, 3)
    return (lambda X: X @ X.T, (X,), dict(jacobian=lambda X: np.kron(np.eye(3), X)))


@mistake("quadratic form x^T A x, gradient 2 A x (A + A^T belongs)", "product-term")
def _() -> Any:
    return (lambda x: x @ A3 @ x, (rand(3),), dict(gradient=lambda x: 2 * A3 @ x))


@mistake("d inv(X) as -X^-1 X^-1 dX (the factors commuted)", "product-term")
def _() -> Any:
    X = spd(3) + rand(3, 3)

    def jac(X: np.ndarray) -> np.ndarray:
        Xi = np.linalg.inv(X)
        return -np.kron(Xi @ Xi, np.eye(3))
    return (np.linalg.inv, (X,), dict(jacobian=jac))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@mistake("softmax Jacobian diag(s) + s s^T (a sign in one term)", "low-rank")
def _() -> Any:
    def jac(x: np.ndarray) -> np.ndarray:
        s = softmax(x)
        return np.diag(s) + np.outer(s, s)
    return (softmax, (rand(5),), dict(jacobian=jac))


@mistake("row softmax of a matrix, the s s^T term dropped", "low-rank")
def _() -> Any:
    def jac(x: np.ndarray) -> np.ndarray:
        s = softmax(x)
        return np.kron(np.eye(3), np.ones((4, 4))) * np.diag(s.reshape(-1))
    return (softmax, (rand(3, 4),), dict(jacobian=jac))


def layernorm(x: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    sd = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + 1e-5)
    return (x - mu) / sd


@mistake("LayerNorm Jacobian without the mean term", "low-rank")
def _() -> Any:
    def jac(x: np.ndarray) -> np.ndarray:
        n = x.size
        mu, var = x.mean(), x.var() + 1e-5
        y = (x - mu) / np.sqrt(var)
        return (np.eye(n) - np.outer(y, y) / n) / np.sqrt(var)        # - 1/n missing
    return (layernorm, (rand(6),), dict(jacobian=jac))


@mistake("LayerNorm Jacobian without the variance term", "low-rank")
def _() -> Any:
    def jac(x: np.ndarray) -> np.ndarray:
        n = x.size
        var = x.var() + 1e-5
        return (np.eye(n) - np.ones((n, n)) / n) / np.sqrt(var)      # - y y^T / n missing
    return (layernorm, (rand(6),), dict(jacobian=jac))


@mistake("centering x - mean(x), Jacobian I (the mean's -1/n missing)", "low-rank")
def _() -> Any:
    return (lambda x: x - x.mean(), (rand(5),), dict(jacobian=np.eye(5)))


@mistake("A x, Jacobian A^T", "jacobian-transposed")
def _() -> Any:
    return (lambda x: A3 @ x, (rand(3),), dict(jacobian=A3.T))


@mistake("solve(A, b) in b, Jacobian inv(A)^T", "jacobian-transposed")
def _() -> Any:
    A = spd(3) + rand(3, 3)
    return (lambda b: np.linalg.solve(A, b), (rand(3),), dict(jacobian=np.linalg.inv(A).T))


@mistake("1-D convolution as a Toeplitz matrix, VJP used as JVP", "jacobian-transposed")
def _() -> Any:
    k = np.array([1.0, -2.0, 0.5])
    T = sum(np.diag(np.full(6 - abs(d), k[d + 1]), d) for d in (-1, 0, 1))
    return (lambda x: T @ x, (rand(6),), dict(jacobian=T.T))


@mistake("x -> cumsum(x), Jacobian upper triangular", "jacobian-transposed")
def _() -> Any:
    return (np.cumsum, (rand(5),), dict(jacobian=np.triu(np.ones((5, 5)))))


@mistake("Hessian of x^T A x written 2 A (A + A^T belongs)", "hessian-asymmetric")
def _() -> Any:
    return (lambda x: x @ A3 @ x, (rand(3),), dict(hessian=2 * A3))


@mistake("Hessian of sum x_i^2 x_(i+1), one triangle only", "hessian-asymmetric")
def _() -> Any:
    def hess(x: np.ndarray) -> np.ndarray:
        h = np.diag(np.r_[2 * x[1:], 0.0])
        for i in range(len(x) - 1):
            h[i, i + 1] = 2 * x[i]
        return h
    return (lambda x: np.sum(x[:-1] ** 2 * x[1:]), (rand(4),), dict(hessian=hess))


@mistake("Hessian of x1^2 x2 + x2^3, off-diagonal on one side", "hessian-asymmetric")
def _() -> Any:
    return (lambda x: x[0] ** 2 * x[1] + x[1] ** 3, (np.array([0.7, -1.3]),),
            dict(hessian=lambda x: np.array([[2 * x[1], 2 * x[0]], [0.0, 6 * x[1]]])))


@mistake("det(X), gradient det(X) inv(X) (inv(X)^T belongs)", "transpose")
def _() -> Any:
    X = rand(3, 3) + 3 * np.eye(3)
    return (np.linalg.det, (X,), dict(gradient=lambda X: np.linalg.det(X) * np.linalg.inv(X)))


@mistake("logdet(X), gradient inv(X)", "transpose")
def _() -> Any:
    X = rand(3, 3) + 3 * np.eye(3)
    return (lambda X: np.linalg.slogdet(X)[1], (X,), dict(gradient=np.linalg.inv))


@mistake("tr(A X B), gradient B A (A^T B^T belongs)", "transpose")
def _() -> Any:
    return (lambda X: np.trace(A3 @ X @ B3), (rand(3, 3),), dict(gradient=B3 @ A3))


@mistake("a 2x3 gradient given in column-major order", "order")
def _() -> Any:
    W = rand(2, 3)
    g = (2 * W).reshape(-1, order="F").reshape(2, 3)
    return (lambda W: np.sum(W ** 2), (W,), dict(gradient=g))


@mistake("a 3x2 Jacobian's input read column-major", "order")
def _() -> Any:
    M = rand(4, 6)
    X = rand(3, 2)
    perm = np.arange(6).reshape(3, 2).reshape(-1, order="F")
    return (lambda X: M @ X.reshape(-1), (X,), dict(jacobian=M[:, perm]))


@mistake("tr(A X X^T): the gradient in A given for X", "other-input")
def _() -> Any:
    A, X = rand(3, 3), rand(3, 3)
    return (lambda A, X: np.trace(A @ X @ X.T), (A, X),
            dict(wrt="X", gradient=lambda A, X: X @ X.T))


@mistake("X W + b: the gradient in W given for X (square)", "other-input")
def _() -> Any:
    X, W, b = rand(3, 3), rand(3, 3), rand(3)
    return (lambda X, W, b: np.sum(G4[:3, :3] * (X @ W + b)), (X, W, b),
            dict(wrt=["X", "W"], gradient={"X": lambda X, W, b: X.T @ G4[:3, :3],
                                           "W": lambda X, W, b: X.T @ G4[:3, :3]}))


@mistake("logdet of a symmetric S, gradient 2 S^-1 - diag(S^-1)", "symmetric")
def _() -> Any:
    S = spd(3)

    def grad(S: np.ndarray) -> np.ndarray:
        Si = np.linalg.inv(S)
        return 2 * Si - np.diag(np.diag(Si))
    return (lambda S: np.linalg.slogdet(S)[1], (S,), dict(gradient=grad))


@mistake("mean squared error, the 2/n forgotten", "scale")
def _() -> Any:
    t = rand(6)
    return (lambda y: np.mean((y - t) ** 2), (rand(6),), dict(gradient=lambda y: y - t))


@mistake("Frobenius norm, gradient X / ||X||^2", "scale")
def _() -> Any:
    X = rand(3, 3)
    return (np.linalg.norm, (X,), dict(gradient=lambda X: X / np.linalg.norm(X) ** 2))


@mistake("cross-entropy, gradient onehot - softmax", "sign")
def _() -> Any:
    onehot = np.eye(5)[2]
    return (lambda z: -np.log(softmax(z)[2]), (rand(5),),
            dict(gradient=lambda z: onehot - softmax(z)))


@mistake("sigmoid, derivative s instead of s (1 - s)", FALLBACK)
def _() -> Any:
    def sig(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-x))
    return (lambda x: np.sum(sig(x)), (rand(6),), dict(gradient=sig))


def _tanh_jacobian(X: np.ndarray) -> np.ndarray:
    d = 1 - np.tanh(A3 @ X) ** 2
    return d.reshape(-1)[:, None] * np.kron(A3, np.eye(3))


def _inverse_jacobian(X: np.ndarray) -> np.ndarray:
    Xi = np.linalg.inv(X)
    return -np.kron(Xi, Xi.T)


def _softmax_jacobian(x: np.ndarray) -> np.ndarray:
    s = softmax(x)
    return np.diag(s) - np.outer(s, s)


# The right derivative times (1 + level * noise): no structured kind may claim it.
NOISY = [("tanh(A X)", lambda X: np.tanh(A3 @ X), lambda: rand(3, 3), _tanh_jacobian),
         ("inv(X)", np.linalg.inv, lambda: rand(3, 3) + 3 * np.eye(3), _inverse_jacobian),
         ("softmax(x)", softmax, lambda: rand(6), _softmax_jacobian),
         ("X X", lambda X: X @ X, lambda: rand(3, 3),
          lambda X: np.kron(X, np.eye(3)) + np.kron(np.eye(3), X.T))]
for k in range(48):
    label, fn, point, right = NOISY[k % len(NOISY)]
    level = (0.1, 0.01, 0.001)[k // len(NOISY) % 3]

    @mistake(f"right Jacobian of {label} times (1 + {level:g} noise) ({k})", NOISE)
    def _(k: int = k, fn: Any = fn, point: Any = point, right: Any = right,
          level: float = level) -> Any:
        x = point()
        noise = np.random.default_rng(k).standard_normal(right(x).shape)
        return (fn, (x,), dict(jacobian=lambda x: right(x) * (1 + level * noise)))


# -- PyTorch: custom autograd.Functions ------------------------------------------------

def _torch() -> Any:
    import torch
    return torch


def t64(x: np.ndarray) -> Any:
    return _torch().tensor(x, dtype=_torch().float64, requires_grad=True)


def function(forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[..., Any]:
    torch = _torch()

    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *xs: Any) -> Any:
            ctx.save_for_backward(*xs)
            return forward(*xs)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return backward(g, *ctx.saved_tensors)
    return lambda *xs: Rule.apply(*xs)


@mistake("torch Linear: grad_W = X^T G, grad_X = G W (W^T belongs)", "factor-transposed", "torch")
def _() -> Any:
    f = function(lambda X, W: X @ W, lambda g, X, W: (g @ W, X.T @ g))
    return (lambda X, W: f(X, W), (t64(X4), t64(W4)), dict(wrt=0))


@mistake("torch bias: grad_b = G.mean(0) (G.sum(0) belongs)", "scale", "torch")
def _() -> Any:
    f = function(lambda X, b: X + b, lambda g, X, b: (g, g.mean(0)))
    return (lambda X, b: f(X, b), (t64(rand(4, 3)), t64(rand(3))), dict(wrt=1))


@mistake("torch softmax backward, s * (g + sum(g s))", "low-rank", "torch")
def _() -> Any:
    torch = _torch()

    def back(g: Any, x: Any) -> Any:
        s = torch.softmax(x, -1)
        return (s * (g + (g * s).sum(-1, keepdim=True)),)
    f = function(lambda x: torch.softmax(x, -1), back)
    return (lambda x: f(x), (t64(rand(3, 4)),), {})


@mistake("torch LayerNorm backward without the mean term", "low-rank", "torch")
def _() -> Any:
    torch = _torch()

    def fwd(x: Any) -> Any:
        return torch.nn.functional.layer_norm(x, x.shape[-1:], eps=1e-5)

    def back(g: Any, x: Any) -> Any:
        mu = x.mean(-1, keepdim=True)
        rstd = 1 / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + 1e-5)
        y = (x - mu) * rstd
        return (rstd * (g - y * (g * y).mean(-1, keepdim=True)),)    # - g.mean() missing
    f = function(fwd, back)
    return (lambda x: f(x), (t64(rand(3, 5)),), {})


@mistake("torch X^2 (matrix), backward 2 X^T G", "product-term", "torch")
def _() -> Any:
    f = function(lambda X: X @ X, lambda g, X: (2 * X.T @ g,))
    return (lambda X: f(X), (t64(rand(3, 3)),), {})


@mistake("torch inverse, backward -X^-1 G X^-1 (transposes missing)", "factor-transposed",
         "torch")
def _() -> Any:
    torch = _torch()

    def back(g: Any, X: Any) -> Any:
        Xi = torch.linalg.inv(X)
        return (-Xi @ g @ Xi,)
    f = function(torch.linalg.inv, back)
    return (lambda X: f(X), (t64(rand(3, 3) + 3 * np.eye(3)),), {})


@mistake("torch det, backward g det(X) X^-1", "transpose", "torch")
def _() -> Any:
    torch = _torch()
    f = function(torch.linalg.det, lambda g, X: (g * torch.linalg.det(X) * torch.linalg.inv(X),))
    return (lambda X: f(X), (t64(rand(3, 3) + 3 * np.eye(3)),), {})


@mistake("torch solve in b, backward A^-1 g (A^-T belongs)", "jacobian-transposed", "torch")
def _() -> Any:
    torch = _torch()
    A = torch.tensor(spd(3) + rand(3, 3), dtype=torch.float64)
    f = function(lambda b: torch.linalg.solve(A, b), lambda g, b: (torch.linalg.solve(A, g),))
    return (lambda b: f(b), (t64(rand(3)),), {})


@mistake("torch complex square, backward g * 2z (conj belongs)", "conjugate", "torch")
def _() -> Any:
    torch = _torch()
    f = function(lambda z: z * z, lambda g, z: (g * 2 * z,))
    z = torch.tensor(rand(2, 2) + 1j * rand(2, 2), dtype=torch.complex128, requires_grad=True)
    return (lambda z: f(z), (z,), {})


@mistake("torch complex z conj(z) w, backward without conj", "conjugate", "torch")
def _() -> Any:
    torch = _torch()
    w = torch.tensor(rand(3) + 1j * rand(3), dtype=torch.complex128)
    f = function(lambda z: (z * w), lambda g, z: (g * w,))
    z = torch.tensor(rand(3) + 1j * rand(3), dtype=torch.complex128, requires_grad=True)
    return (lambda z: f(z), (z,), {})


# -- JAX: custom_vjp rules ----------------------------------------------------------------

def vjp_rule(f: Callable[..., Any], bwd: Callable[..., Any]) -> Callable[..., Any]:
    import jax

    @jax.custom_vjp
    def g(*xs: Any) -> Any:
        return f(*xs)
    g.defvjp(lambda *xs: (f(*xs), xs), lambda xs, ct: bwd(ct, *xs))
    return g


@mistake("jax matmul rule, dA = ct B (B^T belongs)", "factor-transposed", "jax")
def _() -> Any:
    import jax.numpy as jnp
    f = vjp_rule(lambda A, B: A @ B, lambda ct, A, B: (ct @ B, A.T @ ct))
    return (f, (jnp.asarray(rand(3, 3)), jnp.asarray(rand(3, 3))), dict(wrt=0))


@mistake("jax logsumexp rule, ct * exp(x) (normalization missing)", FALLBACK, "jax")
def _() -> Any:
    import jax
    import jax.numpy as jnp
    f = vjp_rule(jax.nn.logsumexp, lambda ct, x: (ct * jnp.exp(x),))
    return (f, (jnp.asarray(rand(5)),), {})


@mistake("jax softmax rule, ct * s (the s s^T term missing)", "low-rank", "jax")
def _() -> Any:
    import jax
    import jax.numpy as jnp

    def bwd(ct: Any, x: Any) -> Any:
        return (ct * jax.nn.softmax(x),)
    f = vjp_rule(jax.nn.softmax, bwd)
    return (f, (jnp.asarray(rand(5)),), {})


@mistake("jax Gram rule X^T X, dX = 2 X ct (symmetrization missing)", "product-term", "jax")
def _() -> Any:
    import jax.numpy as jnp
    f = vjp_rule(lambda X: X.T @ X, lambda ct, X: (2 * X @ ct,))
    return (f, (jnp.asarray(rand(3, 3)),), {})


@mistake("jax A x rule in x, ct A (A^T ct belongs)", "jacobian-transposed", "jax")
def _() -> Any:
    import jax.numpy as jnp
    A = jnp.asarray(A3)
    f = vjp_rule(lambda x: A @ x, lambda ct, x: (A @ ct,))
    return (f, (jnp.asarray(rand(3)),), {})


@mistake("jax tanh rule, ct * (1 + tanh^2)", FALLBACK, "jax")
def _() -> Any:
    import jax.numpy as jnp
    f = vjp_rule(jnp.tanh, lambda ct, x: (ct * (1 + jnp.tanh(x) ** 2),))
    return (f, (jnp.asarray(rand(4)),), {})


def run(m: Mistake) -> tuple[str, list[str]]:
    f, inputs, kwargs = m.make()
    if m.framework == "jax":
        import jax
        with jax.enable_x64(True):
            inputs = tuple(jax.numpy.asarray(np.asarray(x), dtype=jax.numpy.result_type(
                float)) if np.asarray(x).dtype.kind == "f" else x for x in inputs)
            result = fdcheck.check(f, *inputs, **kwargs)
    else:
        result = fdcheck.check(f, *inputs, **kwargs)
    failing = [c for c in result.checks if not c.passed]
    if not failing:
        return "passed", []
    kinds = [d.kind for c in failing for d in c.diagnosis]
    return "failed", kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args()
    warnings.filterwarnings("ignore")
    from fdcheck.diagnose import STRUCTURED
    start = time.perf_counter()
    table: Counter[tuple[str, str]] = Counter()
    rows = []
    for m in MISTAKES:
        status, kinds = run(m)
        first = kinds[0] if kinds else None
        right = first == m.kind if m.kind not in (NOISE, FALLBACK) else \
            first is not None and first not in STRUCTURED
        named = bool(kinds)
        table[m.kind, "entries"] += 1
        table[m.kind, "right"] += right
        table[m.kind, "named"] += named
        rows.append((m, status, kinds, right))
    real = [r for r in rows if r[0].kind != NOISE]
    noise = [r for r in rows if r[0].kind == NOISE]
    print(f"# {time.strftime('%Y-%m-%d')}; {len(rows)} hand-written mistakes "
          f"({len(real)} labelled with a kind, {len(noise)} unstructured); "
          f"{time.perf_counter() - start:.1f} s")
    print(f"first diagnosis of the right kind  {sum(r[3] for r in real)}/{len(real)} "
          f"({sum(r[3] for r in real) / len(real):.0%})")
    print(f"a diagnosis at all                 {sum(bool(r[2]) for r in rows)}/{len(rows)} "
          f"({sum(bool(r[2]) for r in rows) / len(rows):.0%})")
    claimed = sum(1 for r in noise if r[2] and r[2][0] in STRUCTURED)
    print(f"structured kind on noise           {claimed}/{len(noise)} "
          f"({claimed / max(len(noise), 1):.0%})")
    print(f"failed at all                      {sum(r[1] == 'failed' for r in rows)}/{len(rows)}")
    print()
    print(f"{'kind':22s} {'entries':>8s} {'right':>6s} {'named':>6s}")
    for kind in sorted({m.kind for m in MISTAKES}):
        print(f"{kind:22s} {table[kind, 'entries']:8d} {table[kind, 'right']:6d} "
              f"{table[kind, 'named']:6d}")
    if options.verbose:
        print()
        for m, status, kinds, right in rows:
            print(f"{'ok  ' if right else 'MISS'} [{m.framework}] {m.name}: {status}, "
                  f"expected {m.kind}, got {kinds[:3]}")


if __name__ == "__main__":
    main()
