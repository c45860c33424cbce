"""The chain rule: the product of each stage's own numeric Jacobian, in order,
against the numeric Jacobian of the whole (``against: chain``)."""
from __future__ import annotations

import numpy as np

from ..subject import Subject
from ..verify import Verifier
from .outcome import Outcome, compared


def _term(part: np.ndarray, noise: np.ndarray, upstream: np.ndarray | None,
          error: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """part @ upstream and a bound on its rounding: each factor's own (a
    stage's noise per column, ``noise``; the upstream product's ``error``)
    carried through the other."""
    if upstream is None:  # the identity: the stage's own Jacobian and rounding
        return part, np.broadcast_to(noise, part.shape)
    bound = noise @ np.abs(upstream)
    if error is not None:
        bound = bound + np.abs(part) @ error
    return part @ upstream, np.broadcast_to(bound, (part.shape[0], upstream.shape[1]))


def run(subject: Subject, wrt: str, whole: Verifier) -> Outcome:
    """For a case of several stages: multiply the stages' Jacobians in order;
    their rounding, carried through the product, is the least allowance of
    the comparison (a derivative that is 0 is compared with rounding, not
    with 0)."""
    if not subject.case.is_chain:
        return Outcome()
    spent = 0
    # Per name: the product so far (None: the identity) and its rounding.
    total: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {wrt: (None, None)}
    for stage in subject.case.stages:
        acc: np.ndarray | None = None
        err: np.ndarray | None = None
        for read in stage.reads:
            if read not in total:
                continue
            verifier, used = subject.stage_jacobian(stage, read, total=False)
            spent += used
            upstream, up_err = total[read]
            term, term_err = _term(verifier.result.jacobian, verifier.result.noise, upstream,
                                   up_err)
            acc = term if acc is None else acc + term
            err = term_err if err is None else err + term_err
        if acc is not None:
            total[stage.name] = (acc, err)
    result = whole.result
    product, error = total.get(subject.case.output, (None, None))
    if product is None:
        product = np.zeros_like(result.jacobian)
    floor = None
    if error is not None:
        # An entry of the product within its own rounding is 0 as far as it
        # can tell: compared as 0, not as a derivative of that size.
        product = np.where(np.abs(product) <= error, 0.0, product)
        floor = np.max(error, axis=0, initial=0.0)
    return Outcome((), spent) + compared(
        subject, "chain", result.jacobian, product, wrt=wrt, out_shape=result.out_shape,
        in_shape=result.in_shape, out_name=subject.case.output, verifier=whole, floor=floor)
