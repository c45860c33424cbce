"""Second order, as ``gradgradcheck`` checks it: the first-order check applied
to g(x) = J(x)^T v for a seeded cotangent v: the numeric Jacobian of g (the
framework's backward, run at perturbed points) against the framework's own
derivative of it (double backward in PyTorch, VJP of VJP in JAX)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import backends
from ..errors import CaseError
from ..flatfun import FlatFunction
from ..layout import tensor_to_matrix
from ..notes import note
from ..subject import Subject, phase
from .outcome import Outcome, compared, unrunnable


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
class Second:
    """What a second-derivative check of one input by one framework
    differentiates.

    Attributes
    ----------
    backend : Backend
    call : callable
        The function as the framework differentiates it.
    position : int
        The input's place.
    inputs : list
        The inputs in the framework's arrays.
    g : callable
        x -> J(x)^T v, without a graph of its own.
    fn : FlatFunction
        g as the engine sees it.
    g_graph : callable
        g with a graph of its own, for the framework to differentiate.
    """

    backend: backends.AutogradBackend
    call: Any
    position: int
    inputs: Sequence[Any]
    g: Any
    fn: FlatFunction
    g_graph: Any


def second(subject: Subject, wrt: str, name: str, out_shape: tuple[int, ...]) -> Second:
    """The second-derivative function of input ``wrt`` by framework ``name``:
    many points a call where the framework batches its backward (JAX)."""
    backend = backends.autograd(name)
    i = subject.names.index(wrt)
    inputs = subject.inputs_for(backend)
    call = subject.framework_call(name)  # one object: what a framework compiles is found again
    v = cotangent(out_shape)
    g = backend.vjp_function(call, i, v, False)
    batched = None
    if subject.options.mode != "serial":
        batched = backend.vjp_batched(call, i, len(inputs), v)
    with phase("autograd"):
        fn = FlatFunction(g, inputs, i, order=subject.case.order, dtype=subject.case.dtype,
                          backend=backend, batched_call=batched)
    return Second(backend, call, i, inputs, g, fn, backend.vjp_function(call, i, v, True))


def run(subject: Subject, wrt: str, name: str, out_shape: tuple[int, ...]) -> Outcome:
    """The whole Jacobian of g against the framework's double backward."""
    s = second(subject, wrt, name, out_shape)
    with phase("autograd"):
        verifier, spent = subject.derive(s.fn, s.g, f"d2{subject.case.output}/d{wrt}2")
    result = verifier.result
    where: dict[str, Any] = dict(wrt=wrt, out_shape=result.out_shape, in_shape=result.in_shape,
                                 out_name=output_name(subject, out_shape), derivative=2)
    try:
        with phase("autograd"):
            tensor = s.backend.second_jacobian(s.call, s.inputs,
                                               s.position, cotangent(out_shape))
            differentiable = s.backend.differentiable(s.g_graph, s.inputs, s.position)
    except CaseError as exc:
        return Outcome((), spent) + unrunnable(
            subject, name, result.jacobian.size,
            note("no-double-backward", framework=name, message=exc.message), **where)
    ref = tensor_to_matrix(tensor, result.in_shape, result.in_shape, subject.case.order)
    notes = () if differentiable else (
        note("not-differentiable", framework=name, output=subject.case.output, wrt=wrt),)
    return Outcome((), spent) + compared(subject, name, result.jacobian, ref, verifier=verifier,
                                         notes=notes, **where)
