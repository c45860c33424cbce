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
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .compare import Comparison, Diagnosis, Matrices, beyond, entry_bounds
from . import products
from .layout import as_order, element_label, flatten, size_of, unflatten, unravel
from .tolerances import largest_finite

STRUCTURED = ("sign", "scale", "transpose", "order", "symmetric", "other-input", "conjugate",
              "jacobian-transposed", "hessian-asymmetric", "factor-transposed", "product-term",
              "low-rank")
MOST_LABELS = 6      # labels listed in a rows/columns diagnosis before "..."
FEW_ENTRIES = 3      # at most this many isolated entries (or 1% of them) make "entries"
MANY_ENTRIES = 100   # ...but never more than this many: thousands are no "isolated entries"


# Entries a candidate reference is tried at first: the worst of as many columns.
FIRST_TRIED = 64


def _vanishes(mat: Matrices, candidate: np.ndarray) -> bool:
    """Whether ``candidate`` (the reference read another way) matches the
    numeric derivative at every counted entry."""
    return _vanishes_built(mat, lambda rows, cols: candidate[rows, cols],
                           mat.tolerance.absolute_atol(candidate), lambda: candidate)


def _vanishes_built(mat: Matrices, entries: Callable[[np.ndarray, np.ndarray], np.ndarray],
                    atol: float, build: Callable[[], np.ndarray]) -> bool:
    """:func:`_vanishes` of a candidate tried first at the worst entries by
    its ``entries`` at (rows, columns), whose absolute atol is ``atol``, and
    only where it fits there built whole (``build``) and tried at every
    counted entry: most explanations tried are wrong, and are seen to be
    there without building a candidate or a pass over the whole matrix."""
    with np.errstate(all="ignore"):
        if _differs_at_worst(mat, entries, atol):
            return False
        candidate = build()
        return bool(np.isfinite(candidate).all()) and not mat.differs_by(candidate)


def _differs_at_worst(mat: Matrices, entries: Callable[[np.ndarray, np.ndarray], np.ndarray],
                      atol: float) -> bool:
    """Whether a candidate, given by its ``entries`` at (rows, columns) and
    whose absolute atol is ``atol``, differs beyond its bound at one of the
    entries where the reference differed most (each failing column's worst,
    the FIRST_TRIED furthest). The bounds are those
    :meth:`Matrices.mismatched_by` takes, entry for entry."""
    if mat.numeric.ndim != 2 or mat.columns is None:
        return False
    rows, at = mat.worst_entries(FIRST_TRIED)
    if not at.size:
        return False
    picked = entries(rows, at)[None, :]
    _, bound = entry_bounds(picked, mat.tolerance,
                            None if mat.estimate is None else mat.estimate[rows, at][None, :],
                            None if mat.floor is None else np.asarray(mat.floor)[at],
                            atol=atol)
    return bool(beyond(mat.numeric[rows, at][None, :], picked, bound).any())


def _vanishes_reindexed(mat: Matrices, rows: np.ndarray | None, cols: np.ndarray | None) -> bool:
    """:func:`_vanishes` of the reference with its rows and columns read at
    ``rows`` and ``cols`` (None: as they are), tried at the worst entries
    before the whole matrix is built: a permutation keeps the largest entry,
    and so the atol."""
    ref = mat.reference

    def entries(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return ref[r if rows is None else rows[r], c if cols is None else cols[c]]

    def build() -> np.ndarray:
        candidate = ref if rows is None else ref[rows, :]
        return candidate if cols is None else candidate[:, cols]
    return _vanishes_built(mat, entries, mat.tolerance.absolute_atol(ref), build)


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


def _vanishes_divided(mat: Matrices, c: float) -> bool:
    """:func:`_vanishes` of the reference divided by ``c``, tried at the worst
    entries before the whole candidate is built: most factors tried are wrong
    (a sign), and a large matrix's candidate is a pass and a copy. Dividing
    keeps the order of the entries' sizes, so the largest, and the atol."""
    ref = mat.reference
    with np.errstate(all="ignore"):
        atol = mat.tolerance.absolute_atol(np.array([largest_finite(ref) / c]))
    return _vanishes_built(mat, lambda r, k: ref[r, k] / c, atol, lambda: ref / c)


def _sign(mat: Matrices, **_: Any) -> Diagnosis | None:
    if _vanishes_divided(mat, -1.0):
        return Diagnosis("sign", "the reference is minus the numeric derivative: a sign flipped?")
    return None


def _scale(mat: Matrices, **_: Any) -> Diagnosis | None:
    num, ref = mat.numeric, mat.reference
    with np.errstate(all="ignore"):
        # Dot products, without a product matrix of the Jacobian's size each.
        denom = float(np.vdot(num, num))
        if not denom > 0 or not np.isfinite(denom):
            return None
        c = float(np.vdot(ref, num) / denom)
        if not np.isfinite(c) or abs(c) < 1e-12 or abs(abs(c) - 1) < 1e-6:
            return None
        nice = _round_factor(c)
    if nice is None and _vanishes_divided(mat, c):
        # A factor that is no simple number: a norm, a count, a step size.
        return Diagnosis("scale", f"the reference is {c:.6g} times the numeric derivative, "
                         "everywhere: a factor missing or too many (not a simple number: a "
                         "norm, a size, a step?)", (("factor", c),))
    if nice is not None and _vanishes_divided(mat, nice):
        if abs(nice) > 1:
            said = (f"the reference is {_fraction(nice)} times the numeric derivative: a factor "
                    f"{_fraction(nice)} too many, or its inverse missing?")
        else:
            said = (f"the reference is {_fraction(nice)} of the numeric derivative: a factor "
                    f"{_fraction(1 / nice)} missing, or its inverse too many?")
        return Diagnosis("scale", said, (("factor", nice),))
    return None


def _fraction(x: float) -> str:
    """A factor as a person writes it: 2, -1/2, 2/3, 1/2000."""
    f = Fraction(x).limit_denominator(1000)
    if abs(float(f) - x) > 1e-9 * abs(x):
        # The inverse of a whole number too large for the denominators above.
        whole = round(1 / x)
        return f"1/{whole}" if whole > 0 else f"-1/{-whole}"
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
        index = np.argsort(perm)
        if _vanishes_reindexed(mat, None if axes == "input" else index,
                               index if axes == "input" else None):
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
    if _vanishes_reindexed(mat, None if rows is None else np.argsort(rows),
                           None if cols is None else np.argsort(cols)):
        this, other = (("row-major", "column-major") if mat.order == "C"
                       else ("column-major", "row-major"))
        return Diagnosis("order", f"the reference is the {other} Jacobian in a {this} case: "
                                  f"its rows and columns read in the other vectorization order "
                                  f"(order: {'F' if mat.order == 'C' else 'C'}?)")
    return None


def _symmetric(mat: Matrices, value: np.ndarray | None = None, wrt: str | None = None,
               **_: Any) -> Diagnosis | None:
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
                                          "entry on its own, so it computes the unstructured G "
                                          f"(structure: {{{wrt or 'X'}: symmetric}} checks "
                                          "within symmetric matrices)",
                             (("form", what),))
    return None


def _convention(mat: Matrices, structure: Any = None, convention: str = "projected",
                derivative: int = 1, **_: Any) -> Diagnosis | None:
    """A reference for a structured input written in the other convention:
    the derivative over the independent entries where the projected gradient
    was asked for, or the other way round (a factor 2 off the diagonal of a
    symmetric or skew matrix)."""
    if structure is None or derivative != 1 or mat.reference.ndim != 2:
        return None
    ratio = structure.convention_ratio()
    if np.all(ratio == 1) or ratio.shape[0] != mat.reference.shape[1]:
        return None
    if convention == "projected":
        other, candidate = "entries", mat.numeric * ratio[None, :]
        written = "the derivative over the independent entries (G + G^T - diag(G) for a " \
                  "symmetric input)"
    else:
        other, candidate = "projected", mat.numeric / ratio[None, :]
        written = "the gradient on the structured set ((G + G^T)/2 for a symmetric input)"
    if not _vanishes_against(mat, candidate):
        return None
    return Diagnosis("symmetric", f"the input is {structure.kind} and the reference is "
                                  f"{written}, read here in the {convention} convention: "
                                  f"convention: {other}?", (("form", other),))


def _other_input(mat: Matrices, others: Mapping[str, np.ndarray] | None = None,
                 **_: Any) -> Diagnosis | None:
    for name, numeric in (others or {}).items():
        if numeric.shape == mat.reference.shape and _vanishes_against(mat, numeric):
            return Diagnosis("other-input", f"the reference matches the derivative with respect "
                                            f"to {name}: the inputs mixed up?", (("input", name),))
    return None


def _jacobian_transposed(mat: Matrices, **_: Any) -> Diagnosis | None:
    ref = mat.reference
    if ref.ndim != 2 or ref.shape[0] != ref.shape[1] or ref.shape[0] < 2:
        return None
    if _vanishes(mat, ref.T):
        return Diagnosis("jacobian-transposed", "the reference is the numeric Jacobian "
                         "transposed: J^T where J belongs (a vector-Jacobian product used as a "
                         "Jacobian-vector product, or the other way round?)")
    return None


def _hessian_asymmetric(mat: Matrices, derivative: int = 1, **_: Any) -> Diagnosis | None:
    ref, num = mat.reference, mat.numeric
    if derivative != 2 or ref.ndim != 2 or ref.shape[0] != ref.shape[1]:
        return None
    with np.errstate(all="ignore"):
        if (np.abs(ref - ref.T) <= mat.bound).all() or not (np.abs(num - num.T) <= mat.bound).all():
            return None
        half = (ref + ref.T) / 2
        triangle = np.where(ref != 0, ref, ref.T)
    if _vanishes(mat, half):
        said = "its symmetric part (R + R^T)/2 matches: the mixed terms split unevenly?"
    elif _vanishes(mat, triangle):
        said = ("it is one triangle of the numeric one: each mixed term d2f/dx_i dx_j written "
                "on one side only (the other side belongs too)")
    else:
        said = "its symmetric part does not match either"
    return Diagnosis("hessian-asymmetric", "the reference Hessian is not symmetric where the "
                     f"numeric one is: {said}", (("symmetric_part_matches",
                                                   said.startswith("its symmetric part (")),))


def _conjugate(mat: Matrices, complex_input: bool = False, out_name: str = "",
               **_: Any) -> Diagnosis | None:
    """A complex input checked in real form (its last axis: real, imaginary):
    the reference with the imaginary columns of the other sign is a derivative
    conjugated (for the imaginary part of an output, the real columns)."""
    ref = mat.reference
    if not complex_input or ref.ndim != 2 or not mat.in_shape or mat.in_shape[-1] != 2:
        return None
    parts = np.asarray(np.unravel_index(np.arange(ref.shape[1]), mat.in_shape,
                                         order=as_order(mat.order))[-1])
    flipped = 0 if out_name.endswith(".imag") else 1
    candidate = np.where(parts[None, :] == flipped, -ref, ref)
    if _vanishes(mat, candidate):
        return Diagnosis("conjugate", "the reference is the numeric derivative conjugated: a "
                         "conj() missing or too many (PyTorch's backward returns g * conj(f'(z)) "
                         "for a holomorphic f; JAX's custom_vjp returns g * f'(z))")
    return None


def _vanishes_against(mat: Matrices, numeric: np.ndarray) -> bool:
    """Whether another numeric matrix (another input's, a structured form of
    this one) agrees with the reference within this check's bounds."""
    with np.errstate(all="ignore"):
        return bool(np.isfinite(numeric).all()) and not (
            ~(np.abs(numeric - mat.reference) <= mat.bound) & ~mat.unreliable).any()


def _labels(name: str, shape: tuple[int, ...] | None, order: str, picked: np.ndarray,
            given: Sequence[str] | None = None) -> list[str]:
    if given is None and shape is not None:
        # The picked elements' labels alone, not every element's.
        size = size_of(shape)
        return [element_label(name, unravel(int(i), shape, order)) if i < size else str(i)
                for i in picked]
    labels = list(given) if given is not None else []
    return [labels[i] if i < len(labels) else str(i) for i in picked]


def _where(mat: Matrices, out_name: str, in_name: str,
           labels: tuple[Sequence[str] | None, Sequence[str] | None] = (None, None)
           ) -> list[Diagnosis]:
    """Rows, columns or entries: where the mismatch is, when nothing explains it."""
    bad = mat.mismatched()
    if mat.reference.ndim != 2 or not bad.any():
        return []
    m, n = bad.shape
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    count = int(bad.sum())
    out: list[Diagnosis] = []

    def listed(labels: list[str]) -> str:
        return ", ".join(labels[:MOST_LABELS]) + (", ..." if len(labels) > MOST_LABELS else "")

    if count <= max(FEW_ENTRIES, min(bad.size // 100, MANY_ENTRIES)) and len(rows) > 1 and len(cols) > 1 \
            or count == 1:
        r, c = np.nonzero(bad)
        entries = [f"d{o}/d{i}" for o, i in zip(
            _labels(out_name, mat.out_shape, mat.order, r, labels[0]),
            _labels(in_name, mat.in_shape, mat.order, c, labels[1]))]
        verb = "entry differs" if count == 1 else "entries differ"
        out.append(Diagnosis("entries", f"{count} isolated {verb}: {listed(entries)}",
                             (("entries", entries),)))
        return out
    if len(rows) < m:
        names = _labels(out_name, mat.out_shape, mat.order, rows, labels[0])
        out.append(Diagnosis("rows", f"only the derivatives of {listed(names)} differ "
                                     f"({len(rows)} of {m} outputs)", (("outputs", names),)))
    if len(cols) < n:
        names = _labels(in_name, mat.in_shape, mat.order, cols, labels[1])
        out.append(Diagnosis("columns", f"only the derivatives with respect to {listed(names)} "
                                        f"differ ({len(cols)} of {n} input elements)",
                             (("inputs", names),)))
    # The more confined first: a few input elements of many, or a few outputs of many.
    share = {"rows": len(rows) / m, "columns": len(cols) / n}
    return sorted(out, key=lambda d: share[d.kind])


def _finite(mat: Matrices) -> bool:
    """Whether both matrices are finite: the structure of matrix calculus
    (Kronecker factors, ranks) is read by SVDs, which a NaN or an infinity
    stops from converging."""
    return bool(np.isfinite(mat.reference).all() and np.isfinite(mat.numeric).all())


def _factor_transposed(mat: Matrices, **context: Any) -> Diagnosis | None:
    if not _finite(mat):
        return None
    return products.factor_transposed(mat, lambda c: _vanishes(mat, c), **context)


def _product_term(mat: Matrices, **context: Any) -> Diagnosis | None:
    if not _finite(mat):
        return None
    return products.product_term(mat, lambda c: _vanishes(mat, c), **context)


def _low_rank(mat: Matrices, **context: Any) -> Diagnosis | None:
    if not _finite(mat):
        return None
    return products.low_rank(mat, lambda c: _vanishes(mat, c), **context)


def _spread(mat: Matrices, out_name: str, in_name: str) -> Diagnosis | None:
    """Where nothing explains or confines the mismatch: how much of it there
    is, how large, and which way."""
    bad = mat.mismatched()
    if not bad.any():
        return None
    num, ref = mat.numeric, mat.reference
    with np.errstate(all="ignore"):
        rel = np.abs(ref - num) / np.maximum(np.abs(num), np.abs(ref))
        worst = float(np.nanmax(np.where(bad, rel, np.nan)))
        ratio = float(np.linalg.norm(ref[np.isfinite(ref)]) / np.linalg.norm(num))
    m, n = (bad.shape if bad.ndim == 2 else (bad.size, 1))
    rows = int(bad.reshape(m, -1).any(axis=1).sum())
    cols = int(bad.reshape(m, -1).any(axis=0).sum())
    way = ("larger" if ratio > 1 else "smaller") if np.isfinite(ratio) and ratio != 1 else "as large"
    return Diagnosis("spread", f"{int(bad.sum())} of {bad.size} entries differ ("
                     f"{bad.sum() / bad.size:.0%}), in {rows} of {m} outputs and {cols} of {n} "
                     f"input elements; the largest relative error is {worst:.2g}, and the "
                     f"reference is {way} than the numeric derivative overall (norm ratio "
                     f"{ratio:.3g})", (("share", float(bad.sum() / bad.size)),
                                      ("max_rel_error", worst), ("norm_ratio", ratio)))


# Most specific first: an explanation that names the culprit before one that
# only describes the difference's shape.
EXPLANATIONS = (_sign, _conjugate, _transpose, _factor_transposed, _order, _jacobian_transposed,
                _hessian_asymmetric, _convention, _symmetric, _other_input, _scale, _product_term, _low_rank)
DESCRIPTIONS = (_product_term, _low_rank)   # the last of EXPLANATIONS: shapes, not names


def diagnose(comp: Comparison, others: Mapping[str, np.ndarray] | None = None,
             value: np.ndarray | None = None, inputs: Mapping[str, np.ndarray] | None = None,
             complex_input: bool = False, structure: Any = None,
             convention: str = "projected") -> tuple[Diagnosis, ...]:
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
    inputs : mapping name -> ndarray, optional
        The case's other inputs' values: ``factor-transposed`` looks for one
        of them in place of its transpose.
    complex_input : bool
        The input is complex, checked in real form: ``conjugate`` applies.
    structure : Structure, optional
        The input's structure (its columns are coordinates): a reference in
        the other ``convention`` is named (``symmetric``).
    convention : str
        The convention the case reads references of structured inputs in.

    Returns
    -------
    tuple of Diagnosis
        Empty for a passing check, or one whose reference is unknown.
    """
    mat = comp.matrices
    # A check that failed with no mismatch (it could see nothing) has none to explain.
    if comp.passed or mat is None or comp.worst is None or comp.against == "value" \
            or not comp.mismatches:
        return ()
    context: dict[str, Any] = dict(others=others, value=value, inputs=inputs,
                                   complex_input=complex_input, structure=structure,
                                   convention=convention, derivative=comp.derivative, out_name=comp.out_name,
                                   wrt=comp.wrt)
    found: list[Diagnosis] = []
    for explain in EXPLANATIONS:
        if explain in DESCRIPTIONS and found:
            # A kind that names the mistake hides these anyway: their SVDs are
            # the costliest part of a diagnosis.
            break
        d = explain(mat, **context)
        if d is not None:
            found.append(d)
    where = _where(mat, comp.out_name, str(comp.wrt), (comp.out_labels, comp.in_labels))
    localized = [n for n in comp.notes if n.kind == "localized"]
    if localized:
        # A directional check computed one column, the one bisection found: say
        # so, never a count over entries that were not computed.
        where = [_directions(mat, localized[0], str(comp.wrt))]
    found = _preferred(found, bool(where), mat.in_shape, comp.against == "analytic")
    if not found and not where:
        spread = _spread(mat, comp.out_name, str(comp.wrt))
        where = [spread] if spread is not None else []
    return tuple(found) + tuple(where)


def _directions(mat: Matrices, found: Any, in_name: str) -> Diagnosis:
    bad = mat.mismatched()
    k = int(bad.sum())
    element = int(found["element"])
    return Diagnosis("directions", f"J v disagrees along random direction {found['direction']}, "
                     f"and bisection found element {element} of {in_name} (0-based, "
                     f"row-major): {k} of the {bad.size} entries of its column "
                     f"{'differs' if k == 1 else 'differ'} (the other columns were not "
                     "computed)", (("element", element), ("direction", found["direction"]),
                                   ("entries", k)))


def _preferred(found: list[Diagnosis], located: bool, in_shape: tuple[int, ...] | None,
               written: bool = False) -> list[Diagnosis]:
    """Of explanations that all hold, those a person should read; ``written``:
    the reference is one the person wrote out (a Jacobian laid out in an
    order), not a framework's rule."""
    kinds = {d.kind for d in found}
    if written and {"order", "factor-transposed"} <= kinds:
        # Both factors transposed is the other vectorization order of a
        # product's Jacobian: for a matrix written out, the order is the slip.
        found = [d for d in found if d.kind != "factor-transposed"]
    if "sign" in kinds:
        found = [d for d in found if d.kind != "scale"]
    if {"transpose", "order"} <= kinds and not _square(in_shape):
        # A non-square input cannot have been given transposed (its shape
        # would differ): the same permutation is the other vectorization order.
        found = [d for d in found if d.kind != "transpose"]
    # (The shapes are never computed beside a kind that names the mistake:
    # diagnose stops before them.)
    if located:
        return [d for d in found if d.kind != "low-rank"]
    return found


def _square(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and len(shape) == 2 and shape[0] == shape[1]
