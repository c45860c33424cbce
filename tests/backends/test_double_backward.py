"""The double backward in full, as gradgradcheck checks it: the backward's
Jacobian in every input (mixed blocks included) and in the cotangent v."""
import re
import numpy as np
import pytest

import fdcheck

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy


def torch_mul(detach_other: bool, times=lambda g, x: g * x):
    """a * b as a Function whose backward may detach the other input: right at
    first order, wrong in the mixed second derivatives d2/dadb; ``times(g, x)``
    is how its backward multiplies."""
    class Mul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            if detach_other:
                return times(g, b.detach()), times(g, a.detach())
            return times(g, b), times(g, a)
    return Mul.apply


def torch_twice(v_factor: float):
    """2x as a Function whose backward is itself a Function, whose own backward
    (the double backward in v) returns ``v_factor`` h: right for 2."""
    class Backward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, g):
            return 2 * g

        @staticmethod
        def backward(ctx, h):
            return v_factor * h

    class Twice(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return Backward.apply(g)
    return Twice.apply


def jax_mul(detach_other: bool):
    @jax.custom_vjp
    def mul(a, b):
        return a * b

    def fwd(a, b):
        return a * b, (a, b)

    def bwd(res, g):
        a, b = res
        if detach_other:
            a, b = jax.lax.stop_gradient(a), jax.lax.stop_gradient(b)
        return g * b, g * a
    mul.defvjp(fwd, bwd)
    return mul


A = np.array([[0.3, -1.1, 0.8], [0.7, 1.9, -0.2]])
B = np.array([[1.2, 0.4, -0.6], [-0.9, 0.5, 1.4]])


def _t(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def failing(result):
    return sorted((c.of, c.wrt, c.cotangent) for c in result.checks if not c.passed)


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("detach, fails", [
    (False, []),
    (True, [("a", "b", False), ("b", "a", False)]),       # only the mixed blocks
])
def test_a_backward_that_detaches_the_other_input_fails_the_mixed_blocks(framework, detach, fails):
    if framework == "torch":
        mul, args = torch_mul(detach), (_t(A), _t(B))
    else:
        mul, args = jax_mul(detach), (jnp.asarray(A), jnp.asarray(B))
    f = lambda a, b: mul(a, b)  # noqa: E731
    first = fdcheck.check(f, *args)
    assert first.passed                                      # first order cannot see it
    result = fdcheck.check(f, *args, derivatives=2)
    assert failing(result) == fails, str(result)
    blocks = [(c.of, c.wrt) for c in result.checks if c.derivative == 2]
    assert blocks == [("a", "a"), ("b", "a"), ("a", "b"), ("b", "b"), ("a", "v"), ("b", "v")]


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("detach, fails", [
    (False, []),
    (True, [("(a,b)", "a", False), ("(a,b)", "b", False)]),   # the mixed blocks, inside each
])
def test_along_directions_the_whole_backward_is_differentiated(framework, detach, fails):
    # Each input's products of the backward h (both gradients joined), and v's after the last.
    if framework == "torch":
        mul, args = torch_mul(detach), (_t(A), _t(B))
    else:
        mul, args = jax_mul(detach), (jnp.asarray(A), jnp.asarray(B))
    result = fdcheck.check(lambda a, b: mul(a, b), *args, derivatives=2, directions=3,
                           locate=False)
    assert failing(result) == fails, str(result)
    blocks = [(c.of, c.wrt, c.cotangent) for c in result.checks if c.derivative == 2]
    assert blocks == [("(a,b)", "a", False), ("(a,b)", "b", False), ("(a,b)", "v", True)]


@pytest.mark.parametrize("v_factor, passes", [(2.0, True), (3.0, False)])
def test_a_double_backward_wrong_in_the_cotangent_fails_the_v_block(v_factor, passes):
    twice = torch_twice(v_factor)
    f = lambda x: twice(x)  # noqa: E731
    assert fdcheck.check(f, _t(A)).passed
    result = fdcheck.check(f, _t(A), derivatives=2)
    assert result.passed is passes, str(result)
    if not passes:
        (c,) = [c for c in result.checks if not c.passed]
        assert c.cotangent and c.of == "x" and c.wrt == "v"
        assert c.worst.numeric == pytest.approx(2.0) and c.worst.reference == pytest.approx(3.0)
        assert re.search(r"FAIL torch d\(v\.df/dx\)/dv: d\(v\.df/dx\d+\)/dv\d+: numeric", str(result))


def test_a_scalar_function_of_two_inputs_checks_the_whole_hessian():
    # f = sum(a * sin(b)): d2f/dadb = diag(cos b), and the two cross blocks are each other's
    # transposes; a backward that forgets the cross term is caught in both.
    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return (a * torch.sin(b)).sum()

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * torch.sin(b.detach()), g * a * torch.cos(b)
    result = fdcheck.check(lambda a, b: Wrong.apply(a, b), _t(A), _t(B), derivatives=2)
    assert failing(result) == [("a", "b", False)], str(result)
    (c,) = [c for c in result.checks if not c.passed]
    assert c.worst.input == c.worst.output                      # the diagonal of diag(cos b)
    assert c.worst.numeric == pytest.approx(np.cos(B[c.worst.input]), rel=1e-6)
    assert re.search(r"FAIL torch d2f/dadb: d2f/da\d+db\d+: numeric", str(result))
    right = fdcheck.check(lambda a, b: (a * torch.sin(b)).sum(), _t(A), _t(B), derivatives=2)
    assert right.passed and len(right.checks) == 2 + 4 + 2


def test_an_input_named_v_keeps_its_name_and_the_cotangent_is_renamed():
    result = fdcheck.check(lambda v: (v ** 3).sum(), _t(A), derivatives=2)
    assert result.passed
    assert [(c.of, c.wrt) for c in result.checks if c.derivative == 2] == [("v", "v"), ("v", "v_")]


def test_the_double_backward_in_every_variable_comes_from_one_pass_an_entry_of_h():
    # h(a, b, v) = (v b, v a), 2 n entries: the framework's Jacobian of h in a, b and v
    # takes one backward pass an entry, for all three variables at once (not one an
    # entry and variable). Counted through a Function inside the backward.
    calls = []

    class Scaled(torch.autograd.Function):          # g * x, its own backward counted
        @staticmethod
        def forward(ctx, g, x):
            ctx.save_for_backward(g, x)
            return g * x

        @staticmethod
        def backward(ctx, gg):
            calls.append(1)
            g, x = ctx.saved_tensors
            return gg * x, gg * g

    n = 3
    a = torch.linspace(0.5, 1.5, n, dtype=torch.float64, requires_grad=True)
    b = torch.linspace(-1.0, 1.0, n, dtype=torch.float64, requires_grad=True)
    result = fdcheck.check(torch_mul(False, Scaled.apply), a, b, derivatives=2, locate=False)
    assert result.passed
    # 2 n rows of h, each a backward pass through both Scaled nodes: 4 n, not 3 x 4 n.
    assert len(calls) == 2 * (2 * n)


def test_a_block_at_rounding_level_is_judged_at_the_scale_of_its_whole_jacobian():
    # polar(r, t) = r e^{it} is linear in r: d2/dr2 is 0, which torch computes to rounding
    # (4e-18). Beside d2/dtdr, of size 1, in the same Jacobian of the backward in r, that
    # block is judged at the whole's scale, not called "unverifiable" at its own.
    r = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(-0.6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(torch.polar, (r, t))
    result = fdcheck.check(torch.polar, r, t, derivatives=2)
    assert result.passed, str(result)
    assert fdcheck.gradgradcheck(torch.polar, (r, t))


def test_a_wrong_block_beside_one_at_rounding_level_is_still_caught():
    # The same whole scale must not hide a mistake: the mixed block of a detached
    # backward still fails.
    a = torch.tensor([1.3, 0.7], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.4, -1.1], dtype=torch.float64, requires_grad=True)
    result = fdcheck.check(torch_mul(True), a, b, derivatives=2)
    bad = {(c.of, c.wrt) for c in result.checks if not c.passed}
    assert bad == {("x0", "x1"), ("x1", "x0")}     # names of the lambda's arguments: x0, x1


def torch_plus(tiny: float):
    """a^2 + b as a Function, right at first order, whose backward's gradient
    of b is g through a Function whose own backward adds ``tiny`` gg to b's
    (g does not depend on b: the double backward says d(grad b)/db = tiny v,
    every block of h's Jacobian in b being 0 or that)."""
    class Through(torch.autograd.Function):
        @staticmethod
        def forward(ctx, g, b):
            return g.clone()

        @staticmethod
        def backward(ctx, gg):
            return gg, tiny * gg

    class Plus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * a + b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return 2 * a * g, Through.apply(g, b)
    return Plus.apply


@pytest.mark.parametrize("tiny, passes", [
    (1e-17, True),     # rounding beside d(grad a)/da = 2 v
    (1e-3, False),     # a wrong double backward
])
def test_a_variable_whose_blocks_are_all_at_rounding_level_is_judged_at_the_whole_scale(tiny, passes):
    # Every block of h's Jacobian in b is 0 or tiny: judged at its own scale, 1e-17
    # was "unverifiable" (a failing check); gradgradcheck's one Jacobian of the
    # backward in all its inputs is the whole, as fdcheck's scale is now.
    a = torch.tensor([1.3, 0.7], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.4, -1.1], dtype=torch.float64, requires_grad=True)
    plus = torch_plus(tiny)
    result = fdcheck.check(lambda a, b: plus(a, b), a, b, derivatives=2)
    verdicts = {(c.of, c.wrt): c.verdict for c in result.checks if c.derivative == 2}
    assert verdicts[("b", "b")] == ("passed" if passes else "mismatch"), str(result)
    assert result.passed is passes
    assert torch.autograd.gradgradcheck(plus, (a, b), raise_exception=False) is passes


def test_group_norm_forward_over_reverse_passes_with_zero_tangents():
    # Forward mode holds the other inputs as duals of zero tangent (as gradcheck's
    # forward mode does): group_norm's blocks in its bias, exactly 0, come out at
    # rounding level (4e-17) and are judged at the scale of the whole.
    torch.manual_seed(0)
    x = torch.randn(1, 6, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(6, dtype=torch.float64, requires_grad=True)
    f = lambda x, w, bias: torch.nn.functional.group_norm(x, 2, w, bias)  # noqa: E731
    kwargs = dict(check_fwd_over_rev=True, check_rev_over_rev=False, check_undefined_grad=False)
    assert torch.autograd.gradgradcheck(f, (x, w, bias), **kwargs)
    assert fdcheck.gradgradcheck(f, (x, w, bias), **kwargs)


@pytest.mark.parametrize("shapes", [((), ()), ((3, 1), (3,))])
def test_along_directions_a_block_at_rounding_level_is_judged_at_the_whole_scale(shapes):
    # copysign(a, b) = |a| sign(b): d(grad a)/da is 0, which torch's double backward
    # computes to rounding (2e-18 to 7e-16) through grad * result / a. Checked along
    # directions, that input's products are all at rounding level: beside v's, of
    # size 1, they pass, as the whole Jacobian's block does and torch's fast mode.
    rng = np.random.default_rng(0)
    a, b = (torch.tensor(rng.uniform(-8, -1, size=s), requires_grad=True) for s in shapes)
    result = fdcheck.check(torch.copysign, a, b, derivatives=2, directions=2)
    assert result.passed, str(result)
    assert fdcheck.gradgradcheck(torch.copysign, (a, b), fast_mode=True)
    assert torch.autograd.gradgradcheck(torch.copysign, (a, b), fast_mode=True)


def test_along_directions_a_wrong_block_is_still_caught_beside_the_whole_scale():
    # The detached other input, along directions: its mixed products are 0 where the
    # numeric ones are not; the whole scale does not hide it.
    result = fdcheck.check(lambda a, b: torch_mul(True)(a, b), _t(A), _t(B), derivatives=2,
                           directions=2)
    assert not result.passed
    assert any(c.verdict == "mismatch" and c.derivative == 2 for c in result.checks)
