"""fdcheck's drop-ins in place of torch's, as PyTorch's own OpInfo gradient
tests call them (test_ops.py ``_check_helper``), and JAX's check_grads beside
fdcheck's on jax.numpy and jax.nn functions with custom rules.

PyTorch: every OpInfo operator with autograd on the CPU, its first small
samples in float64 and, where it supports complex autograd, complex128. For
each sample, the calls of

  test_fn_grad          gradcheck(fn, args, check_batched_grad=op.check_batched_grad,
                                  check_grad_dtypes=True, nondet_tol, fast_mode)
  test_forward_mode_AD  gradcheck(..., check_forward_ad=True, check_backward_ad=False,
                                  check_undefined_grad=False,
                                  check_batched_forward_grad=op.check_batched_forward_grad)
  test_fn_gradgrad      gradgradcheck(fn, args, gen_non_contig_grad_outputs=False and True,
                                      check_batched_grad=op.check_batched_gradgrad,
                                      check_grad_dtypes=True, nondet_tol, fast_mode)
  test_fn_fwgrad_bwgrad gradgradcheck(..., check_fwd_over_rev=True, check_rev_over_rev=False,
                                      check_batched_grad=False, check_undefined_grad=False)

are made with ``torch.autograd.gradcheck``/``gradgradcheck`` and with
``fdcheck.gradcheck``/``gradgradcheck``, same arguments. Then mistakes are
injected into single-output samples of at most MAX_ELEMENTS elements where
both pass the right rule: first order (x1.01, one entry, sign, zeroed; as
benchmarks/opinfo.py), the double backward (detached other input, wrong in
the cotangent, scaled, sign), complex (the conjugate forgotten), forward
mode (the jvp x1.01) and forward over reverse (the backward's jvp x1.01,
where both pass it right); caught by each?

JAX: the same kinds through ``jax.test_util.check_grads`` and
``fdcheck.check_grads`` on custom_vjp and custom_jvp versions of jax.numpy and
jax.nn functions.

  python benchmarks/dropin.py [--ops N] [--samples K] [--verbose]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import fdcheck

sys.path.insert(0, str(Path(__file__).resolve().parent))
from opinfo import built, rule, timed, wrong  # noqa: E402

MAX_ELEMENTS = 64
MAX_SAMPLE = 4096   # larger samples (ctc_loss's 16000 elements: minutes a call) are counted, not run
FIRST = ("x1.01", "one entry +1e-3", "sign", "zeroed")
SECOND = ("detached other input", "wrong in the cotangent", "scaled", "sign")


def calls(op: Any, tool: str, values_only: bool = False
          ) -> dict[str, Callable[[Callable[..., Any], tuple[Any, ...]], bool]]:
    """test_ops.py's calls of gradcheck and gradgradcheck for ``op``, by ``tool``.
    With ``values_only`` (for the injected mistakes, whose wrapping Functions
    have no vmap rule and no undefined-gradient handling of their own) the
    batched and undefined-gradient checks are off for both tools."""
    grad = fdcheck.gradcheck if tool == "fdcheck" else torch.autograd.gradcheck
    gradgrad = fdcheck.gradgradcheck if tool == "fdcheck" else torch.autograd.gradgradcheck
    common: dict[str, Any] = dict(nondet_tol=op.gradcheck_nondet_tol or 0.0,
                                  fast_mode=bool(op.gradcheck_fast_mode), check_grad_dtypes=True)
    if values_only:
        op = _ValuesOnly(op)
        common["check_undefined_grad"] = False
    out: dict[str, Callable[[Callable[..., Any], tuple[Any, ...]], bool]] = {
        "grad": lambda f, a: grad(f, a, check_batched_grad=op.check_batched_grad, **common)}
    if op.supports_forward_ad:
        out["forward"] = lambda f, a: grad(
            f, a, check_forward_ad=True, check_backward_ad=False, check_batched_grad=False,
            check_batched_forward_grad=op.check_batched_forward_grad,
            **{"check_undefined_grad": False, **common})
    if op.supports_fwgrad_bwgrad:
        out["fwgrad_bwgrad"] = lambda f, a: all(
            gradgrad(f, a, gen_non_contig_grad_outputs=strided, check_fwd_over_rev=True,
                     check_rev_over_rev=False, check_batched_grad=False,
                     **{**common, "check_undefined_grad": False})
            for strided in (False, True))
    if op.supports_gradgrad:
        out["gradgrad"] = lambda f, a: all(
            gradgrad(f, a, gen_non_contig_grad_outputs=strided,
                     check_batched_grad=op.check_batched_gradgrad, **common)
            for strided in (False, True))
    return out


class _ValuesOnly:
    """An OpInfo with its batched checks off."""

    def __init__(self, op: Any) -> None:
        self.op = op
        self.check_batched_grad = self.check_batched_gradgrad = False
        self.check_batched_forward_grad = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.op, name)


def wrong_second(fn: Callable[..., Any], args: tuple[Any, ...], kind: str
                 ) -> Callable[..., Any] | None:
    """``fn`` whose backward is right and whose double backward is made wrong
    by ``kind``; None where the sample does not suit."""
    with torch.no_grad():
        out = fn(*args)
    if not isinstance(out, torch.Tensor) or out.numel() == 0 or out.numel() > MAX_ELEMENTS \
            or any(a.numel() > MAX_ELEMENTS for a in args) \
            or (kind == "detached other input" and len(args) < 2):
        return None

    class Backward(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, g: Any, *xs: Any) -> Any:
            ctx.save_for_backward(g, *xs)
            leaves = [x.detach().requires_grad_() for x in xs]
            with torch.enable_grad():
                grads = torch.autograd.grad(fn(*leaves), leaves, g, allow_unused=True)
            return tuple(torch.zeros_like(x) if d is None else d for x, d in zip(xs, grads))

        @staticmethod
        def backward(ctx: Any, *ggs: Any) -> Any:
            g, *xs = ctx.saved_tensors
            g_ = g.detach().requires_grad_()
            leaves = [x.detach().requires_grad_() for x in xs]
            with torch.enable_grad():
                grads = torch.autograd.grad(fn(*leaves), leaves, g_, create_graph=True,
                                            allow_unused=True)

                def derivative(terms: list[int], wrt: list[Any]) -> list[Any]:
                    total = sum((ggs[i] * grads[i]).sum() for i in terms
                                if grads[i] is not None and ggs[i] is not None)
                    if not isinstance(total, torch.Tensor) or not total.requires_grad:
                        return [torch.zeros_like(w) for w in wrt]
                    found = torch.autograd.grad(total, wrt, allow_unused=True, retain_graph=True)
                    return [torch.zeros_like(w) if d is None else d for w, d in zip(wrt, found)]
                every = list(range(len(xs)))
                d_g, *d_xs = derivative(every, [g_, *leaves])
                if kind == "detached other input":   # the cross terms dropped
                    d_xs = [derivative([j], [leaves[j]])[0] for j in every]
            if kind == "wrong in the cotangent":
                d_g = 1.5 * d_g
            elif kind == "scaled":
                d_xs = [1.01 * d for d in d_xs]
            elif kind == "sign":
                d_xs = [-d for d in d_xs]
            return (d_g, *d_xs)

    return rule(fn, lambda saved, g: Backward.apply(g, *saved), f"{fn.__name__} ({kind})")


def _suits(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """Whether a sample takes an injected rule: one tensor output, small."""
    with torch.no_grad():
        out = fn(*args)
    return isinstance(out, torch.Tensor) and 0 < out.numel() <= MAX_ELEMENTS \
        and all(a.numel() <= MAX_ELEMENTS for a in args)


def _tangents(values: tuple[Any, ...], given: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(torch.zeros_like(v) if t is None else t for v, t in zip(values, given))


def _rule_with_jvp(fn: Callable[..., Any], backward: Callable[..., Any], jvp_factor: float,
                   name: str) -> Callable[..., Any]:
    """``fn`` as a Function whose backward is ``backward(saved inputs, g)`` and
    whose jvp is ``jvp_factor`` times right, called as a function named ``name``."""
    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(*xs: Any) -> Any:
            return fn(*xs)

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            ctx.save_for_backward(*inputs)
            ctx.xs = tuple(x.detach() for x in inputs)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return backward(ctx.saved_tensors, g)

        @staticmethod
        def jvp(ctx: Any, *given: Any) -> Any:
            # Not torch.func.jvp: gradcheck's forward mode is running, and it does not nest.
            t = torch.autograd.functional.jvp(fn, ctx.xs, _tangents(ctx.xs, given))[1]
            return jvp_factor * t

    def apply(*xs: Any) -> Any:
        return Rule.apply(*xs)
    apply.__name__ = name
    return apply


def wrong_rule(fn: Callable[..., Any], args: tuple[Any, ...], kind: str
               ) -> Callable[..., Any] | None:
    """``fn`` whose backward forgets a conjugate (``conjugate``, complex
    samples) or whose jvp is 1.01 times right (``jvp x1.01``)."""
    if not _suits(fn, args):
        return None

    def backward(saved: Any, g: Any) -> Any:
        xs = [x.detach().requires_grad_() for x in saved]
        with torch.enable_grad():
            grads = torch.autograd.grad(fn(*xs), xs, g, allow_unused=True)
        grads = [torch.zeros_like(x) if d is None else d for x, d in zip(xs, grads)]
        if kind == "conjugate":
            grads[0] = grads[0].conj()
        return tuple(grads)
    return _rule_with_jvp(fn, backward, 1.01 if kind == "jvp x1.01" else 1.0,
                          f"{fn.__name__} ({kind})")


def fwd_over_rev_rule(fn: Callable[..., Any], args: tuple[Any, ...], factor: float
                      ) -> Callable[..., Any] | None:
    """``fn`` as a Function whose backward is another Function, both with a
    jvp: right at first order, and the backward's jvp (forward over reverse)
    ``factor`` times right (its reverse derivative is not given: reverse over
    reverse is not what it is for); None where the sample does not suit."""
    if not _suits(fn, args):
        return None

    def grads_of(g: Any, *xs: Any) -> tuple[Any, ...]:
        # Differentiable in g and xs where they require grad (the jvp below).
        xs = tuple(x if x.requires_grad else x.detach().requires_grad_() for x in xs)
        with torch.enable_grad():
            found = torch.autograd.grad(fn(*xs), xs, g, create_graph=True, allow_unused=True)
        return tuple(torch.zeros_like(x) if d is None else d for x, d in zip(xs, found))

    class Backward(torch.autograd.Function):
        @staticmethod
        def forward(g: Any, *xs: Any) -> Any:
            return tuple(d.detach() for d in grads_of(g, *xs))

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            ctx.inputs = tuple(i.detach() for i in inputs)

        @staticmethod
        def backward(ctx: Any, *ggs: Any) -> Any:
            raise RuntimeError("reverse over reverse is not this rule's")

        @staticmethod
        def jvp(ctx: Any, *given: Any) -> Any:
            t = torch.autograd.functional.jvp(grads_of, ctx.inputs,
                                              _tangents(ctx.inputs, given))[1]
            return tuple(factor * d for d in t)

    return _rule_with_jvp(fn, lambda saved, g: Backward.apply(g, *saved), 1.0,
                          f"{fn.__name__} (backward's jvp x{factor})")


def verdict(call: Callable[[], bool]) -> tuple[str, float, str]:
    result, took, message = timed(lambda: "pass" if call() else "fail")
    return result, took, message


def torch_part(options: argparse.Namespace) -> None:
    from torch.testing._internal.common_methods_invocations import op_db
    ops = [op for op in op_db if op.supports_autograd]
    ops = ops[:options.ops] if options.ops else ops
    pairs: Counter[tuple[str, str, str]] = Counter()       # (test, torch, fdcheck)
    seconds: Counter[str] = Counter()
    caught: Counter[tuple[str, str]] = Counter()
    eligible: Counter[str] = Counter()
    details: list[str] = []
    start = time.perf_counter()
    for number, op in enumerate(ops):
        mine, theirs = calls(op, "fdcheck"), calls(op, "torch")
        plain = {"fdcheck": calls(op, "fdcheck", True), "torch": calls(op, "torch", True)}
        for dtype in (torch.float64, torch.complex128):
            if not op.supports_dtype(dtype, "cpu") or (dtype.is_complex and not getattr(
                    op, "supports_complex_autograd", lambda d: False)("cpu")):
                continue
            for fn, args, label in built(op, dtype, options.samples, details):
                if sum(a.numel() for a in args) > MAX_SAMPLE:
                    pairs["skipped", "large", "sample"] += 1
                    continue
                both: dict[str, bool] = {}
                for test in mine:
                    tv, tt, tm = verdict(lambda: theirs[test](fn, args))
                    fv, ft, fm = verdict(lambda: mine[test](fn, args))
                    pairs[test, tv, fv] += 1
                    seconds[f"torch {test}"] += tt
                    seconds[f"fdcheck {test}"] += ft
                    both[test] = tv == fv == "pass"
                    if tv != fv:
                        details.append(f"{test}: torch {tv}, fdcheck {fv}: {label}: {fm or tm}")
                _mistakes(op, fn, args, dtype, both, plain["fdcheck"], plain["torch"], caught,
                          eligible, seconds, details, label)
        if options.verbose:
            print(f"[{number + 1}/{len(ops)}] {op.name}", file=sys.stderr, flush=True)
            print(f"  so far: {dict(pairs)}; caught {dict(caught)} of {dict(eligible)}; "
                  f"seconds {dict(seconds)}", file=sys.stderr, flush=True)
    print(f"# {time.strftime('%Y-%m-%d')}; {len(ops)} OpInfo operators with autograd, up to "
          f"{options.samples} small samples each in float64 and complex128; torch "
          f"{torch.__version__}; {time.perf_counter() - start:.0f} s in all")
    print()
    print("correct rules, as test_ops.py calls them (torch / fdcheck)")
    for (test, tv, fv), k in sorted(pairs.items()):
        print(f"  {test:13s} {tv:7s} / {fv:7s} {k:6d}")
    for test in ("grad", "forward", "gradgrad", "fwgrad_bwgrad"):
        t, f = seconds[f"torch {test}"], seconds[f"fdcheck {test}"]
        if t:
            print(f"  {test:13s} seconds: torch {t:.1f}, fdcheck {f:.1f} ({f / t:.2f} of torch's)")
    print()
    print("injected mistakes (caught of eligible)   torch     fdcheck")
    for kind in eligible:
        print(f"  {kind:38s} {caught[kind, 'torch']:4d}/{eligible[kind]:<4d} "
              f"{caught[kind, 'fdcheck']:4d}/{eligible[kind]:<4d}")
    t, f = seconds["torch mistakes"], seconds["fdcheck mistakes"]
    print(f"  seconds: torch {t:.1f}, fdcheck {f:.1f}")
    if options.verbose:
        print("\n".join(details))


def _mistakes(op: Any, fn: Callable[..., Any], args: tuple[Any, ...], dtype: Any,
              both: dict[str, bool], mine: Any, theirs: Any, caught: Counter[tuple[str, str]],
              eligible: Counter[str], seconds: Counter[str], details: list[str],
              label: str) -> None:
    """Each kind of mistake the sample suits, through the test that should see it."""
    plans: list[tuple[str, str, Any]] = []
    if both.get("grad") and not dtype.is_complex:
        plans += [(f"first order: {k}", "grad", lambda k=k: wrong(fn, args, k)) for k in FIRST]
    if both.get("grad") and dtype.is_complex:
        plans.append(("complex: conjugate", "grad", lambda: wrong_rule(fn, args, "conjugate")))
    if both.get("forward"):
        plans.append(("forward mode: jvp x1.01", "forward",
                      lambda: wrong_rule(fn, args, "jvp x1.01")))
    if both.get("gradgrad") and not dtype.is_complex:
        plans += [(f"second order: {k}", "gradgrad", lambda k=k: wrong_second(fn, args, k))
                  for k in SECOND]
    if both.get("fwgrad_bwgrad") and not dtype.is_complex and _right_wrapper_passes(
            fn, args, mine, theirs):
        plans.append(("forward over reverse: x1.01", "fwgrad_bwgrad",
                      lambda: fwd_over_rev_rule(fn, args, 1.01)))
    for kind, test, make in plans:
        try:
            bad = make()
        except Exception:  # the op's own derivative cannot be taken here
            bad = None
        if bad is None:
            continue
        eligible[kind] += 1
        for tool, table in (("torch", theirs), ("fdcheck", mine)):
            result, took, message = verdict(lambda: table[test](bad, args))
            seconds[f"{tool} mistakes"] += took
            if result == "fail":
                caught[kind, tool] += 1
            else:
                details.append(f"{kind}: {tool} {result}: {label}: {message}")


def _right_wrapper_passes(fn: Callable[..., Any], args: tuple[Any, ...], mine: Any,
                          theirs: Any) -> bool:
    """Whether both tools pass :func:`fwd_over_rev_rule` made right (its jvp
    of the backward takes a third derivative the op may not have)."""
    try:
        right = fwd_over_rev_rule(fn, args, 1.0)
    except Exception:  # the op's own derivative cannot be taken here
        return False
    return right is not None and all(
        verdict(lambda: table["fwgrad_bwgrad"](right, args))[0] == "pass"
        for table in (theirs, mine))


JAX_KINDS = (None, "x1.01", "sign", "stop_gradient (second order)")


def jax_tool(tool: str) -> dict[str, Any]:
    """Every JAX function and kind through one tool, in this process: its
    verdicts by kind, and its seconds (the checks alone, imports excluded)."""
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    def custom(f: Callable[..., Any], kind: str | None) -> Callable[..., Any]:
        """f as a custom_vjp whose bwd is made wrong by ``kind``."""
        @jax.custom_vjp
        def g(x: Any) -> Any:
            return f(x)

        def fwd(x: Any) -> Any:
            return f(x), x

        def bwd(x: Any, ct: Any) -> Any:
            d = jax.vjp(f, x)[1](ct)[0]
            if kind == "x1.01":
                d = 1.01 * d
            elif kind == "sign":
                d = -d
            elif kind == "stop_gradient (second order)":
                d = jax.lax.stop_gradient(d)
            return (d,)
        g.defvjp(fwd, bwd)
        return g

    functions = {"tanh": jnp.tanh, "softplus": jax.nn.softplus, "sigmoid": jax.nn.sigmoid,
                 "gelu": jax.nn.gelu, "logsumexp": lambda x: jax.nn.logsumexp(x, axis=-1),
                 "softmax": lambda x: jax.nn.softmax(x, axis=-1), "sin": jnp.sin,
                 "exp": jnp.exp, "log1p(x^2)": lambda x: jnp.log1p(x ** 2),
                 "matrix square": lambda x: x @ x, "inverse": jnp.linalg.inv,
                 "det": jnp.linalg.det}
    checker = check_grads if tool == "jax" else fdcheck.check_grads
    rows: Counter[str] = Counter()
    seconds = 0.0
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(0).standard_normal((3, 3)) + 2 * np.eye(3))
        for f in functions.values():
            for kind in JAX_KINDS:
                g = custom(f, kind)
                order = 2 if kind and "second" in kind else 1 if kind else 2
                began = time.perf_counter()
                try:
                    checker(g, (x,), order, ["rev"])
                    result = "pass"
                except AssertionError:
                    result = "fail"
                seconds += time.perf_counter() - began
                rows[f"{kind or 'right rule'}|{result}"] += 1
    return {"rows": dict(rows), "seconds": seconds, "functions": len(functions),
            "version": jax.__version__}


def jax_part(options: argparse.Namespace) -> None:
    """Each tool in a process of its own, as a suite using only it runs: JAX
    compiles each operation once a process, and a tool run second would find
    the operations the first compiled."""
    import json
    import subprocess
    start = time.perf_counter()
    found = {tool: json.loads(subprocess.run(
        [sys.executable, __file__, "--jax-tool", tool], capture_output=True, text=True,
        check=True).stdout.splitlines()[-1]) for tool in ("jax", "fdcheck")}
    print(f"\n# JAX {found['jax']['version']}: check_grads beside fdcheck.check_grads, "
          f"{found['jax']['functions']} functions as custom_vjp, order 2 for the right rules, "
          f"each tool in a fresh process; {time.perf_counter() - start:.0f} s")
    print("rule                              jax pass/fail   fdcheck pass/fail")
    for kind in JAX_KINDS:
        k = kind or "right rule"
        cells = [f"{found[t]['rows'].get(k + '|pass', 0):4d}/{found[t]['rows'].get(k + '|fail', 0):<4d}"
                 for t in ("jax", "fdcheck")]
        print(f"  {k:32s} {cells[0]}      {cells[1]}")
    print(f"  seconds: jax {found['jax']['seconds']:.1f}, fdcheck {found['fdcheck']['seconds']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=None, help="only the first N operators")
    parser.add_argument("--samples", type=int, default=1, help="samples per operator and dtype")
    parser.add_argument("--verbose", action="store_true", help="name every disagreement")
    parser.add_argument("--only", choices=["torch", "jax"], default=None)
    parser.add_argument("--jax-tool", choices=["jax", "fdcheck"], default=None,
                        help=argparse.SUPPRESS)   # one tool's JAX run, in a process of its own
    options = parser.parse_args()
    warnings.filterwarnings("ignore")
    if options.jax_tool:
        import json
        print(json.dumps(jax_tool(options.jax_tool)))
        return
    if options.only != "jax":
        torch_part(options)
    if options.only != "torch":
        jax_part(options)


if __name__ == "__main__":
    main()
