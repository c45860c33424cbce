"""NumPy: the default backend. No autograd."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import numpy as np


def _sigmoid(a: Any) -> Any:
    if np.iscomplexobj(a):
        return 1.0 / (1.0 + np.exp(-a))
    # exp of minus |a| never overflows: 1 / (1 + e) above 0, e / (1 + e) below.
    e = np.exp(-np.abs(a))
    return np.where(np.asarray(a) >= 0, 1.0, e) / (1.0 + e)


def _softplus(a: Any) -> Any:
    return np.log1p(np.exp(a)) if np.iscomplexobj(a) else np.logaddexp(a, 0.0)


def _static(*fns: Any) -> tuple[Any, ...]:
    return tuple(staticmethod(f) for f in fns)


# dtype.name is slow, and asked once per check.
_DTYPE_NAMES = {np.dtype(name): name for name in ("float64", "float32", "float16", "int64")}
_NOTHING = contextlib.nullcontext()  # reusable, and entered once per Jacobian


class NumpyOps:
    """The array namespace compiled expressions run on, over NumPy."""

    name = "numpy"
    default_dtype = np.float64
    # staticmethod: NumPy's Python-level functions would otherwise bind as methods.
    abs, sqrt, exp, log, log1p, expm1 = _static(np.abs, np.sqrt, np.exp, np.log, np.log1p,
                                                np.expm1)
    sin, cos, tan, tanh, sinh, cosh, arctan = _static(np.sin, np.cos, np.tan, np.tanh, np.sinh,
                                                      np.cosh, np.arctan)
    maximum, minimum, matmul, real, where = _static(np.maximum, np.minimum, np.matmul, np.real,
                                                    np.where)
    broadcast_to, ones_like, zeros_like = _static(np.broadcast_to, np.ones_like, np.zeros_like)
    det, inv, cholesky, slogdet, solve = _static(np.linalg.det, np.linalg.inv, np.linalg.cholesky,
                                                 np.linalg.slogdet, np.linalg.solve)
    sigmoid, softplus = staticmethod(_sigmoid), staticmethod(_softplus)
    imag, conj = _static(np.imag, np.conj)

    @staticmethod
    def relu(a: Any) -> Any:
        return np.maximum(a, 0.0)

    @staticmethod
    def asarray(v: Any, dtype: Any) -> Any:
        return np.asarray(v, dtype=dtype)

    @staticmethod
    def sum(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return np.sum(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def prod(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return np.prod(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def amax(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return np.max(a, axis=axes, keepdims=keepdims) if axes else a

    @staticmethod
    def squeeze(a: Any, axes: tuple[int, ...]) -> Any:
        return np.squeeze(a, axis=axes)

    @staticmethod
    def stop_gradient(a: Any) -> Any:
        return a

    @staticmethod
    def transpose(a: Any, perm: tuple[int, ...]) -> Any:
        return np.transpose(a, perm)

    @staticmethod
    def reshape(a: Any, shape: tuple[int, ...]) -> Any:
        return np.reshape(a, shape)

    @staticmethod
    def diagonal(a: Any) -> Any:
        return np.diagonal(a, axis1=-2, axis2=-1)

    @staticmethod
    def eye(n: int, dtype: Any) -> Any:
        return np.eye(n, dtype=dtype)

    @staticmethod
    def ones(shape: tuple[int, ...], dtype: Any) -> Any:
        return np.ones(shape, dtype=dtype)

    @staticmethod
    def zeros(shape: tuple[int, ...], dtype: Any) -> Any:
        return np.zeros(shape, dtype=dtype)


class NumpyBackend:
    name = "numpy"
    ops = NumpyOps()

    def ops_for(self, like: Any) -> NumpyOps:
        return self.ops

    def asarray(self, a: np.ndarray, like: Any = None) -> np.ndarray:
        return a

    def native_dtype(self, name: str) -> Any:
        return np.dtype(name)

    def no_grad(self) -> Any:
        return _NOTHING

    def scope(self) -> Any:
        return _NOTHING

    def join(self, arrays: Sequence[Any], order: str, lead: int = 0) -> np.ndarray:
        from ..outputs import axes_for
        flat = [np.asarray(a).transpose(axes_for(np.ndim(a), order, lead))
                .reshape(np.shape(a)[:lead] + (-1,)) for a in arrays]
        return np.concatenate(flat, axis=-1)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def same_layout(self, x: Any) -> Any:
        """x itself: its layout is not the function's to read."""
        return x

    def version(self, x: Any) -> int:
        return 0

    def dtype_name(self, x: Any) -> str:
        dtype = np.asarray(x).dtype
        return _DTYPE_NAMES.get(dtype) or dtype.name

    def autograd_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> np.ndarray:
        raise NotImplementedError("NumPy has no autograd; use autograd: [torch] or [jax]")

    def vmap(self, fn: Callable[..., Any], wrt: int, n_inputs: int) -> Callable[..., Any]:
        raise NotImplementedError("NumPy has no vmap: pass vectorized=True for a function "
                                  "that accepts a leading batch axis")


BACKEND = NumpyBackend()
