"""Shared fixtures: the teaching example's numbers, and a CLI runner."""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def jax_float64():
    """JAX arrays made by a test are float64, as a user who wants float64 makes
    them: fdcheck itself enables JAX's float64 only within its own calls
    (tests/backends/test_jax_backend.py checks that it leaves it as found)."""
    jax = sys.modules.get("jax")
    with jax.enable_x64(True) if jax is not None else contextlib.nullcontext():
        yield


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
