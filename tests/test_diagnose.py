"""Diagnoses: each mistake a person makes is named by its kind; a mistake with
no structure gets no structured kind; a passing check gets none."""
import numpy as np
import pytest

import fdcheck
from fdcheck.diagnose import STRUCTURED

from .seed import A, B, DZ_DW, W

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 2))
Y = RNG.standard_normal((2, 3))
SQ = RNG.standard_normal((3, 3))
SPD = SQ @ SQ.T + 3 * np.eye(3)
NONSYM = SQ @ np.diag([1.0, 2.0, 3.0])


def layer(A, W, B):
    return A @ W + B


def trace_xy(X, Y):
    return np.trace(X @ Y)


def two_inputs(P, Q):
    return np.sum(P * np.arange(6.0).reshape(3, 2) + 2 * Q)


MISTAKES = [
    # (label, f, inputs, wrt, kind of reference, wrong reference, first kind expected, field)
    ("sign", layer, (A, W, B), 1, "jacobian", -DZ_DW, "sign", None),
    ("factor 2", layer, (A, W, B), 1, "jacobian", 2 * DZ_DW, "scale", ("factor", 2.0)),
    ("factor 1/2", layer, (A, W, B), 1, "jacobian", DZ_DW / 2, "scale", ("factor", 0.5)),
    ("column-major in a row-major case", layer, (A, W, B), 1, "jacobian",
     np.kron(np.eye(2), A), "order", None),
    ("a gradient transposed", trace_xy, (SQ, NONSYM), 0, "gradient", NONSYM, "transpose",
     ("axes", "input")),
    ("the other input's gradient", two_inputs, (X, X), None, "gradient", 2 * np.ones((3, 2)),
     "other-input", ("input", "Q")),
    ("symmetric: G + G^T - diag(G)", lambda S: np.log(np.linalg.det(S)), (SPD,), 0, "gradient",
     2 * np.linalg.inv(SPD) - np.diag(np.diag(np.linalg.inv(SPD))), "symmetric", None),
    ("one entry", layer, (A, W, B), 1, "jacobian", DZ_DW + np.pad([[0.5]], ((1, 2), (2, 3))),
     "entries", ("entries", ["dz12/dw21"])),
    ("one output's row", layer, (A, W, B), 1, "jacobian", DZ_DW * np.array([[1], [1], [3], [1]]),
     "rows", ("outputs", ["z21"])),
    ("one input element's column", layer, (A, W, B), 1, "jacobian",
     DZ_DW * np.array([1, 1, 1, -1, 1, 1]) + np.array([0, 0, 0, 0.5, 0, 0]), "columns",
     ("inputs", ["w22"])),
]


@pytest.mark.parametrize("label, f, inputs, wrt, kind, wrong, first, field", MISTAKES,
                         ids=[m[0] for m in MISTAKES])
def test_each_kind_of_mistake_is_named_first(label, f, inputs, wrt, kind, wrong, first, field):
    names = ["P", "Q"] if f is two_inputs else None
    result = fdcheck.check(f, *inputs, wrt=wrt, names=names, output="Z", **{kind: wrong})
    (c,) = [c for c in result.checks if not c.passed]
    assert c.diagnosis, str(result)
    assert c.diagnosis[0].kind == first, [d.kind for d in c.diagnosis]
    if field is not None:
        assert dict(c.diagnosis[0].fields)[field[0]] == field[1]
    assert f"hint: {c.diagnosis[0].message}" in str(result)


def test_a_passing_check_has_no_diagnosis():
    (c,) = fdcheck.check(layer, A, W, B, wrt=1, jacobian=DZ_DW).checks
    assert c.passed and c.diagnosis == ()


@pytest.mark.parametrize("seed", range(6))
def test_a_mistake_with_no_structure_gets_no_structured_kind(seed):
    noise = np.random.default_rng(seed).standard_normal(DZ_DW.shape)
    result = fdcheck.check(layer, A, W, B, wrt=1, jacobian=DZ_DW + noise)
    (c,) = result.checks
    assert not c.passed
    assert not {d.kind for d in c.diagnosis} & set(STRUCTURED)


def test_the_json_of_a_failing_check_carries_its_diagnosis(cli_json, write):
    code, doc = cli_json(write("d.yaml", "name: sign\ninputs: {A: [[1, 2], [3, 4]]}\n"
                                         "function: sum(A * A)\nexpect: {gradient: -2 * A}\n"))
    assert code == 1
    (check,) = doc["cases"][0]["checks"]
    assert check["diagnosis"][0]["kind"] == "sign" and "minus" in check["diagnosis"][0]["message"]


def test_the_json_of_a_scaled_reference_has_the_factor(cli_json, write):
    code, doc = cli_json(write("s.yaml", "name: s\ninputs: {x: [1, 2, 3]}\nfunction: sum(x ** 2)\n"
                                         "expect: {gradient: x}\n"))
    (check,) = doc["cases"][0]["checks"]
    assert check["diagnosis"][0] == {"kind": "scale", "factor": 0.5,
                                     "message": check["diagnosis"][0]["message"]}


@pytest.mark.parametrize("factor, words", [
    (2.0, "the reference is 2 times the numeric derivative: a factor 2 too many"),
    (2 / 3, "the reference is 2/3 of the numeric derivative: a factor 3/2 missing"),
    (-0.5, "the reference is -1/2 of the numeric derivative: a factor -2 missing")])
def test_a_factor_is_written_as_a_person_writes_it(factor, words):
    import fdcheck
    x = np.array([0.5, -1.0, 2.0])
    result = fdcheck.check(lambda x: np.sum(x ** 3), x, gradient=factor * 3 * x ** 2)
    assert result.checks[0].diagnosis[0].message.startswith(words)


def test_a_failing_assert_check_hides_fdchecks_frames_from_pytest(tmp_path):
    import subprocess
    import sys
    (tmp_path / "test_user.py").write_text(
        "import numpy as np\nimport fdcheck\n\n\ndef test_it():\n"
        "    fdcheck.assert_check(lambda x: np.sum(x ** 2), np.ones(2), gradient=np.ones(2))\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "test_user.py")], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 1 and "FAIL  <lambda>" in out.stdout
    assert "fdcheck/api.py" not in out.stdout


def test_a_row_major_reference_in_a_column_major_case_says_so():
    jac_c = fdcheck.jacobian(layer, A, W, B, wrt=1)        # row-major
    result = fdcheck.check(layer, A, W, B, wrt=1, jacobian=jac_c, order="F")
    (d, *_) = result.checks[0].diagnosis
    assert d.kind == "order"
    assert "row-major Jacobian in a column-major case" in d.message and "(order: C?)" in d.message


def test_a_factor_that_is_the_inverse_of_a_whole_number_is_found():
    x = np.array([0.5, -1.0, 2.0])
    result = fdcheck.check(lambda x: np.sum(x ** 3), x, gradient=3 * x ** 2 / 5)
    (d, *_) = result.checks[0].diagnosis
    assert (d.kind, dict(d.fields)["factor"]) == ("scale", pytest.approx(0.2))
    assert "a factor 5 missing" in d.message


@pytest.mark.parametrize("wrong, kind", [(3, "entries"), (4, "other")])
def test_at_most_three_isolated_entries_are_called_entries(wrong, kind):
    x = np.linspace(1.0, 2.0, 10)
    jac = np.diag(2 * x)
    for k in range(wrong):             # isolated: each in a row and a column of its own
        jac[k, (k + 5) % 10] = 1.0
    result = fdcheck.check(lambda x: x ** 2, x, jacobian=jac)
    kinds = [d.kind for d in result.checks[0].diagnosis]
    assert (kinds[0] == "entries") is (kind == "entries"), kinds


# -- the mistakes people make in matrix calculus (fdcheck/products.py and the kinds
#    beside it): each named first, with the fields that name the culprit ---------------

G4 = RNG.standard_normal((4, 4))
X4, W4 = RNG.standard_normal((4, 4)), RNG.standard_normal((4, 4))
K3 = np.array([[1.0, -2.0, 0.5], [0.3, 1.1, -0.7], [2.0, 0.0, 1.0]])


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def square(X):
    return X @ X


def gram(X):
    return X.T @ X


def _gram_jacobian(X, first, second):
    """first * d(dX^T X) + second * d(X^T dX), row-major."""
    n = X.shape[0]
    jac = np.zeros((n * n, n * n))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                for m in range(n):
                    jac[i * n + j, k * n + m] = (first * (m == i) * X[k, j]
                                                 + second * X[k, i] * (m == j))
    return jac


REAL_MISTAKES = [
    # (label, f, inputs, keywords, first kind, a field it must carry)
    ("G @ W where G @ W.T belongs", lambda X, W: np.sum(G4 * (X @ W)), (X4, W4),
     dict(wrt="X", gradient=lambda X, W: G4 @ W), "factor-transposed", ("input", "W")),
    ("X @ G where X.T @ G belongs", lambda X, W: np.sum(G4 * (X @ W)), (X4, W4),
     dict(wrt="W", gradient=lambda X, W: X @ G4), "factor-transposed", ("side", "left")),
    ("A (x) B where A (x) B^T belongs", lambda X: SQ @ X @ NONSYM, (X4[:3, :3],),
     dict(jacobian=np.kron(SQ, NONSYM)), "factor-transposed",
     ("factor", "the right factor (B in A X B)")),
    ("2 X dX for X dX + dX X", square, (SQ,),
     dict(jacobian=lambda X: 2 * np.kron(X, np.eye(3))), "product-term", ("terms", 2)),
    ("2 X^T dX for dX^T X + X^T dX", gram, (SQ,),
     dict(jacobian=lambda X: _gram_jacobian(X, 0.0, 2.0)), "product-term",
     ("coefficients", (2.0, 0.0))),          # 2 x the term in dX, none of the one in dX^T
    ("the mean's -1/n missing", lambda x: x - x.mean(), (np.arange(5.0),),
     dict(jacobian=np.eye(5)), "low-rank", ("rank", 1)),
    ("softmax with +s s^T", softmax, (np.array([0.3, -1.0, 2.0, 0.5]),),
     dict(jacobian=lambda x: np.diag(softmax(x)) + np.outer(softmax(x), softmax(x))),
     "low-rank", ("rank", 1)),
    ("A x given A^T", lambda x: K3 @ x, (np.ones(3),), dict(jacobian=K3.T),
     "jacobian-transposed", None),
    ("Hessian 2A of x^T A x", lambda x: x @ NONSYM @ x, (np.ones(3),),
     dict(hessian=2 * NONSYM), "hessian-asymmetric", ("symmetric_part_matches", True)),
    ("Hessian on one side", lambda x: x[0] ** 2 * x[1], (np.array([0.7, -1.3]),),
     dict(hessian=lambda x: np.array([[2 * x[1], 2 * x[0]], [0.0, 0.0]])),
     "hessian-asymmetric", ("symmetric_part_matches", False)),
    ("a 2x3 gradient in column-major order", lambda W: np.sum(W ** 2), (X.T,),
     dict(gradient=(2 * X.T).reshape(-1, order="F").reshape(2, 3)), "order", None),
    ("a factor that is no simple number", np.linalg.norm, (SQ,),
     dict(gradient=lambda X: X / np.linalg.norm(X) ** 2), "scale", None),
    ("JAX's convention for a complex input", lambda z: np.sum(np.abs(z) ** 2),
     (np.array([1 + 2j, -0.5 + 0.3j]),), dict(gradient=lambda z: 2 * np.conj(z)), "conjugate",
     None),
    ("the gradient in A (not in wrt) given for X", lambda A, X: np.trace(A @ X @ X.T), (SQ, SPD),
     dict(wrt="X", gradient=lambda A, X: X @ X.T), "other-input", ("input", "A")),
    ("sigmoid's s for s (1 - s)", lambda x: np.sum(1 / (1 + np.exp(-x))), (np.arange(4.0),),
     dict(gradient=lambda x: 1 / (1 + np.exp(-x))), "spread", ("share", 1.0)),
]


@pytest.mark.parametrize("label, f, inputs, keywords, first, field", REAL_MISTAKES,
                         ids=[m[0] for m in REAL_MISTAKES])
def test_real_mistakes_are_named_first(label, f, inputs, keywords, first, field):
    result = fdcheck.check(f, *inputs, **keywords)
    (c,) = [c for c in result.checks if not c.passed]
    assert c.diagnosis and c.diagnosis[0].kind == first, [d.kind for d in c.diagnosis]
    if field is not None:
        assert dict(c.diagnosis[0].fields)[field[0]] == pytest.approx(field[1])


def test_a_kind_that_names_the_mistake_hides_the_shapes_it_also_has():
    # 2 (A (x) B^T) is one Kronecker term with other factors, and also 2 times the numeric.
    result = fdcheck.check(lambda X: SQ @ X @ NONSYM, X4[:3, :3],
                           jacobian=2 * np.kron(SQ, NONSYM.T))
    assert [d.kind for d in result.checks[0].diagnosis] == ["scale"]


def test_a_confined_difference_is_located_not_called_low_rank():
    jac = np.eye(5) - 1 / 5
    jac[2, 3] += 1.0                             # one entry: rank 1, but located
    result = fdcheck.check(lambda x: x - x.mean(), np.arange(5.0), jacobian=jac)
    assert [d.kind for d in result.checks[0].diagnosis] == ["entries"]


def test_an_input_outside_wrt_is_differentiated_for_the_diagnosis_and_counted():
    f = lambda A, X: np.trace(A @ X @ X.T)  # noqa: E731
    right = fdcheck.check(f, SQ, SPD, wrt="X", gradient=lambda A, X: (A + A.T) @ X)
    wrong = fdcheck.check(f, SQ, SPD, wrt="X", gradient=lambda A, X: X @ X.T)
    assert right.passed and wrong.evaluations > right.evaluations + 2 * SQ.size - 1


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("level", [0.1, 0.01])
def test_unstructured_noise_gets_no_structured_kind(seed, level):
    noise = 1 + level * np.random.default_rng(seed).standard_normal((9, 9))
    jac = (lambda X: np.kron(X, np.eye(3)) + np.kron(np.eye(3), X.T))(SQ) * noise
    (c,) = fdcheck.check(square, SQ, jacobian=jac).checks
    assert c.diagnosis and not {d.kind for d in c.diagnosis} & set(STRUCTURED)


def test_a_written_jacobian_in_the_other_order_is_called_order_not_two_factors_transposed():
    # inv(X)'s Jacobian -X^-1 (x) X^-T read column-major is also -X^-T (x) X^-1: for a
    # matrix written out by hand, the vectorization order is the slip to name.
    X = SQ + 3 * np.eye(3)
    Xi = np.linalg.inv(X)
    right = -np.kron(Xi, Xi.T)
    perm = np.arange(9).reshape(3, 3).reshape(-1, order="F")
    result = fdcheck.check(np.linalg.inv, X, jacobian=right[perm][:, perm])
    kinds = [d.kind for d in result.checks[0].diagnosis]
    assert kinds[0] == "order" and "factor-transposed" not in kinds


def test_a_directional_check_says_what_the_directions_found_not_a_count_of_unseen_entries():
    x = np.linspace(0.1, 2, 40)
    f = lambda x: np.outer(x, x).ravel() ** 2  # noqa: E731
    wrong = fdcheck.jacobian(f, x)
    wrong[5, 0] += 3.0
    (c,) = fdcheck.check(f, x, jacobian=wrong, directions=4).checks
    (d,) = c.diagnosis
    assert d.kind == "directions" and dict(d.fields)["element"] == 0
    assert "1 of the 1600 entries of its column differs (the other columns were not" in d.message


def test_the_rows_a_mismatch_is_confined_to_are_listed_by_label():
    jac = np.eye(5) - 1 / 5
    jac[3, :] *= 2.0                               # one output's row wrong
    (c,) = fdcheck.check(lambda x: x - x.mean(), np.arange(5.0), jacobian=jac).checks
    (d,) = c.diagnosis
    assert d.kind == "rows" and d.message == "only the derivatives of f4 differ (1 of 5 outputs)"


# Each rule of diagnose.py at its boundary: a change of the rule changes a kind
# or a number here (benchmarks/mutate.py found these unpinned).
H3 = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])   # of x0 x1 + x2^2
X3 = np.array([0.3, -0.7, 1.1])


def _bilinear(x):
    return x[0] * x[1] + x[2] ** 2


def _kinds(result):
    (c,) = [c for c in result.checks if not c.passed]
    return [d.kind for d in c.diagnosis], c


def test_a_sign_slightly_scaled_is_a_sign_alone():
    # -1.000005 is within the check's bound of -1: "sign", and no scale beside it.
    kinds, _ = _kinds(fdcheck.check(layer, A, W, B, wrt=1, jacobian=-1.000005 * DZ_DW))
    assert kinds == ["sign"]


def test_a_factor_within_one_part_in_a_million_of_a_simple_number_is_that_number():
    kinds, c = _kinds(fdcheck.check(layer, A, W, B, wrt=1, jacobian=1.500001 * DZ_DW))
    assert kinds[0] == "scale" and "the reference is 3/2 times" in c.diagnosis[0].message


def test_a_factor_a_few_parts_in_a_million_from_one_is_still_a_factor():
    kinds, c = _kinds(fdcheck.check(layer, A, W, B, wrt=1, jacobian=1.000003 * DZ_DW,
                                    rtol=1e-9, atol=0))
    assert kinds[0] == "scale" and dict(c.diagnosis[0].fields)["factor"] == \
        pytest.approx(1.000003, abs=1e-9)


def test_a_symmetric_hessian_that_is_wrong_is_not_called_asymmetric():
    kinds, _ = _kinds(fdcheck.check(_bilinear, X3, hessian=2 * H3))
    assert kinds[0] == "scale" and "hessian-asymmetric" not in kinds


@pytest.mark.parametrize("wrong, words", [
    (np.triu(H3), "one triangle of the numeric one"),
    (H3 + np.array([[0, 0.5, 0], [-0.5, 0, 0], [0, 0, 0]]), "its symmetric part (R + R^T)/2 "
     "matches"),
])
def test_an_asymmetric_hessian_says_what_its_symmetric_part_shows(wrong, words):
    kinds, c = _kinds(fdcheck.check(_bilinear, X3, hessian=wrong))
    assert kinds[0] == "hessian-asymmetric" and words in c.diagnosis[0].message


def test_a_transposed_gradient_is_called_a_gradient_and_a_jacobian_a_jacobian():
    _, c = _kinds(fdcheck.check(trace_xy, SQ, NONSYM, wrt=0, gradient=NONSYM))
    assert "the numeric gradient with the input's axes transposed" in c.diagnosis[0].message
    square = lambda X: X @ NONSYM  # noqa: E731   d vec(X N)/d vec(X) = I (x) N^T
    wrong = np.kron(np.eye(3), NONSYM.T)[:, np.argsort(np.arange(9).reshape(3, 3).T.ravel())]
    _, c = _kinds(fdcheck.check(square, SQ, jacobian=wrong))
    assert "the numeric Jacobian with the input's axes transposed" in c.diagnosis[0].message


def test_the_gradient_within_symmetric_matrices_is_named_for_an_unstructured_check():
    G = NONSYM                                     # f = sum(G * S): the gradient is G
    kinds, c = _kinds(fdcheck.check(lambda S: np.sum(G * S), SPD, gradient=(G + G.T) / 2))
    assert kinds[0] == "symmetric" and dict(c.diagnosis[0].fields)["form"] == "(G + G^T) / 2"


def test_an_input_symmetric_only_to_a_few_parts_in_ten_to_the_twelve_is_not_symmetric():
    G = NONSYM
    almost = SPD + np.array([[0, 5e-12 * abs(SPD[1, 0]), 0], [0, 0, 0], [0, 0, 0]])
    kinds, _ = _kinds(fdcheck.check(lambda S: np.sum(G * S), almost, gradient=(G + G.T) / 2))
    assert "symmetric" not in kinds


def test_many_isolated_entries_of_a_large_jacobian_are_entries_up_to_one_in_a_hundred():
    # 40 x 50 = 2000 entries: 15 scattered ones are 0.75%, within 1%, so "entries".
    Ml = RNG.standard_normal((40, 50))
    wrong = Ml.copy()
    for k in range(15):
        wrong[2 * k, 3 * k] += 1.0
    kinds, c = _kinds(fdcheck.check(lambda x: Ml @ x, np.ones(50), jacobian=wrong))
    assert kinds == ["entries"] and c.mismatches == 15


def test_thousands_of_scattered_entries_are_not_isolated_entries():
    # 300 x 400 = 120,000 entries: 600 scattered ones are 0.5%, within 1%, but
    # no "few isolated entries": the hint says where they are instead.
    Ml = RNG.standard_normal((300, 400))
    wrong = Ml.copy()
    for k in range(600):
        wrong[k % 300, (7 * k) % 400] += 1.0
    kinds, c = _kinds(fdcheck.check(lambda x: Ml @ x, np.ones(400), jacobian=wrong))
    assert c.mismatches == 600 and "entries" not in kinds and kinds, kinds


def test_the_more_confined_of_rows_and_columns_is_said_first():
    # Column w22 alone, in 3 of 4 outputs: 1 of 6 inputs is more confined than 3 of 4 rows.
    wrong = DZ_DW.copy()
    wrong[[0, 1, 2], 3] += 0.5
    wrong[[1], 3] += 0.25
    kinds, _ = _kinds(fdcheck.check(layer, A, W, B, wrt=1, jacobian=wrong + 0.0))
    assert kinds[:2] == ["columns", "rows"]


def test_the_spread_says_which_way_and_the_norm_ratio():
    num = RNG.standard_normal((6, 7))
    wrong = num * (0.5 + 0.1 * RNG.random((6, 7)))
    _, c = _kinds(fdcheck.check(lambda x: num @ x, np.ones(7), jacobian=wrong))
    spread = [d for d in c.diagnosis if d.kind == "spread"]
    assert spread and "the reference is smaller than the numeric derivative" in spread[0].message
    ratio = np.linalg.norm(wrong) / np.linalg.norm(num)
    assert dict(spread[0].fields)["norm_ratio"] == pytest.approx(ratio, rel=1e-9)


@pytest.mark.parametrize("kinds, written, kept", [
    (["order", "factor-transposed"], True, ["order"]),
    (["order", "factor-transposed"], False, ["order", "factor-transposed"]),
    (["order", "factor-transposed", "scale"], True, ["order", "scale"]),
    (["sign", "scale"], False, ["sign"]),
    (["transpose", "order"], False, ["order"]),
    (["product-term", "low-rank"], False, ["product-term", "low-rank"]),
])
def test_which_of_several_explanations_a_person_reads(kinds, written, kept):
    from fdcheck.compare import Diagnosis
    from fdcheck.diagnose import _preferred
    found = [Diagnosis(k, k) for k in kinds]
    assert [d.kind for d in _preferred(found, False, (3, 2), written)] == kept


@pytest.mark.parametrize("factor, words", [
    (1 / 2000, "the reference is 1/2000 of the numeric derivative: a factor 2000 missing"),
    (7 / 40, "the reference is 0.175 times"),                 # no simple fraction: quarters at most
    (7 / 30, "the reference is 0.233333 times"),
])
def test_factors_are_simple_fractions_up_to_quarters_or_inverses_of_whole_numbers(factor, words):
    kinds, c = _kinds(fdcheck.check(layer, A, W, B, wrt=1, jacobian=factor * DZ_DW))
    assert kinds[0] == "scale" and words in c.diagnosis[0].message


@pytest.mark.parametrize("columns, listed", [
    (6, "with respect to w1, w2, w3, w4, w5, w6 differ"),
    (7, "with respect to w1, w2, w3, w4, w5, w6, ... differ")])
def test_at_most_six_labels_are_listed_before_an_ellipsis(columns, listed):
    M = RNG.standard_normal((10, 8))
    wrong = M.copy()
    wrong[:, :columns] += RNG.standard_normal((10, columns))   # noise in those columns alone
    (c,) = fdcheck.check(lambda w: M @ w, np.ones(8), jacobian=wrong).checks
    assert any(listed in d.message for d in c.diagnosis), [d.message for d in c.diagnosis]


def test_a_two_by_two_jacobian_transposed_is_named():
    M = np.array([[1.0, 2.0], [3.0, 5.0]])
    (c,) = fdcheck.check(lambda x: M @ x, np.ones(2), jacobian=M.T).checks
    assert c.diagnosis[0].kind == "jacobian-transposed"


def test_the_spread_counts_outputs_and_input_elements():
    num = RNG.standard_normal((6, 7))
    wrong = num * (0.5 + 0.1 * RNG.random((6, 7)))
    (c,) = fdcheck.check(lambda x: num @ x, np.ones(7), jacobian=wrong).checks
    (spread,) = [d for d in c.diagnosis if d.kind == "spread"]
    assert "in 6 of 6 outputs and 7 of 7 input elements" in spread.message


def test_a_passing_or_valued_check_has_nothing_to_diagnose():
    from fdcheck.diagnose import diagnose
    (passing,) = fdcheck.check(layer, A, W, B, wrt=1, jacobian=DZ_DW).checks
    assert passing.passed and diagnose(passing) == ()


def test_a_real_input_with_a_last_axis_of_two_is_never_called_conjugated():
    # A (3, 2) real input whose reference has its second column negated looks like a
    # complex one's conjugate in real form; only a complex input can be conjugated.
    C = np.arange(1.0, 7.0).reshape(3, 2)
    (c,) = fdcheck.check(lambda X: np.sum(C * X), np.ones((3, 2)),
                         gradient=C * np.array([1.0, -1.0])).checks
    assert "conjugate" not in [d.kind for d in c.diagnosis]


@pytest.mark.parametrize("residuals, left, stalled", [
    ([0.2] * 10, 490, False),                                  # read only every 10
    ([0.2] * 11, 489, True),                                   # flat: no such sum
    ([0.2 * 0.9 ** k for k in range(11)], 489, False),         # 0.9 a step: 200 more do
    ([0.2 * 0.99 ** k for k in range(11)], 489, True),         # 0.99: 2000 more needed
    ([0.2 * 0.99 ** k for k in range(11)], 5000, False),
    ([0.1 * 1.01 ** k for k in range(11)], 489, True),         # growing
])
def test_a_product_rules_split_is_given_up_when_its_rate_cannot_reach_the_target(
        residuals, left, stalled):
    from fdcheck.products import _stalled
    assert _stalled(residuals, left) is stalled


def test_an_elementwise_mismatch_is_not_split_into_product_terms_for_long():
    # sin of a 5x5 input, its gradient written as 1 (sin x ~ x): no sum of two
    # Kronecker terms; the alternating split stalls and is given up in tens of
    # projections, not 500. (A zeroed gradient is not split at all.)
    import fdcheck.products as products
    calls = []
    rank1 = products._rank1
    X = np.random.default_rng(1).standard_normal((5, 5))
    try:
        products._rank1 = lambda m: calls.append(1) or rank1(m)
        (c,) = fdcheck.check(np.sin, X, jacobian=np.eye(25)).checks
        split = len(calls)
        (z,) = fdcheck.check(np.sin, X, jacobian=np.zeros((25, 25))).checks
    finally:
        products._rank1 = rank1
    assert c.verdict == "mismatch" and c.diagnosis and z.diagnosis
    assert 0 < split <= 100 and len(calls) == split


def test_a_reference_of_zeros_is_not_called_a_combination_of_product_terms():
    # sin over an evenly spaced X: cos(a + b) = cos a cos b - sin a sin b makes the
    # numeric Jacobian a sum of two Kronecker terms; a zeroed gradient is "0 times
    # each", which names no mistake of a product rule.
    X = np.linspace(0.1, 2.5, 25).reshape(5, 5)
    (c,) = fdcheck.check(np.sin, X, jacobian=np.zeros((25, 25))).checks
    assert c.verdict == "mismatch" and c.diagnosis
    assert c.diagnosis[0].kind not in ("product-term", "low-rank")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_reference_not_finite_somewhere_is_diagnosed_without_an_svd_of_it(bad):
    # The structured kinds read SVDs, which a NaN or an infinity stops from converging
    # (numpy's LinAlgError escaped a check of torch's linalg.norm at 0).
    X = np.arange(1.0, 10.0).reshape(3, 3) / 10
    exact = np.kron(X, np.eye(3)) + np.kron(np.eye(3), X.T)       # d(X X)/dX, row-major
    wrong = 2 * exact
    wrong[4, 4] = bad
    (c,) = fdcheck.check(lambda X: X @ X, X, jacobian=wrong).checks
    assert c.verdict == "mismatch" and c.diagnosis


def _first_look():
    from fdcheck.compare import compare
    from fdcheck.tolerances import Tolerance
    ref = np.arange(1.0, 13.0).reshape(3, 4)
    num = ref.copy()
    num[1, 2] += 5.0                       # the worst entry of the one failing column
    return compare(num, ref, Tolerance(1e-6, 0.0), against="analytic", wrt="x",
                   out_shape=(3,), in_shape=(4,)).matrices


@pytest.mark.parametrize("change, at_worst, explains", [
    (lambda num: num, False, True),                                  # the numeric itself
    (lambda num: num + np.where(np.arange(12).reshape(3, 4) == 6, 1.0, 0.0), True, False),
    (lambda num: num + np.where(np.arange(12).reshape(3, 4) == 0, 1.0, 0.0), False, False),
    (lambda num: num + np.where(np.arange(12).reshape(3, 4) == 6, 1e-6, 0.0), False, True),
])
def test_an_explanation_is_tried_at_the_worst_entries_first_and_then_everywhere(
        change, at_worst, explains):
    # Off at the worst entry: rejected there; off elsewhere only: the whole
    # pass still sees it; within the bound there: no mismatch, as in the whole.
    from fdcheck.diagnose import _differs_at_worst, _vanishes
    mat = _first_look()
    candidate = change(mat.numeric.copy())
    assert _differs_at_worst(mat, lambda rows, cols: candidate[rows, cols],
                             mat.tolerance.absolute_atol(candidate)) is at_worst
    assert _vanishes(mat, candidate) is explains


def test_a_check_that_could_see_nothing_has_no_mismatch_to_explain():
    # Blind: every entry allowed more than the derivative's size, no mismatch
    # counted: nothing to explain (every candidate would "fit", a sign flip among them).
    from fdcheck.compare import compare
    from fdcheck.diagnose import diagnose
    from fdcheck.tolerances import Tolerance
    num = np.array([[1.0, 2.0], [3.0, 4.0]])
    c = compare(num, num * 1.5, Tolerance(10.0, 0.0), against="analytic", wrt="x",
                out_shape=(2,), in_shape=(2,))
    assert not c.passed and c.mismatches == 0 and c.matrices.columns is None
    assert diagnose(c) == ()
