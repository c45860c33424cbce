"""What gradgradcheck, check_forward_ad and check_grads(order=2, modes=[fwd, rev]) check:
second derivatives, forward mode and products, on correct and buggy custom rules."""
import numpy as np
import pytest

import fdcheck

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy

from .test_jax_backend import make_softplus as make_softplus_vjp  # noqa: E402
from fdcheck.report import notes_text


def cube(backward_detaches=False, jvp_factor=3.0, with_jvp=True, vmap=False):
    """x**3 as a torch Function, with the bugs people write into one."""
    class Cube(torch.autograd.Function):
        generate_vmap_rule = vmap

        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)
            ctx.x = x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            if backward_detaches:
                x = x.detach()              # the backward is then not differentiable
            return 3 * x ** 2 * g

    if with_jvp:
        Cube.jvp = staticmethod(lambda ctx, t: jvp_factor * ctx.x ** 2 * t)
    return Cube.apply


def x_torch():
    return torch.tensor([[0.3, -1.1], [0.7, 1.9], [-0.4, 0.5]], dtype=torch.float64,
                        requires_grad=True)


def test_a_correct_function_passes_every_check():
    f = cube()
    result = fdcheck.check(lambda x: f(x).sum(), x_torch(), derivatives=2,
                           modes=("reverse", "forward"))
    assert result.passed, str(result)
    assert [(c.derivative, c.mode, c.cotangent) for c in result.checks] == [
        (1, "reverse", False), (1, "forward", False), (2, "reverse", False),
        (2, "forward", False), (2, "reverse", True), (2, "forward", True)]


@pytest.mark.parametrize("scalar", [True, False])
def test_a_backward_that_is_not_differentiable_passes_first_order_and_fails_second(scalar):
    f = cube(backward_detaches=True)
    g = (lambda x: f(x).sum()) if scalar else f
    assert fdcheck.check(g, x_torch()).passed                     # what gradcheck alone sees
    result = fdcheck.check(g, x_torch(), derivatives=2)
    assert not result.passed
    second, in_v = [c for c in result.checks if c.derivative == 2]
    assert not second.passed and "not differentiable" in " ".join(notes_text(second))
    assert in_v.cotangent and in_v.passed          # the backward is linear in v, and right
    assert "FAIL torch d2" in str(result)


def test_a_wrong_jvp_passes_reverse_mode_and_fails_forward_mode():
    f = cube(jvp_factor=2.0)
    assert fdcheck.check(f, x_torch()).passed
    result = fdcheck.check(f, x_torch(), modes=("reverse", "forward"))
    reverse, forward = result.checks
    assert reverse.passed and not forward.passed and forward.mode == "forward"
    assert forward.worst.reference == pytest.approx(2 / 3 * forward.worst.numeric, rel=1e-6)
    assert "FAIL torch (forward mode) df/dx" in str(result)


def test_a_function_without_a_jvp_fails_forward_mode_with_the_reason():
    result = fdcheck.check(cube(with_jvp=False), x_torch(), modes="forward")
    (c,) = result.checks
    assert not c.passed and c.worst is None and "forward-mode" in notes_text(c)[0]


def make_softplus_jvp(rule):
    @jax.custom_jvp
    def softplus(x):
        return jnp.logaddexp(x, 0.0)

    @softplus.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), rule(x) * t
    return softplus


X_JAX = np.array([[0.3, -1.1, 2.0], [0.7, 1.9, -0.2]])


@pytest.mark.parametrize("make, rule, derivatives, modes, passes", [
    (make_softplus_vjp, jax.nn.sigmoid, 2, ("reverse",), True),
    (make_softplus_vjp, lambda x: 2 * jax.nn.sigmoid(x), 1, ("reverse",), False),
    (make_softplus_jvp, jax.nn.sigmoid, 2, ("reverse", "forward"), True),
    (make_softplus_jvp, lambda x: jax.nn.sigmoid(-x), 1, ("forward",), False),
    (make_softplus_jvp, lambda x: jax.nn.sigmoid(-x), 1, ("reverse",), False),
])
def test_jax_custom_rules(make, rule, derivatives, modes, passes):
    f = make(rule)
    result = fdcheck.check(lambda x: jnp.sum(f(x) ** 2), jnp.asarray(X_JAX),
                           derivatives=derivatives, modes=modes)
    assert result.passed is passes, str(result)


def test_a_custom_vjp_whose_rule_stops_the_gradient_fails_only_second_order():
    # Right at first order, but JAX differentiates the rule itself a second time:
    # stop_gradient inside it makes every second derivative 0 (check_grads(order=2) fails too).
    f = make_softplus_vjp(lambda x: jax.lax.stop_gradient(jax.nn.sigmoid(x)))
    g = lambda x: jnp.sum(f(x))  # noqa: E731
    assert fdcheck.check(g, jnp.asarray(X_JAX)).passed
    result = fdcheck.check(g, jnp.asarray(X_JAX), derivatives=2)
    assert [(c.derivative, c.passed) for c in result.checks] == [(1, True), (2, False), (2, True)]


@pytest.mark.parametrize("modes", [("reverse",), ("forward",)])
def test_directions_never_build_the_framework_jacobian(monkeypatch, modes):
    from fdcheck import backends
    torch_backend = backends.get("torch")
    for name in ("autograd_jacobian", "forward_jacobian"):
        monkeypatch.setattr(torch_backend, name, lambda *a: pytest.fail("a whole Jacobian"))
    x = torch.randn(40, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(0),
                    requires_grad=True)
    result = fdcheck.check(lambda x: torch.tanh(x @ x.T).sum(0), x, directions=2, modes=modes)
    assert result.passed, str(result)


def test_a_wrong_backward_is_caught_and_localized_by_products():
    class Scaled(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.sin(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors if ctx.saved_tensors else (None,)
            grad = torch.cos(ctx.x) * g
            grad[3, 1] = grad[3, 1] * 2                 # one element's derivative doubled
            return grad

    def f(x):
        class Saved(Scaled):
            @staticmethod
            def forward(ctx, x):
                ctx.x = x.detach()
                return torch.sin(x)
        return Saved.apply(x)

    x = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1),
                    requires_grad=True)
    result = fdcheck.check(f, x, directions=3)
    (c,) = result.checks
    assert not c.passed and c.worst.input == (3, 1)
    assert "localized by bisection" in " ".join(notes_text(c))


def test_a_function_vmap_cannot_batch_is_evaluated_one_point_a_call_with_a_note():
    # 12 elements: inputs of fewer than 8 are never tried under vmap.
    x = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).reshape(3, 4).requires_grad_()
    result = fdcheck.check(cube(), x)
    assert result.passed
    assert any("one point a call" in n for n in notes_text(result.checks[0]))
    batched = fdcheck.check(cube(vmap=True), x)
    assert batched.passed and not any("one point a call" in n for n in notes_text(batched.checks[0]))


CASE = """
name: tanh through torch and jax, second order, both modes
inputs: {A: {random: normal, shape: [3, 4], seed: 0}, W: {random: normal, shape: [4, 2], seed: 1}}
function: {L: sum(tanh(A @ W) ** 2)}
wrt: W
autograd: [torch, jax]
derivatives: 2
modes: [reverse, forward]
"""


def test_the_json_of_second_order_and_forward_mode_checks(cli_json, write):
    code, doc = cli_json(write("c.yaml", CASE))
    assert code == 0, doc
    keys = sorted((c["against"], c.get("derivative", 1), c.get("mode", "reverse"))
                  for c in doc["cases"][0]["checks"])
    # At second order, each mode differentiates the backward: reverse over
    # reverse and forward over reverse, block by block.
    assert keys == [("jax", 1, "forward"), ("jax", 1, "reverse"), ("jax", 2, "forward"),
                    ("jax", 2, "forward"), ("jax", 2, "reverse"), ("jax", 2, "reverse"),
                    ("torch", 1, "forward"), ("torch", 1, "reverse"), ("torch", 2, "forward"),
                    ("torch", 2, "forward"), ("torch", 2, "reverse"), ("torch", 2, "reverse")]
    blocks = sorted((c["against"], c.get("of"), c["wrt"], c.get("cotangent", False))
                    for c in doc["cases"][0]["checks"] if c.get("derivative") == 2)
    assert blocks == [("jax", "W", "W", False)] * 2 + [("jax", "W", "v", True)] * 2 \
        + [("torch", "W", "W", False)] * 2 + [("torch", "W", "v", True)] * 2


@pytest.mark.parametrize("key, value, message", [
    ("derivatives", "3", "derivatives is 1 or 2"),
    ("modes", "[sideways]", "'sideways' is not one of reverse, forward"),
    ("directions", "1000000000", "from 1 to 10000"),
])
def test_bad_second_order_keys_are_named(cli_json, write, key, value, message):
    code, doc = cli_json(write("bad.yaml", f"name: b\ninputs: {{x: [1, 2]}}\nfunction: sum(x)\n"
                                           f"autograd: [torch]\n{key}: {value}\n"))
    assert code == 2 and f"key '{key}'" in doc["cases"][0]["error"]
    assert message in doc["cases"][0]["error"]


def test_an_explicit_vmap_that_cannot_batch_is_named_not_a_raw_error():
    from fdcheck.errors import EvaluationError
    old_style = cube()
    result = fdcheck.check(old_style, x_torch(), vectorized="vmap")
    assert result.passed and "vmap cannot batch it" in notes_text(result.checks[0])[0]
    with pytest.raises(EvaluationError, match="vectorized='vmap': the framework's vmap cannot"):
        fdcheck.numeric(old_style, x_torch(), vectorized="vmap")


def test_a_function_apply_is_named_after_its_class():
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g
    assert fdcheck.check(Cube.apply, x_torch()).name == "Cube"


def test_the_one_point_a_call_note_is_written_once_and_only_in_the_verbose_report():
    from fdcheck.report import case_text
    x = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).reshape(3, 4).requires_grad_()
    result = fdcheck.check(cube(jvp_factor=2.0), x, modes=("reverse", "forward"))
    assert all(any("one point a call" in n for n in notes_text(c)) for c in result.checks)
    assert str(result).count("one point a call") == 1                 # verbose: once
    assert not result.passed and "one point a call" not in case_text(result, verbose=False)
