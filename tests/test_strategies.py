"""fdcheck.strategies: matrices of a shape, structure and condition number."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402

from fdcheck import structure  # noqa: E402
from fdcheck.strategies import build, matrices, shapes  # noqa: E402


@pytest.mark.parametrize("kappa", [1.0, 1e3, 1e8])
@pytest.mark.parametrize("shape, kind", [((4, 4), None), ((5, 3), None), ((3, 5), None),
                                         ((4, 4), "spd"), ((4, 4), "symmetric")])
def test_the_condition_number_is_the_one_asked(shape, kind, kappa):
    m = build(shape, kind, kappa, np.random.default_rng(1))
    assert m.shape == shape
    assert np.linalg.cond(m) == pytest.approx(kappa, rel=1e-6)


@pytest.mark.parametrize("kind", structure.KINDS)
def test_each_structure_is_drawn_with_its_structure(kind):
    m = build((4, 4), kind, 100.0, np.random.default_rng(2))
    structure.make(kind, m, "M")                # raises where the structure is missing


@pytest.mark.parametrize("shape, kind, words", [
    ((3, 2), "spd", "square"), ((3, 3), "banded", "unknown structure")])
def test_impossible_requests_are_refused(shape, kind, words):
    with pytest.raises(ValueError, match=words):
        build(shape, kind, 10.0, np.random.default_rng(0))


@settings(max_examples=25, database=None)
@given(matrices(shapes(2, 1, 4), condition=(1, 1e4)))
def test_drawn_matrices_stay_within_their_ranges(m):
    assert 1 <= m.shape[0] <= 4 and 1 <= m.shape[1] <= 4
    assert np.linalg.cond(m) <= 1e4 * (1 + 1e-6)


def test_a_condition_range_below_one_is_refused():
    from hypothesis import find
    with pytest.raises(ValueError, match="condition"):
        find(matrices((2, 2), condition=(0.5, 2)), lambda m: True)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_a_dtype_keeps_the_condition_number(dtype):
    from hypothesis import find
    m = find(matrices((3, 3), condition=(100, 100), dtype=dtype), lambda m: True)
    assert m.dtype == dtype
    assert np.linalg.cond(m.astype(np.complex128)) == pytest.approx(100, rel=1e-4)
