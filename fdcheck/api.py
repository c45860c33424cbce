"""The Python API: checks of plain callables over NumPy arrays, PyTorch
tensors or JAX arrays, reporting as the command line does (the numeric
derivatives alone are in :mod:`fdcheck.numeric_api`)."""
from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import backends, complexify, models
from .errors import CaseError
from .options import MAX_TIMEOUT
from .runner import CaseResult, run_case, run_paths
from .schema import parse_method
from .subject import phase
from .calls import (MethodSpec, Reference, _expected, _label, _names, _options, _raise_origin,
                    call_case)


def check(f: Callable[..., Any], *inputs: Any, wrt: int | str | Sequence[int | str] | None = None,
          gradient: Reference = None, jacobian: Reference = None,
          autograd: bool | None = None, atol: float | None = None, rtol: float | None = None,
          order: str = "C", method: MethodSpec = None, step: float | None = None,
          dtype: str | None = None, names: Sequence[str] | None = None, output: str = "f",
          name: str | None = None, vectorized: bool | str = False,
          executor: Executor | None = None, workers: int | None = None,
          tolerance: str | float | None = None, refine: bool | str = True,
          sparsity: Any = None, directions: int | None = None,
          jvp: Callable[[np.ndarray], np.ndarray] | None = None, hessian: Reference = None,
          derivatives: int = 1, modes: str | Sequence[str] = ("reverse",),
          behaviours: str | Sequence[str] = (), nondet_tol: float = 0.0,
          cotangent: Any = None, sparse: str = "masked",
          noncontiguous_cotangent: bool = False, structure: Mapping[str, str] | None = None,
          convention: str = "projected", gauge: Any = None,
          locate: bool | str | None = None, explore: int = 0, vary: Any = None,
          explore_seed: int = 0) -> CaseResult:
    """Check the derivatives of ``f`` at ``inputs`` against the numeric Jacobian.

    The call is translated into the case a case file would describe and run by
    the same runner as ``fdcheck run``: every face gives the same verdicts.

    Parameters
    ----------
    f : callable or torch.nn.Module
        ``f(*inputs) -> array``, in NumPy, PyTorch or JAX.
    *inputs : arrays, or pytrees of them
        A dict, NamedTuple, list of arrays (or a JAX pytree: a Flax or
        Equinox module) is checked leaf by leaf, each named by its path
        (``params['dense']['kernel']``; :mod:`fdcheck.models`).
    wrt : int, str or a sequence of them, optional
        Inputs to check, by position or name. Default: for PyTorch, the
        tensors with ``requires_grad`` (else every floating one); otherwise
        every floating input. For a ``torch.nn.Module`` ``f``:
        ``"parameters"`` (each parameter that requires grad, named as
        ``named_parameters`` names it; buffers held fixed) or names and globs
        (``["encoder.*.weight"]``).
    gradient, jacobian : array, callable, or a mapping/tuple per ``wrt``
        Analytic references: a gradient shaped like the input (scalar ``f``);
        a Jacobian (m, n) in ``order`` or in tensor form. A callable is called
        with ``*inputs``.
    autograd : bool, optional
        Compare with the framework's reverse-mode Jacobian; default True for
        PyTorch and JAX inputs. This is how a custom ``torch.autograd.Function``
        or ``jax.custom_vjp`` is checked.
    atol, rtol : float, optional
        Default: the table for the dtype and method (see the README).
    tolerance : "auto" or float, optional
        ``"auto"``: an entry fails where it differs from the numeric value by
        more than 10 x the engine's error estimate (a number: that multiple)
        plus a floor; the Jacobian is derived by Richardson extrapolation when
        the method gives no estimate. ``atol``/``rtol`` take precedence.
    refine : bool or "all"
        Derive the columns of a first mismatch again by Richardson
        extrapolation before calling them wrong (default True). Where more
        than two columns differ by more than 1000 times their tolerance, the
        two furthest are derived again and, if they confirm the mismatch,
        the others keep their first estimate (failing fast, with a note);
        ``"all"`` derives every one.
    sparsity : optional
        As for :func:`numeric`: fewer evaluations for a sparse Jacobian.
    directions : int, optional
        The directional ("fast") check: compare J v with the reference's R v
        along this many seeded random directions, at about 20 evaluations each
        whatever the input's size; a disagreement is localized by bisection to
        one input element. For inputs too large for a whole Jacobian.
    jvp : callable, optional
        ``jvp(v) -> R v`` for flat v (n,) -> (m,): a reference Jacobian given by
        its products, for the directional check of large Jacobians.
    hessian : array, callable, or a mapping/tuple per ``wrt``
        For a scalar-valued ``f``: the analytic Hessian, (n, n) in ``order`` or
        ``input.shape + input.shape``, against second differences of ``f``.
    derivatives : {1, 2}
        2: also check the framework's second derivative, as ``gradgradcheck``
        does: for a seeded random cotangent v, the numeric Jacobian of the
        backward h(x_1, ..., x_k, v) = (J_1^T v, ..., J_k^T v) (run at
        perturbed points) with respect to every input checked and to v,
        against the framework's own derivative of it (double backward in
        PyTorch, a VJP of the VJP in JAX), one comparison per block
        (``d2f/dadb``, ``d(v.df/da)/dv``). For a scalar output, v = 1 and
        the input blocks are the whole Hessian, cross blocks included.
    cotangent : array, optional
        The v of ``derivatives=2``, shaped like the output (gradgradcheck's
        ``grad_outputs``); default seeded random.
    noncontiguous_cotangent : bool
        PyTorch: v as a strided view (``gen_non_contig_grad_outputs``).
    behaviours : str or sequence of str
        PyTorch only, each a check of its own: ``reentrant`` (the backward
        twice gives the same J^T v, within ``nondet_tol``), ``undefined-grad``,
        ``dtypes`` (gradients of the inputs' dtype, shape and device),
        ``batched`` and ``batched-forward`` (under ``torch.vmap``).
    nondet_tol : float
        How far the two runs of ``reentrant`` may differ (default 0).
    structure : mapping of str to str, optional
        ``{"S": "spd"}``: S is symmetric, spd, lower, upper, diagonal, skew or
        orthogonal, and is checked within it (:mod:`fdcheck.structure`).
    convention : {"projected", "entries"}
        How a gradient of a structured input is read: a gradient or its
        projection ((G + G^T)/2), or over the independent entries
        (G + G^T - diag(G)).
    locate : bool or "ops", optional
        Check each custom rule ``f`` calls (PyTorch ``autograd.Function``, JAX
        ``custom_vjp``/``custom_jvp``) on its own, at the inputs it was called
        with, and report them in call order (``result.location``; see
        :mod:`fdcheck.locate`). Default: where a check of the whole fails
        and ``f`` calls any; False: never.
    explore, vary, explore_seed :
        Draw ``explore`` inputs as ``vary`` says (a case file's ``explore:``
        key, ``{"dims": ..., "inputs": ...}``), check at each and shrink the
        first failure (:mod:`fdcheck.explore`): ``result.exploration``.
    gauge : {"column-sign", "column-phase"} or mapping, optional
        Columns defined up to sign or phase (eigenvectors) are aligned with the
        base point's (:mod:`fdcheck.gauge`); per output: ``{1: "column-sign"}``.
    sparse : {"masked", "dense"}
        For sparse PyTorch inputs (COO, CSR): ``masked`` checks the stored
        entries alone (gradcheck's ``masked=True``), ``dense`` every element
        of the dense form (``masked=False``).
    modes : "reverse", "forward" or both
        Which autograd modes to compare: reverse (backward rules, ``custom_vjp``)
        and forward (``jvp`` rules, ``custom_jvp``). With ``derivatives=2``,
        also how the backward is differentiated: reverse over reverse (the
        double backward), forward over reverse (a JVP of the backward).
    names : sequence of str, optional
        Names of the inputs in messages; default the parameter names of ``f``.
    output : str
        Name of the output in messages (``dZ/dW``, ``dz21/dw31``).
    vectorized, executor, workers, method, step, dtype, order :
        As for :func:`numeric`.

    Returns
    -------
    CaseResult
        ``.passed``, ``.checks`` (one Comparison per reference and input),
        ``str(result)`` a report as the command line prints it.

    Raises
    ------
    ValueError
        For a call that cannot be checked (a reference of the wrong shape,
        nothing to compare); EvaluationError where ``f`` itself fails.
    """
    options = _options(atol, rtol, tolerance, refine=refine, executor=executor,
                       workers=workers, explore=int(explore), explore_seed=int(explore_seed))
    expanded = models.expand(f, inputs, names or _names(f, len(inputs)), wrt)
    if expanded is not None:
        # A module's parameters, or tree inputs' leaves, as named inputs.
        f, inputs, names, wrt = expanded[0], tuple(expanded[1]), expanded[2], expanded[3]
        gradient, jacobian, hessian = (models.called_as(f, r) for r in (gradient, jacobian, hessian))
    if autograd is None:
        autograd = backends.detect(inputs) != "numpy"
    case = call_case(f, inputs, wrt=wrt, names=names, output=output, name=name, order=order,
                     method=method, step=step, dtype=dtype, vectorized=vectorized,
                     sparsity=sparsity, directions=directions, derivatives=derivatives,
                     modes=modes, autograd=autograd, behaviours=behaviours,
                     nondet_tol=nondet_tol, cotangent=cotangent, sparse=sparse,
                     noncontiguous_cotangent=noncontiguous_cotangent, structure=structure,
                     convention=convention, gauge=gauge, locate=locate, vary=vary)
    complex_at = [i for i, x in enumerate(inputs) if complexify.is_complex(x)]
    if complex_at:
        gradient = complexify.references(gradient, complex_at)
    case = replace(case, expect=_expected(case.wrt, gradient, jacobian, hessian, jvp,
                                          tuple(case.inputs)))
    result = models.with_held(run_case(case, options), f)
    if isinstance(result.exception, CaseError):
        _raise_origin(result.exception)
    return result


def assert_check(f: Callable[..., Any], *inputs: Any, **kwargs: Any) -> CaseResult:
    """:func:`check`, raising AssertionError with the report when a check fails.

    Meant for users' own test suites::

        def test_layer_gradient():
            fdcheck.assert_check(layer, A, W, B, wrt=1, jacobian=my_jacobian)
    """
    __tracebackhide__ = True  # pytest shows the report, not fdcheck's frames
    result = check(f, *inputs, **kwargs)
    if not result.passed:
        raise AssertionError(str(result))
    return result


def run(paths: Sequence[str] | str, *, allow_python: bool = False, atol: float | None = None,
        rtol: float | None = None, tolerance: str | float | None = None,
        method: MethodSpec = None, step: float | None = None, refine: bool | str = True,
        mode: str = "auto", executor: Executor | None = None, workers: int | None = None,
        timeout: float | None = None, select: str | None = None, explore: int = 0,
        explore_seed: int = 0, explore_dir: str | None = None) -> list[CaseResult]:
    """Run case files as ``fdcheck run`` does; one CaseResult per case.

    Parameters
    ----------
    paths : str or sequence of str
        Files, or folders searched for case files.
    allow_python : bool
        Allow ``{python: ...}`` references (importing them runs code).
    atol, rtol, tolerance, method, step, refine :
        Over the cases' own, as for :func:`check` (``--atol``... on the command line).
    mode : {"auto", "serial", "vectorized"}
        How points are evaluated.
    executor, workers :
        Evaluate on a pool, as for :func:`numeric`.
    timeout : float, optional
        Seconds a case may run; past them it is a case error.
    select : str, optional
        Only the cases whose name contains it (``-k`` on the command line).
    explore, explore_seed, explore_dir :
        As ``--explore N`` (:mod:`fdcheck.explore`): ``CaseResult.exploration``.
    """
    if isinstance(paths, str):
        paths = [paths]
    if mode not in ("auto", "serial", "vectorized"):
        raise ValueError(f"mode is auto, serial or vectorized, not {mode!r}")
    if timeout is not None and not (np.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        raise ValueError(f"timeout is a number of seconds from 0 to {MAX_TIMEOUT:g}, not "
                         f"{timeout!r}")
    options = _options(atol, rtol, tolerance, allow_python=allow_python,
                       method=None if method is None else parse_method(method),
                       step=step, refine=refine, mode=mode, executor=executor, workers=workers,
                       timeout=timeout, explore=int(explore), explore_seed=int(explore_seed),
                       explore_dir=explore_dir)
    chooser = (lambda c: select in c.name) if select else None
    return list(run_paths(list(paths), options, chooser))
