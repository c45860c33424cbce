"""Each stage of a chain against ``expect.stages.NAME``: its value, and its
gradient, Jacobian or Hessian with respect to an input of the case (through
the stages before it) or to a stage it reads."""
from __future__ import annotations

from ..case import Expected, Stage
from ..subject import Subject
from .hessian import check_hessian
from .outcome import Outcome, compared
from .value import check_value


def _derivatives(subject: Subject, stage: Stage, expected: Expected, where: str) -> Outcome:
    outcome = Outcome()
    for kind, refs in (("gradient", expected.gradient), ("jacobian", expected.jacobian)):
        for var, ref in refs.items():
            key = f"{where}.{kind}.{var}" if len(refs) > 1 or var not in subject.case.wrt \
                else f"{where}.{kind}"
            verifier, spent = subject.stage_jacobian(stage, var, key)
            res = verifier.result
            mat = subject.as_matrix(subject.reference(ref, key), kind, key, res.out_shape,
                                    res.in_shape, stage.name, var)
            outcome += Outcome((), spent) + compared(
                subject, "analytic", res.jacobian, mat, wrt=var, out_shape=res.out_shape,
                in_shape=res.in_shape, out_name=stage.name, stage=stage.name, verifier=verifier)
    for var, ref in expected.hessian.items():
        key = f"{where}.hessian.{var}" if len(expected.hessian) > 1 or var not in subject.case.wrt \
            else f"{where}.hessian"
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

