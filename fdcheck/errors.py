"""Exceptions. A mismatch is a result, never an exception: these are for what
cannot be run, and they carry the file, the case and the key they concern."""
from __future__ import annotations


class FdcheckError(Exception):
    """Base of every error fdcheck raises on purpose."""


class ExpressionError(FdcheckError, ValueError):
    """An expression that is not in the language (unknown name, forbidden node...)."""


class BackendUnavailable(FdcheckError, ImportError):
    """An optional backend (PyTorch, JAX) that is not installed."""


class EvaluationError(FdcheckError):
    """The function raised, or returned something that is not a finite array."""


class ComplexStepError(EvaluationError):
    """The function cannot be differentiated by the complex step (it rejects
    complex input, or drops the imaginary part)."""


class SparsityError(FdcheckError, ValueError):
    """A sparsity specification that does not fit the Jacobian or the method
    (kept apart from whatever the user's function raises)."""


class CaseError(FdcheckError, ValueError):
    """A case that cannot be run, located by file, line, case and key.

    ``str()`` gives one line: ``file:line: case 'name': key 'expect.value': message``.
    ``origin`` is the exception it explains, where there was one (the Python
    API raises that one again, so that callers can catch what they know).
    """

    def __init__(self, message: str, *, file: str | None = None, case: str | None = None,
                 key: str | None = None, line: int | None = None,
                 origin: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.case = case
        self.key = key
        self.line = line
        self.origin = origin

    def located(self, *, file: str | None = None, case: str | None = None,
                key: str | None = None, line: int | None = None) -> "CaseError":
        """A copy with the missing parts of the location filled in."""
        return CaseError(self.message, file=self.file or file, case=self.case or case,
                         key=self.key or key, line=self.line or line, origin=self.origin)

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.case is not None:
            parts.append(f"case {self.case!r}")
        if self.key:
            parts.append(f"key {self.key!r}")
        return ": ".join(parts + [self.message])
