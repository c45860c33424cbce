"""What a PyTorch rule must do besides being right, as ``gradcheck`` checks it:

=================  ==================================================================
aspect             what is compared
=================  ==================================================================
reentrant          J^T v from the backward run twice at the same point and v: equal
                   within ``nondet_tol`` (gradcheck's reentrancy check)
undefined-grad     the backward with its output's gradient undefined: it must run and
                   give a zero (or undefined) gradient (``check_undefined_grad``)
dtypes             the gradient's dtype, shape and device are the input's
                   (``check_grad_dtypes``)
batched            J^T v for two cotangents under vmap (``is_grads_batched``) against
                   one at a time (``check_batched_grad``)
batched-forward    J u for two tangents under vmap of the forward mode against one
                   at a time (``check_batched_forward_grad``)
batched-second     the double backward's vector-Jacobian products for two cotangents
                   of the backward under vmap against one at a time
                   (gradgradcheck's ``check_batched_grad``)
=================  ==================================================================

Each is a comparison of its own, named by its aspect; none needs the numeric
Jacobian. PyTorch only: JAX's transforms compose by construction.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from ..compare import Comparison, compare
from ..tolerances import Tolerance
from ..notes import note
from ..subject import Subject, phase
from .outcome import Outcome

BATCH = 2  # cotangents (tangents) under vmap, as gradcheck's batched checks


def run(subject: Subject) -> Outcome:
    """Every aspect the case asks for, of every input checked; and, asked or
    not, a failing ``batched`` check where the framework's vmap of the
    function gave other values than one point a call."""
    case = subject.case
    outcome = Outcome(tuple(_vmap_disagrees(subject, w) for w, p in subject.wrt.items()
                            if p.unbatched is not None and p.unbatched["how"] == "disagrees"))
    if case.sparse_inputs:
        import torch
        with phase("autograd"):
            outcome += Outcome(tuple(_sparse_gradient(subject, w, p, torch)
                                     for w, p in case.sparse_inputs.items() if w in case.wrt))
    if not case.behaviours:
        return outcome
    import torch
    with phase("autograd"):
        for aspect in case.behaviours:
            outcome += ASPECTS[aspect](subject, torch)
    return outcome


def _vmap_disagrees(subject: Subject, wrt: str) -> Comparison:
    """The failing check of a function whose vmap (a Function's vmap rule, a
    batching rule) gives other values than one point a call: silently wrong
    under transforms. Its points were evaluated one a call, so the other
    checks still hold."""
    return Comparison(subject.case.backend, wrt, False, float("inf"), float("inf"), None,
                      Tolerance(0.0, 0.0, "exact"), 0, 0, _name(subject, wrt),
                      notes=(note("vmap-disagrees", framework=subject.case.backend),),
                      aspect="batched-values")


def _sparse_gradient(subject: Subject, wrt: str, pattern: Any, torch: Any) -> Comparison:
    """The gradient PyTorch returns for the sparse input itself: in the input's
    layout and shape (gradcheck checks the same)."""
    i = subject.names.index(wrt)
    sparsified = _call(subject)
    leaf = pattern.rebuild(subject.inputs[i].detach()).detach().requires_grad_(True)
    args = [x.detach() if isinstance(x, torch.Tensor) else x for x in subject.inputs]
    args[i] = leaf
    with torch.enable_grad():
        out = getattr(sparsified, "fn")(*args)  # the function before its values were rebuilt
        (g,) = torch.autograd.grad(out, [leaf], _cotangent(out, torch), allow_unused=True)
    if g is not None and (str(g.layout), tuple(g.shape)) != (pattern.layout, pattern.size):
        return _failed(subject, "sparse-gradient", wrt, note(
            "sparse-layout", got=f"{g.layout} {tuple(g.shape)}",
            want=f"{pattern.layout} {pattern.size}"))
    return _passed(subject, "sparse-gradient", wrt)


def _leaves(subject: Subject, torch: Any) -> tuple[list[Any], list[int]]:
    """The inputs as fresh leaves, those checked requiring grad."""
    positions = [subject.names.index(w) for w in subject.case.wrt]
    xs = [x.detach().clone() if isinstance(x, torch.Tensor) else x for x in subject.inputs]
    for i in positions:
        xs[i].requires_grad_(True)
    return xs, positions


def _call(subject: Subject) -> Callable[..., Any]:
    return subject.framework_call("torch")


def _cotangent(out: Any, torch: Any, k: int = 0) -> Any:
    v = np.random.default_rng(k).standard_normal(tuple(out.shape))
    return torch.as_tensor(v, dtype=out.dtype, device=out.device)


def _grads(subject: Subject, torch: Any, v: Any = None) -> tuple[Any, list[Any], Any]:
    """(output, J_i^T v for each input checked, v) by one backward pass."""
    xs, positions = _leaves(subject, torch)
    with torch.enable_grad():
        out = _call(subject)(*xs)
        v = _cotangent(out, torch) if v is None else v
        grads = torch.autograd.grad(out, [xs[i] for i in positions], v, allow_unused=True)
    return out, list(grads), v


def _flat(g: Any, like: Any) -> np.ndarray:
    if g is None or g._is_zerotensor():   # undefined, or autograd's zero without storage
        return np.zeros(int(np.prod(tuple(like.shape))))
    return g.detach().cpu().to(dtype=like.dtype if like.is_floating_point() else g.dtype) \
        .double().numpy().reshape(-1)


def _compared(subject: Subject, aspect: str, wrt: str, first: np.ndarray, second: np.ndarray,
              tolerance: Tolerance, shape: tuple[int, ...], notes: Sequence[Any] = ()
              ) -> Comparison:
    comp = compare(first, second, tolerance, against="torch", wrt=wrt, out_shape=shape,
                   in_shape=None, order=subject.case.order, out_name=_name(subject, wrt),
                   notes=notes)
    if comp.mismatches == 0 and not comp.passed:
        # Two runs (or batches) of the rule held to each other within what the caller
        # allowed (nondet_tol): an allowance larger than the values is the caller's to
        # give, not a check that could see nothing.
        comp = replace(comp, passed=True, notes=tuple(n for n in comp.notes
                                                      if n.kind != "blind"))
    return replace(comp, aspect=aspect)


def _failed(subject: Subject, aspect: str, wrt: str | None, why: Any, entries: int = 0
            ) -> Comparison:
    return Comparison("torch", wrt, False, float("inf"), float("inf"), None,
                      Tolerance(0.0, 0.0, "exact"), entries, entries, _name(subject, wrt),
                      notes=(why,), aspect=aspect)


def _name(subject: Subject, wrt: str | None) -> str:
    return f"d{subject.case.output}/d{wrt}"


def reentrant(subject: Subject, torch: Any) -> Outcome:
    """The backward twice at the same point and cotangent."""
    _, first, v = _grads(subject, torch)
    _, again, _ = _grads(subject, torch, v)
    tolerance = Tolerance(subject.case.nondet_tol, 0.0, "nondet_tol")
    comps = []
    for wrt, a, b in zip(subject.case.wrt, first, again):
        x = subject.inputs[subject.names.index(wrt)]
        comps.append(_compared(subject, "reentrant", wrt, _flat(a, x), _flat(b, x), tolerance,
                               tuple(x.shape)))
    return Outcome(tuple(comps))


def undefined_grad(subject: Subject, torch: Any) -> Outcome:
    """The backward with the output's gradient undefined, as gradcheck makes it
    (``UndefinedGrad``): it must run, and give zeros or nothing."""
    xs, positions = _leaves(subject, torch)
    try:
        with torch.enable_grad():
            out = _call(subject)(*xs)
            undefined = torch._C._functions.UndefinedGrad()(out)
            grads = torch.autograd.grad(undefined, [xs[i] for i in positions],
                                        torch.zeros_like(out), allow_unused=True)
    except Exception as exc:  # the user's backward failing on it is the finding
        why = note("undefined-grad-raised", error=f"{type(exc).__name__}: {exc}")
        return Outcome(tuple(_failed(subject, "undefined-grad", w, why) for w in subject.case.wrt))
    comps = []
    for wrt, g in zip(subject.case.wrt, grads):
        x = subject.inputs[subject.names.index(wrt)]
        got = _flat(g, x)
        comps.append(_compared(subject, "undefined-grad", wrt, np.zeros_like(got), got,
                               Tolerance(0.0, 0.0, "exact"), tuple(x.shape)))
    return Outcome(tuple(comps))


def dtypes(subject: Subject, torch: Any) -> Outcome:
    """The gradient's dtype, shape and device against the input's."""
    _, grads, _ = _grads(subject, torch)
    comps = []
    for wrt, g in zip(subject.case.wrt, grads):
        x = subject.inputs[subject.names.index(wrt)]
        wrong = [] if g is None else [
            f"{what} {got} for an input of {want}" for what, got, want in (
                ("dtype", g.dtype, x.dtype), ("shape", tuple(g.shape), tuple(x.shape)),
                ("device", g.device, x.device)) if got != want]
        comps.append(_failed(subject, "dtypes", wrt, note("grad-dtype", wrong=tuple(wrong)))
                     if wrong else _passed(subject, "dtypes", wrt))
    return Outcome(tuple(comps))


def _passed(subject: Subject, aspect: str, wrt: str) -> Comparison:
    return Comparison("torch", wrt, True, 0.0, 0.0, None, Tolerance(0.0, 0.0, "exact"), 0, 0,
                      _name(subject, wrt), aspect=aspect)


def batched(subject: Subject, torch: Any) -> Outcome:
    """J^T v for BATCH cotangents at once (``is_grads_batched``, torch's vmap)
    against one at a time."""
    xs, positions = _leaves(subject, torch)
    with torch.enable_grad():
        out = _call(subject)(*xs)
    vs = torch.stack([_cotangent(out, torch, k + 1) for k in range(BATCH)])
    loose = [[_flat(g, xs[i]) for g, i in zip(_grads(subject, torch, v)[1], positions)]
             for v in vs]
    try:
        with torch.enable_grad():
            together = torch.autograd.grad(out, [xs[i] for i in positions], vs,
                                           allow_unused=True, is_grads_batched=True)
    except Exception as exc:
        why = note("vmap-failed", error=f"{type(exc).__name__}: {exc}")
        return Outcome(tuple(_failed(subject, "batched", w, why) for w in subject.case.wrt))
    return Outcome(tuple(_batch_compared(subject, "batched", wrt, xs[i], loose, k, together[k])
                         for k, (wrt, i) in enumerate(zip(subject.case.wrt, positions))))


def _batch_compared(subject: Subject, aspect: str, wrt: str, x: Any,
                    loose: list[list[np.ndarray]], k: int, together: Any) -> Comparison:
    one = np.concatenate([row[k] for row in loose])
    many = np.concatenate([_flat(None if together is None else together[b], x)
                           for b in range(BATCH)])
    return _compared(subject, aspect, wrt, one, many, _batch_tolerance(x), (BATCH, *x.shape))


def _batch_tolerance(x: Any) -> Tolerance:
    """Batched and one-at-a-time kernels may sum in another order: a few ulps
    of the dtype, of each entry and of the largest (an entry that is a sum of
    larger terms, as a solve's, carries their rounding, not its own)."""
    eps = float(np.finfo(np.float64 if str(x.dtype) == "torch.float64" else np.float32).eps)
    return Tolerance(64 * eps, 64 * eps, "batched: 64 ulps of each entry and of the largest",
                     scaled=True)


def batched_forward(subject: Subject, torch: Any) -> Outcome:
    """J u for BATCH tangents by ``torch.func.jvp`` under ``torch.func.vmap``
    against one at a time (a Function needs its jvp and a vmap rule)."""
    call = _call(subject)
    xs = [x.detach().clone() if isinstance(x, torch.Tensor) else x for x in subject.inputs]
    comps = []
    for wrt in subject.case.wrt:
        i = subject.names.index(wrt)
        us = torch.stack([torch.as_tensor(np.random.default_rng(k + 1).standard_normal(
            tuple(xs[i].shape)), dtype=xs[i].dtype) for k in range(BATCH)])

        def along(w: Any, i: int = i) -> Any:
            args = list(xs)
            args[i] = w
            return call(*args)

        def jvp(u: Any, i: int = i) -> Any:
            return torch.func.jvp(along, (xs[i],), (u,))[1]
        try:
            loose = [jvp(u) for u in us]
        except Exception as exc:  # no forward mode at all: that check says so
            comps.append(_failed(subject, "batched-forward", wrt, note(
                "no-derivative", framework="torch", mode="forward",
                message=f"{type(exc).__name__}: {exc}")))
            continue
        try:
            together = torch.func.vmap(jvp)(us)
        except Exception as exc:
            comps.append(_failed(subject, "batched-forward", wrt,
                                 note("vmap-failed", error=f"{type(exc).__name__}: {exc}")))
            continue
        one = np.concatenate([_flat(t, t) for t in loose])
        many = _flat(together, together)
        comps.append(_compared(subject, "batched-forward", wrt, one, many,
                               _batch_tolerance(xs[i]), (one.size,)))
    return Outcome(tuple(comps))


def batched_second(subject: Subject, torch: Any) -> Outcome:
    """The double backward under vmap, as gradgradcheck's ``check_batched_grad``
    tests it: the backward h = (J_i^T v) kept differentiable, and its own
    vector-Jacobian products in every input for BATCH cotangents of h at once
    (``is_grads_batched``) against one at a time."""
    xs, positions = _leaves(subject, torch)
    inputs = [xs[i] for i in positions]
    with torch.enable_grad():
        out = _call(subject)(*xs)
        v = _cotangent(out, torch).requires_grad_(True)
        hs = [h for h in torch.autograd.grad(out, inputs, v, create_graph=True,
                                             allow_unused=True)
              if h is not None and h.requires_grad]
    if not hs:  # a backward that is not differentiable: the double backward's checks say so
        return Outcome(tuple(_passed(subject, "batched-second", w) for w in subject.case.wrt))
    ws = [torch.stack([_cotangent(h, torch, k + 1) for k in range(BATCH)]) for h in hs]
    with torch.enable_grad():
        loose = [[_flat(g, x) for g, x in zip(torch.autograd.grad(
            hs, inputs, [w[k] for w in ws], retain_graph=True, allow_unused=True), inputs)]
            for k in range(BATCH)]
        try:
            together = torch.autograd.grad(hs, inputs, ws, retain_graph=True,
                                           allow_unused=True, is_grads_batched=True)
        except Exception as exc:
            why = note("vmap-failed", error=f"{type(exc).__name__}: {exc}")
            return Outcome(tuple(_failed(subject, "batched-second", w, why)
                                 for w in subject.case.wrt))
    return Outcome(tuple(_batch_compared(subject, "batched-second", wrt, x, loose, k, together[k])
                         for k, (wrt, x) in enumerate(zip(subject.case.wrt, inputs))))


ASPECTS: dict[str, Callable[[Subject, Any], Outcome]] = {
    "reentrant": reentrant, "undefined-grad": undefined_grad, "dtypes": dtypes,
    "batched": batched, "batched-forward": batched_forward, "batched-second": batched_second}
