"""The directional check: J v against R v along random directions, for the
case's ``directions`` or a Jacobian too large to hold. A framework's
reference is taken by its products (one VJP, or one JVP per direction),
never as a whole Jacobian."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from .. import backends
from ..directional import check_products, reference_jvp
from ..errors import CaseError, EvaluationError
from ..flatfun import FlatFunction
from ..layout import element_labels, flatten, unflatten
from ..notes import Note, note
from ..subject import Subject, phase
from . import second
from .analytic import key_of
from .outcome import Outcome, unrunnable

# (against, kind "jvp" or "vjp", the product, derivative, mode)
Product = tuple[str, str, Any, int, str]


def framework_product(subject: Subject, backend: backends.AutogradBackend, call: Any, i: int, fn: FlatFunction,
                      mode: str, inputs: Sequence[Any] | None = None) -> tuple[str, Any]:
    """A framework's Jacobian of ``call`` by its products on flat vectors:
    ("vjp", u -> J^T u) in reverse mode, ("jvp", v -> J v) in forward mode;
    at ``inputs`` (default: the case's, in the framework's arrays)."""
    order = subject.case.order
    inputs = subject.inputs_for(backend) if inputs is None else inputs
    if mode == "forward":
        return "jvp", lambda v: flatten(backend.jvp(call, inputs, i,
                                                    unflatten(v, fn.in_shape, order)), order)
    return "vjp", lambda u: flatten(backend.vjp(call, inputs, i,
                                                unflatten(u, fn.out_shape, order)), order)


def run_products(subject: Subject, fn: FlatFunction, products: list[Product], wrt: str,
                 out_name: str, var: str | None = None) -> Outcome:
    """One directional check per product, each noted as the input's checks
    are; ``var``: what the checks differentiate, where it is not input ``wrt``
    itself (the cotangent of the double backward)."""
    directions = subject.wrt[wrt].directions or 1
    outcome = Outcome()
    for against, kind, product, derivative, mode in products:
        framework = against in backends.AUTOGRAD_NAMES
        try:
            with phase("autograd" if framework else "function"):
                checks, used = check_products(
                    fn, [(against, kind, product)], subject.tolerances.products, directions,
                    subject.evaluator(fn), wrt=var or wrt, out_shape=fn.out_shape,
                    in_shape=fn.in_shape,
                    order=subject.case.order, out_name=out_name, derivative=derivative,
                    mode=mode)
        except CaseError as exc:
            if not framework or isinstance(exc.origin, (EvaluationError, type(None))):
                raise
            why = note("no-product", framework=against, product=kind, derivative=derivative,
                       message=exc.message)
            outcome += unrunnable(subject, against, directions, why, wrt=var or wrt,
                                  out_name=out_name, derivative=derivative, mode=mode)
            continue
        notes = subject.notes(wrt)
        outcome += Outcome(tuple(replace(c, notes=(*c.notes, *notes)) if notes else c
                                 for c in checks), used)
    return outcome


def _products(subject: Subject, wrt: str, fn: FlatFunction) -> list[Product]:
    """Every reference of ``wrt`` by its products: analytic, then frameworks."""
    case = subject.case
    products: list[Product] = []
    for kind, refs in (("gradient", case.expect.gradient), ("jacobian", case.expect.jacobian)):
        if wrt in refs:
            key = key_of(subject, kind, wrt)
            mat = np.vstack(subject.part_matrices(refs[wrt], kind, key, fn.out_shape,
                                                  fn.in_shape, wrt))
            products.append(("analytic", "jvp", reference_jvp(mat), 1, "reverse"))
    if wrt in case.expect.jvp:
        products.append(("analytic", "jvp", case.expect.jvp[wrt], 1, "reverse"))
    i = subject.names.index(wrt)
    for name in case.autograd:
        backend = backends.autograd(name)
        call = subject.framework_call(name)
        products += [(name, *framework_product(subject, backend, call, i, fn, mode), 1, mode)
                     for mode in case.modes]
    return products


def run(subject: Subject, wrt: str) -> Outcome:
    """Every reference of input ``wrt`` along its directions, and the second
    derivative by products where the case asks for it."""
    case = subject.case
    fn = subject.wrt[wrt].fn
    if subject.outputs is not None:
        labels = tuple(f"{case.output}{p.label}" for p in subject.outputs.parts)
        subject = _noted(subject, wrt, note("outputs-together", outputs=labels))
    outcome = run_products(subject, fn, _products(subject, wrt, fn), wrt, case.output)
    if case.derivatives == 2:
        for name in case.autograd:
            outcome += run_second(subject, wrt, name, fn.out_shape)
    return outcome


def run_second(subject: Subject, wrt: str, name: str, out_shape: tuple[int, ...]) -> Outcome:
    """The double backward by products, as gradgradcheck's fast mode checks
    it: the backward h (every checked input's J_i^T v, joined) differentiated
    numerically along random directions in input ``wrt``, mixed blocks
    included, and, for the last input checked so, in the cotangent v; each
    against one more VJP of h. Its rows are named by the input elements
    whose gradients they are; ``of`` names those inputs."""
    b = second.backward(subject, name, list(subject.case.wrt), out_shape)
    along = [w for w in subject.case.wrt if subject.wrt[w].directions]
    variables = [wrt, *([b.v_name] if wrt == along[-1] else [])]
    order = subject.case.order
    of = b.blocks[0].of if len(b.blocks) == 1 else f"({','.join(k.of for k in b.blocks)})"
    labels = tuple(label for k in b.blocks for label in element_labels(k.of, k.shape, order))
    outcome = Outcome()
    for var in variables:
        is_v = var == b.v_name
        position = len(b.inputs) - 1 if is_v else subject.names.index(var)
        with phase("autograd"):
            fn = FlatFunction(b.h, b.inputs, position, order=order, dtype=subject.case.dtype,
                              backend=b.backend)
        products = [(name, *framework_product(subject, b.backend, b.h_graph, position, fn, mode,
                                              b.inputs), 2, mode)
                    for mode in second.second_modes(subject.case.modes)]
        out_name = subject.case.output if is_v else second.output_name(subject, out_shape)
        found = run_products(subject, fn, products, wrt, out_name, var=var)
        outcome += Outcome(tuple(replace(c, of=of, cotangent=is_v, out_labels=labels)
                                 for c in found.comparisons), found.evaluations)
    return outcome


def _noted(subject: Subject, wrt: str, added: Note) -> Subject:
    """The subject whose input ``wrt`` carries one more note."""
    prepared = subject.wrt[wrt]
    return replace(subject, wrt={**subject.wrt, wrt: replace(prepared,
                                                             notes=(*prepared.notes, added))})
