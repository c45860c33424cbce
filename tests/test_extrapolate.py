"""Richardson extrapolation: accuracy on exact Jacobians, honest error estimates,
steps that follow the input's scale, and what it costs."""
import numpy as np
import pytest

import fdcheck
from fdcheck.extrapolate import LEVELS, extrapolate_columns, levels_for
from fdcheck.flatfun import FlatFunction

rng = np.random.default_rng(7)
A = rng.standard_normal((4, 5))
X = rng.standard_normal((4, 4)) + 4 * np.eye(4)


def diag(d):
    return np.diag(np.asarray(d, dtype=float))


# name, f, x, exact Jacobian (row-major), bound on max |error| / max(1, |J|)
PROBLEMS = [
    ("tanh(A W)", lambda w: np.tanh(A @ w), rng.standard_normal((5, 3)),
     lambda w: (A[:, None, :, None] * np.eye(3)[None, :, None, :]
                * (1 - np.tanh(A @ w) ** 2)[:, :, None, None]).reshape(12, 15), 1e-12),
    ("inv(X)", np.linalg.inv, X,
     lambda x: -np.kron(np.linalg.inv(x), np.linalg.inv(x).T), 1e-12),
    ("logdet(X)", lambda x: np.linalg.slogdet(x)[1], X,
     lambda x: np.linalg.inv(x).T.reshape(1, -1), 1e-12),
    ("exp at 30", np.exp, 30 + rng.random(4), lambda x: diag(np.exp(x)), 1e-12),
    ("x^2 at 1e6", lambda x: x ** 2, 1e6 * (1 + rng.random(4)), lambda x: diag(2 * x), 1e-12),
    ("sin(1e6 x) at 1e-6", lambda x: np.sin(1e6 * x), 1e-6 * (1 + rng.random(4)),
     lambda x: diag(1e6 * np.cos(1e6 * x)), 1e-6),
    ("sqrt at 1e-4", np.sqrt, 1e-4 * (1 + rng.random(4)), lambda x: diag(0.5 / np.sqrt(x)), 1e-6),
]


@pytest.mark.parametrize("name, f, x, exact, bound", PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_richardson_is_accurate_and_its_estimate_covers_the_error(name, f, x, exact, bound):
    res = fdcheck.numeric(f, x, method="richardson")
    J = exact(x)
    err = np.abs(res.jacobian - J)
    assert (err / np.maximum(1, np.abs(J))).max() <= bound
    assert res.error.shape == J.shape
    # Honest: nearly every error within its estimate, and none beyond the 10x
    # that tolerance: auto allows.
    assert np.mean(err <= res.error) >= 0.98
    assert np.all(err <= 10 * res.error)


@pytest.mark.parametrize("name, f, x, exact, bound", PROBLEMS[-2:], ids=[p[0] for p in PROBLEMS[-2:]])
def test_plain_central_differences_fail_where_richardson_does_not(name, f, x, exact, bound):
    J = exact(x)
    plain = fdcheck.jacobian(f, x)
    assert (np.abs(plain - J) / np.maximum(1, np.abs(J))).max() > 1e-4


@pytest.mark.parametrize("x, levels", [
    (1.0, LEVELS), (30.0, LEVELS), (0.0, LEVELS), (0.5, LEVELS + 1), (1e-4, LEVELS + 14),
    (1e-300, 64),
])
def test_the_sweep_reaches_down_to_the_input_scale(x, levels):
    assert levels_for(np.array([x])).tolist() == [levels]


def test_columns_and_evaluation_count():
    x = np.array([2.0, 0.25, -3.0])
    fn = FlatFunction(lambda x: x ** 3, [x])
    ext = extrapolate_columns(fn, [2, 1])
    assert ext.jacobian.shape == (3, 2)
    assert np.allclose(ext.jacobian[:, 0], [0, 0, 27], atol=1e-12)
    assert np.allclose(ext.jacobian[:, 1], [0, 3 * 0.25 ** 2, 0], atol=1e-12)
    assert ext.evaluations == 2 * (LEVELS + (LEVELS + 2))


def test_float32_estimate_covers_float32_rounding():
    x = np.linspace(0.5, 2.0, 6).astype(np.float32)
    res = fdcheck.numeric(np.exp, x, method="richardson")
    err = np.abs(res.jacobian - np.diag(np.exp(x.astype(np.float64))))
    assert res.dtype == "float32"
    assert err.max() < 1e-4 and np.all(err <= res.error)


def test_a_step_that_leaves_the_domain_is_skipped_not_reported():
    # The largest steps put sqrt's argument below 0; those levels are NaN and unused.
    x = np.array([0.01, 0.02])
    res = fdcheck.numeric(np.sqrt, x, method="richardson")
    assert not res.flags
    assert np.allclose(np.diag(res.jacobian), 0.5 / np.sqrt(x), rtol=1e-10)
