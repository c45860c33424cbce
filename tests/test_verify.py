"""Verdicts: a first mismatch is re-derived before it is believed; kinks and
jumps are reported as unreliable; tolerance: auto judges by the error estimate."""
import numpy as np
import pytest

import fdcheck
from fdcheck.flatfun import FlatFunction
from fdcheck.verify import JUMP, KINK, LEVELS, SMOOTH, UNDECIDED, probe_entries
from fdcheck.report import notes_text

X_SMALL = 1e-4 * np.array([1.0, 1.5, 2.0, 3.0])


@pytest.mark.parametrize("f, x, grad", [
    (lambda x: np.sqrt(x).sum(), X_SMALL, lambda x: 0.5 / np.sqrt(x)),
    (lambda x: np.sin(1e6 * x).sum(), 1e-2 * X_SMALL, lambda x: 1e6 * np.cos(1e6 * x)),
    (lambda x: np.log(x).sum(), X_SMALL, lambda x: 1 / x),
], ids=["sqrt near 1e-4", "sin(1e6 x) near 1e-6", "log near 1e-4"])
def test_badly_scaled_correct_gradients_pass_after_refinement(f, x, grad):
    plain = fdcheck.check(f, x, gradient=grad(x), refine=False)
    # The unit-scale step alone false-alarms, unless the last look (the ladder
    # of halving steps) settles the entries it got wrong.
    assert not plain.passed or "four halving steps" in str(plain)
    refined = fdcheck.check(f, x, gradient=grad(x))
    assert refined.passed and not refined.checks[0].unreliable, str(refined)
    assert "Richardson" in str(refined)
    assert refined.evaluations > plain.evaluations


@pytest.mark.parametrize("relative", [1e-3, 1e-6])
def test_refinement_still_catches_small_mistakes(relative):
    g = 0.5 / np.sqrt(X_SMALL)
    wrong = g.copy()
    wrong[2] *= 1 + relative
    res = fdcheck.check(lambda x: np.sqrt(x).sum(), X_SMALL, gradient=wrong,
                        atol=0, rtol=relative / 10)
    assert not res.passed
    worst = res.checks[0].worst
    assert worst.input == (2,)


def test_a_kink_is_unreliable_not_a_mismatch():
    x = np.array([0.0, 1.0, -2.0])
    # The subgradient 1 at 0 is a valid choice; the numeric 0 there proves nothing.
    res = fdcheck.check(lambda x: np.abs(x).sum(), x, gradient=np.sign(x) + (x == 0))
    assert res.passed
    c = res.checks[0]
    assert c.unreliable == 1 and "kink" in " ".join(notes_text(c))


def test_a_wrong_entry_beside_a_kink_still_fails():
    x = np.array([0.0, 1.0, -2.0])
    res = fdcheck.check(lambda x: np.abs(x).sum(), x, gradient=np.array([1.0, 1.0, 1.0]))
    assert not res.passed
    assert res.checks[0].mismatches == 1 and res.checks[0].worst.input == (2,)


NOISE = np.random.default_rng(0)


@pytest.mark.parametrize("f, x, kinds", [
    (lambda x: np.abs(x), np.array([0.0, 0.5]), [KINK, SMOOTH]),
    (lambda x: np.maximum(x, 0.0), np.array([0.0, -1.0]), [KINK, SMOOTH]),
    (lambda x: np.floor(x), np.array([3.0, 3.5]), [JUMP, SMOOTH]),     # a jump
    (lambda x: np.sign(x), np.array([0.0, 2.0]), [JUMP, SMOOTH]),      # a jump through 0
    # Beside a pole, at steps far larger than its distance: the quotients grow,
    # but the moves keep changing; the derivative exists, and nothing is shown.
    (lambda x: 1 / x, np.array([1e-9, 2.0]), [UNDECIDED, SMOOTH]),
    (lambda x: x ** 2, np.array([0.0, 1e-3]), [SMOOTH, SMOOTH]),      # f' = 0
    (lambda x: np.exp(x), np.array([30.0, 0.0]), [SMOOTH, SMOOTH]),   # large f''
    (lambda x: np.tan(x), np.array([np.pi / 2 - 2.75e-3, 0.0]), [SMOOTH, SMOOTH]),
    (lambda x: x + 1e-3 * NOISE.standard_normal(2), np.array([1.0, 2.0]), [UNDECIDED, UNDECIDED]),
], ids=["abs", "relu", "floor", "sign", "1/x", "x^2", "exp(30)", "tan near its pole", "noise"])
def test_the_ladder_of_one_sided_slopes_tells_smooth_kink_jump_and_noise(f, x, kinds):
    fn = FlatFunction(f, [x])
    probe = probe_entries(fn, [0, 1], np.array([1e-5, 1e-5]))
    assert np.diag(probe.kind).tolist() == kinds
    assert probe.evaluations == 2 * LEVELS * 2


@pytest.mark.parametrize("f, x, exact", [
    (np.tan, np.pi / 2 - 2.75e-3, 1 / np.cos(np.pi / 2 - 2.75e-3) ** 2),
    (np.exp, 30.0, np.exp(30.0)),
    (np.sqrt, 1e-4, 0.5 / np.sqrt(1e-4)),
])
def test_a_smooth_entry_is_estimated_within_its_stated_error(f, x, exact):
    fn = FlatFunction(f, [np.array([x])])
    probe = probe_entries(fn, [0], np.array([1e-5 * max(1.0, x)]))
    assert probe.kind[0, 0] == SMOOTH
    assert abs(probe.estimate[0, 0] - exact) <= probe.error[0, 0]
    assert probe.error[0, 0] <= 1e-4 * abs(exact)


def test_a_kink_reports_its_one_sided_limits():
    fn = FlatFunction(lambda x: np.where(x > 0, 3 * x, -2 * x), [np.array([0.0])])
    probe = probe_entries(fn, [0], np.array([1e-5]))
    assert probe.kind[0, 0] == KINK
    assert probe.low[0, 0] == pytest.approx(-2) and probe.high[0, 0] == pytest.approx(3)


def test_auto_tolerance_judges_each_entry_by_its_estimate():
    rng = np.random.default_rng(0)
    A, W = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    f = lambda W: np.tanh(A @ W).sum()  # noqa: E731
    g = A.T @ (1 - np.tanh(A @ W) ** 2)
    ok = fdcheck.check(f, W, gradient=g, tolerance="auto")
    assert ok.passed and ok.checks[0].tolerance.auto == 10
    assert "Richardson" in " ".join(notes_text(ok.checks[0]))   # central2 gives no estimate
    # 1e-7 relative: far inside the default rtol 1e-5, far outside the estimate.
    off = fdcheck.check(f, W, gradient=g * (1 + 1e-7), tolerance="auto")
    assert fdcheck.check(f, W, gradient=g * (1 + 1e-7)).passed
    assert not off.passed


def test_atol_and_rtol_take_precedence_over_auto():
    res = fdcheck.check(lambda x: (x ** 2).sum(), np.ones(3), gradient=2.001 * np.ones(3),
                        tolerance="auto", rtol=1e-2)
    assert res.passed and res.checks[0].tolerance.auto is None


@pytest.mark.parametrize("factor, passes", [(1.0, True), (2.0, False), (-1.0, False)])
def test_tiny_derivatives_are_judged_not_swallowed_by_a_fixed_floor(factor, passes):
    # det at 1e-6 scale has a gradient near 1e-11: a fixed atol of 1e-12 passed anything.
    X = 1e-6 * (np.random.default_rng(1).standard_normal((3, 3)) + 3 * np.eye(3))
    g = np.linalg.det(X) * np.linalg.inv(X).T
    assert np.abs(g).max() < 1e-10
    assert fdcheck.check(np.linalg.det, X, gradient=factor * g).passed is passes


@pytest.mark.parametrize("factor, passes", [(1.0, True), (2.0, False)])
def test_a_step_outside_the_domain_is_retried_with_smaller_steps(factor, passes):
    x = np.array([1e-5, 3e-5, 2e-4])      # the plain step 6e-6 takes log below 0 for the first
    res = fdcheck.check(lambda x: np.log(x).sum(), x, gradient=factor / x)
    assert res.passed is passes
    assert res.checks[0].unreliable == 0


def test_a_check_that_verified_nothing_does_not_pass():
    # Every perturbed point is outside the domain, whatever the step.
    res = fdcheck.check(lambda x: np.sqrt(-(x - 1) ** 2).sum(), np.array([1.0]), gradient=[0.0])
    assert not res.passed
    assert "no entry could be verified" in str(res)


@pytest.mark.parametrize("refine, passes", [(True, True), (False, False)])
def test_a_hessian_entry_the_first_look_misjudges_is_judged_by_its_second(refine, passes):
    """sin(300 x): second differences at eps^(1/4) are off by 4e-4 relative, past the
    Hessian's rtol of 1e-4; their Richardson extrapolation is right to 1e-12. The
    second look must keep its values (and their estimates), and refine=False skip it."""
    import fdcheck
    from fdcheck.report import notes_text
    x = np.array([0.3, 0.7])
    hessian = np.diag(-300.0 ** 2 * np.sin(300 * x))
    result = fdcheck.check(lambda x: np.sum(np.sin(300 * x)), x, hessian=hessian,
                           refine=refine)
    (c,) = result.checks
    assert c.passed is passes
    assert ("derived again by Richardson" in " ".join(notes_text(c))) is refine
    if refine:
        assert c.max_rel_error < 1e-9 and (c.matrices.estimate > 0).any()


# -- the rules of the last look, each at its boundary (issue: every verdict rule pinned) --

@pytest.mark.parametrize("c", [300.0, 3000.0])
def test_a_kinks_one_sided_limits_are_extrapolated_exactly(c):
    """-|x| + c x^2 at 0: the slopes to the right are -1 + c h, to the left 1 - c h; one
    change more than the last (h halves) lands on the limits -1 and 1 exactly, however
    large c: a rule that added the change instead would leave them c h away."""
    fn = FlatFunction(lambda x: -np.abs(x) + c * x ** 2, [np.array([0.0])])
    probe = probe_entries(fn, [0], np.array([1e-5]))
    assert probe.kind[0, 0] == KINK
    assert probe.low[0, 0] == pytest.approx(-1.0, abs=1e-9)
    assert probe.high[0, 0] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("gradient, passes", [(-1.0, True), (1.0, True), (0.0, True),
                                              (1.001, False), (-1.001, False)])
def test_a_reference_at_a_kink_is_held_to_the_limits_themselves(gradient, passes):
    x = np.array([0.0, 0.5])                      # the second entry: -1 + 3000 = 2999
    result = fdcheck.check(lambda x: np.sum(-np.abs(x) + 3000.0 * x ** 2), x,
                           gradient=np.array([gradient, 2999.0]), atol=1e-9, rtol=1e-12)
    assert result.passed is passes


def test_a_smooth_entry_is_extrapolated_past_the_central_differences_error():
    """sin(1000 x): the central difference at the ladder's last step is off by about
    f''' h^2 / 6; Richardson's step / 3 removes that term, leaving ~1e-10 of it."""
    x = 0.1
    fn = FlatFunction(lambda x: np.sin(1000 * x), [np.array([x])])
    probe = probe_entries(fn, [0], np.array([1e-5]))
    exact = 1000 * np.cos(1000 * x)
    assert probe.kind[0, 0] == SMOOTH
    assert abs(probe.estimate[0, 0] - exact) <= 1e-9 * abs(exact)


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1.5, False)])
def test_a_tiny_hessian_is_judged_at_its_own_scale(factor, passes):
    # Entries near 1e-14: the float64 floor (1e-12) would pass any Hessian this small.
    x = np.array([0.3, -0.2])
    h = 1e-14 * np.array([[2.0, 1.0], [1.0, 4.0]])
    f = lambda x: 0.5 * x @ h @ x  # noqa: E731
    assert fdcheck.check(f, x, hessian=factor * h).passed is passes


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1.5, False)])
def test_each_output_of_several_is_refined_on_its_own_rows(factor, passes):
    """Two outputs, the second's reference wrong by factor: its refinement reads its own
    rows of the re-derived columns (a log near 0, where the plain step fails)."""
    x = np.array([2e-5, 3e-5])
    f = lambda x: (np.log(x), np.sqrt(x))  # noqa: E731
    result = fdcheck.check(f, x, jacobian=(np.diag(1 / x), factor * np.diag(0.5 / np.sqrt(x))))
    first, second = result.checks
    assert first.passed and second.passed is passes
    assert first.out_name == "f[0]" and second.out_name == "f[1]"


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1.5, False)])
def test_an_entry_not_finite_at_the_first_step_is_tried_again_before_a_pass(factor, passes):
    """sqrt at 1e-7: the plain step (6e-6) leaves the domain, so the first look counts
    nothing there and the other entry passes: that was a pass of a wrong reference."""
    x = np.array([1.0, 1e-7])
    g = 0.5 / np.sqrt(x)
    g[1] *= factor
    (c,) = fdcheck.check(lambda x: np.sum(np.sqrt(x)), x, gradient=g).checks
    assert c.passed is passes and c.unreliable == 0
    assert c.verdict == ("passed" if passes else "mismatch")


@pytest.mark.parametrize("factor, verdict", [(1.0, "passed"), (1.5, "mismatch")])
def test_a_tiny_gradient_is_judged_at_its_own_scale_not_the_dtypes_floor(factor, verdict):
    # 1e-14-sized entries: under the float64 floor of 1e-12 a check could see nothing
    # ("unverifiable"); at the method's own rounding level it sees a 50% mistake.
    x = np.array([0.3, -0.2])
    (c,) = fdcheck.check(lambda x: 1e-14 * np.sum(x ** 2), x, gradient=factor * 2e-14 * x).checks
    assert c.verdict == verdict


# -- failing fast --------------------------------------------------------------------------

RNG = np.random.default_rng(0)
A_FF, W_FF = RNG.standard_normal((8, 6)), RNG.standard_normal((6, 5))


def _tanh_layer_jacobian(W):
    d = 1 - np.tanh(A_FF @ W) ** 2
    return d.reshape(-1)[:, None] * np.kron(A_FF, np.eye(5))


@pytest.mark.parametrize("factor", [1.01, -1.0])
def test_a_mismatch_far_beyond_its_bound_is_confirmed_by_its_furthest_columns(factor):
    f = lambda W: np.tanh(A_FF @ W)  # noqa: E731
    ref = lambda W: factor * _tanh_layer_jacobian(W)  # noqa: E731
    fast = fdcheck.check(f, W_FF, jacobian=ref)
    full = fdcheck.check(f, W_FF, jacobian=ref, refine="all")
    (c,), (d,) = fast.checks, full.checks
    assert c.verdict == d.verdict == "mismatch" and c.mismatches == d.mismatches
    right = fdcheck.check(f, W_FF, jacobian=_tanh_layer_jacobian)
    # Fail fast: the two furthest of the 30 columns are derived again, not all 30.
    assert fast.evaluations < right.evaluations + 0.2 * (full.evaluations - right.evaluations)
    assert "failing fast: the 2 columns furthest" in str(fast)
    assert "failing fast" not in str(full)


def test_far_columns_that_do_not_confirm_send_every_column_to_be_derived_again():
    # At each 0 the numeric slope of |x| is 0 and the subgradient 1 is 1e5 bounds away:
    # "far", but a kink, not a mismatch. Nothing may be believed from them.
    x = np.array([0.0, 0.0, 0.0, 1.0, -2.0])
    res = fdcheck.check(lambda x: np.abs(x).sum(), x, gradient=np.array([1.0, 1, 1, 1, -1]))
    assert res.passed and res.checks[0].unreliable == 3
    assert "failing fast" not in str(res)


def test_refine_takes_true_false_or_all():
    with pytest.raises(ValueError, match=r"refine: True, False or 'all', not 'some'"):
        fdcheck.check(lambda x: x ** 2, np.ones(2), jacobian=np.eye(2), refine="some")


def test_a_staircase_finer_than_the_step_is_unverifiable_not_a_mismatch():
    # float32 rounding to 3 decimals: stairs of 1e-3, a step of about 5e-3 |x|. The numeric
    # derivative is the stairs' mean slope (about 1), the true one 0: neither is shown.
    x = np.array([0.3172, -1.2345, 0.77777, 2.5], dtype=np.float32)
    (c,) = fdcheck.check(lambda x: np.round(x, 3), x, jacobian=np.zeros((4, 4))).checks
    assert c.verdict == "unverifiable"
    assert "moves in stairs" in " ".join(notes_text(c)) and "0.001" in " ".join(notes_text(c))


@pytest.mark.parametrize("f, x, jacobian", [
    (lambda x: 3 * x, np.array([0.25, 0.5], dtype=np.float32), 2 * np.eye(2)),
    (lambda x: np.floor(x), np.array([3.0, 1.5]), np.eye(2)),
])
def test_what_is_no_staircase_keeps_its_verdict(f, x, jacobian):
    # A linear function's moves at halving steps are whole multiples too: still a mismatch.
    # A single jump (floor at 3) is a jump; floor at 1.5 is flat and 1 is wrong there.
    (c,) = fdcheck.check(f, x, jacobian=jacobian).checks
    assert c.verdict == "mismatch" and "stairs" not in " ".join(notes_text(c))


def test_a_hessian_of_a_large_function_is_held_to_its_second_differences_rounding():
    # 1e9 + x^T H x / 2: second differences carry eps 1e9 / h^2 of rounding, about 16 here,
    # far above H itself. Without the refinement the check cannot see H: unverifiable, never a
    # mismatch of a right Hessian.
    H = np.array([[2.0, 1.0], [1.0, 4.0]])
    (c,) = fdcheck.check(lambda x: 1e9 + 0.5 * x @ H @ x, np.array([0.3, -0.2]), hessian=H,
                         refine=False).checks
    assert c.verdict == "unverifiable"


@pytest.mark.parametrize("factor, passes", [(1.0, True), (-1.5, False)])
def test_an_error_estimate_is_read_on_each_outputs_own_rows(factor, passes):
    # Richardson gives every entry an estimate; the second output's check reads its rows.
    x = np.array([0.3, 0.7])
    result = fdcheck.check(lambda x: (np.sin(x), np.cos(x)), x, method="richardson",
                           jacobian=(np.diag(np.cos(x)), -factor * np.diag(np.sin(x))))
    first, second = result.checks
    assert first.passed and second.passed is passes
    assert second.matrices.estimate.shape == (2, 2)


# The notes a verdict carries, counted (mutation survivors of verify's _settle and
# _confirmed): a count that changes is a report that lies.

def test_a_reference_outside_a_kinks_limits_is_counted_once():
    (c,) = fdcheck.check(np.abs, np.array([0.0, 0.5]), jacobian=np.diag([5.0, 1.0])).checks
    assert c.verdict == "mismatch"
    assert [(n.kind, dict(n.fields)) for n in c.notes if n.kind in ("outside", "kink")] == [
        ("outside", {"count": 1})]


def test_a_staircase_is_counted_as_stairs_and_not_as_unverified_entries():
    x = np.array([0.3172, -1.2345, 0.77777, 2.5], dtype=np.float32)
    (c,) = fdcheck.check(lambda x: np.round(x, 3), x, jacobian=np.zeros((4, 4))).checks
    kinds = {n.kind: dict(n.fields) for n in c.notes}
    assert kinds["staircase"]["count"] == 4 and "unverified" not in kinds


def test_failing_fast_says_how_many_columns_were_probed_and_believed():
    x = np.linspace(0.1, 2, 40)
    f = lambda x: np.outer(x, x).ravel() ** 2  # noqa: E731
    (c,) = fdcheck.check(f, x, jacobian=2 * fdcheck.jacobian(f, x)).checks
    kinds = {n.kind: dict(n.fields) for n in c.notes}
    # Every column is far: none is derived again by Richardson extrapolation.
    assert "refined" not in kinds
    assert kinds["confirmed"]["confirmed"] == 2 and kinds["confirmed"]["skipped"] == 38


@pytest.mark.parametrize("n, confirmed, text", [
    (1, 1, "failing fast: the column furthest from the reference, probed over a ladder of "
           "steps, confirms the mismatch (refine='all'"),
    (2, 2, "failing fast: the 2 columns furthest from the reference, probed over a ladder of "
           "steps, confirm the mismatch (refine='all'"),
    (3, 2, "confirm the mismatch; 1 more, more than 100 times its tolerance away, keeps its "
           "first estimate (refine='all'"),
])
def test_a_far_mismatch_of_few_columns_is_confirmed_by_the_ladder_alone(n, confirmed, text):
    # A sign error on a few elements: 2 evaluations a column, then 2 x 4 for each of the
    # (at most 2) furthest columns' ladder; Richardson's sweep (20 a column) is not run.
    x = np.linspace(0.5, 1.5, n)
    res = fdcheck.check(lambda x: np.sin(x), x, jacobian=-np.diag(np.cos(x)))
    (c,) = res.checks
    kinds = {n.kind: dict(n.fields) for n in c.notes}
    assert c.verdict == "mismatch" and c.mismatches == n and "refined" not in kinds
    assert kinds["confirmed"]["confirmed"] == confirmed
    assert res.evaluations <= 1 + 2 * n + 8 * confirmed + 4   # base, plain, ladder, noise
    assert text in str(res)


X_TINY = 1e-4 * np.random.default_rng(0).standard_normal((4, 4))


@pytest.mark.parametrize("mistake, kind, size", [
    (lambda g: -g, "sign", 1.0),
    (lambda g: 2 * g, "scale", 1.0),
    (lambda g: -g, "sign", 0.01),      # gradient entries of 1e-3: the bound is relative to them
])
def test_a_first_look_off_by_more_than_its_tolerance_is_not_believed(mistake, kind, size):
    # At inputs of scale 1e-4 the plain step is large for the function: the first look
    # is off by more than the tolerance. Believed for the columns not probed, it would
    # hide the mistake's kind from the diagnosis ("spread"); every column is derived again.
    g = size * X_TINY / np.linalg.norm(X_TINY)
    (c,) = fdcheck.check(lambda X: size * np.linalg.norm(X), X_TINY,
                         gradient=mistake(g)).checks
    assert c.verdict == "mismatch" and c.diagnosis[0].kind == kind
    assert "confirmed" not in {n.kind for n in c.notes}


def test_columns_within_reach_of_their_tolerance_get_the_last_look_when_failing_fast():
    # sin(3000 x): the plain step's first look is off by about 5e-5 of the derivative,
    # beyond the tolerance but within 100 times it. The one wrong column (x2 on the
    # gentle sin(x)) is far, probed and confirmed; the others must not be taken for
    # mistakes of their own on their first look.
    x = np.array([0.3, 0.5, 0.7, 0.9])
    k = np.array([1.0, 3000, 3000, 3000])
    g = k * np.cos(k * x)
    wrong = g * np.array([2.0, 1, 1, 1])
    (c,) = fdcheck.check(lambda x: np.sum(np.sin(k * x)), x, gradient=wrong).checks
    kinds = {n.kind for n in c.notes}
    assert c.verdict == "mismatch" and c.mismatches == 1 and {"confirmed", "rejudged"} <= kinds
    assert c.diagnosis[0].kind == "entries"


def test_a_zeroed_reference_fails_fast_its_first_look_judged_by_a_right_references_bound():
    # A gradient never written (all zeros) is allowed the floor alone; the first look's
    # accuracy is judged by the bound the numeric derivative itself would have.
    X = np.random.default_rng(1).standard_normal((5, 5))
    res = fdcheck.check(np.tan, X, jacobian=np.zeros((25, 25)))
    (c,) = res.checks
    assert c.verdict == "mismatch" and c.mismatches == 25
    assert "confirmed" in {n.kind for n in c.notes} and res.evaluations < 100


def test_a_mismatch_within_100_times_its_bound_is_confirmed_by_the_ladder_too():
    # One entry off by 2e-4 of the largest: beyond its bound, not 100 times beyond.
    # The ladder of its column confirms it (8 evaluations), with no Richardson sweep.
    x = np.linspace(0.5, 1.5, 30)
    wrong = np.cos(x)
    wrong[7] += 2e-4
    res = fdcheck.check(lambda x: np.sum(np.sin(x)), x, gradient=wrong)
    (c,) = res.checks
    kinds = {n.kind: dict(n.fields) for n in c.notes}
    assert c.verdict == "mismatch" and c.mismatches == 1 and c.worst.input == (7,)
    assert kinds["confirmed"]["confirmed"] == 1 and "refined" not in kinds
    right = fdcheck.check(lambda x: np.sum(np.sin(x)), x, gradient=np.cos(x))
    assert res.evaluations == right.evaluations + 8


def test_a_first_look_that_is_not_finite_somewhere_is_never_failed_fast():
    # sqrt at 1e-7: the plain step leaves the domain there (NaN at the first look). Every
    # column must be derived again, that one at smaller steps, and its entry counted: a
    # wrong reference there is a mismatch like the others, not an entry left out.
    x = np.array([1e-7, 0.5, 1.0, 1.5, 2.0])
    (c,) = fdcheck.check(lambda x: np.sum(np.sqrt(x)), x, gradient=1.0 / np.sqrt(x)).checks
    assert c.verdict == "mismatch" and c.mismatches == 5 and c.unreliable == 0
    assert "confirmed" not in {n.kind for n in c.notes}
