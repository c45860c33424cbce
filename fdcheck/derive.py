"""The numeric entry: from a method to the object that plans and combines it.

Every numeric derivative fdcheck takes starts here. A method's scheme picks
its builder from one table (:data:`JACOBIANS`, :data:`HESSIANS`); each builder
plans its points on :func:`fdcheck.engine.execute`, the one evaluation loop,
and returns a :class:`~fdcheck.engine.JacobianResult`. Adding a method means
writing its builder and adding one row here.

SciPy (for sparsity patterns) loads only when a pattern is given.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .protocols import Evaluator, Flat
from .complexstep import complex_step_jacobian
from .engine import JacobianResult, Progress, stencil_jacobian
from .errors import SparsityError
from .extrapolate import richardson_jacobian
from .hessians import central_hessian, richardson_hessian
from .stencils import SCHEMES, Method

JacobianBuilder = Callable[[Any, Method, Any, "Progress | None"], JacobianResult]
HessianBuilder = Callable[[Any, Method, Any], JacobianResult]

JACOBIANS: dict[str, JacobianBuilder] = {
    **{scheme: stencil_jacobian for scheme in SCHEMES},
    "richardson": richardson_jacobian,
    "complex-step": complex_step_jacobian,
}
HESSIANS: dict[str, HessianBuilder] = {
    "central": central_hessian,
    "richardson": richardson_hessian,
}


def jacobian(fn: Flat, method: Method | str | Mapping[str, Any] | None = None,
             evaluator: Evaluator | None = None, progress: Progress | None = None,
             sparsity: Any = None) -> JacobianResult:
    """The numeric Jacobian of ``fn`` by ``method``.

    Parameters
    ----------
    fn : FlatFunction
        The function along one input: n elements in, m out.
    method : Method, str or mapping, optional
        Default: central differences of order 2.
    evaluator : Evaluator, optional
        How points are evaluated; default one by one.
    progress : callable(done, total), optional
    sparsity : optional
        A pattern (0/1 matrix (m, n), ``diagonal``, ``{band: [l, u]}``,
        ``{blocks: k}``) or ``detect``: structurally independent columns are
        perturbed together (stencil methods only).

    Returns
    -------
    JacobianResult
        ``jacobian`` of shape (m, n).

    Raises
    ------
    SparsityError
        For a pattern that does not fit the Jacobian or the method.
    ComplexStepError
        For ``complex-step`` on a function that is not complex-safe.
    """
    m = Method.parse(method)
    if sparsity is not None:
        if not m.is_stencil:
            raise SparsityError(f"sparsity works with a stencil method, not {m.label}")
        from .sparsity import patterned_jacobian  # SciPy: only where a pattern is given
        return patterned_jacobian(fn, m, sparsity, evaluator)
    return JACOBIANS[m.scheme](fn, m, evaluator, progress)


def hessian(fn: Flat, method: Method | str | Mapping[str, Any] | None = None,
            evaluator: Evaluator | None = None) -> JacobianResult:
    """The Hessian of scalar-valued ``fn``: central second differences, or
    with ``method: richardson`` their extrapolation (an error per entry).

    Returns
    -------
    JacobianResult
        ``jacobian`` of shape (n, n); ``out_shape`` is the input's shape.

    Raises
    ------
    ValueError
        For another method, or a function that is not scalar-valued.
    """
    m = Method.parse(method)
    if m.scheme not in HESSIANS:
        raise ValueError(f"a Hessian is taken by central second differences or richardson, "
                         f"not {m.label}")
    return HESSIANS[m.scheme](fn, m, evaluator)


def hessian_method(method: Method, auto: bool) -> Method:
    """The method a Hessian is taken by where first derivatives are taken by
    ``method``: Richardson where it is Richardson (or error estimates are
    asked for, ``tolerance: auto``), central second differences with its step
    where it is central (of any order). Every face follows this one policy.

    Raises
    ------
    ValueError
        For a method that takes no Hessian (one-sided stencils, the complex step).
    """
    if method.scheme == "richardson" or auto:
        return Method("richardson")
    if method.scheme != "central":
        raise ValueError(f"a Hessian is taken by central second differences or richardson, "
                         f"not {method.label}")
    return Method(step=method.step)
