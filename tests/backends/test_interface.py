"""The same expressions and the seed cases on every backend."""
import dataclasses

import numpy as np
import pytest

from fdcheck import backends
from fdcheck.casefile import load_file
from fdcheck.expr import Expression
from fdcheck.runner import run_case

from ..conftest import ROOT
from ..seed import DS_DW, DZ_DW
from ..test_expr import CASES, ENV

BACKENDS = ["numpy", "torch", "jax"]
SKIP_ON = {"torch": set(), "jax": set()}


def native(name, a):
    return backends.get(name).asarray(np.ascontiguousarray(a))


@pytest.mark.parametrize("name", ["torch", "jax"])
@pytest.mark.parametrize("src, expected", CASES, ids=[c[0] for c in CASES])
def test_every_expression_gives_numpys_value(name, src, expected):
    b = backends.get(name)
    env = {k: native(name, v) for k, v in ENV.items()}
    out = Expression(src, set(ENV))(env, b.ops_for(env["X"]), dtype=b.native_dtype("float64"))
    assert np.allclose(b.to_numpy(out), expected, atol=1e-10)


@pytest.mark.parametrize("name", ["torch", "jax"])
@pytest.mark.parametrize("src", ["trace(X @ Y)", "sum(X) * eye(3)", "X @ v", "kron(X, Y)", "softmax(v)",
                                 "logdet(S)", "solve(X, v)", "X.T[0, 1:]"])
def test_batched_expressions_on_every_backend(name, src):
    b = backends.get(name)
    k = 2
    stacked = {n: np.stack([a + 0.01 * j for j in range(k)]) for n, a in ENV.items()}
    env = {n: native(name, a) for n, a in stacked.items()}
    out = b.to_numpy(Expression(src, set(ENV))(env, b.ops_for(env["X"]), batch=k,
                                              dtype=b.native_dtype("float64")))
    ops = backends.get("numpy").ops
    for j in range(k):
        assert np.allclose(out[j], Expression(src, set(ENV))({n: a[j] for n, a in stacked.items()}, ops))


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("case_name, wrt, expected", [
    ("linear layer, dZ/dW", "W", DZ_DW),
    ("S = sum(Z), dS/dW directly", "W", DS_DW.reshape(1, -1)),
])
def test_seed_cases_through_every_backend(name, case_name, wrt, expected):
    case = next(c for c in load_file(ROOT / "cases" / "teaching.yaml") if c.name == case_name)
    case = dataclasses.replace(case, backend=name)
    result = run_case(case)
    assert result.passed, result.error or str(result)
    from fdcheck.runner import case_jacobians
    assert np.allclose(case_jacobians(case)[wrt].jacobian, expected, atol=1e-8)
    if name != "numpy":
        assert {c.against for c in result.checks} >= {"torch", "jax"}


@pytest.mark.parametrize("name", ["torch", "jax"])
@pytest.mark.parametrize("src, wrt, exact", [
    ("trace(A @ X)", "X", lambda e: e["A"].T.reshape(1, -1)),
    ("inv(X)", "X", lambda e: -np.kron(np.linalg.inv(e["X"]), np.linalg.inv(e["X"]).T)),
    ("A @ X @ B", "X", lambda e: np.kron(e["A"], e["B"].T)),
])
def test_autograd_jacobians_match_identities(name, src, wrt, exact):
    rng = np.random.default_rng(0)
    env = {"A": rng.standard_normal((3, 3)), "B": rng.standard_normal((3, 3)),
           "X": rng.standard_normal((3, 3)) + 3 * np.eye(3)}
    b = backends.get(name)
    names = list(env)
    expr = Expression(src, set(names))

    def f(*arrays):
        return expr(dict(zip(names, arrays)), b.ops_for(arrays[0]), dtype=b.native_dtype("float64"))

    tensor = b.autograd_jacobian(f, [native(name, env[n]) for n in names], names.index(wrt))
    from fdcheck.layout import tensor_to_matrix
    out_shape = tensor.shape[: tensor.ndim - 2]
    assert np.allclose(tensor_to_matrix(tensor, out_shape, (3, 3), "C"), exact(env), atol=1e-10)
