"""Explanations from the structure of matrix calculus: a Jacobian of a matrix
product is a Kronecker product of its factors, a product rule is a sum of a
few such terms, and a forgotten mean or sum is a low-rank difference.

In row-major order, d vec(A X B) / d vec(X) = A (x) B^T: rearranged so that
each (output row, input row) pair is a row and each (output column, input
column) pair a column (Van Loan and Pitsianis), a Kronecker product A (x) C is
the rank-1 matrix vec(A) vec(C)^T, and a sum of k such terms has rank k.

Each function takes the check's :class:`~fdcheck.compare.Matrices` and a
``vanishes(candidate)`` test (every counted mismatch within the check's own
tolerance) and returns a :class:`~fdcheck.compare.Diagnosis` or None.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .compare import Diagnosis, Matrices
from .layout import as_order, flatten, unflatten

Vanishes = Callable[[np.ndarray], bool]
RANK_TOLERANCE = 1e-8    # singular values below this share of the largest are 0
MOST_RANK = 2            # differences of at most this rank are "low-rank"
ALTERNATIONS = 500       # projections that split a product rule's two terms (they converge
                         # linearly; a split that has not converged by then explains nothing)
STRIDE = 5               # iterations over which a split's rate of convergence is read
MOST_ENTRIES = 2 ** 20   # larger Jacobians are not factored (an SVD of their size each)
SPLIT_ENTRIES = 2 ** 16  # nor split into a product rule's terms (hundreds of products each)


Perms = tuple[np.ndarray, np.ndarray]


def _perms(mat: Matrices) -> Perms | None:
    """The positions in the check's order of each row-major row and column,
    for 2-D output and input shapes; None for other shapes."""
    out, inp = mat.out_shape, mat.in_shape
    if mat.reference.ndim != 2 or inp is None or len(out) != 2 or len(inp) != 2:
        return None
    rows = np.arange(int(np.prod(out))).reshape(out, order=as_order(mat.order)).reshape(-1)
    cols = np.arange(int(np.prod(inp))).reshape(inp, order=as_order(mat.order)).reshape(-1)
    return rows, cols


def _row_major(mat: Matrices) -> tuple[np.ndarray, np.ndarray, Perms] | None:
    """(numeric, reference, perms): both matrices in row-major order (copies)
    for 2-D output and input shapes, and :func:`_perms`; None for other shapes."""
    perms = _perms(mat)
    if perms is None:
        return None
    rows, cols = perms
    return mat.numeric[rows][:, cols], mat.reference[rows][:, cols], perms


def agrees(mat: Matrices, vanishes: Vanishes, transformed: np.ndarray) -> bool:
    """Whether the reference agrees with ``transformed``, the numeric matrix
    read another way, within the check's bounds: ``vanishes`` tests the
    numeric matrix against a reference, so it is given the reference moved
    by what the reading changed."""
    return vanishes(mat.reference - (transformed - mat.numeric))


def _back(candidate: np.ndarray, perms: Perms) -> np.ndarray:
    rows, cols = perms
    return candidate[np.argsort(rows)][:, np.argsort(cols)]


def _rearranged(n: np.ndarray, out: tuple[int, ...], inp: tuple[int, ...]) -> np.ndarray:
    """The (p r, q s) rearrangement of a row-major (p q, r s) Jacobian."""
    (p, q), (r, s) = out, inp
    return n.reshape(p, q, r, s).transpose(0, 2, 1, 3).reshape(p * r, q * s)


def _factors(n: np.ndarray, out: tuple[int, ...], inp: tuple[int, ...]
             ) -> tuple[np.ndarray, np.ndarray] | None:
    """(A, C) with n = A (x) C, where n is one Kronecker product; else None."""
    m = _rearranged(n, out, inp)
    u, sv, vt = top(m, 2)
    if not sv.size or not sv[0] > 0 or (sv.size > 1 and sv[1] > RANK_TOLERANCE * sv[0]):
        return None
    (p, q), (r, s) = out, inp
    return (u[:, 0] * sv[0]).reshape(p, r), vt[0].reshape(q, s)


def factor_transposed(mat: Matrices, vanishes: Vanishes,
                      inputs: Mapping[str, np.ndarray] | None = None,
                      wrt: str | None = None, **_: Any) -> Diagnosis | None:
    """The reference is the numeric Jacobian of a product with a factor
    transposed: for a Jacobian, A (x) C read as A^T (x) C, A (x) C^T or both;
    for a gradient, an input V in its place where V^T belongs."""
    if mat.reference.ndim == 2 and mat.reference.shape[0] == 1:
        return _gradient_factor(mat, vanishes, inputs or {}, wrt)
    # (Sized up before the row-major copies of both matrices are made.)
    found = _row_major(mat) if mat.reference.size <= MOST_ENTRIES else None
    if found is None:
        return None
    n, _ref, perms = found
    factors = _factors(n, mat.out_shape, mat.in_shape or ())
    if factors is None:
        return None
    a, c = factors
    for which, left, right in (("the left factor (A in A X B)", a.T, c),
                               ("the right factor (B in A X B)", a, c.T),
                               ("both factors", a.T, c.T)):
        if left.shape != a.shape or right.shape != c.shape:
            continue
        if agrees(mat, vanishes, _back(np.kron(left, right), perms)):
            return Diagnosis("factor-transposed", f"the reference is the numeric Jacobian of a "
                             f"matrix product with {which} transposed: a .T too many or too few "
                             "inside the product?", (("factor", which),))
    return None


def _gradient_factor(mat: Matrices, vanishes: Vanishes, inputs: Mapping[str, np.ndarray],
                     wrt: str | None) -> Diagnosis | None:
    shape = mat.in_shape
    if shape is None or len(shape) != 2:
        return None
    g = unflatten(mat.numeric[0], shape, mat.order)
    for name, v in inputs.items():
        if v.ndim != 2 or v.shape[0] != v.shape[1] or np.allclose(v, v.T):
            continue
        try:
            inv_v, inv_vt = np.linalg.inv(v), np.linalg.inv(v.T)
        except np.linalg.LinAlgError:
            continue
        sides = []
        if v.shape[0] == shape[1]:
            sides += [("right", f"{name} where {name}.T belongs", g @ inv_vt @ v),
                      ("right", f"{name}.T where {name} belongs", g @ inv_v @ v.T)]
        if v.shape[0] == shape[0]:
            sides += [("left", f"{name} where {name}.T belongs", v @ inv_vt @ g),
                      ("left", f"{name}.T where {name} belongs", v.T @ inv_v @ g)]
        for side, what, candidate in sides:
            if agrees(mat, vanishes, flatten(candidate, mat.order)[None, :]):
                return Diagnosis("factor-transposed", f"the reference is the numeric gradient "
                                 f"with {what} (on the {side} of the product)",
                                 (("input", name), ("side", side)))
    return None


def product_term(mat: Matrices, vanishes: Vanishes, **_: Any) -> Diagnosis | None:
    """The numeric Jacobian is a sum of two Kronecker terms (a product rule:
    dX Y + X dY) and the reference another combination of the same terms."""
    if mat.reference.shape[0] == 1 or mat.reference.size > MOST_ENTRIES:
        return None
    found = _row_major(mat)
    if found is None:
        return None
    n, r = found[0], found[1]
    out, inp = mat.out_shape, mat.in_shape or ()
    mn, mr = _rearranged(n, out, inp), _rearranged(r, out, inp)
    if not float(np.abs(mr).max()) > 0:
        # A reference of zeros is no combination of the terms worth naming
        # (nor one term with other factors): nothing to split the numeric into.
        return None
    u, sv, vt = top(mn, 3)
    if sv.size and sv[0] > 0 and (sv.size < 2 or sv[1] <= RANK_TOLERANCE * sv[0]):
        return _other_factors(mr)
    if sv.size < 2 or not sv[1] > RANK_TOLERANCE * sv[0] \
            or (sv.size > 2 and sv[2] > RANK_TOLERANCE * sv[0]):
        return _with_transposed_term(mat, vanishes, n, found[2])
    pu, pv = u[:, :2] @ u[:, :2].T, vt[:2].T @ vt[:2]
    inside = pu @ mr @ pv
    scale = max(float(np.abs(mr).max()), 1e-300)
    if float(np.abs(inside - mr).max()) > 1e-6 * scale:
        return None
    return Diagnosis("product-term", "the numeric Jacobian is a sum of two terms of a product "
                     "rule (dX Y + X dY), and the reference is another combination of the same "
                     "two: one term missing or doubled, or its factors commuted (X dX for dX X)?",
                     (("terms", 2),))


def top(m: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k leading singular triplets of ``m`` (u (m, k), s (k,), vt (k, n)),
    by a randomized range finder with oversampling (Halko, Martinsson and
    Tropp): exact to rounding for a matrix of rank at most k, and what the
    rank tests need, at the cost of a few products instead of a full SVD."""
    rows, cols = m.shape
    width = min(k + 6, rows, cols)
    if width == min(rows, cols):
        u, sv, vt = np.linalg.svd(m, full_matrices=False)
        return u[:, :k], sv[:k], vt[:k]
    sketch = m @ np.random.default_rng(0).standard_normal((cols, width))
    q, _ = np.linalg.qr(m @ (m.T @ np.linalg.qr(sketch)[0]))     # one power step
    ub, sv, vt = np.linalg.svd(q.T @ m, full_matrices=False)
    return (q @ ub)[:, :k], sv[:k], vt[:k]


def _rank1(m: np.ndarray) -> np.ndarray:
    u, sv, vt = top(m, 1)
    return np.outer(u[:, 0] * sv[0], vt[0])


def _with_transposed_term(mat: Matrices, vanishes: Vanishes, n: np.ndarray, perms: Perms
                          ) -> Diagnosis | None:
    """A product rule with a term in dX and one in dX^T (X^T X, X X^T): the
    numeric Jacobian split by alternating projections into A dX B and
    C dX^T D; the reference a combination of the two other than their sum."""
    out, inp = mat.out_shape, mat.in_shape or ()
    (p, q), (r, s) = out, inp
    if r != s or n.size > SPLIT_ENTRIES:
        return None

    def commuted(t: np.ndarray) -> np.ndarray:       # J -> J K: the input's axes swapped
        return t.reshape(p * q, r, s).transpose(0, 2, 1).reshape(p * q, r * s)
    first = np.zeros_like(n)
    second = np.zeros_like(n)
    scale = max(float(np.abs(n).max()), 1e-300)
    residuals: list[float] = []
    for k in range(ALTERNATIONS):
        first = _unarranged(_rank1(_rearranged(n - second, out, inp)), out, inp)
        second = commuted(_unarranged(_rank1(_rearranged(commuted(n - first), out, inp)),
                                      out, inp))
        residuals.append(float(np.abs(first + second - n).max()) / scale)
        if residuals[-1] <= 1e-10 or _stalled(residuals, ALTERNATIONS - k - 1):
            break
    if float(np.abs(first + second - n).max()) > 1e-8 * scale \
            or float(np.abs(first).max()) < 1e-6 * scale or float(np.abs(second).max()) < 1e-6 * scale:
        return None
    basis = np.stack([first.reshape(-1), second.reshape(-1)], axis=1)
    rm = _row_major(mat)
    assert rm is not None
    coef, *_ = np.linalg.lstsq(basis, rm[1].reshape(-1), rcond=None)
    combined = (basis @ coef).reshape(n.shape)
    if np.allclose(coef, 1, rtol=1e-6) or np.allclose(coef, 0, atol=1e-6) \
            or not agrees(mat, vanishes, _back(combined, perms)):
        return None
    a, b = (float(np.round(c, 6)) for c in coef)
    return Diagnosis("product-term", f"the numeric Jacobian is the sum of a term in dX and one "
                     f"in dX^T (a product rule: dX^T X + X^T dX), and the reference is {a:g} "
                     f"times the first plus {b:g} times the second: a term missing, doubled or "
                     "written as the other?", (("terms", 2), ("coefficients", (a, b))))


def _stalled(residuals: Sequence[float], left: int) -> bool:
    """Whether alternating projections whose residuals (relative, one an
    iteration) are ``residuals`` cannot reach 1e-10 in ``left`` more
    iterations at the rate of their last STRIDE: a split that stalls (the
    numeric Jacobian is no such sum) is given up early, not after ALTERNATIONS."""
    if len(residuals) <= STRIDE or (len(residuals) - 1) % STRIDE:
        return False
    now, before = residuals[-1], residuals[-1 - STRIDE]
    if not now < 0.99 * before:
        return True
    rate = (now / before) ** (1.0 / STRIDE)
    return bool(np.log(1e-10 / now) / np.log(rate) > left)


def _unarranged(m: np.ndarray, out: tuple[int, ...], inp: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`_rearranged`."""
    (p, q), (r, s) = out, inp
    return m.reshape(p, r, q, s).transpose(0, 2, 1, 3).reshape(p * q, r * s)


def _other_factors(mr: np.ndarray) -> Diagnosis | None:
    """Numeric and reference each one Kronecker term, with other factors."""
    sv = top(mr, 2)[1]
    if not sv.size or not sv[0] > 0 or (sv.size > 1 and sv[1] > RANK_TOLERANCE * sv[0]):
        return None
    return Diagnosis("product-term", "the numeric Jacobian and the reference are each one "
                     "Kronecker term A dX B, with other factors: the factors moved across dX, "
                     "as if the matrices commuted (X^-1 X^-1 dX for X^-1 dX X^-1)?",
                     (("terms", 1),))


def low_rank(mat: Matrices, vanishes: Vanishes, **_: Any) -> Diagnosis | None:
    """Reference minus numeric has rank 1 or 2 (over the whole Jacobian, or in
    each block of an output row that depends on its input row alone): a
    missing, extra or sign-flipped term u v^T (a mean, a sum, an outer product)."""
    ref, num = mat.reference, mat.numeric
    if ref.ndim != 2 or min(ref.shape) < 3 or ref.size > MOST_ENTRIES:
        return None
    d = ref - num
    u, sv, vt = top(d, MOST_RANK)
    for k in range(1, MOST_RANK + 1):
        part = (u[:, :k] * sv[:k]) @ vt[:k]
        if vanishes(ref - part):
            return _low_rank_said(k, u[:, 0], vt[0], "")
    return _blocks_low_rank(mat, vanishes, d)


def _blocks_low_rank(mat: Matrices, vanishes: Vanishes, d: np.ndarray) -> Diagnosis | None:
    perms = _perms(mat)
    if perms is None or mat.out_shape[0] != (mat.in_shape or (0,))[0] or mat.out_shape[0] < 2:
        return None
    rows, cols = perms
    dr = d[rows][:, cols]
    p, q, s = mat.out_shape[0], mat.out_shape[1], (mat.in_shape or (0, 0))[1]
    part = np.zeros_like(dr)
    # Each block's leading triplets once, read at every rank tried.
    tops = [top(dr[i * q:(i + 1) * q, i * s:(i + 1) * s], MOST_RANK) for i in range(p)]
    for k in range(1, MOST_RANK + 1):
        for i, (u, sv, vt) in enumerate(tops):
            part[i * q:(i + 1) * q, i * s:(i + 1) * s] = (u[:, :k] * sv[:k]) @ vt[:k]
        if vanishes(mat.reference - _back(part, perms)):
            u, _, vt = tops[0]
            return _low_rank_said(k, u[:, 0], vt[0], f", in each of the {p} output rows")
    return None


def _low_rank_said(k: int, u: np.ndarray, v: np.ndarray, where: str) -> Diagnosis:
    constant = [name for name, vec in (("u", u), ("v", v))
                if vec.size > 1 and np.ptp(vec) <= 1e-6 * max(float(np.abs(vec).max()), 1e-300)]
    looks = ("constant vectors: a mean or a sum over an axis missing, extra or of the wrong "
             "sign?" if len(constant) == 2 else
             "one of them constant: a sum or mean in one direction, as in a normalization?"
             if constant else "an outer product u v^T missing, extra or of the wrong sign?")
    return Diagnosis("low-rank", f"the reference minus the numeric Jacobian has rank {k}{where}: "
                     f"{looks}", (("rank", k), ("constant", tuple(constant))))
