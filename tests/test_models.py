"""Models and pytrees (fdcheck/models.py): checks named after parameters and
tree paths."""
from typing import NamedTuple

import numpy as np
import pytest

import fdcheck

W = np.arange(6.0).reshape(2, 3) / 10
b = np.array([0.1, -0.2])
x = np.array([0.3, -0.1, 0.5])


def loss(params, x):
    return np.tanh(params["W"] @ x + params["b"]).sum()


def grad_w(params, x):
    z = params["W"] @ x + params["b"]
    return np.outer(1 - np.tanh(z) ** 2, x)


class Params(NamedTuple):
    W: np.ndarray
    b: np.ndarray


@pytest.mark.parametrize("gradient, passes", [
    (grad_w, True),
    ({"params['W']": 2 * grad_w({"W": W, "b": b}, x)}, False),
])
def test_a_dict_of_parameters_is_checked_leaf_by_leaf_named_by_path(gradient, passes):
    result = fdcheck.check(loss, {"W": W, "b": b}, x, wrt=["params['W']"], gradient=gradient)
    assert result.passed is passes
    (c,) = result.checks
    assert c.wrt == "params['W']"
    if not passes:
        assert "df/dparams['W'][" in str(result)


def test_every_floating_leaf_is_checked_and_the_others_held():
    tree = {"W": W, "b": b, "steps": 3, "name": "dense"}

    def f(p, x):
        assert p["steps"] == 3 and p["name"] == "dense"
        return np.tanh(p["W"] @ x + p["b"]).sum()
    result = fdcheck.check(f, tree, x, gradient={"p['W']": grad_w(tree, x)})
    assert [c.wrt for c in result.checks] == ["p['W']"]      # the reference given
    assert "passed as given and not checked: p['name'] (no array), p['steps'] (not floating)" \
        in str(result)
    numeric = fdcheck.check(f, tree, x, jacobian={"p['b']": 1 - np.tanh(W @ x + b) ** 2})
    assert numeric.passed


def test_a_namedtuple_of_parameters_is_rebuilt_as_one():
    f = lambda p, x: np.tanh(p.W @ x + p.b).sum()  # noqa: E731
    result = fdcheck.check(f, Params(W, b), x, wrt=["p.W"],
                           gradient=lambda p, x: grad_w({"W": p.W, "b": p.b}, x))
    assert result.passed and result.checks[0].wrt == "p.W"


def test_a_nested_list_of_numbers_is_still_one_array():
    result = fdcheck.check(lambda a: np.sum(np.asarray(a) ** 2), [[1.0, 2.0], [3.0, 4.0]],
                           gradient=2 * np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert result.passed and result.checks[0].wrt == "a"


torch = pytest.importorskip("torch")


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                               torch.nn.Linear(4, 2)).double()


@pytest.mark.parametrize("wrt, checked", [
    ("parameters", ["0.weight", "0.bias", "2.weight", "2.bias"]),
    (["*.weight"], ["0.weight", "2.weight"]),
    ("2.bias", ["2.bias"]),
])
def test_a_module_is_checked_by_its_parameter_names(wrt, checked):
    xs = torch.randn(5, 3, dtype=torch.float64)
    result = fdcheck.check(_mlp(), xs, wrt=wrt)
    assert result.passed and [c.wrt for c in result.checks] == checked


def test_a_module_with_a_wrong_custom_layer_names_the_parameter():
    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            return 2 * z

        @staticmethod
        def backward(ctx, g):
            return 3 * g          # wrong

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2).double()
            self.register_buffer("shift", torch.ones(2, dtype=torch.float64))

        def forward(self, x):
            return torch.tanh(Double.apply(self.lin(x)) + self.shift).sum()

    torch.manual_seed(0)
    result = fdcheck.check(Net(), torch.randn(4, 3, dtype=torch.float64), wrt="parameters")
    assert {c.wrt for c in result.checks if not c.passed} == {"lin.weight", "lin.bias"}
    assert "df/dlin.weight[" in str(result)
    assert result.location.first_failing.name.endswith("Double")


def test_a_glob_that_names_no_parameter_is_refused_with_the_names():
    with pytest.raises(ValueError, match="names no parameter.*0.weight"):
        fdcheck.check(_mlp(), torch.randn(5, 3, dtype=torch.float64), wrt=["encoder.*"])


def test_an_equinox_module_is_checked_by_its_leaves_paths():
    jax = pytest.importorskip("jax")
    eqx = pytest.importorskip("equinox")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    model = eqx.nn.MLP(3, 2, 4, 1, key=jax.random.PRNGKey(0))
    model = jax.tree_util.tree_map(
        lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, model)
    result = fdcheck.check(lambda model, x: jnp.sum(model(x) ** 2), model,
                           jnp.array([0.3, -0.2, 0.5]))
    assert result.passed
    assert [c.wrt for c in result.checks] == [
        "model.layers[0].weight", "model.layers[0].bias", "model.layers[1].weight",
        "model.layers[1].bias", "x"]


class _Net(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Linear(n, n).double()
        self.unused = torch.nn.Linear(2, 2).double()

    def forward(self, x):
        return torch.tanh(self.a(x)).sum()


def test_a_parameter_the_output_does_not_depend_on_is_said():
    result = fdcheck.check(_Net(3), torch.randn(4, 3, dtype=torch.float64), wrt="parameters")
    notes = {c.wrt: [n.kind for n in c.notes] for c in result.checks}
    assert "disconnected" in notes["unused.weight"] and "disconnected" not in notes["a.weight"]
    assert "the output does not depend on unused.bias" in str(result)


def test_directions_per_parameter_tensor_cost_what_the_tensors_count_not_their_size():
    costs = []
    for n in (20, 80):                                  # 16 times the parameters
        result = fdcheck.check(_Net(n), torch.randn(4, n, dtype=torch.float64),
                               wrt="parameters", directions=2)
        assert result.passed
        costs.append(result.evaluations)
    assert costs[1] < 1.5 * costs[0]
