import numpy as np
import pytest

from fdcheck.compare import compare
from fdcheck.tolerances import default_tolerance, resolve, Tolerance


def test_resolve_precedence_each_field_separately():
    tol = resolve("float64", "central2", {"atol": 1e-3, "source": "the command line"},
                  {"atol": 1e-9, "rtol": 1e-4, "source": "the case"})
    assert (tol.atol, tol.rtol) == (1e-3, 1e-4)
    assert "atol from the command line" in tol.source and "rtol from the case" in tol.source
    assert resolve("float32", "central2") == default_tolerance("float32", "central2")
    assert tol.scaled is False                        # a person's atol is absolute
    assert resolve("float64", "central2", {"rtol": 1e-3}).scaled is True


def test_default_atol_is_relative_to_the_reference_scale():
    tol = default_tolerance("float32", "central2")
    ref = np.array([[0.01, 0.02, 0.05]])
    assert tol.absolute_atol(ref) == pytest.approx(1e-4 * 0.05)
    assert tol.absolute_atol(np.zeros((1, 3))) == 1e-6          # the floor
    wrong = compare(ref * 1.01, ref, tol, against="torch", wrt="W", out_shape=(), in_shape=(3,))
    assert not wrong.passed                                     # a 1% error in small entries
    fine = compare(ref * 1.0001, ref, tol, against="torch", wrt="W", out_shape=(), in_shape=(3,))
    assert fine.passed


@pytest.mark.parametrize("dtype, method, atol, rtol", [
    ("float64", "central2", 1e-6, 1e-5), ("float64", "central4", 1e-7, 1e-6),
    ("float32", "central2", 1e-4, 3e-4), ("float32", "forward1", 1e-2, 5e-3),
])
def test_default_table(dtype, method, atol, rtol):
    t = default_tolerance(dtype, method)
    assert (t.atol, t.rtol) == (atol, rtol)


def test_worst_entry_is_located_in_the_original_shapes():
    ref = np.zeros((4, 6))
    num = ref.copy()
    num[2, 4] = 1.0  # row 2 -> Z[1,0]; column 4 -> W[2,0] in row-major (2,2) / (3,2)
    c = compare(num, ref, Tolerance(1e-6, 1e-6), against="analytic", wrt="W", out_shape=(2, 2),
                in_shape=(3, 2), out_name="Z")
    assert not c.passed and c.mismatches == 1
    assert (c.worst.output, c.worst.input, c.worst.numeric, c.worst.reference) == ((1, 0), (2, 0), 1.0, 0.0)
    assert c.max_abs_error == 1.0


def test_column_major_location():
    num, ref = np.zeros((4, 6)), np.zeros((4, 6))
    num[1, 2] = 1.0  # F order: row 1 -> Z[1,0]; column 2 -> W[2,0]
    c = compare(num, ref, Tolerance(0, 0), against="analytic", wrt="W", out_shape=(2, 2),
                in_shape=(3, 2), order="F")
    assert (c.worst.output, c.worst.input) == ((1, 0), (2, 0))


@pytest.mark.parametrize("num, ref, atol, rtol, passed", [
    (1.0 + 1e-7, 1.0, 0, 1e-6, True), (1.0 + 1e-5, 1.0, 0, 1e-6, False), (1e-7, 0.0, 1e-6, 0, True),
    (np.nan, 1.0, 1, 1, False), (1.0, np.nan, 1, 1, False), (np.inf, np.inf, 1, 1, False),
])
def test_tolerance_rule(num, ref, atol, rtol, passed):
    c = compare(np.array([[num]]), np.array([[ref]]), Tolerance(atol, rtol), against="analytic",
                wrt="x", out_shape=(), in_shape=())
    assert c.passed is passed


def test_unreliable_entries_do_not_fail_but_are_counted():
    num = np.array([[np.nan, 2.0]])
    ref = np.array([[5.0, 2.0]])
    c = compare(num, ref, Tolerance(1e-6, 1e-6), against="analytic", wrt="x", out_shape=(),
                in_shape=(2,), unreliable=np.array([[True, False]]))
    assert c.passed and c.unreliable == 1


@pytest.mark.parametrize("value, factor", [(None, None), ("auto", 10.0), (3, 3.0), ("2.5", 2.5)])
def test_auto_factor(value, factor):
    from fdcheck.tolerances import auto_factor
    assert auto_factor(value) == factor


@pytest.mark.parametrize("value", ["strict", 0, -1, "nan"])
def test_auto_factor_refuses_what_is_not_a_positive_multiple(value):
    from fdcheck.tolerances import auto_factor
    with pytest.raises(ValueError, match="expected auto or a positive multiple"):
        auto_factor(value)


# Every row of the default table, as docs/cases.md and the README give it:
# (dtype, a method label the row applies to) -> (atol, rtol).
ROWS = [
    ("float64", "central2", 1e-6, 1e-5), ("float64", "central4", 1e-7, 1e-6),
    ("float64", "central6", 1e-7, 1e-6), ("float64", "central8", 1e-7, 1e-6),
    ("float64", "forward1", 1e-5, 1e-4), ("float64", "backward1", 1e-5, 1e-4),
    ("float64", "forward2", 1e-6, 1e-5), ("float64", "backward2", 1e-6, 1e-5),
    ("float64", "richardson", 1e-8, 1e-7), ("float64", "complex-step", 1e-10, 1e-9),
    ("float32", "central2", 1e-4, 3e-4), ("float32", "forward1", 1e-2, 5e-3),
    ("float32", "backward1", 1e-2, 5e-3), ("float16", "central2", 1e-2, 1e-2),
    ("bfloat16", "central2", 5e-2, 5e-2), ("float64", "hessian", 1e-5, 1e-4),
    ("float32", "hessian", 3e-3, 3e-3),
]


@pytest.mark.parametrize("dtype, method, atol, rtol", ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS])
@pytest.mark.parametrize("side", [0.5, 2.0])
def test_every_default_row_at_its_boundary_on_both_sides(dtype, method, atol, rtol, side):
    """Half the allowance passes and twice it fails, for atol (at a zero entry
    beside an entry of 1, which sets atol's scale) and for atol + rtol (at the
    entry of 1): moving either number of the row moves the verdict."""
    tol = default_tolerance(dtype, method)
    ref = np.array([[1.0, 0.0]])
    off_zero = compare(np.array([[1.0, side * atol]]), ref, tol, against="analytic", wrt="x",
                       out_shape=(), in_shape=(2,))
    off_one = compare(np.array([[1.0 + side * (atol + rtol), 0.0]]), ref, tol,
                      against="analytic", wrt="x", out_shape=(), in_shape=(2,))
    assert off_zero.passed is (side < 1) and off_one.passed is (side < 1)


def test_the_resolution_is_taken_against_the_magnitude_of_a_negative_reference():
    # Allowed 8 against a largest |entry| of 4: relative, 2, and blind; against
    # a reference all 0, absolute, 8 (any small numeric value is its proof).
    tol = Tolerance(8.0, 0.0)
    negative, zero = (compare(ref, ref, tol, against="analytic", wrt="x", out_shape=(2,),
                              in_shape=None)
                      for ref in (np.array([-2.0, -4.0]), np.zeros(2)))
    assert (negative.resolution, zero.resolution) == (2.0, 8.0)
    assert [n.kind for n in negative.notes] == ["blind"] and zero.notes == ()


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_check_too_coarse_for_its_gradient_is_unverifiable_whatever_its_sign(sign):
    import fdcheck
    x = np.array([1.0, 1e6, 6.02e23])
    result = fdcheck.check(lambda x: sign * x.sum(), x, gradient=sign * np.array([5.0, 1, 1]),
                           atol=1e-6, rtol=1e-6)
    assert result.checks[0].verdict == "unverifiable"


def test_one_mismatch_with_nothing_unverified_is_a_mismatch():
    tol = Tolerance(1e-6, 1e-6)
    c = compare(np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]), tol, against="analytic", wrt="x",
                out_shape=(), in_shape=(2,))
    assert (c.passed, c.mismatches, c.unverified, c.verdict) == (False, 1, 0, "mismatch")


def test_an_empty_comparison_passes_with_no_worst_entry():
    c = compare(np.zeros((0, 3)), np.zeros((0, 3)), Tolerance(1e-6, 1e-6), against="analytic",
                wrt="x", out_shape=(0,), in_shape=(3,))
    assert (c.passed, c.entries, c.worst, c.max_abs_error, c.max_rel_error) == \
        (True, 0, None, 0.0, 0.0)


@pytest.mark.parametrize("rtol, verdict", [(0.5, "passed"), (0.5000001, "unverifiable")])
def test_a_check_is_blind_only_past_an_allowance_of_the_references_own_size(rtol, verdict):
    # atol 0.5 + rtol 0.5 x |1| allows exactly the reference's size (resolution 1): still seen.
    c = compare(np.array([[1.0]]), np.array([[1.0]]), Tolerance(0.5, rtol), against="analytic",
                wrt="x", out_shape=(), in_shape=())
    assert c.verdict == verdict


@pytest.mark.parametrize("dtype, floor", [("float64", 1e-12), ("float32", 1e-6),
                                          ("float16", 1e-3), ("bfloat16", 1e-2)])
def test_tolerance_auto_is_the_estimate_and_the_dtypes_floor(dtype, floor):
    tol = resolve(dtype, "central2", {"auto": 10.0, "source": "the case"})
    assert (tol.auto, tol.atol, tol.rtol, tol.floor, tol.scaled) == (10.0, floor, 0.0, floor, True)
    assert tol.absolute_atol(np.array([[3.0]])) == pytest.approx(3 * floor)
    # Without an estimate, auto holds an entry to the floor alone.
    c = compare(np.array([[1.0 + 2 * floor]]), np.array([[1.0]]), tol, against="analytic",
                wrt="x", out_shape=(), in_shape=())
    assert not c.passed


@pytest.mark.parametrize("dtype, floor", [("float64", 1e-12), ("float32", 1e-6),
                                          ("float16", 1e-3), ("bfloat16", 1e-2)])
def test_the_default_atol_has_the_dtypes_floor(dtype, floor):
    assert default_tolerance(dtype, "central2").absolute_atol(np.zeros((1, 2))) == floor


def _where():
    return dict(against="analytic", wrt="x", out_shape=(), in_shape=(2,))


def test_matrices_of_different_shapes_are_refused_by_name():
    with pytest.raises(ValueError, match=r"shapes differ: numeric \(1, 2\), reference \(1, 3\)"):
        compare(np.zeros((1, 2)), np.zeros((1, 3)), Tolerance(1e-6, 1e-6), **_where())


def test_the_relative_error_is_over_the_reference_where_it_is_not_zero():
    ref = np.array([[2.0, 0.0]])
    num = np.array([[2.0 * (1 + 3e-7), 5e-9]])
    comp = compare(num, ref, Tolerance(1e-6, 1e-5), **_where())
    assert comp.passed
    assert comp.max_rel_error == pytest.approx(3e-7, rel=1e-6)   # not 5e-9 / 1, nor 0
    assert comp.max_abs_error == pytest.approx(6e-7, rel=1e-6)


def test_an_entry_allowed_nothing_is_the_worst_whatever_its_error():
    # Entry 0: reference 0 with atol 0 allows nothing, and 1e-3 is infinitely past it;
    # entry 1 is within its bound. The worst entry is the one that fails.
    comp = compare(np.array([[1e-3, 10.0]]), np.array([[0.0, 10.5]]), Tolerance(0.0, 0.1),
                   **_where())
    assert not comp.passed and comp.worst.input == (0,)


def test_a_source_names_the_default_for_what_no_layer_sets():
    tol = resolve("float64", "central2", {"atol": 1e-7, "source": "the case"})
    assert "atol from the case" in tol.source and "default for float64" in tol.source
    both = resolve("float64", "central2", {"atol": 1e-7, "rtol": 1e-4, "source": "the case"})
    assert "default" not in both.source


def test_the_worst_entry_is_the_one_furthest_beyond_its_bound_not_the_largest_error():
    # Errors 1 and 0.01; bounds 1e-2 and 1e-5: the second is 100 times further beyond.
    num, ref = np.array([[1000.0, 1.0]]), np.array([[1001.0, 1.01]])
    c = compare(num, ref, Tolerance(0.0, 1e-5), against="analytic", wrt="x", out_shape=(1,),
                in_shape=(2,))
    assert c.worst.input == (1,) and c.mismatches == 2


@pytest.mark.parametrize("values, largest", [
    ([[1.0, -3.0], [2.0, 0.5]], 3.0),
    ([[1.0, np.inf], [-2.0, 0.5]], 2.0),          # what is not finite is not a scale
    ([[np.nan, -np.inf], [np.nan, 4.0]], 4.0),
    ([[np.nan, np.inf]], 0.0),
    (np.zeros((0, 3)), 0.0),
    ([[-1e-17, 0.0]], 1e-17),                      # all at rounding level, below 0
])
def test_the_scale_of_a_relative_atol_is_the_largest_finite_entry(values, largest):
    from fdcheck.tolerances import largest_finite
    assert largest_finite(np.asarray(values, dtype=float)) == largest
    tol = Tolerance(1e-3, 0.0, "test", scaled=True, floor=1e-12)
    assert tol.absolute_atol(np.asarray(values, dtype=float)) == max(1e-12, 1e-3 * largest)


def test_a_nan_entry_over_a_zero_bound_is_the_worst():
    # (0, 1): numeric NaN where the reference is 0, allowed 0: infinitely far,
    # further than (0, 0), ten times its bound.
    c = compare(np.array([[2.0, np.nan]]), np.array([[1.0, 0.0]]), Tolerance(0.0, 0.1),
                against="analytic", wrt="x", out_shape=(), in_shape=(2,))
    assert c.worst.input == (1,) and c.mismatches == 2


@pytest.mark.parametrize("block", [1, 7, 64, 2 ** 16])
@pytest.mark.parametrize("seed", range(6))
def test_a_candidate_and_the_mismatches_blockwise_are_those_of_the_whole(block, seed, monkeypatch):
    # Matrices.differs_by is mismatched_by(...).any(), a block of rows at a
    # time: the same answer whatever the block, NaN, infinities, entries left
    # out, an error estimate and a floor per column included.
    import fdcheck.compare as compare_module
    monkeypatch.setattr(compare_module, "BLOCK_ENTRIES", block)
    rng = np.random.default_rng(seed)
    num = rng.standard_normal((9, 5))
    ref = num * (1 + 1e-9 * rng.standard_normal((9, 5)))
    est = np.abs(rng.standard_normal((9, 5))) * 1e-9 if seed % 2 else None
    floor = np.full(5, 1e-10) if seed % 3 else None
    unreliable = np.zeros((9, 5), dtype=bool)
    unreliable[rng.integers(9), rng.integers(5)] = True
    c = compare(num, ref, Tolerance(1e-7, 1e-7), against="torch", wrt="x", out_shape=(9,),
                in_shape=(5,), estimate=est, floor=floor, unreliable=unreliable)
    mat = c.matrices
    for candidate in (ref, -ref, 1.01 * ref, np.where(unreliable, 5.0, ref),
                      np.where(np.arange(45).reshape(9, 5) == 44, np.nan, ref),
                      np.where(np.arange(45).reshape(9, 5) == 3 * seed, np.inf, ref)):
        assert mat.differs_by(candidate) == bool(mat.mismatched_by(candidate).any())
    np.testing.assert_array_equal(mat.mismatched(), mat.mismatched_by(ref))


@pytest.mark.parametrize("size", [2, 2 ** 20 + 1])
def test_a_comparison_of_a_vector_finds_its_mismatches_whatever_its_size(size):
    # A value check's matrices are vectors: compared whole at any size (the
    # blockwise comparison takes rows of a matrix), their own mismatches and
    # a candidate's found the same way.
    ref = np.zeros(size)
    num = ref.copy()
    num[-1] = 0.5
    c = compare(num, ref, Tolerance(0.1, 0.0), against="value", wrt=None, out_shape=(size,),
                in_shape=None)
    assert c.mismatches == 1 and c.worst.output == (size - 1,)
    np.testing.assert_array_equal(np.flatnonzero(c.matrices.mismatched()), [size - 1])
    assert c.matrices.differs_by(ref) and not c.matrices.differs_by(num)


@pytest.mark.parametrize("reference, scale, passed, resolution", [
    (1e-17, 0.0, False, 1e-10 / 1e-17),    # blind at its own scale
    (1e-17, 1.0, True, 1e-10),             # a part at rounding level beside the whole's 1
    (1e-17, 1e-12, False, 1e-10 / 1e-12),  # the whole at rounding level too: still blind
    (1e-17, 1e-10, True, 1.0),             # allowed exactly the whole's size: not blind, as
                                           # compare's own rule reads a resolution of 1
    (0.5, 1.0, True, 1e-10 / 0.5),         # not blind: as it was (its own resolution)
])
def test_a_blind_part_is_judged_again_at_the_scale_of_its_whole(reference, scale, passed,
                                                                 resolution):
    from fdcheck.compare import judged_at
    numeric = reference if reference > 1e-10 else 0.0      # numerically 0 at rounding level
    comp = compare(np.array([[numeric, 0.0]]), np.array([[reference, 0.0]]), Tolerance(1e-10, 0.0),
                   against="torch", wrt="x", out_shape=(1,), in_shape=(2,))
    judged = judged_at(comp, scale)
    assert judged.passed is passed
    assert judged.resolution == pytest.approx(resolution)
    assert any(n.kind == "blind" for n in judged.notes) is not passed
