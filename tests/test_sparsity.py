"""Curtis-Powell-Reid grouping: the same Jacobian as column by column, for a
handful of evaluations; patterns given or detected."""
import numpy as np
import pytest
from scipy import sparse

import fdcheck
from fdcheck.flatfun import FlatFunction
from fdcheck.sparsity import detect, group_columns, pattern_from

rng = np.random.default_rng(11)
X = rng.standard_normal(300)


def tridiagonal(x):
    y = 2 * x ** 3
    y[1:] -= np.sin(x[:-1])
    y[:-1] += x[1:] ** 2
    return y


def blockwise(x):                      # 30 blocks of 10: each output reads its own block
    b = x.reshape(30, 10)
    return np.tanh(b @ np.arange(1.0, 11.0))[:, None] * b


@pytest.mark.parametrize("f, spec, groups", [
    (np.exp, "diagonal", 1),
    (tridiagonal, {"band": [1, 1]}, 3),
    (blockwise, {"blocks": 30}, 10),
])
def test_grouped_jacobian_equals_the_plain_one_for_a_few_evaluations(f, spec, groups):
    plain = fdcheck.numeric(f, X)
    grouped = fdcheck.numeric(f, X, sparsity=spec)
    assert np.allclose(grouped.jacobian, plain.jacobian, rtol=1e-9, atol=1e-9)
    assert grouped.evaluations == 2 * groups          # against plain.evaluations == 600
    assert plain.evaluations == 2 * X.size


@pytest.mark.parametrize("f, spec", [(np.exp, "diagonal"), (tridiagonal, {"band": [1, 1]}),
                                     (blockwise, {"blocks": 30})])
def test_detected_pattern_holds_every_nonzero_and_few_others(f, spec):
    fn = FlatFunction(f, [X])
    pattern, used = detect(fn)
    full = fdcheck.jacobian(f, X)
    truth = np.abs(full) > 1e-9 * np.abs(full).max()   # below: rounding noise of saturated tanh
    structure = pattern_from(spec, 300, 300).toarray()
    found = pattern.toarray()
    assert np.all(found[truth])                       # never misses a nonzero
    assert (found & ~structure).sum() <= 0.01 * structure.sum()   # hardly any extra
    assert used == 4 * 72                             # probes x groups, independent of the Jacobian
    res = fdcheck.numeric(f, X, sparsity="detect")
    assert np.allclose(res.jacobian, fdcheck.jacobian(f, X), atol=1e-9)
    assert res.evaluations < 2 * X.size


@pytest.mark.parametrize("pattern, groups", [
    (np.eye(5), 1),
    (np.eye(5) + np.eye(5, k=1), 2),
    (np.ones((2, 4)), 4),
    (np.array([[1, 1, 0, 0], [0, 0, 1, 1]]), 2),
])
def test_group_columns_never_puts_two_columns_of_a_row_together(pattern, groups):
    g = group_columns(sparse.csr_matrix(pattern))
    assert g.max() + 1 == groups
    for row in pattern:
        cols = np.flatnonzero(row)
        assert len(set(g[cols])) == len(cols)


@pytest.mark.parametrize("spec, message", [
    ("banded", "unknown sparsity"),
    ({"blocks": 7}, "do not divide"),
    (np.eye(3), "the Jacobian is 4 x 4"),
    ({"band": [1, 1], "blocks": 2}, "one key"),
])
def test_bad_patterns_say_why(spec, message):
    with pytest.raises(ValueError, match=message):
        pattern_from(spec, 4, 4)


def test_a_wrong_gradient_is_still_caught_with_a_pattern():
    g = 3 * 2 * X ** 2
    g[7] += 1e-3
    res = fdcheck.check(lambda x: 2 * x ** 3, X, jacobian=np.diag(g), sparsity="diagonal")
    assert not res.passed and res.checks[0].worst.input == (7,)


def test_case_file_sparsity(write, cli_json):
    path = write("s.yaml", """
cases:
  - name: diagonal
    inputs: {x: {arange: [200]}}
    function: {f: x ** 2}
    sparsity: diagonal
    expect: {jacobian: diag(2 * x)}
  - name: band
    inputs: {x: {arange: [5]}}
    function:
      f: x[1:] * x[:-1]
    sparsity: detect
    expect:
      jacobian: [[2, 1, 0, 0, 0], [0, 3, 2, 0, 0], [0, 0, 4, 3, 0], [0, 0, 0, 5, 4]]
  - name: bad
    inputs: {x: [1.0, 2.0]}
    function: {f: x}
    sparsity: {blocks: 3}
    expect: {jacobian: eye(2)}
""")
    code, doc = cli_json(path)
    first, band, bad = doc["cases"]
    # 2 for the Jacobian (against 400 column by column), 1 more at the base point for noise
    assert first["passed"] and first["evaluations"] == 2 + 1
    assert band["passed"]
    assert "key 'sparsity'" in bad["error"] and "do not divide" in bad["error"]


def test_a_jacobian_too_large_to_hold_points_to_the_directional_check(monkeypatch):
    import fdcheck.sparsity as sp
    monkeypatch.setattr(sp, "DENSE_LIMIT", 1000)
    with pytest.raises(ValueError, match="directions"):
        fdcheck.numeric(np.exp, X, sparsity="diagonal")
