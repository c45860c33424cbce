"""fdcheck beside torch.autograd.gradcheck on PyTorch's own operator database.

Every differentiable operator of OpInfo (``torch.testing._internal``, which
needs torch's test dependency ``expecttest``: the ``bench`` extra) that
supports float64 on the CPU: its small samples, built into a function of the
tensors that require grad exactly as torch's own gradient tests build them
(test_ops.py ``_check_helper``). For each sample:

  float64   gradcheck (its Jacobian check: fast_mode and nondet_tol as the
            OpInfo sets them; batched and undefined-grad checks off, which
            fdcheck does not make) and fdcheck.check(fn, *tensors) against
            torch's reverse mode; both pass, disagreements, crashes, time.
  float32   fdcheck alone (gradcheck refuses float32 inputs): the verdicts
            on correct backwards, in the precision users train in.
  mistakes  the op wrapped in an autograd.Function whose backward is the
            op's own VJP made wrong: x 1.01, one Jacobian entry + 1e-3 of the
            largest, negated, zeroed (single-output samples of at most
            MAX_MISTAKE_ELEMENTS elements in and out, where both tools pass
            the right backward); caught by each tool?

A crash is an exception out of the tool (for gradcheck, anything but
GradcheckError); a sample of an operator that neither tool can check (complex
outputs, for fdcheck) counts as a crash of the tool that raised.

  python benchmarks/opinfo.py [--ops N] [--samples K] [--verbose]
"""
from __future__ import annotations

import argparse
import signal
import time
import warnings
from collections import Counter
from itertools import chain
from typing import Any, Callable

import numpy as np
import torch

import fdcheck  # noqa: I001
from fdcheck.errors import FdcheckError
from torch.autograd.gradcheck import GradcheckError

MAX_MISTAKE_ELEMENTS = 64
SECONDS = 60  # per tool and sample: past it, a crash (named "timeout")
MISTAKES = ("x1.01", "one entry +1e-3", "sign", "zeroed")


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _ours(exc: BaseException) -> bool:
    """Whether fdcheck itself raised ``exc`` (a named refusal), not the op."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "/fdcheck/" in tb.tb_frame.f_code.co_filename.replace("\\", "/")


def timed(call: Callable[[], Any]) -> tuple[str, float, str]:
    """(verdict, seconds, message) of one tool's call: its verdict ("pass",
    "fail"; fdcheck's "unverifiable"), "refused" (fdcheck declined the input
    by name) or "crash" (any other exception, or past SECONDS)."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    start = time.perf_counter()
    try:
        verdict = call()
        message = ""
    except GradcheckError as exc:
        verdict, message = "fail", str(exc).splitlines()[0]
    except _Timeout:
        verdict, message = "crash", "timeout"
    except Exception as exc:  # any tool may raise anything on an operator
        text = str(exc).splitlines()[0] if str(exc) else ""
        verdict = "refused" if isinstance(exc, FdcheckError) or _ours(exc) \
            else "crash"
        message = f"{type(exc).__name__}: {text}"
    finally:
        signal.alarm(0)
    return verdict, time.perf_counter() - start, message[:160]


def build(op: Any, sample: Any) -> tuple[Callable[..., Any], tuple[torch.Tensor, ...]]:
    """The function of the tensors requiring grad, and those tensors, as
    torch's test_ops.py builds them for gradcheck."""
    def is_list(x: Any) -> bool:
        return isinstance(x, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in x) and len(x) > 0

    first = list(sample.input) if is_list(sample.input) else [sample.input]
    every = chain(first, sample.args, sample.kwargs.values())
    args = tuple(x for x in every if isinstance(x, torch.Tensor) and x.requires_grad)

    def recompose(inputs: tuple[Any, ...], value: Any, k: int) -> tuple[Any, int]:
        if is_list(value):
            out = []
            for x in value:
                if isinstance(x, torch.Tensor) and x.requires_grad:
                    out.append(inputs[k])
                    k += 1
                else:
                    out.append(x)
            return out, k
        if isinstance(value, torch.Tensor) and value.requires_grad:
            return inputs[k], k + 1
        return value, k

    def fn(*inputs: Any) -> Any:
        positional, k = [], 0
        value, k = recompose(inputs, sample.input, k)
        positional.append(value)
        for x in sample.args:
            value, k = recompose(inputs, x, k)
            positional.append(value)
        kwargs = {}
        for key, x in sample.kwargs.items():
            kwargs[key], k = recompose(inputs, x, k)
        output = op.gradcheck_wrapper(op.get_op(), *positional, **kwargs)
        if sample.output_process_fn_grad is not None:
            return sample.output_process_fn_grad(output)
        return output

    fn.__name__ = op.name
    return fn, args


def built(op: Any, dtype: Any, count: int, details: list[str]
          ) -> list[tuple[Callable[..., Any], tuple[Any, ...], str]]:
    """(function, tensors, label) of the op's first ``count`` small samples in
    ``dtype`` (seeded); an OpInfo that cannot build its samples here is noted."""
    torch.manual_seed(0)
    try:
        samples = list(op.sample_inputs("cpu", dtype, requires_grad=True,
                                        small_inputs_only=True))[:count]
    except Exception as exc:  # an OpInfo that cannot build its samples here
        details.append(f"no samples: {op.name} {dtype}: {exc}")
        return []
    name = str(dtype).replace("torch.", "")
    out = []
    for sample in samples:
        fn, args = build(op, sample)
        if args:
            out.append((fn, args, f"{op.name} {name} {tuple(args[0].shape)}"))
    return out


def gradcheck(op: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    return "pass" if torch.autograd.gradcheck(fn, args, fast_mode=bool(op.gradcheck_fast_mode),
                                    nondet_tol=op.gradcheck_nondet_tol or 0.0,
                                    check_batched_grad=False, check_undefined_grad=False,
                                    raise_exception=True) else "fail"


def run_fdcheck(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    result = fdcheck.check(fn, *args)
    if result.error:  # a case fdcheck could not run is a crash, not a verdict
        raise RuntimeError(result.error)
    verdicts = {c.verdict for c in result.checks}
    return "pass" if result.passed else "fail" if "mismatch" in verdicts else "unverifiable"


def wrong(fn: Callable[..., Any], args: tuple[Any, ...], kind: str) -> Callable[..., Any] | None:
    """``fn`` with its backward made wrong by ``kind``, for the first input; None
    where the sample does not suit (several or non-floating outputs, too large)."""
    with torch.no_grad():
        out = fn(*args)
    if not isinstance(out, torch.Tensor) or not out.dtype.is_floating_point or out.numel() == 0 \
            or out.numel() > MAX_MISTAKE_ELEMENTS or args[0].numel() > MAX_MISTAKE_ELEMENTS:
        return None
    detached = [a.detach() for a in args]
    jac = torch.autograd.functional.jacobian(lambda x: fn(x, *detached[1:]), detached[0])
    jac = jac.reshape(out.numel(), args[0].numel())
    if not torch.isfinite(jac).all() or not jac.abs().max() > 0:
        return None
    row, col = np.unravel_index(int(jac.abs().argmax()), tuple(jac.shape))
    delta = 1e-3 * float(jac.abs().max())

    def backward(saved: Any, g: Any) -> Any:
        xs = [x.detach().requires_grad_() for x in saved]
        with torch.enable_grad():
            grads = list(torch.autograd.grad(fn(*xs), xs, g, allow_unused=True))
        grads = [torch.zeros_like(x) if gr is None else gr for x, gr in zip(xs, grads)]
        first = grads[0]
        if kind == "x1.01":
            first = first * 1.01
        elif kind == "sign":
            first = -first
        elif kind == "zeroed":
            first = torch.zeros_like(first)
        else:  # one Jacobian entry off: J[row, col] + delta
            first = first.clone()
            first.view(-1)[col] += delta * g.reshape(-1)[row]
        return (first, *grads[1:])

    return rule(fn, backward, f"{fn.__name__} ({kind})")


def rule(fn: Callable[..., Any], backward: Callable[[Any, Any], Any], name: str
         ) -> Callable[..., Any]:
    """``fn`` as an autograd.Function that saves its inputs and whose backward is
    ``backward(saved inputs, g)``, called as a function named ``name``."""
    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *xs: Any) -> Any:
            ctx.save_for_backward(*xs)
            return fn(*xs)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return backward(ctx.saved_tensors, g)

    def apply(*xs: Any) -> Any:
        return Rule.apply(*xs)
    apply.__name__ = name
    return apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=None, help="only the first N operators")
    parser.add_argument("--samples", type=int, default=2, help="samples per operator and dtype")
    parser.add_argument("--verbose", action="store_true", help="name every disagreement and crash")
    options = parser.parse_args()
    warnings.filterwarnings("ignore")
    from torch.testing._internal.common_methods_invocations import op_db

    ops = [op for op in op_db if op.supports_autograd and op.supports_dtype(torch.float64, "cpu")]
    ops = ops[:options.ops] if options.ops else ops
    verdicts: Counter[tuple[str, str, str]] = Counter()   # (dtype, tool, verdict)
    pairs: Counter[tuple[str, str]] = Counter()           # float64 (gradcheck, fdcheck)
    seconds: Counter[str] = Counter()
    caught: Counter[tuple[str, str]] = Counter()          # (mistake, tool)
    eligible: Counter[str] = Counter()
    details: list[str] = []
    crashes: Counter[tuple[str, str]] = Counter()
    start = time.perf_counter()
    for number, op in enumerate(ops):
        for dtype in (torch.float64, torch.float32):
            if not op.supports_dtype(dtype, "cpu"):
                continue
            name = str(dtype).replace("torch.", "")
            for fn, args, label in built(op, dtype, options.samples, details):
                fd, t_fd, m_fd = timed(lambda: run_fdcheck(fn, args))
                verdicts[name, "fdcheck", fd] += 1
                seconds[f"fdcheck {name}"] += t_fd
                if fd in ("crash", "refused"):
                    crashes[f"fdcheck {fd}", m_fd.split(":")[0]] += 1
                if dtype != torch.float64:
                    if fd != "pass":
                        details.append(f"float32 fdcheck {fd}: {label}: {m_fd}")
                    continue
                gc, t_gc, m_gc = timed(lambda: gradcheck(op, fn, args))
                verdicts[name, "gradcheck", gc] += 1
                seconds["gradcheck float64"] += t_gc
                pairs[gc, fd] += 1
                if gc == "crash":
                    crashes["gradcheck crash", m_gc.split(":")[0]] += 1
                if gc != fd:
                    details.append(f"gradcheck {gc}, fdcheck {fd}: {label}: "
                                   f"{m_fd or m_gc}")
                if not gc == fd == "pass":
                    continue  # a catch by a tool that fails the right backward proves nothing
                for kind in MISTAKES:
                    try:
                        bad = wrong(fn, args, kind)
                    except Exception:  # the op's own Jacobian cannot be taken here
                        bad = None
                    if bad is None:
                        continue
                    eligible[kind] += 1
                    for tool, call in (("gradcheck", lambda: gradcheck(op, bad, args)),
                                       ("fdcheck", lambda: run_fdcheck(bad, args))):
                        verdict, took, _ = timed(call)
                        seconds[f"{tool} mistakes"] += took
                        if verdict == "fail":
                            caught[kind, tool] += 1
                        elif verdict == "pass":
                            details.append(f"missed by {tool}: {kind}: {label}")
        if options.verbose:
            print(f"[{number + 1}/{len(ops)}] {op.name}", flush=True)
    print(f"# {time.strftime('%Y-%m-%d')}; {len(ops)} OpInfo operators, up to {options.samples} "
          f"small samples each per dtype; torch {torch.__version__}; "
          f"{time.perf_counter() - start:.0f} s in all")
    print()
    print("float64, correct backwards       gradcheck   fdcheck")
    for v in ("pass", "fail", "unverifiable", "refused", "crash"):
        print(f"  {v:31s} {verdicts['float64', 'gradcheck', v]:9d} {verdicts['float64', 'fdcheck', v]:9d}")
    print(f"  {'seconds':31s} {seconds['gradcheck float64']:9.1f} {seconds['fdcheck float64']:9.1f}")
    print()
    print("float64, one beside the other (gradcheck / fdcheck)")
    for (gc, fd), k in sorted(pairs.items()):
        print(f"  {gc:5s} / {fd:5s} {k:6d}")
    print()
    f32 = {v: verdicts["float32", "fdcheck", v] for v in
           ("pass", "fail", "unverifiable", "refused", "crash")}
    print("float32, fdcheck alone: " + ", ".join(f"{v} {k}" for v, k in f32.items())
          + f"; {seconds['fdcheck float32']:.1f} s")
    print()
    print("injected mistakes (caught of eligible)   gradcheck   fdcheck")
    for kind in MISTAKES:
        print(f"  {kind:38s} {caught[kind, 'gradcheck']:4d}/{eligible[kind]:<4d} "
              f"{caught[kind, 'fdcheck']:4d}/{eligible[kind]:<4d}")
    print(f"  {'seconds':38s} {seconds['gradcheck mistakes']:9.1f} {seconds['fdcheck mistakes']:9.1f}")
    print()
    for (tool, what), k in sorted(crashes.items()):
        print(f"{tool}: {what} ({k})")
    if options.verbose:
        print("\n".join(details))


if __name__ == "__main__":
    main()
