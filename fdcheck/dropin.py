"""Drop-ins for ``torch.autograd.gradcheck``, ``torch.autograd.gradgradcheck``
and ``jax.test_util.check_grads``: their signatures and return contracts, with
fdcheck's checks and reports behind them. Changing the import moves a suite::

    from fdcheck import gradcheck, gradgradcheck      # was: from torch.autograd import ...
    from fdcheck import check_grads                   # was: from jax.test_util import ...

Where the anchors' defaults would mislead, fdcheck's own judgement applies: at
torch's default ``eps``, ``atol`` and ``rtol`` the step and tolerances are
fdcheck's own (chosen for the dtype and checked against the numeric error
estimate, so float32 is judged at float32's precision); values that differ
from the defaults are used as given. Every argument acts or is refused by name:
none is accepted and ignored.
"""
from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any, Callable, Sequence

from .api import check
from .runner import CaseResult

# torch.autograd.gradcheck's defaults: at these, fdcheck chooses.
TORCH_EPS, TORCH_ATOL, TORCH_RTOL = 1e-6, 1e-5, 1e-3
# fast_mode: inputs larger than this are checked along random directions (about
# 20 evaluations each); smaller ones whole, which costs fewer evaluations and
# checks every entry.
FAST_MODE_ELEMENTS = 40
FAST_MODE_DIRECTIONS = 2
# gradgradcheck's fast_mode: the backward is evaluated one point a call, 2 (n + m)
# times whole (no batching), about 12 times a variable along directions: beyond
# a few elements in all, directions cost fewer evaluations.
FAST_MODE_SECOND_ELEMENTS = 4


def gradcheck_error() -> type:
    """The exception of a failing drop-in check: torch's ``GradcheckError`` (a
    RuntimeError, as torch's own raises) and an AssertionError (as
    ``check_grads`` raises), carrying fdcheck's report. Where PyTorch is not
    loaded (a JAX suite), a RuntimeError stands in for torch's class: a check
    of JAX code does not import PyTorch."""
    return _error_class("torch" in sys.modules)


@lru_cache(maxsize=None)
def _error_class(torch_loaded: bool) -> type:
    base: type = RuntimeError
    if torch_loaded:
        from torch.autograd.gradcheck import GradcheckError as base

    class GradcheckError(base, AssertionError):
        """A drop-in check failed; ``str(exc)`` is fdcheck's report and
        ``exc.result`` the :class:`~fdcheck.runner.CaseResult`."""

        result: CaseResult | None = None

    GradcheckError.__module__ = __name__
    GradcheckError.__qualname__ = "GradcheckError"
    return GradcheckError


def _verdict(result: CaseResult, raise_exception: bool) -> bool:
    if result.passed:
        return True
    if raise_exception:
        error = gradcheck_error()(str(result))
        error.result = result
        raise error
    return False


def _as_tuple(inputs: Any) -> tuple[Any, ...]:
    import torch
    return (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)


def _differentiated(inputs: Sequence[Any]) -> list[Any]:
    import torch
    found = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    if not found:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of the inputs have requires_grad=True")
    return found


def _numerics(eps: float, atol: float, rtol: float) -> dict[str, Any]:
    """fdcheck's keywords for torch's eps, atol and rtol: None where a value is
    torch's default (fdcheck's own step and tolerance then)."""
    return {"step": None if eps == TORCH_EPS else eps,
            "atol": None if atol == TORCH_ATOL and rtol == TORCH_RTOL else atol,
            "rtol": None if atol == TORCH_ATOL and rtol == TORCH_RTOL else rtol}


def _fast(fast_mode: bool, differentiated: Sequence[Any]) -> int | None:
    if not fast_mode or max(x.numel() for x in differentiated) <= FAST_MODE_ELEMENTS:
        return None
    return FAST_MODE_DIRECTIONS


def _fast_second(fast_mode: bool, differentiated: Sequence[Any]) -> int | None:
    """gradgradcheck's ``fast_mode`` as directions: the inputs' elements in
    all decide (see FAST_MODE_SECOND_ELEMENTS)."""
    if not fast_mode or sum(x.numel() for x in differentiated) <= FAST_MODE_SECOND_ELEMENTS:
        return None
    return FAST_MODE_DIRECTIONS


def _refuse(name: str, value: Any, why: str) -> None:
    raise NotImplementedError(f"{name}={value!r}: {why}; fdcheck's drop-in does not check it "
                              "yet (torch's gradcheck does)")


def _semantics(masked: bool | None) -> str:
    """torch's ``masked`` (None is False) as fdcheck's ``sparse``."""
    return "masked" if masked else "dense"


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-06,
              atol: float = 1e-05, rtol: float = 0.001, raise_exception: bool = True,
              nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False,
              masked: bool | None = None) -> bool:
    """``torch.autograd.gradcheck``, checked by fdcheck.

    Parameters
    ----------
    func : callable
        ``func(*inputs)``: a tensor or a tuple of tensors.
    inputs : tensor or sequence
        The tensors with ``requires_grad`` are differentiated.
    eps : float
        The finite-difference step; at torch's default (1e-6), fdcheck's own.
    atol, rtol : float
        An entry passes within ``atol + rtol |reference|``; at torch's
        defaults (1e-5, 1e-3), fdcheck's tolerance for the dtype.
    raise_exception : bool
        Raise :func:`gradcheck_error` (a ``GradcheckError``) with fdcheck's
        report on failure; else return False.
    nondet_tol : float
        How far two runs of the backward may differ (the ``reentrant`` check).
    check_undefined_grad, check_grad_dtypes, check_batched_grad, check_batched_forward_grad :
        The behaviour checks ``undefined-grad``, ``dtypes``, ``batched``,
        ``batched-forward`` (see :mod:`fdcheck.checks.behaviour`).
    check_forward_ad, check_backward_ad : bool
        Which modes of the rule are compared with the numeric Jacobian.
    fast_mode : bool
        Inputs of more than 40 elements checked along 2 random directions
        (smaller ones whole: that costs fewer evaluations).
    masked : bool, optional
        For sparse inputs: True checks their stored entries alone, False
        (torch's default, as None) every element of their dense form; no
        effect on dense inputs.

    Returns
    -------
    bool
        True; False on failure with ``raise_exception=False``.
    """
    __tracebackhide__ = True
    inputs = _as_tuple(inputs)
    if not (check_forward_ad or check_backward_ad):
        raise ValueError("Expected at least one of check_forward_ad or check_backward_ad to "
                         "be True")
    differentiated = _differentiated(inputs)
    modes = tuple(m for m, on in (("reverse", check_backward_ad), ("forward", check_forward_ad))
                  if on)
    behaviours = [b for b, on in (("reentrant", check_backward_ad),
                                  ("undefined-grad", check_undefined_grad and check_backward_ad),
                                  ("dtypes", check_grad_dtypes),
                                  ("batched", check_batched_grad and check_backward_ad),
                                  ("batched-forward", check_batched_forward_grad
                                   and check_forward_ad)) if on]
    result = check(func, *inputs, modes=modes, behaviours=behaviours, nondet_tol=nondet_tol,
                   directions=_fast(fast_mode, differentiated), sparse=_semantics(masked),
                   **_numerics(eps, atol, rtol))
    return _verdict(result, raise_exception)


def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                  eps: float = 1e-06, atol: float = 1e-05, rtol: float = 0.001,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """``torch.autograd.gradgradcheck``, checked by fdcheck: the backward's
    Jacobian in every input requiring grad and in the cotangent, mixed blocks
    included (``derivatives=2``), and the first derivatives with it.

    Parameters
    ----------
    grad_outputs : tensor or sequence of one tensor, optional
        The cotangent v, shaped like the output; default seeded random.
    gen_non_contig_grad_outputs : bool
        Hand the backward its cotangent as a strided view.
    check_fwd_over_rev : bool
        Forward over reverse: the backward's derivative by forward mode (a
        JVP of the backward), and the first derivatives by forward mode too.
    check_rev_over_rev : bool
        The double backward, and the first derivatives by reverse mode.
    fast_mode : bool
        Every check along 2 random directions where the inputs have more
        than 4 elements in all (the backward is evaluated one point a call:
        whole, it takes 2 (n + m) evaluations).
    Others :
        As for :func:`gradcheck`.

    Returns
    -------
    bool
    """
    __tracebackhide__ = True
    inputs = _as_tuple(inputs)
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise ValueError("Expected at least one of check_fwd_over_rev or check_rev_over_rev "
                         "to be True")
    if check_undefined_grad and not check_rev_over_rev:
        # (As torch's: an undefined output gradient is a reverse-mode behaviour.)
        raise ValueError("Setting check_undefined_grad=True requires check_rev_over_rev to be "
                         "True")
    # Each mode at both orders: the first derivatives and the backward's own.
    modes = tuple(m for m, on in (("reverse", check_rev_over_rev),
                                  ("forward", check_fwd_over_rev)) if on)
    differentiated = _differentiated(inputs)
    if grad_outputs is not None and not hasattr(grad_outputs, "shape"):
        outputs = list(grad_outputs)
        if len(outputs) != 1:
            _refuse("grad_outputs", f"{len(outputs)} tensors", "a function of several outputs "
                    "at second order")
        grad_outputs = outputs[0]
    # check_batched_grad: gradgradcheck's is the double backward's under vmap.
    behaviours = [b for b, on in (("reentrant", check_rev_over_rev),
                                  ("undefined-grad", check_undefined_grad),
                                  ("dtypes", check_grad_dtypes),
                                  ("batched-second", check_batched_grad)) if on]
    result = check(func, *inputs, derivatives=2, modes=modes, behaviours=behaviours,
                   nondet_tol=nondet_tol,
                   cotangent=None if grad_outputs is None else grad_outputs.detach(),
                   noncontiguous_cotangent=gen_non_contig_grad_outputs,
                   directions=_fast_second(fast_mode, differentiated), sparse=_semantics(masked),
                   **_numerics(eps, atol, rtol))
    return _verdict(result, raise_exception)


JAX_MODES = {"fwd": "forward", "rev": "reverse"}


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int,
                modes: Sequence[str] = ("fwd", "rev"), atol: float | None = None,
                rtol: float | None = None, eps: float | None = None) -> None:
    """``jax.test_util.check_grads``, checked by fdcheck.

    Parameters
    ----------
    f : callable
        ``f(*args)``, a JAX function.
    args : sequence
        Every floating argument is differentiated.
    order : {1, 2}
        2 adds the double backward in every argument and the cotangent.
    modes : sequence of {"fwd", "rev"}
        Forward mode (``jvp``, ``custom_jvp``) and reverse mode (``vjp``,
        ``custom_vjp``) compared with the numeric Jacobian.
    atol, rtol, eps : float, optional
        None: fdcheck's tolerance and step for the dtype.

    Raises
    ------
    AssertionError
        :func:`gradcheck_error`, with fdcheck's report, where a check fails.
    """
    __tracebackhide__ = True
    if order not in (1, 2):
        raise ValueError(f"order={order!r}: fdcheck checks orders 1 and 2")
    if isinstance(modes, str):
        modes = (modes,)
    unknown = [m for m in modes if m not in JAX_MODES]
    if unknown or not modes:
        raise ValueError(f"modes={list(modes)!r}: each of 'fwd', 'rev'")
    result = check(f, *args, derivatives=order, modes=tuple(JAX_MODES[m] for m in modes),
                   atol=atol, rtol=rtol, step=eps)
    _verdict(result, True)
