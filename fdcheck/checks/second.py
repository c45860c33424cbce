"""Second order, as ``gradgradcheck`` checks it: the first-order check applied
to the framework's backward h(x_1, ..., x_k, v) = (J_1^T v, ..., J_k^T v) for
a seeded cotangent v, with respect to every input checked and to v: the
numeric Jacobian of h (the backward, run at perturbed points) against the
framework's own derivative of it (double backward in PyTorch, a VJP of the
VJP in JAX), block by block. For a scalar output the input blocks are the
whole Hessian, cross blocks included; the blocks in v check the backward's
own backward with respect to its cotangent (d(J^T v)/dv = J^T)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import backends
from ..compare import Comparison, judged_at
from ..errors import CaseError
from ..flatfun import FlatFunction
from ..layout import tensor_to_matrix
from ..notes import note
from ..subject import VMAP_MIN_ELEMENTS, Subject, phase
from ..tolerances import largest_finite
from .autograd import joint_jacobians
from .outcome import Outcome, compared, unrunnable


def _elements(x: Any) -> int:
    """The number of elements of a framework's array (``np.size`` would read a
    tensor's ``size`` method)."""
    return int(np.prod(tuple(getattr(x, "shape", ()))))


def cotangent(shape: tuple[int, ...]) -> np.ndarray:
    """The seeded random v of a second-derivative check, shaped like the
    output (1 for a scalar one: the check is then of the Hessian)."""
    if int(np.prod(shape)) == 1:
        return np.ones(shape)
    return np.random.default_rng(0).standard_normal(shape)


def output_name(subject: Subject, out_shape: tuple[int, ...]) -> str:
    """How g is named: the output itself where it is a scalar, else ``(v.f)``."""
    name = subject.case.output
    return name if int(np.prod(out_shape)) == 1 else f"(v.{name})"


@dataclass(frozen=True)
class Block:
    """The rows of h that are one input's gradient J_i^T v."""

    of: str
    shape: tuple[int, ...]
    rows: slice


@dataclass(frozen=True)
class Backward:
    """The framework's backward as a function of the inputs and the cotangent.

    Attributes
    ----------
    backend : AutogradBackend
    h, h_graph : callable
        ``h(*inputs, v)``: every checked input's J_i^T v, joined; ``h_graph``
        differentiable by the framework in turn.
    inputs : list
        The inputs in the framework's arrays, then v.
    blocks : tuple of Block
        Which rows of h are which input's gradient.
    out_shape : tuple of int
        The function's output shape (v's).
    v_name : str
        How v is named in the report.
    """

    backend: backends.AutogradBackend
    h: Any
    h_graph: Any
    inputs: list[Any]
    blocks: tuple[Block, ...]
    out_shape: tuple[int, ...]
    v_name: str

    @property
    def rows(self) -> int:
        return self.blocks[-1].rows.stop


def given_cotangent(subject: Subject, out_shape: tuple[int, ...],
                    backend: backends.AutogradBackend) -> np.ndarray:
    """The case's own v, shaped like the output.

    Raises
    ------
    CaseError
        Naming ``cotangent`` where it is not.
    """
    v = np.asarray(backend.to_numpy(subject.case.cotangent), dtype=np.float64) \
        if not isinstance(subject.case.cotangent, np.ndarray) else subject.case.cotangent
    if v.size != int(np.prod(out_shape)) or not np.isfinite(v).all():
        raise CaseError(f"the cotangent has shape {v.shape}; the output's is {out_shape}, and "
                        "every entry finite", key="cotangent")
    return v.reshape(out_shape)


def cotangent_name(names: Sequence[str]) -> str:
    """How v is named: ``v``, unless an input is."""
    name = "v"
    while name in names:
        name += "_"
    return name


def backward(subject: Subject, name: str, wrts: Sequence[str], out_shape: tuple[int, ...]
             ) -> Backward:
    """Framework ``name``'s backward of the case's function in ``wrts``."""
    backend = backends.autograd(name)
    positions = [subject.names.index(w) for w in wrts]
    v = given_cotangent(subject, out_shape, backend) if subject.case.cotangent is not None \
        else cotangent(out_shape)
    v = v.astype(subject.np_inputs[positions[0]].dtype)
    call = subject.framework_call(name)  # one object: what a framework compiles is found again
    order = subject.case.order
    blocks, start = [], 0
    for w, i in zip(wrts, positions):
        shape = tuple(np.shape(subject.np_inputs[i]))
        blocks.append(Block(w, shape, slice(start, start + int(np.prod(shape)))))
        start += int(np.prod(shape))
    strided = subject.case.noncontiguous_cotangent
    return Backward(backend, backend.backward_function(call, positions, order, False, strided),
                    backend.backward_function(call, positions, order, True, strided),
                    [*subject.inputs_for(backend), subject.native(v, backend)], tuple(blocks),
                    out_shape, cotangent_name(subject.names))


def run(subject: Subject, name: str, wrts: Sequence[str], out_shape: tuple[int, ...]
        ) -> Outcome:
    """The Jacobian of the backward h with respect to each input of ``wrts``
    and to v, block by block, against the framework's double backward."""
    b = backward(subject, name, wrts, out_shape)
    variables = [*wrts, b.v_name]
    positions = [_position(subject, b, var) for var in variables]
    modes = second_modes(subject.case.modes)
    joint: dict[int, Any] = {}
    if "reverse" in modes:
        # The double backward in every input and v at once; where that fails,
        # each variable alone says what went wrong.
        with phase("autograd"):
            joint = joint_jacobians(b.backend, b.h_graph, b.inputs, positions)
    # Every variable's numeric and framework Jacobians first: each block is
    # judged at the scale of the whole second derivative, every variable's
    # (gradgradcheck's one Jacobian of the backward in all its inputs).
    columns = [_column(subject, name, b, var, joint, modes) for var in variables]
    scales = {mode: max((c.scale(mode) for c in columns), default=0.0) for mode in modes}
    outcome = Outcome()
    for c in columns:
        outcome += c.compared(subject, name, b, scales)
    return outcome


def judged_whole(comps: Sequence[Comparison]) -> list[Comparison]:
    """A case's comparisons, its framework's second-derivative blocks judged
    at the scale of the whole second derivative, every variable's: a block
    all at rounding level (an exactly-0 derivative computed to rounding),
    blind at its own scale, is not beside the others. :func:`run` reads each
    block so already; this does it for the blocks checked along directions,
    input by input (the reference's products being the whole's entries)."""
    def group(c: Comparison) -> tuple[str, str] | None:
        return (c.against, c.mode) if c.derivative == 2 and c.against in backends.AUTOGRAD_NAMES \
            and c.aspect is None else None
    # Only a blind block is judged again: a group without one is left as it is
    # (each whole block was already read at the whole's scale by run).
    blind = {group(c) for c in comps if any(n.kind == "blind" for n in c.notes)} - {None}
    scales: dict[tuple[str, str] | None, float] = {}
    for c in comps:
        key = group(c)
        if key in blind and c.matrices is not None:
            scales[key] = max(scales.get(key, 0.0), largest_finite(c.matrices.reference))
    return [judged_at(c, scales[group(c)]) if group(c) in blind else c for c in comps]


def second_modes(modes: Sequence[str]) -> tuple[str, ...]:
    """How the framework differentiates its backward, from the case's modes:
    reverse over reverse (the double backward) for ``reverse``, forward over
    reverse (a JVP of the backward: gradgradcheck's ``check_fwd_over_rev``)
    for ``forward``."""
    return tuple(m for m in ("reverse", "forward") if m in modes) or ("reverse",)


def _position(subject: Subject, b: Backward, var: str) -> int:
    return len(b.inputs) - 1 if var == b.v_name else subject.names.index(var)


@dataclass
class _Column:
    """One variable's numeric Jacobian of h and the framework's in each mode
    (or why the framework could not differentiate h)."""

    verifier: Any
    spent: int
    refs: dict[str, np.ndarray | CaseError]
    wheres: list[dict[str, Any]]
    notes: tuple[Any, ...]

    def scale(self, mode: str) -> float:
        ref = self.refs[mode]
        return 0.0 if isinstance(ref, CaseError) else largest_finite(ref)

    def compared(self, subject: Subject, name: str, b: Backward,
                 scales: dict[str, float]) -> Outcome:
        out = Outcome((), self.spent)
        numeric = self.verifier.result.jacobian
        in_shape = self.verifier.result.in_shape
        for mode, ref in self.refs.items():
            wheres = [{**where, "mode": mode} for where in self.wheres]
            if isinstance(ref, CaseError):
                why = note("no-double-backward", framework=name, message=ref.message, mode=mode)
                for where, k in zip(wheres, b.blocks):
                    out += unrunnable(subject, name, int(np.prod(k.shape)) * int(np.prod(in_shape)),
                                      why, **where)
                continue
            for where, k in zip(wheres, b.blocks):
                out += compared(subject, name, numeric[k.rows], ref[k.rows],
                                verifier=self.verifier, notes=self.notes, scale=scales[mode],
                                **where)
        return out


def _column(subject: Subject, name: str, b: Backward, var: str,
            joint: dict[int, Any], modes: Sequence[str]) -> _Column:
    """The numeric Jacobian of h in ``var`` (the blocks d(J_i^T v)/d var, every
    i) and the framework's in each of ``modes``; ``joint``: its reverse-mode
    Jacobians of h already taken, by position."""
    is_v = var == b.v_name
    position = _position(subject, b, var)
    batched = None
    if subject.options.mode != "serial" and b.backend.batches_backward \
            and _elements(b.inputs[position]) >= VMAP_MIN_ELEMENTS[b.backend.name]:
        batched = b.backend.vmap(b.h, position, len(b.inputs))
    output = subject.case.output
    with phase("autograd"):
        fn = FlatFunction(b.h, b.inputs, position, order=subject.case.order,
                          dtype=subject.case.dtype, backend=b.backend, batched_call=batched)
        verifier, spent = subject.derive(fn, b.h, f"d(v.d{output})/d{var}")
    in_shape = verifier.result.in_shape
    wheres: list[dict[str, Any]] = [dict(wrt=var, of=k.of, cotangent=is_v, out_shape=k.shape, in_shape=in_shape,
                   out_name=output if is_v else output_name(subject, b.out_shape), rows=k.rows,
                   derivative=2) for k in b.blocks]
    refs: dict[str, np.ndarray | CaseError] = {}
    connected: bool | None = None
    for mode in modes:
        try:
            with phase("autograd"):
                if mode == "forward":
                    # Zero tangents, not undefined ones: torch's formulas for
                    # ZeroTensors go through its Python kernels, several times slower.
                    tensor = b.backend.forward_jacobian(b.h_graph, b.inputs, position,
                                                        zero_tangents=True)
                else:
                    tensor = joint[position] if position in joint else \
                        b.backend.autograd_jacobian(b.h_graph, b.inputs, position)
                if connected is None:
                    # Asked once of h whatever the modes (an evaluation of the backward).
                    connected = bool(b.backend.differentiable(b.h_graph, b.inputs, position))
        except CaseError as exc:
            refs[mode] = exc
            continue
        refs[mode] = tensor_to_matrix(tensor, (b.rows,), in_shape, subject.case.order)
    notes = () if connected is not False else (
        note("not-differentiable", framework=name, output=subject.case.output, wrt=var),)
    return _Column(verifier, spent, refs, wheres, notes)
