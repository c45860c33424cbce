"""JAX: custom_vjp rules, correct and wrong; float64 is enabled."""
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
        assert "FAIL jax dL/dX: dL/dX[" in str(result)


def test_float64_is_enabled_and_used():
    x = jnp.asarray([1.0, 2.0])
    assert x.dtype == jnp.float64
    res = fdcheck.numeric(lambda x: jnp.sum(jnp.sin(x)), x)
    assert np.allclose(res.gradient, np.cos([1.0, 2.0]), atol=1e-9)
