"""A framework's own Jacobian (PyTorch, JAX), by reverse mode (its backward
rules, ``custom_vjp``) or forward mode (its jvp rules, ``custom_jvp``),
against the numeric one."""
from __future__ import annotations

from typing import Any, Sequence

from .. import backends
from ..errors import CaseError, EvaluationError
from ..functions import StagesCall
from ..layout import tensor_to_matrix
from ..notes import note
from ..subject import Subject, phase
from ..verify import Verifier
from .outcome import Outcome, compared, unrunnable


def held_outputs(subject: Subject, backend: backends.AutogradBackend, wrt: str) -> list[str]:
    """The outputs of several that the framework marks not differentiable
    (PyTorch: requires_grad False, as native_layer_norm's mean and rstd):
    its Jacobian of them is 0 by design, so, as gradcheck does, they are not
    compared with it."""
    if subject.outputs is None or not hasattr(backend, "differentiable_outputs"):
        return []
    joined = subject.framework_call(backend.name)
    inputs = subject.inputs_for(backend)
    if isinstance(joined, StagesCall):
        # Structured inputs or a gauge: the caller's joined function, of the matrices.
        joined, inputs = joined.stages[-1][1].fn, subject.lifted(inputs)
    with phase("autograd"):
        flags = backend.differentiable_outputs(joined.fn, inputs, subject.names.index(wrt))
    return [f"{subject.case.output}{p.label}" for p in subject.outputs.parts
            if flags is not None and not flags.get(p.key, True)]


def joint_jacobians(backend: backends.AutogradBackend, fn: Any, inputs: Sequence[Any],
                    positions: Sequence[int]) -> dict[int, Any]:
    """The framework's reverse-mode Jacobians of ``fn`` in every input of
    ``positions``, by position, in one sweep (one backward pass an output
    element, not one per element and input); empty where the sweep fails,
    so that each input, taken alone, says what went wrong for it."""
    try:
        return dict(zip(positions, backend.autograd_jacobians(fn, inputs, positions)))
    except Exception:  # each input alone names its own trouble
        return {}


def _jacobian(subject: Subject, backend: backends.AutogradBackend, wrt: str, mode: str,
              memo: dict[Any, Any] | None) -> Any:
    """The framework's Jacobian of ``wrt``. In reverse mode, those of every
    input checked whole are taken in one sweep (one backward pass an output
    element, not one per input and output element) and kept in ``memo`` for
    the next input; where that sweep fails, each input is tried alone, so
    that its own trouble is said for it."""
    fn, inputs, index = subject.framework_call(backend.name), subject.inputs_for(backend), \
        subject.names.index(wrt)
    if mode == "forward":
        return backend.forward_jacobian(fn, inputs, index)
    wrts = [subject.names.index(w) for w in subject.case.wrt if not subject.wrt[w].directions]
    if memo is None or len(wrts) < 2:
        return backend.autograd_jacobian(fn, inputs, index)
    key = (backend.name, "reverse")
    if key not in memo:
        memo[key] = joint_jacobians(backend, fn, inputs, wrts)
    joint = memo[key]
    return joint[index] if index in joint else backend.autograd_jacobian(fn, inputs, index)


def check_mode(subject: Subject, wrt: str, verifier: Verifier, name: str, mode: str,
               held: list[str], memo: dict[Any, Any] | None = None) -> Outcome:
    """One mode of framework ``name`` against the numeric Jacobian of ``wrt``."""
    backend = backends.autograd(name)
    result = verifier.result
    where: dict[str, Any] = dict(wrt=wrt, out_shape=result.out_shape, in_shape=result.in_shape,
                                 out_name=subject.case.output, mode=mode)
    try:
        with phase("autograd"):
            tensor = _jacobian(subject, backend, wrt, mode, memo)
    except CaseError as exc:
        if not isinstance(exc.origin, Exception) or isinstance(exc.origin, EvaluationError):
            raise
        # The function ran at the inputs; only the framework's derivative did not.
        return unrunnable(subject, name, result.jacobian.size,
                          note("no-derivative", framework=name, mode=mode, message=exc.message),
                          **where)
    ref = tensor_to_matrix(tensor, result.out_shape, result.in_shape, subject.case.order)
    if held and subject.outputs is not None and len(held) == len(subject.outputs.parts):
        # Nothing left to compare: that is no PASS.
        return unrunnable(subject, name, result.jacobian.size,
                          note("all-held", framework=name, outputs=tuple(held)), **where)
    outcome = Outcome()
    for rows, shape, out_name in subject.parts(result.out_shape):
        if out_name in held:
            continue
        notes = (note("held", framework=name, outputs=tuple(held)),) if held else ()
        outcome += compared(subject, name, result.jacobian[rows], ref[rows], verifier=verifier,
                            rows=rows, notes=notes, **{**where, "out_shape": shape,
                                                       "out_name": out_name})
    return outcome


def run(subject: Subject, wrt: str, verifier: Verifier, name: str,
        memo: dict[Any, Any] | None = None) -> Outcome:
    """Every mode the case asks for, of framework ``name``, for input ``wrt``;
    ``memo``, kept over the case's inputs, holds what one sweep found for all."""
    held = held_outputs(subject, backends.autograd(name), wrt)
    outcome = Outcome()
    for mode in subject.case.modes:
        outcome += check_mode(subject, wrt, verifier, name, mode, held, memo)
    return outcome
