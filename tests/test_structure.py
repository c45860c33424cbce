"""Structured inputs (fdcheck/structure.py): checked within their structure,
references read in the case's convention, the other convention named."""
import re

import numpy as np
import pytest

import fdcheck
from fdcheck import structure
from fdcheck.errors import CaseError

S = np.array([[2.0, 0.5], [0.5, 3.0]])
INV = np.linalg.inv(S)
COOKBOOK = 2 * INV - np.diag(np.diag(INV))        # G + G^T - diag(G) for G = inv(S)
RNG = np.random.default_rng(7)
M = RNG.standard_normal((3, 3))
C = RNG.standard_normal((3, 3))
Q = np.linalg.qr(M)[0]
STRUCTURED = {"symmetric": M + M.T, "spd": M @ M.T + 3 * np.eye(3), "lower": np.tril(M),
              "upper": np.triu(M), "diagonal": np.diag(np.diag(M)), "skew": M - M.T,
              "orthogonal": Q}


def logdet(S):
    return np.linalg.slogdet(S)[1]


def quadratic(X):                      # f = tr(C^T X X): df = <C X^T + X^T C, dX>
    return np.sum(C * (X @ X))


def quadratic_gradient(X):
    return C @ X.T + X.T @ C


@pytest.mark.parametrize("kind", list(STRUCTURED))
@pytest.mark.parametrize("order", ["C", "F"])
def test_a_right_gradient_passes_within_every_structure(kind, order):
    result = fdcheck.check(quadratic, STRUCTURED[kind], gradient=quadratic_gradient,
                           structure={"X": kind}, order=order)
    assert result.passed, str(result)
    (c,) = result.checks
    assert c.entries == len(structure.positions(kind, (3, 3)))


@pytest.mark.parametrize("kind", list(STRUCTURED))
def test_a_wrong_gradient_fails_within_every_structure(kind):
    result = fdcheck.check(quadratic, STRUCTURED[kind], structure={"X": kind},
                           gradient=lambda X: quadratic_gradient(X) + 0.01 * np.triu(np.ones((3, 3))))
    assert not result.passed
    # A change orthogonal to the structure is no mistake within it: a
    # symmetric matrix added to the gradient of a function of a skew input.
    if kind == "skew":
        assert fdcheck.check(quadratic, STRUCTURED[kind], structure={"X": kind},
                             gradient=lambda X: quadratic_gradient(X) + np.ones((3, 3))).passed


def test_the_coordinates_derivatives_are_the_directional_ones():
    # logdet at S: the derivative along E_ij + E_ji is 2 inv(S)[i, j] off the diagonal.
    res = fdcheck.check(logdet, S, gradient=INV, structure={"S": "spd"})
    assert res.passed
    jac = fdcheck.jacobian(lambda c: logdet(np.array([[c[0], c[1]], [c[1], c[2]]])),
                           np.array([2.0, 0.5, 3.0]))
    np.testing.assert_allclose(jac[0], [INV[0, 0], 2 * INV[1, 0], INV[1, 1]], rtol=1e-8)


@pytest.mark.parametrize("convention, reference, passes, form", [
    ("projected", INV, True, None),
    ("projected", (INV + INV.T) / 2, True, None),
    ("projected", COOKBOOK, False, "entries"),
    ("entries", COOKBOOK, True, None),
    ("entries", INV, False, "projected"),
])
def test_each_convention_and_the_other_one_named(convention, reference, passes, form):
    result = fdcheck.check(logdet, S, gradient=reference, structure={"S": "symmetric"},
                           convention=convention)
    assert result.passed is passes, str(result)
    if not passes:
        (c,) = result.checks
        assert c.diagnosis[0].kind == "symmetric"
        assert dict(c.diagnosis[0].fields)["form"] == form
        assert f"convention: {form}?" in str(result)


@pytest.mark.parametrize("kind, ratio", [
    ("symmetric", [1, 2, 1]), ("spd", [1, 2, 1]), ("skew", [2]), ("lower", [1, 1, 1]),
    ("upper", [1, 1, 1]), ("diagonal", [1, 1]),
])
def test_the_conventions_differ_off_the_diagonal_of_symmetric_and_skew(kind, ratio):
    x = {"symmetric": S, "spd": S, "skew": np.array([[0, 1.0], [-1.0, 0]]),
         "lower": np.tril(S), "upper": np.triu(S), "diagonal": np.diag(np.diag(S))}[kind]
    assert structure.make(kind, x, "S").convention_ratio().tolist() == ratio


def test_messages_hints_and_the_printout_name_the_coordinates(tmp_path):
    result = fdcheck.check(logdet, S, gradient=COOKBOOK, structure={"S": "symmetric"})
    assert "df/ds21: numeric -0.1739130, analytic -0.3478261" in str(result)
    path = tmp_path / "c.yaml"
    path.write_text("name: logdet\ninputs: {S: [[2, 0.5], [0.5, 3]]}\nfunction: log(det(S))\n"
                    "structure: {S: spd}\n")
    from click.testing import CliRunner
    from fdcheck.cli import main
    out = CliRunner().invoke(main, ["jacobian", str(path)]).output
    assert re.search(r"s11\s+s21\s+s22\s*\nf\s+0.521739\s+-0.173913\s+0.347826", out), out


def test_a_case_file_takes_structure_and_convention(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("""cases:
  - name: projected
    inputs: {S: [[2, 0.5], [0.5, 3]]}
    function: log(det(S))
    structure: {S: spd}
    expect: {gradient: inv(S)}
  - name: entries
    inputs: {S: [[2, 0.5], [0.5, 3]]}
    function: log(det(S))
    structure: {S: spd}
    convention: entries
    expect: {gradient: 2 * inv(S) - diag(diag(inv(S)))}
  - name: the other convention
    inputs: {S: [[2, 0.5], [0.5, 3]]}
    function: log(det(S))
    structure: {S: symmetric}
    convention: entries
    expect: {gradient: inv(S)}
""")
    results = fdcheck.run(str(path))
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].checks[0].diagnosis[0].kind == "symmetric"


@pytest.mark.parametrize("x, kind, key, words", [
    (np.array([[2.0, 0.4], [0.5, 3.0]]), "symmetric", "structure.S", "S is not symmetric"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "spd", "structure.S", "not positive definite"),
    (np.array([[1.0, 1.0], [0.0, 1.0]]), "orthogonal", "structure.S", "not orthogonal"),
    (np.array([[1.0, 1.0], [0.0, 1.0]]), "lower", "structure.S", "not lower triangular"),
    (np.array([[1.0, 0.0], [1.0, 1.0]]), "upper", "structure.S", "not upper triangular"),
    (np.array([[1.0, 0.0], [1.0, 1.0]]), "diagonal", "structure.S", "not diagonal"),
    (np.array([[0.0, 1.0], [1.0, 0.0]]), "skew", "structure.S", "not skew-symmetric"),
    (np.ones((2, 3)), "symmetric", "structure.S", "is square"),
    (np.ones(3), "lower", "structure.S", "is a matrix"),
])
def test_an_input_without_its_structure_is_a_named_error(x, kind, key, words):
    with pytest.raises(CaseError) as info:
        fdcheck.check(lambda S: np.sum(S ** 2), x, gradient=lambda S: 2 * S,
                      structure={"S": kind})
    assert info.value.key == key and words in str(info.value)


@pytest.mark.parametrize("kwargs, key, words", [
    (dict(structure={"S": "symmetrical"}), "structure.S", "did you mean 'symmetric'"),
    (dict(structure={"T": "symmetric"}), "structure.T", "no input named 'T'"),
    (dict(structure="symmetric"), "structure", "maps input names"),
    (dict(structure={"S": "symmetric"}, convention="cookbook"), "convention", "projected"),
    (dict(structure={"S": "orthogonal"}, convention="entries"), "convention", "no entries"),
])
def test_bad_structure_keywords_are_named(kwargs, key, words):
    x = np.eye(2)
    with pytest.raises(CaseError) as info:
        fdcheck.check(lambda S: np.sum(S ** 2), x, gradient=lambda S: 2 * S, **kwargs)
    # A keyword refused by the schema is named at the head of the message.
    assert key in (info.value.key, str(info.value).split(":")[0]) and words in str(info.value)


def test_spd_steps_keep_the_input_positive_definite():
    # S nearly singular: Richardson's largest steps (1/8 of max(1, |x|)) would
    # leave the cone; an spd input's stay within half its smallest eigenvalue.
    near = np.array([[1.0, 0.999], [0.999, 1.0]])
    seen = {"indefinite": 0}

    def f(S):
        if np.linalg.eigvalsh(S).min() <= 0:
            seen["indefinite"] += 1
            return np.nan
        return logdet(S)

    counts = {}
    for kind in ("symmetric", "spd"):
        seen["indefinite"] = 0
        result = fdcheck.check(f, near, gradient=1.5 * np.linalg.inv(near),
                               structure={"S": kind}, refine="all")
        assert result.checks[0].verdict == "mismatch"
        counts[kind] = seen["indefinite"]
    assert counts["symmetric"] > 0 and counts["spd"] == 0


def test_a_hessian_is_read_over_the_coordinates():
    # f = tr(C^T X X): d2f[E_a, E_b] = <C, E_a E_b + E_b E_a>, over the 9 entries.
    E = np.eye(9).reshape(9, 3, 3)
    H = np.array([[np.sum(C * (a @ b + b @ a)) for b in E] for a in E])
    sym = STRUCTURED["symmetric"]
    assert fdcheck.check(quadratic, sym, hessian=H, structure={"X": "symmetric"}).passed
    assert not fdcheck.check(quadratic, sym, hessian=2 * H, structure={"X": "symmetric"}).passed


def test_a_jvp_reference_receives_the_matrix_move():
    sym = STRUCTURED["symmetric"]
    jvp = lambda v: np.array([np.sum(quadratic_gradient(sym).reshape(-1) * v)])  # noqa: E731
    assert fdcheck.check(quadratic, sym, jvp=jvp, directions=3, structure={"X": "symmetric"}).passed
    wrong = lambda v: 2 * jvp(v)  # noqa: E731
    assert not fdcheck.check(quadratic, sym, jvp=wrong, directions=3,
                             structure={"X": "symmetric"}).passed


@pytest.mark.parametrize("kind", list(STRUCTURED))
def test_the_lift_rebuilds_the_input_from_its_coordinates(kind):
    x = STRUCTURED[kind]
    s = structure.make(kind, x, "X")
    np.testing.assert_allclose(s.lift(s.coordinates(x)), x, atol=1e-14)
    assert s.basis.shape == (9, s.size) and len(s.labels("X")) == s.size


def test_labels_of_each_structure():
    assert structure.coordinate_labels("symmetric", (2, 2), "S") == ["s11", "s21", "s22"]
    assert structure.coordinate_labels("upper", (2, 3), "U") == ["u11", "u12", "u13", "u22",
                                                                   "u23"]
    assert structure.coordinate_labels("skew", (3, 3), "K") == ["k21", "k31", "k32"]
    assert structure.coordinate_labels("diagonal", (10, 10), "D")[-1] == "d[10,10]"


def test_torch_cholesky_agrees_within_spd_and_not_entry_by_entry():
    torch = pytest.importorskip("torch")
    st = torch.tensor(S, requires_grad=True)
    f = lambda S: 2 * torch.linalg.cholesky(S).diagonal().log().sum()  # noqa: E731
    assert not fdcheck.check(f, st).passed         # it reads one triangle only
    result = fdcheck.check(f, st, structure={"S": "spd"}, derivatives=2)
    assert result.passed, str(result)
    assert {c.derivative for c in result.checks} == {1, 2}


def test_jax_differentiates_through_the_structure():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    f = lambda X: jnp.sum(C * (X @ X))  # noqa: E731
    for kind in ("symmetric", "orthogonal"):
        result = fdcheck.check(f, jnp.asarray(STRUCTURED[kind]), structure={"X": kind},
                               modes=("reverse", "forward"))
        assert result.passed and len(result.checks) == 2, str(result)
