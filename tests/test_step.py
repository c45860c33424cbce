import numpy as np
import pytest

from fdcheck.stencil import stencil
from fdcheck.step import default_relative_step, steps_for


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
