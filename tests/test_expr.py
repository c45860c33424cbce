"""The expression language: every listed function, batch polymorphism, refusals."""
import re

import numpy as np
import pytest

from fdcheck.backends import get
from fdcheck.errors import ExpressionError
from fdcheck.expr import FUNCTIONS, Expression

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 3)) + 3 * np.eye(3)
Y = rng.standard_normal((3, 3))
v = rng.standard_normal(3)
u = rng.standard_normal(2)
S = X @ X.T + np.eye(3)
ENV = {"X": X, "Y": Y, "v": v, "u": u, "S": S}
OPS = get("numpy").ops


def ev(src, env=ENV, **kw):
    return Expression(src, set(env))(env, OPS, **kw)


def softmax(a):
    e = np.exp(a - a.max())
    return e / e.sum()


CASES = [
    ("sum(X)", X.sum()), ("sum(X, axis=0)", X.sum(0)), ("sum(X, 1, keepdims=1)", X.sum(1, keepdims=True)),
    ("mean(X)", X.mean()), ("prod(v)", v.prod()), ("max(X)", X.max()), ("min(X, axis=1)", X.min(1)),
    ("abs(Y)", np.abs(Y)), ("sqrt(S)", np.sqrt(S)), ("exp(Y)", np.exp(Y)), ("log(S)", np.log(S)),
    ("log1p(S)", np.log1p(S)), ("expm1(Y)", np.expm1(Y)), ("sin(Y)", np.sin(Y)), ("cos(Y)", np.cos(Y)),
    ("tan(Y)", np.tan(Y)), ("tanh(Y)", np.tanh(Y)), ("sinh(Y)", np.sinh(Y)), ("cosh(Y)", np.cosh(Y)),
    ("arctan(Y)", np.arctan(Y)), ("sigmoid(Y)", 1 / (1 + np.exp(-Y))), ("relu(Y)", np.maximum(Y, 0)),
    ("softplus(Y)", np.log1p(np.exp(Y))), ("softmax(v)", softmax(v)),
    ("logsumexp(v)", np.log(np.exp(v).sum())), ("maximum(X, Y)", np.maximum(X, Y)),
    ("minimum(X, 0)", np.minimum(X, 0)), ("trace(X)", np.trace(X)), ("det(X)", np.linalg.det(X)),
    ("logdet(S)", np.linalg.slogdet(S)[1]), ("inv(X)", np.linalg.inv(X)),
    ("solve(X, v)", np.linalg.solve(X, v)), ("solve(X, Y)", np.linalg.solve(X, Y)),
    ("transpose(Y)", Y.T), ("Y.T", Y.T), ("reshape(Y, [9])", Y.reshape(9)),
    ("reshape(Y, (1, 9))", Y.reshape(1, 9)), ("diag(v)", np.diag(v)), ("diag(X)", np.diag(X)),
    ("outer(v, u)", np.outer(v, u)), ("kron(X, Y)", np.kron(X, Y)), ("kron(v, u)", np.kron(v, u)),
    ("eye(3)", np.eye(3)), ("ones([2, 3])", np.ones((2, 3))), ("zeros(2)", np.zeros(2)),
    ("ones_like(X)", np.ones_like(X)), ("zeros_like(v)", np.zeros_like(v)),
    ("norm(X)", np.linalg.norm(X)), ("norm(X, axis=0)", np.linalg.norm(X, axis=0)),
    ("cholesky(S)", np.linalg.cholesky(S)), ("real(Y) + imag(Y)", Y), ("conj(Y)", Y),
    ("X @ Y + 2 * X - Y / 3 + X ** 2", X @ Y + 2 * X - Y / 3 + X ** 2), ("-X", -X), ("v @ X @ v", v @ X @ v),
    ("X @ v", X @ v), ("v @ v", v @ v), ("X[0, 1]", X[0, 1]), ("X[:, 0]", X[:, 0]), ("X[1:]", X[1:]),
    ("X[-1, ::2]", X[-1, ::2]), ("2 ** 3 + exp(0)", 9.0), ("sum(X) * eye(3)", X.sum() * np.eye(3)),
    ("v + X", v + X), ("trace(X) * v", np.trace(X) * v),
]


@pytest.mark.parametrize("src, expected", CASES, ids=[c[0] for c in CASES])
def test_expression_values_match_numpy(src, expected):
    assert np.allclose(ev(src), expected, atol=1e-12)


@pytest.mark.parametrize("src, expected", [
    ("real(Z)", [1.0, 0.0]), ("imag(Z)", [2.0, -0.5]), ("conj(Z)", [1 - 2j, 0.5j]),
    ("sum(real(Z * conj(Z)))", 5.25), ("Z * Z", [-3 + 4j, -0.25]),
])
def test_complex_values_are_taken_apart_and_conjugated(src, expected):
    Z = np.array([1 + 2j, -0.5j])
    assert np.allclose(ev(src, {"Z": Z}), expected, atol=1e-15)


def test_every_listed_function_is_exercised():
    used = set()
    for src, _ in CASES:
        used |= Expression(src, set(ENV)).functions
    assert used == set(FUNCTIONS)


@pytest.mark.parametrize("src", [c[0] for c in CASES if c[0] not in ("eye(3)", "ones([2, 3])", "zeros(2)",
                                                                    "2 ** 3 + exp(0)")])
def test_batch_polymorphism_equals_a_loop(src):
    """Evaluated on k points at once, every expression gives what k single calls give."""
    k = 3
    stacked = {name: np.stack([a + 0.01 * j for j in range(k)]) for name, a in ENV.items()}
    batched = ev(src, stacked, batch=k)
    for j in range(k):
        single = ev(src, {name: a[j] for name, a in stacked.items()})
        assert np.allclose(batched[j], single, atol=1e-12), j


@pytest.mark.parametrize("src, message", [
    ("lambda: 1", "a lambda is not allowed"),
    ("X.shape", "attribute '.shape' is not allowed"),
    ("X.__class__", "attribute '.__class__' is not allowed"),
    ("__import__('os')", "the name '__import__' is not allowed"),
    ("[x for x in X]", "a comprehension is not allowed"),
    ("'abc'", "a string is not allowed"),
    ("X if X else Y", "a conditional expression is not allowed"),
    ("X < Y", "a comparison is not allowed"),
    ("Q + 1", "unknown name 'Q'"),
    ("Xx + 1", "did you mean 'X'"),
    ("foo(X)", "unknown function 'foo'"),
    ("exq(X)", "did you mean 'exp'"),
    ("np.sum(X)", "only the listed functions may be called"),
    ("sum(X, axis=Y)", "must be a constant"),
    ("sum(X, dtype=1)", "takes no keyword 'dtype'"),
    ("inv(X, Y)", "takes 1 positional argument"),
    ("X[v]", "indices must be integer constants"),
    ("X % 2", "operator 'Mod' is not allowed"),
    ("sum", "'sum' is a function"),
    ("X +", "syntax error"),
])
def test_forbidden_constructs_are_refused_by_name(src, message):
    with pytest.raises(ExpressionError, match=re.escape(message)):
        Expression(src, set(ENV))


def test_no_eval_anywhere():
    import inspect
    import fdcheck.expr as module
    source = inspect.getsource(module)
    assert "eval(" not in source.replace("_eval(", "") and "exec(" not in source


def test_expressions_pickle_by_source():
    import pickle
    e = Expression("trace(X @ Y)", {"X", "Y"})
    e2 = pickle.loads(pickle.dumps(e))
    assert e2.source == e.source and np.isclose(e2(ENV, OPS), np.trace(X @ Y))


def test_runtime_errors_name_the_function():
    with pytest.raises(ValueError, match="trace needs a matrix"):
        ev("trace(v)")
    with pytest.raises(ValueError, match="det needs a square matrix"):
        ev("det(X[:2])")


# Each operator alone on constants, as Python computes it; the operands are
# chosen so that computing any other operator would overflow or divide by zero.
FOLDS = [("2 + 1100", 1102), ("1100 - 2", 1098), ("2 * 1100", 2200), ("1100 / 2", 550.0),
         ("1000 * 1000", 1e6), ("0 * -1", 0), ("0 + -1", -1), ("0 - 0", 0), ("3 / 1100", 3 / 1100),
         ("2 ** 10", 1024), ("2 ** -1", 0.5), ("10 ** 400 / 10 ** 399", 10.0),
         ("(2 + 1) * 4 - 6 / 3", 10.0), ("2 * 3 * 5", 30)]


@pytest.mark.parametrize("src, value", FOLDS, ids=[f[0] for f in FOLDS])
def test_constants_fold_as_python_computes_them(src, value):
    assert eval(src) == value  # the table itself is Python's arithmetic
    got = ev(f"v * ({src})")
    np.testing.assert_array_equal(got, v * float(value))


@pytest.mark.parametrize("src, why", [
    ("v * (1 / 0)", "division by zero"), ("v * 0 ** -1", "division by zero"),
    ("v * 10.0 ** 400", "overflows"), ("v * 10 ** 10 ** 10", "overflows"),
    ("v * (-8) ** 0.5", "outside its domain")])
def test_constants_python_cannot_compute_are_refused(src, why):
    with pytest.raises(ExpressionError, match=why):
        ev(src)


def test_a_constant_expression_has_one_value_per_point_of_a_batch():
    got = Expression("4", {"v"})({"v": np.zeros((5, 3))}, OPS, batch=5)
    np.testing.assert_array_equal(got, np.full(5, 4.0))



# -- every refusal at its place (mutation survivors of expr) ------------------------------

@pytest.mark.parametrize("src, message", [
    ("(1, 2) + X", "a tuple or list is only allowed as a shape or an axis"),
    ("X + (1, 2)", "a tuple or list is only allowed as a shape or an axis"),
    ("(1, 2) * 3", "a tuple or list is only allowed as a shape or an axis"),
    ("reshape(X, X)", "must be constant integers"),
    ("sum(X, 0, 1)", "sum() takes 1 to 2 positional argument(s), not 3"),
    ("sum(X, keepdims=2)", "the keyword 'keepdims' must be a constant"),
    ("ones([X, 2])", "a tuple or list may only hold integer constants"),
    ("ones([1.5, 2])", "a tuple or list may only hold integer constants"),
    ("__x", "the name '__x' is not allowed"),
    ("maximum(2, 3)", "maximum() of constants: write the number instead"),
    ("X * 2 ** 1025", "overflows a float64"),
])
def test_every_refusal_of_the_compiler_names_its_place(src, message):
    with pytest.raises(ExpressionError, match=re.escape(message)):
        Expression(src, set(ENV))


@pytest.mark.parametrize("src, message", [
    ("u[0] @ X", "'@' needs operands of rank 1 or more"),
    ("kron(ones([2, 2, 2]), X)", "kron needs vectors or matrices"),
])
def test_shape_refusals_at_evaluation_name_the_operator(src, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ev(src)


def test_an_expression_of_the_longest_length_is_read_and_one_more_refused():
    from fdcheck.expr import MAX_SOURCE
    assert Expression("X" + " " * (MAX_SOURCE - 1), set(ENV)).source.strip() == "X"
    with pytest.raises(ExpressionError, match="characters"):
        Expression("X" + " " * MAX_SOURCE, set(ENV))


@pytest.mark.parametrize("src, expected", [
    ("sum(X, axis=1)", X.sum(1)), ("sum(X, axis=-1)", X.sum(-1)),
    ("sum(X, axis=0, keepdims=1)", X.sum(0, keepdims=True)),
    ("1 ** 100000 * sum(X)", X.sum()), ("(-1) ** 100001 * sum(X)", -X.sum()),
])
def test_keywords_and_powers_of_one_at_their_boundaries(src, expected):
    np.testing.assert_allclose(ev(src), expected)


def test_an_axis_keyword_is_the_axis_given_not_its_truth():
    T = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ev("sum(T, axis=2)", {"T": T}), T.sum(2))


def test_a_long_expression_is_quoted_cut_to_eighty_characters_in_its_error():
    src = "X + " * 30 + "*"      # a syntax error at the end
    with pytest.raises(ExpressionError) as info:
        Expression(src, set(ENV))
    assert repr(src[:77] + "...") in str(info.value) and src not in str(info.value)
