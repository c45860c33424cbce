"""Random inputs that find the failing one: ``fdcheck run FILE --explore N``.

A case says which of its inputs may vary and how (``explore:``): named sizes
shared between inputs (``dims: {m: [1, 4], k: [1, 4]}``) and, per input, its
shape in those sizes and the range of its condition number
(``inputs: {A: {shape: [m, k], condition: [1, 1e8]}}``); an input with a
``structure`` is drawn with it. N inputs are drawn (:mod:`fdcheck.strategies`,
Hypothesis, seeded), every check of the case runs at each, and the first at
which a check is shown wrong (a ``mismatch``: an unverifiable check is no
mistake) is shrunk, by Hypothesis, to the smallest sizes, the best
conditioning and the simplest seed that still fail. The shrunk case is
written as a case file (the case as written, its inputs replaced by the
failing ones) to be added to ``cases/`` and run again.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from random import Random
from typing import Any, Callable, Mapping

import numpy as np

from .case import Case
from .errors import CaseError
from .values import check_keys, number


@dataclass(frozen=True)
class Exploration:
    """What ``--explore`` found for one case.

    Attributes
    ----------
    drawn : int
        Inputs drawn and checked before the first failure (all N if none).
    failed : bool
        Whether a drawn input made a check fail.
    inputs : dict of str to ndarray, or None
        The shrunk failing inputs (those that vary).
    message : str or None
        The shrunk failure's first failing check, as the report words it.
    errors : int
        Draws at which the case could not be run (outside the function's
        domain: a singular matrix, a shape it refuses); the first is kept.
    path : str or None
        The case file written for the shrunk failure.
    """

    drawn: int
    failed: bool
    seconds: float
    seed: int
    inputs: dict[str, np.ndarray] | None = None
    message: str | None = None
    errors: int = 0
    first_error: str | None = None
    path: str | None = None

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in (self.inputs or {}).items()}

    @property
    def conditions(self) -> dict[str, float]:
        """The condition number of each shrunk failing matrix."""
        return {k: float(np.linalg.cond(v)) for k, v in (self.inputs or {}).items()
                if v.ndim == 2 and min(v.shape) > 0}


def parse_spec(value: Any, key: str = "explore") -> dict[str, Any] | None:
    """``{dims: {m: [1, 4]}, inputs: {X: {shape: [m, m], condition: [1, 1e8]}}}``:
    how ``--explore`` draws the inputs (see :mod:`fdcheck.explore`)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise CaseError("explore is a mapping with 'inputs' (and 'dims')", key=key)
    check_keys(value, ("dims", "inputs"), f"{key}.")
    dims = {}
    for name, bounds in (value.get("dims") or {}).items():
        lo, hi = _bounds(bounds, f"{key}.dims.{name}", whole=True)
        dims[str(name)] = (int(lo), int(hi))
    inputs = {}
    raw = value.get("inputs")
    if not isinstance(raw, Mapping) or not raw:
        raise CaseError("explore.inputs names the inputs that vary, each with its shape",
                        key=f"{key}.inputs")
    for name, spec in raw.items():
        where = f"{key}.inputs.{name}"
        if not isinstance(spec, Mapping):
            raise CaseError("a mapping with shape (and condition)", key=where)
        check_keys(spec, ("shape", "condition"), f"{where}.")
        shape = spec.get("shape")
        if not isinstance(shape, list) or not all(
                (isinstance(d, int) and not isinstance(d, bool) and d >= 1) or d in dims
                for d in shape):
            raise CaseError(f"shape is a list of sizes and dims ({', '.join(dims) or 'none'} "
                            f"declared), not {shape!r}", key=f"{where}.shape")
        condition = _bounds(spec.get("condition", [1, 1000]), f"{where}.condition")
        if condition[0] < 1:
            raise CaseError("a condition number is at least 1", key=f"{where}.condition")
        inputs[str(name)] = {"shape": tuple(shape), "condition": condition}
    return {"dims": dims, "inputs": inputs}


def _bounds(value: Any, key: str, whole: bool = False) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise CaseError(f"[low, high], not {value!r}", key=key)
    lo, hi = (number(v, key) for v in value)
    if whole and (lo != int(lo) or hi != int(hi) or lo < 1):
        raise CaseError(f"[low, high] of whole numbers >= 1, not {value!r}", key=key)
    if lo > hi:
        raise CaseError(f"low {lo:g} is above high {hi:g}", key=key)
    return lo, hi


def _strategy(case: Case) -> Any:
    from hypothesis import strategies as st

    from .strategies import matrices
    spec = case.explore
    for name in spec["inputs"]:
        if name not in case.inputs:
            raise CaseError(f"explore.inputs names {name!r}, which is no input; the inputs are "
                            f"{', '.join(case.inputs)}", key=f"explore.inputs.{name}")

    @st.composite
    def drawn(draw: Any) -> dict[str, np.ndarray]:
        dims = {d: draw(st.integers(lo, hi)) for d, (lo, hi) in spec["dims"].items()}
        out = {}
        for name, s in spec["inputs"].items():
            shape = tuple(dims[d] if isinstance(d, str) else d for d in s["shape"])
            out[name] = draw(matrices(shape, case.structure.get(name), s["condition"]))
        return out
    return drawn()


def _first_mismatch(result: Any) -> str | None:
    from .report import check_message, check_title
    for c in result.checks:
        if c.verdict == "mismatch":
            return f"{check_title(c)}: {check_message(c)}"
    return None


def explore_case(case: Case, run: Callable[[Case], Any], draws: int, seed: int = 0,
                 native: Callable[[np.ndarray, Any], Any] | None = None) -> Exploration:
    """Draw ``draws`` inputs for ``case`` and shrink the first failure.

    Parameters
    ----------
    case : Case
        With its ``explore`` spec.
    run : callable
        Case -> CaseResult (the runner's ``run_case`` with the caller's options).
    draws : int
    seed : int
        Seeds Hypothesis: the same seed draws the same inputs.
    native : callable, optional
        (drawn array, the written input) -> the input as the function takes it
        (the Python API's tensors); default the array itself.
    """
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    start = time.perf_counter()
    count = {"drawn": 0, "found": 0, "errors": 0}
    first_error: list[str] = []

    def trial(drawn: dict[str, np.ndarray]) -> Case:
        given = {k: (native(v, case.inputs[k]) if native else v) for k, v in drawn.items()}
        return replace(case, inputs={**case.inputs, **given}, explore=None)

    def fails(drawn: dict[str, np.ndarray]) -> bool:
        count["drawn"] += 1
        result = run(trial(drawn))
        if result.status == "error":
            count["errors"] += 1
            first_error[:1] = first_error[:1] or [str(result.error)]
            return False
        bad = _first_mismatch(result) is not None
        if bad and not count["found"]:
            count["found"] = count["drawn"]
        return bad

    rules = settings(max_examples=draws, database=None, deadline=None,
                     phases=[Phase.generate, Phase.shrink],
                     suppress_health_check=list(HealthCheck))
    try:
        shrunk = find(_strategy(case), fails, settings=rules, random=Random(seed))
    except NoSuchExample:
        return Exploration(count["drawn"], False, time.perf_counter() - start, seed,
                           errors=count["errors"], first_error=first_error[0] if first_error else None)
    message = _first_mismatch(run(trial(shrunk)))
    return Exploration(count["found"], True, time.perf_counter() - start, seed,
                       {k: np.asarray(v) for k, v in shrunk.items()}, message, count["errors"],
                       first_error[0] if first_error else None)


def write_case(case: Case, data: dict[str, Any], found: Exploration, draws: int,
               folder: str) -> str:
    """The case as its file writes it (``data``, the mapping it was read
    from), with the shrunk failing inputs, as a case file in ``folder``: its
    path."""
    import yaml

    data = dict(data)
    data.pop("explore", None)
    data.pop("description", None)
    shapes = ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in found.shapes.items())
    head = {"name": f"{case.name} (explored: {shapes})",
            "description": (f"Found by fdcheck run --explore {draws} (seed {found.seed}) at "
                            f"draw {found.drawn}, shrunk: {found.message}")}
    data.pop("name", None)
    data = {**head, **data, "inputs": {**(data.get("inputs") or {}), **{
        k: v.tolist() for k, v in (found.inputs or {}).items()}}}
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", str(case.name)).strip("_")[:60] or "case"
    path = out / f"{slug}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))
    return str(path)
