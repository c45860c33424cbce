"""A backend that is not installed: a clear message, and the other cases still run."""
import importlib.util

import pytest

from fdcheck import backends
from fdcheck.errors import BackendUnavailable

CASES = """
cases:
  - {name: wants torch, inputs: {A: [1, 2]}, function: sum(A), autograd: [torch]}
  - {name: numpy only, inputs: {A: [1, 2]}, function: sum(A), expect: {gradient: [1, 1]}}
"""


@pytest.fixture
def no_torch(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    monkeypatch.setattr(backends, "_cache", {})


def test_get_names_the_extra(no_torch):
    with pytest.raises(BackendUnavailable, match=r"pip install 'fdcheck\[torch\]'"):
        backends.get("torch")


def test_a_case_asking_for_it_errors_and_the_others_run(no_torch, cli_json, write):
    code, doc = cli_json(write("c.yaml", CASES))
    assert code == 2
    wants, plain = doc["cases"]
    assert "key 'autograd'" in wants["error"] and "fdcheck[torch]" in wants["error"]
    assert plain["passed"]
