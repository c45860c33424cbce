"""Outputs defined up to a gauge: eigenvectors and singular vectors, each
column defined up to its sign (real) or phase (complex).

A numeric derivative across a sign flip is garbage: the solver may return
-v at x + h e_i and v at x. With a gauge, each value of the output is
aligned, column by column, with its value at the base point before anything
differences it: ``column-sign`` multiplies column j by the sign of <y0_j, y_j>,
``column-phase`` by conj(p_j) / |p_j| for p_j = <y0_j, y_j>. The aligned
function is smooth where the columns are defined, and invariant under the
gauge, so a framework's autograd of it is well defined too (PyTorch's eigh
and svd backward ask exactly that of the function they differentiate).

Where values are repeated, the columns are not defined (any rotation within
the eigenspace will do) and no gauge makes them so: a move of one part in a
million of the inputs that turns a column by a finite angle is refused with
that reason (:func:`turned`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from . import backends
from .errors import CaseError

KINDS = ("column-sign", "column-phase")
# A column whose direction moves by more than this (1 - |cos|) under a move of
# PROBE of the inputs is taken as not defined.
TURN = 1e-2
PROBE = 1e-6


def parse(spec: Any) -> str | dict[Any, str] | None:
    """``"column-sign"``, ``"column-phase"``, or (for a function returning
    several outputs) a mapping from an output's position or key to one."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in KINDS:
            raise ValueError(f"gauge: {spec!r} is not one of {', '.join(KINDS)}")
        return spec
    if isinstance(spec, Mapping) and spec:
        for kind in spec.values():
            parse(kind if isinstance(kind, str) else repr(kind))
        return dict(spec)
    raise ValueError(f"gauge is one of {', '.join(KINDS)}, or a mapping from an output's "
                     f"position or key to one, not {spec!r}")


class Gauge:
    """Aligns an output's values with its value at the base point.

    Parameters
    ----------
    spec : str or mapping
        As :func:`parse` returns it.
    base : array, or a tuple, list or dict of arrays
        The output at the base point (any framework).
    """

    def __init__(self, spec: str | dict[Any, str], base: Any) -> None:
        self.spec = spec
        self.base = _numpy(base)

    def __call__(self, value: Any) -> Any:
        if isinstance(self.spec, str):
            return align(value, self.base, self.spec)
        if isinstance(value, dict):
            return {k: align(v, self.base[k], self.spec[k]) if k in self.spec else v
                    for k, v in value.items()}
        out = [align(v, self.base[k], self.spec[k]) if k in self.spec else v
               for k, v in enumerate(value)]
        return out if isinstance(value, list) else tuple(out)


class Aligned:
    """A caller's function whose output is aligned by ``gauge``."""

    def __init__(self, fn: Any, gauge: Gauge) -> None:
        self.fn = fn
        self.gauge = gauge
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args: Any) -> Any:
        return self.gauge(self.fn(*args))


def _numpy(value: Any) -> Any:
    if isinstance(value, (tuple, list)) or hasattr(value, "_fields"):
        return [_numpy(v) for v in value]
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    name = backends.name_of(value)
    return np.array(backends.get(name).to_numpy(value))


def align(y: Any, y0: np.ndarray, kind: str) -> Any:
    """``y`` (..., m, n) with each column aligned with ``y0``'s (m, n), in
    ``y``'s own framework; the factors are constants (signs) or smooth
    (phases) where the columns are defined."""
    name = backends.name_of(y)
    if np.ndim(y0) < 2:
        raise ValueError(f"a gauge aligns the columns of a matrix; the output has shape "
                         f"{np.shape(y0)}")
    if name == "torch":
        import torch
        ref = torch.as_tensor(y0, dtype=y.dtype, device=y.device)
        p = (ref.conj() * y).sum(dim=-2, keepdim=True)
        if kind == "column-sign":
            return y * torch.where(p.real < 0, -1.0, 1.0).to(y.dtype).detach()
        return y * (p.conj() / p.abs().clamp_min(torch.finfo(p.real.dtype).tiny))
    xp = _namespace(name)
    p = (xp.conj(xp.asarray(y0)) * y).sum(axis=-2, keepdims=True)
    if kind == "column-sign":
        return y * xp.where(xp.real(p) < 0, -1.0, 1.0).astype(y.dtype)
    return y * (xp.conj(p) / xp.maximum(xp.abs(p), np.finfo(np.float64).tiny))


def _namespace(name: str) -> Any:
    if name == "jax":
        import jax.numpy as jnp
        return jnp
    return np


def turned(base: Any, moved: Any, spec: str | dict[Any, str]) -> list[tuple[Any, int, float]]:
    """The columns (output key, column, 1 - |cos|) that turned by more than
    :data:`TURN` between ``base`` and ``moved`` (values at two points
    :data:`PROBE` apart): columns whose values are repeated."""
    base, moved = _numpy(base), _numpy(moved)
    keys = [None] if isinstance(spec, str) else list(spec)
    out = []
    for key in keys:
        y0 = base if key is None else base[key]
        y1 = moved if key is None else moved[key]
        if np.ndim(y0) < 2:
            continue
        num = np.abs(np.sum(np.conj(y0) * y1, axis=-2))
        den = np.linalg.norm(y0, axis=-2) * np.linalg.norm(y1, axis=-2)
        with np.errstate(all="ignore"):
            gap = 1 - num / den
        for j in np.flatnonzero(np.reshape(gap > TURN, -1)):
            out.append((key, int(j), float(np.reshape(gap, -1)[j])))
    return out


def at_base(case: Any, call: Any, inputs: Any, np_inputs: Any, native: Any) -> Gauge:
    """The aligner of ``case``'s output: its value at the inputs, once; and a
    refusal where a move of :data:`PROBE` of the inputs differentiated turns
    a column (values repeated).

    Raises
    ------
    CaseError
        Naming ``gauge``.
    """
    spec = case.gauge
    with backends.get(case.backend).no_grad():
        base = call(*inputs)
        rng = np.random.default_rng(0)
        moved_inputs = list(inputs)
        for i, name in enumerate(case.inputs):
            if name in case.wrt and np.asarray(np_inputs[i]).dtype.kind == "f":
                x = np.asarray(np_inputs[i])
                step = PROBE * np.maximum(1.0, np.abs(x)) * rng.standard_normal(x.shape)
                moved_inputs[i] = native((x + step).astype(x.dtype))
        moved = call(*moved_inputs)
    try:
        turns = turned(base, moved, spec)
        aligner = Gauge(spec, base)
        aligner(base)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CaseError(f"the gauge does not fit the output: {exc}", key="gauge") from None
    if turns:
        key, j, gap = turns[0]
        where = "the output" if key is None else f"output {key!r}"
        raise CaseError(f"column {j} of {where} turns by 1 - |cos| = {gap:.2g} under a move of "
                        f"{PROBE:g} of the inputs: its values are repeated (or nearly), so the "
                        "column is not defined and has no derivative; check a function of the "
                        "eigenspace (a projector V V^T) instead", key="gauge")
    return aligner


def wired(case: Any, call: Any, inputs: Any, np_inputs: Any, native: Any
          ) -> tuple[Any, tuple[str, Gauge] | None]:
    """``case`` with its output aligned (:func:`at_base`): a caller's function
    inside its own call, before its outputs are joined into one vector (the
    case returned changed, no stage aligner); a case file's last stage by
    the stages' call (the aligner returned, for the output's stage)."""
    from .functions import UserCall
    aligner = at_base(case, call, inputs, np_inputs, native)
    body = case.stages[-1].body
    if not isinstance(body, UserCall):
        return case, (case.output, aligner)
    aligned = UserCall(Aligned(body.fn, aligner), body.names)
    return replace(case, stages=(*case.stages[:-1], replace(case.stages[-1], body=aligned))), None
