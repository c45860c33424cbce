"""The complex step: exact to rounding where it is valid, refused where it is not."""
import numpy as np
import pytest

import fdcheck
from fdcheck.errors import ComplexStepError

rng = np.random.default_rng(3)
X = rng.standard_normal((3, 3)) + 3 * np.eye(3)


@pytest.mark.parametrize("f, x, exact", [
    (np.exp, np.array([30.0, 31.5]), lambda x: np.diag(np.exp(x))),
    (lambda x: np.sin(1e6 * x), 1e-6 * np.array([1.0, 1.7]), lambda x: np.diag(1e6 * np.cos(1e6 * x))),
    (lambda x: x ** 2, 1e6 * np.array([1.0, 1.3]), lambda x: np.diag(2 * x)),
    (np.linalg.inv, X, lambda x: -np.kron(np.linalg.inv(x), np.linalg.inv(x).T)),
], ids=["exp at 30", "sin(1e6 x)", "x^2 at 1e6", "inv"])
def test_complex_step_is_exact_to_rounding(f, x, exact):
    res = fdcheck.numeric(f, x, method="complex-step")
    J = exact(x)
    assert (np.abs(res.jacobian - J) / np.maximum(1, np.abs(J))).max() < 1e-14
    assert res.evaluations >= x.size      # one per element, plus the safety probe


@pytest.mark.parametrize("f, x, says", [
    (lambda x: np.abs(x) * x, np.array([-0.5, 0.7]), "not complex-safe"),
    (lambda x: np.linalg.slogdet(x.reshape(2, 2))[1], np.array([2.0, 0.5, 0.3, 1.0]),
     "returns real values"),
    (lambda x: np.real(x) ** 2, np.array([1.0, 2.0]), "returns real values"),
    (lambda x: float(x[0]) * x, np.array([1.0, 2.0]), "does not accept complex input"),
], ids=["abs", "slogdet", "real part", "float()"])
def test_functions_that_are_not_complex_safe_are_refused(f, x, says):
    with pytest.raises(ComplexStepError, match=says):
        fdcheck.numeric(f, x, method="complex-step")


@pytest.mark.parametrize("function, name", [
    ("sum(abs(x) * x)", "abs"), ("sum(real(x) * x)", "real"), ("sum(imag(x) + x)", "imag"),
    ("sum(conj(x) * x)", "conj"),
])
def test_an_expression_through_a_function_that_is_not_analytic_is_refused_by_name(
        write, cli, function, name):
    path = write("c.yaml", f"""
name: by complex step
inputs: {{x: [1.0, -2.0]}}
function: {{f: {function}}}
method: complex-step
expect: {{gradient: [1, 1]}}
""")
    code, out, _ = cli("run", path)
    assert code == 2
    assert "key 'method'" in out and f"not valid through {name}" in out


def test_complex_step_case_passes_with_its_default_tolerance(write, cli):
    path = write("c.yaml", """
name: logsumexp by complex step
inputs: {x: [1.0, -2.0, 0.5]}
function: {f: logsumexp(x)}
method: complex-step
expect: {gradient: exp(x) / sum(exp(x))}
""")
    code, out, _ = cli("run", path, "-v")
    assert code == 0, out
