"""What the caller (command line, API) sets over every case it runs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

ProgressFn = Callable[[str, int, int], None]
MAX_TIMEOUT = 1e6   # seconds (11 days): the system's interval timers take no more


@dataclass(frozen=True)
class RunOptions:
    """What the caller (command line, API) sets over every case.

    Attributes
    ----------
    atol, rtol : float, optional
        Override the cases' tolerances.
    auto : float, optional
        ``tolerance: auto`` over the cases': the multiple of the error estimate.
    refine : bool or "all"
        Derive the columns of a first mismatch again by Richardson extrapolation
        (True: failing fast where a few far columns confirm the rest; "all":
        every column).
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
    locate : bool, optional
        Over every case's own ``locate``: check each custom rule a function
        calls on its own (:mod:`fdcheck.locate`).
    explore, explore_seed, explore_dir :
        Draw this many inputs for each case with an ``explore:`` key, seeded
        so; write a shrunk failure's case file to the folder (default: beside
        its case file). See :mod:`fdcheck.explore`.
    """

    atol: float | None = None
    rtol: float | None = None
    auto: float | None = None
    refine: bool | str = True
    method: Any = None
    step: float | None = None
    allow_python: bool = False
    mode: str = "auto"
    executor: Any = None
    workers: int | None = None
    progress: ProgressFn | None = None
    source: str = "the command line"
    timeout: float | None = None
    explore: int = 0
    explore_seed: int = 0
    explore_dir: str | None = None
    locate: bool | str | None = None
