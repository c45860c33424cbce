"""The boundary: a user's function of several arrays, seen by the engine as a
function of one flat vector, g: R^n -> R^m, along one of its inputs.

Everything the engine evaluates goes through :class:`FlatFunction`: it
unflattens the point in the case's order, converts it to the callable's own
framework (a tensor of the input's dtype on the input's device, for PyTorch),
calls, and flattens the output back. It pickles when its callable does, so it
can be evaluated in other processes.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import backends
from .errors import EvaluationError
from .dtypes import coarser, is_bfloat16, numpy_dtype, readable
from .layout import as_order, check_order, flatten
from .outputs import StructuredOutput, complex_layout, layout

FLOAT_DTYPES = ("float16", "float32", "float64")
FLOATS = tuple(np.dtype(name) for name in FLOAT_DTYPES)
_NAMES = {np.dtype(name): name for name in FLOAT_DTYPES}  # dtype.name is slow: it runs per check
_FLOAT64 = np.dtype(np.float64)


def _as_float(a: Any, dtype: np.dtype | None) -> np.ndarray:
    arr = np.asarray(a)
    if dtype is not None:
        return arr.astype(dtype)
    if arr.dtype.kind in "fc" or is_bfloat16(arr.dtype):
        return arr
    # Integers and bools are promoted: they are never perturbed as is.
    return arr.astype(np.float64)


def _read_only(view: np.ndarray) -> np.ndarray:
    # fdcheck evaluates its points in place, in buffers it reuses (and the base
    # point is x0 itself): a function that wrote to its input would move every
    # later point, and the Jacobian would be wrong with nothing to show it.
    # Read-only, such a write raises at once; in_place_error names it.
    view.setflags(write=False)
    return view


def _writes_input(how: str) -> EvaluationError:
    return EvaluationError(f"the function writes to its input in place ({how}): fdcheck "
                           "evaluates its points in place, so every later point would move; let "
                           "the function work on a copy (e.g. W = W.copy(), or W.clone())")


def complex_output_error() -> EvaluationError:
    """The error for a function that returns complex values at a real point."""
    # Stored into the Jacobian's real rows they would lose their imaginary part
    # with only a warning, and the verdict would be about Re f alone.
    return EvaluationError("the function returns complex values at a real point: a Jacobian has "
                           "real rows; fdcheck.check checks its real and imaginary parts as two "
                           "outputs, elsewhere check them as two functions (np.real(f), "
                           "np.imag(f)), or return .real where the imaginary part is zero by "
                           "design")


def in_place_error(exc: BaseException) -> EvaluationError | None:
    """The error that explains ``exc`` when it is NumPy refusing a write to a
    read-only point (the function writes to its input in place); else None."""
    if not isinstance(exc, ValueError) or "read-only" not in str(exc):
        return None
    return _writes_input(f"NumPy: {exc}")


def from_function(exc: BaseException) -> BaseException:
    """``exc``, marked as raised by the function checked, not by fdcheck's own
    code: only such an exception can be the function leaving its domain."""
    try:
        setattr(exc, "_fdcheck_from_function", True)
    except AttributeError:  # an exception without a __dict__
        pass
    return exc


def raised_by_function(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by the function checked (or what it calls)."""
    return bool(getattr(exc, "_fdcheck_from_function", False))


def _value_dtype(dtype: np.dtype) -> np.dtype:
    # np.result_type(dtype, float64), without its cost for the usual dtypes.
    if dtype in FLOATS or dtype.kind in "iub":
        return _FLOAT64
    return np.result_type(dtype, np.float64)


class FlatFunction:
    """``f(*inputs)`` as a function of vec(inputs[wrt]).

    Parameters
    ----------
    call : callable
        ``call(*inputs) -> array`` in the inputs' framework.
    inputs : sequence of arrays
        NumPy arrays, numbers, PyTorch tensors or JAX arrays.
    wrt : int
        Which input is perturbed.
    order : {"C", "F"}
        Vectorization of input and output.
    dtype : str, optional
        Evaluation precision; default the input's own floating dtype (float64
        for integers).
    backend : Backend, optional
        Default: detected from the inputs.
    batched_call : callable, optional
        ``batched_call(*inputs)`` where ``inputs[wrt]`` has a leading batch
        axis: evaluates many points at once.

    Attributes
    ----------
    x0 : ndarray, shape (n,)
        vec(inputs[wrt]) in ``dtype``.
    value : ndarray, shape (m,)
        vec(f(inputs)), float64, from one evaluation made here.
    in_shape, out_shape : tuple of int
    precision : str
        The coarser of the input's and the output's floating dtypes: the
        rounding the numeric derivative carries.
    direct : bool
        True for NumPy: points are handed over as read-only views, unconverted.

    Raises
    ------
    ValueError
        For a complex input (fdcheck perturbs real elements).
    EvaluationError
        For an output that is not numbers, or complex at a real point.
    """

    def __init__(self, call: Callable[..., Any], inputs: Sequence[Any], wrt: int = 0, *,
                 order: str = "C", dtype: str | None = None, backend: Any = None,
                 batched_call: Callable[..., Any] | None = None) -> None:
        self.order = check_order(order)
        self.backend = backend if backend is not None else backends.get(backends.detect(inputs))
        # Points are handed over without conversion (NumPy), and read-only.
        self.direct = self.backend.name == "numpy"
        if not -len(inputs) <= wrt < len(inputs):
            raise IndexError(f"wrt={wrt} but the function has {len(inputs)} input(s)")
        self.wrt = wrt % len(inputs)
        self.call = call
        self.batched_call = batched_call
        # The largest relative move a ladder may make (None: the default); an
        # SPD input's keeps it positive definite.
        self.reach: float | None = None
        for i, x in enumerate(inputs):
            layout = str(getattr(x, "layout", "torch.strided"))
            if layout != "torch.strided":
                raise ValueError(f"input {i} is a sparse tensor ({layout}): fdcheck perturbs and "
                                 "hands over dense tensors; pass x.to_dense(), and sparsify "
                                 "inside the function if it needs a sparse one")
        template = inputs[self.wrt]
        if getattr(getattr(template, "device", None), "type", None) == "meta":
            raise ValueError(f"input {self.wrt} is a meta tensor: it has a shape but no values "
                             "to differentiate at; pass a tensor on a real device")
        self._like = template
        if dtype is None and self.backend.dtype_name(template) == "bfloat16":
            # The framework hands bfloat16 over as float32: perturb on bfloat16's own grid.
            dtype = "bfloat16"
        np_in = _as_float(self.backend.to_numpy(template), None if dtype is None else numpy_dtype(dtype))
        if np_in.dtype.kind == "c":
            raise ValueError(f"input {self.wrt} is {np_in.dtype}: fdcheck perturbs real elements; "
                             "pass its real and imaginary parts as two real inputs")
        if np_in.dtype not in FLOATS and not is_bfloat16(np_in.dtype):
            np_in = np_in.astype(np.float64)
        self.dtype = np_in.dtype
        self.dtype_name = _NAMES.get(self.dtype) or self.dtype.name
        self.in_shape = tuple(np_in.shape)
        self.n = np_in.size
        self.x0 = np_in.flatten(as_order(self.order))  # a copy: the engine's own base point
        self.inputs = [self._native(x, i) for i, x in enumerate(inputs)]
        native = self._checked(self.call, self.inputs)
        first = self._output(native, self.x0)
        if first.dtype.kind in "iub":
            raise EvaluationError(f"the function returns {first.dtype} values: an integer or "
                                  "boolean output has no derivative (return floats; among "
                                  "several outputs, such a one is left out with a note)")
        # Rounding is that of the coarser of input and output: a float32
        # function that returns bfloat16 is resolved to bfloat16's 8 bits.
        self.precision = self._precision(native)
        self.out_shape = first.shape
        self.m = first.size
        self.value = first.flatten(as_order(self.order)).astype(_value_dtype(first.dtype), copy=False)

    def _precision(self, native: Any) -> str:
        out = getattr(native, "dtype", None)
        if isinstance(out, np.dtype):
            # NumPy (and the usual case) without dtype.name, which is slow.
            if out.kind != "f" or out.itemsize >= self.dtype.itemsize:
                return self.dtype_name
            return coarser(self.dtype_name, out.name)
        return coarser(self.dtype_name, self.backend.dtype_name(native)) if out is not None \
            else self.dtype_name

    def _native(self, x: Any, i: int) -> Any:
        # Every floating input is evaluated in the case's precision; the
        # perturbed one is rebuilt from x0 so it matches the points evaluated.
        if i == self.wrt:
            return self._point(self.x0)
        if self.direct:
            # A read-only view: the other inputs are the caller's own arrays, and
            # one written to would change every later evaluation (and the caller's data).
            arr = _as_float(x, self.dtype if np.asarray(x).dtype.kind in "fiub"
                            or is_bfloat16(np.asarray(x).dtype) else None)
            return _read_only(arr.view())
        return self.backend.same_layout(x)

    def _checked(self, call: Callable[..., Any], args: Sequence[Any]) -> Any:
        """``call(*args)``, refused if it wrote to any of them; what it raises
        is marked as the function's (see :func:`raised_by_function`)."""
        if self.direct:  # NumPy refuses such a write itself: the inputs are read-only
            try:
                return call(*args)
            except Exception as exc:
                raise from_function(exc)
        version = self.backend.version
        # Counted around each call, not once: a copy in another process starts again at 0.
        before = [version(a) for a in args]
        try:
            y = call(*args)
        except Exception as exc:
            raise from_function(exc)
        for i, (arg, count) in enumerate(zip(args, before)):
            if version(arg) != count:
                raise _writes_input(f"{self.backend.name} counted an in-place operation on "
                                    f"input {i}")
        return y

    def _point(self, x: np.ndarray) -> Any:
        # order= only where needed: parsing the keyword costs as much as the reshape.
        arr = x.reshape(self.in_shape) if self.order == "C" else x.reshape(self.in_shape, order="F")
        if self.direct:
            return _read_only(arr)
        return self.backend.asarray(arr, like=self._like)

    def _output(self, y: Any, x: np.ndarray) -> np.ndarray:
        """The output ``y`` at the point ``x`` in NumPy, refused if it is not
        numbers, or complex at a real point (the complex step's are complex)."""
        if isinstance(y, (tuple, list, dict)):
            outputs = layout(y)
            if outputs is not None:
                raise StructuredOutput(outputs)
        owner = backends.name_of(y)
        if owner != self.backend.name and owner != "numpy":
            raise EvaluationError(f"the function returned a {type(y).__module__}.{type(y).__name__} "
                                  f"for {self.backend.name} inputs: return the inputs' own kind of "
                                  f"array, or pass {owner} inputs")
        out = readable(self.backend.to_numpy(y))
        kind = out.dtype.kind
        if kind not in "fiub":
            if kind != "c":
                raise EvaluationError(f"the function returned {type(y).__name__} of dtype "
                                      f"{out.dtype}, not numbers")
            if x.dtype.kind != "c":
                raise StructuredOutput(complex_layout(tuple(out.shape)),
                                       str(complex_output_error()))
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """vec(f) at the point whose vec is ``x`` (shape (n,)); shape (m,)."""
        args = list(self.inputs)
        args[self.wrt] = self._point(x)
        return flatten(self._output(self._checked(self.call, args), x), self.order)

    def watched(self, x: np.ndarray) -> np.ndarray:
        """vec(f) at ``x`` (flat, a point the engine will not use again),
        refused where the function wrote to an input by a way no guard sees
        (NumPy's ``setflags(write=True)``, a tensor's ``.data`` or
        ``.numpy()``): the point, or another input, holds other values after
        the call.

        Raises
        ------
        EvaluationError
            Naming the input written to.
        """
        others = [(i, np.array(self.backend.to_numpy(a), copy=True))
                  for i, a in enumerate(self.inputs) if i != self.wrt]
        before = x.copy()
        value = self(x)
        if not np.array_equal(x, before, equal_nan=True):
            raise _writes_input(f"input {self.wrt}, the one differentiated, changed during a "
                                "call")
        for i, values in others:
            if not np.array_equal(np.asarray(self.backend.to_numpy(self.inputs[i])), values,
                                  equal_nan=True):
                raise _writes_input(f"input {i} changed during a call")
        return value

    def bind(self, x: np.ndarray) -> list[Any]:
        """The argument list with ``inputs[wrt]`` a view of flat ``x``: writing
        to x changes what the function sees, with no copy per call (NumPy only)."""
        # A contiguous 1-D x reshapes to any shape, in C or F order, as a view.
        assert x.ndim == 1 and x.flags.c_contiguous
        args = list(self.inputs)
        args[self.wrt] = self._point(x)
        return args

    def output_rows(self, out: np.ndarray) -> np.ndarray:
        """``out`` (k, m) seen as (k,) + out_shape in the case's order, so that
        ``rows[j] = f(...)`` stores vec(f) in row j without a ravel."""
        k = out.shape[0]
        if self.order == "C" or len(self.out_shape) < 2:
            return out.reshape((k,) + self.out_shape)
        r = len(self.out_shape)
        return out.reshape((k,) + self.out_shape[::-1]).transpose((0,) + tuple(range(r, 0, -1)))

    @property
    def vectorized(self) -> bool:
        return self.batched_call is not None

    def batched(self, xs: np.ndarray) -> np.ndarray:
        """vec(f) at k points at once: ``xs`` (k, n) -> (k, m)."""
        if self.batched_call is None:
            raise EvaluationError("this function evaluates one point a call")
        k = xs.shape[0]
        if self.order == "C":
            w = xs.reshape((k,) + self.in_shape)
        else:
            r = len(self.in_shape)
            w = xs.reshape((k,) + self.in_shape[::-1]).transpose((0,) + tuple(range(r, 0, -1)))
        args = list(self.inputs)
        args[self.wrt] = _read_only(w) if self.direct else self.backend.asarray(w, like=self._like)
        out = self._output(self._checked(self.batched_call, args), xs)
        if out.shape != (k,) + self.out_shape:
            raise EvaluationError(f"the vectorized function returned shape {out.shape}, "
                                  f"expected {(k,) + self.out_shape}")
        if self.order == "C":
            return out.reshape(k, self.m)
        r = len(self.out_shape)
        return out.transpose((0,) + tuple(range(r, 0, -1))).reshape(k, self.m)
