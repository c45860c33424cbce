"""One function that checks one case; the CLI, the pytest plugin and the API
all call it. It never raises for a case's own trouble: what cannot be run
becomes the result's ``error``, with the checks made before it kept.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import backends
from .case import Case
from .checks import (Outcome, analytic, autograd, behaviour, chain, directions, hessian,
                     second, stages, value)
from .compare import Comparison, Diagnosis
from .diagnose import STRUCTURED, diagnose
from .engine import JacobianResult
from .notes import note
from .options import RunOptions
from .errors import BackendUnavailable, CaseError
from .subject import Subject, phase, prepare
from .verify import Verifier

@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case: its checks, or the error that stopped it."""

    name: str | None
    file: str | None
    line: int | None
    passed: bool
    error: str | None = None
    checks: tuple[Comparison, ...] = ()
    evaluations: int = 0
    seconds: float = 0.0
    error_key: str | None = None
    # What stopped the case, for the Python API to raise again.
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    # What --explore found at drawn inputs (fdcheck.explore.Exploration), if asked.
    exploration: Any = field(default=None, compare=False, repr=False)
    # The custom rules the function called, each checked on its own (fdcheck.locate.Location).
    location: Any = field(default=None, compare=False, repr=False)

    @property
    def status(self) -> str:
        return "error" if self.error else "passed" if self.passed else "failed"

    def __str__(self) -> str:
        from .report import case_text
        return case_text(self, verbose=True)

    def __repr__(self) -> str:
        from .report import result_repr
        return result_repr(self)

    def _repr_html_(self) -> str:
        from .report import result_html
        return result_html(self)

    def plot(self, all_checks: bool = False) -> list[Any]:
        """A heatmap per failing check (per check with ``all_checks``):
        matplotlib figures, as ``fdcheck run --plot`` writes them."""
        from .report import plot_check
        return [plot_check(c) for c in self.checks if c.matrices is not None
                and c.matrices.numeric.ndim == 2 and (all_checks or not c.passed)]


def _diagnosed(subject: Subject | None, checks: Sequence[Comparison],
               numerics: dict[str, np.ndarray]) -> tuple[tuple[Comparison, ...], int]:
    """The checks, each failing one with its diagnosis, and the evaluations
    spent differentiating inputs outside ``wrt`` for ``other-input``."""
    out, spent = [], 0
    for comp in checks:
        if subject is not None and subject.structures:
            comp = _labelled(subject, comp)
        comp = _disconnected(comp)
        # An unverifiable check's differences are rounding or noise: nothing to explain.
        # A behaviour (two runs, a batch) has no derivative to explain.
        if subject is not None and comp.verdict == "mismatch" and comp.matrices is not None \
                and comp.aspect is None:
            found, used = _diagnosis(subject, comp, numerics)
            comp, spent = replace(comp, diagnosis=found), spent + used
        out.append(comp)
    return tuple(out), spent


def _diagnosis(subject: Subject, comp: Comparison, numerics: dict[str, np.ndarray]
               ) -> tuple[tuple[Diagnosis, ...], int]:
    """A failing check's diagnosis, and the evaluations it spent."""
    # Another input's Jacobian is of the whole output: it explains a
    # check of the whole output only.
    first = comp.stage is None and comp.derivative == 1 and comp.wrt in numerics \
        and subject.outputs is None
    others = {k: v for k, v in numerics.items() if k != comp.wrt} if first else {}
    value_of = (subject.np_inputs[subject.names.index(comp.wrt)]
                if comp.wrt in subject.names else None)
    inputs = {n: v for n, v in zip(subject.names, subject.np_inputs) if n != comp.wrt}
    complex_input = comp.wrt in subject.case.complex_inputs
    structure = subject.structures.get(str(comp.wrt))
    convention = subject.case.convention
    found = diagnose(comp, others, value_of, inputs, complex_input, structure, convention)
    if not first or any(d.kind in STRUCTURED for d in found):
        return found, 0
    spent = _outside_wrt(subject, comp, numerics)
    others = {k: v for k, v in numerics.items() if k != comp.wrt}
    return diagnose(comp, others, value_of, inputs, complex_input, structure, convention), spent


def _disconnected(comp: Comparison) -> Comparison:
    """A passing check of a derivative that is 0 throughout, numeric and
    reference alike, says so: an input (a model's parameter) that the output
    does not depend on passes every check, and is often a mistake."""
    mat = comp.matrices
    if not comp.passed or mat is None or comp.against == "value" or comp.aspect is not None \
            or comp.wrt is None or np.any(mat.numeric) or np.any(mat.reference):
        return comp
    return replace(comp, notes=(*comp.notes, note("disconnected", input=str(comp.wrt))))


def _labelled(subject: Subject, comp: Comparison) -> Comparison:
    """A check of a structured input with its coordinates' labels (s11, s21, ...)."""
    def labels(name: str | None) -> tuple[str, ...] | None:
        s = subject.structures.get(str(name))
        return None if s is None else tuple(s.labels(str(name)))
    rows = labels(comp.of or comp.wrt) if comp.derivative == 2 else None
    cols = None if comp.cotangent else labels(comp.wrt)
    return replace(comp, in_labels=cols, out_labels=rows)


def _outside_wrt(subject: Subject, comp: Comparison, numerics: dict[str, np.ndarray]) -> int:
    """Differentiate, into ``numerics``, the floating inputs outside ``wrt``
    whose Jacobian has the check's shape: a reference written for one of them
    is then named (``other-input``). Their evaluations."""
    spent = 0
    ref = comp.matrices.reference if comp.matrices is not None else None
    width = ref.shape[1] if ref is not None and ref.ndim == 2 else -1
    for i, name in enumerate(subject.names):
        x = subject.np_inputs[i]
        if name in numerics or x.dtype.kind != "f" or x.size != width:
            continue
        try:
            with np.errstate(all="ignore"):
                fn = subject.flat_of(subject.call, subject.inputs, i)
                result = subject.numeric(fn, subject.call, f"d{subject.case.output}/d{name}")
        except Exception:  # the diagnosis is a help: a function that fails here gets none
            continue
        numerics[name] = result.jacobian
        spent += result.evaluations
    return spent


def _check_python_allowed(case: Case, options: RunOptions) -> None:
    key = case.python_key
    if key is not None and not options.allow_python:
        raise case.error("this case imports Python code ({python: ...}); importing runs code, so "
                         "it is refused unless allowed: fdcheck run --allow-python, pytest "
                         "--fdcheck-allow-python, or allow_python=True in the library", key=key)


def _check_something(case: Case) -> None:
    if case.behaviours and case.backend != "torch":
        raise case.error(f"behaviours are checked for PyTorch functions; this case's backend is "
                         f"{case.backend}", key="behaviours")
    if not (case.expect.anything or case.autograd or case.stage_expect or case.is_chain
            or case.behaviours):
        raise case.error("nothing to compare: give expect (value, gradient or jacobian) or "
                         "autograd; in the Python API, gradient=, jacobian=, jvp= or "
                         "autograd=True", key="expect")


class _Timeout(BaseException):
    """Raised in a case that ran past its time (a BaseException, so that a
    user's ``except Exception`` does not swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise _Timeout in this thread after ``seconds``, where POSIX timers allow."""
    if not seconds or not hasattr(signal, "setitimer") \
            or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Timeout()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _streams_kept() -> Iterator[None]:
    """Standard output and error open again after a case whose code closed
    them (the report still has to be written)."""
    fds = {}
    for name in ("stdout", "stderr"):
        try:  # the descriptor each writes to now (under --format json, stdout is stderr)
            fds[name] = getattr(sys, name).fileno()
        except (AttributeError, OSError, ValueError):
            pass  # not a file (a test harness's buffer): nothing to open again
    try:
        yield
    finally:
        for name, fd in fds.items():
            stream = getattr(sys, name)
            if getattr(stream, "closed", False):
                setattr(sys, name, open(fd, "w", closefd=False, errors="backslashreplace"))
                if getattr(sys, f"__{name}__") is stream:
                    setattr(sys, f"__{name}__", getattr(sys, name))


def run_case(case: Case, options: RunOptions | None = None) -> CaseResult:
    """Check one case: value, analytic derivatives, chain, stages, autograd.

    Never raises for the case's own problems: they are in ``error``.
    """
    options = options or RunOptions()
    try:
        with _streams_kept(), _time_limit(options.timeout):
            result = _run_case(case, options)
        if options.explore and case.explore is not None and result.status != "error":
            result = _explored(case, options, result)
        if _wants_location(case, options, result):
            result = _located(case, options, result)
        return result
    except _Timeout:
        error = case.error(f"the case ran longer than the time allowed ({options.timeout:g} s)",
                           key="timeout")
        return CaseResult(case.name, case.file, case.line, False, str(error), (), 0,
                          float(options.timeout or 0), "timeout", error)


def _explored(case: Case, options: RunOptions, result: CaseResult) -> CaseResult:
    """``result`` with what ``options.explore`` drawn inputs found; a failure
    at one fails the case (its checks at the written point are kept)."""
    from .structure import native_like
    try:
        from .explore import explore_case, write_case
        inner = replace(options, explore=0, progress=None)
        found = explore_case(case, lambda c: run_case(c, inner), options.explore,
                             options.explore_seed, native_like if case.native else None)
        if found.failed and case.file:
            from .casefile import raw_case
            folder = options.explore_dir or str(Path(case.file).parent)
            found = replace(found, path=write_case(case, raw_case(case), found, options.explore,
                                                   folder))
    except ImportError:
        error = case.error("exploring draws inputs with Hypothesis: pip install "
                           "'fdcheck[explore]'", key="explore")
        return replace(result, passed=False, error=str(error), error_key="explore",
                       exception=error)
    except CaseError as exc:
        error = exc.located(file=case.file, case=case.name, line=case.line)
        return replace(result, passed=False, error=str(error), error_key=exc.key, exception=error)
    return replace(result, exploration=found, passed=result.passed and not found.failed)


def _wants_location(case: Case, options: RunOptions, result: CaseResult) -> bool:
    asked = case.locate if options.locate is None else options.locate
    if asked is False or case.backend not in backends.AUTOGRAD_NAMES or \
            result.error_key in ("python", "backend", "timeout"):
        return False
    return asked in (True, "ops") or result.status == "failed"


def _located(case: Case, options: RunOptions, result: CaseResult) -> CaseResult:
    """``result`` with each custom rule the function calls checked on its own
    (asked, or where the whole failed: then only if it calls any)."""
    from .calls import call_case
    from .locate import locate
    inner = replace(options, locate=False, explore=0, progress=None)

    def check(rule: Any, *args: Any, wrt: Sequence[int], name: str) -> CaseResult:
        sub = call_case(rule, args, wrt=list(wrt), name=name, modes=case.modes,
                        derivatives=case.derivatives, autograd=True)
        return run_case(sub, inner)
    try:
        with np.errstate(all="ignore"), backends.scoped(case.backend):
            subject = prepare(case, inner, values=False, checks=False, inputs=False)
            fn = subject.framework_call(case.backend)
            inputs = subject.inputs_for(subject.backend)
            if case.backend == "torch":
                # The inputs checked require grad, as the whole's autograd check makes them.
                inputs = [x.detach().requires_grad_(n in case.wrt and x.is_floating_point())
                          if hasattr(x, "requires_grad") else x
                          for n, x in zip(subject.names, inputs)]
            ops = "ops" in (case.locate, options.locate)
            found = locate(fn, inputs, case.backend, check, ops=ops,
                           whole=result if _rule_alone(case) else None)
    except Exception as exc:  # locating is an aid: its trouble is said, the verdict stands
        if case.locate in (None, False) and options.locate in (None, False):
            return result
        return replace(result, location=f"could not locate: {type(exc).__name__}: {exc}")
    if not found.recorded and not found.nan_op and case.locate in (None, False) \
            and options.locate in (None, False):
        return result
    return replace(result, location=found, evaluations=result.evaluations + found.evaluations)


def _rule_alone(case: Case) -> bool:
    """Whether the whole's check is what a rule's own check would be, were
    the function that rule alone: its autograd against the numeric
    derivative of the inputs as given, nothing else expected."""
    return tuple(case.autograd) == (case.backend,) and not (
        case.expect.anything or len(case.stages) > 1 or case.stage_expect or case.structure
                or case.complex_inputs or case.sparse_inputs or case.gauge is not None
                or case.directions)


class _Checklist:
    """What a case's checks have found so far: kept when a later one raises."""

    def __init__(self) -> None:
        self.comparisons: list[Comparison] = []
        self.evaluations = 0
        self.numerics: dict[str, np.ndarray] = {}
        self.subject: Subject | None = None

    def add(self, outcome: Outcome) -> None:
        self.comparisons.extend(outcome.comparisons)
        self.evaluations += outcome.evaluations


def _whole(subject: Subject, wrt: str) -> tuple[Verifier, int]:
    """The numeric Jacobian of the case's function along input ``wrt``."""
    with phase("function"):
        return subject.derive(subject.wrt[wrt].fn, subject.call,
                              f"d{subject.case.output}/d{wrt}", subject.case.sparsity)


def _frameworks(subject: Subject, wrt: str, whole: Verifier, found: _Checklist,
                pending: list[BackendUnavailable], memo: dict[Any, Any]) -> None:
    """Each framework's first derivatives of ``wrt``; a framework that is not
    installed is remembered, and the others still run."""
    for name in subject.case.autograd:
        try:
            found.add(autograd.run(subject, wrt, whole, name, memo))
        except BackendUnavailable as exc:
            pending[:1] = pending[:1] or [exc]


def _second(subject: Subject, wrts: Sequence[str], out_shape: tuple[int, ...],
            found: _Checklist, pending: list[BackendUnavailable]) -> None:
    """Each framework's double backward, in every input of ``wrts`` and in the
    cotangent, mixed blocks included."""
    for name in subject.case.autograd:
        try:
            found.add(second.run(subject, name, wrts, out_shape))
        except BackendUnavailable as exc:
            pending[:1] = pending[:1] or [exc]


def _checklist(case: Case, options: RunOptions, found: _Checklist) -> None:
    """Every check of the case, in order, into ``found``."""
    # A caller's own function is evaluated at the base point by each check:
    # the value is worked out apart only where something reads it.
    subject = prepare(case, options, values=not case.native or case.expect.value is not None)
    found.subject, found.evaluations = subject, found.evaluations + subject.evaluations
    found.add(value.run(subject))
    pending: list[BackendUnavailable] = []
    wholes: dict[str, tuple[int, ...]] = {}
    memo: dict[Any, Any] = {}   # the frameworks' Jacobians of every input, in one sweep
    for wrt in case.wrt:
        if subject.wrt[wrt].directions:
            found.add(directions.run(subject, wrt))
            found.add(hessian.run(subject, wrt))
            continue
        whole, spent = _whole(subject, wrt)
        found.evaluations += spent
        found.numerics[wrt] = whole.result.jacobian
        wholes[wrt] = whole.result.out_shape
        found.add(analytic.run(subject, wrt, whole))
        found.add(hessian.run(subject, wrt))
        found.add(chain.run(subject, wrt, whole))
        _frameworks(subject, wrt, whole, found, pending, memo)
    if case.derivatives == 2 and wholes:
        _second(subject, list(wholes), next(iter(wholes.values())), found, pending)
    if case.derivatives == 2:
        found.comparisons = second.judged_whole(found.comparisons)
    found.add(stages.run(subject))
    found.add(behaviour.run(subject))
    if pending:
        raise CaseError(str(pending[0]), key="autograd", origin=pending[0])
    if not found.comparisons:
        # Whatever the path, a case that compared nothing has verified nothing.
        raise CaseError("nothing was compared", key="expect")


def _run_case(case: Case, options: RunOptions) -> CaseResult:
    start = time.perf_counter()
    found = _Checklist()
    error: CaseError | None = None
    try:
        _check_python_allowed(case, options)
        _check_something(case)
        with np.errstate(all="ignore"), backends.scoped(case.backend, *case.autograd):
            _checklist(case, options, found)
    except BackendUnavailable as exc:
        error = CaseError(str(exc), key="backend", origin=exc)
    except CaseError as exc:
        error = exc
    except BrokenExecutor:
        error = CaseError("a worker process died while evaluating the function (os._exit, a "
                          "crash, or the system's out-of-memory killer); the pool starts again "
                          "for the next case", key="function")
    except MemoryError:
        error = CaseError("out of memory while checking this case (a Jacobian too large? set "
                          "directions to check it along random directions)", key="function")
    except SystemExit as exc:  # a user's sys.exit() ends the case, never the run
        error = CaseError(f"the function called sys.exit({exc.code!r})", key="function",
                          origin=exc)
    except Exception as exc:  # last resort: a bug of ours must not stop the run
        error = CaseError(f"internal error {type(exc).__name__}: {exc}", key=None, origin=exc)
    checks, spent = _diagnosed(found.subject, found.comparisons, found.numerics)
    found.evaluations += spent
    seconds = time.perf_counter() - start
    if error is not None:
        located = error.located(file=case.file, case=case.name, line=case.line)
        return CaseResult(case.name, case.file, case.line, False, str(located), checks,
                          found.evaluations, seconds, located.key, located)
    return CaseResult(case.name, case.file, case.line, all(c.passed for c in checks), None,
                      checks, found.evaluations, seconds)


def error_result(err: CaseError) -> CaseResult:
    """The result of a case (or file) that could not even be loaded."""
    return CaseResult(err.case, err.file, err.line, False, str(err), error_key=err.key)


def run_paths(paths: Sequence[str], options: RunOptions | None = None,
              select: Callable[[Case], bool] | None = None,
              skipped: list[Any] | None = None) -> Iterator[CaseResult]:
    """Run every case of every file under ``paths``, in order, one result each;
    files in folders that are not case files are appended to ``skipped``."""
    from .casefile import discover, load_file  # YAML: only for case files
    for item in discover(paths, skipped):
        if isinstance(item, CaseError):
            yield error_result(item)
            continue
        for case in load_file(item):
            if isinstance(case, CaseError):
                yield error_result(case)
            elif select is None or select(case):
                yield run_case(case, options)


def case_jacobians(case: Case, options: RunOptions | None = None) -> Mapping[str, JacobianResult]:
    """The numeric Jacobian of a case with respect to each of its ``wrt`` inputs.

    Raises
    ------
    CaseError
        When the case cannot be run.
    """
    options = options or RunOptions()
    _check_python_allowed(case, options)
    try:
        with np.errstate(all="ignore"), backends.scoped(case.backend):
            subject = prepare(case, options)
            return {wrt: _whole(subject, wrt)[0].result for wrt in case.wrt}
    except BackendUnavailable as exc:
        raise case.error(str(exc), key="backend") from None
    except CaseError as exc:
        raise exc.located(file=case.file, case=case.name, line=case.line) from None

