"""What a check returns, and the comparison every check makes."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from ..compare import Comparison, compare
from ..notes import Note
from ..subject import Subject, phase
from ..verify import Verifier


@dataclass(frozen=True)
class Outcome:
    """The comparisons one check made, and the evaluations they cost."""

    comparisons: tuple[Comparison, ...] = ()
    evaluations: int = 0

    def __add__(self, other: "Outcome") -> "Outcome":
        return Outcome(self.comparisons + other.comparisons,
                       self.evaluations + other.evaluations)


def compared(subject: Subject, against: str, numeric: np.ndarray, reference: np.ndarray, *,
             wrt: str | None, out_shape: tuple[int, ...], in_shape: tuple[int, ...] | None,
             out_name: str, stage: str | None = None, verifier: Verifier | None = None,
             derivative: int = 1, mode: str = "reverse", notes: Sequence[Note] = (),
             rows: slice = slice(None), floor: np.ndarray | None = None,
             of: str | None = None, cotangent: bool = False, scale: float = 0.0) -> Outcome:
    """``numeric`` against ``reference``: by the verifier where there is one
    (it refines what decides the verdict), else entry by entry with the
    tolerance of what has no error estimate. The comparison carries the
    input's notes, and for a block of a second derivative the input whose
    gradient it differentiates (``of``) and whether ``wrt`` is the cotangent;
    ``scale``: the largest entry of the whole derivative a block belongs to
    (see :func:`~fdcheck.compare.compare`)."""
    where: dict[str, Any] = dict(against=against, wrt=wrt, out_shape=out_shape,
                                 in_shape=in_shape, order=subject.case.order, out_name=out_name,
                                 stage=stage, derivative=derivative, mode=mode, scale=scale)
    tolerances = subject.tolerances
    spent = 0
    if verifier is None:
        comp = compare(numeric, reference, tolerances.plain, **where)
    else:
        before = verifier.evaluations
        tolerance = tolerances.plain if against == "chain" else tolerances.first
        with phase("function"):
            comp = verifier.check(reference, tolerance, rows=rows, floor=floor, **where)
        spent = verifier.evaluations - before
    notes = (*notes, *subject.notes(of if cotangent else wrt))
    if notes:
        comp = replace(comp, notes=(*comp.notes, *notes))
    if of is not None:
        comp = replace(comp, of=of, cotangent=cotangent)
    return Outcome((comp,), spent)


def unrunnable(subject: Subject, against: str, entries: int, why: Note, *, wrt: str,
               out_name: str, derivative: int = 1, mode: str = "reverse",
               of: str | None = None, cotangent: bool = False, **_: Any) -> Outcome:
    """A check whose reference the framework could not compute: a failure that
    says why, with no entry compared."""
    comp = Comparison(against, wrt, False, float("inf"), float("inf"), None,
                      subject.tolerances.plain, entries, entries, out_name, notes=(why,),
                      derivative=derivative, mode=mode, of=of, cotangent=cotangent)
    return Outcome((comp,))
