"""Whose fault an exception is: the function's (a case error naming the key
being evaluated), or fdcheck's own (an internal error that says so)."""
from __future__ import annotations

import contextlib
from concurrent.futures import BrokenExecutor
from pathlib import Path
from typing import Iterator

from .errors import BackendUnavailable, CaseError, EvaluationError
from .flatfun import in_place_error, raised_by_function


@contextlib.contextmanager
def phase(key: str) -> Iterator[None]:
    """Turn anything a user's function raises into a CaseError naming ``key``."""
    try:
        yield
    except (CaseError, BackendUnavailable, BrokenExecutor, MemoryError):
        raise  # the runner says what a dead worker or exhausted memory means
    except EvaluationError as exc:
        raise CaseError(str(exc), key=key, origin=exc) from None
    except Exception as exc:  # a user's function may raise anything
        explained = in_place_error(exc)
        if explained is not None:
            raise CaseError(str(explained), key=key, origin=explained) from None
        if _raised_by_fdcheck(exc):
            raise CaseError(f"internal error in fdcheck ({type(exc).__name__}: {exc}): fdcheck's "
                            "own fault, not the function's; please report it", origin=exc) \
                from None
        raise CaseError(f"evaluation raised {type(exc).__name__}: {exc}", key=key,
                        origin=exc) from None


_PACKAGE = str(Path(__file__).resolve().parent)
# Where fdcheck raises on purpose for what the user wrote (an expression's
# shapes, a framework's refusal): not fdcheck's own fault.
_USERS_TO_ANSWER = (f"{_PACKAGE}/expr.py", f"{_PACKAGE}/backends/")


def _raised_by_fdcheck(exc: BaseException) -> bool:
    """Whether ``exc`` comes from fdcheck's own code (a bug of ours), not from
    the function checked nor from what it calls: not marked as the
    function's, and raised in a file of fdcheck's."""
    if raised_by_function(exc):
        return False
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    path = str(Path(last.tb_frame.f_code.co_filename).resolve())
    return path.startswith(_PACKAGE + "/") and not path.startswith(_USERS_TO_ANSWER)
