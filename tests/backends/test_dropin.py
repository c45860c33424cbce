"""fdcheck.gradcheck, gradgradcheck and check_grads as drop-ins: torch's and
JAX's signatures and return contracts, and every argument acting or refused."""
import inspect

import numpy as np
import pytest

import fdcheck
from fdcheck import dropin

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy

from .test_double_backward import torch_mul, torch_twice  # noqa: E402
from fdcheck.report.common import check_title  # noqa: E402
from .test_second_order import cube, x_torch  # noqa: E402


def sin_rule(backward):
    """sin as a Function whose backward is ``backward(x, g)``."""
    class Sin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            return backward(ctx.saved_tensors[0], g)
    return Sin.apply


def scaled_sin(factor):
    """sin as a Function whose backward is off by ``factor``."""
    return sin_rule(lambda x, g: g * x.cos() * factor)


def x64(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed),
                       requires_grad=True)


@pytest.mark.parametrize("ours, theirs", [
    (dropin.gradcheck, "gradcheck"), (dropin.gradgradcheck, "gradgradcheck")])
def test_the_signatures_are_torchs(ours, theirs):
    mine, torchs = inspect.signature(ours), inspect.signature(getattr(torch.autograd, theirs))
    assert [(p.name, p.kind, p.default) for p in mine.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in torchs.parameters.values()]


def test_the_signature_is_jaxs():
    from jax.test_util import check_grads
    assert [(p.name, p.default) for p in inspect.signature(dropin.check_grads).parameters.values()] \
        == [(p.name, p.default) for p in inspect.signature(check_grads).parameters.values()]


@pytest.mark.parametrize("func, inputs", [
    (torch.sin, (x64(3, 4),)),
    (lambda a, w: torch.tanh(a @ w), (x64(2, 3), x64(3, 2, seed=1))),
    (lambda a, w: a @ w, (x64(2, 3), torch.randn(3, 2, dtype=torch.float64))),  # w fixed
    (lambda a: (a.sin(), a.cos()), (x64(2, 2),)),                                 # two outputs
])
def test_right_functions_pass_as_in_torch(func, inputs):
    assert torch.autograd.gradcheck(func, inputs)
    assert fdcheck.gradcheck(func, inputs) is True
    if not isinstance(func(*inputs), tuple):
        assert torch.autograd.gradgradcheck(func, inputs)
        assert fdcheck.gradgradcheck(func, inputs) is True


def test_a_wrong_backward_raises_torchs_error_with_fdchecks_report():
    f, x = scaled_sin(1.01), x64(3, 4)
    from torch.autograd.gradcheck import GradcheckError
    with pytest.raises(GradcheckError) as caught:
        fdcheck.gradcheck(f, (x,))
    assert isinstance(caught.value, AssertionError) and isinstance(caught.value, RuntimeError)
    assert "FAIL torch df/dx" in str(caught.value) and not caught.value.result.passed
    assert fdcheck.gradcheck(f, (x,), raise_exception=False) is False


@pytest.mark.parametrize("atol, rtol, passes", [
    (1e-5, 1e-3, False),     # torch's defaults: fdcheck's own tolerance, which sees 1%
    (0.05, 0.0, True),       # given: used as given
    (0.0, 0.02, True),
    (0.0, 0.005, False),
])
def test_atol_and_rtol_other_than_torchs_defaults_are_used(atol, rtol, passes):
    assert fdcheck.gradcheck(scaled_sin(1.01), (x64(3, 4),), atol=atol, rtol=rtol,
                             raise_exception=False) is passes


@pytest.mark.parametrize("eps, atol, rtol, keywords", [
    (1e-6, 1e-5, 1e-3, {"step": None, "atol": None, "rtol": None}),
    (1e-3, 1e-5, 1e-3, {"step": 1e-3, "atol": None, "rtol": None}),
    (1e-6, 1e-7, 1e-3, {"step": None, "atol": 1e-7, "rtol": 1e-3}),
    (1e-6, 1e-5, 0.0, {"step": None, "atol": 1e-5, "rtol": 0.0}),
])
def test_eps_atol_rtol_reach_the_check_unless_torchs_defaults(monkeypatch, eps, atol, rtol,
                                                              keywords):
    seen = {}
    real = dropin.check

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)
    monkeypatch.setattr(dropin, "check", spy)
    fdcheck.gradcheck(torch.sin, (x64(3),), eps=eps, atol=atol, rtol=rtol, raise_exception=False)
    assert {k: seen[k] for k in keywords} == keywords
    assert seen["behaviours"] == ["reentrant", "undefined-grad"]     # torch's defaults


def test_forward_ad_checks_the_jvp():
    f = cube(jvp_factor=2.0)
    assert fdcheck.gradcheck(f, (x_torch(),))
    assert fdcheck.gradcheck(f, (x_torch(),), check_forward_ad=True,
                             raise_exception=False) is False
    assert not torch.autograd.gradcheck(f, (x_torch(),), check_forward_ad=True,
                                        raise_exception=False)


@pytest.mark.parametrize("size, directions", [(6, None), (40, None), (41, 2)])
def test_fast_mode_uses_directions_only_where_they_cost_less(size, directions):
    assert dropin._fast(True, [x64(size)]) == directions
    assert dropin._fast(False, [x64(size)]) is None


@pytest.mark.parametrize("sizes, directions", [((1, 1), None), ((2, 2), None), ((2, 3), 2),
                                              ((25,), 2)])
def test_gradgradchecks_fast_mode_uses_directions_beyond_a_few_elements(sizes, directions):
    inputs = [x64(n) for n in sizes]
    assert dropin._fast_second(True, inputs) == directions
    assert dropin._fast_second(False, inputs) is None


@pytest.mark.parametrize("fast, most", [(False, 400), (True, 60)])
def test_gradgradchecks_fast_mode_costs_fewer_evaluations_of_the_backward(fast, most):
    # sin of a 5 x 5 input: whole, h (the backward, one point a call) is evaluated
    # 2 (25 + 25) times and more; along 2 directions, a few dozen.
    calls = []

    def f(x):
        calls.append(1)
        return torch.sin(x)
    assert fdcheck.gradgradcheck(f, (x64(5, 5),), fast_mode=fast)
    assert (len(calls) <= most) and (fast or len(calls) > 100), len(calls)


@pytest.mark.parametrize("fast", [False, True])
def test_gradgradchecks_fast_mode_still_catches_a_wrong_double_backward(fast):
    mul = torch_mul(True)
    inputs = (x64(2, 3), x64(2, 3, seed=1))
    assert fdcheck.gradgradcheck(mul, inputs, fast_mode=fast, raise_exception=False) is False
    assert torch.autograd.gradgradcheck(mul, inputs, fast_mode=fast, raise_exception=False) \
        is False


def test_fast_mode_still_catches_a_wrong_backward():
    assert fdcheck.gradcheck(scaled_sin(1.01), (x64(10, 10),), fast_mode=True,
                             raise_exception=False) is False


def test_gradgradcheck_catches_the_detached_other_input_as_torchs_does():
    mul = torch_mul(True)
    inputs = (x64(2, 3), x64(2, 3, seed=1))
    assert fdcheck.gradcheck(mul, inputs)
    assert not torch.autograd.gradgradcheck(mul, inputs, raise_exception=False)
    assert fdcheck.gradgradcheck(mul, inputs, raise_exception=False) is False


def unary_rule(forward, backward, jvp):
    """A Function of one input: ``forward(x)``, ``backward(x, g)``, ``jvp(x, t)``."""
    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return forward(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.x = inputs[0]

        @staticmethod
        def backward(ctx, g):
            return backward(ctx.saved_tensors[0], g)

        @staticmethod
        def jvp(ctx, t):
            return jvp(ctx.x, t)
    return Rule.apply


def sin_over_cos_rule():
    """sin whose backward and jvp are right at first order, its backward
    calling a cos whose backward is right and whose jvp is not (+sin):
    differentiated by reverse mode, the backward is right; by forward mode
    (forward over reverse), the cos's wrong jvp makes it wrong."""
    cos = unary_rule(torch.cos, lambda x, g: -g * x.sin(), lambda x, t: t * x.sin())
    return unary_rule(torch.sin, lambda x, g: g * cos(x), lambda x, t: t * x.cos())


@pytest.mark.parametrize("right, fwd, rev, passes", [
    (False, False, True, True), (False, True, False, False), (False, True, True, False),
    (True, True, False, True), (True, True, True, True)])
@pytest.mark.parametrize("shape, fast", [((2, 3), False), ((7, 7), True)])
def test_forward_over_reverse_is_checked_as_torchs(right, fwd, rev, passes, shape, fast):
    # (right: torch's own sin, whose backward's JVP is right; 49 elements in
    # fast mode: along directions.)
    f, inputs = (lambda x: torch.sin(x) * x) if right else sin_over_cos_rule(), (x64(*shape),)
    kwargs = dict(check_fwd_over_rev=fwd, check_rev_over_rev=rev, check_undefined_grad=rev,
                  raise_exception=False, fast_mode=fast)
    assert fdcheck.gradgradcheck(f, inputs, **kwargs) is passes
    assert torch.autograd.gradgradcheck(f, inputs, **kwargs) is passes


def test_forward_over_reverse_holds_the_other_inputs_with_zero_tangents():
    # mse_loss's double backward writes in place to the tangent of the input
    # not perturbed: undefined, it was a ZeroTensor, which refuses it.
    inputs = (x64(5), x64(5, seed=1))
    kwargs = dict(check_fwd_over_rev=True, check_rev_over_rev=False, check_undefined_grad=False)
    assert torch.autograd.gradgradcheck(torch.nn.functional.mse_loss, inputs, **kwargs)
    assert fdcheck.gradgradcheck(torch.nn.functional.mse_loss, inputs, **kwargs)


def test_forward_mode_at_first_order_leaves_the_other_inputs_tangents_undefined():
    # native_group_norm's rstd does not depend on the weight: with undefined tangents
    # for the other inputs torch's forward mode gives exact zeros; with zero tangents
    # (as at second order) 3e-18, beside an rstd block all 0: unverifiable.
    torch.manual_seed(0)
    inputs = (torch.randn(1, 6, 3, dtype=torch.float64, requires_grad=True),
              torch.randn(6, dtype=torch.float64, requires_grad=True),
              torch.randn(6, dtype=torch.float64, requires_grad=True))
    f = lambda x, w, b: torch.native_group_norm(x, w, b, 1, 6, 3, 2, 1e-5)  # noqa: E731
    kwargs = dict(check_forward_ad=True, check_backward_ad=False, check_undefined_grad=False)
    assert torch.autograd.gradcheck(f, inputs, **kwargs)
    assert fdcheck.gradcheck(f, inputs, **kwargs)


def test_forward_over_reverse_fails_only_its_own_checks():
    result = fdcheck.check(sin_over_cos_rule(), x64(2, 3), derivatives=2,
                           modes=("reverse", "forward"))
    failing = {(c.derivative, c.mode, c.wrt) for c in result.checks if not c.passed}
    # d(J^T v)/dx is wrong by forward mode; d(J^T v)/dv = J^T is Sin's own cos, right.
    assert failing == {(2, "forward", "x")}, failing


def test_gradgradcheck_uses_the_grad_outputs_given():
    # With v = 0 the mixed blocks are 0 on both sides: the detached input cannot show.
    mul = torch_mul(True)
    inputs = (x64(2, 3), x64(2, 3, seed=1))
    assert fdcheck.gradgradcheck(mul, inputs, grad_outputs=(torch.zeros(2, 3, dtype=torch.float64),))
    with pytest.raises(ValueError, match="cotangent has shape"):
        fdcheck.gradgradcheck(mul, inputs, grad_outputs=torch.zeros(5, dtype=torch.float64))


@pytest.mark.parametrize("call, error, message", [
    (lambda: fdcheck.gradcheck(torch.sin, (x64(3),), check_backward_ad=False), ValueError,
     "at least one of check_forward_ad"),
    (lambda: fdcheck.gradcheck(torch.sin, (torch.ones(3, dtype=torch.float64),)), ValueError,
     "at least one input tensor to require gradient"),
    (lambda: fdcheck.gradgradcheck(torch.sin, (x64(3),), check_rev_over_rev=False,
                                   check_undefined_grad=False), ValueError,
     "at least one of check_fwd_over_rev or check_rev_over_rev"),
    (lambda: fdcheck.gradgradcheck(torch.sin, (x64(3),), check_fwd_over_rev=True,
                                   check_rev_over_rev=False), ValueError,
     "check_undefined_grad=True requires check_rev_over_rev"),
    (lambda: fdcheck.check_grads(jnp.sin, (jnp.ones(3),), order=3), ValueError, "orders 1 and 2"),
    (lambda: fdcheck.check_grads(jnp.sin, (jnp.ones(3),), order=1, modes=["sideways"]),
     ValueError, "each of 'fwd', 'rev'"),
])
def test_what_is_not_checked_is_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


def softplus_vjp(rule):
    @jax.custom_vjp
    def softplus(x):
        return jnp.logaddexp(x, 0.0)

    def fwd(x):
        return softplus(x), x

    def bwd(x, g):
        return (g * rule(x),)
    softplus.defvjp(fwd, bwd)
    return softplus


X = jnp.asarray(np.array([[0.3, -1.1, 2.0], [0.7, 1.9, -0.2]]))


@pytest.mark.parametrize("rule, order, modes, passes", [
    (jax.nn.sigmoid, 2, ("rev",), True),
    (lambda x: 1.01 * jax.nn.sigmoid(x), 1, ("rev",), False),
    (lambda x: jax.lax.stop_gradient(jax.nn.sigmoid(x)), 1, ("rev",), True),
    (lambda x: jax.lax.stop_gradient(jax.nn.sigmoid(x)), 2, ("rev",), False),
])
def test_check_grads_as_jaxs(rule, order, modes, passes):
    from jax.test_util import check_grads
    f = softplus_vjp(rule)
    g = lambda x: jnp.sum(f(x) ** 2)  # noqa: E731
    with jax.enable_x64(True):
        x = jnp.asarray(np.asarray(X), dtype=jnp.float64)
        if passes:
            assert fdcheck.check_grads(g, (x,), order, modes) is None
            check_grads(g, (x,), order, modes)
        else:
            with pytest.raises(AssertionError, match="FAIL jax"):
                fdcheck.check_grads(g, (x,), order, modes)
            with pytest.raises(AssertionError):
                check_grads(g, (x,), order, modes)


@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_check_grads_differentiates_the_backward_in_each_mode(modes):
    from jax.test_util import check_grads
    g = lambda x: jnp.sum(jnp.tanh(x) ** 2)  # noqa: E731
    with jax.enable_x64(True):
        x = jnp.asarray(np.asarray(X), dtype=jnp.float64)
        assert fdcheck.check_grads(g, (x,), 2, modes) is None
        check_grads(g, (x,), 2, modes)
        result = fdcheck.check(g, x, derivatives=2,
                               modes=tuple(dropin.JAX_MODES[m] for m in modes))
    assert {c.mode for c in result.checks if c.derivative == 2} \
        == {dropin.JAX_MODES[m] for m in modes}


def viewing_sin():
    """sin as a Function whose backward assumes a contiguous gradient, as a
    kernel of an extension may."""
    def backward(x, g):
        if not g.is_contiguous():
            raise RuntimeError("the kernel needs a contiguous gradient")
        return g * x.cos()
    return sin_rule(backward)


def test_non_contiguous_grad_outputs_reach_the_backward():
    f, x = viewing_sin(), x64(3, 4)
    assert fdcheck.gradgradcheck(f, (x,))
    with pytest.raises(RuntimeError, match="needs a contiguous gradient"):
        torch.autograd.gradgradcheck(f, (x,), gen_non_contig_grad_outputs=True)
    with pytest.raises(RuntimeError, match="needs a contiguous gradient"):
        fdcheck.gradgradcheck(f, (x,), gen_non_contig_grad_outputs=True)



def test_gradgradcheck_in_fast_mode_checks_along_directions():
    # 50 elements: fast_mode checks along directions, the whole backward by products.
    inputs = (x64(5, 10), x64(5, 10, seed=1))
    assert fdcheck.gradgradcheck(torch_mul(False), inputs, fast_mode=True)
    assert not fdcheck.gradgradcheck(lambda a: twice_wrong(a), (x64(5, 10),), fast_mode=True,
                                     raise_exception=False)


@pytest.mark.parametrize("func, inputs, failing", [
    # The other input detached: only the mixed blocks are wrong (d2f/d(x0,x1)dx0 holds them).
    (lambda: torch_mul(True), 2, ["d2(v.f)/d(x0,x1)dx0", "d2(v.f)/d(x0,x1)dx1"]),
    # 2x whose double backward returns 3h: only the derivative in v is wrong.
    (lambda: torch_twice(3.0), 1, ["d(v.df/dx)/dv"]),
    (lambda: torch_mul(False), 2, []),
    (lambda: torch_twice(2.0), 1, []),
])
def test_fast_mode_checks_the_mixed_blocks_and_the_cotangent(func, inputs, failing):
    # torch's fast mode catches both; fdcheck's did not, checking each input's own block alone.
    xs = tuple(x64(5, 10, seed=k) for k in range(inputs))
    assert fdcheck.gradgradcheck(func(), xs, fast_mode=True, raise_exception=False) is not failing
    result = fdcheck.check(func(), *xs, derivatives=2, directions=2, locate=False)
    second = [c for c in result.checks if c.derivative == 2]
    assert [c.wrt for c in second] == (["x"] if inputs == 1 else ["x0", "x1"]) + ["v"]
    assert [check_title(c).removeprefix("torch ") for c in second if not c.passed] == failing
    assert [c.cotangent for c in second] == [False] * inputs + [True]


def twice_wrong(a):
    """sin, whose backward's own backward is off by 1.01 (double backward scaled)."""
    class Backward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, g, x):
            ctx.save_for_backward(g, x)
            return g * x.cos()

        @staticmethod
        def backward(ctx, h):
            g, x = ctx.saved_tensors
            return h * x.cos(), -1.01 * h * g * x.sin()
    return sin_rule(lambda x, g: Backward.apply(g, x))(a)


def test_a_zero_derivative_autograd_keeps_without_storage_is_read_as_zeros():
    # torch's derivative of sgn is a ZeroTensor, which has no values to convert.
    x = x64(3, 4)
    assert fdcheck.gradcheck(torch.sgn, (x,))


NO_TORCH = """
import sys
import jax, jax.numpy as jnp
import fdcheck

@jax.custom_vjp
def f(x):
    return jnp.sin(x)
f.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (1.5 * g * jnp.cos(x),))
try:
    fdcheck.check_grads(f, (jnp.asarray([0.3, 1.2]),), 1, ["rev"])
except AssertionError as exc:
    print(isinstance(exc, RuntimeError), "torch" in sys.modules)
"""


def test_a_failing_check_grads_leaves_pytorch_unimported():
    # A JAX suite pays nothing for PyTorch: its error class stands in for torch's.
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False"]
