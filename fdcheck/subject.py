"""A case made ready, once: what every check of it reads and nothing changes.

:func:`prepare` resolves what a :class:`~fdcheck.case.Case` needs before any
check runs: the inputs as arrays of the case's backend, the precision, the
method and each kind of check's tolerance, the value of every stage, and for
each input differentiated its flat function (vmap decided, the outputs of a
function returning several joined into one vector), whether its Jacobian is
checked whole or along directions, and the notes every check of it carries.
The result, a :class:`Subject`, is frozen: the checks (:mod:`fdcheck.checks`)
take it and return comparisons; they never change it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .notes import Note, note
from . import backends, complexify, derive, gauge, structure
from .case import Case, PythonRef, Stage
from .tolerances import Tolerance, resolve
from .dtypes import NAMES as FLOAT_NAMES
from .errors import CaseError, SparsityError
from .evaluate import OnExecutor, Serial, Vectorized, batched_disagrees
from .expr import Expression
from .basepoint import finite_input, noise, stage_values
from .blame import phase
from .flatfun import FlatFunction
from .functions import CallRef, PythonCall, StagesCall, UserCall
from .engine import JacobianResult
from .layout import reference_matrix
from .options import RunOptions
from .outputs import Joined, Outputs, StructuredOutput, split
from .stencils import Method
from .structure import Structure
from .verify import Verifier
from .workers import as_executor

# A Jacobian of more entries than this (128 MB in float64; a check keeps a few
# such matrices) is checked along AUTO_DIRECTIONS random directions instead.
MAX_JACOBIAN_ENTRIES = 2 ** 24
AUTO_DIRECTIONS = 4
# Inputs of fewer elements are evaluated one point a call: 2n calls cost less
# than tracing under vmap and the probe that checks it (two more evaluations).
# JAX compiles each batch shape vmap meets (the probe's, the Jacobian's, a
# refinement's) at about 50 ms each, where one point a call runs on kernels
# compiled once: for a function checked once, one point a call is the faster
# up to about a thousand elements (benchmarks/README.md, "Drop-ins").
VMAP_MIN_ELEMENTS = {"torch": 8, "jax": 1024}


@dataclass(frozen=True)
class Tolerances:
    """The tolerance of each kind of check, resolved once.

    Attributes
    ----------
    first : Tolerance
        First derivatives by the case's method.
    plain : Tolerance
        What has no error estimate: values, and the chain rule's product of
        numeric Jacobians (under ``tolerance: auto``, the method's default).
    hessian : Tolerance
        Second differences of the function.
    products : Tolerance
        Directional checks (their estimates are Richardson's).
    """

    first: Tolerance
    plain: Tolerance
    hessian: Tolerance
    products: Tolerance


@dataclass(frozen=True)
class Prepared:
    """One input differentiated, made ready.

    Attributes
    ----------
    name : str
    position : int
        Its place among the inputs.
    fn : FlatFunction
        The case's function along it (n elements in, m out).
    directions : int or None
        Check along this many random directions instead of the whole
        Jacobian: the case's ``directions``, or :data:`AUTO_DIRECTIONS` for a
        Jacobian too large to hold.
    notes : tuple of Note
        What every check of it says (vmap could not batch it, it is noisy...).
    unbatched : Note, optional
        Why the framework's vmap, where it was tried, could not batch the
        function: it is then evaluated one point a call.
    """

    name: str
    position: int
    fn: FlatFunction
    directions: int | None
    notes: tuple[Note, ...] = ()
    unbatched: Note | None = None


@dataclass(frozen=True)
class Subject:
    """A case ready to check (see :func:`prepare`); nothing in it changes while
    checks run."""

    case: Case
    options: RunOptions
    names: tuple[str, ...]
    method: Method
    backend: backends.Backend
    inputs: tuple[Any, ...]
    np_inputs: tuple[np.ndarray, ...]
    dtype: str
    call: StagesCall
    # A caller's function returning a tuple, list or dict: its floating
    # outputs joined into one vector, each checked as its own output.
    outputs: Outputs | None = None
    # The value of every stage at the inputs (float64), where it was computed.
    env: Mapping[str, np.ndarray] = field(default_factory=dict)
    wrt: Mapping[str, Prepared] = field(default_factory=dict)
    # Evaluations spent preparing (the base point, the noise probe, vmap's probe).
    evaluations: int = 0
    # Structured inputs (name -> Structure): ``inputs`` and ``np_inputs`` hold
    # their coordinates, and every call lifts them to the matrix.
    structures: Mapping[str, Structure] = field(default_factory=dict)
    # The output's gauge (stage name, aligner) where a stage is aligned; a
    # caller's function is aligned inside its UserCall (``aligned``).
    gauge: tuple[str, Any] | None = None
    aligned: bool = False

    @property
    def lifts(self) -> dict[str, Any]:
        return _lifts(self.case, self.structures)

    def lifted(self, arrays: Sequence[Any]) -> list[Any]:
        """Inputs (native or NumPy) with the structured ones as their matrices."""
        return [self.structures[n].lift(a) if n in self.structures else a
                for n, a in zip(self.names, arrays)]

    @cached_property
    def tolerances(self) -> Tolerances:
        """Each kind of check's tolerance, resolved on first use (a numeric
        derivative alone needs none)."""
        return _tolerances(self.case, self.options, self.dtype, self.method)

    # -- names and places -------------------------------------------------------

    @property
    def folder(self) -> str | None:
        return _folder(self.case)

    def stage_key(self, name: str) -> str:
        return _stage_key(self.case, name)

    def notes(self, wrt: str | None) -> tuple[Note, ...]:
        prepared = self.wrt.get(wrt or "")
        return prepared.notes if prepared is not None else ()

    def parts(self, out_shape: tuple[int, ...]) -> list[tuple[slice, tuple[int, ...], str]]:
        """(rows, shape, name) of each output checked: the one output, or each
        floating output of a structured one."""
        if self.outputs is None:
            return [(slice(None), out_shape, self.case.output)]
        return [(p.rows, p.shape, f"{self.case.output}{p.label}") for p in self.outputs.parts]

    # -- functions ---------------------------------------------------------------

    def stages_call(self, stages: Sequence[Stage], names: Sequence[str],
                    backend: str | None = None, upto: str | None = None) -> StagesCall:
        return _stages_call(self.case, stages, names, backend or self.case.backend, self.dtype,
                            upto, self.lifts, self.gauge)

    def native(self, a: np.ndarray, backend: backends.Backend | None = None) -> Any:
        return _native(backend or self.backend, a)

    def inputs_for(self, backend: backends.Backend) -> list[Any]:
        """The inputs in ``backend``'s arrays: the case's own where it is the
        case's backend (a caller's tensors keep their dtype and device)."""
        if backend.name == self.backend.name:
            return [backend.same_layout(x) for x in self.inputs]
        return [self.native(a, backend) for a in self.np_inputs]

    def framework_call(self, name: str) -> Any:
        """The function as framework ``name`` differentiates it: a caller's own
        callable itself (so that what a framework compiles for it is found again
        the next time it is checked), else the case's stages on that framework."""
        if name != self.case.backend:
            return self.stages_call(self.case.stages, self.names, backend=name)
        bodies = [b for _, b in self.call.stages]
        if len(bodies) == 1 and isinstance(bodies[0], UserCall) and not self.structures \
                and not self.aligned:
            return bodies[0].fn
        return self.call   # its structures lifted, its gauge applied, its outputs joined

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
        if len(bodies) == 1 and isinstance(bodies[0], UserCall) and not self.structures \
                and not self.aligned:
            body, name = bodies[0], self.case.backend
            given = body.batched(wrt, name)
            if given is None and self.options.mode == "auto" and name in backends.AUTOGRAD_NAMES \
                    and np.size(self.np_inputs[wrt]) >= VMAP_MIN_ELEMENTS[name]:
                return backends.get(name).vmap(body.fn, wrt, len(body.names)), True
            return given, body.vectorized == "vmap"
        return None, False

    def flat(self, call: StagesCall, inputs: Sequence[Any], wrt: int
             ) -> tuple[FlatFunction, Note | None]:
        """``call`` along input ``wrt`` as the engine sees it, and why it is
        evaluated one point a call where the framework's vmap was tried and
        could not batch it (None where it could, or was not tried).

        Raises
        ------
        StructuredOutput
            Where ``call`` returns several outputs (see :func:`prepare`).
        """
        batched, tried = self.batched(call, wrt)
        fn = FlatFunction(call.direct, inputs, wrt, order=self.case.order,
                          dtype=self.case.dtype, backend=self.backend, batched_call=batched)
        if inputs is self.inputs and self.names[wrt] in self.structures:
            fn.reach = self.structures[self.names[wrt]].reach
        if tried:
            why = batched_disagrees(fn)
            if why is not None:
                fn.batched_call = None
                return fn, why
        return fn, None

    def flat_of(self, call: Any, inputs: Sequence[Any], wrt: int) -> FlatFunction:
        """:meth:`flat` of another call than the case's (a stage, part of the
        chain): one that returns several outputs is refused."""
        try:
            return self.flat(call, inputs, wrt)[0]
        except StructuredOutput as found:
            raise CaseError(str(found), key="function") from None

    def derive(self, fn: FlatFunction, call: Any, label: str,
               sparsity: Any = None) -> tuple[Verifier, int]:
        """The numeric Jacobian of ``fn``, ready to be checked, and its cost."""
        evaluator = self.evaluator(fn)
        result = self.numeric(fn, call, label, sparsity, evaluator)
        return Verifier(fn, result, evaluator, refine=self.options.refine), result.evaluations

    def numeric(self, fn: FlatFunction, call: Any, label: str, sparsity: Any = None,
                evaluator: Any = None) -> JacobianResult:
        """The numeric Jacobian of ``fn`` by the case's method (on ``evaluator``,
        by default :meth:`evaluator`), with progress reported under ``label``."""
        progress = None
        if self.options.progress is not None:
            report = self.options.progress
            progress = lambda done, total: report(f"{self.case.name}: {label}", done, total)  # noqa: E731
        evaluator = evaluator if evaluator is not None else self.evaluator(fn)
        if self.method.scheme == "complex-step":
            _refuse_complex_unsafe(call)
        with self.backend.no_grad():
            try:
                result = derive.jacobian(fn, self.method, evaluator, progress, sparsity)
            except SparsityError as exc:
                raise CaseError(str(exc), key="sparsity") from None
        return result

    def stage_flat(self, stage: Stage, var: str, key: str, total: bool = True
                   ) -> tuple[FlatFunction, StagesCall]:
        """A stage as a function of ``var``: with ``total``, of an input of the
        case through the stages before it; else (or for a stage it reads) of
        what it reads, every other thing it reads held fixed (a partial
        derivative, as the chain rule multiplies them); and the call it
        evaluates.

        Raises
        ------
        CaseError
            Naming ``key``, where the stage depends on no such thing.
        """
        with phase(self.stage_key(stage.name)):
            if total and var in self.case.inputs:
                call = self.stages_call(self.case.stages, self.names, upto=stage.name)
                return self.flat_of(call, self.inputs, self.names.index(var)), call
            if var in stage.reads:
                call = self.stages_call([stage], stage.reads)
                values = [self.native(self.env[r] if r in self.env else
                                      self.np_inputs[self.names.index(r)]) for r in stage.reads]
                return self.flat_of(call, values, stage.reads.index(var)), call
        raise CaseError(f"{stage.name} does not read {var!r}; it reads "
                        f"{', '.join(stage.reads)}", key=key)

    def stage_jacobian(self, stage: Stage, var: str, key: str = "function",
                       total: bool = True) -> tuple[Verifier, int]:
        """d stage / d var, numerically (see :meth:`stage_flat`)."""
        fn, call = self.stage_flat(stage, var, key, total)
        with phase(self.stage_key(stage.name)):
            return self.derive(fn, call, f"d{stage.name}/d{var}")

    # -- references ----------------------------------------------------------------

    def reference(self, ref: Any, key: str) -> np.ndarray:
        """The value of an expected literal, expression or Python reference."""
        if isinstance(ref, np.ndarray):
            return ref
        if isinstance(ref, (tuple, list, dict)):
            return np.asarray(self.backend.to_numpy(ref), dtype=np.float64)
        with phase(key):
            if isinstance(ref, Expression):
                ops = backends.get("numpy").ops_for(None)
                env = {**dict(zip(self.names, self.lifted(self.np_inputs))), **self.env}
                return np.asarray(ref(env, ops, dtype=np.dtype(self.dtype)), dtype=np.float64)
            if isinstance(ref, CallRef):
                value = ref.value(self.lifted(self.inputs))
                owner = backends.get(backends.name_of(value))
                return np.asarray(owner.to_numpy(value), dtype=np.float64)
            # Called as a stage's function is: with the inputs its signature names.
            fn = PythonCall(ref.target, self.names, key, near=self.folder)
            return np.asarray(self.backend.to_numpy(fn(*self.lifted(self.inputs))),
                              dtype=np.float64)

    def as_matrix(self, ref: np.ndarray, kind: str, key: str, out_shape: tuple[int, ...],
                  in_shape: tuple[int, ...], out_name: str, in_name: str) -> np.ndarray:
        """A reference as the check's matrix; one written for a structured
        input's matrix is read over its coordinates, in the case's convention."""
        s = self.structures.get(in_name)
        if s is not None:
            out_shape, in_shape = (s.shape if kind == "hessian" else out_shape), s.shape
        try:
            mat = reference_matrix(ref, kind, out_shape, in_shape, self.case.order, out_name,
                                   in_name)
        except ValueError as exc:
            raise CaseError(str(exc), key=key) from None
        return mat if s is None else s.read(mat, kind, self.case.convention)

    def part_matrices(self, ref: Any, kind: str, key: str, out_shape: tuple[int, ...],
                      in_shape: tuple[int, ...], wrt: str) -> list[np.ndarray]:
        """A reference as one matrix per output checked (see :meth:`parts`)."""
        if self.outputs is None:
            return [self.as_matrix(self.reference(ref, key), kind, key, out_shape, in_shape,
                                   self.case.output, wrt)]
        with phase(key):
            value = ref.value(self.inputs) if isinstance(ref, CallRef) else ref
            try:
                pieces = split(value, self.outputs, self.backend)
            except ValueError as exc:
                raise CaseError(str(exc), key=key) from None
        return [self.as_matrix(piece, kind, key, shape, in_shape, name, wrt)
                for piece, (_, shape, name) in zip(pieces, self.parts(out_shape))]


def _native(backend: backends.Backend, a: np.ndarray) -> Any:
    # np.require keeps a 0-d array 0-d (np.ascontiguousarray makes it 1-d).
    return backend.asarray(np.require(a, requirements="C"))


def _folder(case: Case) -> str | None:
    return str(Path(case.file).resolve().parent) if case.file else None


def _stage_key(case: Case, name: str) -> str:
    return f"function.{name}" if case.is_chain else "function"


def _body(case: Case, stage: Stage) -> Any:
    """What a stage calls: its expression, the caller's callable, or the
    ``{python: ...}`` function (imported on first call)."""
    if isinstance(stage.body, PythonRef):
        return PythonCall(stage.body.target, stage.reads, key=_stage_key(case, stage.name),
                          near=_folder(case))
    return stage.body


def _stages_call(case: Case, stages: Sequence[Stage], names: Sequence[str], backend: str,
                 dtype: str, upto: str | None = None, lifts: Mapping[str, Any] | None = None,
                 gauge: tuple[str, Any] | None = None) -> StagesCall:
    return StagesCall([(s.name, _body(case, s)) for s in stages], names, backend, dtype, upto,
                      lifts, gauge)


def _refuse_complex_unsafe(call: Any) -> None:
    unsafe = sorted(set().union(*(b.complex_unsafe for _, b in getattr(call, "stages", ())
                                  if isinstance(b, Expression))))
    if unsafe:
        raise CaseError(f"the complex step is not valid through {', '.join(unsafe)} (not "
                        "analytic, or not written with complex-safe operations); it would "
                        "give a wrong Jacobian without any error. Use method: richardson",
                        key="method")


# -- preparing -----------------------------------------------------------------------

def _float_name(name: str) -> str:
    """The precision an input of dtype ``name`` is evaluated in when the case
    sets none: its own, where it is floating; float64 for integers."""
    return name if name in FLOAT_NAMES else "float64"


def _method(case: Case, options: RunOptions) -> Method:
    """The case's method under the caller's: a method set by the caller keeps
    the case's step unless the caller sets one too."""
    method = Method.parse(options.method or case.method).with_step(options.step)
    if options.method is not None and options.step is None and case.method.step is not None:
        method = method.with_step(case.method.step)
    return method


def _layers(case: Case, options: RunOptions, auto: bool = True) -> list[dict[str, Any]]:
    """The tolerance layers over the built-in default, highest first."""
    source = options.source
    layers: list[dict[str, Any]] = [{"atol": options.atol, "rtol": options.rtol,
                                     "source": source}]
    own = dict(case.tolerance or {}, source="the case")
    if auto:
        layers.append({"auto": options.auto, "source": source})
    else:
        own.pop("auto", None)
    return layers + [own]


def _tolerances(case: Case, options: RunOptions, dtype: str, method: Method) -> Tolerances:
    first = resolve(dtype, method.label, *_layers(case, options))
    plain = resolve(dtype, method.label) if first.auto else first
    return Tolerances(first, plain, resolve(dtype, "hessian", *_layers(case, options)),
                      resolve(dtype, "richardson", *_layers(case, options, auto=False)))


def _base(case: Case, options: RunOptions) -> Subject:
    """The inputs, precision, method and tolerances: no evaluation yet."""
    names = tuple(case.inputs)
    backend = backends.get(case.backend)
    if case.native:
        # The caller's own arrays or tensors, as given (dtype, device, requires_grad).
        inputs = tuple(case.inputs.values())
        np_inputs = tuple(np.asarray(backend.to_numpy(v)) for v in inputs)
    else:
        np_inputs = tuple(np.asarray(v, dtype=case.dtype) for v in case.inputs.values())
        inputs = tuple(_native(backend, a) for a in np_inputs)
    for wrt in case.wrt:
        finite_input(wrt, np_inputs[names.index(wrt)])
    first = names.index(case.wrt[0])
    dtype = case.dtype or _float_name(backend.dtype_name(inputs[first]))
    structures = structure.of_case(case, names, np_inputs)
    if structures:
        case, inputs, np_inputs = structure.in_coordinates(
            case, names, inputs, np_inputs, structures, lambda a: _native(backend, a))
    lifts = _lifts(case, structures)
    call = _stages_call(case, case.stages, names, case.backend, dtype, None, lifts)
    aligner = None
    if case.gauge is not None:
        with phase("gauge"):
            case, aligner = gauge.wired(case, call, inputs, np_inputs,
                                        lambda a: _native(backend, a))
        call = _stages_call(case, case.stages, names, case.backend, dtype, None, lifts, aligner)
    return Subject(case, options, names, _method(case, options), backend, inputs, np_inputs,
                   dtype, call, structures=structures, gauge=aligner,
                   aligned=case.gauge is not None)


def _lifts(case: Case, structures: Mapping[str, Structure]) -> dict[str, Any]:
    """What each call makes of an input before the stages read it: a
    structure's matrix from its coordinates; a case file's complex input from
    its real form (the API's callable rebuilds its own)."""
    lifts = {name: s.lift for name, s in structures.items()}
    return lifts if case.native else {
        **lifts, **{name: complexify.complexify for name in case.complex_inputs}}


def _joined(subject: Subject, found: StructuredOutput) -> Subject:
    """The subject whose function, a caller's that returned several outputs,
    is evaluated as one vector from now on."""
    case, outputs = subject.case, found.outputs
    if not case.native:
        raise CaseError(str(found), key="function")
    bodies = [b for _, b in subject.call.stages]
    if subject.outputs is not None or len(bodies) != 1 or not isinstance(bodies[0], UserCall):
        raise CaseError("the function returned a different structure at a perturbed point "
                        "than at the inputs", key="function")
    if case.expect.hessian or case.expect.jvp:
        # (derivatives=2 takes them: the backward of the joined outputs, with a
        # cotangent over all of them, is what gradgradcheck differentiates.)
        raise CaseError(f"{case.output} returns {len(outputs.parts)} outputs; jvp and Hessians "
                        "need one output: check a function that returns one of them",
                        key="function")
    body = bodies[0]
    args = (outputs, case.backend, case.order)
    joined = UserCall(Joined(body.fn, *args), body.names, body.vectorized,
                      batch_fn=Joined(body.fn, *args, lead=1))
    call = subject.stages_call([replace(case.stages[0], body=joined)], subject.names)
    return replace(subject, call=call, outputs=outputs)


def _too_large(fn: FlatFunction) -> tuple[Note, ...]:
    return (note("too-large", m=fn.m, n=fn.n, directions=AUTO_DIRECTIONS),)


def _prepare_input(subject: Subject, wrt: str, checks: bool) -> tuple[Subject, Prepared, int]:
    """Input ``wrt`` made ready: its flat function (joining a structured
    output on the way), how its Jacobian is checked, its notes; and the
    evaluations that cost. Without ``checks`` (a numeric derivative alone),
    neither the noise probe nor the switch to directions."""
    i = subject.names.index(wrt)
    with phase("function"):
        try:
            fn, why = subject.flat(subject.call, subject.inputs, i)
        except StructuredOutput as found:
            if found.outputs.complex and not checks:
                raise  # a Jacobian alone is real: say how to take its parts
            subject = _joined(subject, found)
            fn, why = subject.flat(subject.call, subject.inputs, i)
    notes: tuple[Note, ...] = ()
    if subject.outputs is not None and subject.outputs.note:
        notes += (subject.outputs.note,)
    if why is not None:
        notes += (why,)
    directions = subject.case.directions
    spent = 0
    if checks and directions is None and fn.m * fn.n > MAX_JACOBIAN_ENTRIES:
        directions, notes = AUTO_DIRECTIONS, (*notes, *_too_large(fn))
    elif checks and directions is None:
        with phase("function"):
            notes = (*notes, *noise(fn, subject.backend))
        spent = 1
    return subject, Prepared(wrt, i, fn, directions, notes, why), spent


def prepare(case: Case, options: RunOptions, values: bool = True, checks: bool = True,
            inputs: bool = True) -> Subject:
    """Everything the checks of ``case`` read, resolved once.

    Parameters
    ----------
    case : Case
    options : RunOptions
    values : bool
        Compute every stage's value at the inputs (a caller's own function is
        evaluated at the base point by each input's flat function anyway: its
        value is worked out apart only where something reads it).
    checks : bool
        Prepare for checks: look for noise, and switch a Jacobian too large
        to hold to directions. False for a numeric derivative alone.
    inputs : bool
        Make each input of ``wrt`` ready (its flat function: an evaluation).

    Returns
    -------
    Subject

    Raises
    ------
    CaseError
        Naming the key at fault, where the case cannot be run.
    """
    subject = _base(case, options)
    if values:
        subject = replace(subject, env=stage_values(subject))
    prepared: dict[str, Prepared] = {}
    spent = 0
    for wrt in case.wrt if inputs else ():
        subject, prepared[wrt], used = _prepare_input(subject, wrt, checks)
        spent += used
    return replace(subject, wrt=prepared, evaluations=spent)
