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


# A function evaluated one point a call (the backward, at second order) runs
# as it is for its first JIT_AFTER calls, then compiled: jit's compilation
# of a new function (35 to 130 ms for a 3 x 3 input) costs as much as 25 to
# 90 plain calls of a small function's backward (1.3 to 2.5 ms each). A check
# of a few elements (50 to 80 calls) then compiles nothing, one of hundreds
# compiles once; a count, not a clock, so that a check evaluates alike each run.
JIT_AFTER = 200


def _known(key: tuple[Any, ...]) -> bool:
    try:
        return key in _COMPILED
    except TypeError:  # an unhashable callable
        return False


class _Adaptive:
    """``make()``, called as it is at first and compiled by jit from its
    JIT_AFTER-th call on, or from the first where that function was
    compiled before (a check run again)."""

    def __init__(self, key: tuple[Any, ...], make: Callable[[], Callable[..., Any]]) -> None:
        self.key, self.make, self.plain = key, make, make()
        self.compiled: Any = None
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        if self.compiled is None and (self.calls > JIT_AFTER or _known(self.key)):
            self.compiled = _compiled(self.key, self.make)
        if self.compiled is None:
            return self.plain(*args)
        return _jit_or_plain(self.compiled, lambda: self.plain, args)


# Jacobians of at most this many rows (reverse mode) or columns (forward mode)
# are taken one pullback or one jvp a call, which compiles nothing; larger
# ones by jacrev / jacfwd under jit. A function checked once pays jit's
# compilation of each new function whole (35 to 130 ms for a 3 x 3 input),
# where a small function's pullback runs in about a millisecond on kernels
# compiled once (benchmarks/README.md, "Drop-ins").
LOOP_MAX = 128


def _along(fn: Callable[..., Any], args: Sequence[Any], argnums: Sequence[int]
           ) -> Callable[..., Any]:
    """fn as a function of ``args[i] for i in argnums``, the rest fixed."""
    def f(*ws: Any) -> Any:
        full = list(args)
        for i, w in zip(argnums, ws):
            full[i] = w
        return fn(*full)
    return f


def _real_array(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)


def _rows(fn: Callable[..., Any], args: Sequence[Any], argnums: Sequence[int]
          ) -> list[np.ndarray] | None:
    """``jax.jacrev(fn, argnums)(*args)``, one pullback of a unit cotangent a
    row, as float64 arrays shaped out.shape + in.shape; None where the output
    is not one real array of 1 to LOOP_MAX elements (jacrev decides)."""
    if any(not _real_array(args[i]) for i in argnums):
        return None
    out, pullback = jax.vjp(_along(fn, args, argnums), *(args[i] for i in argnums))
    if not _real_array(out) or not 0 < out.size <= LOOP_MAX:
        return None
    rows = [[] for _ in argnums]  # type: list[list[np.ndarray]]
    unit = np.zeros(out.size, dtype=out.dtype)
    for k in range(out.size):
        unit[k] = 1
        for row, g in zip(rows, pullback(jnp.asarray(unit.reshape(out.shape)))):
            row.append(np.asarray(g, dtype=np.float64))
        unit[k] = 0
    return [np.stack(r).reshape(out.shape + np.shape(args[i]))
            for r, i in zip(rows, argnums)]


def _columns(fn: Callable[..., Any], args: Sequence[Any], wrt: int) -> np.ndarray | None:
    """``jax.jacfwd(fn, wrt)(*args)``, one ``jax.jvp`` of a unit tangent a
    column, float64, shaped out.shape + in.shape; None where the input is not
    a real array of at most LOOP_MAX elements or the output not one real array."""
    x = args[wrt]
    if not _real_array(x) or x.size > LOOP_MAX:
        return None
    f = _along(fn, args, (wrt,))
    unit = np.zeros(x.size, dtype=x.dtype)
    columns = []
    for j in range(x.size):
        unit[j] = 1
        out, t = jax.jvp(f, (x,), (jnp.asarray(unit.reshape(x.shape)),))
        unit[j] = 0
        if not _real_array(out):
            return None
        columns.append(np.asarray(t, dtype=np.float64))
    if not columns:
        return None
    return np.moveaxis(np.stack(columns), 0, -1).reshape(np.shape(columns[0]) + x.shape)


def _pullback(fn: Callable[..., Any], wrt: int) -> Callable[..., Any]:
    """``(v, *inputs) -> J(inputs)^T v``, shaped like ``inputs[wrt]``."""
    def g(v: Any, *args: Any) -> Any:
        out, pullback = jax.vjp(_along(fn, args, (wrt,)), args[wrt])
        return pullback(jnp.asarray(v, dtype=out.dtype).reshape(out.shape))[0]
    return g


def _backward(fn: Callable[..., Any], wrts: Sequence[int], order: str) -> Callable[..., Any]:
    """``(*inputs, v) -> [J_i(inputs)^T v for i in wrts]``, joined."""
    def h(*args: Any) -> Any:
        *inputs, v = args
        out, pullback = jax.vjp(_along(fn, inputs, wrts), *(inputs[i] for i in wrts))
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
        """``jax.jacrev`` of fn with respect to argument ``wrt``: one pullback a
        row for a small output, else compiled once per function (``jax.jit``;
        a function jit cannot trace is run as it is)."""
        return self.autograd_jacobians(fn, inputs, (wrt,))[0]

    def autograd_jacobians(self, fn: Callable[..., Any], inputs: Sequence[Any],
                           wrts: Sequence[int]) -> list[np.ndarray]:
        """``jax.jacrev`` of fn with respect to every argument of ``wrts`` at
        once: one pullback a row for a small output, else compiled once per
        function."""
        args = [jnp.asarray(x) for x in inputs]
        argnums = tuple(wrts)
        rows = _rows(fn, args, argnums)
        if rows is not None:
            return rows
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
        compiled once per function where it is called often (:class:`_Adaptive`)."""
        v = jnp.asarray(cotangent)
        g = _Adaptive(("vjp", fn, wrt), lambda: _pullback(fn, wrt))
        return lambda *inputs: g(v, *(jnp.asarray(x) for x in inputs))

    batches_backward = True

    def backward_function(self, fn: Callable[..., Any], wrts: Sequence[int], order: str,
                          create_graph: bool = False, noncontiguous: bool = False
                          ) -> Callable[..., Any]:
        """``h(*inputs, v) = [J_i^T v for i in wrts]``, joined, by one ``jax.vjp``
        (which runs a ``custom_vjp`` rule); differentiable again either way,
        and compiled once per function where it is called often
        (:class:`_Adaptive`). JAX arrays have no strides:
        ``noncontiguous`` changes nothing."""
        h = _Adaptive(("backward", fn, tuple(wrts), order), lambda: _backward(fn, tuple(wrts), order))
        return lambda *args: h(*(jnp.asarray(x) for x in args))

    def differentiable(self, g: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> bool:
        """JAX traces whatever a rule computes: always differentiable again."""
        return True

    def forward_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int,
                         zero_tangents: bool = False) -> np.ndarray:
        """d fn / d inputs[wrt] by forward mode (which runs a ``custom_jvp``
        rule): one ``jax.jvp`` a column for a small input, else ``jax.jacfwd``
        compiled once per function. (The other inputs are constants: JAX
        has no undefined tangent to tell from 0, ``zero_tangents`` is moot.)"""
        args = [jnp.asarray(x) for x in inputs]
        columns = _columns(fn, args, wrt)
        if columns is not None:
            return columns
        jacobian = _compiled(("jacfwd", fn, wrt), lambda: jax.jacfwd(fn, argnums=wrt))
        return np.asarray(_jit_or_plain(jacobian, lambda: jax.jacfwd(fn, argnums=wrt), args),
                          dtype=np.float64)

    def vjp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int, u: np.ndarray) -> np.ndarray:
        """J^T u by one ``jax.vjp``, shaped like inputs[wrt], float64."""
        return np.asarray(self.vjp_function(fn, wrt, u)(*inputs), dtype=np.float64)

    def jvp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int, v: np.ndarray) -> np.ndarray:
        """J v by one ``jax.jvp``, shaped like the output, float64."""
        args = [jnp.asarray(x) for x in inputs]
        x = args[wrt]
        _, t = jax.jvp(_along(fn, args, (wrt,)), (x,),
                       (jnp.asarray(v, dtype=x.dtype).reshape(x.shape),))
        return np.asarray(t, dtype=np.float64)


BACKEND = JaxBackend()
