"""The behaviours of a PyTorch rule (fdcheck/checks/behaviour.py): what gradcheck
checks besides the values, each a check of its own that fails on the rule
people write wrong."""
import numpy as np
import pytest

import fdcheck
from fdcheck.checks import behaviour
from fdcheck.report import check_json, notes_text

torch = pytest.importorskip("torch")


def sin_function(backward=None, materialize=True, jvp=True, vmap=None, new_style=True):
    """sin as a Function; ``backward(x, g)`` replaces the right one."""
    rule = backward or (lambda x, g: g * x.cos())
    if new_style:
        class Sin(torch.autograd.Function):
            @staticmethod
            def forward(x):
                return x.sin()

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(inputs[0])
                ctx.x = inputs[0]
                ctx.set_materialize_grads(materialize)

            @staticmethod
            def backward(ctx, g):
                return rule(ctx.saved_tensors[0], g)
        if jvp:
            Sin.jvp = staticmethod(lambda ctx, t: t * ctx.x.cos())
        if vmap is not None:
            Sin.vmap = staticmethod(vmap)
        else:
            Sin.generate_vmap_rule = True
        return Sin.apply

    class OldSin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            ctx.set_materialize_grads(materialize)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            return rule(ctx.saved_tensors[0], g)
    return OldSin.apply


X = torch.tensor([[0.3, -1.1, 0.8], [0.7, 1.9, -0.2]], dtype=torch.float64, requires_grad=True)


def only(result, aspect):
    (c,) = [c for c in result.checks if c.aspect == aspect]
    return c


def noisy(x, g):
    return g * x.cos() + 1e-9 * torch.rand_like(x)


@pytest.mark.parametrize("backward, nondet_tol, passes", [
    (None, 0.0, True),
    (noisy, 0.0, False),
    (noisy, 1e-6, True),
])
def test_reentrant(backward, nondet_tol, passes):
    f = sin_function(backward)
    result = fdcheck.check(lambda x: f(x), X, behaviours="reentrant", nondet_tol=nondet_tol)
    c = only(result, "reentrant")
    assert c.passed is passes
    if not passes:
        assert 0 < c.max_abs_error <= 2e-9
        assert "torch backward run twice df/dx" in str(result) and "first run" in str(result)


def test_undefined_grad():
    right = sin_function(lambda x, g: None if g is None else g * x.cos(), materialize=False)
    assert only(fdcheck.check(lambda x: right(x), X, behaviours="undefined-grad"),
                "undefined-grad").passed
    raises = sin_function(materialize=False)                    # g * x.cos() with g None
    c = only(fdcheck.check(lambda x: raises(x), X, behaviours="undefined-grad"), "undefined-grad")
    assert not c.passed and "TypeError" in notes_text(c)[0]
    nonzero = sin_function(lambda x, g: x.cos() if g is None else g * x.cos(), materialize=False)
    c = only(fdcheck.check(lambda x: nonzero(x), X, behaviours="undefined-grad"), "undefined-grad")
    assert not c.passed and c.worst.numeric == 0 and c.worst.reference == pytest.approx(
        np.cos(X.detach().numpy()[c.worst.output]))


def test_dtypes(monkeypatch):
    assert only(fdcheck.check(lambda x: x.sin(), X, behaviours="dtypes"), "dtypes").passed
    # torch's engine casts a Function's gradient to its input's dtype; a gradient that reaches
    # fdcheck otherwise is named with what is wrong about it.
    real = behaviour._grads

    def float32(subject, torch_, v=None):
        out, grads, v = real(subject, torch_, v)
        return out, [g.float() for g in grads], v
    monkeypatch.setattr(behaviour, "_grads", float32)
    c = only(fdcheck.check(lambda x: x.sin(), X, behaviours="dtypes"), "dtypes")
    assert not c.passed
    assert "dtype torch.float32 for an input of torch.float64" in notes_text(c)[0]


def leaves_torch(x, g):
    return torch.from_numpy(g.detach().numpy() * np.cos(x.detach().numpy()))


@pytest.mark.parametrize("backward, passes", [(None, True), (leaves_torch, False)])
def test_batched_backward(backward, passes):
    f = sin_function(backward, new_style=False)
    c = only(fdcheck.check(lambda x: f(x), X, behaviours="batched"), "batched")
    assert c.passed is passes
    if not passes:
        assert "vmap could not batch the rule" in notes_text(c)[0]


@pytest.mark.parametrize("kwargs, passes", [
    ({}, True),
    ({"jvp": False}, False),            # no forward mode at all
    ({"new_style": False}, False),      # no setup_context: functorch cannot take it
])
def test_batched_forward(kwargs, passes):
    f = sin_function(**kwargs)
    c = only(fdcheck.check(lambda x: f(x), X, behaviours="batched-forward"), "batched-forward")
    assert c.passed is passes


def doubled_vmap(info, in_dims, x):
    return x.sin() * 2, in_dims[0]


@pytest.mark.parametrize("vmap, fails", [(None, False), (doubled_vmap, True)])
def test_a_vmap_rule_that_disagrees_with_the_forward_fails_unasked(vmap, fails):
    f = sin_function(vmap=vmap)
    x = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(3, 4).requires_grad_()
    result = fdcheck.check(lambda x: f(x), x)
    found = [c for c in result.checks if c.aspect == "batched-values"]
    assert bool(found) is fails and result.passed is not fails
    if fails:
        assert "torch batched function (vmap) df/dx" in str(result)
        assert check_json(found[0])["aspect"] == "batched-values"
        # the values are still checked, one point a call
        assert [c.passed for c in result.checks if c.aspect is None] == [True]


def test_the_json_names_the_aspect():
    result = fdcheck.check(lambda x: x.sin(), X, behaviours=["reentrant", "dtypes"])
    assert [check_json(c).get("aspect") for c in result.checks] == [None, "reentrant", "dtypes"]


@pytest.mark.parametrize("text, message", [
    ("behaviours: [reentrant]\n", "behaviours are checked for PyTorch functions"),
    ("behaviours: [twice]\n", "'twice' is not one of reentrant"),
    ("nondet_tol: -1\n", "must be a finite number >= 0"),
])
def test_bad_behaviour_keys_are_named(cli_json, write, text, message):
    code, doc = cli_json(write("b.yaml", "name: b\ninputs: {x: [1.0, 2.0]}\nfunction: sum(x)\n"
                                         + text))
    error = doc["cases"][0]["error"]
    assert code == 2 and message in error and ("behaviours" in error or "nondet_tol" in error)


def test_a_case_file_asks_for_behaviours(cli_json, write):
    code, doc = cli_json(write("b.yaml", "name: b\ninputs: {x: [1.0, 2.0]}\n"
                                         "function: sum(sin(x))\nbackend: torch\n"
                                         "autograd: torch\nbehaviours: [reentrant, batched]\n"
                                         "nondet_tol: 1e-9\n"))
    assert code == 0
    assert [c.get("aspect") for c in doc["cases"][0]["checks"]] == [None, "reentrant", "batched"]



def test_an_allowance_larger_than_the_gradient_is_the_callers_to_give():
    # prod of many small numbers: gradients near 1e-50; nondet_tol 1e-12 allows two runs
    # to differ by more than the values themselves, as the caller asked.
    x = torch.full((5, 5), 0.01, dtype=torch.float64, requires_grad=True)
    c = only(fdcheck.check(lambda x: x.prod(), x, behaviours="reentrant", nondet_tol=1e-12),
             "reentrant")
    assert c.passed and c.mismatches == 0


class _NumpyCos(torch.autograd.Function):
    """cos whose own backward leaves torch: right, differentiable once more, and
    not batchable under vmap."""
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.cos()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return torch.from_numpy(-g.detach().numpy() * np.sin(x.detach().numpy()))


@pytest.mark.parametrize("backward, first, second", [
    (None, True, True),
    (lambda x, g: g * _NumpyCos.apply(x), True, False),   # only the double backward leaves torch
])
def test_the_double_backward_under_vmap_is_its_own_check(backward, first, second):
    f = sin_function(backward, new_style=False)
    result = fdcheck.check(lambda x: f(x), X, derivatives=2,
                           behaviours=["batched", "batched-second"])
    assert only(result, "batched").passed is first
    c = only(result, "batched-second")
    assert c.passed is second
    if not second:
        assert "vmap could not batch the rule" in notes_text(c)[0]


def test_gradgradchecks_batched_check_is_the_double_backwards():
    # pad, circular, at an empty input: its first-order backward cannot be vmapped
    # (as_strided), its double backward can; torch's gradgradcheck passes it.
    x = torch.zeros(0, 3, 3, dtype=torch.float64, requires_grad=True)
    f = lambda x: torch.nn.functional.pad(x, (1, 1), mode="circular")  # noqa: E731
    assert torch.autograd.gradgradcheck(f, (x,), check_batched_grad=True)
    assert fdcheck.gradgradcheck(f, (x,), check_batched_grad=True)
    with pytest.raises(Exception):
        torch.autograd.gradcheck(f, (x,), check_batched_grad=True)
    assert not fdcheck.gradcheck(f, (x,), check_batched_grad=True, raise_exception=False)


@pytest.mark.parametrize("aspect", sorted(behaviour.ASPECTS))
def test_every_behaviour_has_a_title_in_the_report(aspect):
    from fdcheck.report.common import ASPECTS
    assert aspect in ASPECTS
    y = torch.tensor([0.3, -1.1], dtype=torch.float64, requires_grad=True)
    result = fdcheck.check(lambda x: x.sin(), y, derivatives=2, behaviours=[aspect])
    assert ASPECTS[aspect][0] in fdcheck.report.case_text(result, verbose=True)


@pytest.mark.parametrize("seed", [16, 29])
def test_a_batched_double_backward_differing_by_rounding_passes(seed):
    # tensorsolve's entries are sums of larger terms: batched and one at a time
    # they differ by 1e-17 to 6e-14, ulps of the largest entry, not of their own.
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(2, 3, 6, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    result = fdcheck.check(torch.linalg.tensorsolve, a, b, derivatives=2,
                           behaviours=["batched-second"], locate=False)
    assert [c.passed for c in result.checks if c.aspect == "batched-second"] == [True, True]


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1 + 1e-15, True), (1 + 1e-9, False),
                                            (1.01, False)])
def test_a_batched_backward_off_by_more_than_rounding_fails(monkeypatch, factor, passes):
    # The batched backward's result made ``factor`` times off: a few ulps pass, 1e-9 does not.
    real = torch.autograd.grad

    def grad(*args, **kwargs):
        found = real(*args, **kwargs)
        if kwargs.get("is_grads_batched"):
            return tuple(None if g is None else g * factor for g in found)
        return found
    monkeypatch.setattr(torch.autograd, "grad", grad)
    c = only(fdcheck.check(lambda x: x.sin() * 3.0, X, behaviours="batched"), "batched")
    assert c.passed is passes
