"""The base point: an input differentiated is finite, and so is the value of
every stage there (each stage's trouble named by its key)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .blame import phase
from .errors import CaseError
from .layout import unravel
from .notes import Note, note


def finite_input(name: str, values: np.ndarray) -> None:
    """An input differentiated must be finite: no step moves a NaN or an
    infinity (an input that is not differentiated, a mask of -inf, may be)."""
    arr = np.asarray(values)
    where = _first_not_finite(arr) if arr.dtype.kind in "fc" else None
    if where is not None:
        raise CaseError(f"the input {name} is not finite ({name}{list(where)} = "
                        f"{arr[where]}): no step can move it", key=f"inputs.{name}")


def _first_not_finite(arr: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first entry of ``arr`` that is not finite, or None."""
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    return unravel(int(np.flatnonzero(bad.reshape(-1))[0]), arr.shape)


def stage_values(subject: Any) -> dict[str, np.ndarray]:
    """The value of every stage of a :class:`~fdcheck.subject.Subject` at its
    inputs, stage by stage, each named in the error that a stage's trouble
    raises."""
    env: dict[str, Any] = dict(zip(subject.names, subject.inputs))
    out: dict[str, np.ndarray] = {}
    with subject.backend.no_grad(), phase("function"):
        for stage in subject.case.stages:
            key = subject.stage_key(stage.name)
            with phase(key):
                call = subject.stages_call([stage], stage.reads)
                value = call(*(env[r] for r in stage.reads))
                env[stage.name] = value
                out[stage.name] = _finite_real(np.asarray(subject.backend.to_numpy(value)),
                                               stage.name, key)
    return out


def _finite_real(arr: np.ndarray, name: str, key: str) -> np.ndarray:
    if arr.dtype.kind not in "fiub":
        raise CaseError(f"the stage returned {arr.dtype} values, not real numbers", key=key)
    bad = _first_not_finite(arr)
    if bad is not None:
        raise CaseError(f"{name} is not finite at the given inputs ({name}{list(bad)} = "
                        f"{arr[bad]})", key=key)
    return arr.astype(np.float64)


def noise(fn: Any, backend: Any) -> tuple[Note, ...]:
    """Evaluate the flat function ``fn`` once more at the base point: a
    function whose two values there differ is noisy, and every check of the
    input says by how much; first, one that writes to an input by a way no
    guard sees is refused (its values would differ too, but that is not
    noise).

    Raises
    ------
    EvaluationError
        For a function that writes to an input.
    """
    with backend.no_grad():
        again = np.asarray(fn.watched(fn.x0.copy()), dtype=np.float64)
    value = fn.value.real
    with np.errstate(all="ignore"):
        gap = np.abs(again - value)
    worst = float(gap[np.isfinite(gap)].max(initial=0.0))
    if worst == 0 and np.array_equal(np.isnan(again), np.isnan(value)):
        return ()
    scale = float(np.abs(value[np.isfinite(value)]).max(initial=0.0))
    return (note("noisy", worst=worst, relative=worst / scale if scale else worst),)
