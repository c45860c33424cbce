"""JAX: float64 enabled within fdcheck's calls (a gradient checker needs it;
the user's own setting holds outside them); autograd by ``jax.jacrev``.

Reverse mode is what a ``jax.custom_vjp`` rule defines, so ``jacrev`` is the
Jacobian that exercises it.
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np


class JaxOps:
    """The array namespace compiled expressions run on, over jax.numpy."""

    name = "jax"
    default_dtype = jnp.float64
    abs, sqrt, exp, log, log1p, expm1 = (staticmethod(jnp.abs), staticmethod(jnp.sqrt),
                                         staticmethod(jnp.exp), staticmethod(jnp.log),
                                         staticmethod(jnp.log1p), staticmethod(jnp.expm1))
    sin, cos, tan, tanh = (staticmethod(jnp.sin), staticmethod(jnp.cos),
                           staticmethod(jnp.tan), staticmethod(jnp.tanh))
    sinh, cosh, arctan = staticmethod(jnp.sinh), staticmethod(jnp.cosh), staticmethod(jnp.arctan)
    sigmoid, relu, softplus = (staticmethod(jax.nn.sigmoid), staticmethod(jax.nn.relu),
                               staticmethod(jax.nn.softplus))
    maximum, minimum, matmul = staticmethod(jnp.maximum), staticmethod(jnp.minimum), staticmethod(jnp.matmul)
    real, where, broadcast_to = staticmethod(jnp.real), staticmethod(jnp.where), staticmethod(jnp.broadcast_to)
    imag, conj = staticmethod(jnp.imag), staticmethod(jnp.conj)
    ones_like, zeros_like = staticmethod(jnp.ones_like), staticmethod(jnp.zeros_like)
    det, inv, cholesky, solve = (staticmethod(jnp.linalg.det), staticmethod(jnp.linalg.inv),
                                 staticmethod(jnp.linalg.cholesky), staticmethod(jnp.linalg.solve))
    stop_gradient = staticmethod(jax.lax.stop_gradient)

    @staticmethod
    def slogdet(a: Any) -> Any:
        out = jnp.linalg.slogdet(a)
        return out.sign, out.logabsdet

    @staticmethod
    def asarray(v: Any, dtype: Any) -> Any:
        return jnp.asarray(v, dtype=dtype)

    @staticmethod
    def sum(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return jnp.sum(a, axis=axes, keepdims=keepdims) if axes else a

    @staticmethod
    def prod(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return jnp.prod(a, axis=axes, keepdims=keepdims) if axes else a

    @staticmethod
    def amax(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return jnp.max(a, axis=axes, keepdims=keepdims) if axes else a

    @staticmethod
    def squeeze(a: Any, axes: tuple[int, ...]) -> Any:
        return jnp.squeeze(a, axis=axes) if axes else a

    @staticmethod
    def transpose(a: Any, perm: tuple[int, ...]) -> Any:
        return jnp.transpose(a, perm)

    @staticmethod
    def reshape(a: Any, shape: tuple[int, ...]) -> Any:
        return jnp.reshape(a, shape)

    @staticmethod
    def diagonal(a: Any) -> Any:
        return jnp.diagonal(a, axis1=-2, axis2=-1)

    @staticmethod
    def eye(n: int, dtype: Any) -> Any:
        return jnp.eye(n, dtype=dtype)

    @staticmethod
    def ones(shape: tuple[int, ...], dtype: Any) -> Any:
        return jnp.ones(shape, dtype=dtype)

    @staticmethod
    def zeros(shape: tuple[int, ...], dtype: Any) -> Any:
        return jnp.zeros(shape, dtype=dtype)


# Compiled functions by what they compile: a check of the same function again
# (a test run repeatedly, a case checked for several inputs) compiles nothing.
_COMPILED: "OrderedDict[tuple[Any, ...], Any]" = OrderedDict()
_KEEP = 64


def _compiled(key: tuple[Any, ...], make: Callable[[], Callable[..., Any]]) -> Any:
    try:
        found = _COMPILED.pop(key)
    except KeyError:
        found = jax.jit(make())
    except TypeError:  # an unhashable callable: compiled for this call only
        return jax.jit(make())
    _COMPILED[key] = found
    while len(_COMPILED) > _KEEP:
        _COMPILED.popitem(last=False)
    return found


def _jit_or_plain(compiled: Any, plain: Callable[[], Callable[..., Any]], args: Sequence[Any]) -> Any:
    """``compiled(*args)``; where jit cannot trace the function (Python control
    flow on values, a conversion to NumPy), the function as it is."""
    try:
        return compiled(*args)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
            jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError):
        return plain()(*args)


def _pullback(fn: Callable[..., Any], wrt: int) -> Callable[..., Any]:
    """``(v, *inputs) -> J(inputs)^T v``, shaped like ``inputs[wrt]``."""
    def g(v: Any, *args: Any) -> Any:
        def along(w: Any) -> Any:
            full = list(args)
            full[wrt] = w
            return fn(*full)
        out, pullback = jax.vjp(along, args[wrt])
        return pullback(jnp.asarray(v, dtype=out.dtype).reshape(out.shape))[0]
    return g


def _backward(fn: Callable[..., Any], wrts: Sequence[int], order: str) -> Callable[..., Any]:
    """``(*inputs, v) -> [J_i(inputs)^T v for i in wrts]``, joined."""
    def h(*args: Any) -> Any:
        *inputs, v = args

        def along(*ws: Any) -> Any:
            full = list(inputs)
            for i, w in zip(wrts, ws):
                full[i] = w
            return fn(*full)
        out, pullback = jax.vjp(along, *(inputs[i] for i in wrts))
        grads = pullback(jnp.asarray(v, dtype=out.dtype).reshape(out.shape))
        return BACKEND.join(grads, order)
    return h


class JaxBackend:
    name = "jax"
    ops = JaxOps()

    def ops_for(self, like: Any) -> JaxOps:
        return self.ops

    def native_dtype(self, name: str) -> Any:
        return jnp.dtype(name)

    def no_grad(self) -> Any:
        return contextlib.nullcontext()

    def join(self, arrays: Sequence[Any], order: str, lead: int = 0) -> Any:
        from ..outputs import axes_for
        flat = [jnp.transpose(a, axes_for(jnp.ndim(a), order, lead)).reshape(jnp.shape(a)[:lead] + (-1,))
                for a in arrays]
        return jnp.concatenate(flat, axis=-1)

    def scope(self) -> Any:
        # Scoped, not jax.config.update: a global switch would outlive the
        # check and change the dtypes of the user's later, unrelated code.
        return jax.enable_x64(True)

    def asarray(self, a: np.ndarray, like: Any = None) -> Any:
        return jnp.asarray(a)

    def to_numpy(self, x: Any) -> np.ndarray:
        arr = np.asarray(x)
        # bfloat16 (ml_dtypes, NumPy kind 'V') as float32, which holds it exactly.
        return arr.astype(np.float32) if arr.dtype.name == "bfloat16" else arr

    def same_layout(self, x: Any) -> Any:
        """x itself: its layout is not the function's to read."""
        return x

    def version(self, x: Any) -> int:
        return 0

    def dtype_name(self, x: Any) -> str:
        return jnp.asarray(x).dtype.name

    def autograd_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> np.ndarray:
        """``jax.jacrev`` of fn with respect to argument ``wrt``, compiled once per
        function (``jax.jit``; a function jit cannot trace is run as it is)."""
        args = [jnp.asarray(x) for x in inputs]
        jacobian = _compiled(("jacrev", fn, wrt), lambda: jax.jacrev(fn, argnums=wrt))
        return np.asarray(_jit_or_plain(jacobian, lambda: jax.jacrev(fn, argnums=wrt), args),
                          dtype=np.float64)

    def autograd_jacobians(self, fn: Callable[..., Any], inputs: Sequence[Any],
                           wrts: Sequence[int]) -> list[np.ndarray]:
        """``jax.jacrev`` of fn with respect to every argument of ``wrts`` at
        once, compiled once per function."""
        args = [jnp.asarray(x) for x in inputs]
        argnums = tuple(wrts)
        jacobian = _compiled(("jacrev", fn, argnums), lambda: jax.jacrev(fn, argnums=argnums))
        jacs = _jit_or_plain(jacobian, lambda: jax.jacrev(fn, argnums=argnums), args)
        return [np.asarray(j, dtype=np.float64) for j in jacs]

    def vmap(self, fn: Callable[..., Any], wrt: int, n_inputs: int) -> Callable[..., Any]:
        """fn over a leading batch axis of argument ``wrt``: ``jax.vmap``, compiled
        once per function by ``jax.jit`` (or not, where jit cannot trace fn)."""
        in_axes = tuple(0 if i == wrt else None for i in range(n_inputs))
        plain = jax.vmap(fn, in_axes=in_axes)
        compiled = _compiled(("vmap", fn, wrt, n_inputs), lambda: jax.vmap(fn, in_axes=in_axes))
        return lambda *args: _jit_or_plain(compiled, lambda: plain, args)

    def vjp_function(self, fn: Callable[..., Any], wrt: int, cotangent: np.ndarray,
                     create_graph: bool = False) -> Callable[..., Any]:
        """``g(*inputs) = J(inputs)^T v``, shaped like ``inputs[wrt]``, by ``jax.vjp``
        (which runs a ``custom_vjp`` rule); differentiable again either way, and
        compiled once per function."""
        v = jnp.asarray(cotangent)
        compiled = _compiled(("vjp", fn, wrt), lambda: _pullback(fn, wrt))
        plain = _pullback(fn, wrt)
        return lambda *inputs: _jit_or_plain(compiled, lambda: plain,
                                             [v, *(jnp.asarray(x) for x in inputs)])

    def vjp_batched(self, fn: Callable[..., Any], wrt: int, n_inputs: int,
                    cotangent: np.ndarray) -> Callable[..., Any]:
        """:meth:`vjp_function` over a leading batch axis of argument ``wrt``."""
        v = jnp.asarray(cotangent)
        axes = (None, *(0 if i == wrt else None for i in range(n_inputs)))
        compiled = _compiled(("vjp-vmap", fn, wrt, n_inputs),
                             lambda: jax.vmap(_pullback(fn, wrt), in_axes=axes))
        plain = jax.vmap(_pullback(fn, wrt), in_axes=axes)
        return lambda *inputs: _jit_or_plain(compiled, lambda: plain,
                                             [v, *(jnp.asarray(x) for x in inputs)])

    batches_backward = True

    def backward_function(self, fn: Callable[..., Any], wrts: Sequence[int], order: str,
                          create_graph: bool = False, noncontiguous: bool = False
                          ) -> Callable[..., Any]:
        """``h(*inputs, v) = [J_i^T v for i in wrts]``, joined, by one ``jax.vjp``
        (which runs a ``custom_vjp`` rule); differentiable again either way,
        and compiled once per function. JAX arrays have no strides:
        ``noncontiguous`` changes nothing."""
        plain = _backward(fn, tuple(wrts), order)
        compiled = _compiled(("backward", fn, tuple(wrts), order),
                             lambda: _backward(fn, tuple(wrts), order))
        return lambda *args: _jit_or_plain(compiled, lambda: plain,
                                           [jnp.asarray(x) for x in args])

    def second_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int,
                        cotangent: np.ndarray) -> np.ndarray:
        """The derivative of J^T v with respect to inputs[wrt], by reverse mode
        over the VJP, shape in.shape + in.shape, float64."""
        args = [jnp.asarray(cotangent), *(jnp.asarray(x) for x in inputs)]
        compiled = _compiled(("vjp-jacrev", fn, wrt),
                             lambda: jax.jacrev(_pullback(fn, wrt), argnums=1 + wrt))
        return np.asarray(_jit_or_plain(compiled, lambda: jax.jacrev(_pullback(fn, wrt),
                                                                     argnums=1 + wrt), args),
                          dtype=np.float64)

    def differentiable(self, g: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> bool:
        """JAX traces whatever a rule computes: always differentiable again."""
        return True

    def forward_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> np.ndarray:
        """d fn / d inputs[wrt] by ``jax.jacfwd`` (which runs a ``custom_jvp`` rule),
        compiled once per function."""
        args = [jnp.asarray(x) for x in inputs]
        jacobian = _compiled(("jacfwd", fn, wrt), lambda: jax.jacfwd(fn, argnums=wrt))
        return np.asarray(_jit_or_plain(jacobian, lambda: jax.jacfwd(fn, argnums=wrt), args),
                          dtype=np.float64)

    def vjp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int, u: np.ndarray) -> np.ndarray:
        """J^T u by one ``jax.vjp``, shaped like inputs[wrt], float64."""
        return np.asarray(self.vjp_function(fn, wrt, u)(*inputs), dtype=np.float64)

    def jvp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int, v: np.ndarray) -> np.ndarray:
        """J v by one ``jax.jvp``, shaped like the output, float64."""
        args = [jnp.asarray(x) for x in inputs]

        def along(w: Any) -> Any:
            full = list(args)
            full[wrt] = w
            return fn(*full)
        x = args[wrt]
        _, t = jax.jvp(along, (x,), (jnp.asarray(v, dtype=x.dtype).reshape(x.shape),))
        return np.asarray(t, dtype=np.float64)


BACKEND = JaxBackend()
