"""Problems with exact derivatives, shared by the accuracy and verdict benchmarks.

Every Jacobian is row-major, (output size, input size). Identities are written
from the matrix-calculus rules, independently of any numeric method.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import linalg

RNG = np.random.default_rng(20261124)
N = 4
A = RNG.standard_normal((N, N))
Bm = RNG.standard_normal((N, N))
a_vec = RNG.standard_normal(N)
b_vec = RNG.standard_normal(N)
I = np.eye(N)


def commutation(p: int, q: int) -> np.ndarray:
    """K with K vec_r(X) = vec_r(X^T) for X of shape (p, q)."""
    K = np.zeros((p * q, p * q))
    for i in range(p):
        for j in range(q):
            K[j * p + i, i * q + j] = 1.0
    return K


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class Identity:
    """f(X) with its exact derivative.

    ``derivative`` returns the gradient (shaped like X) for a scalar f, else
    the Jacobian (f.size, X.size). ``kron_swapped``, where given, is the
    derivative written with the two Kronecker factors in the wrong order.
    ``domain``: "any", "invertible", "positive".
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    scalar: bool
    domain: str = "any"
    shape: tuple[int, ...] = (N, N)
    kron_swapped: Callable[[np.ndarray], np.ndarray] | None = None


def _inv(X: np.ndarray) -> np.ndarray:
    return np.linalg.inv(X)


IDENTITIES = [
    # scalar functions: gradients
    Identity("tr(X)", np.trace, lambda X: I.copy(), True),
    Identity("tr(A X)", lambda X: np.trace(A @ X), lambda X: A.T.copy(), True),
    Identity("tr(X A X^T)", lambda X: np.trace(X @ A @ X.T), lambda X: X @ (A + A.T), True),
    Identity("tr(X^T A X)", lambda X: np.trace(X.T @ A @ X), lambda X: (A + A.T) @ X, True),
    Identity("a^T X b", lambda X: a_vec @ X @ b_vec, lambda X: np.outer(a_vec, b_vec), True),
    Identity("a^T X^T b", lambda X: a_vec @ X.T @ b_vec, lambda X: np.outer(b_vec, a_vec), True),
    Identity("||X||_F^2", lambda X: np.sum(X * X), lambda X: 2 * X, True),
    Identity("||X||_F", np.linalg.norm, lambda X: X / np.linalg.norm(X), True),
    Identity("det(X)", np.linalg.det, lambda X: np.linalg.det(X) * _inv(X).T, True, "invertible"),
    Identity("log|det X|", lambda X: np.linalg.slogdet(X)[1], lambda X: _inv(X).T, True, "invertible"),
    Identity("tr(X^-1)", lambda X: np.trace(_inv(X)), lambda X: -(_inv(X) @ _inv(X)).T, True,
             "invertible"),
    Identity("tr(A X^-1 B)", lambda X: np.trace(A @ _inv(X) @ Bm),
             lambda X: -(_inv(X) @ Bm @ A @ _inv(X)).T, True, "invertible"),
    Identity("||A X - B||_F^2", lambda X: np.sum((A @ X - Bm) ** 2), lambda X: 2 * A.T @ (A @ X - Bm),
             True),
    Identity("logsumexp(X)", lambda X: np.log(np.sum(np.exp(X))),
             lambda X: np.exp(X) / np.sum(np.exp(X)), True),
    Identity("sum(exp(X))", lambda X: np.sum(np.exp(X)), np.exp, True),
    Identity("sum(log(X))", lambda X: np.sum(np.log(X)), lambda X: 1 / X, True, "positive"),
    Identity("tr(X^2)", lambda X: np.trace(X @ X), lambda X: 2 * X.T, True),
    Identity("tr(X^3)", lambda X: np.trace(X @ X @ X), lambda X: 3 * (X @ X).T, True),
    Identity("sum(tanh(A X))", lambda X: np.sum(np.tanh(A @ X)),
             lambda X: A.T @ (1 - np.tanh(A @ X) ** 2), True),
    Identity("sum(sigmoid(X))", lambda X: np.sum(sigmoid(X)),
             lambda X: sigmoid(X) * (1 - sigmoid(X)), True),
    Identity("tr(expm(X))", lambda X: np.trace(linalg.expm(X)), lambda X: linalg.expm(X).T, True),
    Identity("tr(A X B X^T)", lambda X: np.trace(A @ X @ Bm @ X.T),
             lambda X: A.T @ X @ Bm.T + A @ X @ Bm, True),
    Identity("logdet(X^T X), X 5x3", lambda X: np.linalg.slogdet(X.T @ X)[1],
             lambda X: 2 * X @ np.linalg.inv(X.T @ X), True, "any", (5, 3)),
    Identity("1^T X^-1 1", lambda X: np.sum(_inv(X)),
             lambda X: -(_inv(X).T @ np.ones((N, N)) @ _inv(X).T), True, "invertible"),
    Identity("x^T A x", lambda x: x @ A @ x, lambda x: (A + A.T) @ x, True, "any", (N,)),
    Identity("||x||_2", np.linalg.norm, lambda x: x / np.linalg.norm(x), True, "any", (N,)),
    Identity("log(1 + x^T x)", lambda x: np.log1p(x @ x), lambda x: 2 * x / (1 + x @ x), True,
             "any", (N,)),
    Identity("tr(X^T X)", lambda X: np.trace(X.T @ X), lambda X: 2 * X, True),
    # matrix functions: Jacobians
    Identity("A X B", lambda X: A @ X @ Bm, lambda X: np.kron(A, Bm.T), False,
             kron_swapped=lambda X: np.kron(Bm.T, A)),
    Identity("X^-1", _inv, lambda X: -np.kron(_inv(X), _inv(X).T), False, "invertible",
             kron_swapped=lambda X: -np.kron(_inv(X).T, _inv(X))),
    Identity("X^T", lambda X: X.T, lambda X: commutation(N, N), False),
    Identity("X A", lambda X: X @ A, lambda X: np.kron(I, A.T), False,
             kron_swapped=lambda X: np.kron(A.T, I)),
    Identity("A X", lambda X: A @ X, lambda X: np.kron(A, I), False,
             kron_swapped=lambda X: np.kron(I, A)),
    Identity("X o X", lambda X: X * X, lambda X: np.diag(2 * X.ravel()), False),
    Identity("X^2", lambda X: X @ X, lambda X: np.kron(X, I) + np.kron(I, X.T), False,
             kron_swapped=lambda X: np.kron(I, X) + np.kron(X.T, I)),
    Identity("softmax(x)", softmax, lambda x: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x)),
             False, "any", (N,)),
    Identity("tanh(A X)", lambda X: np.tanh(A @ X),
             lambda X: np.kron(A, I) * (1 - np.tanh(A @ X) ** 2).reshape(-1, 1), False),
    Identity("X^T X, X 5x3", lambda X: X.T @ X,
             lambda X: np.kron(X.T, np.eye(3)) + commutation(3, 3) @ np.kron(X.T, np.eye(3)),
             False, "any", (5, 3)),
]


def point(identity: Identity, kind: str, seed: int = 0) -> np.ndarray:
    """A point in the identity's domain.

    kind: "random" (standard normal, well away from singular where it must be
    invertible), "ill-conditioned" (singular values from 1 down to 1e-3, for
    matrices), "small" (random times 1e-4), "large" (random times 1e4; for
    functions that overflow there, times 10).
    """
    rng = np.random.default_rng(seed)
    shape = identity.shape
    X = rng.standard_normal(shape)
    if identity.domain == "invertible" and len(shape) == 2:
        X = X + 3 * np.eye(shape[0])
    if kind == "ill-conditioned" and len(shape) == 2:
        U, _, Vt = np.linalg.svd(X, full_matrices=False)
        X = U @ np.diag(np.logspace(0, -3, min(shape))) @ Vt
    elif kind == "small":
        X = 1e-4 * X
    elif kind == "large":
        X = (10.0 if identity.name in OVERFLOWS else 1e4) * X
    if identity.domain == "positive":
        X = np.abs(X) + (1e-4 if kind == "small" else 0.1) * np.abs(X).max()
    return X


# exp and friends overflow or saturate at 1e4: there "large" means 10.
OVERFLOWS = {"logsumexp(X)", "sum(exp(X))", "sum(tanh(A X))", "sum(sigmoid(X))", "tr(expm(X))",
             "tanh(A X)", "softmax(x)", "tr(X^3)"}
POINTS = ("random", "ill-conditioned", "small", "large")


@dataclass(frozen=True)
class AccuracyProblem:
    name: str
    f: Callable[[np.ndarray], np.ndarray]
    x: np.ndarray
    jacobian: np.ndarray
    well_scaled: bool


def accuracy_problems() -> list[AccuracyProblem]:
    """The accuracy benchmark's problems, with exact Jacobians."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((N, N)) + 3 * np.eye(N)
    W = rng.standard_normal((N, 3))
    v = rng.standard_normal(6)
    big = 30 + rng.random(6)
    huge = 1e6 * (1 + rng.random(6))
    tiny = 1e-6 * (1 + rng.random(6))
    near = 1e-4 * (1 + rng.random(6))
    tanh_j = np.kron(A, np.eye(3)) * (1 - np.tanh(A @ W) ** 2).reshape(-1, 1)
    return [
        AccuracyProblem("inv(X)", _inv, X, -np.kron(_inv(X), _inv(X).T), True),
        AccuracyProblem("logdet(X)", lambda X: np.linalg.slogdet(X)[1], X, _inv(X).T.reshape(1, -1),
                        True),
        AccuracyProblem("tanh(A W)", lambda W: np.tanh(A @ W), W, tanh_j, True),
        AccuracyProblem("softmax(v)", softmax, v, np.diag(softmax(v)) - np.outer(softmax(v), softmax(v)),
                        True),
        AccuracyProblem("exp(x), x ~ 30", np.exp, big, np.diag(np.exp(big)), True),
        AccuracyProblem("x^2, x ~ 1e6", lambda x: x ** 2, huge, np.diag(2 * huge), True),
        AccuracyProblem("sin(1e6 x), x ~ 1e-6", lambda x: np.sin(1e6 * x), tiny,
                        np.diag(1e6 * np.cos(1e6 * tiny)), False),
        AccuracyProblem("sqrt(x), x ~ 1e-4", np.sqrt, near, np.diag(0.5 / np.sqrt(near)), False),
    ]
