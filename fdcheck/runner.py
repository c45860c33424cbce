"""One function that checks one case; the CLI, the pytest plugin and the API
all call it. It never raises for a case's own trouble: what cannot be run
becomes the result's ``error``, with the checks made before it kept.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import backends
from .cases import Case, PythonRef, Stage, discover, load_file
from .compare import Comparison, Tolerance, compare, resolve
from .diagnose import diagnose
from .dtypes import NAMES as FLOAT_NAMES
from .directional import check_products, reference_jvp
from .engine import JacobianResult
from .errors import BackendUnavailable, CaseError, EvaluationError
from .evaluate import OnExecutor, Serial, Vectorized, batched_disagrees
from .expr import Expression
from .flatfun import FlatFunction, in_place_error
from .functions import CallRef, PythonCall, StagesCall, UserCall, load_python
from . import derive
from .layout import flatten, reference_matrix, tensor_to_matrix, unflatten, unravel
from .outputs import Joined, Outputs, StructuredOutput, split
from .errors import SparsityError
from .stencils import Method
from .verify import Verifier, verify_hessian
from .workers import as_executor

# A Jacobian of more entries than this (128 MB in float64; a check keeps a few
# such matrices) is checked along AUTO_DIRECTIONS random directions instead.
MAX_JACOBIAN_ENTRIES = 2 ** 24
AUTO_DIRECTIONS = 4
# Inputs of fewer elements are evaluated one point a call: 2n calls cost less
# than tracing under vmap and the probe that checks it (two more evaluations).
VMAP_MIN_ELEMENTS = 8
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RunOptions:
    """What the caller (command line, API) sets over every case.

    Attributes
    ----------
    atol, rtol : float, optional
        Override the cases' tolerances.
    auto : float, optional
        ``tolerance: auto`` over the cases': the multiple of the error estimate.
    refine : bool
        Derive the columns of a first mismatch again by Richardson extrapolation.
    method : str or Method, optional
        Override the cases' methods.
    step : float, optional
        Override the relative step.
    allow_python : bool
        Allow ``{python: ...}`` references (importing them runs code).
    mode : {"auto", "serial", "vectorized"}
        How points are evaluated; ``auto`` vectorizes compiled expressions.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Spread evaluations over it (a process pool, a Dask cluster).
    progress : callable(label, done, total), optional
    source : str
        Who set atol, rtol and auto, in messages: the command line, the call.
    timeout : float, optional
        Seconds a case may run; past them it is a case error (on POSIX, in
        the main thread: a function that does not return to Python is
        stopped when it does).
    """

    atol: float | None = None
    rtol: float | None = None
    auto: float | None = None
    refine: bool = True
    method: Any = None
    step: float | None = None
    allow_python: bool = False
    mode: str = "auto"
    executor: Any = None
    workers: int | None = None
    progress: ProgressFn | None = None
    source: str = "the command line"
    timeout: float | None = None


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


@contextlib.contextmanager
def _phase(key: str) -> Iterator[None]:
    """Turn anything a user's function raises into a CaseError naming ``key``."""
    try:
        yield
    except (CaseError, BackendUnavailable):
        raise
    except EvaluationError as exc:
        raise CaseError(str(exc), key=key, origin=exc) from None
    except Exception as exc:  # a user's function may raise anything
        explained = in_place_error(exc)
        if explained is not None:
            raise CaseError(str(explained), key=key, origin=explained) from None
        raise CaseError(f"evaluation raised {type(exc).__name__}: {exc}", key=key,
                        origin=exc) from None


def _float_name(name: str) -> str:
    """The precision an input of dtype ``name`` is evaluated in when the case
    sets none: its own, where it is floating; float64 for integers."""
    return name if name in FLOAT_NAMES else "float64"


class _CaseRun:
    """The state of one case while it runs."""

    def __init__(self, case: Case, options: RunOptions) -> None:
        self.case = case
        self.options = options
        self.names = tuple(case.inputs)
        self.method = Method.parse(options.method or case.method).with_step(options.step)
        if options.method is not None and options.step is None and case.method.step is not None:
            self.method = self.method.with_step(case.method.step)
        self.checks: list[Comparison] = []
        self.evaluations = 0
        self.directions = case.directions
        self._flats: dict[str, FlatFunction] = {}
        self._held: dict[tuple[str, str], list[str]] = {}
        self.backend = backends.get(case.backend)
        if case.native:
            # The caller's own arrays or tensors, as given (dtype, device, requires_grad).
            self.inputs = list(case.inputs.values())
            self.np_inputs = [np.asarray(self.backend.to_numpy(v)) for v in self.inputs]
        else:
            self.np_inputs = [np.asarray(v, dtype=case.dtype) for v in case.inputs.values()]
            self.inputs = [self.native(v) for v in self.np_inputs]
        first = self.names.index(case.wrt[0])
        self.dtype = case.dtype or _float_name(self.backend.dtype_name(self.inputs[first]))
        self.tolerance = resolve(self.dtype, self.method.label, *self.layers())
        self.call = self.stages_call(case.stages, self.names)
        # Per input: what every check of it says (vmap could not batch it, it is noisy).
        self.input_notes: dict[str, tuple[str, ...]] = {}
        # A caller's function that returns a tuple, list or dict: its floating
        # outputs joined into one vector, each checked as its own output.
        self.outputs: Outputs | None = None
        self.env: dict[str, np.ndarray] = {}
        # The numeric Jacobians of the output by input, for the diagnoses.
        self.numerics: dict[str, np.ndarray] = {}

    def join_outputs(self, outputs: Outputs) -> StagesCall:
        """Evaluate the caller's function, which returned ``outputs``, as one
        vector from now on; the call to evaluate instead of ``self.call``."""
        bodies = [b for _, b in self.call.stages]
        if self.outputs is not None or len(bodies) != 1 or not isinstance(bodies[0], UserCall):
            raise CaseError("the function returned a different structure at a perturbed point "
                            "than at the inputs", key="function")
        body = bodies[0]
        if self.case.derivatives == 2 or self.case.expect.hessian or self.case.expect.jvp:
            raise CaseError(f"{self.case.output} returns {len(outputs.parts)} outputs; jvp, "
                            "second derivatives and Hessians need one output: check a function "
                            "that returns one of them", key="function")
        args = (outputs, self.case.backend, self.case.order)
        joined = UserCall(Joined(body.fn, *args), body.names, body.vectorized,
                          batch_fn=Joined(body.fn, *args, lead=1))
        self.call = self.stages_call([replace(self.case.stages[0], body=joined)], self.names)
        self.outputs = outputs
        if outputs.note:
            for wrt in self.case.wrt:
                self.input_notes[wrt] = (outputs.note,)
        return self.call

    def parts(self, out_shape: tuple[int, ...]) -> list[tuple[slice, tuple[int, ...], str]]:
        """(rows, shape, name) of each output checked: the one output, or each
        floating output of a structured one."""
        if self.outputs is None:
            return [(slice(None), out_shape, self.case.output)]
        return [(p.rows, p.shape, f"{self.case.output}{p.label}") for p in self.outputs.parts]

    def layers(self, auto: bool = True) -> list[dict[str, Any]]:
        """The tolerance layers over the built-in default, highest first."""
        options, source = self.options, self.options.source
        layers: list[dict[str, Any]] = [{"atol": options.atol, "rtol": options.rtol,
                                         "source": source}]
        case = dict(self.case.tolerance or {}, source="the case")
        if auto:
            layers.append({"auto": options.auto, "source": source})
        else:
            case.pop("auto", None)
        return layers + [case]

    @property
    def folder(self) -> str | None:
        return str(Path(self.case.file).resolve().parent) if self.case.file else None

    def body(self, stage: Stage) -> Any:
        """What a stage calls: its expression, the caller's callable, or the
        ``{python: ...}`` function (imported on first call)."""
        if isinstance(stage.body, PythonRef):
            return PythonCall(stage.body.target, stage.reads, key=self.stage_key(stage.name),
                              near=self.folder)
        return stage.body

    def stage_key(self, name: str) -> str:
        return f"function.{name}" if self.case.is_chain else "function"

    def stages_call(self, stages: Sequence[Stage], names: Sequence[str], backend: str | None = None,
                    upto: str | None = None) -> StagesCall:
        return StagesCall([(s.name, self.body(s)) for s in stages], names,
                          backend or self.case.backend, self.dtype, upto)

    def native(self, a: np.ndarray, backend: Any = None) -> Any:
        # np.require keeps a 0-d array 0-d (np.ascontiguousarray makes it 1-d).
        return (backend or self.backend).asarray(np.require(a, requirements="C"))

    def evaluator(self, fn: FlatFunction) -> Any:
        """Many points a call where ``fn`` can take them, on the executor if any."""
        inner = Vectorized() if fn.vectorized else Serial()
        if self.options.executor is not None:
            pool, count = as_executor(self.options.executor)
            return OnExecutor(pool, inner, self.options.workers or count)
        return inner

    def batched(self, call: StagesCall, wrt: int) -> tuple[Any, bool]:
        """The callable that evaluates many points of input ``wrt`` at once, or
        None: compiled expressions always have one, a caller's function when
        it says so (``vectorized``), a ``{python: ...}`` function never. A
        caller's PyTorch or JAX function is tried under the framework's vmap
        (the second value: True) unless the mode is set, or the input is so
        small that its few points cost less one a call than vmap's set-up and
        its probe."""
        if self.options.mode == "serial":
            return None, False
        bodies = [b for _, b in call.stages]
        if all(isinstance(b, Expression) for b in bodies):
            return call.batched(wrt), False
        if len(bodies) == 1 and isinstance(bodies[0], UserCall):
            body, name = bodies[0], self.case.backend
            given = body.batched(wrt, name)
            if given is None and self.options.mode == "auto" and name in backends.AUTOGRAD_NAMES \
                    and np.size(self.np_inputs[wrt]) >= VMAP_MIN_ELEMENTS:
                return backends.get(name).vmap(body.fn, wrt, len(body.names)), True
            return given, body.vectorized == "vmap"
        return None, False

    def flat(self, call: StagesCall, inputs: Sequence[Any], wrt: int) -> FlatFunction:
        def make(call: StagesCall) -> tuple[FlatFunction, bool]:
            batched, tried = self.batched(call, wrt)
            return FlatFunction(call, inputs, wrt, order=self.case.order, dtype=self.case.dtype,
                                backend=self.backend, batched_call=batched), tried
        try:
            fn, tried = make(call)
        except StructuredOutput as found:
            if call is not self.call or not self.case.native:
                raise CaseError(str(found), key="function") from None
            fn, tried = make(self.join_outputs(found.outputs))
        if tried:
            why = batched_disagrees(fn)
            if why is not None:
                fn.batched_call = None
                self.input_notes[self.names[wrt]] = (f"evaluated one point a call: {why}",)
        return fn

    def jacobian(self, fn: FlatFunction, call: StagesCall, label: str,
                 sparsity: Any = None) -> Verifier:
        """The numeric Jacobian of ``fn``, ready to be checked."""
        progress = None
        if self.options.progress is not None:
            report = self.options.progress
            progress = lambda done, total: report(f"{self.case.name}: {label}", done, total)  # noqa: E731
        evaluator = self.evaluator(fn)
        if self.method.scheme == "complex-step":
            self.refuse_complex_unsafe(call)
        with self.backend.no_grad():
            try:
                result = derive.jacobian(fn, self.method, evaluator, progress, sparsity)
            except SparsityError as exc:
                raise CaseError(str(exc), key="sparsity") from None
        self.evaluations += result.evaluations
        return Verifier(fn, result, evaluator, refine=self.options.refine)

    def refuse_complex_unsafe(self, call: StagesCall) -> None:
        unsafe = sorted(set().union(*(b.complex_unsafe for _, b in getattr(call, "stages", ())
                                      if isinstance(b, Expression))))
        if unsafe:
            raise CaseError(f"the complex step is not valid through {', '.join(unsafe)} (not "
                            "analytic, or not written with complex-safe operations); it would "
                            "give a wrong Jacobian without any error. Use method: richardson",
                            key="method")

    # -- references ------------------------------------------------------------

    def reference(self, ref: Any, key: str) -> np.ndarray:
        """The value of an expected literal, expression or Python reference."""
        if isinstance(ref, np.ndarray):
            return ref
        if isinstance(ref, (tuple, list, dict)):
            return np.asarray(self.backend.to_numpy(ref), dtype=np.float64)
        with _phase(key):
            if isinstance(ref, Expression):
                ops = backends.get("numpy").ops
                env = {**dict(zip(self.names, self.np_inputs)), **self.env}
                return np.asarray(ref(env, ops, dtype=np.dtype(self.dtype)), dtype=np.float64)
            if isinstance(ref, CallRef):
                value = ref.value(self.inputs)
                owner = backends.get(backends.name_of(value))
                return np.asarray(owner.to_numpy(value), dtype=np.float64)
            fn = load_python(ref.target, key, self.folder)
            kwargs = dict(zip(self.names, self.inputs))
            return np.asarray(self.backend.to_numpy(fn(**kwargs)), dtype=np.float64)

    def part_matrices(self, ref: Any, kind: str, key: str, out_shape: tuple[int, ...],
                      in_shape: tuple[int, ...], wrt: str) -> list[np.ndarray]:
        """A reference as one matrix per output checked (see :meth:`parts`)."""
        if self.outputs is None:
            return [self.as_matrix(self.reference(ref, key), kind, key, out_shape, in_shape,
                                   self.case.output, wrt)]
        with _phase(key):
            value = ref.value(self.inputs) if isinstance(ref, CallRef) else ref
            try:
                pieces = split(value, self.outputs, self.backend)
            except ValueError as exc:
                raise CaseError(str(exc), key=key) from None
        return [self.as_matrix(piece, kind, key, shape, in_shape, name, wrt)
                for piece, (_, shape, name) in zip(pieces, self.parts(out_shape))]

    def as_matrix(self, ref: np.ndarray, kind: str, key: str, out_shape: tuple[int, ...],
                  in_shape: tuple[int, ...], out_name: str, in_name: str) -> np.ndarray:
        try:
            return reference_matrix(ref, kind, out_shape, in_shape, self.case.order, out_name, in_name)
        except ValueError as exc:
            raise CaseError(str(exc), key=key) from None

    @property
    def plain_tolerance(self) -> Tolerance:
        """For what has no error estimate: values, and the chain rule's product of
        numeric Jacobians. Under tolerance: auto, the method's default."""
        if not self.tolerance.auto:
            return self.tolerance
        return resolve(self.dtype, self.method.label)

    def check(self, against: str, numeric: np.ndarray, reference: np.ndarray, *, wrt: str | None,
              out_shape: tuple[int, ...], in_shape: tuple[int, ...] | None, out_name: str,
              stage: str | None = None, verifier: Verifier | None = None, derivative: int = 1,
              mode: str = "reverse", notes: Sequence[str] = (),
              rows: slice = slice(None)) -> Comparison:
        where = dict(against=against, wrt=wrt, out_shape=out_shape, in_shape=in_shape,
                     order=self.case.order, out_name=out_name, stage=stage,
                     derivative=derivative, mode=mode)
        if verifier is None:
            comp = compare(numeric, reference, self.plain_tolerance, **where)
        else:
            spent = verifier.evaluations
            tolerance = self.plain_tolerance if against == "chain" else self.tolerance
            with _phase("function"):
                comp = verifier.check(reference, tolerance, rows=rows, **where)
            self.evaluations += verifier.evaluations - spent
        notes = (*notes, *self.input_notes.get(wrt or "", ()))
        if notes:
            comp = replace(comp, notes=(*comp.notes, *notes))
        self.checks.append(comp)
        return comp

    def unrunnable(self, against: str, entries: int, why: str, *, wrt: str, out_name: str,
                   derivative: int = 1, mode: str = "reverse", **_: Any) -> None:
        """A check whose reference the framework could not compute: a failure
        that says why, with no entry compared."""
        self.checks.append(Comparison(against, wrt, False, float("inf"), float("inf"), None,
                                      self.plain_tolerance, entries, entries, out_name,
                                      notes=(why,), derivative=derivative, mode=mode))

    # -- the steps of a case ---------------------------------------------------

    def value(self) -> np.ndarray:
        case = self.case
        with self.backend.no_grad(), _phase("function"):
            env = dict(zip(self.names, self.inputs))
            for stage in case.stages:
                with _phase(self.stage_key(stage.name)):
                    call = self.stages_call([stage], stage.reads)
                    out = call(*(env[r] for r in stage.reads))
                    env[stage.name] = out
                    arr = np.asarray(self.backend.to_numpy(out))
                    if arr.dtype.kind not in "fiub":
                        raise CaseError(f"the stage returned {arr.dtype} values, not real numbers",
                                        key=self.stage_key(stage.name))
                    if not np.all(np.isfinite(arr)):
                        bad = unravel(int(np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0]),
                                      arr.shape)
                        raise CaseError(f"{stage.name} is not finite at the given inputs "
                                        f"({stage.name}{list(bad)} = {arr[bad]})",
                                        key=self.stage_key(stage.name))
                    self.env[stage.name] = arr.astype(np.float64)
        return self.env[case.output]

    def check_value(self, key: str, ref: Any, computed: np.ndarray, name: str,
                    stage: str | None = None) -> None:
        expected = self.reference(ref, key)
        if expected.shape != computed.shape:
            if expected.size == computed.size == 1:
                expected = expected.reshape(computed.shape)
            else:
                raise CaseError(f"shape {expected.shape} does not match the value's shape "
                                f"{computed.shape}", key=key)
        self.check("value", computed.reshape(-1), expected.reshape(-1), wrt=None,
                   out_shape=computed.shape, in_shape=None, out_name=name, stage=stage)

    def flat_of(self, wrt: str) -> FlatFunction:
        """The case's function of input ``wrt``, made once."""
        if wrt not in self._flats:
            with _phase("function"):
                self._flats[wrt] = self.flat(self.call, self.inputs, self.names.index(wrt))
        return self._flats[wrt]

    def too_large(self, wrt: str) -> bool:
        """Whether the whole Jacobian would not fit: then it is checked along
        random directions, with a note saying so."""
        fn = self.flat_of(wrt)
        if self.case.directions or fn.m * fn.n <= MAX_JACOBIAN_ENTRIES:
            return False
        self.directions = AUTO_DIRECTIONS
        size = fn.m * fn.n * 8 / 2 ** 30
        self.input_notes[wrt] = (*self.input_notes.get(wrt, ()),
                                 f"the whole Jacobian would have {fn.m} x {fn.n} entries "
                                 f"({size:.1f} GB): checked along {AUTO_DIRECTIONS} random "
                                 "directions instead (set directions to choose how many)")
        return True

    def check_wrt(self, wrt: str) -> Verifier:
        case = self.case
        fn = self.flat_of(wrt)
        with _phase("function"):
            self.listen_for_noise(fn, wrt)
            verifier = self.jacobian(fn, self.call, f"d{case.output}/d{wrt}", case.sparsity)
        result = verifier.result
        self.numerics[wrt] = result.jacobian
        out_shape, in_shape = result.out_shape, result.in_shape
        for kind, refs in (("gradient", case.expect.gradient), ("jacobian", case.expect.jacobian)):
            if wrt in refs:
                key = f"expect.{kind}" + (f".{wrt}" if len(case.wrt) > 1 else "")
                mats = self.part_matrices(refs[wrt], kind, key, out_shape, in_shape, wrt)
                for mat, (rows, shape, name) in zip(mats, self.parts(out_shape)):
                    self.check("analytic", result.jacobian[rows], mat, wrt=wrt, out_shape=shape,
                               in_shape=in_shape, out_name=name, verifier=verifier, rows=rows)
        if wrt in case.expect.hessian:
            key = "expect.hessian" + (f".{wrt}" if len(case.wrt) > 1 else "")
            self.check_hessian(fn, case.expect.hessian[wrt], key, case.output, wrt)
        return verifier

    def listen_for_noise(self, fn: FlatFunction, wrt: str) -> None:
        """Evaluate once more at the base point: a function whose two values
        there differ is noisy, and every check of this input says by how much."""
        with self.backend.no_grad():
            again = np.asarray(fn(fn.x0.copy()), dtype=np.float64)
        self.evaluations += 1
        value = fn.value.real
        with np.errstate(all="ignore"):
            gap = np.abs(again - value)
        worst = float(gap[np.isfinite(gap)].max(initial=0.0))
        if worst > 0 or not np.array_equal(np.isnan(again), np.isnan(value)):
            scale = float(np.abs(value[np.isfinite(value)]).max(initial=0.0))
            relative = worst / scale if scale else worst
            self.input_notes[wrt] = (*self.input_notes.get(wrt, ()),
                                     f"the function is noisy: two evaluations at the same point "
                                     f"differ by up to {worst:.1e} ({relative:.1e} relative), "
                                     "which no finite difference can resolve")

    def check_hessian(self, fn: FlatFunction, ref: Any, key: str, out_name: str, wrt: str,
                      stage: str | None = None) -> None:
        """The analytic Hessian against second differences of the function."""
        if fn.m != 1:
            raise CaseError(f"a Hessian needs a scalar-valued function; {out_name} has shape "
                            f"{fn.out_shape}", key=key)
        mat = self.as_matrix(self.reference(ref, key), "hessian", key, fn.in_shape, fn.in_shape,
                             out_name, wrt)
        tolerance = resolve(self.dtype, "hessian", *self.layers())
        method = derive.hessian_method(self.method, bool(tolerance.auto))
        evaluator = self.evaluator(fn)
        with self.backend.no_grad(), _phase(self.stage_key(stage) if stage else "function"):
            result = derive.hessian(fn, method, evaluator)
            comp, spent = verify_hessian(fn, result, mat, tolerance, evaluator, self.options.refine,
                                         against="analytic", wrt=wrt, out_shape=fn.in_shape,
                                         in_shape=fn.in_shape, order=self.case.order,
                                         out_name=out_name, stage=stage, derivative=2)
        self.evaluations += result.evaluations + spent
        self.checks.append(comp)

    def check_directions(self, wrt: str) -> None:
        """The directional check: J v against R v along random directions; a
        framework's reference is taken by its products (one VJP, or one JVP
        per direction), never as a whole Jacobian."""
        case = self.case
        i = self.names.index(wrt)
        fn = self.flat_of(wrt)
        products: list[tuple[str, str, Any, int, str]] = []
        for kind, refs in (("gradient", case.expect.gradient), ("jacobian", case.expect.jacobian)):
            if wrt in refs:
                key = f"expect.{kind}" + (f".{wrt}" if len(case.wrt) > 1 else "")
                mat = np.vstack(self.part_matrices(refs[wrt], kind, key, fn.out_shape,
                                                   fn.in_shape, wrt))
                products.append(("analytic", "jvp", reference_jvp(mat), 1, "reverse"))
        if wrt in case.expect.jvp:
            products.append(("analytic", "jvp", case.expect.jvp[wrt], 1, "reverse"))
        for name in case.autograd:
            backend = backends.get(name)
            call = self.framework_call(name)
            products += [(name, *self.framework_product(backend, call, i, fn, mode), 1, mode)
                         for mode in case.modes]
        if self.outputs is not None:
            self.input_notes[wrt] = (*self.input_notes.get(wrt, ()), "the outputs " + ", ".join(
                f"{case.output}{p.label}" for p in self.outputs.parts) + " checked together, as "
                "one vector, along each direction")
        self.run_products(fn, products, wrt, case.output)
        if case.derivatives == 2:
            for name in case.autograd:
                self.check_second_directions(wrt, name, fn.out_shape)

    def framework_product(self, backend: Any, call: Any, i: int, fn: FlatFunction,
                          mode: str) -> tuple[str, Any]:
        """A framework's Jacobian of ``call`` by its products on flat vectors:
        ("vjp", u -> J^T u) in reverse mode, ("jvp", v -> J v) in forward mode."""
        inputs, order = self.inputs_for(backend), self.case.order
        if mode == "forward":
            return "jvp", lambda v: flatten(backend.jvp(call, inputs, i,
                                                        unflatten(v, fn.in_shape, order)), order)
        return "vjp", lambda u: flatten(backend.vjp(call, inputs, i,
                                                    unflatten(u, fn.out_shape, order)), order)

    def run_products(self, fn: FlatFunction, products: list[tuple[str, str, Any, int, str]],
                     wrt: str, out_name: str) -> None:
        tolerance = resolve(self.dtype, "richardson", *self.layers(auto=False))
        for against, kind, product, derivative, mode in products:
            framework = against in backends.AUTOGRAD_NAMES
            try:
                with _phase("autograd" if framework else "function"):
                    checks, used = check_products(
                        fn, [(against, kind, product)], tolerance, self.directions,
                        self.evaluator(fn), wrt=wrt, out_shape=fn.out_shape,
                        in_shape=fn.in_shape, order=self.case.order, out_name=out_name,
                        derivative=derivative, mode=mode)
            except CaseError as exc:
                if not framework or isinstance(exc.origin, (EvaluationError, type(None))):
                    raise
                what = ("differentiate its own backward (double backward: a .detach() or a "
                        "Function whose backward is not differentiable?)" if derivative == 2
                        else f"compute its {'vector-Jacobian' if kind == 'vjp' else 'Jacobian-vector'}"
                             " product")
                self.unrunnable(against, self.directions, f"{against} could not {what}: "
                                f"{exc.message}", wrt=wrt, out_name=out_name,
                                derivative=derivative, mode=mode)
                continue
            self.evaluations += used
            notes = self.input_notes.get(wrt, ())
            self.checks.extend(replace(c, notes=(*c.notes, *notes)) if notes else c for c in checks)

    def framework_call(self, name: str) -> Any:
        """The function as framework ``name`` differentiates it: a caller's own
        callable itself (so that what a framework compiles for it is found again
        the next time it is checked), else the case's stages on that framework."""
        bodies = [b for _, b in self.call.stages]
        if len(bodies) == 1 and isinstance(bodies[0], UserCall) and name == self.case.backend:
            return bodies[0].fn
        return self.stages_call(self.case.stages, self.names, backend=name)

    def inputs_for(self, backend: Any) -> list[Any]:
        """The inputs in ``backend``'s arrays: the case's own where it is the
        case's backend (a caller's tensors keep their dtype and device)."""
        if backend.name == self.backend.name:
            return [backend.same_layout(x) for x in self.inputs]
        return [self.native(a, backend) for a in self.np_inputs]

    def check_autograd(self, wrt: str, verifier: Verifier, name: str, mode: str = "reverse") -> None:
        """The framework's Jacobian, by reverse mode (its backward rules) or
        forward mode (its jvp rules), against the numeric one."""
        backend = backends.get(name)
        call = self.framework_call(name)
        result = verifier.result
        where = dict(wrt=wrt, out_shape=result.out_shape, in_shape=result.in_shape,
                     out_name=self.case.output, mode=mode)
        try:
            with _phase("autograd"):
                compute = backend.forward_jacobian if mode == "forward" else backend.autograd_jacobian
                tensor = compute(call, self.inputs_for(backend), self.names.index(wrt))
        except CaseError as exc:
            if not isinstance(exc.origin, Exception) or isinstance(exc.origin, EvaluationError):
                raise
            # The function ran at the inputs; only the framework's derivative did not.
            self.unrunnable(name, result.jacobian.size, f"{name} could not take the {mode}-mode "
                            f"derivative: {exc.message}", **where)
            return
        ref = tensor_to_matrix(tensor, result.out_shape, result.in_shape, self.case.order)
        held = self.held_outputs(backend, wrt)
        if held and len(held) == len(self.outputs.parts):
            # Nothing left to compare: that is no PASS.
            self.unrunnable(name, result.jacobian.size, f"{name} marks every output "
                            f"({', '.join(held)}) not differentiable: its derivative of each is "
                            "0 by design, so there is nothing to compare", **where)
            return
        for rows, shape, out_name in self.parts(result.out_shape):
            if out_name in held:
                continue
            notes = (f"{', '.join(held)} not compared with {name}: {name} marks "
                     f"{'them' if len(held) > 1 else 'it'} not differentiable",) if held else ()
            self.check(name, result.jacobian[rows], ref[rows], verifier=verifier, rows=rows,
                       notes=notes, **{**where, "out_shape": shape, "out_name": out_name})

    def held_outputs(self, backend: Any, wrt: str) -> list[str]:
        """The outputs of several that the framework marks not differentiable
        (PyTorch: requires_grad False, as native_layer_norm's mean and rstd):
        its Jacobian of them is 0 by design, so, as gradcheck does, they are
        not compared with it."""
        if self.outputs is None or not hasattr(backend, "differentiable_outputs"):
            return []
        if (backend.name, wrt) not in self._held:  # once, whatever the modes checked
            joined = self.framework_call(backend.name)
            with _phase("autograd"):
                flags = backend.differentiable_outputs(joined.fn, self.inputs_for(backend),
                                                       self.names.index(wrt))
            self._held[backend.name, wrt] = [f"{self.case.output}{p.label}"
                                             for p in self.outputs.parts
                                             if flags is not None and not flags.get(p.key, True)]
        return self._held[backend.name, wrt]

    def cotangent(self, shape: tuple[int, ...]) -> np.ndarray:
        """The seeded random v of a second-derivative check, shaped like the
        output (1 for a scalar one: the check is then of the Hessian)."""
        size = int(np.prod(shape))
        if size == 1:
            return np.ones(shape)
        return np.random.default_rng(0).standard_normal(shape)

    def second_call(self, backend: Any, wrt: str, out_shape: tuple[int, ...],
                    create_graph: bool) -> Any:
        call = self.framework_call(backend.name)
        return backend.vjp_function(call, self.names.index(wrt), self.cotangent(out_shape),
                                    create_graph)

    def second_flat(self, backend: Any, g: Any, inputs: Sequence[Any], i: int,
                    out_shape: tuple[int, ...]) -> FlatFunction:
        """x -> J(x)^T v as the engine sees it, many points a call where the
        framework batches its backward pass (JAX)."""
        batched = None
        if self.options.mode != "serial":
            batched = backend.vjp_batched(self.framework_call(backend.name), i, len(inputs),
                                          self.cotangent(out_shape))
        return FlatFunction(g, inputs, i, order=self.case.order, dtype=self.case.dtype,
                            backend=backend, batched_call=batched)

    def second_name(self, out_shape: tuple[int, ...]) -> str:
        return self.case.output if int(np.prod(out_shape)) == 1 else f"(v.{self.case.output})"

    def second_function(self, wrt: str, name: str, out_shape: tuple[int, ...]) -> tuple[Any, ...]:
        """What a second-derivative check of input ``wrt`` by framework ``name``
        differentiates: (backend, the input's position, the inputs in the
        framework's arrays, g = x -> J(x)^T v, g as the engine sees it, and g
        with a graph of its own for the framework to differentiate)."""
        backend = backends.get(name)
        i = self.names.index(wrt)
        inputs = self.inputs_for(backend)
        g = self.second_call(backend, wrt, out_shape, create_graph=False)
        with _phase("autograd"):
            fn = self.second_flat(backend, g, inputs, i, out_shape)
        g_graph = self.second_call(backend, wrt, out_shape, create_graph=True)
        return backend, i, inputs, g, fn, g_graph

    def check_second(self, wrt: str, name: str, out_shape: tuple[int, ...]) -> None:
        """What gradgradcheck checks: for a seeded cotangent v, the numeric
        Jacobian of x -> J(x)^T v (the framework's backward, at perturbed points)
        against the framework's own derivative of it (double backward)."""
        backend, i, inputs, g, fn, g_graph = self.second_function(wrt, name, out_shape)
        with _phase("autograd"):
            verifier = self.jacobian(fn, g, f"d2{self.case.output}/d{wrt}2")
        result = verifier.result
        where = dict(wrt=wrt, out_shape=result.out_shape, in_shape=result.in_shape,
                     out_name=self.second_name(out_shape), derivative=2)
        try:
            with _phase("autograd"):
                tensor = backend.second_jacobian(self.framework_call(name), inputs, i,
                                                 self.cotangent(out_shape))
                differentiable = backend.differentiable(g_graph, inputs, i)
        except CaseError as exc:
            self.unrunnable(name, result.jacobian.size, f"{name} could not differentiate its "
                            f"own backward (double backward): {exc.message}", **where)
            return
        ref = tensor_to_matrix(tensor, result.in_shape, result.in_shape, self.case.order)
        notes = () if differentiable else (
            f"{name}'s backward of {self.case.output} is not differentiable: its result does not "
            f"depend on {wrt} through autograd (a .detach(), .numpy() or a Function whose "
            f"backward is not itself differentiable?), so {name} says its second derivative is 0",)
        self.check(name, result.jacobian, ref, verifier=verifier, notes=notes, **where)

    def check_second_directions(self, wrt: str, name: str, out_shape: tuple[int, ...]) -> None:
        """The second derivative by products: the numeric derivative of
        J(x)^T v along random directions against one more VJP of it."""
        backend, i, _, _, fn, g_graph = self.second_function(wrt, name, out_shape)
        self.run_products(fn, [(name, *self.framework_product(backend, g_graph, i, fn, "reverse"),
                                2, "reverse")], wrt, self.second_name(out_shape))

    def stage_jacobian(self, stage: Stage, read: str) -> Verifier:
        """d stage / d read, numerically, with every other thing it reads fixed."""
        call = self.stages_call([stage], stage.reads)
        values = [self.native(self.env[r] if r in self.env else
                              self.np_inputs[self.names.index(r)]) for r in stage.reads]
        with _phase(self.stage_key(stage.name)):
            return self.jacobian(self.flat(call, values, stage.reads.index(read)), call,
                                 f"d{stage.name}/d{read}")

    def check_chain(self, wrt: str, verifier: Verifier) -> None:
        """Multiply the stages' own Jacobians in order; compare with the whole."""
        total: dict[str, np.ndarray | None] = {wrt: None}  # None: the identity
        for stage in self.case.stages:
            acc = None
            for r in stage.reads:
                if r not in total:
                    continue
                part = self.stage_jacobian(stage, r).result.jacobian
                upstream = total[r]
                term = part if upstream is None else part @ upstream
                acc = term if acc is None else acc + term
            if acc is not None:
                total[stage.name] = acc
        whole = verifier.result
        product = total.get(self.case.output)
        if product is None:
            product = np.zeros_like(whole.jacobian)
        self.check("chain", whole.jacobian, product, wrt=wrt, out_shape=whole.out_shape,
                   in_shape=whole.in_shape, out_name=self.case.output, verifier=verifier)

    def check_stages(self) -> None:
        stages = {s.name: s for s in self.case.stages}
        for name, expected in self.case.stage_expect.items():
            stage = stages[name]
            where = f"expect.stages.{name}"
            if expected.value is not None:
                self.check_value(f"{where}.value", expected.value, self.env[name], name, stage=name)
            for kind, refs in (("gradient", expected.gradient), ("jacobian", expected.jacobian)):
                for var, ref in refs.items():
                    key = f"{where}.{kind}.{var}" if len(refs) > 1 or var not in self.case.wrt \
                        else f"{where}.{kind}"
                    if var in self.case.inputs:
                        call = self.stages_call(self.case.stages, self.names, upto=name)
                        with _phase(self.stage_key(name)):
                            ver = self.jacobian(self.flat(call, self.inputs, self.names.index(var)),
                                                call, f"d{name}/d{var}")
                    elif var in stage.reads:
                        ver = self.stage_jacobian(stage, var)
                    else:
                        raise CaseError(f"{name} does not read {var!r}; it reads "
                                        f"{', '.join(stage.reads)}", key=key)
                    res = ver.result
                    mat = self.as_matrix(self.reference(ref, key), kind, key, res.out_shape,
                                         res.in_shape, name, var)
                    self.check("analytic", res.jacobian, mat, wrt=var, out_shape=res.out_shape,
                               in_shape=res.in_shape, out_name=name, stage=name, verifier=ver)


    def diagnosed(self) -> tuple[Comparison, ...]:
        """The checks, each failing one with its diagnosis."""
        out = []
        for comp in self.checks:
            # An unverifiable check's differences are rounding or noise: nothing to explain.
            if comp.verdict == "mismatch" and comp.matrices is not None:
                # Another input's Jacobian is of the whole output: it explains a
                # check of the whole output only.
                first = comp.stage is None and comp.derivative == 1 and \
                    comp.wrt in self.numerics and self.outputs is None
                others = {k: v for k, v in self.numerics.items() if k != comp.wrt} if first else {}
                value = (self.np_inputs[self.names.index(comp.wrt)]
                         if comp.wrt in self.names else None)
                comp = replace(comp, diagnosis=diagnose(comp, others, value))
            out.append(comp)
        return tuple(out)


def _check_python_allowed(case: Case, options: RunOptions) -> None:
    if case.uses_python and not options.allow_python:
        raise case.error("this case imports Python code ({python: ...}); importing runs code, so "
                         "it is refused unless allowed: fdcheck run --allow-python, or "
                         "allow_python=True in the library", key="function")


def _check_something(case: Case) -> None:
    if not (case.expect.anything or case.autograd or case.stage_expect or case.is_chain):
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


def run_case(case: Case, options: RunOptions | None = None) -> CaseResult:
    """Check one case: value, analytic derivatives, chain, stages, autograd.

    Never raises for the case's own problems: they are in ``error``.
    """
    options = options or RunOptions()
    try:
        with _time_limit(options.timeout):
            return _run_case(case, options)
    except _Timeout:
        error = case.error(f"the case ran longer than the time allowed ({options.timeout:g} s)",
                           key="timeout")
        return CaseResult(case.name, case.file, case.line, False, str(error), (), 0,
                          float(options.timeout or 0), "timeout", error)


def _run_case(case: Case, options: RunOptions) -> CaseResult:
    start = time.perf_counter()
    state: _CaseRun | None = None
    error: CaseError | None = None
    try:
        _check_python_allowed(case, options)
        _check_something(case)
        with np.errstate(all="ignore"), backends.scoped(case.backend, *case.autograd):
            state = _CaseRun(case, options)
            # A caller's own function is evaluated at the base point by each check:
            # the value is worked out apart only where something reads it.
            if not case.native or case.expect.value is not None:
                value = state.value()
            if case.expect.value is not None:
                state.check_value("expect.value", case.expect.value, value, case.output)
            pending: list[BackendUnavailable] = []
            for wrt in case.wrt:
                if case.directions or state.too_large(wrt):
                    state.check_directions(wrt)
                    continue
                whole = state.check_wrt(wrt)
                if case.is_chain:
                    state.check_chain(wrt, whole)
                for name in case.autograd:
                    try:
                        for mode in case.modes:
                            state.check_autograd(wrt, whole, name, mode)
                        if case.derivatives == 2:
                            state.check_second(wrt, name, whole.result.out_shape)
                    except BackendUnavailable as exc:
                        if not pending:
                            pending.append(exc)
            state.check_stages()
            if pending:
                raise CaseError(str(pending[0]), key="autograd", origin=pending[0])
            if not state.checks:
                # Whatever the path, a case that compared nothing has verified nothing.
                raise CaseError("nothing was compared", key="expect")
    except BackendUnavailable as exc:
        error = CaseError(str(exc), key="backend", origin=exc)
    except CaseError as exc:
        error = exc
    except SystemExit as exc:  # a user's sys.exit() ends the case, never the run
        error = CaseError(f"the function called sys.exit({exc.code!r})", key="function",
                          origin=exc)
    except Exception as exc:  # last resort: a bug of ours must not stop the run
        error = CaseError(f"internal error {type(exc).__name__}: {exc}", key=None, origin=exc)
    checks = state.diagnosed() if state else ()
    evaluations = state.evaluations if state else 0
    seconds = time.perf_counter() - start
    if error is not None:
        located = error.located(file=case.file, case=case.name, line=case.line)
        return CaseResult(case.name, case.file, case.line, False, str(located), checks,
                          evaluations, seconds, located.key, located)
    return CaseResult(case.name, case.file, case.line, all(c.passed for c in checks), None,
                      checks, evaluations, seconds)


def error_result(err: CaseError) -> CaseResult:
    """The result of a case (or file) that could not even be loaded."""
    return CaseResult(err.case, err.file, err.line, False, str(err), error_key=err.key)


def run_paths(paths: Sequence[str], options: RunOptions | None = None,
              select: Callable[[Case], bool] | None = None,
              skipped: list[Any] | None = None) -> Iterator[CaseResult]:
    """Run every case of every file under ``paths``, in order, one result each;
    files in folders that are not case files are appended to ``skipped``."""
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
            state = _CaseRun(case, options)
            state.value()
            out = {}
            for wrt in case.wrt:
                with _phase("function"):
                    fn = state.flat(state.call, state.inputs, state.names.index(wrt))
                    out[wrt] = state.jacobian(fn, state.call, f"d{case.output}/d{wrt}").result
            return out
    except BackendUnavailable as exc:
        raise case.error(str(exc), key="backend") from None
    except CaseError as exc:
        raise exc.located(file=case.file, case=case.name, line=case.line) from None
