"""PyTorch: custom autograd Functions with correct and wrong backwards, float32."""
import re
import numpy as np
import pytest
import torch

import fdcheck

from ..conftest import WritesItsInput
from ..seed import A, B, W


def make_linear(backward):
    class Linear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, w, b):
            ctx.save_for_backward(a, w)
            return a @ w + b

        @staticmethod
        def backward(ctx, g):
            a, w = ctx.saved_tensors
            return backward(a, w, g)
    return Linear.apply


def right(a, w, g):
    return g @ w.T, a.T @ g, g.sum(0)


def transposed(a, w, g):                       # dW built from the wrong product
    return g @ w.T, (g.T @ a).T.flip(0), g.sum(0)


def missing_factor(a, w, g):                   # forgot the factor 2 of a squared term
    return g @ w.T, a.T @ g / 2, g.sum(0)


def one_entry_off(a, w, g):
    gw = a.T @ g
    gw[2, 0] += 0.5
    return g @ w.T, gw, g.sum(0)


def tensors(dtype=torch.float64):
    return [torch.tensor(x, dtype=dtype, requires_grad=True) for x in (A, W, B)]


def test_a_correct_backward_passes_for_every_input():
    result = fdcheck.check(make_linear(right), *tensors(), output="Z", names=["A", "W", "B"])
    assert result.passed, str(result)
    assert [(c.against, c.wrt) for c in result.checks] == [("torch", "A"), ("torch", "W"), ("torch", "B")]


@pytest.mark.parametrize("backward", [transposed, missing_factor, one_entry_off])
def test_a_wrong_backward_is_caught_and_located(backward):
    result = fdcheck.check(make_linear(backward), *tensors(), output="Z", names=["A", "W", "B"])
    assert not result.passed
    bad = [c for c in result.checks if not c.passed]
    assert [c.wrt for c in bad] == ["W"]                       # only the wrong input is named
    text = str(result)
    assert re.search(r"FAIL torch dZ/dW: dz\d\d/dw\d\d: numeric", text) and "numeric" in text and "torch" in text


def test_one_entry_off_names_the_entry():
    result = fdcheck.check(make_linear(one_entry_off), *tensors(), wrt=1, output="Z", names=["A", "W", "B"])
    (c,) = result.checks
    # W[2,0] is off by 0.5 in the backward; dZ[r,0]/dW[2,0] = A[r,2] for both rows
    assert c.worst.input == (2, 0)
    assert c.worst.reference - c.worst.numeric == pytest.approx(0.5, abs=1e-6)


def test_the_numeric_jacobian_is_taken_on_tensors_of_the_inputs_dtype():
    seen = []

    def f(a, w, b):
        seen.append((type(w), w.dtype, w.device.type, torch.is_grad_enabled()))
        return a @ w + b

    j = fdcheck.jacobian(f, *tensors(torch.float32), wrt=1)
    assert {s[:3] for s in seen} == {(torch.Tensor, torch.float32, "cpu")}
    assert not any(s[3] for s in seen[1:])                    # no autograd graph while perturbing
    assert np.allclose(j, np.kron(A, np.eye(2)), atol=2e-2)


def test_float32_seed_passes_with_default_tolerances_and_a_1_percent_error_fails():
    def loss(a, w, b):
        return torch.tanh(make_linear(right)(a, w, b) / 100).sum()

    def loss_wrong(a, w, b):
        return torch.tanh(make_linear(lambda a, w, g: (g @ w.T, 1.01 * (a.T @ g), g.sum(0)))(a, w, b) / 100).sum()

    ok = fdcheck.check(loss, *tensors(torch.float32), wrt=1)
    assert ok.passed, str(ok)
    assert ok.checks[0].tolerance.source.startswith("default for float32")
    bad = fdcheck.check(loss_wrong, *tensors(torch.float32), wrt=1)
    assert not bad.passed


def test_float64_tolerances_would_false_alarm_on_float32():
    def loss(a, w, b):
        return torch.tanh(make_linear(right)(a, w, b) / 100).sum()
    strict = fdcheck.check(loss, *tensors(torch.float32), wrt=1, atol=1e-6, rtol=1e-5,
                           refine=False)
    assert not strict.passed                                   # why the table is keyed by dtype
    # Re-derived with its error estimate, the float32 rounding is known and allowed for.
    refined = fdcheck.check(loss, *tensors(torch.float32), wrt=1, atol=1e-6, rtol=1e-5)
    assert refined.passed and "Richardson" in str(refined)


def test_requires_grad_selects_the_inputs():
    a, w, b = tensors()
    a.requires_grad_(False)
    b.requires_grad_(False)
    result = fdcheck.check(make_linear(right), a, w, b, names=["A", "W", "B"])
    assert [c.wrt for c in result.checks] == ["W"]


def test_vmap_vectorized_mode_matches_serial():
    f = lambda a, w, b: torch.tanh(a @ w + b)  # noqa: E731
    serial = fdcheck.jacobian(f, *tensors(), wrt=1)
    batched = fdcheck.jacobian(f, *tensors(), wrt=1, vectorized="vmap")
    assert np.allclose(serial, batched, atol=1e-10)


@pytest.mark.parametrize("options, at", [({}, 1), ({}, 2), ({}, 13), ({"vectorized": "vmap"}, 1),
                                         ({"vectorized": "vmap"}, 2)])
def test_an_in_place_write_to_the_input_tensor_is_named_not_differentiated(options, at):
    from fdcheck.errors import EvaluationError
    w = torch.arange(1.0, 7.0, dtype=torch.float64).reshape(2, 3)
    with pytest.raises(EvaluationError, match="writes to its input in place .*in-place operation"):
        fdcheck.numeric(WritesItsInput(at, lambda w: w.mul_(1.5), torch.sin), w, **options)
    assert w.tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize("at", [1, 5])
def test_an_in_place_write_to_another_input_tensor_is_named(at):
    from fdcheck.errors import EvaluationError
    f = WritesItsInput(at, lambda a: a.add_(1.0), lambda a, w: a @ w, which=0)
    a, w = torch.eye(2, dtype=torch.float64), torch.arange(1.0, 5.0, dtype=torch.float64).reshape(2, 2)
    a.add_(0.0)   # a tensor that has been written to before fdcheck sees it is no write of f's
    with pytest.raises(EvaluationError, match="in-place operation on input 0"):
        fdcheck.numeric(f, a, w, wrt=1)


def test_a_tensor_written_to_before_the_check_is_not_taken_for_a_write_of_the_function():
    a = torch.eye(2, dtype=torch.float64)
    a.mul_(2.0)
    w = torch.ones(2, 2, dtype=torch.float64)
    res = fdcheck.numeric(lambda a, w: a @ w, a, w, wrt=1)
    assert np.allclose(res.jacobian, np.kron(2 * np.eye(2), np.eye(2)), atol=1e-9)


def test_a_vmap_rule_that_reads_one_point_for_all_is_found_out():
    # torch.vmap of index_fill over a 0-d value gives every point the last value.
    x = torch.tensor(-4.8, dtype=torch.float64, requires_grad=True)
    v = torch.tensor(-7.5, dtype=torch.float64, requires_grad=True)
    from fdcheck.evaluate import batched_disagrees
    from fdcheck.flatfun import FlatFunction
    f = lambda x, v: torch.index_fill(x, 0, torch.tensor([0]), v)  # noqa: E731
    fn = FlatFunction(f, [x, v], 1, batched_call=torch.vmap(f, in_dims=(None, 0)))
    from fdcheck.notes import note
    assert batched_disagrees(fn) == note("unbatched", how="disagrees")
    assert fdcheck.check(f, x, v).passed


def test_a_sparse_input_is_checked_on_its_stored_entries():
    a = torch.eye(3, dtype=torch.float64).to_sparse_coo().requires_grad_()
    result = fdcheck.check(lambda a: a.to_dense() * 2, a)
    assert result.passed and result.checks[0].entries == 9 * 3      # 9 outputs, 3 stored


@pytest.mark.parametrize("layout", ["to_sparse_coo", "to_sparse_csr"])
def test_a_sparse_input_is_checked_without_a_warning_from_torch(layout):
    # (In a process of its own: torch warns once a process.)
    import subprocess
    import sys
    code = ("import warnings, torch, fdcheck\n"
            "with warnings.catch_warnings():\n"
            "    warnings.simplefilter('ignore')   # the CSR layout's own beta warning\n"
            f"    a = torch.eye(3, dtype=torch.float64).{layout}().requires_grad_()\n"
            "warnings.simplefilter('error', UserWarning)\n"
            "assert fdcheck.check(lambda a: a.to_dense() * 2, a).passed\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.parametrize("wrt, backwards", [
    (["A", "W", "B"], 4),        # Z has 4 entries: one backward pass each, for all three inputs
    (["W"], 4),
])
def test_the_jacobians_of_every_input_come_from_one_backward_pass_an_output_entry(wrt, backwards):
    calls = []

    def counted(a, w, g):
        calls.append(1)
        return right(a, w, g)
    result = fdcheck.check(make_linear(counted), *tensors(), output="Z", names=["A", "W", "B"],
                           wrt=wrt, locate=False)
    assert result.passed and len(result.checks) == len(wrt)
    assert len(calls) == backwards


def test_a_backward_that_fails_for_every_input_is_said_for_each():
    def broken(a, w, g):
        raise ValueError("no backward here")
    result = fdcheck.check(make_linear(broken), *tensors(), output="Z", names=["A", "W", "B"],
                           locate=False)
    assert not result.passed and "no backward here" in str(result)


def test_torchs_warning_of_an_operation_without_a_batching_rule_is_not_the_users():
    # fdcheck evaluates under vmap; tensorsolve has no batching rule and torch warns of
    # it: neither shown, nor (under -W error) a reason to evaluate one point a call.
    import warnings
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 3, 6, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # as pytest -W error: the warning raised inside vmap
        result = fdcheck.check(torch.linalg.tensorsolve, a, b, locate=False)
    assert result.passed
    assert not [n for c in result.checks for n in c.notes if n.kind == "unbatched"]


@pytest.mark.parametrize("shapes, order, lead, expected, view", [
    ([(2, 3)], "C", 0, [0, 1, 2, 3, 4, 5], True),            # one array, row-major: a view
    ([(2, 3)], "F", 0, [0, 3, 1, 4, 2, 5], False),           # column-major: permuted
    ([(2, 3), (2,)], "C", 0, [0, 1, 2, 3, 4, 5, 0, 1], False),
    ([(2, 2, 2)], "C", 1, [[0, 1, 2, 3], [4, 5, 6, 7]], True),
])
def test_join_flattens_in_order_and_one_row_major_array_is_not_copied(shapes, order, lead,
                                                                     expected, view):
    # The backward's result is joined at every evaluation of a second-order check:
    # one array in row-major order is its own reshape.
    from fdcheck.backends.torch_backend import BACKEND
    arrays = [torch.arange(int(np.prod(s)), dtype=torch.float64).reshape(s) for s in shapes]
    joined = BACKEND.join(arrays, order, lead)
    assert joined.tolist() == expected
    assert (joined.data_ptr() == arrays[0].data_ptr()) is view
