"""Sparse PyTorch inputs (fdcheck/sparseinputs.py): stored entries (masked) or
the dense form, and the layout of the gradient PyTorch returns."""
import warnings

import pytest

import fdcheck
from fdcheck import sparseinputs

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DENSE = [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]


def coo():
    return torch.tensor(DENSE, dtype=torch.float64).to_sparse().requires_grad_()


def csr():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.tensor(DENSE, dtype=torch.float64).to_sparse_csr().requires_grad_()


def scaled_square(factor, dense_grad=False):
    """sum(x * x) of a sparse x, its backward off by ``factor``."""
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.sparse.sum(x * x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            grad = x * (2 * factor) * g
            return grad.to_dense() if dense_grad else grad
    return lambda x: Square.apply(x)


@pytest.mark.parametrize("make, semantics, columns", [
    (coo, "masked", 3), (coo, "dense", 6), (csr, "masked", 3), (csr, "dense", 6)])
def test_stored_entries_or_every_element(make, semantics, columns):
    result = fdcheck.check(lambda x: (x.to_dense().sin() ** 2).sum(), make(), sparse=semantics)
    assert result.passed, str(result)
    first, layout = result.checks
    assert first.entries == columns and layout.aspect == "sparse-gradient" and layout.passed


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1.01, False)])
def test_a_wrong_sparse_backward_fails(factor, passes):
    f = scaled_square(factor)
    assert fdcheck.check(f, coo()).passed is passes
    assert fdcheck.gradcheck(f, (coo(),), masked=True, raise_exception=False) is passes
    assert torch.autograd.gradcheck(f, (coo(),), masked=True, raise_exception=False,
                                    check_undefined_grad=False) is passes


def test_a_dense_gradient_for_a_sparse_input_fails_the_layout_check_alone():
    result = fdcheck.check(scaled_square(1.0, dense_grad=True), coo())
    values, layout = result.checks
    assert values.passed and not layout.passed and layout.aspect == "sparse-gradient"
    assert "torch.strided (2, 3) for this input of torch.sparse_coo" in str(result)


@pytest.mark.parametrize("call, message", [
    (lambda: fdcheck.check(lambda x: x.to_dense().sum(), coo(), sparse="loose"),
     "sparse='loose': one of masked, dense"),
    (lambda: sparseinputs.pattern(torch.eye(2).to_sparse_csc(), "masked"),
     "layout torch.sparse_csc"),
])
def test_bad_sparse_inputs_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
