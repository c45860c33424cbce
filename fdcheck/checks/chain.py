"""The chain rule: the product of each stage's own numeric Jacobian, in order,
against the numeric Jacobian of the whole (``against: chain``)."""
from __future__ import annotations

import numpy as np

from ..subject import Subject
from ..verify import Verifier
from .outcome import Outcome, compared


def run(subject: Subject, wrt: str, whole: Verifier) -> Outcome:
    """For a case of several stages: multiply the stages' Jacobians in order."""
    if not subject.case.is_chain:
        return Outcome()
    spent = 0
    total: dict[str, np.ndarray | None] = {wrt: None}  # None: the identity
    for stage in subject.case.stages:
        acc = None
        for read in stage.reads:
            if read not in total:
                continue
            verifier, used = subject.stage_jacobian(stage, read)
            spent += used
            part, upstream = verifier.result.jacobian, total[read]
            term = part if upstream is None else part @ upstream
            acc = term if acc is None else acc + term
        if acc is not None:
            total[stage.name] = acc
    result = whole.result
    product = total.get(subject.case.output)
    if product is None:
        product = np.zeros_like(result.jacobian)
    return Outcome((), spent) + compared(
        subject, "chain", result.jacobian, product, wrt=wrt, out_shape=result.out_shape,
        in_shape=result.in_shape, out_name=subject.case.output, verifier=whole)
