"""Vectorization: flatten and unflatten in C or F order, and element labels.

The Jacobian of an output Z with respect to an input W has one row per element
of vec(Z) and one column per element of vec(W); ``order`` chooses the
vectorization (``"C"``: row-major, ``"F"``: column-major) for both.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np

ORDERS = ("C", "F")
Order = Literal["C", "F"]


def as_order(order: str) -> Order:
    """``order`` as NumPy's functions take it (anything but "F" is row-major)."""
    return "F" if order == "F" else "C"


def check_order(order: str) -> str:
    """Return ``order`` upper-cased, or raise ValueError if it is not C or F."""
    o = str(order).upper()
    if o not in ORDERS:
        raise ValueError(f"order must be 'C' (row-major) or 'F' (column-major), not {order!r}")
    return o


def size_of(shape: Sequence[int]) -> int:
    """Number of elements of an array of ``shape`` (1 for a scalar)."""
    return math.prod(map(int, shape))


def flatten(a: np.ndarray, order: str = "C") -> np.ndarray:
    """vec(a): a 1-D array of length ``a.size`` in ``order``; a view when possible."""
    return np.asarray(a).reshape(-1, order=as_order(order))


def unflatten(v: np.ndarray, shape: Sequence[int], order: str = "C") -> np.ndarray:
    """Inverse of :func:`flatten`: the array of ``shape`` whose vec is ``v``."""
    return np.asarray(v).reshape(tuple(shape), order=as_order(order))


def _axes_reversed_within(out_ndim: int, in_ndim: int) -> tuple[int, ...]:
    # F-order vec reverses the axis significance; doing it within each group
    # turns a C-order reshape into the F-order Jacobian layout.
    return tuple(reversed(range(out_ndim))) + tuple(out_ndim + i for i in reversed(range(in_ndim)))


def tensor_to_matrix(t: np.ndarray, out_shape: Sequence[int], in_shape: Sequence[int],
                     order: str = "C") -> np.ndarray:
    """Tensor-form Jacobian (out_shape + in_shape) to the 2-D matrix (m, n).

    Parameters
    ----------
    t : ndarray, shape ``out_shape + in_shape``
    out_shape, in_shape : tuple of int
    order : {"C", "F"}

    Returns
    -------
    ndarray, shape (size(out_shape), size(in_shape))
    """
    out_shape, in_shape = tuple(out_shape), tuple(in_shape)
    m, n = size_of(out_shape), size_of(in_shape)
    t = np.asarray(t).reshape(out_shape + in_shape)
    if order == "F":
        t = t.transpose(_axes_reversed_within(len(out_shape), len(in_shape)))
    return t.reshape(m, n)


def matrix_to_tensor(j: np.ndarray, out_shape: Sequence[int], in_shape: Sequence[int],
                     order: str = "C") -> np.ndarray:
    """Inverse of :func:`tensor_to_matrix`: (m, n) to ``out_shape + in_shape``."""
    out_shape, in_shape = tuple(out_shape), tuple(in_shape)
    if order == "F":
        rev = tuple(reversed(out_shape)) + tuple(reversed(in_shape))
        t = np.asarray(j).reshape(rev)
        return t.transpose(_axes_reversed_within(len(out_shape), len(in_shape)))
    return np.asarray(j).reshape(out_shape + in_shape)


def reference_matrix(ref: np.ndarray, kind: str, out_shape: Sequence[int], in_shape: Sequence[int],
                     order: str = "C", out_name: str = "f", in_name: str = "x") -> np.ndarray:
    """An analytic reference as the 2-D Jacobian (m, n) in ``order``.

    Parameters
    ----------
    ref : ndarray
        For ``kind="gradient"``: shaped like the input (the function is scalar).
        For ``kind="jacobian"``: shape (m, n), or the tensor form out_shape + in_shape.
        For ``kind="hessian"``: the same, with ``out_shape`` the input's shape.
    kind : {"gradient", "jacobian", "hessian"}

    Raises
    ------
    ValueError
        When the shape fits neither form; the message names both shapes.
    """
    out_shape, in_shape = tuple(out_shape), tuple(in_shape)
    m, n = size_of(out_shape), size_of(in_shape)
    if kind == "gradient":
        if m != 1:
            raise ValueError(f"a gradient needs a scalar-valued function, but {out_name} has shape "
                             f"{out_shape}; give a Jacobian instead")
        if ref.shape != in_shape:
            raise ValueError(f"shape {ref.shape} does not match {in_name}'s shape {in_shape}")
        return flatten(ref, order)[None, :]
    if ref.shape == (m, n):
        return ref
    if ref.shape == out_shape + in_shape:
        return tensor_to_matrix(ref, out_shape, in_shape, order)
    what = (f"the Hessian d2{out_name}/d{in_name}2: {(m, n)} (input {in_shape})" if kind == "hessian"
            else f"the Jacobian d{out_name}/d{in_name}: {(m, n)} (output {out_shape}, input "
                 f"{in_shape})")
    raise ValueError(f"shape {ref.shape} does not match {what}; expected {(m, n)} or the "
                     f"tensor form {out_shape + in_shape}")


def unravel(k: int, shape: Sequence[int], order: str = "C") -> tuple[int, ...]:
    """The multi-index (0-based) of element ``k`` of vec(a) for ``a`` of ``shape``."""
    if not len(shape):
        return ()
    return tuple(int(i) for i in np.unravel_index(int(k), tuple(shape), order=as_order(order)))


def element_label(name: str, index: Sequence[int]) -> str:
    """A paper-style label: ``w21`` for W[1, 0]; ``w[10,2]`` once an index passes 9."""
    if not len(index):
        return name.lower() if name.isidentifier() else name
    one_based = [i + 1 for i in index]
    if not name.isidentifier():
        # A path (encoder.weight, params['dense']['kernel'], f[1]): indices in brackets.
        return name + "[" + ",".join(str(i) for i in one_based) + "]"
    base = name.lower()
    if all(i <= 9 for i in one_based):
        return base + "".join(str(i) for i in one_based)
    return base + "[" + ",".join(str(i) for i in one_based) + "]"


def element_labels(name: str, shape: Sequence[int], order: str = "C") -> list[str]:
    """Labels of every element of an array of ``shape``, in vec order."""
    return [element_label(name, unravel(k, shape, order)) for k in range(size_of(shape))]


def index_text(name: str, index: Sequence[int]) -> str:
    """``Z[1,0]`` (0-based, as NumPy indexes), or ``Z`` for a scalar."""
    return f"{name}[{','.join(str(i) for i in index)}]" if len(index) else name
