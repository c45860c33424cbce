"""Matrices with structure: an input that is symmetric, positive definite,
triangular, diagonal, skew-symmetric or orthogonal is checked within its
structure, not as n x n free numbers.

Such an input X is replaced, for the whole check, by its coordinates c in a
basis of the structure's tangent space, and the function is called with
X = lift(c):

==============  ==========================================  =====================
structure       coordinates (i, j), basis element            labels
==============  ==========================================  =====================
``symmetric``   i >= j: E_ij + E_ji (E_ii on the diagonal)  s11, s21, s22, ...
``spd``         the same, steps kept inside the cone         the same
``lower``       i >= j: E_ij                                 l11, l21, l22, ...
``upper``       i <= j: E_ij                                 u11, u12, u22, ...
``diagonal``    i == j: E_ii                                 d11, d22, ...
``skew``        i > j: E_ij - E_ji                           k21, k31, k32, ...
``orthogonal``  i > j: X = Q expm(K), K = sum c_ij (E_ij -   q21, q31, q32, ...
                E_ji), at c = 0
==============  ==========================================  =====================

(the label's letter is the input's name, lowercased). The numeric Jacobian is
then the derivative along each basis element, and a framework's autograd of
the lifted function gives the same thing from its own rules. A written
reference G, for the matrix, is read in one of two conventions:

- ``projected`` (the default): G is a gradient in the ambient space, or its
  projection onto the structure's tangent space; coordinate k reads
  <G, B_k>. For a symmetric X: (G + G^T)/2 and the unconstrained gradient
  both pass.
- ``entries``: G holds the derivative over the independent entries, read at
  each coordinate's position (i, j): for a symmetric X, the Matrix Cookbook's
  G + G^T - diag(G). Not for ``orthogonal``, whose coordinates are no entries.

The two differ by a factor 2 on the off-diagonal coordinates of ``symmetric``,
``spd`` and ``skew`` (:meth:`Structure.convention_ratio`); a reference written
in the other convention is diagnosed so.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import backends
from .errors import CaseError
from .layout import as_order

KINDS = ("symmetric", "spd", "lower", "upper", "diagonal", "skew", "orthogonal")
CONVENTIONS = ("projected", "entries")
# How far from the structure an input may be, relative to its largest entry.
TOLERANCE = 1e-10
# SPD: every move stays within this share of the smallest eigenvalue.
SPD_MARGIN = 0.5


@dataclass(frozen=True)
class Structure:
    """One structured input: its coordinates, basis and lift.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    shape : tuple of int
        The matrix's shape, (n, n) (or (m, n) for ``lower``/``upper``/``diagonal``).
    positions : tuple of (int, int)
        The entry each coordinate stands for.
    basis : ndarray, shape (N, k)
        vec(B_k) in the case's order, one column a coordinate (N = m n).
    order : str
        The vectorization order of ``basis``.
    base : ndarray or None
        ``orthogonal``: Q, the point the curve Q expm(K) starts from.
    generators : ndarray or None
        ``orthogonal``: vec(K_k) (N, k), the skew matrices K is made of (the
        tangent ``basis`` at Q is Q K_k).
    """

    kind: str
    shape: tuple[int, ...]
    positions: tuple[tuple[int, int], ...]
    basis: np.ndarray
    order: str = "C"
    base: np.ndarray | None = None
    generators: np.ndarray | None = None
    # ``spd``: the largest relative move that keeps the input positive
    # definite (a ladder's top); None for the others.
    reach: float | None = None

    @property
    def size(self) -> int:
        """k, the number of coordinates."""
        return len(self.positions)

    def labels(self, name: str) -> list[str]:
        """Paper-style labels of the coordinates: s11, s21, ... for S."""
        return _labels(name, self.positions)

    def coordinates(self, x: np.ndarray) -> np.ndarray:
        """The coordinates of ``x`` (k,), float64: zero for ``orthogonal``."""
        if self.kind == "orthogonal":
            return np.zeros(self.size)
        return np.array([x[i, j] for i, j in self.positions], dtype=np.float64)

    def convention_ratio(self) -> np.ndarray:
        """Per coordinate, the ``entries`` reading over the ``projected`` one
        for the same gradient on the structure: 2 off the diagonal of a
        symmetric or skew matrix, else 1."""
        two = self.kind in ("symmetric", "spd", "skew")
        return np.array([2.0 if two and i != j else 1.0 for i, j in self.positions])

    def reference_columns(self, matrix: np.ndarray, convention: str) -> np.ndarray:
        """A reference Jacobian over the matrix's entries (m, N) as one over
        the coordinates (m, k), read in ``convention``."""
        if convention == "entries":
            return matrix[:, self._entry_columns()]
        return matrix @ self.basis

    def reference_hessian(self, matrix: np.ndarray, convention: str) -> np.ndarray:
        """A Hessian over the entries (N, N) as one over the coordinates (k, k)."""
        if convention == "entries":
            cols = self._entry_columns()
            return matrix[np.ix_(cols, cols)]
        return self.basis.T @ matrix @ self.basis

    def read(self, matrix: np.ndarray, kind: str, convention: str) -> np.ndarray:
        """A reference over the matrix's entries, of ``kind`` (gradient,
        jacobian, hessian), as one over the coordinates."""
        if kind == "hessian":
            return self.reference_hessian(matrix, convention)
        return self.reference_columns(matrix, convention)

    def tangent(self, v: np.ndarray) -> np.ndarray:
        """The matrix move (N,) of a coordinate move v (k,)."""
        return self.basis @ np.asarray(v, dtype=np.float64)

    def _entry_columns(self) -> np.ndarray:
        ravel = np.ravel_multi_index(tuple(np.array(self.positions).T), self.shape,
                                     order=as_order(self.order))
        return np.asarray(ravel, dtype=np.intp)

    def lift(self, c: Any) -> Any:
        """The matrix of coordinates ``c`` (..., k), in ``c``'s own framework
        (so that its autograd differentiates through the lift)."""
        name = backends.name_of(c)
        lead = tuple(c.shape[:-1])
        within = self.generators if self.generators is not None else self.basis
        vec = c @ _like(within.T, c, name)
        # vec is in the case's order: reshape accordingly.
        if as_order(self.order) == "F":
            mat = vec.reshape(lead + self.shape[::-1])
            mat = mat.transpose(-1, -2) if name == "torch" else _swap_last(mat, name)
        else:
            mat = vec.reshape(lead + self.shape)
        if self.kind != "orthogonal":
            return mat
        assert self.base is not None  # an orthogonal structure has its Q
        return _like(self.base, c, name) @ _expm(mat, name)


def _swap_last(a: Any, name: str) -> Any:
    if name == "jax":
        import jax.numpy as jnp
        return jnp.swapaxes(a, -1, -2)
    return np.swapaxes(a, -1, -2)


def _like(a: np.ndarray, c: Any, name: str) -> Any:
    """``a`` as a constant of ``c``'s framework, dtype and device."""
    if name == "torch":
        import torch
        return torch.as_tensor(a, dtype=c.dtype, device=c.device)
    if name == "jax":
        import jax.numpy as jnp
        return jnp.asarray(a, dtype=c.dtype)
    return np.asarray(a, dtype=np.asarray(c).dtype)


def _expm(k: Any, name: str) -> Any:
    if name == "torch":
        import torch
        return torch.linalg.matrix_exp(k)
    if name == "jax":
        import jax.numpy as jnp
        from jax.scipy.linalg import expm
        return jnp.vectorize(expm, signature="(n,n)->(n,n)")(k)
    from scipy.linalg import expm as scipy_expm
    return scipy_expm(k)


def coordinate_labels(kind: str, shape: tuple[int, ...], name: str) -> list[str]:
    """The labels of the coordinates of an input ``name`` of ``shape`` with
    structure ``kind``."""
    return _labels(name, positions(kind, tuple(shape)))


def _labels(name: str, places: tuple[tuple[int, int], ...]) -> list[str]:
    base = name.lower()
    wide = any(i >= 9 or j >= 9 for i, j in places)
    return [f"{base}[{i + 1},{j + 1}]" if wide else f"{base}{i + 1}{j + 1}" for i, j in places]


def positions(kind: str, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """The entries the coordinates of ``kind`` stand for, row by row."""
    m, n = shape
    if kind in ("symmetric", "spd", "lower"):
        return tuple((i, j) for i in range(m) for j in range(n) if i >= j)
    if kind == "upper":
        return tuple((i, j) for i in range(m) for j in range(n) if i <= j)
    if kind == "diagonal":
        return tuple((i, i) for i in range(min(m, n)))
    return tuple((i, j) for i in range(m) for j in range(n) if i > j)   # skew, orthogonal


def _element(kind: str, shape: tuple[int, ...], i: int, j: int) -> np.ndarray:
    b = np.zeros(shape)
    b[i, j] = 1.0
    if kind in ("symmetric", "spd"):
        b[j, i] = 1.0
    elif kind in ("skew", "orthogonal"):
        b[j, i] = -1.0
    return b


def make(kind: str, x: np.ndarray, name: str, order: str = "C") -> Structure:
    """The structure ``kind`` of input ``name`` at its value ``x``.

    Raises
    ------
    ValueError
        Where ``kind`` is unknown, or ``x`` does not have the structure (the
        message says by how much).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown structure {kind!r}; one of {', '.join(KINDS)}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"a {kind} input is a matrix; {name} has shape {x.shape}")
    square = kind in ("symmetric", "spd", "skew", "orthogonal")
    if square and x.shape[0] != x.shape[1]:
        raise ValueError(f"a {kind} input is square; {name} has shape {x.shape}")
    _validate(kind, x, name)
    places = positions(kind, x.shape)
    basis = np.stack([_element(kind, x.shape, i, j).reshape(-1, order=as_order(order))
                      for i, j in places], axis=1) if places else np.zeros((x.size, 0))
    if kind == "orthogonal":
        # The tangent at Q is Q K: the columns move with the base point.
        tangent = np.stack([(x @ _element(kind, x.shape, i, j)).reshape(-1, order=as_order(order))
                            for i, j in places], axis=1) if places else basis
        return Structure(kind, x.shape, places, tangent, order, base=x.copy(), generators=basis)
    return Structure(kind, x.shape, places, basis, order, reach=_reach(x) if kind == "spd" else None)


def _validate(kind: str, x: np.ndarray, name: str) -> None:
    scale = max(float(np.abs(x).max(initial=0.0)), 1e-300)
    off = {"symmetric": x - x.T, "spd": x - x.T, "skew": x + x.T,
           "lower": np.triu(x, 1), "upper": np.tril(x, -1),
           "diagonal": x - np.diag(np.diag(x)) if x.shape[0] == x.shape[1] else
           x * (1 - np.eye(*x.shape)),
           "orthogonal": x.T @ x - np.eye(x.shape[1])}[kind]
    gap = float(np.abs(off).max(initial=0.0))
    allowed = TOLERANCE if kind == "orthogonal" else TOLERANCE * scale
    if gap > allowed:
        what = {"symmetric": "symmetric: |S - S^T|", "spd": "symmetric: |S - S^T|",
                "skew": "skew-symmetric: |K + K^T|", "lower": "lower triangular: its upper "
                "triangle", "upper": "upper triangular: its lower triangle", "diagonal":
                "diagonal: off the diagonal", "orthogonal": "orthogonal: |Q^T Q - I|"}[kind]
        raise ValueError(f"{name} is not {what} reaches {gap:.3g}")
    if kind == "spd":
        low = float(np.linalg.eigvalsh((x + x.T) / 2).min())
        if low <= 0:
            raise ValueError(f"{name} is not positive definite: its smallest eigenvalue is "
                             f"{low:.3g}")


def _reach(x: np.ndarray) -> float:
    """The largest relative step that keeps SPD ``x`` positive definite: a
    move t along a basis element (spectral norm 1) shifts each eigenvalue by
    at most |t| <= reach * max(1, |c|), and the coordinates' largest is at
    most the largest entry."""
    low = float(np.linalg.eigvalsh(x).min())
    return SPD_MARGIN * low / max(1.0, float(np.abs(x).max(initial=0.0)))


def native_like(coords: np.ndarray, like: Any) -> Any:
    """Coordinates as an array of ``like``'s framework, dtype and device (a
    PyTorch tensor keeps ``requires_grad``)."""
    name = backends.name_of(like)
    if name == "torch":
        import torch
        return torch.tensor(coords, dtype=like.dtype, device=like.device,
                            requires_grad=bool(like.requires_grad))
    if name == "jax":
        import jax.numpy as jnp
        return jnp.asarray(coords, dtype=like.dtype)
    return np.asarray(coords)


class InCoordinates:
    """A ``jvp`` reference (v -> R v over the matrix's entries) taking
    coordinate moves: v -> R (B v)."""

    def __init__(self, jvp: Any, s: Structure) -> None:
        self.jvp = jvp
        self.structure = s

    def __call__(self, v: np.ndarray) -> Any:
        return self.jvp(self.structure.tangent(v))


def of_case(case: Any, names: Sequence[str], np_inputs: Sequence[np.ndarray]
            ) -> dict[str, Structure]:
    """The structured inputs of ``case``, each checked to have its structure.

    Raises
    ------
    CaseError
        Naming ``structure.NAME`` (or ``convention``) where an input lacks its
        structure, or is no input.
    """
    out = {}
    for name, kind in case.structure.items():
        if name not in names:
            raise CaseError(f"no input named {name!r}; the inputs are {', '.join(names)}",
                            key=f"structure.{name}")
        if case.convention == "entries" and kind == "orthogonal":
            raise CaseError("an orthogonal input's coordinates are no entries of it: "
                            "its references are read in the projected convention",
                            key="convention")
        try:
            out[name] = make(kind, np_inputs[names.index(name)], name, case.order)
        except ValueError as exc:
            raise CaseError(str(exc), key=f"structure.{name}") from None
    return out


def in_coordinates(case: Any, names: Sequence[str], inputs: Sequence[Any],
                   np_inputs: Sequence[np.ndarray], structures: Mapping[str, Structure],
                   native: Callable[[np.ndarray], Any]
                   ) -> tuple[Any, tuple[Any, ...], tuple[np.ndarray, ...]]:
    """The case's structured inputs replaced by their coordinates (a caller's
    in its own framework, dtype and ``requires_grad``; a case file's by
    ``native``), and its ``jvp`` references taking coordinate moves."""
    new_inputs, new_np = list(inputs), list(np_inputs)
    for name, s in structures.items():
        i = names.index(name)
        kind = np_inputs[i].dtype
        coords = s.coordinates(np.asarray(np_inputs[i], dtype=np.float64)).astype(
            kind if kind.kind == "f" else np.float64)
        new_np[i] = coords
        new_inputs[i] = native_like(coords, inputs[i]) if case.native else native(coords)
    jvp = {name: InCoordinates(f, structures[name]) if name in structures else f
           for name, f in case.expect.jvp.items()}
    case = replace(case, expect=replace(case.expect, jvp=jvp))
    return case, tuple(new_inputs), tuple(new_np)
