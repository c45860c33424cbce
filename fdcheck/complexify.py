"""Complex inputs, checked as real ones: a complex array z of shape s is the
real array of shape s + (2,) that ``torch.view_as_real`` makes of it
(``[..., 0]`` the real part, ``[..., 1]`` the imaginary part), and the
function is called with z rebuilt from it. The numeric Jacobian is then that of
(Re f, Im f) in (Re z, Im z), and a framework's reference is its autograd of
the same real function: the complex rules inside it (a Function's complex
backward, a ``custom_vjp`` of complex arguments) are differentiated under the
framework's own convention, so a forgotten conjugate shows as a mismatch
whatever the convention.

A gradient written for a complex input (of a real-valued function) is read in
PyTorch's convention, ``dL/dx + i dL/dy`` for z = x + iy (what ``z.grad``
holds); JAX's ``jax.grad`` gives its conjugate, ``dL/dx - i dL/dy``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import backends


def is_complex(x: Any) -> bool:
    """Whether ``x`` is a complex array or tensor (or a complex number)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return isinstance(x, complex)
    if backends.name_of(x) == "torch":
        return bool(x.is_complex())
    return np.dtype(dtype).kind == "c"


def realify(x: Any) -> Any:
    """Complex ``x`` (shape s) as a real array of shape s + (2,), in its own
    framework; a PyTorch tensor keeps its ``requires_grad``."""
    name = backends.name_of(x)
    if name == "torch":
        import torch
        real = torch.view_as_real(x.detach().resolve_conj()).clone()
        return real.requires_grad_(bool(x.requires_grad))
    if name == "jax":
        import jax.numpy as jnp
        return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)
    x = np.asarray(x)
    return np.stack([x.real, x.imag], axis=-1)


def complexify(x: Any) -> Any:
    """The complex array whose :func:`realify` is ``x`` (leading batch axes kept)."""
    name = backends.name_of(x)
    if name == "torch":
        import torch
        return torch.view_as_complex(x.contiguous())
    if name == "jax":
        import jax
        return jax.lax.complex(x[..., 0], x[..., 1])
    x = np.asarray(x)
    return x[..., 0] + 1j * x[..., 1]


class Complexified:
    """``fn`` called with the inputs at ``positions`` rebuilt as complex from
    their real form; picklable where ``fn`` is.

    Parameters
    ----------
    fn : callable
    positions : sequence of int
        The inputs that are complex.
    """

    def __init__(self, fn: Callable[..., Any], positions: Sequence[int]) -> None:
        self.fn = fn
        self.positions = tuple(positions)
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*(complexify(a) if i in self.positions else a
                         for i, a in enumerate(args)))


class RealifiedReference:
    """A reference written for complex inputs (a callable of them, returning a
    complex gradient): called as :class:`Complexified` and its result made
    real where it is complex."""

    def __init__(self, fn: Callable[..., Any], positions: Sequence[int]) -> None:
        self.call = Complexified(fn, positions)
        self.__name__ = self.call.__name__

    def __call__(self, *args: Any) -> Any:
        return realified(self.call(*args))


def realified(value: Any) -> Any:
    """``value`` in real form where it is complex (each item of a tuple, list
    or dict); else itself."""
    if isinstance(value, (tuple, list)):
        return type(value)(realified(v) for v in value)
    if isinstance(value, dict):
        return {k: realified(v) for k, v in value.items()}
    return realify(value) if is_complex(value) else value


def references(ref: Any, positions: Sequence[int]) -> Any:
    """Gradients written for complex inputs (an array, a callable of the
    complex inputs, or a mapping or tuple of them), in real form."""
    if ref is None:
        return None
    if callable(ref):
        return RealifiedReference(ref, positions)
    if isinstance(ref, dict):
        return {k: references(v, positions) for k, v in ref.items()}
    if isinstance(ref, tuple):
        return tuple(references(v, positions) for v in ref)
    return realified(ref)


def literal_case(inputs: Mapping[str, np.ndarray], expect: Any
                 ) -> tuple[dict[str, np.ndarray], Any, tuple[str, ...]]:
    """A case file's complex inputs (``z: [[1+2j, 3]]``) in real form, its
    written complex gradients too (PyTorch's convention, as for the API);
    and the names of those inputs, which every call lifts back to complex."""
    names = tuple(n for n, v in inputs.items() if np.asarray(v).dtype.kind == "c")
    if not names:
        return dict(inputs), expect, ()
    real = {n: realify(v) if n in names else v for n, v in inputs.items()}
    gradient = {k: realify(v) if isinstance(v, np.ndarray) and v.dtype.kind == "c" else v
                for k, v in expect.gradient.items()}
    return real, replace(expect, gradient=gradient), names
