"""The numeric Jacobian: the seed's numbers, identities, counts, orders, shapes."""
import numpy as np
import pytest

import fdcheck
from fdcheck.engine import Method

from .seed import A, B, DS_DW, DZ_DW, W, Z


def layer(A, W, B):
    return A @ W + B


def test_seed_linear_layer_jacobian_row_major():
    res = fdcheck.numeric(layer, A, W, B, wrt=1)
    assert res.value.reshape(2, 2).tolist() == Z.tolist()
    assert np.allclose(res.jacobian, DZ_DW, atol=1e-8)
    assert res.jacobian.shape == (4, 6)


def test_seed_linear_layer_jacobian_column_major_is_kron_identity_a():
    jf = fdcheck.jacobian(layer, A, W, B, wrt=1, order="F")
    assert np.allclose(jf, np.kron(np.eye(2), A), atol=1e-8)


def test_seed_sum_and_chain():
    assert np.allclose(fdcheck.gradient(lambda A: 2 * A.sum(), A), 2 * np.ones((2, 3)), atol=1e-8)
    assert fdcheck.numeric(lambda A: 2 * A.sum(), A).value.tolist() == [42.0]
    grad = fdcheck.gradient(lambda A, W, B: layer(A, W, B).sum(), A, W, B, wrt=1)
    assert np.allclose(grad, DS_DW, atol=1e-8)
    # the chain rule by hand: dS/dZ (all ones) times dZ/dW
    assert np.allclose(np.ones((1, 4)) @ DZ_DW, DS_DW.reshape(1, -1))


@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 2), (1, 2, 2, 2)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_elementwise_square_has_diagonal_jacobian_at_any_rank(shape, order):
    x = np.random.default_rng(1).standard_normal(shape)
    j = fdcheck.jacobian(lambda x: x ** 2, x, order=order)
    assert np.allclose(j, np.diag(2 * x.reshape(-1, order=order)), atol=1e-8)


@pytest.mark.parametrize("counted_shape", [(1,), (3,), (2, 3), (4, 4)])
def test_central_difference_uses_exactly_2n_evaluations(counted_shape):
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x)

    x = np.ones(counted_shape)
    res = fdcheck.numeric(f, x)
    n = x.size
    assert res.evaluations == 2 * n
    assert len(calls) == 2 * n + 1  # + the one evaluation at x0 that learns the output shape


@pytest.mark.parametrize("method, per_input", [("central", 2), ({"scheme": "central", "order": 4}, 4),
                                              ({"scheme": "central", "order": 8}, 8),
                                              ("forward", 1), ({"scheme": "backward", "order": 2}, 2)])
def test_evaluation_count_follows_the_stencil(method, per_input):
    res = fdcheck.numeric(np.exp, np.zeros(5), method=method)
    assert res.evaluations == per_input * 5
    assert np.allclose(res.jacobian, np.eye(5), atol=1e-4)


def test_tensor_form_and_gradient_shape():
    res = fdcheck.numeric(layer, A, W, B, wrt=1)
    assert res.tensor.shape == (2, 2, 3, 2)
    assert res.tensor[1, 0, 2, 0] == pytest.approx(6.0)  # dZ[1,0]/dW[2,0] = A[1,2]
    with pytest.raises(ValueError, match="scalar-valued"):
        res.gradient


def test_broadcast_input_b_gets_summed_rows():
    # Z = A W + B with B broadcast over the rows: dZ[r, c]/dB[c'] = [c == c']
    j = fdcheck.jacobian(layer, A, W, B, wrt=2)
    assert np.allclose(j, np.kron(np.ones((2, 1)), np.eye(2)), atol=1e-8)


def test_integer_inputs_are_promoted_to_float64():
    ai = np.array([[1, 2, 3], [4, 5, 6]])
    res = fdcheck.numeric(lambda a: (a * a).sum(), ai)
    assert res.jacobian.dtype == np.float64
    assert np.allclose(res.gradient, 2 * ai, atol=1e-7)


def test_a_point_where_the_function_is_not_finite_is_flagged_not_raised():
    res = fdcheck.numeric(np.sqrt, np.array([0.0, 4.0]))
    assert res.flags and res.flags[0].kind == "non-finite"
    assert res.flags[0].columns == (0,)
    assert res.jacobian[1, 1] == pytest.approx(0.25, rel=1e-7)


def test_step_is_divided_by_the_step_actually_taken():
    # At x = 1e8 + something, h is rounded to a multiple of the spacing; a linear
    # function still gives slope 3 to near machine precision.
    x = np.array([1e8 + 0.123])
    assert fdcheck.jacobian(lambda x: 3 * x, x)[0, 0] == pytest.approx(3.0, rel=1e-12)


def test_method_parse_and_validation():
    assert Method.parse("forward").label == "forward1"
    assert Method.parse({"scheme": "central", "order": 6, "step": "1e-3"}).step == 1e-3
    with pytest.raises(ValueError, match="unknown method key"):
        Method.parse({"scheme": "central", "ordre": 4})
    with pytest.raises(ValueError, match="positive"):
        Method(step=-1.0)


def test_an_output_that_changes_shape_is_an_evaluation_error():
    from fdcheck.errors import EvaluationError
    x0 = np.array([1.0, 2.0])
    f = lambda x: x if np.array_equal(x, x0) else x[:1]  # noqa: E731
    with pytest.raises(EvaluationError, match=r"shape \(1,\) at a perturbed point, \(2,\) at the base"):
        fdcheck.numeric(f, x0)


@pytest.mark.parametrize("order", ["C", "F"])
def test_plain_and_vectorized_modes_agree(order):
    rng = np.random.default_rng(3)
    A, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    f = lambda A, W: np.tanh(A @ W)  # noqa: E731 (accepts a leading batch axis on W)
    plain = fdcheck.jacobian(f, A, W, wrt=1, order=order)
    batched = fdcheck.jacobian(f, A, W, wrt=1, order=order, vectorized=True)
    assert np.allclose(plain, batched, atol=1e-12)


@pytest.mark.parametrize("method", ["central4", "central6", "central8", "forward2", "backward2",
                                    "forward1"])
def test_outputs_an_element_does_not_touch_get_exactly_zero(method):
    # exp at 30 is 1e13: summing w_q f_q instead of differences left ~1e-3 / h
    # of rounding in every off-diagonal entry.
    scheme, order = method.rstrip("0123456789"), int(method[-1])
    x = np.array([30.0, 30.5, 31.0])
    jac = fdcheck.jacobian(np.exp, x, method={"scheme": scheme, "order": order})
    assert np.all(jac[~np.eye(3, dtype=bool)] == 0.0)
    assert np.allclose(np.diag(jac), np.exp(x), rtol=1e-4)


@pytest.mark.parametrize("vectorized", [False, True])
def test_a_function_returning_a_view_of_its_input(vectorized):
    # X.T shares memory with the point being moved: each output must be kept
    # before the point moves again.
    X = np.arange(6.0).reshape(2, 3)
    f = (lambda X: np.swapaxes(X, -1, -2)) if vectorized else (lambda X: X.T)
    J = fdcheck.jacobian(f, X, vectorized=vectorized)
    K = np.zeros((6, 6))
    for i in range(2):
        for j in range(3):
            K[j * 2 + i, i * 3 + j] = 1.0
    assert np.allclose(J, K, atol=1e-9)


def test_the_plain_modes_result_is_an_ordinary_frozen_result():
    from dataclasses import FrozenInstanceError, fields, replace

    from fdcheck.engine import JacobianResult
    res = fdcheck.numeric(layer, A, W, B, wrt=1)
    twin = JacobianResult(*(getattr(res, f.name) for f in fields(JacobianResult)))
    assert list(vars(res)) == list(vars(twin)) == [f.name for f in fields(JacobianResult)]
    assert res.evaluations == 12 and res.flags == () and res.error is None
    with pytest.raises(FrozenInstanceError):
        res.evaluations = 0
    assert replace(res, evaluations=1).evaluations == 1
    assert np.allclose(res.jacobian, DZ_DW, atol=1e-8)
