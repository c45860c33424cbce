"""JAX: custom_vjp rules, correct and wrong; float64 within fdcheck's calls only."""
import re
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fdcheck


def make_softplus(rule):
    @jax.custom_vjp
    def softplus(x):
        return jnp.logaddexp(x, 0.0)

    softplus.defvjp(lambda x: (softplus(x), x), lambda x, g: (g * rule(x),))
    return softplus


RULES = {
    "right": jax.nn.sigmoid,
    "sign": lambda x: -jax.nn.sigmoid(x),
    "factor": lambda x: 2 * jax.nn.sigmoid(x),
    "wrong function": lambda x: jax.nn.sigmoid(-x),
}


@pytest.mark.parametrize("rule, passes", [("right", True), ("sign", False), ("factor", False),
                                          ("wrong function", False)])
def test_custom_vjp_rules(rule, passes):
    sp = make_softplus(RULES[rule])
    x = jnp.asarray(np.random.default_rng(0).standard_normal((3, 4)))
    w = jnp.asarray(np.random.default_rng(1).standard_normal((4, 2)))
    result = fdcheck.check(lambda X, W: jnp.sum(sp(X @ W)), x, w, output="L")
    assert result.passed is passes, str(result)
    if not passes:
        assert {c.wrt for c in result.checks if not c.passed} == {"X", "W"}
        assert re.search(r"FAIL jax dL/dX: dl/dx\d\d: numeric", str(result))


def test_float64_arrays_are_checked_in_float64():
    x = jnp.asarray([1.0, 2.0])
    assert x.dtype == jnp.float64
    res = fdcheck.numeric(lambda x: jnp.sum(jnp.sin(x)), x)
    assert np.allclose(res.gradient, np.cos([1.0, 2.0]), atol=1e-9)


LEFT_AS_FOUND = """
import jax, jax.numpy as jnp, numpy as np
import fdcheck
from jax.test_util import check_grads
f = lambda x: jnp.sum(jnp.sin(x) ** 2)
x = jnp.asarray([0.5, 1.5])
result = fdcheck.check(f, x, autograd="jax")
checks = result.checks
[case] = fdcheck.run(["CASE"])
print(result.passed, x.dtype, checks[0].tolerance.rtol, case.passed,
      case.checks[0].tolerance.rtol, jax.config.jax_enable_x64, jnp.ones(2).dtype)
check_grads(f, (x,), order=2)
"""


def test_jax_float64_is_enabled_only_within_fdchecks_calls(tmp_path):
    import subprocess
    import sys
    case = tmp_path / "c.yaml"
    case.write_text("name: c\nbackend: jax\ninputs: {x: [0.5, 1.5]}\nfunction: sum(sin(x) ** 2)\n"
                    "autograd: jax\n")
    out = subprocess.run([sys.executable, "-c", LEFT_AS_FOUND.replace("CASE", str(case))],
                         capture_output=True, text=True, check=True).stdout.split()
    # The user's float32 array is checked in float32; the case file in float64;
    # the user's setting (off) is left as found, and check_grads works after.
    assert out == ["True", "float32", "0.0003", "True", "1e-05", "False", "float32"]


# The seed's Z = A W + B: dZ/dW row-major, and the same at a size past LOOP_MAX.
SEED_A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
SEED_W = np.array([[7.0, 8.0], [10.0, 11.0], [12.0, 13.0]])
SEED_DZ_DW = np.array([[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0],
                       [0, 4, 0, 5, 0, 6]], dtype=float)


def affine(A, W):
    return A @ W + jnp.asarray([13.0, 14.0])


@pytest.mark.parametrize("rows", [2, 200])   # 4 and 400 output elements: a loop, then jacrev
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_framework_jacobians_of_the_seed_product(rows, mode):
    from fdcheck.backends.jax_backend import BACKEND
    with jax.enable_x64(True):
        A = jnp.asarray(np.tile(SEED_A, (rows // 2, 1)))
        W = jnp.asarray(SEED_W)
        if mode == "reverse":
            dA, dW = BACKEND.autograd_jacobians(affine, [A, W], (0, 1))
        else:
            dA, dW = (BACKEND.forward_jacobian(affine, [A, W], i) for i in (0, 1))
    assert dW.shape == (rows, 2, 3, 2) and dA.shape == (rows, 2, rows, 3)
    # d(AW)_kl / dW_ij = A_ki [l == j]; d(AW)_kl / dA_ij = [k == i] W_jl.
    np.testing.assert_array_equal(dW.reshape(rows * 2, 6)[:4], SEED_DZ_DW)
    np.testing.assert_array_equal(dW, np.einsum("ki,lj->klij", np.asarray(A), np.eye(2)))
    np.testing.assert_array_equal(dA, np.einsum("ki,jl->klij", np.eye(rows), SEED_W))


def test_small_jacobians_and_rare_backward_calls_compile_nothing(monkeypatch):
    # jit's compilation of a new function costs more than a small check's
    # evaluations: the loop and the plain backward take its place.
    from fdcheck.backends import jax_backend

    compiled = []
    real = jax_backend._compiled
    monkeypatch.setattr(jax_backend, "_compiled",
                        lambda key, make: compiled.append(key[0]) or real(key, make))
    with jax.enable_x64(True):
        A, W = jnp.asarray(SEED_A), jnp.asarray(SEED_W)
        assert jax_backend.BACKEND.autograd_jacobian(affine, [A, W], 1).shape == (2, 2, 3, 2)
        assert jax_backend.BACKEND.forward_jacobian(affine, [A, W], 1).shape == (2, 2, 3, 2)
        h = jax_backend.BACKEND.backward_function(affine, (1,), "C")
        v = jnp.ones((2, 2))
        first = np.asarray(h(A, W, v))
        assert compiled == []
        # d/dW sum(v * (A W + B)) = A^T v: column sums of A, each in both columns.
        np.testing.assert_array_equal(first, np.repeat([5.0, 7.0, 9.0], 2))
        for _ in range(jax_backend.JIT_AFTER):
            np.testing.assert_array_equal(np.asarray(h(A, W, v)), first)
    assert compiled == ["backward"]
