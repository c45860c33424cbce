"""The numeric Jacobian against the derivative a person wrote:
``expect.gradient`` or ``expect.jacobian`` of one input."""
from __future__ import annotations

from ..subject import Subject
from ..verify import Verifier
from .outcome import Outcome, compared

KINDS = ("gradient", "jacobian")


def key_of(subject: Subject, kind: str, wrt: str) -> str:
    """The case key of a reference: ``expect.gradient``, or ``expect.gradient.W``
    where several inputs are differentiated."""
    return f"expect.{kind}" + (f".{wrt}" if len(subject.case.wrt) > 1 else "")


def run(subject: Subject, wrt: str, verifier: Verifier) -> Outcome:
    """Each analytic reference of ``wrt``, one comparison per output checked."""
    expect = subject.case.expect
    result = verifier.result
    outcome = Outcome()
    for kind, refs in (("gradient", expect.gradient), ("jacobian", expect.jacobian)):
        if wrt not in refs:
            continue
        key = key_of(subject, kind, wrt)
        mats = subject.part_matrices(refs[wrt], kind, key, result.out_shape, result.in_shape, wrt)
        for mat, (rows, shape, name) in zip(mats, subject.parts(result.out_shape)):
            outcome += compared(subject, "analytic", result.jacobian[rows], mat, wrt=wrt,
                                out_shape=shape, in_shape=result.in_shape, out_name=name,
                                verifier=verifier, rows=rows)
    return outcome
