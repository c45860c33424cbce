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
