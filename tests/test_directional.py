"""The directional check: J v along random directions, at a cost independent
of n; a disagreement is localized to the input element by bisection."""
import numpy as np
import pytest

import fdcheck


def f(x):
    return np.sum(x ** 2 * np.sin(x))


def grad(x):
    return 2 * x * np.sin(x) + x ** 2 * np.cos(x)


@pytest.mark.parametrize("n", [10, 1000, 100_000])
def test_cost_does_not_grow_with_n(n):
    x = np.random.default_rng(n).standard_normal(n)
    res = fdcheck.check(f, x, gradient=grad(x), directions=3)
    assert res.passed, str(res)
    assert res.evaluations == 3 * 2           # a central difference along each direction


def test_a_direction_the_central_difference_cannot_settle_is_extrapolated():
    # exp(300 x) at x ~ 1: the central difference along v is off by its
    # truncation error, far beyond the tolerance; Richardson along v is not.
    x = np.random.default_rng(3).uniform(0.9, 1.0, 20)
    res = fdcheck.check(lambda x: np.exp(300 * x).sum(), x, gradient=300 * np.exp(300 * x),
                        directions=1)
    assert res.passed, str(res)
    assert res.evaluations > 2 + 2 * 10 - 1


def test_a_million_inputs():
    x = np.random.default_rng(0).standard_normal(10 ** 6)
    res = fdcheck.check(f, x, gradient=grad(x), directions=3)
    assert res.passed and res.evaluations < 200


@pytest.mark.parametrize("index, relative", [(12_345, 1e-2), (0, 1e-3), (99_999, 1e-2)])
def test_one_wrong_entry_is_localized_to_its_element(index, relative):
    x = np.random.default_rng(1).standard_normal((250, 400))
    g = grad(x)
    wrong = g.copy()
    where = np.unravel_index(index, x.shape)
    wrong[where] *= 1 + relative
    res = fdcheck.check(f, x, gradient=wrong, directions=3)
    assert not res.passed
    worst = res.checks[0].worst
    assert worst.input == tuple(int(i) for i in where)
    assert worst.reference == pytest.approx(wrong[where])
    assert worst.numeric == pytest.approx(g[where], rel=1e-8)
    assert "bisection" in str(res)


def test_a_jacobian_given_by_its_products():
    x = np.random.default_rng(2).standard_normal(50_000)
    good = fdcheck.check(np.tanh, x, jvp=lambda v: (1 - np.tanh(x) ** 2) * v, directions=2)
    assert good.passed
    bad = fdcheck.check(np.tanh, x, jvp=lambda v: (1 - np.tanh(x) ** 2) * v[::-1], directions=2)
    assert not bad.passed


def test_case_file_directions(write, cli_json):
    path = write("d.yaml", """
cases:
  - name: big
    inputs:
      x: {random: normal, shape: [300, 300], seed: 0}
    function: {f: sum(x ** 2 * sin(x))}
    directions: 2
    expect:
      gradient: 2 * x * sin(x) + x ** 2 * cos(x)
  - name: sign wrong
    inputs:
      x: {random: normal, shape: [300, 300], seed: 0}
    function: {f: sum(x ** 2 * sin(x))}
    directions: 2
    expect:
      gradient: 2 * x * sin(x) - x ** 2 * cos(x)
  - name: bad
    inputs: {x: [1.0]}
    function: {f: x}
    directions: 0
    expect: {gradient: [1.0]}
""")
    code, doc = cli_json(path)
    big, sign, bad = doc["cases"]
    assert big["passed"] and big["evaluations"] <= 2 * (20 + 16)   # 16: one extension of the sweep
    assert not sign["passed"] and sign["checks"][0]["worst"]["input"] is not None
    assert "key 'directions'" in bad["error"]


@pytest.mark.parametrize("factor, verdict", [(1.0, "passed"), (1.5, "mismatch")])
def test_a_tiny_function_is_judged_at_its_own_scale_along_directions_too(factor, verdict):
    # 1e-14-sized products: under the float64 floor of 1e-12 the directional check could see
    # nothing ("unverifiable", torch's prod in fast mode); the rounding each product carries
    # is its allowance, as for a whole Jacobian.
    x = np.array([0.3, -0.2, 0.5])
    (c,) = fdcheck.check(lambda x: 1e-14 * np.sum(x ** 2), x, gradient=factor * 2e-14 * x,
                         directions=2).checks
    assert c.verdict == verdict
