"""The Case model: what was asked, frozen. Case files (:mod:`fdcheck.casefile`)
and the Python API (:mod:`fdcheck.api`) both build one, through the
validators of :mod:`fdcheck.schema`; the runner checks it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .errors import CaseError
from .stencils import Method


@dataclass(frozen=True)
class PythonRef:
    """``{python: "package.module:callable"}``: a user's function, loaded on demand."""

    target: str


Ref = Any  # np.ndarray (literal) | Expression | PythonRef | a caller's reference


@dataclass(frozen=True)
class Stage:
    """A named step of a case's function: an expression, a ``{python: ...}``
    reference, or (from the Python API) the caller's own callable."""

    name: str
    body: Any
    reads: tuple[str, ...]


@dataclass(frozen=True)
class Expected:
    """What a case (or one stage of it) expects: value, and per-input derivatives."""

    value: Ref | None = None
    gradient: Mapping[str, Ref] = field(default_factory=dict)
    jacobian: Mapping[str, Ref] = field(default_factory=dict)
    # Per input: v -> R v for flat v, a Jacobian given by its products (Python API).
    jvp: Mapping[str, Any] = field(default_factory=dict)
    hessian: Mapping[str, Ref] = field(default_factory=dict)

    @property
    def anything(self) -> bool:
        """Whether anything at all is expected."""
        return bool(self.value is not None or self.gradient or self.jacobian or self.jvp
                    or self.hessian)


@dataclass(frozen=True)
class Case:
    """One validated case, ready to run.

    From a case file, the inputs are float64 arrays; from the Python API
    (``native``), they are the caller's own arrays or tensors, used as given,
    and ``dtype`` None keeps each input's own precision.
    """

    name: str
    inputs: Mapping[str, np.ndarray]
    stages: tuple[Stage, ...]
    wrt: tuple[str, ...]
    expect: Expected = Expected()
    stage_expect: Mapping[str, Expected] = field(default_factory=dict)
    autograd: tuple[str, ...] = ()
    tolerance: Mapping[str, float] | None = None
    order: str = "C"
    method: Method = Method()
    dtype: str | None = "float64"
    backend: str = "numpy"
    sparsity: Any = None
    directions: int | None = None
    derivatives: int = 1
    modes: tuple[str, ...] = ("reverse",)
    behaviours: tuple[str, ...] = ()
    nondet_tol: float = 0.0
    # The cotangent v of the second-order check (gradgradcheck's grad_outputs);
    # None: seeded random.
    cotangent: Any = None
    noncontiguous_cotangent: bool = False
    # Inputs given complex (Python API), checked in real form.
    complex_inputs: tuple[str, ...] = ()
    # Sparse inputs (Python API): name -> the Pattern that rebuilds them.
    sparse_inputs: Mapping[str, Any] = field(default_factory=dict)
    # Inputs with structure: name -> kind (see :mod:`fdcheck.structure`), and
    # how a written reference for them is read.
    structure: Mapping[str, str] = field(default_factory=dict)
    convention: str = "projected"
    # An output defined up to a gauge: "column-sign", "column-phase", or per
    # output of several (see :mod:`fdcheck.gauge`).
    gauge: Any = None
    # How --explore draws the inputs (see :mod:`fdcheck.explore`), or None.
    explore: Any = None
    # Check each custom rule the function calls on its own (fdcheck.locate):
    # True always, False never, None where the whole check fails.
    locate: bool | str | None = None
    file: str | None = None
    line: int | None = None
    native: bool = False

    @property
    def output(self) -> str:
        """The name of the output: the last stage's name."""
        return self.stages[-1].name

    @property
    def is_chain(self) -> bool:
        return len(self.stages) > 1

    @property
    def python_key(self) -> str | None:
        """The key of the first ``{python: ...}`` of the case (its function, a
        stage, or a reference), or None where it has none."""
        for stage in self.stages:
            if isinstance(stage.body, PythonRef):
                return f"function.{stage.name}" if self.is_chain else "function"
        places = [("expect", self.expect)] + [(f"expect.stages.{name}", e)
                                             for name, e in self.stage_expect.items()]
        for where, expected in places:
            if isinstance(expected.value, PythonRef):
                return f"{where}.value"
            for kind in ("gradient", "jacobian", "hessian"):
                refs = getattr(expected, kind)
                for name, ref in refs.items():
                    if isinstance(ref, PythonRef):
                        alone = len(refs) == 1 and self.wrt == (name,)
                        return f"{where}.{kind}" if alone else f"{where}.{kind}.{name}"
        return None

    def error(self, message: str, key: str | None = None) -> CaseError:
        return CaseError(message, file=self.file, case=self.name, key=key, line=self.line)
