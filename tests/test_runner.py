"""The runner: one case from start to end, whatever the face."""
import pytest

from fdcheck.casefile import load_text
from fdcheck.runner import run_case


def run_text(text):
    (case,) = load_text(text, "f.yaml")
    assert not isinstance(case, Exception), case
    return run_case(case)


@pytest.mark.parametrize("backend, autograd", [
    ("numpy", "[]"), ("torch", "[torch]"), ("jax", "[jax]"), ("numpy", "[torch, jax]")])
@pytest.mark.parametrize("function", ["4", "2 * 3 + 0 * -1"])
def test_a_constant_function_is_checked_on_every_backend(backend, autograd, function):
    if "torch" in (backend + autograd):
        pytest.importorskip("torch")
    if "jax" in (backend + autograd):
        pytest.importorskip("jax")
    result = run_text(f"""
name: constant
inputs: {{x: [[1., 2.], [3., 4.]]}}
function: "{function}"
backend: {backend}
autograd: {autograd}
expect: {{value: {eval(function)}, gradient: [[0, 0], [0, 0]]}}
""")
    assert result.error is None, result.error
    assert result.passed
    assert {c.against for c in result.checks} >= {"value", "analytic"}


def test_a_constant_function_with_a_wrong_gradient_fails():
    result = run_text("""
name: constant
inputs: {x: [1., 2.]}
function: "4"
expect: {gradient: [0, 1]}
""")
    assert result.error is None and not result.passed
