"""The core's types: what the engine, the methods and the evaluators need of
a flat function and of an evaluator. Structural (Protocols), so that any
object with these members serves; :class:`~fdcheck.flatfun.FlatFunction`
is the one fdcheck makes."""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Flat(Protocol):
    """A function of one flat float vector, x (n,) -> vec(f) (m,).

    Attributes
    ----------
    x0 : ndarray, shape (n,)
        The base point, in ``dtype``.
    n, m : int
        Sizes of the input and the output.
    dtype : numpy dtype
        The precision the function is evaluated in.
    precision : str
        The coarser of the input's and the output's precision: the rounding
        a numeric derivative carries.
    value : ndarray, shape (m,)
        vec(f(x0)).
    in_shape, out_shape : tuple of int
    order : {"C", "F"}
    backend : Backend
    """

    x0: np.ndarray
    n: int
    m: int
    dtype: np.dtype
    precision: str
    value: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    order: str
    backend: Any
    direct: bool
    call: Any

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """vec(f) at the point whose vec is ``x``."""

    @property
    def vectorized(self) -> bool:
        """Whether :meth:`batched` evaluates many points a call."""

    def batched(self, xs: np.ndarray) -> np.ndarray:
        """vec(f) at k points at once: (k, n) -> (k, m)."""

    def bind(self, x: np.ndarray) -> list[Any]:
        """The function's arguments with input ``x`` in its place."""

    def output_rows(self, out: Any) -> np.ndarray:
        """vec of a native output."""


class Evaluator(Protocol):
    """How the points of a plan are evaluated (one by one, stacked, on a pool)."""

    def __call__(self, fn: Flat, x0: np.ndarray, batch: Any, out_dtype: Any,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Outputs at every point of ``batch`` (an :class:`fdcheck.evaluate.Batch`,
        not named here so that this module imports none of the core): shape
        (len(batch), fn.m), written into ``out`` when given."""

    def chunk_points(self, n: int, m: int) -> int:
        """How many points the engine should hand over at once."""
