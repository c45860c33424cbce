"""PyTorch: tensors on their own device and dtype; autograd by reverse mode.

The autograd Jacobian goes through ``torch.autograd.functional.jacobian``,
which calls each output's backward: a custom ``torch.autograd.Function`` with a
hand-written ``backward`` is exercised exactly as training would exercise it.
"""
from __future__ import annotations

import contextlib
import warnings

from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "bfloat16": torch.bfloat16, "complex64": torch.complex64,
           "complex128": torch.complex128}


def _tensors(a: Any, b: Any) -> tuple[Any, Any]:
    # torch.maximum/minimum take no Python numbers; NumPy's do.
    like = a if isinstance(a, torch.Tensor) else b
    conv = lambda v: v if isinstance(v, torch.Tensor) else torch.as_tensor(  # noqa: E731
        v, dtype=like.dtype, device=like.device)
    return conv(a), conv(b)


class TorchOps:
    """The array namespace compiled expressions run on, over PyTorch."""

    name = "torch"
    default_dtype = torch.float64

    def __init__(self, device: Any = "cpu") -> None:
        self.device = torch.device(device)

    abs, sqrt, exp, log, log1p, expm1 = (staticmethod(torch.abs), staticmethod(torch.sqrt),
                                         staticmethod(torch.exp), staticmethod(torch.log),
                                         staticmethod(torch.log1p), staticmethod(torch.expm1))
    sin, cos, tan, tanh = (staticmethod(torch.sin), staticmethod(torch.cos),
                           staticmethod(torch.tan), staticmethod(torch.tanh))
    sinh, cosh, arctan = staticmethod(torch.sinh), staticmethod(torch.cosh), staticmethod(torch.atan)
    sigmoid, relu, softplus = staticmethod(torch.sigmoid), staticmethod(torch.relu), staticmethod(F.softplus)
    matmul = staticmethod(torch.matmul)
    real, broadcast_to = staticmethod(torch.real), staticmethod(torch.broadcast_to)
    conj = staticmethod(torch.conj)

    @staticmethod
    def imag(a: Any) -> Any:
        # torch.imag refuses a real tensor; NumPy's and JAX's give zeros.
        return torch.imag(a) if a.is_complex() else torch.zeros_like(a)
    ones_like, zeros_like = staticmethod(torch.ones_like), staticmethod(torch.zeros_like)
    det, inv, cholesky = (staticmethod(torch.linalg.det), staticmethod(torch.linalg.inv),
                          staticmethod(torch.linalg.cholesky))
    solve = staticmethod(torch.linalg.solve)

    @staticmethod
    def maximum(a: Any, b: Any) -> Any:
        a, b = _tensors(a, b)
        return torch.maximum(a, b)

    @staticmethod
    def minimum(a: Any, b: Any) -> Any:
        a, b = _tensors(a, b)
        return torch.minimum(a, b)

    @staticmethod
    def slogdet(a: Any) -> Any:
        out = torch.linalg.slogdet(a)
        return out.sign, out.logabsdet

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return torch.where(cond, a, torch.as_tensor(b, dtype=a.dtype, device=a.device))

    def asarray(self, v: Any, dtype: Any) -> Any:
        return torch.as_tensor(v, dtype=dtype, device=self.device)

    @staticmethod
    def sum(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        # torch reads an empty dim tuple as "every axis"; here it means none.
        return torch.sum(a, dim=axes, keepdim=keepdims) if axes else a

    @staticmethod
    def prod(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        for ax in sorted((ax % a.ndim for ax in axes), reverse=True):
            a = torch.prod(a, dim=ax, keepdim=True)
        return torch.squeeze(a, dim=axes) if axes and not keepdims else a

    @staticmethod
    def amax(a: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return torch.amax(a, dim=axes, keepdim=keepdims) if axes else a

    @staticmethod
    def squeeze(a: Any, axes: tuple[int, ...]) -> Any:
        return torch.squeeze(a, dim=axes) if axes else a

    @staticmethod
    def stop_gradient(a: Any) -> Any:
        return a.detach()

    @staticmethod
    def transpose(a: Any, perm: tuple[int, ...]) -> Any:
        return a.permute(perm)

    @staticmethod
    def reshape(a: Any, shape: tuple[int, ...]) -> Any:
        return a.reshape(shape)

    @staticmethod
    def diagonal(a: Any) -> Any:
        return torch.diagonal(a, dim1=-2, dim2=-1)

    def eye(self, n: int, dtype: Any) -> Any:
        return torch.eye(n, dtype=dtype, device=self.device)

    def ones(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return torch.ones(shape, dtype=dtype, device=self.device)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return torch.zeros(shape, dtype=dtype, device=self.device)


@lru_cache(maxsize=None)
def _ops(device: str) -> TorchOps:
    return TorchOps(device)


class TorchBackend:
    name = "torch"

    def ops_for(self, like: Any) -> TorchOps:
        return _ops(str(like.device) if isinstance(like, torch.Tensor) else "cpu")

    def native_dtype(self, name: str) -> Any:
        return _DTYPES[name]

    def no_grad(self) -> Any:
        return torch.no_grad()

    def scope(self) -> Any:
        return contextlib.nullcontext()

    def join(self, arrays: Sequence[Any], order: str, lead: int = 0) -> Any:
        if len(arrays) == 1 and order == "C":
            # One array in row-major order is its own reshape (no permutation, no
            # copy by cat): the backward's result, every evaluation at second order.
            return arrays[0].reshape(tuple(arrays[0].shape[:lead]) + (-1,))
        from ..outputs import axes_for
        flat = [a.permute(axes_for(a.dim(), order, lead)).reshape(tuple(a.shape[:lead]) + (-1,))
                for a in arrays]
        return torch.cat(flat, dim=-1)

    def asarray(self, a: np.ndarray, like: Any = None) -> Any:
        # np.require keeps a 0-d array 0-d (np.ascontiguousarray makes it 1-d).
        # (dtype.kind first: reading dtype.name costs more than the conversion.)
        if isinstance(a, np.ndarray) and a.dtype.kind == "V" and a.dtype.name == "bfloat16":
            # torch reads no NumPy bfloat16: through float32, which holds it exactly.
            t = torch.from_numpy(np.require(a.astype(np.float32), requirements="C")).to(torch.bfloat16)
        else:
            t = torch.from_numpy(np.require(a, requirements="C")) if isinstance(a, np.ndarray) \
                else torch.as_tensor(a)
        if isinstance(like, torch.Tensor) and like.device.type != "cpu":
            t = t.to(like.device)
        return t

    def same_layout(self, x: Any) -> Any:
        """x as the engine's points are laid out: contiguous, row-major, in a
        storage of its own at offset 0. A function that reads strides or the
        storage around a view (as_strided) then sees the same tensor in the
        numeric Jacobian and in the framework's."""
        if not isinstance(x, torch.Tensor):
            return x
        x = x.detach()
        if x.is_contiguous() and x.storage_offset() == 0 \
                and x.untyped_storage().nbytes() == x.numel() * x.element_size():
            return x
        return x.clone(memory_format=torch.contiguous_format)

    def version(self, x: Any) -> int:
        # The version counter autograd keeps: every in-place operation moves it.
        return x._version if isinstance(x, torch.Tensor) else 0

    def to_numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().resolve_conj()
            if x._is_zerotensor():
                # Autograd's zero of a derivative known to vanish (sgn's): no storage.
                return np.zeros(tuple(x.shape), dtype=torch.empty(0, dtype=x.dtype).numpy().dtype)
            if x.layout != torch.strided:
                x = x.to_dense()
            # NumPy has no bfloat16 or complex32 of its own: float32 and complex64
            # hold their values exactly.
            if x.dtype == torch.bfloat16:
                x = x.float()
            elif x.dtype == torch.complex32:
                x = x.to(torch.complex64)
            return x.numpy()
        return np.asarray(x)

    def dtype_name(self, x: Any) -> str:
        return str(x.dtype).replace("torch.", "")

    def autograd_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> np.ndarray:
        xs = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]

        def along(w: Any) -> Any:
            args = list(xs)
            args[wrt] = w
            return fn(*args)

        with torch.no_grad():
            shape = tuple(along(xs[wrt]).shape)
        if not int(np.prod(shape)):  # torch's jacobian cannot stack no rows
            return np.zeros(shape + tuple(xs[wrt].shape))
        with torch.enable_grad():
            jac = torch.autograd.functional.jacobian(along, xs[wrt])
        return self.to_numpy(jac).astype(np.float64)

    def autograd_jacobians(self, fn: Callable[..., Any], inputs: Sequence[Any],
                           wrts: Sequence[int]) -> list[np.ndarray]:
        xs = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]

        def along(*ws: Any) -> Any:
            args = list(xs)
            for w, value in zip(wrts, ws):
                args[w] = value
            return fn(*args)

        with torch.no_grad():
            shape = tuple(along(*(xs[w] for w in wrts)).shape)
        if not int(np.prod(shape)):  # torch's jacobian cannot stack no rows
            return [np.zeros(shape + tuple(xs[w].shape)) for w in wrts]
        with torch.enable_grad():
            jacs = torch.autograd.functional.jacobian(along, tuple(xs[w] for w in wrts))
        return [self.to_numpy(j).astype(np.float64) for j in jacs]

    def differentiable_outputs(self, fn: Callable[..., Any], inputs: Sequence[Any],
                               wrt: int) -> dict[Any, bool] | None:
        """For a function of several outputs (tuple, list or dict), which ones
        autograd differentiates with respect to ``inputs[wrt]``: by key, whether
        the output requires grad; None for one output."""
        args = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
        args[wrt] = args[wrt].requires_grad_()
        with torch.enable_grad():
            out = fn(*args)
        items = out.items() if isinstance(out, dict) else \
            enumerate(out) if isinstance(out, (tuple, list)) else None
        if items is None:
            return None
        return {k: isinstance(v, torch.Tensor) and v.requires_grad for k, v in items}

    def vmap(self, fn: Callable[..., Any], wrt: int, n_inputs: int) -> Callable[..., Any]:
        """fn over a leading batch axis of argument ``wrt``. torch's warning
        that an operation has no batching rule (it loops) is fdcheck's
        business, not the user's: it is not shown."""
        in_dims = tuple(0 if i == wrt else None for i in range(n_inputs))
        batched = torch.vmap(fn, in_dims=in_dims)

        def call(*args: Any) -> Any:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="There is a performance drop")
                return batched(*args)
        return call

    def vjp_function(self, fn: Callable[..., Any], wrt: int, cotangent: np.ndarray,
                     create_graph: bool = False) -> Callable[..., Any]:
        """``g(*inputs) = J(inputs)^T v``, shaped like ``inputs[wrt]``: one forward
        and one backward pass, which runs a Function's own backward. With
        ``create_graph``, g is itself differentiable (double backward)."""
        def g(*inputs: Any) -> Any:
            args = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
            with torch.enable_grad():
                args[wrt] = inputs[wrt] if create_graph and inputs[wrt].requires_grad \
                    else args[wrt].requires_grad_(True)
                out = fn(*args)
                if not out.requires_grad:
                    # Nothing of the input reaches the output through autograd
                    # (a backward that detaches): torch's derivative is 0.
                    return torch.zeros_like(args[wrt])
                v = torch.as_tensor(cotangent, dtype=out.dtype, device=out.device).reshape(out.shape)
                (grad,) = torch.autograd.grad(out, args[wrt], grad_outputs=v,
                                              create_graph=create_graph, allow_unused=True)
            return torch.zeros_like(args[wrt]) if grad is None else grad
        return g

    batches_backward = False

    def backward_function(self, fn: Callable[..., Any], wrts: Sequence[int], order: str,
                          create_graph: bool = False, noncontiguous: bool = False
                          ) -> Callable[..., Any]:
        """``h(*inputs, v) = [J_i^T v for i in wrts]``, joined: one forward and one
        backward pass. With ``create_graph`` the backward's own graph is kept,
        so that what requires grad among the inputs and v (as
        ``torch.autograd.functional.jacobian`` passes them) is differentiated
        through it: double backward, in the inputs and in v. With
        ``noncontiguous``, the backward is handed v as a strided view."""
        def h(*args: Any) -> Any:
            *inputs, v = args

            def own(x: Any) -> Any:
                # The caller's tensor where it is differentiated through h (a
                # forward-mode dual too: forward over reverse, as gradgradcheck's
                # check_fwd_over_rev); a leaf of h's own graph otherwise.
                if create_graph and _dual(x):
                    return x.requires_grad_(True)
                return x if create_graph and x.requires_grad else x.detach().requires_grad_(True)
            xs = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
            with torch.enable_grad():
                for i in wrts:
                    xs[i] = own(inputs[i])
                out = fn(*xs)
                v = v if create_graph and (v.requires_grad or _dual(v)) else v.detach()
                v = v.to(out.dtype).reshape(out.shape)
                if noncontiguous:
                    # The same values, every other element of a buffer twice their
                    # size (gradgradcheck's gen_non_contig_grad_outputs).
                    v = torch.repeat_interleave(v.reshape(-1), 2)[::2].reshape(out.shape)
                grads = torch.autograd.grad(out, [xs[i] for i in wrts], grad_outputs=v,
                                            create_graph=create_graph, allow_unused=True)
            return self.join([torch.zeros_like(xs[i]) if g is None else g
                              for i, g in zip(wrts, grads)], order)
        return h

    def differentiable(self, g: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> bool:
        """Whether g's result depends on ``inputs[wrt]`` through autograd."""
        args = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
        args[wrt] = args[wrt].clone().requires_grad_(True)
        with torch.enable_grad():
            return bool(g(*args).requires_grad)

    def forward_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int,
                         zero_tangents: bool = False) -> np.ndarray:
        """d fn / d inputs[wrt] by forward mode (one JVP per input element, which
        runs a Function's own ``jvp``), shape out.shape + in.shape, float64.

        With ``zero_tangents`` the other floating inputs are duals of zero
        tangent, as gradcheck's forward mode holds them (the backward's
        derivative, forward over reverse, takes it: several times faster).
        Without, their tangents are undefined, ZeroTensors inside torch's
        formulas: exact zeros where a derivative is 0 (a zero tangent
        carried through a formula leaves rounding, 3e-18 in
        native_group_norm's rstd), but some formulas refuse them
        (mse_loss's double backward writes to one in place), and these are
        retried with zero tangents."""
        if not zero_tangents:
            try:
                return self._forward_jacobian(fn, inputs, wrt, False)
            except RuntimeError as exc:
                if "ZeroTensors are immutable" not in str(exc):
                    raise
        return self._forward_jacobian(fn, inputs, wrt, True)

    def _forward_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int,
                          zero_tangents: bool) -> np.ndarray:
        import torch.autograd.forward_ad as fwAD
        xs = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
        x = xs[wrt]
        columns = []
        with fwAD.dual_level():
            held = [fwAD.make_dual(a, torch.zeros_like(a))
                    if zero_tangents and j != wrt and _floating(a) else a
                    for j, a in enumerate(xs)]
            for k in range(x.numel()):
                tangent = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
                tangent[k] = 1
                args = list(held)
                args[wrt] = fwAD.make_dual(x, tangent.reshape(x.shape))
                out = fn(*args)
                t = fwAD.unpack_dual(out).tangent
                columns.append(torch.zeros_like(out) if t is None else t)
            shape = tuple(fwAD.unpack_dual(out).primal.shape) if x.numel() else ()
        if not columns:
            return np.zeros(shape + tuple(x.shape))
        jac = torch.stack(columns, dim=-1).reshape(shape + tuple(x.shape))
        return self.to_numpy(jac).astype(np.float64)

    def vjp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int, u: np.ndarray) -> np.ndarray:
        """J^T u by one backward pass, shaped like inputs[wrt], float64."""
        g = self.vjp_function(fn, wrt, u)
        return self.to_numpy(g(*inputs)).astype(np.float64)

    def jvp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int, v: np.ndarray) -> np.ndarray:
        """J v by one forward-mode pass, shaped like the output, float64."""
        import torch.autograd.forward_ad as fwAD
        xs = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
        x = xs[wrt]
        with fwAD.dual_level():
            args = list(xs)
            args[wrt] = fwAD.make_dual(x, torch.as_tensor(v, dtype=x.dtype, device=x.device)
                                       .reshape(x.shape))
            out = fwAD.unpack_dual(fn(*args))
            t = torch.zeros_like(out.primal) if out.tangent is None else out.tangent
        return self.to_numpy(t).astype(np.float64)


def _floating(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex())


def _dual(x: Any) -> bool:
    """Whether ``x`` carries a forward-mode tangent (inside a dual level)."""
    import torch.autograd.forward_ad as fwAD
    return isinstance(x, torch.Tensor) and fwAD.unpack_dual(x).tangent is not None


BACKEND = TorchBackend()
