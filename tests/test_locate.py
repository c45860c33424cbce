"""Locating the wrong rule inside a model (fdcheck/locate.py): every custom rule
the function calls, checked on its own in call order."""
import json

import numpy as np
import pytest

import fdcheck
from fdcheck.report import results_json

torch = pytest.importorskip("torch")


class Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, W):
        ctx.save_for_backward(A, W)
        return A @ W

    @staticmethod
    def backward(ctx, G):
        A, W = ctx.saved_tensors
        return G @ W.T, A.T @ G


def _softplus(factor):
    class Softplus(torch.autograd.Function):     # the setup_context style
        @staticmethod
        def forward(x):
            return torch.nn.functional.softplus(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return factor * g * torch.sigmoid(x)
    return Softplus


class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        return 3 * g


def _model(factor):
    softplus = _softplus(factor)

    def model(A, W1, W2):
        h = softplus.apply(Linear.apply(A, W1))
        return Scale.apply(Linear.apply(h, W2)).sum()
    return model


torch.manual_seed(0)
A = torch.randn(4, 3, dtype=torch.float64)
W1 = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
W2 = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)


def test_the_wrong_rule_of_a_failing_model_is_found_in_call_order():
    result = fdcheck.check(_model(2.0), A, W1, W2)
    assert not result.passed
    found = result.location
    assert [(r.name.split(".")[-1], r.passed) for r in found.rules] == [
        ("Linear", True), ("Softplus", False), ("Linear", True), ("Scale", True)]
    bad = found.first_failing
    assert bad.shapes == ((4, 5),) and bad.site.startswith("test_locate.py:")
    (c,) = [c for c in bad.result.checks if not c.passed]
    assert c.diagnosis[0].kind == "scale" and dict(c.diagnosis[0].fields)["factor"] == 2.0
    text = str(result)
    assert "locate: 4 calls of custom rules; 4 rules, each checked on its own: 1 fails" in text
    assert "FAIL _softplus.<locals>.Softplus (test_locate.py:" in text


@pytest.mark.parametrize("locate, located", [(None, False), (True, True), (False, False)])
def test_a_passing_model_is_located_only_when_asked(locate, located):
    result = fdcheck.check(_model(1.0), A, W1, W2, locate=locate)
    assert result.passed and (result.location is not None) is located
    if located:
        assert all(r.passed for r in result.location.rules) and len(result.location.rules) == 4


def test_locating_can_be_turned_off_for_a_failing_model():
    result = fdcheck.check(_model(2.0), A, W1, W2, locate=False)
    assert not result.passed and result.location is None


def test_the_json_lists_each_rule_with_its_own_checks():
    result = fdcheck.check(_model(2.0), A, W1, W2)
    doc = json.loads(results_json([result]))["cases"][0]["locate"]
    assert [r["passed"] for r in doc["rules"]] == [True, False, True, True]
    assert doc["rules"][1]["shapes"] == [[4, 5]] and doc["rules"][1]["checks"]
    assert doc["recorded"] == 4 and doc["evaluations"] > 0


def test_the_rules_evaluations_are_counted_in_the_case():
    plain = fdcheck.check(_model(2.0), A, W1, W2, locate=False)
    located = fdcheck.check(_model(2.0), A, W1, W2)
    assert located.evaluations == plain.evaluations + located.location.evaluations


def test_jax_custom_vjp_rules_are_located():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    @jax.custom_vjp
    def square(x):
        return x * x

    square.defvjp(lambda x: (square(x), x), lambda x, g: (g * x,))   # 2 missing

    @jax.jit
    def loss(X, W):
        return jnp.sum(square(jnp.tanh(X @ W)))

    rng = np.random.default_rng(0)
    result = fdcheck.check(loss, jnp.asarray(rng.standard_normal((3, 4))),
                           jnp.asarray(rng.standard_normal((4, 2))))
    (rule,) = result.location.rules
    assert not rule.passed and rule.name == "test_jax_custom_vjp_rules_are_located.<locals>.square"


def test_a_case_file_locates_with_its_key_and_the_command_line(tmp_path, monkeypatch, cli):
    (tmp_path / "layers.py").write_text(
        "import torch\n\n"
        "class Double(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, x):\n        return 2 * x\n"
        "    @staticmethod\n    def backward(ctx, g):\n        return 3 * g\n\n"
        "def f(x):\n    return torch.tanh(Double.apply(x)).sum()\n")
    (tmp_path / "c.yaml").write_text("name: layers\nbackend: torch\ninputs: {x: [0.1, 0.2]}\n"
                                     "function: {python: 'layers:f'}\nautograd: torch\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = cli("run", "c.yaml", "--allow-python")
    assert code == 1 and "FAIL Double (layers.py:12)" in out
    code, out, _ = cli("run", "c.yaml", "--allow-python", "--no-locate")
    assert code == 1 and "locate:" not in out


def test_locate_ops_names_the_operation_whose_backward_starts_a_nan():
    def f(x):
        y = torch.sqrt(x)                      # inf * 0 at x = 0: the where-gradient NaN
        return torch.where(x > 0, y, torch.zeros_like(x)).sum()
    x = torch.tensor([0.0, 1.0, 4.0], dtype=torch.float64, requires_grad=True)
    result = fdcheck.check(f, x, locate="ops")
    assert result.location.nan_op.startswith("SqrtBackward0 (test_locate.py:")
    assert "locate: the first operation whose backward returns NaN: SqrtBackward0" in str(result)
    clean = fdcheck.check(lambda x: (x ** 2).sum(), x, locate="ops")
    assert clean.location.nan_op == "" and "no operation's backward returns NaN" in str(clean)


def _wrong_square():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2.02 * x * g
    return Square


X = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("wrap, alone", [
    (lambda rule: (lambda x: rule.apply(x)), True),            # the rule itself
    (lambda rule: (lambda x: rule.apply(x) * 2), False),       # more after the rule
    (lambda rule: (lambda x: rule.apply(x * 1.0)), False),     # other inputs than the case's
    (lambda rule: (lambda x: rule.apply(rule.apply(x))), False),   # called twice
])
def test_a_function_that_is_one_rule_is_not_checked_twice(wrap, alone):
    fn = wrap(_wrong_square())
    unlocated = fdcheck.check(fn, X, locate=False)
    result = fdcheck.check(fn, X)
    assert not result.passed and result.location.alone is alone
    (rule, *_) = result.location.rules
    assert not rule.passed
    if alone:
        assert result.evaluations == unlocated.evaluations and rule.result is not None
        assert result.location.evaluations == 0
        assert "locate: the function is one custom rule, " in str(result)
        assert "the checks above are the rule's" in str(result)
    else:
        assert result.location.evaluations > 0


def test_a_rule_alone_is_checked_on_its_own_where_the_case_expects_more():
    # With a written gradient beside autograd, the whole's result is not the
    # rule's: a right rule whose written gradient is wrong must still pass alone.
    square = _wrong_square()
    right = type("Right", (square,), {"backward": staticmethod(
        lambda ctx, g: 2 * ctx.saved_tensors[0] * g)})
    result = fdcheck.check(lambda x: right.apply(x), X,
                           jacobian=lambda x: np.diag(3 * x.detach().numpy().ravel()))
    assert not result.passed
    assert not result.location.alone and result.location.rules[0].passed


def test_the_json_says_a_function_is_one_rule():
    result = fdcheck.check(lambda x: _wrong_square().apply(x), X)
    doc = json.loads(results_json([result]))["cases"][0]["locate"]
    assert doc["alone"] is True and doc["rules"][0]["passed"] is False
    assert doc["rules"][0]["checks"] == json.loads(results_json([result]))["cases"][0]["checks"]


def test_a_jax_rule_handed_over_is_its_own_one_rule_whatever_its_primal_calls():
    # The derivative of a custom_vjp is its bwd alone: a rule its primal calls
    # (here a right one) is not differentiated, and so not the culprit.
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    @jax.custom_vjp
    def inner(x):
        return jnp.sin(x)
    inner.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (g * jnp.cos(x),))

    @jax.custom_vjp
    def outer(x):
        return inner(x) ** 2
    outer.defvjp(lambda x: (outer(x), x), lambda x, g: (3 * g * jnp.sin(x) * jnp.cos(x),))

    with jax.enable_x64(True):
        x = jnp.asarray([0.3, -1.2, 0.8])
        unlocated = fdcheck.check(outer, x, locate=False)
        result = fdcheck.check(outer, x)
    assert not result.passed and result.location.alone
    (rule,) = result.location.rules
    assert rule.name.endswith("outer") and not rule.passed
    assert result.evaluations == unlocated.evaluations
