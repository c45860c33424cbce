import numpy as np
import pytest

from fdcheck.stencil import stencil
from fdcheck.step import central_points, default_relative_step, steps_for


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
    """The step rule written out in NumPy: what the compiled pass must equal bit for bit."""
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


@pytest.mark.parametrize("label, x", [
    ("float64, mixed scales", np.random.default_rng(3).standard_normal(200)
     * 10.0 ** np.random.default_rng(4).integers(-30, 30, 200)),
    ("float32", np.random.default_rng(5).standard_normal(200).astype(np.float32) * 1e3),
    ("a strided view (the NumPy path)", np.linspace(-4.0, 4.0, 30)[::3]),
])
@pytest.mark.parametrize("path", ["C", "numpy"])
def test_central_points_are_x_plus_offset_times_h_in_the_dtype_bit_for_bit(monkeypatch, label, x, path):
    import fdcheck.step as step
    if path == "numpy":
        monkeypatch.setattr(step, "_hotloop", None)
    else:
        assert step._hotloop is not None, "the C module was not built (pip install -e . compiles it)"
    h = steps_for(x, x.dtype, stencil("central", 2))
    upper, lower, scale = central_points(x, h, 0.5)
    # What the engine evaluates for any stencil: x + offset * h, then the dtype.
    x64 = x.astype(np.float64)
    for got, offset in ((upper, 1.0), (lower, -1.0)):
        assert got.dtype == x.dtype
        assert np.array_equal(got, (x64 + offset * h).astype(x.dtype))
    assert scale.dtype == np.float64 and np.array_equal(scale, 0.5 / h)
    assert (upper > x).all() and (lower < x).all()
