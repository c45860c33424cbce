"""Outputs defined up to a gauge (fdcheck/gauge.py): eigenvectors aligned in
sign (or phase) with the base point's before differencing; repeated values
refused with the reason."""
import numpy as np
import pytest

import fdcheck
from fdcheck import gauge
from fdcheck.errors import CaseError

RNG = np.random.default_rng(5)
M = RNG.standard_normal((3, 3))
S = M + M.T


def eigvec_jacobian(S):
    """d V / d S for a symmetric move E: dv_k = sum_l (v_l^T E v_k) / (w_k - w_l) v_l."""
    w, V = np.linalg.eigh(S)
    n = len(w)
    J = np.zeros((n, n, n, n))
    for i in range(n):
        for j in range(n):
            E = np.zeros((n, n))
            E[i, j] = 1.0
            for k in range(n):
                for m in range(n):
                    if m != k:
                        J[:, k, i, j] += (V[:, m] @ E @ V[:, k]) / (w[k] - w[m]) * V[:, m]
    return J


class Flipping:
    """eigh's vectors, their signs changed at every point but the base one, as
    a solver may return them."""

    def __init__(self, base):
        self.base = base.copy()
        self.calls = 0

    def __call__(self, S):
        V = np.linalg.eigh(S)[1]
        if np.array_equal(S, self.base):
            return V
        self.calls += 1
        return V * np.array([1.0, -1.0, 1.0]) ** self.calls


@pytest.mark.parametrize("spec, passes", [(None, False), ("column-sign", True)])
def test_eigenvectors_whose_signs_flip_are_checked_only_with_a_gauge(spec, passes):
    result = fdcheck.check(Flipping(S), S, jacobian=eigvec_jacobian, gauge=spec,
                           structure={"S": "symmetric"})
    assert result.passed is passes, str(result)


def test_a_wrong_eigenvector_derivative_still_fails_with_a_gauge():
    wrong = lambda S: 2 * eigvec_jacobian(S)  # noqa: E731
    result = fdcheck.check(Flipping(S), S, jacobian=wrong, gauge="column-sign",
                           structure={"S": "symmetric"})
    assert not result.passed and result.checks[0].diagnosis[0].kind == "scale"


def test_repeated_values_are_refused_with_the_reason():
    D = np.diag([1.0, 1.0, 2.0])
    with pytest.raises(CaseError) as info:
        fdcheck.check(lambda S: np.linalg.eigh(S)[1], D, jacobian=eigvec_jacobian,
                      gauge="column-sign", structure={"S": "symmetric"})
    assert info.value.key == "gauge" and "repeated" in str(info.value)


@pytest.mark.parametrize("spec, key", [("column-sign", None), ({1: "column-sign"}, 1)])
def test_torch_eigh_agrees_with_the_numeric_derivative_within_a_gauge(spec, key):
    torch = pytest.importorskip("torch")
    st = torch.tensor(S, requires_grad=True)
    f = (lambda S: torch.linalg.eigh(S)[1]) if key is None else (lambda S: torch.linalg.eigh(S))
    result = fdcheck.check(f, st, gauge=spec, structure={"S": "symmetric"})
    assert result.passed and len(result.checks) == (1 if key is None else 2), str(result)


def test_jax_svd_vectors_within_a_gauge():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    X = RNG.standard_normal((4, 3))
    f = lambda X: jax.numpy.linalg.svd(X, full_matrices=False)[0]  # noqa: E731
    result = fdcheck.check(f, jax.numpy.asarray(X), gauge="column-sign")
    assert result.passed, str(result)


@pytest.mark.parametrize("kind", ["column-sign", "column-phase"])
def test_align_makes_each_column_agree_with_the_base(kind):
    V = np.linalg.qr(RNG.standard_normal((3, 3)))[0]
    if kind == "column-sign":
        moved = V * np.array([-1.0, 1.0, -1.0])
    else:
        V = V.astype(complex)
        moved = V * np.exp(1j * np.array([0.3, -2.0, 1.0]))
    np.testing.assert_allclose(gauge.align(moved, V, kind), V, atol=1e-14)


@pytest.mark.parametrize("spec, words", [
    ("column-flip", "column-sign"), (3, "column-sign"), ({0: "sign"}, "column-sign"),
])
def test_a_bad_gauge_is_named(spec, words):
    with pytest.raises(CaseError) as info:
        fdcheck.check(lambda S: np.linalg.eigh(S)[1], S, jacobian=eigvec_jacobian, gauge=spec)
    assert str(info.value).startswith("gauge") and words in str(info.value)


def test_a_gauge_on_a_vector_output_is_named():
    with pytest.raises(CaseError) as info:
        fdcheck.check(lambda S: np.linalg.eigh(S)[0], S, gauge="column-sign",
                      gradient=None, jacobian=lambda S: np.zeros((3, 3, 3)))
    assert info.value.key == "gauge" and "columns of a matrix" in str(info.value)


def test_a_case_file_takes_a_gauge(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("name: a product\ninputs: {S: [[2, 0.5], [0.5, 3]]}\nfunction: S @ S\n"
                    "gauge: column-sign\nexpect: {jacobian: "
                    "'kron(S, eye(2)) + kron(eye(2), S)'}\n")
    (result,) = fdcheck.run(str(path))
    assert result.passed, str(result)


@pytest.mark.parametrize("spec, passes", [(None, False), ("column-phase", True)])
def test_complex_singular_vectors_are_checked_within_their_phase_gauge(spec, passes):
    # torch refuses to differentiate a function of U that depends on each
    # column's phase; aligned with the base point's, it does not, and agrees.
    torch = pytest.importorskip("torch")
    Z = RNG.standard_normal((4, 3)) + 1j * RNG.standard_normal((4, 3))
    f = lambda Z: torch.linalg.svd(Z, full_matrices=False)[0]  # noqa: E731
    result = fdcheck.check(f, torch.tensor(Z, requires_grad=True), gauge=spec)
    assert result.passed is passes, str(result)
    if not passes:
        assert "specified up to multiplication by e^{i phi}" in str(result)
