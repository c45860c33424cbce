"""pytest plugin: case files as test items, through the same runner.

Opt-in, so installing fdcheck never changes another project's test run::

    pytest --fdcheck cases/            # every case of every *.yaml / *.yml under cases/
    pytest --fdcheck --fdcheck-allow-python cases/

This module is imported by pytest at start-up: it imports nothing heavy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("fdcheck")
    group.addoption("--fdcheck", action="store_true", default=False,
                    help="collect fdcheck case files (*.yaml, *.yml) as tests")
    group.addoption("--fdcheck-allow-python", action="store_true", default=False,
                    help="allow {python: module:callable} functions and references in case "
                         "files (importing them runs code)")


def pytest_collect_file(parent: Any, file_path: Path) -> Any:
    if parent.config.getoption("fdcheck") and file_path.suffix in (".yaml", ".yml"):
        from .casefile import looks_like_cases
        if looks_like_cases(file_path):
            return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFailure(Exception):
    """A case whose checks failed or that could not be run."""


class CaseFile(pytest.File):
    def collect(self) -> Iterator["CaseItem"]:
        from .casefile import load_file
        from .errors import CaseError

        for i, case in enumerate(load_file(self.path)):
            name = case.case if isinstance(case, CaseError) else case.name
            yield CaseItem.from_parent(self, name=str(name if name is not None else f"#{i + 1}"),
                                       case=case)


class CaseItem(pytest.Item):
    def __init__(self, *, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from .errors import CaseError
        from .runner import RunOptions, error_result, run_case

        if isinstance(self.case, CaseError):
            result = error_result(self.case)
        else:
            allow = self.config.getoption("fdcheck_allow_python")
            result = run_case(self.case, RunOptions(allow_python=allow))
        if not result.passed:
            raise CaseFailure(str(result))

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = getattr(self.case, "line", None)
        return self.path, (line - 1) if line else None, f"case: {self.name}"
