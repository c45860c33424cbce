"""What a mismatch looks like: the explanations a person would try, tested.

For a failing check, each explanation turns the reference into what it would
be had the person made that mistake, undone: negated, divided by a factor,
read with an input's or the output's axes transposed, read in the other
vectorization order, turned from a structured (symmetric) derivative into an
unstructured one, or taken for another input's. An explanation is reported
only where it makes every counted mismatch vanish within the check's own
tolerance. Where none does, the mismatch is located: confined to some outputs
(rows), some input elements (columns), or a few entries.

Pure functions over the matrices a :class:`~fdcheck.compare.Comparison` kept.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from .compare import Comparison, Diagnosis, Matrices
from .layout import as_order, element_labels, flatten, size_of, unflatten

STRUCTURED = ("sign", "scale", "transpose", "order", "symmetric", "other-input")
MOST_LABELS = 6      # labels listed in a rows/columns diagnosis before "..."
FEW_ENTRIES = 3      # at most this many isolated entries (or 1% of them) make "entries"


def _vanishes(mat: Matrices, candidate: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.isfinite(candidate).all()) and not mat.mismatched_by(candidate).any()


def _perm_transposed(shape: tuple[int, ...], order: str) -> np.ndarray | None:
    """For a matrix of ``shape`` (a, b): position in vec(W) of each position in
    vec(W.T) -- the reference read as if it were of W.T."""
    if len(shape) != 2 or 1 in shape:
        return None
    a, b = shape
    idx = np.arange(a * b).reshape(shape, order=as_order(order))     # idx[i, j] = position of W[i, j]
    return flatten(idx.T, order)                           # positions of W.T[j, i] = W[i, j]


def _perm_other_order(shape: tuple[int, ...], order: str) -> np.ndarray | None:
    """Position in this order's vec of each position in the other order's vec."""
    if len([d for d in shape if d > 1]) < 2:
        return None
    idx = np.arange(size_of(shape)).reshape(shape, order=as_order(order))
    return flatten(idx, "F" if order == "C" else "C")


def _sign(mat: Matrices, **_: Any) -> Diagnosis | None:
    if _vanishes(mat, -mat.reference):
        return Diagnosis("sign", "the reference is minus the numeric derivative: a sign flipped?")
    return None


def _scale(mat: Matrices, **_: Any) -> Diagnosis | None:
    num, ref = mat.numeric, mat.reference
    with np.errstate(all="ignore"):
        denom = float(np.sum(num * num))
        if not denom > 0 or not np.isfinite(denom):
            return None
        c = float(np.sum(ref * num) / denom)
        if not np.isfinite(c) or abs(c) < 1e-12 or abs(abs(c) - 1) < 1e-6:
            return None
        nice = _round_factor(c)
    if nice is not None and _vanishes(mat, ref / nice):
        if abs(nice) > 1:
            said = (f"the reference is {_fraction(nice)} times the numeric derivative: a factor "
                    f"{_fraction(nice)} too many, or its inverse missing?")
        else:
            said = (f"the reference is {_fraction(nice)} of the numeric derivative: a factor "
                    f"{_fraction(1 / nice)} missing, or its inverse too many?")
        return Diagnosis("scale", said, (("factor", nice),))
    return None


def _fraction(x: float) -> str:
    """A factor as a person writes it: 2, -1/2, 2/3."""
    f = Fraction(x).limit_denominator(1000)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _round_factor(c: float) -> float | None:
    """The factor people drop or add near c: a whole number (2, -1/2's 2,
    a batch size) or a simple fraction (1/3, 3/2), or its inverse; None where
    c is no such number (as a noisy derivative's ratio is not)."""
    for denominator in (1, 2, 3, 4):
        near = round(c * denominator) / denominator
        if near and abs(near - c) <= 1e-6 * abs(c):
            return near
    whole = round(1 / c)
    if whole and abs(1 / whole - c) <= 1e-6 * abs(c):
        return 1 / whole
    return None


def _transpose(mat: Matrices, **_: Any) -> Diagnosis | None:
    ref = mat.reference
    if ref.ndim != 2 or mat.in_shape is None:
        return None
    for axes, shape in (("input", mat.in_shape), ("output", mat.out_shape)):
        perm = _perm_transposed(shape, mat.order)
        if perm is None:
            continue
        candidate = ref[:, np.argsort(perm)] if axes == "input" else ref[np.argsort(perm), :]
        if _vanishes(mat, candidate):
            what = "gradient" if ref.shape[0] == 1 else "Jacobian"
            return Diagnosis("transpose", f"the reference is the numeric {what} with the "
                                          f"{axes}'s axes transposed: a .T too many or too few?",
                             (("axes", axes),))
    return None


def _order(mat: Matrices, **_: Any) -> Diagnosis | None:
    ref = mat.reference
    if ref.ndim != 2 or mat.in_shape is None:
        return None
    cols = _perm_other_order(mat.in_shape, mat.order)
    rows = _perm_other_order(mat.out_shape, mat.order)
    if cols is None and rows is None:
        return None
    candidate = ref
    if rows is not None:
        candidate = candidate[np.argsort(rows), :]
    if cols is not None:
        candidate = candidate[:, np.argsort(cols)]
    if _vanishes(mat, candidate):
        this, other = (("row-major", "column-major") if mat.order == "C"
                       else ("column-major", "row-major"))
        return Diagnosis("order", f"the reference is the {other} Jacobian in a {this} case: "
                                  f"its rows and columns read in the other vectorization order "
                                  f"(order: {'F' if mat.order == 'C' else 'C'}?)")
    return None


def _symmetric(mat: Matrices, value: np.ndarray | None = None, **_: Any) -> Diagnosis | None:
    shape = mat.in_shape
    if mat.reference.ndim != 2 or shape is None or len(shape) != 2 or shape[0] != shape[1] \
            or value is None or not np.allclose(value, value.T, rtol=1e-12, atol=0):
        return None
    n = shape[0]
    g = np.stack([unflatten(row, shape, mat.order) for row in mat.numeric])   # (m, n, n)
    gt = g.transpose(0, 2, 1)
    forms = (
        (g + gt - np.einsum("kii->ki", g)[:, :, None] * np.eye(n), "G + G^T - diag(G)",
         "the derivative with X[i, j] and X[j, i] taken as one variable"),
        ((g + gt) / 2, "(G + G^T) / 2", "the gradient within symmetric matrices"))
    for structured, what, why in forms:
        if _vanishes_against(mat, np.stack([flatten(s, mat.order) for s in structured])):
            return Diagnosis("symmetric", f"the input is symmetric and the reference is {what} "
                                          f"of the numeric G, {why}; fdcheck perturbs each "
                                          "entry on its own, so it computes the unstructured G",
                             (("form", what),))
    return None


def _other_input(mat: Matrices, others: Mapping[str, np.ndarray] | None = None,
                 **_: Any) -> Diagnosis | None:
    for name, numeric in (others or {}).items():
        if numeric.shape == mat.reference.shape and _vanishes_against(mat, numeric):
            return Diagnosis("other-input", f"the reference matches the derivative with respect "
                                            f"to {name}: the inputs mixed up?", (("input", name),))
    return None


def _vanishes_against(mat: Matrices, numeric: np.ndarray) -> bool:
    """Whether another numeric matrix (another input's, a structured form of
    this one) agrees with the reference within this check's bounds."""
    with np.errstate(all="ignore"):
        return bool(np.isfinite(numeric).all()) and not (
            ~(np.abs(numeric - mat.reference) <= mat.bound) & ~mat.unreliable).any()


def _labels(name: str, shape: tuple[int, ...] | None, order: str, picked: np.ndarray) -> list[str]:
    labels = element_labels(name, shape or (), order) if shape is not None else []
    return [labels[i] if i < len(labels) else str(i) for i in picked]


def _where(mat: Matrices, out_name: str, in_name: str) -> list[Diagnosis]:
    """Rows, columns or entries: where the mismatch is, when nothing explains it."""
    bad = mat.mismatched_by(mat.reference)
    if mat.reference.ndim != 2 or not bad.any():
        return []
    m, n = bad.shape
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    count = int(bad.sum())
    out: list[Diagnosis] = []

    def listed(labels: list[str]) -> str:
        return ", ".join(labels[:MOST_LABELS]) + (", ..." if len(labels) > MOST_LABELS else "")

    if count <= max(FEW_ENTRIES, bad.size // 100) and len(rows) > 1 and len(cols) > 1 \
            or count == 1:
        r, c = np.nonzero(bad)
        entries = [f"d{o}/d{i}" for o, i in zip(_labels(out_name, mat.out_shape, mat.order, r),
                                                 _labels(in_name, mat.in_shape, mat.order, c))]
        verb = "entry differs" if count == 1 else "entries differ"
        out.append(Diagnosis("entries", f"{count} isolated {verb}: {listed(entries)}",
                             (("entries", entries),)))
        return out
    if len(rows) < m:
        labels = _labels(out_name, mat.out_shape, mat.order, rows)
        out.append(Diagnosis("rows", f"only the derivatives of {listed(labels)} differ "
                                     f"({len(rows)} of {m} outputs)", (("outputs", labels),)))
    if len(cols) < n:
        labels = _labels(in_name, mat.in_shape, mat.order, cols)
        out.append(Diagnosis("columns", f"only the derivatives with respect to {listed(labels)} "
                                        f"differ ({len(cols)} of {n} input elements)",
                             (("inputs", labels),)))
    # The more confined first: a few input elements of many, or a few outputs of many.
    share = {"rows": len(rows) / m, "columns": len(cols) / n}
    return sorted(out, key=lambda d: share[d.kind])


EXPLANATIONS = (_sign, _transpose, _order, _symmetric, _other_input, _scale)


def diagnose(comp: Comparison, others: Mapping[str, np.ndarray] | None = None,
             value: np.ndarray | None = None) -> tuple[Diagnosis, ...]:
    """The explanations of a failing check's mismatch, most specific first.

    Parameters
    ----------
    comp : Comparison
        With its matrices kept.
    others : mapping name -> ndarray (m, n), optional
        The numeric Jacobians of the same output with respect to the case's
        other inputs, for ``other-input``.
    value : ndarray, optional
        The input's value, shaped as the input: ``symmetric`` needs to know
        that it is a symmetric matrix.

    Returns
    -------
    tuple of Diagnosis
        Empty for a passing check, or one whose reference is unknown.
    """
    mat = comp.matrices
    if comp.passed or mat is None or comp.worst is None or comp.against == "value":
        return ()
    found = [d for explain in EXPLANATIONS
             if (d := explain(mat, others=others, value=value)) is not None]
    if any(d.kind == "sign" for d in found):
        found = [d for d in found if d.kind != "scale"]
    return tuple(found) + tuple(_where(mat, comp.out_name, str(comp.wrt)))
