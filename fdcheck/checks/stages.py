"""Each stage of a chain against ``expect.stages.NAME``: its value, and its
gradient, Jacobian or Hessian with respect to an input of the case (through
the stages before it) or to a stage it reads."""
from __future__ import annotations

from typing import Any, Mapping

from ..case import Expected, Stage
from ..subject import Subject
from .hessian import check_hessian
from .outcome import Outcome, compared
from .value import check_value


def _key(subject: Subject, where: str, kind: str, var: str, refs: Mapping[str, Any]) -> str:
    """The case key of a stage's reference: named by the variable where the
    mapping has several, or the variable is not the one input differentiated."""
    alone = len(refs) == 1 and var in subject.case.wrt
    return f"{where}.{kind}" if alone else f"{where}.{kind}.{var}"


def _derivatives(subject: Subject, stage: Stage, expected: Expected, where: str) -> Outcome:
    outcome = Outcome()
    for kind, refs in (("gradient", expected.gradient), ("jacobian", expected.jacobian)):
        for var, ref in refs.items():
            key = _key(subject, where, kind, var, refs)
            verifier, spent = subject.stage_jacobian(stage, var, key)
            res = verifier.result
            mat = subject.as_matrix(subject.reference(ref, key), kind, key, res.out_shape,
                                    res.in_shape, stage.name, var)
            outcome += Outcome((), spent) + compared(
                subject, "analytic", res.jacobian, mat, wrt=var, out_shape=res.out_shape,
                in_shape=res.in_shape, out_name=stage.name, stage=stage.name, verifier=verifier)
    for var, ref in expected.hessian.items():
        key = _key(subject, where, "hessian", var, expected.hessian)
        fn, _ = subject.stage_flat(stage, var, key)
        outcome += check_hessian(subject, fn, ref, key, stage.name, var, stage=stage.name)
    return outcome


def run(subject: Subject) -> Outcome:
    """Every ``expect.stages`` entry of the case."""
    stages = {s.name: s for s in subject.case.stages}
    outcome = Outcome()
    for name, expected in subject.case.stage_expect.items():
        where = f"expect.stages.{name}"
        if expected.value is not None:
            outcome += check_value(subject, f"{where}.value", expected.value, subject.env[name],
                                   name, stage=name)
        outcome += _derivatives(subject, stages[name], expected, where)
    return outcome

