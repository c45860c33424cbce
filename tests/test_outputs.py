"""Functions returning a tuple, list or dict: each floating output is checked
as its own output, named by position or key; integer outputs are skipped."""
import re
import json

import numpy as np
import pytest

import fdcheck
from fdcheck.errors import EvaluationError
from fdcheck.report import results_json
from fdcheck.report import notes_text

X = np.array([[0.5, -1.0], [2.0, 0.25], [1.5, -0.75]])


def _framework(name):
    if name == "torch":
        torch = pytest.importorskip("torch")
        return torch, torch.tensor(X, requires_grad=True)
    if name == "jax":
        jnp = pytest.importorskip("jax.numpy")
        return jnp, jnp.asarray(X)
    return np, X


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_each_floating_output_is_checked_against_autograd(framework, order):
    xp, x = _framework(framework)
    result = fdcheck.check(lambda x: (xp.sum(x ** 2, 0), xp.argmax(x, 0), xp.sin(x)), x,
                           order=order)
    assert result.passed, str(result)
    assert [(c.out_name, c.entries) for c in result.checks] == [("f[0]", 12), ("f[2]", 36)]
    assert all("output [1] (int64) not checked" in " ".join(notes_text(c)) for c in result.checks)


def test_a_wrong_backward_of_one_output_is_named_by_its_position():
    torch = pytest.importorskip("torch")

    class SinCos(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, a, b):
            (x,) = ctx.saved_tensors
            return a * x.cos() - 2 * b * x.sin()     # the cosine's derivative doubled

    result = fdcheck.check(SinCos.apply, torch.tensor(X, requires_grad=True))
    first, second = result.checks
    assert first.passed and not second.passed
    assert second.out_name == "f[1]" and second.worst.output == second.worst.input
    doc = json.loads(results_json([result]))
    assert [c["output"] for c in doc["cases"][0]["checks"]] == ["f[0]", "f[1]"]
    assert re.search(r"df\[1\]/dx: df\[1\]\[\d,\d\]/dx\d\d: numeric", str(result))


@pytest.mark.parametrize("reference, passes", [
    (lambda x: {"loss": 2 * x.reshape(1, -1), "y": np.diag(np.cos(x).ravel())}, True),
    (lambda x: {"loss": 2 * x.reshape(1, -1), "y": np.diag(np.sin(x).ravel())}, False),
])
def test_a_dict_output_against_a_dict_reference(reference, passes):
    f = lambda x: {"loss": np.sum(x ** 2), "y": np.sin(x)}  # noqa: E731
    result = fdcheck.check(f, X, jacobian=reference)
    assert result.passed is passes
    assert [c.out_name for c in result.checks] == ["f['loss']", "f['y']"]
    assert result.checks[0].passed and result.checks[1].passed is passes


def test_a_tuple_of_arrays_is_a_reference_per_output():
    f = lambda x: (x.sum(axis=0), 2 * x)  # noqa: E731
    good = (np.kron(np.ones((1, 3)), np.eye(2)), 2 * np.eye(6))
    assert fdcheck.check(f, X, jacobian=good).passed
    with pytest.raises(ValueError, match=r"several outputs \(\[0\], \[1\]\): give the reference as a tuple"):
        fdcheck.check(f, X, jacobian=np.eye(6))


def test_a_list_of_numbers_is_one_output():
    result = fdcheck.check(lambda x: [x[0] ** 2, x[1]], np.array([1.0, 2.0]),
                           jacobian=np.array([[2.0, 0.0], [0.0, 1.0]]))
    assert result.passed and [c.out_name for c in result.checks] == ["f"]


@pytest.mark.parametrize("f, message", [
    (lambda x: (np.argsort(x), x > 0), r"no floating output \(\[0\] \(int64\), \[1\] \(bool\)\)"),
    (lambda x: (x, (x, x)), r"nested structure \(output \[1\] is a tuple\)"),
])
def test_structures_that_cannot_be_checked_are_named(f, message):
    with pytest.raises(EvaluationError, match=message):
        fdcheck.check(f, np.array([1.0, 2.0]), jacobian=np.eye(2))


def test_a_hessian_needs_one_output_and_says_so():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="need one output"):
        fdcheck.check(lambda x: (x.sum(), x), x, hessian=np.eye(2))


def test_second_derivatives_take_several_outputs_with_one_cotangent_over_them():
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)

    from .backends.test_second_order import cube
    detached = cube(backward_detaches=True)      # right at first order, not differentiable
    right = fdcheck.check(lambda x: ((x ** 3).sum(), x.sin()), x, derivatives=2)
    assert right.passed and [c.derivative for c in right.checks] == [1, 1, 2, 2]
    wrong = fdcheck.check(lambda x: (detached(x).sum(), x.sin()), x, derivatives=2)
    assert [c.passed for c in wrong.checks] == [True, True, False, True]


@pytest.mark.parametrize("factor, passes", [(2.0, True), (2.2, False)])
def test_directions_check_the_outputs_together(factor, passes):
    f = lambda x: (x.sum(axis=0), 2 * x)  # noqa: E731
    reference = (np.kron(np.ones((1, 3)), np.eye(2)), factor * np.eye(6))
    result = fdcheck.check(f, X, jacobian=reference, directions=3)
    assert result.passed is passes
    assert "f[0], f[1] checked together" in " ".join(notes_text(result.checks[0]))


def test_a_stage_returning_a_tuple_is_a_named_case_error(cli_json, write, tmp_path):
    (tmp_path / "pair.py").write_text("def f(x):\n    return x ** 2, x\n")
    code, doc = cli_json(write("t.yaml", "name: t\ninputs: {x: [1, 2]}\n"
                                         "function: {python: 'pair:f'}\n"
                                         "expect: {jacobian: [[2, 0], [0, 4]]}\n"),
                         "--allow-python")
    assert code == 2 and "key 'function'" in doc["cases"][0]["error"]
    assert "tuple, list or dict of outputs" in doc["cases"][0]["error"]


@pytest.mark.parametrize("reference, passes", [
    (lambda x: np.diag(np.exp(1j * x)) * 1j, True),                       # d/dx e^{ix} = i e^{ix}
    (lambda x: np.diag(np.exp(1j * x)), False),
    (lambda x: {"real": np.diag(-np.sin(x)), "imag": np.diag(np.cos(x))}, True),
])
def test_a_complex_output_is_checked_as_its_real_and_imaginary_parts(reference, passes):
    result = fdcheck.check(lambda x: np.exp(1j * x), np.array([0.5, 1.0, 2.0]), jacobian=reference)
    assert result.passed is passes
    assert [c.out_name for c in result.checks] == ["f.real", "f.imag"]


def test_a_complex_tensor_output_against_torch():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    result = fdcheck.check(lambda x: torch.view_as_complex(x), x)
    assert result.passed and [c.out_name for c in result.checks] == ["f.real", "f.imag"]


X3 = np.array([0.5, 1.0, 2.0])


@pytest.mark.parametrize("reference, failing", [
    ((np.diag(2 * X3), (1 + 2j) * np.eye(3)), []),                      # d/dx (x^2, (1+2j) x)
    ((np.diag(2 * X3), (1 - 2j) * np.eye(3)), ["f[1].imag"]),            # the conjugate
    ((np.diag(3 * X3), (1 + 2j) * np.eye(3)), ["f[0]"]),
])
def test_a_complex_output_among_several_is_checked_as_its_two_parts(reference, failing):
    result = fdcheck.check(lambda x: (x ** 2, (1 + 2j) * x), X3, jacobian=reference)
    assert [c.out_name for c in result.checks] == ["f[0]", "f[1].real", "f[1].imag"]
    assert [c.out_name for c in result.checks if not c.passed] == failing


def test_complex_outputs_of_a_complex_input_against_torch():
    # torch.tensor_split of a complex tensor (gradcheck's OpInfo sample):
    # each piece's real and imaginary parts, and a backward that drops one.
    torch = pytest.importorskip("torch")
    z = torch.tensor([0.5 + 1j, -1.0 + 0.5j, 2.0 - 1j, 0.3j], dtype=torch.complex128,
                     requires_grad=True)
    assert fdcheck.gradcheck(lambda z: torch.tensor_split(z, 2), (z,))

    class Dropped(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            return 2 * z, z.sin()

        @staticmethod
        def backward(ctx, g1, g2):
            return 2 * g1   # the second output's term forgotten

    result = fdcheck.check(lambda z: Dropped.apply(z), z, locate=False)
    assert [c.out_name for c in result.checks if not c.passed] == ["f[1].real", "f[1].imag"]
    assert [c.out_name for c in result.checks if c.passed] == ["f[0].real", "f[0].imag"]


def test_outputs_torch_marks_not_differentiable_are_not_compared_with_it():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X[None], requires_grad=True)
    # mean and rstd: autograd's derivative of them is 0 by design.
    result = fdcheck.check(lambda x: torch.native_layer_norm(x, (2,), None, None, 1e-5), x)
    assert result.passed and [c.out_name for c in result.checks] == ["f[0]"]
    assert "f[1], f[2] not compared with torch" in " ".join(notes_text(result.checks[0]))


@pytest.mark.parametrize("factor, passes", [(2.0, True), (2.5, False)])
def test_a_function_taking_a_batch_keeps_its_batch_axis_when_joined(factor, passes):
    f = lambda x: (x.sum(axis=-2), 2 * x)  # noqa: E731  (a point, or a batch of them)
    reference = (np.kron(np.ones((1, 3)), np.eye(2)), factor * np.eye(6))
    result = fdcheck.check(f, X, jacobian=reference, vectorized=True)
    assert [c.passed for c in result.checks] == [True, passes]


def test_nested_lists_of_numbers_are_one_output():
    f = lambda x: [[x[0] ** 2, x[1]], [x[0], 3.0]]  # noqa: E731
    J = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    result = fdcheck.check(f, np.array([1.0, 2.0]), jacobian=J)
    assert result.passed and [c.out_name for c in result.checks] == ["f"]


def test_a_function_every_output_of_which_torch_holds_is_no_pass():
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.5, 1.0], dtype=torch.float64, requires_grad=True)
    result = fdcheck.check(lambda x: (x.detach() * 2, x.detach() + 1), x)
    (c,) = result.checks
    assert not result.passed and not c.passed
    assert "marks every output (f[0], f[1]) not differentiable" in str(result)
