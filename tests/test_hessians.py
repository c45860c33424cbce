"""Hessians: second differences against exact second derivatives, their cost,
and the checks of expect.hessian / check(hessian=) through every face."""
import re
import numpy as np
import pytest

import fdcheck
from fdcheck.flatfun import FlatFunction
from fdcheck.hessians import central_hessian, extrapolate_entries, richardson_hessian
from fdcheck.stencils import Method

RNG = np.random.default_rng(7)
S = RNG.standard_normal((3, 3))
X0 = RNG.standard_normal((2, 2)) + 3 * np.eye(2)
V = RNG.standard_normal(4)


def _logdet_hessian(X):
    # d2 logdet / dX_ij dX_kl = -inv(X)[l, i] inv(X)[j, k]
    Xi = np.linalg.inv(X)
    return -np.einsum("li,jk->ijkl", Xi, Xi).reshape(X.size, X.size)


IDENTITIES = [
    # (label, f, x, exact Hessian (n, n), row-major)
    ("x^T S x", lambda x: x @ S @ x, RNG.standard_normal(3), lambda x: S + S.T),
    ("sum(sin(x)) + x0 x1 x2", lambda x: np.sum(np.sin(x)) + np.prod(x), np.array([0.3, -1.2, 2.0]),
     lambda x: -np.diag(np.sin(x)) + np.array([[0, x[2], x[1]], [x[2], 0, x[0]], [x[1], x[0], 0]])),
    ("logdet(X)", lambda X: np.log(np.linalg.det(X)), X0, _logdet_hessian),
    ("trace(X @ X)", lambda X: np.trace(X @ X), X0,
     lambda X: 2 * np.eye(4).reshape(2, 2, 2, 2).transpose(0, 1, 3, 2).reshape(4, 4)),
    ("(v . x)^2", lambda x: (V @ x) ** 2, RNG.standard_normal(4), lambda x: 2 * np.outer(V, V)),
    ("a 0-d input: x^4", lambda x: x ** 4, np.array(1.5), lambda x: np.array([[12 * x ** 2]])),
]


@pytest.mark.parametrize("label, f, x, exact", IDENTITIES, ids=[i[0] for i in IDENTITIES])
def test_central_second_differences_give_exact_hessians(label, f, x, exact):
    res = central_hessian(FlatFunction(f, [x]))
    n = x.size
    assert res.jacobian.shape == (n, n)
    assert np.allclose(res.jacobian, exact(x), rtol=1e-5, atol=1e-5)
    assert np.array_equal(res.jacobian, res.jacobian.T)
    assert res.evaluations == 2 * n + 4 * (n * (n - 1) // 2)


@pytest.mark.parametrize("label, f, x, exact", IDENTITIES, ids=[i[0] for i in IDENTITIES])
def test_richardson_hessians_are_exact_within_their_error_estimate(label, f, x, exact):
    res = richardson_hessian(FlatFunction(f, [x]), Method("richardson"))
    error = np.abs(res.jacobian - exact(x))
    assert np.all(error <= res.error + 1e-12)
    assert error.max() < 1e-8


def test_the_hessian_in_column_major_order_and_tensor_form():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    f = lambda X: np.sum(X[0, :] ** 2 * X[:, 1])  # noqa: E731
    row = fdcheck.hessian(f, X)
    col = fdcheck.hessian(f, X, order="F")
    perm = [0, 2, 1, 3]   # row-major w11 w12 w21 w22 -> column-major w11 w21 w12 w22
    assert np.allclose(col, row[np.ix_(perm, perm)], atol=1e-6)
    assert fdcheck.hessian(f, X, tensor=True).shape == (2, 2, 2, 2)


def test_a_given_gradient_gives_the_hessian_as_its_jacobian():
    x = np.array([0.3, -1.2, 2.0])
    grad = lambda x: np.cos(x) + np.array([x[1] * x[2], x[0] * x[2], x[0] * x[1]])  # noqa: E731
    exact = IDENTITIES[1][3](x)
    assert np.allclose(fdcheck.hessian(None, x, gradient=grad), exact, atol=1e-8)
    assert np.allclose(fdcheck.hessian(None, x, gradient=grad, method="richardson"), exact,
                       atol=1e-12)


def test_a_hessian_needs_a_scalar_function():
    with pytest.raises(ValueError, match="scalar-valued"):
        fdcheck.hessian(lambda x: x ** 2, np.ones(3))


def test_extrapolated_entries_mix_the_diagonal_and_the_rest():
    x = np.array([0.3, -1.2, 2.0])
    f = IDENTITIES[1][1]
    exact = IDENTITIES[1][3](x)
    i, j = np.array([0, 1, 2, 0]), np.array([0, 1, 2, 2])
    value, error, used = extrapolate_entries(FlatFunction(f, [x]), i, j)
    assert np.allclose(value, exact[i, j], atol=1e-10)
    assert used > 0 and np.all(np.abs(value - exact[i, j]) <= error + 1e-13)


MISTAKES = [
    ("right", lambda H: H, True),
    ("factor 2", lambda H: 2 * H, False),
    ("sign", lambda H: -H, False),
    ("one entry off by 1e-3 of the largest", lambda H: H + np.eye(len(H))[0] * 1e-3 * np.abs(H).max(), False),
    ("the gradient's outer product", lambda H: H + 1e-2, False),
]


@pytest.mark.parametrize("label, mistake, passes", MISTAKES, ids=[m[0] for m in MISTAKES])
@pytest.mark.parametrize("identity", IDENTITIES[:4], ids=[i[0] for i in IDENTITIES[:4]])
def test_check_hessian_passes_the_right_one_and_catches_mistakes(identity, label, mistake, passes):
    _, f, x, exact = identity
    result = fdcheck.check(f, x, hessian=mistake(exact(x)), output="F", names=["X"])
    assert result.passed is passes, str(result)
    (c,) = result.checks
    assert (c.against, c.derivative, c.mode) == ("analytic", 2, "reverse")
    if not passes:
        assert re.search(r"FAIL analytic d2F/dX2: d2F/dx\d+dx\d+: numeric", str(result))


CASE = """
name: tr(X^T A X), Hessian
inputs: {X: [[1, 2, 3], [4, 5, 6]], A: [[2, 1], [0, 3]]}
function: {L: sum(X * (A @ X))}
wrt: X
expect:
  gradient: (A + A.T) @ X
  hessian: HESSIAN
"""


@pytest.mark.parametrize("hessian, code", [
    ("kron(A + A.T, eye(3))", 0),                   # row-major: H[(ij),(kl)] = (A + A^T)[i,k] d[j,l]
    ("kron(eye(3), A + A.T)", 1),                   # the column-major one in a row-major case
    ("2 * kron(A, eye(3))", 1),                     # A + A^T written 2 A
    ("[[1, 2], [3, 4]]", 2),                        # neither (6, 6) nor (2, 3, 2, 3)
])
def test_expect_hessian_in_a_case_file(cli_json, write, hessian, code):
    status, doc = cli_json(write("h.yaml", CASE.replace("HESSIAN", hessian)))
    assert status == code, doc
    if code == 2:
        assert "key 'expect.hessian'" in doc["cases"][0]["error"]
        return
    second = [c for c in doc["cases"][0]["checks"] if c.get("derivative") == 2]
    assert len(second) == 1 and second[0]["against"] == "analytic"
    assert second[0]["passed"] is (code == 0)


def test_a_hessian_of_a_vector_function_is_a_case_error(cli_json, write):
    status, doc = cli_json(write("v.yaml", "name: v\ninputs: {x: [1, 2]}\nfunction: x ** 2\n"
                                           "expect: {hessian: [[2, 0], [0, 2]]}\n"))
    assert status == 2 and "scalar-valued" in doc["cases"][0]["error"]
