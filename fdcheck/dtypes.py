"""The floating dtypes fdcheck evaluates in, half precision included.

NumPy has float16 itself; bfloat16 comes from ``ml_dtypes`` (installed with
JAX, and with the ``torch`` extra), loaded only when a bfloat16 input is seen.
Points in half precision are kept in their own dtype, so that every step is
exactly representable there; outputs in bfloat16 are read as float32, which
holds them exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import EvaluationError

NAMES = ("float16", "bfloat16", "float32", "float64")


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a floating dtype name.

    Raises
    ------
    EvaluationError
        For bfloat16 without ``ml_dtypes``.
    """
    if name != "bfloat16":
        return np.dtype(name)
    try:
        import ml_dtypes
    except ImportError:
        raise EvaluationError("bfloat16 inputs need the ml_dtypes package, which gives NumPy "
                              "that dtype: pip install ml_dtypes (JAX installs it)") from None
    return np.dtype(ml_dtypes.bfloat16)


def eps(name: str) -> float:
    """Machine epsilon of a floating dtype name."""
    return float(np.finfo(numpy_dtype(name)).eps)


def coarser(a: str, b: str) -> str:
    """The floating dtype name of the two with the larger epsilon; ``a``
    where ``b`` is not a floating dtype fdcheck knows."""
    if b not in NAMES or a not in NAMES:
        return a
    return b if eps(b) > eps(a) else a


def is_bfloat16(dtype: Any) -> bool:
    # The kind first: dtype.name is slow, and this runs once an evaluation.
    return getattr(dtype, "kind", None) == "V" and dtype.name == "bfloat16"


def readable(arr: np.ndarray) -> np.ndarray:
    """``arr`` with a bfloat16 dtype (NumPy kind 'V') as float32: the same values."""
    return arr.astype(np.float32) if is_bfloat16(arr.dtype) else arr
