import numpy as np
import pytest

from fdcheck.stencils import stencil
from fdcheck.step import default_relative_step, probe_steps, steps_for


@pytest.mark.parametrize("dtype, order, expected", [
    (np.float64, 2, np.finfo(np.float64).eps ** (1 / 3)),
    (np.float64, 4, np.finfo(np.float64).eps ** (1 / 5)),
    (np.float32, 2, np.finfo(np.float32).eps ** (1 / 3)),
])
def test_default_relative_step(dtype, order, expected):
    assert default_relative_step(dtype, stencil("central", order)) == pytest.approx(expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_steps_are_relative_and_exactly_representable(dtype):
    x = np.array([0.0, 0.5, 3.0, -1e6, 1e-8], dtype=dtype)
    h = steps_for(x, dtype, stencil("central", 2))
    rel = default_relative_step(dtype, stencil("central", 2))
    assert np.allclose(h, rel * np.maximum(1, np.abs(x.astype(float))), rtol=1e-3)
    # the step is the one actually taken: (x + h) - x == h in the dtype
    assert np.array_equal(((x + h.astype(dtype)) - x).astype(float), h)


def _numpy_steps(x, rel):
    """The step rule written out in NumPy, to compare with bit for bit."""
    wanted = rel * np.maximum(1.0, np.abs(x))
    taken = (x + wanted) - x
    return np.where(taken > 0, taken, np.maximum(wanted, np.finfo(np.float64).tiny))


@pytest.mark.parametrize("label, x, relative", [
    ("mixed scales", np.random.default_rng(7).standard_normal(1000)
     * 10.0 ** np.random.default_rng(8).integers(-300, 300, 1000), None),
    ("zeros, subnormals, near one", np.array([0.0, -0.0, 5e-324, 1 - 2**-53, 1.0, 1 + 2**-52]), None),
    ("a nan and an inf (the NumPy path)", np.array([1.0, np.nan, -np.inf, 2.0]), None),
    ("a step lost to rounding (the NumPy path)", np.array([1e10, 3.0]), 1e-20),
    ("a strided view (the NumPy path)", np.arange(12.0)[::3], None),
    ("a user's relative step", np.linspace(-5, 5, 11), 1e-3),
])
def test_steps_equal_the_rule_bit_for_bit_on_every_path(label, x, relative):
    rel = default_relative_step(np.float64, stencil("central", 2)) if relative is None else relative
    with np.errstate(all="ignore"):
        h = steps_for(x, np.float64, stencil("central", 2), relative)
        expected = _numpy_steps(x, rel)
    assert h.dtype == np.float64 and h.shape == x.shape
    assert np.array_equal(h, expected, equal_nan=True)  # a nan element has a nan step
    assert (h[~np.isnan(x)] > 0).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_richardson_ladder_halves_a_step_relative_to_the_element(dtype):
    from fdcheck.step import ladder
    x = np.array([0.5, -4.0, 1000.0])
    plus, minus, h = ladder(x, dtype, 0, 4)
    assert plus.dtype == minus.dtype == dtype and h.shape == (3, 4)
    # Level j moves x by max(1, |x|) / 8 / 2**j each way; h is half the distance really taken.
    wanted = np.maximum(1, np.abs(x))[:, None] / 8 * 0.5 ** np.arange(4)
    assert np.allclose(h, wanted, rtol=1e-6)
    assert np.array_equal(h, (plus.astype(float) - minus.astype(float)) / 2)
    later = ladder(x, dtype, 2, 4)
    assert np.array_equal(later[2], h[:, 2:])


def test_the_direction_ladder_and_the_complex_step():
    from fdcheck.step import complex_steps, direction_ladder
    assert direction_ladder(0, 3).tolist() == [0.125, 0.0625, 0.03125]
    h, error = complex_steps(np.array([0.0, -3.0, 0.5]), np.float64)
    assert h == pytest.approx([1e-20, 3e-20, 1e-20], rel=1e-15)
    assert np.array_equal(error, np.full(3, 8 * np.finfo(np.float64).eps))
    assert complex_steps(np.array([2.0]), np.float64, 1e-10)[0].tolist() == [2e-10]


def test_the_probe_and_pattern_steps_cover_the_input_scales():
    from fdcheck.step import pattern_steps, probe_steps
    steps = probe_steps(np.array([100.0, 1e-3, 0.0]))
    assert steps[0] == 1.0 and steps[-1] == pytest.approx(1e-11)   # 1e-2 of 100 .. 1e-8 of 1e-3
    assert probe_steps(np.array([0.0, 0.0])).tolist() == pytest.approx([10.0 ** -k for k in range(2, 9)], rel=1e-12)
    eps = np.finfo(np.float32).eps
    assert np.allclose(pattern_steps(np.array([0.5, -10.0]), np.float32),
                       [eps ** (1 / 3), 10 * eps ** (1 / 3)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x", [0.0, 0.5, 3.0, -1e4])
def test_the_hessians_step_is_eps_to_the_quarter_times_the_inputs_scale(dtype, x):
    from fdcheck.step import second_steps
    xs = np.array([x], dtype=dtype)
    h, estimate = second_steps(xs, dtype)
    wanted = np.finfo(dtype).eps ** 0.25 * max(1.0, abs(x))
    assert estimate is None
    assert h[0] == pytest.approx(wanted, rel=1e-3 if dtype == np.float32 else 1e-9)
    assert (xs + h.astype(dtype))[0] - xs[0] == h[0]          # exactly representable
    h2, _ = second_steps(xs, dtype, relative=1e-2)
    assert h2[0] == pytest.approx(1e-2 * max(1.0, abs(x)), rel=1e-3)


@pytest.mark.parametrize("x, count, smallest", [
    ([1e-3, 1.0], 10, 1e-11),          # 1e-2 of the largest down to 1e-8 of the smallest
    ([0.0, 5.0], 7, 5e-8),             # zeros are left out: the largest alone
    ([1e-60, 1.0], 39, 1e-40),         # at most 1e-40 of the largest: 39 steps
])
def test_the_complex_steps_probe_spans_the_inputs_scales_within_forty_decades(x, count, smallest):
    steps = probe_steps(np.array(x))
    assert len(steps) == count and steps[0] == pytest.approx(1e-2 * max(1.0, max(x)))
    assert steps[-1] == pytest.approx(smallest)
