"""fdcheck: a finite-difference checker for derivatives of functions of matrices.

The numeric Jacobian has one row per element of the output and one column per
element of the input, both flattened row-major by default (``order="F"`` for
column-major)::

    import fdcheck
    J = fdcheck.jacobian(lambda A, W, B: A @ W + B, A, W, B, wrt=1)
    fdcheck.assert_check(layer, A, W, B, wrt=1, jacobian=my_jacobian)

Heavy modules (and PyTorch, JAX) load on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "jacobian": "numeric_api", "gradient": "numeric_api", "hessian": "numeric_api",
    "numeric": "numeric_api", "check": "api",
    "assert_check": "api", "run": "api",
    "Method": "stencils", "JacobianResult": "engine", "stencil": "stencils", "Stencil": "stencils",
    "Comparison": "compare", "Tolerance": "compare", "CaseResult": "runner",
    "RunOptions": "options", "run_case": "runner", "load_file": "casefile", "Case": "case",
    "CaseError": "errors", "FdcheckError": "errors", "ExpressionError": "errors",
    "BackendUnavailable": "errors", "EvaluationError": "errors", "SparsityError": "errors",
    "ComplexStepError": "errors", "Expression": "expr",
    "gradcheck": "dropin", "gradgradcheck": "dropin", "check_grads": "dropin",
    "gradcheck_error": "dropin",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fdcheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
