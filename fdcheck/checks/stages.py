"""Each stage of a chain against ``expect.stages.NAME``: its value, and its
Jacobian with respect to an input of the case or to what it reads."""
from __future__ import annotations

from ..case import Expected, Stage
from ..errors import CaseError
from ..subject import Subject, phase
from ..verify import Verifier
from .outcome import Outcome, compared
from .value import check_value


def _numeric(subject: Subject, stage: Stage, var: str, key: str) -> tuple[Verifier, int]:
    """d stage / d var: through the stages before it for an input of the case,
    else with what the stage reads held fixed."""
    if var in subject.case.inputs:
        call = subject.stages_call(subject.case.stages, subject.names, upto=stage.name)
        with phase(subject.stage_key(stage.name)):
            fn = subject.flat_of(call, subject.inputs, subject.names.index(var))
            return subject.derive(fn, call, f"d{stage.name}/d{var}")
    if var in stage.reads:
        return subject.stage_jacobian(stage, var)
    raise CaseError(f"{stage.name} does not read {var!r}; it reads {', '.join(stage.reads)}",
                    key=key)


def _derivatives(subject: Subject, stage: Stage, expected: Expected, where: str) -> Outcome:
    outcome = Outcome()
    for kind, refs in (("gradient", expected.gradient), ("jacobian", expected.jacobian)):
        for var, ref in refs.items():
            key = f"{where}.{kind}.{var}" if len(refs) > 1 or var not in subject.case.wrt \
                else f"{where}.{kind}"
            verifier, spent = _numeric(subject, stage, var, key)
            res = verifier.result
            mat = subject.as_matrix(subject.reference(ref, key), kind, key, res.out_shape,
                                    res.in_shape, stage.name, var)
            outcome += Outcome((), spent) + compared(
                subject, "analytic", res.jacobian, mat, wrt=var, out_shape=res.out_shape,
                in_shape=res.in_shape, out_name=stage.name, stage=stage.name, verifier=verifier)
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

