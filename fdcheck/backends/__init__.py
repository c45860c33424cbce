"""Array backends behind one small interface.

A backend supplies an ops namespace for compiled expressions, conversion to and
from NumPy, and a reverse-mode autograd Jacobian. PyTorch and JAX are imported
only when a backend is asked for by name or an input of theirs is seen.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
from typing import Any, Callable, Iterator, Protocol, Sequence, cast

import numpy as np

from ..errors import BackendUnavailable

NAMES = ("numpy", "torch", "jax")
AUTOGRAD_NAMES = ("torch", "jax")
_MODULES = {"numpy": "numpy_backend", "torch": "torch_backend", "jax": "jax_backend"}
_PACKAGES = {"torch": "torch", "jax": "jax"}
_cache: dict[str, "Backend"] = {}


class Backend(Protocol):
    """What fdcheck needs from an array framework."""

    name: str

    def ops_for(self, like: Any) -> Any:
        """The ops namespace for expressions, on the device of ``like``."""

    def asarray(self, a: np.ndarray, like: Any = None) -> Any:
        """A native array with the values of ``a`` (dtype kept), on ``like``'s device."""

    def native_dtype(self, name: str) -> Any:
        """The framework's dtype called ``name`` ("float32", "float64")."""

    def no_grad(self) -> Any:
        """A context in which plain evaluations record no autograd graph."""

    def scope(self) -> Any:
        """A context with the framework set as fdcheck needs it (JAX: 64-bit
        floats enabled), restored as found on leaving."""

    def to_numpy(self, x: Any) -> np.ndarray:
        """A NumPy array with the values of native ``x``."""

    def same_layout(self, x: Any) -> Any:
        """``x`` laid out as the engine lays out its points (PyTorch: contiguous)."""

    def version(self, x: Any) -> int:
        """How many in-place writes native ``x`` has had: PyTorch counts them
        (0 for a tensor fresh from :meth:`asarray`); NumPy inputs are handed
        over read-only and JAX arrays are immutable, so these say 0."""

    def dtype_name(self, x: Any) -> str:
        """``"float32"``, ``"float64"``..., of native ``x``."""

    def autograd_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any],
                          wrt: int) -> np.ndarray:
        """d fn / d inputs[wrt] by reverse mode, shape out.shape + in.shape, float64."""

    def vmap(self, fn: Callable[..., Any], wrt: int, n_inputs: int) -> Callable[..., Any]:
        """``fn`` vectorized over a leading batch axis of argument ``wrt``."""

    def join(self, arrays: Sequence[Any], order: str, lead: int = 0) -> Any:
        """vec() of each of ``arrays`` past its ``lead`` leading axes, in
        ``order``, concatenated: one native array of shape lead + (total,)."""


class AutogradBackend(Backend, Protocol):
    """What fdcheck needs from a framework with automatic differentiation
    (PyTorch, JAX): its Jacobians, products and second derivatives."""

    def autograd_jacobians(self, fn: Callable[..., Any], inputs: Sequence[Any],
                           wrts: Sequence[int]) -> list[np.ndarray]:
        """d fn / d inputs[w] for each w of ``wrts``, by reverse mode in one
        sweep (one backward pass an output element, whatever the number of
        inputs), each shaped out.shape + in.shape, float64."""

    def forward_jacobian(self, fn: Callable[..., Any], inputs: Sequence[Any],
                         wrt: int, zero_tangents: bool = False) -> np.ndarray:
        """d fn / d inputs[wrt] by forward mode, shape out.shape + in.shape,
        float64; with ``zero_tangents`` the other inputs carry tangents of 0
        rather than none, where the framework tells them apart."""

    def vjp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int,
            u: np.ndarray) -> np.ndarray:
        """J^T u, shaped like inputs[wrt]."""

    def jvp(self, fn: Callable[..., Any], inputs: Sequence[Any], wrt: int,
            v: np.ndarray) -> np.ndarray:
        """J v, shaped like the output."""

    def vjp_function(self, fn: Callable[..., Any], wrt: int, cotangent: np.ndarray,
                     create_graph: bool) -> Callable[..., Any]:
        """g(*inputs) = J(inputs)^T cotangent, in the framework's arrays; with
        ``create_graph``, differentiable by the framework in turn."""

    def differentiable(self, g: Callable[..., Any], inputs: Sequence[Any], wrt: int) -> bool:
        """Whether g's result depends on inputs[wrt] through the framework's autograd."""

    batches_backward: bool
    """Whether :meth:`vmap` can batch a backward pass (JAX: yes; PyTorch: no)."""

    def backward_function(self, fn: Callable[..., Any], wrts: Sequence[int], order: str,
                          create_graph: bool, noncontiguous: bool = False) -> Callable[..., Any]:
        """``h(*inputs, v)``: the backward of ``fn`` as a function of its inputs
        and the cotangent v, J_i(inputs)^T v for each i of ``wrts``, vec'd in
        ``order`` and joined into one flat native array; with ``create_graph``,
        differentiable by the framework in turn, in the inputs and in v."""


def autograd(name: str) -> AutogradBackend:
    """:func:`get` for a framework with autograd (``torch``, ``jax``).

    Raises
    ------
    ValueError
        For a backend without autograd.
    """
    if name not in AUTOGRAD_NAMES:
        raise ValueError(f"{name} has no autograd; expected one of {', '.join(AUTOGRAD_NAMES)}")
    return cast(AutogradBackend, get(name))


def get(name: str) -> Backend:
    """The backend called ``name``, imported on first use.

    Raises
    ------
    BackendUnavailable
        When its framework is not installed; the message names the extra.
    """
    if name not in _MODULES:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(NAMES)}")
    if name not in _cache:
        package = _PACKAGES.get(name)
        if package is not None and importlib.util.find_spec(package) is None:
            raise BackendUnavailable(
                f"the {name} backend needs {package}, which is not installed: "
                f"pip install 'fdcheck[{name}]'")
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
        _cache[name] = module.BACKEND
    return _cache[name]


_NOTHING = contextlib.nullcontext()  # NumPy has nothing to set: reused, entered at no cost


def scoped(*names: str) -> contextlib.AbstractContextManager[None]:
    """Each framework of ``names`` set as fdcheck needs it while the block
    runs, and left as it was found after: a user's own JAX settings hold
    outside fdcheck's calls. A framework that is not installed is passed
    over here: whatever asks for it says so.
    """
    if all(name == "numpy" for name in names):
        return _NOTHING
    return _scoped(names)


@contextlib.contextmanager
def _scoped(names: Sequence[str]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for name in dict.fromkeys(names):
            try:
                backend = get(name)
            except BackendUnavailable:
                continue
            stack.enter_context(backend.scope())
        yield


def name_of(x: Any) -> str:
    """Which backend owns array ``x``, judged by its type's module (no import)."""
    module = type(x).__module__ or ""
    if module.startswith("torch"):
        return "torch"
    if module.startswith(("jax", "jaxlib")):
        return "jax"
    return "numpy"


def detect(inputs: Sequence[Any]) -> str:
    """The backend of a call's inputs: the first non-NumPy one, else numpy."""
    for x in inputs:
        name = name_of(x)
        if name != "numpy":
            return name
    return "numpy"
