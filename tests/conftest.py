"""Shared fixtures: the teaching example's numbers, and a CLI runner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli():
    """Run ``fdcheck ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from fdcheck.cli import main

    def run(*args: str):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr
    return run


@pytest.fixture
def cli_json(cli):
    """Run ``fdcheck run ... --format json``; returns (exit code, document)."""
    def run(*args: str):
        code, out, _ = cli("run", *args, "--format", "json")
        return code, json.loads(out)
    return run


@pytest.fixture
def write(tmp_path):
    """Write a case file under tmp_path; returns its path as a string."""
    def make(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return make


class WritesItsInput:
    """``f(*inputs)`` that first applies ``write`` (an in-place operation) to
    ``inputs[which]``, from call ``at`` on; call 1 is the base point."""

    def __init__(self, at, write, f, which=0):
        self.at, self.write, self.f, self.which, self.calls = at, write, f, which, 0

    def __call__(self, *inputs):
        self.calls += 1
        if self.calls >= self.at:
            self.write(inputs[self.which])
        return self.f(*inputs)
