"""Second differences of the function against ``expect.hessian``."""
from __future__ import annotations

from typing import Any

from .. import derive
from ..errors import CaseError
from ..flatfun import FlatFunction
from ..subject import MAX_JACOBIAN_ENTRIES, Subject, phase
from ..verify import verify_hessian
from .analytic import key_of
from .outcome import Outcome


def check_hessian(subject: Subject, fn: FlatFunction, ref: Any, key: str, out_name: str,
                  wrt: str, stage: str | None = None) -> Outcome:
    """The analytic Hessian of scalar ``fn`` against its second differences,
    re-derived by Richardson extrapolation where they first disagree."""
    if fn.m != 1:
        raise CaseError(f"a Hessian needs a scalar-valued function; {out_name} has shape "
                        f"{fn.out_shape}", key=key)
    if fn.n * fn.n > MAX_JACOBIAN_ENTRIES:
        raise CaseError(f"the Hessian with respect to {wrt} would have {fn.n} x {fn.n} entries, "
                        "too many to hold; check it on a smaller input", key=key)
    mat = subject.as_matrix(subject.reference(ref, key), "hessian", key, fn.in_shape,
                            fn.in_shape, out_name, wrt)
    tolerance = subject.tolerances.hessian
    try:
        method = derive.hessian_method(subject.method, bool(tolerance.auto))
    except ValueError as exc:
        raise CaseError(str(exc), key="method") from None
    evaluator = subject.evaluator(fn)
    with subject.backend.no_grad(), phase(subject.stage_key(stage) if stage else "function"):
        result = derive.hessian(fn, method, evaluator)
        comp, spent = verify_hessian(fn, result, mat, tolerance, evaluator, bool(subject.options.refine),
                                     against="analytic", wrt=wrt, out_shape=fn.in_shape,
                                     in_shape=fn.in_shape, order=subject.case.order,
                                     out_name=out_name, stage=stage, derivative=2)
    return Outcome((comp,), result.evaluations + spent)


def run(subject: Subject, wrt: str) -> Outcome:
    """``expect.hessian`` of input ``wrt``, where the case has one."""
    case = subject.case
    if wrt not in case.expect.hessian:
        return Outcome()
    key = key_of(subject, "hessian", wrt)
    return check_hessian(subject, subject.wrt[wrt].fn, case.expect.hessian[wrt], key,
                         case.output, wrt)
