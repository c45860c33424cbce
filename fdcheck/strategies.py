"""Hypothesis strategies for matrices as people have them: a shape, a
structure and a condition number (needs Hypothesis: ``pip install
'fdcheck[explore]'``).

    from hypothesis import given
    from fdcheck.strategies import matrices

    @given(matrices((3, 3), structure="spd", condition=(1, 1e6)))
    def test_my_logdet_gradient(S):
        fdcheck.assert_check(logdet, S, gradient=my_gradient, structure={"S": "spd"})

A matrix is drawn as U diag(s) V^T with orthonormal U, V from a seeded
generator and singular values s spread log-uniformly from 1 down to
1/kappa, kappa drawn log-uniformly within ``condition``: so it shrinks
towards the best-conditioned matrix of seed 0, and the shapes of
:func:`shapes` towards the smallest.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .structure import KINDS

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError("fdcheck.strategies needs Hypothesis: pip install 'fdcheck[explore]'") \
        from exc


def build(shape: Sequence[int], structure: str | None, kappa: float,
          rng: np.random.Generator) -> np.ndarray:
    """A matrix of ``shape`` with ``structure`` and condition number about
    ``kappa`` (exactly, for the general, symmetric and SPD ones).

    Parameters
    ----------
    shape : tuple of int
        () or (n,) for a number or a vector (standard normal), (m, n) for a matrix.
    structure : str or None
        One of :data:`fdcheck.structure.KINDS`.
    kappa : float
        >= 1.
    rng : numpy Generator
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2:
        return rng.standard_normal(shape)
    m, n = shape[-2:]
    r = min(m, n)
    s = np.logspace(0.0, -np.log10(kappa), r) if r > 1 else np.ones(r)
    U = _orthonormal(rng, m, r)
    V = _orthonormal(rng, n, r)
    if structure in (None, "lower", "upper"):
        M = U @ np.diag(s) @ V.T
        if structure == "lower":
            return np.tril(M - np.diag(np.diag(M))) + np.diag(s[:min(m, n)]) \
                if m == n else np.tril(M)
        if structure == "upper":
            return np.triu(M - np.diag(np.diag(M))) + np.diag(s[:min(m, n)]) \
                if m == n else np.triu(M)
        return M
    if structure not in KINDS:
        raise ValueError(f"unknown structure {structure!r}; one of {', '.join(KINDS)}")
    if m != n and structure != "diagonal":
        raise ValueError(f"a {structure} matrix is square, not {shape}")
    if structure == "spd":
        return _symmetrized(U @ np.diag(s) @ U.T)
    if structure == "symmetric":
        signs = np.where(rng.random(r) < 0.5, -1.0, 1.0)
        return _symmetrized(U @ np.diag(s * signs) @ U.T)
    if structure == "diagonal":
        out = np.zeros(shape)
        out[np.arange(r), np.arange(r)] = rng.permutation(s)
        return out
    if structure == "skew":
        M = U @ np.diag(s) @ V.T
        return (M - M.T) / 2
    return U     # orthogonal: condition 1


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _symmetrized(a: np.ndarray) -> np.ndarray:
    return (a + a.T) / 2


@st.composite
def matrices(draw: Any, shape: Any, structure: str | None = None,
             condition: tuple[float, float] = (1.0, 1e3), dtype: Any = np.float64) -> np.ndarray:
    """A strategy of matrices (float64 unless ``dtype`` says otherwise).

    Parameters
    ----------
    shape : tuple of int, or a strategy of them
    structure : str, optional
        symmetric, spd, lower, upper, diagonal, skew or orthogonal.
    condition : (low, high)
        The range of the condition number, each >= 1.
    dtype : numpy dtype
        float64 (default), float32 or a complex type (complex draws a real
        matrix of that condition, then rotates each column's phase).
    """
    if not isinstance(shape, tuple):
        shape = draw(shape)
    low, high = (float(c) for c in condition)
    if not 1 <= low <= high:
        raise ValueError(f"condition is (low, high) with 1 <= low <= high, not {condition}")
    exponent = draw(st.floats(0.0, np.log10(high / low), allow_nan=False)) if high > low \
        else 0.0
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    m = build(shape, structure, low * 10 ** exponent, rng)
    kind = np.dtype(dtype)
    if kind.kind == "c" and m.ndim == 2 and structure is None:
        # A unitary factor keeps the singular values, hence the condition number.
        m = m * np.exp(2j * np.pi * rng.random(m.shape[-1]))[None, :]
    return m.astype(kind)


def shapes(dims: int = 2, low: int = 1, high: int = 5, square: bool = False) -> Any:
    """A strategy of shapes of ``dims`` sizes each within [low, high]
    (``square``: all equal); shrinks towards the smallest."""
    if square:
        return st.integers(low, high).map(lambda k: (k,) * dims)
    return st.tuples(*[st.integers(low, high) for _ in range(dims)])
