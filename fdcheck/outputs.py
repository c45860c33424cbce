"""Functions that return several arrays: a tuple, a list or a dict of them.

Each floating output is checked as its own output. The engine sees one flat
vector: :class:`Joined` calls the function and concatenates vec() of its
floating outputs (in the case's order), so that every perturbed point is one
evaluation whatever the number of outputs, and a framework differentiates the
same concatenation. :class:`Part` says which rows of that vector, and so of
every Jacobian of it, belong to which output. Integer and boolean outputs
(indices, masks) have no derivative: they are left out, with a note.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .notes import Note, note
from . import backends
from .dtypes import readable
from .errors import EvaluationError


class StructuredOutput(EvaluationError):
    """Raised where a function turns out to return several outputs, for the
    caller to evaluate it through :class:`Joined` instead."""

    def __init__(self, outputs: Outputs, message: str | None = None) -> None:
        super().__init__(message or "the function returns a tuple, list or dict of outputs "
                         f"({', '.join(p.label for p in outputs.parts)}); fdcheck checks each "
                         "floating output of a function of the Python API, but not of a stage")
        self.outputs = outputs


@dataclass(frozen=True)
class Part:
    """One floating output of a structured function.

    Attributes
    ----------
    label : str
        How it is written after the output's name: ``[0]``, ``['loss']``.
    key : int or str
        Its position or dict key.
    shape : tuple of int
    rows : slice
        Its rows in the concatenation (and in every Jacobian of it).
    component : {"real", "imag"}, optional
        For a complex output among several: which of its parts this is (each
        checked as a real output, ``[0].real`` and ``[0].imag``).
    """

    label: str
    key: Any
    shape: tuple[int, ...]
    rows: slice
    component: str | None = None   # "real" or "imag": a part of a complex output in a structure

    def of(self, value: Any) -> Any:
        """This part of the output ``value`` (the item at ``key``)."""
        return value if self.component is None else getattr(value, self.component)


@dataclass(frozen=True)
class Outputs:
    """The layout of a structured function's outputs.

    Attributes
    ----------
    parts : tuple of Part
        The floating outputs, in order.
    skipped : tuple of str
        What was left out and why (``[1] is int64``).
    """

    parts: tuple[Part, ...]
    skipped: tuple[str, ...]
    complex: bool = False     # the real and imaginary parts of one complex output

    @property
    def note(self) -> Note | None:
        """The note every check of such a function carries, if any output was left out."""
        return note("outputs-skipped", skipped=self.skipped) if self.skipped else None


def _items(value: Any) -> list[tuple[str, Any, Any]] | None:
    """(label, key, item) of a tuple, list or dict; None for anything else."""
    if isinstance(value, dict):
        return [(f"[{k!r}]", k, v) for k, v in value.items()]
    if isinstance(value, (tuple, list)) and not _is_numbers(value):
        return [(f"[{i}]", i, v) for i, v in enumerate(value)]
    return None


def _is_numbers(value: Any) -> bool:
    # [1.0, 2.0] or [[1, 2], [3, 4]] from a NumPy function is one output, as
    # np.asarray reads it.
    if isinstance(value, (tuple, list)):
        return all(_is_numbers(v) for v in value)
    return isinstance(value, (int, float, np.number))


def complex_layout(shape: tuple[int, ...]) -> Outputs:
    """A complex output of ``shape`` at a real point: its real and imaginary
    parts, checked as two real outputs (``f.real``, ``f.imag``)."""
    size = int(np.prod(shape))
    return Outputs((Part(".real", "real", shape, slice(0, size)),
                    Part(".imag", "imag", shape, slice(size, 2 * size))), (), complex=True)


def layout(value: Any) -> Outputs | None:
    """The layout of ``value``, a function's output at the inputs; None where
    it is one array (or a list of numbers).

    Raises
    ------
    EvaluationError
        For a structure with nothing floating in it, or nested structures.
    """
    items = _items(value)
    if items is None:
        return None
    parts, skipped, start = [], [], 0
    for label, key, item in items:
        if _items(item) is not None:
            raise EvaluationError(f"the function returned a nested structure (output {label} "
                                  f"is a {type(item).__name__}): return arrays, or a flat "
                                  "tuple, list or dict of them")
        arr = readable(np.asarray(backends.get(backends.name_of(item)).to_numpy(item))) \
            if item is not None else np.asarray(None)
        if arr.dtype.kind == "c":
            for component in ("real", "imag"):
                parts.append(Part(f"{label}.{component}", key, tuple(arr.shape),
                                  slice(start, start + arr.size), component))
                start += arr.size
            continue
        if arr.dtype.kind not in "f":
            skipped.append(f"{label} ({arr.dtype})" if arr.dtype.kind in "iub"
                           else f"{label} ({type(item).__name__})")
            continue
        parts.append(Part(label, key, tuple(arr.shape), slice(start, start + arr.size)))
        start += arr.size
    if not parts:
        raise EvaluationError(f"the function returned a {type(value).__name__} with no floating "
                              f"output ({', '.join(skipped)}): nothing to differentiate")
    return Outputs(tuple(parts), tuple(skipped))


class Joined:
    """``fn`` with its floating outputs joined into one flat vector.

    Parameters
    ----------
    fn : callable
        Returns a tuple, list or dict laid out as ``outputs``.
    outputs : Outputs
    backend : str
        The framework of its outputs: the vector is one of its arrays.
    order : {"C", "F"}
        The vectorization of each output.
    lead : int
        Leading axes kept (1 for a function that takes a batch of points and
        returns a batch of outputs; under vmap, 0).
    """

    def __init__(self, fn: Callable[..., Any], outputs: Outputs, backend: str, order: str,
                 lead: int = 0) -> None:
        self.fn = fn
        self.outputs = outputs
        self.backend = backend
        self.order = order
        self.lead = lead
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args: Any) -> Any:
        value = self.fn(*args)
        if self.outputs.complex:
            return backends.get(self.backend).join([value.real, value.imag], self.order, self.lead)
        got = _items(value)
        parts = self.outputs.parts
        picked = {k: v for _, k, v in got} if got is not None else {}
        if got is None or not all(p.key in picked for p in parts):
            raise EvaluationError("the function returned a different structure at a perturbed "
                                  "point than at the inputs")
        return backends.get(self.backend).join([p.of(picked[p.key]) for p in parts],
                                               self.order, self.lead)


def split(value: Any, outputs: Outputs, backend: Any) -> list[np.ndarray]:
    """A reference given for a structured function (a tuple, list or dict
    laid out as its outputs), one float64 array per floating output.

    Raises
    ------
    ValueError
        Where it is not laid out so.
    """
    if outputs.complex and not isinstance(value, (tuple, list, dict)):
        arr = np.asarray(backend.to_numpy(value))
        value = {"real": arr.real, "imag": arr.imag}    # a complex Jacobian, R + iI
    keys = list(dict.fromkeys(p.key for p in outputs.parts))   # a complex output's once
    if isinstance(value, (tuple, list)) and len(value) == len(keys) and not _is_numbers(value) \
            and keys and isinstance(keys[0], str):
        value = dict(zip(keys, value))  # one entry per floating output, in their order
    items = _items(value)
    picked = {k: v for _, k, v in items} if items is not None else {}
    if items is None or not all(k in picked for k in keys):
        labels = ", ".join(p.label for p in outputs.parts)
        raise ValueError(f"the function returns several outputs ({labels}): give the reference "
                         f"as a {'dict' if isinstance(keys[0], str) else 'tuple'} with one entry "
                         "for each of them")
    # A complex output's reference is one complex Jacobian, R + iI, as for one output alone.
    return [np.asarray(p.of(np.asarray(backend.to_numpy(picked[p.key]))), dtype=np.float64)
            for p in outputs.parts]


def axes_for(ndim: int, order: str, lead: int) -> tuple[int, ...]:
    """The permutation after which a C-order reshape of the axes past ``lead``
    is the vectorization in ``order``."""
    rest = range(lead, ndim)
    return tuple(range(lead)) + tuple(reversed(rest) if order == "F" else rest)
