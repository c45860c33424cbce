"""Structure: fewer evaluations where the Jacobian is sparse.

Two columns are structurally independent when no output depends on both;
then both input elements can be perturbed in one evaluation and the change of
each output credited to the one column it depends on (Curtis, Powell and Reid,
1974). Columns are grouped greedily (as SciPy's ``group_columns``), and a
central difference costs 2 evaluations per group instead of per column: a
banded Jacobian of bandwidth b costs about 2(b + 1) evaluations, whatever n.

The pattern is given (a 0/1 matrix, ``diagonal``, ``{band: [lower, upper]}``,
``{blocks: k}``) or detected by :func:`detect`: random groups of columns are
moved together and the outputs that change are recorded; an output depends on
a column only if it changed every time that column's group moved. That costs
``probes x groups`` evaluations, independent of n, and errs only towards
extra entries (never a missing one, barring an exact cancellation).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy import sparse

from .protocols import Evaluator, Flat
from .engine import JacobianResult, Plan, execute, nonfinite_flag
from .errors import SparsityError
from .evaluate import Batch
from .stencils import Method
from .step import pattern_steps, steps_for

DETECT_PROBES = 4
DENSE_LIMIT = 2 * 2**30   # bytes: the result is a dense (m, n) array


def pattern_from(spec: Any, m: int, n: int) -> sparse.csr_matrix:
    """The (m, n) boolean sparsity pattern a specification describes.

    Parameters
    ----------
    spec : array-like (m, n), scipy sparse matrix, "diagonal", {"band": [lower, upper]}
        or {"blocks": k} (k equal diagonal blocks)

    Raises
    ------
    SparsityError
        For a specification that does not fit (m, n).
    """
    if isinstance(spec, str):
        if spec != "diagonal":
            raise SparsityError(f"unknown sparsity {spec!r}; expected diagonal, detect, "
                             "{band: [lower, upper]}, {blocks: k} or a 0/1 matrix")
        spec = {"band": [0, 0]}
    if isinstance(spec, Mapping):
        if set(spec) == {"band"}:
            lower, upper = (int(v) for v in spec["band"])
            offsets = [k for k in range(-lower, upper + 1) if -m < k < n]
            band = sparse.diags([np.ones(min(m, n))] * len(offsets), offsets, shape=(m, n))
            return sparse.csr_matrix(band, dtype=bool)
        if set(spec) == {"blocks"}:
            k = int(spec["blocks"])
            if k <= 0 or m % k or n % k:
                raise SparsityError(f"{k} blocks do not divide a {m} x {n} Jacobian")
            return sparse.csr_matrix(sparse.block_diag([np.ones((m // k, n // k), bool)] * k))
        raise SparsityError(f"a sparsity mapping has one key, band or blocks, not {sorted(spec)}")
    mat = sparse.csr_matrix(spec) if sparse.issparse(spec) else sparse.csr_matrix(np.asarray(spec) != 0)
    if mat.shape != (m, n):
        raise SparsityError(f"the sparsity pattern is {mat.shape[0]} x {mat.shape[1]}; the Jacobian "
                         f"is {m} x {n}")
    return mat.astype(bool)


def group_columns(pattern: sparse.spmatrix) -> np.ndarray:
    """Greedy Curtis-Powell-Reid grouping: shape (n,), the group of each column.

    No two columns of a group share a row of ``pattern``.
    """
    csc = sparse.csc_matrix(pattern, dtype=bool)
    m, n = csc.shape
    if n and np.diff(sparse.csr_matrix(csc).indptr).max(initial=0) > n // 2:
        # A row that depends on most columns leaves nothing to group.
        return np.arange(n)
    group = np.empty(n, dtype=np.int64)
    used: list[np.ndarray] = []         # rows taken, per group
    for c in range(n):
        rows = csc.indices[csc.indptr[c]:csc.indptr[c + 1]]
        for g, taken in enumerate(used):
            if not taken[rows].any():
                taken[rows] = True
                group[c] = g
                break
        else:
            taken = np.zeros(m, dtype=bool)
            taken[rows] = True
            used.append(taken)
            group[c] = len(used) - 1
    return group


def detect(fn: Flat, probes: int = DETECT_PROBES, groups: int | None = None,
           evaluator: Evaluator | None = None, seed: int = 0) -> tuple[sparse.csr_matrix, int]:
    """The sparsity pattern of fn's Jacobian at fn.x0, from random group probes.

    Returns
    -------
    pattern : csr_matrix of bool, shape (m, n)
        A superset of the nonzeros (an output marked for a column changed in
        every probe that moved it).
    evaluations : int
        probes x groups.
    """
    n, m = fn.n, fn.m
    g_count = min(n, groups or max(32, 4 * int(np.ceil(np.sqrt(n)))))
    rng = np.random.default_rng(seed)
    x64 = fn.x0.astype(np.float64)
    h = pattern_steps(x64, fn.dtype)
    f0 = fn.value.real
    # Each probe assigns every column to one of g_count random groups and
    # moves each group together, by random signs and sizes: a cancellation
    # between columns is then a coincidence.
    assign = np.empty((probes, n), dtype=np.int64)
    moves = []
    for p in range(probes):
        assign[p] = rng.permutation(n) % g_count
        order = np.argsort(assign[p], kind="stable")
        indptr = np.searchsorted(assign[p][order], np.arange(g_count + 1))
        delta = h[order] * rng.choice([-1.0, 1.0], n) * rng.uniform(1.0, 2.0, n)
        moves.append(Batch(order, (x64[order] + delta).astype(fn.dtype), indptr))
    marked = np.empty((probes, m, g_count), dtype=bool)

    def combine(ys: np.ndarray, a: int, b: int) -> None:
        marked[a:b] = (ys.reshape(b - a, g_count, m) != f0).transpose(0, 2, 1)

    def points(a: int, b: int) -> Batch:
        if b - a == 1:
            return moves[a]
        size = [len(mv.indices) for mv in moves[a:b]]
        offsets = np.cumsum([0] + size[:-1])
        ends = [np.asarray(mv.indptr)[1:] + off for mv, off in zip(moves[a:b], offsets)]
        return Batch(np.concatenate([mv.indices for mv in moves[a:b]]),
                     np.concatenate([mv.values for mv in moves[a:b]]),
                     np.concatenate([np.zeros(1, dtype=np.int64), *ends]))

    used = execute(fn, Plan(probes, g_count, points, combine), evaluator)
    # Output r depends on column c only if it moved in every probe that moved c.
    cols = []
    rows = []
    chunk = max(1, 2**24 // max(n, 1))
    for a in range(0, m, chunk):
        possible = np.ones((min(m, a + chunk) - a, n), dtype=bool)
        for p in range(probes):
            possible &= marked[p, a:a + chunk][:, assign[p]]
        r, c = np.nonzero(possible)
        rows.append(r + a)
        cols.append(c)
    r = np.concatenate(rows) if rows else np.empty(0, int)
    c = np.concatenate(cols) if cols else np.empty(0, int)
    pattern = sparse.csr_matrix((np.ones(r.size, bool), (r, c)), shape=(m, n))
    return pattern, used


def sparse_jacobian(fn: Flat, method: Method, pattern: sparse.spmatrix, evaluator: Evaluator | None = None,
                    extra_evaluations: int = 0) -> JacobianResult:
    """The Jacobian by grouped perturbations (Curtis-Powell-Reid).

    Parameters
    ----------
    fn : FlatFunction
    method : Method
        A stencil (central, forward, backward, any order).
    pattern : sparse matrix (m, n)
        Where the Jacobian may be nonzero; entries outside are 0.
    extra_evaluations : int
        Evaluations already spent (on detection), added to the count.

    Returns
    -------
    JacobianResult
        ``evaluations`` = points of the stencil x number of groups (+ extra).
    """
    st = method.stencil()
    n, m = fn.n, fn.m
    if m * n * 8 > DENSE_LIMIT:
        raise SparsityError(f"the Jacobian is {m} x {n}: {m * n * 8 / 2**30:.1f} GiB as a dense "
                            "array. Check it along random directions instead (directions: 3)")
    x64 = fn.x0.astype(np.float64)
    h = steps_for(fn.x0, fn.dtype, st, method.step)
    group = group_columns(pattern)
    count = int(group.max()) + 1 if n else 0
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(count + 1))
    points_of = st.perturbed
    p = len(points_of)
    f0 = fn.value.real
    along = np.empty((count, m))   # J v_g, v_g = sum_{c in g} h_c e_c, the stencil along a unit step

    def points(a: int, b: int) -> Batch:
        # One point per (group, stencil offset): every column of the group moved by c h.
        members = [order[starts[g]:starts[g + 1]] for g in range(a, b)]
        indices = [mem for mem in members for _ in points_of]
        values = [(x64[mem] + c * h[mem]).astype(fn.dtype) for mem in members for c, _ in points_of]
        sizes = np.array([len(i) for i in indices], dtype=np.int64)
        return Batch(np.concatenate(indices), np.concatenate(values),
                     np.concatenate([[0], np.cumsum(sizes)]))

    def combine(ys: np.ndarray, a: int, b: int) -> None:
        ys = ys.reshape(b - a, p, m)
        along[a:b] = sum(w * (ys[:, q] - f0) for q, (_, w) in enumerate(points_of))

    used = execute(fn, Plan(count, p, points, combine), evaluator)
    coo = sparse.coo_matrix(pattern)
    jac = np.zeros((m, n))
    jac[coo.row, coo.col] = along[group[coo.col], coo.row] / h[coo.col]
    return JacobianResult(jac, fn.value.real, h, used + extra_evaluations,
                          fn.in_shape, fn.out_shape, fn.order, method, None,
                          nonfinite_flag(jac), fn.precision)


def patterned_jacobian(fn: Flat, method: Method, sparsity: Any, evaluator: Evaluator | None = None
                       ) -> JacobianResult:
    """The numeric Jacobian by grouped perturbations, for a pattern given or
    ``"detect"`` (found from random probes first)."""
    if isinstance(sparsity, str) and sparsity == "detect":
        pattern, spent = detect(fn, evaluator=evaluator)
    else:
        pattern, spent = pattern_from(sparsity, fn.m, fn.n), 0
    return sparse_jacobian(fn, method, pattern, evaluator, spent)
