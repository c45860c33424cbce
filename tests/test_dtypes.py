"""Half precision: float16 and bfloat16 inputs are perturbed on their own grid,
with tolerances keyed by dtype, and every check says how little it proves."""
import builtins

import numpy as np
import pytest

import fdcheck
from fdcheck.tolerances import default_tolerance
from fdcheck.dtypes import numpy_dtype
from fdcheck.errors import EvaluationError

X = np.linspace(-1.0, 1.0, 6)


def _inputs(framework, dtype):
    if framework == "torch":
        torch = pytest.importorskip("torch")
        return torch, torch.tensor(X, dtype=getattr(torch, dtype), requires_grad=True)
    if framework == "jax":
        jnp = pytest.importorskip("jax.numpy")
        return jnp, jnp.asarray(X, dtype=getattr(jnp, dtype))
    if dtype == "bfloat16":
        return np, X.astype(numpy_dtype("bfloat16"))
    return np, X.astype(dtype)


# (framework, dtype, largest resolution a passing check may report)
HALF = [("torch", "float16", 0.2), ("torch", "bfloat16", 1.0), ("jax", "float16", 0.2),
        ("jax", "bfloat16", 1.0), ("numpy", "float16", 0.2)]


@pytest.mark.parametrize("framework, dtype, widest", HALF)
def test_a_right_derivative_passes_and_says_its_resolution(framework, dtype, widest):
    xp, x = _inputs(framework, dtype)
    f = lambda x: xp.sin(x) * 2  # noqa: E731
    kwargs = {} if framework != "numpy" else {"jacobian": np.diag(2 * np.cos(X.astype(dtype)))}
    result = fdcheck.check(f, x, **kwargs)
    (c,) = result.checks
    assert c.passed, str(result)
    # Far coarser than float64's 1e-5, and said so.
    assert 1e-3 < c.resolution <= widest


@pytest.mark.parametrize("framework, dtype", [("torch", "float16"), ("jax", "float16"),
                                              ("numpy", "float16"), ("torch", "bfloat16")])
def test_a_derivative_twice_too_large_does_not_pass(framework, dtype):
    xp, x = _inputs(framework, dtype)
    result = fdcheck.check(lambda x: xp.sin(x), x, autograd=False,
                           jacobian=np.diag(2 * np.cos(X)))
    assert not result.passed


def test_the_points_stay_on_the_half_precision_grid():
    torch = pytest.importorskip("torch")
    seen = []

    def f(x):
        seen.append(x.dtype)
        return x * 3

    fdcheck.check(f, torch.tensor(X, dtype=torch.bfloat16, requires_grad=True), autograd=False,
                  jacobian=3 * np.eye(6), vectorized=False)
    assert set(seen) == {torch.bfloat16}


@pytest.mark.parametrize("dtype, rtol", [("float16", 1e-2), ("bfloat16", 5e-2),
                                         ("float32", 3e-4), ("float64", 1e-5)])
def test_default_tolerances_are_keyed_by_dtype(dtype, rtol):
    assert default_tolerance(dtype, "central2").rtol == rtol


def test_bfloat16_without_ml_dtypes_is_named(monkeypatch):
    real = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == "ml_dtypes":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(EvaluationError, match="pip install ml_dtypes"):
        numpy_dtype("bfloat16")


@pytest.mark.parametrize("to", ["bfloat16", "float16"])
def test_an_output_coarser_than_its_input_is_resolved_at_the_outputs_precision(to):
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.7, 1.3], dtype=torch.float64, requires_grad=True)
    (c,) = fdcheck.check(lambda x: x.to(getattr(torch, to)), x).checks
    # Rounded to 8 or 11 bits, the output moves in steps no float64-sized
    # difference can resolve: neither a pass nor a mismatch is shown.
    assert c.verdict == "unverifiable" and c.resolution > 1
