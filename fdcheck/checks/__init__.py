"""The kinds of check, one small unit each.

Every check takes the prepared case (a :class:`~fdcheck.subject.Subject`)
and what it compares against, and returns an :class:`Outcome`: the
comparisons it made and the evaluations they cost. None changes the subject
or shares state with another; the runner (:func:`fdcheck.runner.run_case`)
calls them in order, as a checklist:

========================  ==========================================================
module                    what it compares
========================  ==========================================================
:mod:`.value`             the function's value with ``expect.value``
:mod:`.analytic`          the numeric Jacobian with ``expect.gradient`` / ``jacobian``
:mod:`.hessian`           second differences with ``expect.hessian``
:mod:`.chain`             the whole Jacobian with the product of the stages' own
:mod:`.stages`            each stage with ``expect.stages.NAME``
:mod:`.autograd`          the numeric Jacobian with a framework's, reverse and forward
:mod:`.second`            the numeric Jacobian of x -> J(x)^T v with the framework's
:mod:`.directions`        J v along random directions with the references' products
========================  ==========================================================
"""
from .outcome import Outcome, compared, unrunnable

__all__ = ["Outcome", "compared", "unrunnable"]
