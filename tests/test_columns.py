"""A comparison redone on the columns that changed (fdcheck.columns) is the
comparison of the whole: every figure, the worst entry among ties, NaN and
infinite entries, entries left out and unverified."""
import dataclasses

import numpy as np
import pytest

from fdcheck.columns import Columns, as_columns
from fdcheck.compare import compare, compare_columns
from fdcheck.tolerances import Tolerance, default_tolerance

WHERE = dict(against="analytic", wrt="x", out_shape=(6,), in_shape=(2, 4), order="C")


def _matrices(rng, ties):
    ref = rng.standard_normal((6, 8))
    num = ref + 1e-9 * rng.standard_normal((6, 8))
    num[rng.random((6, 8)) < 0.2] += 1.0                 # mismatches
    num[0, 3], ref[2, 5] = np.nan, np.inf                 # not finite, either side
    if ties:
        ref[:, 6] = ref[:, 1]
        num[:, 6] = num[:, 1]                              # two columns alike: ties
        num[4, 1] = num[4, 6] = ref[4, 1] + 5.0
    return num, ref


def _changed(rng, num, cols):
    """Numeric entries, estimates, entries left out and unverified changed in ``cols``."""
    num = num.copy()
    estimate = np.zeros_like(num)
    unreliable, unverified = ~np.isfinite(num), np.zeros(num.shape, dtype=bool)
    for c in cols:
        num[:, c] = num[:, c] + rng.choice([0.0, 1e-12, 2.0], size=num.shape[0])
        estimate[:, c] = rng.choice([0.0, 1e-3, np.nan], size=num.shape[0])
        unreliable[:, c] = rng.random(num.shape[0]) < 0.3
        unverified[:, c] = rng.random(num.shape[0]) < 0.3
    return num, estimate, unreliable, unverified


def _figures(c):
    fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name != "matrices"}
    m = c.matrices
    return fields, [m.numeric, m.reference, m.estimate, m.bound, m.unreliable]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("tolerance", [default_tolerance("float64", "central2"),
                                       Tolerance(1e-6, 1e-5)])
@pytest.mark.parametrize("floor", [None, np.full(8, 1e-9)])
def test_columns_compared_again_give_the_whole_comparison(seed, tolerance, floor):
    rng = np.random.default_rng(seed)
    num, ref = _matrices(rng, ties=seed % 2 == 0)
    first = compare(num, ref, tolerance, unreliable=~np.isfinite(num), floor=floor, **WHERE)
    cols = sorted(rng.choice(8, size=int(rng.integers(0, 5)), replace=False))
    num, estimate, unreliable, unverified = _changed(rng, num, cols)
    kwargs = dict(unreliable=unreliable, unverified=unverified, estimate=estimate, floor=floor,
                  notes=(), **WHERE)
    whole = compare(num, ref, tolerance, **kwargs)
    part = compare_columns(first, cols, num, ref, tolerance, **kwargs)
    (a, arrays_a), (b, arrays_b) = _figures(whole), _figures(part)
    assert repr(a) == repr(b)   # NaN (an estimate) equal to NaN
    for x, y in zip(arrays_a, arrays_b):
        np.testing.assert_array_equal(x, y)


def test_the_worst_entry_among_equals_is_the_first_in_row_major_order():
    # Ratios equal at (2, 3) and (1, 5): row 1 comes first, as argmax of the whole finds it.
    ref = np.ones((4, 6))
    num = ref.copy()
    num[2, 3] = num[1, 5] = 3.0
    c = compare(num, ref, Tolerance(0.5, 0.0), against="analytic", wrt="x", out_shape=(4,),
                in_shape=(6,))
    assert (c.worst.output, c.worst.input) == ((1,), (5,))
    assert c.matrices.columns.furthest().tolist() == [3, 5]
    assert c.matrices.worst_rows(np.array([3, 5])).tolist() == [2, 1]


def test_a_comparison_of_a_vector_has_one_column_and_cannot_be_redone_by_columns():
    c = compare(np.array([1.0, 2.5]), np.array([1.0, 2.0]), Tolerance(0.1, 0.0),
                against="value", wrt=None, out_shape=(2,), in_shape=None)
    assert c.mismatches == 1 and c.worst.output == (1,)
    assert as_columns(np.zeros(3)).shape == (3, 1) and as_columns(np.float64(1.0)).shape == (1, 1)
    with pytest.raises(ValueError, match="no column reductions"):
        compare_columns(c, [0], np.array([1.0, 2.0]), np.array([1.0, 2.0]), Tolerance(0.1, 0.0),
                        against="value", wrt=None, out_shape=(2,), in_shape=None)


def test_columns_replaced_take_the_changed_columns_only():
    one = Columns(*(np.zeros(3) for _ in range(9)))
    other = Columns(*(np.ones(1) for _ in range(9)))
    spliced = one.replaced(np.array([2]), other)
    assert spliced.mismatches.tolist() == [0, 0, 1] and one.mismatches.tolist() == [0, 0, 0]


def test_columns_compared_again_with_nothing_left_to_count_have_no_worst_entry():
    # Every entry left out after the last look: nothing verified, as the whole says.
    num, ref = _matrices(np.random.default_rng(3), ties=False)
    tol = Tolerance(1e-6, 1e-5)
    first = compare(num, ref, tol, unreliable=~np.isfinite(num), **WHERE)
    kwargs = dict(unreliable=np.ones(num.shape, dtype=bool), **WHERE)
    whole = compare(num, ref, tol, **kwargs)
    part = compare_columns(first, range(8), num, ref, tol, **kwargs)
    assert part.worst is None and whole.worst is None and not part.passed
    assert [n.kind for n in part.notes] == [n.kind for n in whole.notes] == ["nothing-verified"]


def test_an_infinite_entry_with_an_infinite_estimate_is_the_worst_by_columns_too():
    # inf - 1 over a bound made infinite by the estimate: not beyond, yet the
    # furthest entry, as the whole matrix's argmax finds it.
    ref = np.ones((3, 4))
    num = ref.copy()
    num[0, 0] += 1.0                                   # a mismatch: columns kept
    num[2, 3] = np.inf
    estimate = np.zeros((3, 4))
    estimate[2, 3] = np.inf
    tol = Tolerance(1e-6, 0.0)
    kwargs = dict(estimate=estimate, **WHERE)
    first = compare(num, ref, tol, **kwargs)
    part = compare_columns(first, [3], num, ref, tol, **kwargs)
    assert first.worst.input == part.worst.input == (0, 3)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("block", [1, 8, 20])
@pytest.mark.parametrize("floor", [None, np.full(8, 1e-9)])
def test_a_large_comparison_taken_by_blocks_of_rows_is_the_comparison_of_the_whole(
        seed, block, floor, monkeypatch):
    # A matrix of BLOCKWISE entries or more is compared a block of BLOCK_ENTRIES
    # at a time (a row at least); every figure and every kept matrix is the
    # whole's, failing or passing, ties, NaN, infinities and unverified entries included.
    import fdcheck.compare as compare_module
    rng = np.random.default_rng(seed)
    num, ref = _matrices(rng, ties=seed % 2 == 0)
    if seed % 3 == 0:
        num = ref.copy()                                   # a passing comparison
    cols = sorted(rng.choice(8, size=int(rng.integers(0, 5)), replace=False))
    num, estimate, unreliable, unverified = _changed(rng, num, cols)
    kwargs = dict(unreliable=unreliable, unverified=unverified, floor=floor, notes=(),
                  estimate=estimate if seed % 2 else None, **WHERE)
    tolerance = default_tolerance("float64", "central2")
    whole = compare(num, ref, tolerance, **kwargs)
    monkeypatch.setattr(compare_module, "BLOCKWISE", 1)
    monkeypatch.setattr(compare_module, "BLOCK_ENTRIES", block)
    blocks = compare(num, ref, tolerance, **kwargs)
    (a, arrays_a), (b, arrays_b) = _figures(whole), _figures(blocks)
    assert repr(a) == repr(b)
    for x, y in zip(arrays_a, arrays_b):
        np.testing.assert_array_equal(x, y)
    assert (whole.matrices.columns is None) == (blocks.matrices.columns is None) == whole.passed
    if not whole.passed:
        for f in dataclasses.fields(Columns):
            np.testing.assert_array_equal(getattr(whole.matrices.columns, f.name),
                                          getattr(blocks.matrices.columns, f.name))


@pytest.mark.parametrize("worst_row, read", [
    (None, 1),      # every error 0, every entry tied: the first row's block holds the worst
    (0, 1),
    (5, 6),         # a mismatch in row 5: the blocks up to it, not one more
])
def test_the_worst_entry_of_a_large_comparison_is_found_by_blocks_stopping_at_its_own(
        worst_row, read, monkeypatch):
    # A passing comparison of a large matrix ties every column at 0: the worst
    # entry was looked for in all of them at once, a copy of the whole matrix.
    import fdcheck.compare as compare_module
    ref = np.random.default_rng(0).standard_normal((64, 8))
    num = ref.copy()
    if worst_row is not None:
        num[worst_row, 3] += 1.0
    monkeypatch.setattr(compare_module, "BLOCKWISE", 1)
    monkeypatch.setattr(compare_module, "BLOCK_ENTRIES", 8)           # a row a block
    sizes = []
    errors = compare_module._errors
    monkeypatch.setattr(compare_module, "_errors",
                        lambda n, r, b: sizes.append(n.size) or errors(n, r, b))
    result = compare(num, ref, Tolerance(1e-9, 0.0), **{**WHERE, "out_shape": (64,)})
    blocks = 64                                          # the columns' reductions, a row each
    assert sizes[:blocks] == [8] * blocks
    worst = sizes[blocks:]
    assert sum(worst) <= read * 8 and len(worst) == read, worst
    assert result.worst.output == (worst_row or 0,)
    assert result.worst.input == ((0, 3) if worst_row is not None else (0, 0))
