"""The function's value (or a stage's) against ``expect.value``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CaseError
from ..subject import Subject
from .outcome import Outcome, compared


def check_value(subject: Subject, key: str, ref: Any, computed: np.ndarray, name: str,
                stage: str | None = None) -> Outcome:
    """``computed`` against the reference at ``key``, entry by entry."""
    expected = subject.reference(ref, key)
    if expected.shape != computed.shape:
        if expected.size == computed.size == 1:
            expected = expected.reshape(computed.shape)
        else:
            raise CaseError(f"shape {expected.shape} does not match the value's shape "
                            f"{computed.shape}", key=key)
    return compared(subject, "value", computed.reshape(-1), expected.reshape(-1), wrt=None,
                    out_shape=computed.shape, in_shape=None, out_name=name, stage=stage)


def run(subject: Subject) -> Outcome:
    """``expect.value`` of the case, where it has one."""
    case = subject.case
    if case.expect.value is None:
        return Outcome()
    return check_value(subject, "expect.value", case.expect.value, subject.env[case.output],
                       case.output)
