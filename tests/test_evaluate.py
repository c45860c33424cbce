"""Evaluators: serial, vectorized and a real process pool give the same Jacobian."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import fdcheck
from fdcheck.evaluate import Batch, Serial, Vectorized

from .conftest import ROOT, WritesItsInput


def f(W):  # module level: it must pickle to reach the workers
    return np.tanh(np.arange(6.0).reshape(2, 3) @ W)


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


def test_process_pool_is_identical_to_serial_to_the_last_bit(pool):
    W = np.random.default_rng(0).standard_normal((3, 4))
    serial = fdcheck.jacobian(f, W)
    pooled = fdcheck.jacobian(f, W, executor=pool, workers=2)
    assert np.array_equal(serial, pooled)


def test_cli_workers_runs_the_shipped_cases(cli_json):
    code, doc = cli_json(str(ROOT / "cases" / "teaching.yaml"), "--workers", "2")
    assert code == 0 and doc["summary"]["passed"] == doc["summary"]["cases"]


@pytest.mark.parametrize("evaluator", [Serial(), Vectorized(max_points=3)])
def test_batches_of_groups_and_dense_points(evaluator):
    from fdcheck.flatfun import FlatFunction
    fn = FlatFunction(lambda x: 2 * x, [np.zeros(4)], batched_call=lambda x: 2 * x)
    grouped = Batch(np.array([0, 2, 1, 3]), np.array([1.0, 1.0, 5.0, 7.0]), np.array([0, 2, 4]))
    assert evaluator(fn, fn.x0, grouped).tolist() == [[2, 0, 2, 0], [0, 10, 0, 14]]
    dense = Batch(np.empty(0, int), np.empty(0), None, np.eye(4)[:2])
    assert evaluator(fn, fn.x0, dense).tolist() == [[2, 0, 0, 0], [0, 2, 0, 0]]


A23 = np.arange(1.0, 7.0).reshape(2, 3)
REUSED = np.empty((2, 2, 2))
OUTPUTS = [
    ("float64 matrix", lambda W: np.tanh(A23 @ W), (3, 2), np.float64),
    ("float32 matrix", lambda W: (A23 @ W).astype(np.float32), (3, 2), np.float64),
    ("float32 input", lambda W: W * W, (3, 2), np.float32),
    ("numpy float64 scalar", lambda W: np.sum(W ** 3), (3, 2), np.float64),
    ("python float", lambda W: float(np.sum(W ** 3)), (3, 2), np.float64),
    ("0-d array", lambda W: np.asarray(np.sum(W ** 3)), (3, 2), np.float64),
    ("strided view of the input (X.T)", lambda W: W.T, (3, 2), np.float64),
    ("the input itself", lambda W: W, (3, 2), np.float64),
    ("Fortran-ordered output", lambda W: np.asfortranarray(np.outer(W, W)), (3, 2), np.float64),
    ("big-endian output", lambda W: (A23 @ W).astype(">f8"), (3, 2), np.float64),
    # Outputs whose memory the next call overwrites: never read after it.
    ("a buffer the function reuses", lambda W: np.matmul(A23, np.tanh(W), out=REUSED[0]),
     (3, 2), np.float64),
    ("a view of a reused buffer", lambda W: np.matmul(A23, np.tanh(W), out=REUSED[1])[:, ::1],
     (3, 2), np.float64),
    # Arrays that own their memory but that the function keeps and refills.
    ("one array the function keeps and refills", lambda W: _Refills(1)(W), (3, 2), np.float64),
    ("two arrays the function alternates between", lambda W: _Refills(2)(W), (3, 2), np.float64),
]


class _Refills:
    """Returns one of ``count`` arrays it owns, refilled with tanh(A23 @ W)."""

    held: dict[int, list] = {}

    def __init__(self, count):
        self.buffers = self.held.setdefault(count, [np.empty((2, 2)) for _ in range(count)])

    def __call__(self, W):
        self.buffers.append(self.buffers.pop(0))
        np.tanh(A23 @ W, out=self.buffers[0])
        return self.buffers[0]


def _naive_central(fn, x0):
    """Column by column on fresh copies of x0: the central difference as
    written on paper, to compare the in-place loops with."""
    from fdcheck.flatfun import FlatFunction
    from fdcheck.step import steps_for
    from fdcheck.stencils import stencil
    fl = FlatFunction(fn, [x0])
    x = fl.x0
    h = steps_for(x, fl.dtype, stencil("central", 2))
    cols = []
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] = (x[i].astype(np.float64) + h[i]).astype(x.dtype)
        down[i] = (x[i].astype(np.float64) - h[i]).astype(x.dtype)
        y_up = np.array(fl(up), dtype=np.float64)   # a copy: the function may reuse its buffer
        cols.append((y_up - np.array(fl(down), dtype=np.float64)) * (0.5 / h[i]))
    return np.array(cols).T


@pytest.mark.parametrize("label, fn, shape, dtype", OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_the_plain_loop_equals_a_naive_central_difference_to_the_last_bit(label, fn, shape, dtype):
    # The loop perturbs one working copy in place and stores each output at
    # once: an output that aliases the point (W.T), a buffer the function
    # reuses, a Python number or an integer array must all come out as if
    # every point had been a fresh array.
    W = (np.random.default_rng(1).standard_normal(shape) + 0.5).astype(dtype)
    with np.errstate(all="ignore"):
        got = fdcheck.numeric(fn, W)
        naive = _naive_central(fn, W)
    assert got.evaluations == 2 * W.size
    assert np.array_equal(got.jacobian, naive, equal_nan=True)


@pytest.mark.parametrize("label, fn, shape, dtype", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("method", ["central", "forward", {"scheme": "central", "order": 4}])
def test_the_plain_and_the_points_one_by_one_agree_to_the_last_bit(label, fn, shape, dtype, order,
                                                                   method):
    # Pairs of one element, single points, and an executor's share of a
    # batch all go through different loops of Serial; the bits must not differ.
    from fdcheck.engine import stencil_jacobian
    from fdcheck.flatfun import FlatFunction
    from fdcheck.stencils import Method
    W = (np.random.default_rng(1).standard_normal(shape) + 0.5).astype(dtype)
    fl = FlatFunction(fn, [W], order=order)
    with np.errstate(all="ignore"):
        plain = stencil_jacobian(fl, Method.parse(method), Serial())
        apart = stencil_jacobian(fl, Method.parse(method), _OnePointAtATime())
    assert plain.evaluations == apart.evaluations
    assert np.array_equal(plain.jacobian, apart.jacobian, equal_nan=True)


class _OnePointAtATime(Serial):
    """Serial handed one point per call: never the pairs' loop."""

    def chunk_points(self, n, m):
        return 1


@pytest.mark.parametrize("fn, exact", [
    (lambda W: W.T, lambda W: np.eye(6).reshape(3, 2, 3, 2).transpose(1, 0, 2, 3).reshape(6, 6)),
    (lambda W: W, lambda W: np.eye(6)),
    (lambda W: np.sum(W ** 3), lambda W: (3 * W ** 2).reshape(1, -1)),
])
def test_outputs_that_alias_the_input_are_stored_before_it_moves(fn, exact):
    W = np.random.default_rng(2).standard_normal((3, 2))
    got = fdcheck.jacobian(fn, W)
    assert np.allclose(got, exact(W), atol=1e-8)


@pytest.mark.parametrize("bad, message", [
    (lambda W: np.ones(1) if W[0, 0] != 1.0 else np.ones(6), r"shape \(1,\) at a perturbed point"),
    (lambda W: np.ones((2, 3)) if W[0, 0] != 1.0 else np.ones((3, 2)),
     r"shape \(2, 3\) at a perturbed point, \(3, 2\) at the base"),
    (lambda W: "text" if W[0, 0] != 1.0 else np.ones(2), r"shape \(\) at a perturbed point"),
])
def test_a_wrong_output_at_a_perturbed_point_is_named(bad, message):
    from fdcheck.errors import EvaluationError
    W = np.ones((3, 2))
    with pytest.raises(EvaluationError, match=message):
        fdcheck.numeric(bad, W)


@pytest.mark.parametrize("fn, x, columns", [
    (np.sqrt, [0.0, 4.0, 0.0], (0, 2)),                      # nan at x - h
    (lambda x: np.where(x > 1, np.inf, x), [1.0, 0.0], (0,)),  # inf at x + h only
    (lambda x: np.sqrt(x[..., 1:2]) + x, [1.0, 0.0, 3.0], (1,)),   # every output of column 1
])
@pytest.mark.parametrize("vectorized", [False, True])
def test_the_central_difference_flags_exactly_the_non_finite_columns(fn, x, columns, vectorized):
    with np.errstate(all="ignore"):
        res = fdcheck.numeric(fn, np.array(x), vectorized=vectorized)
    assert res.flags[0].columns == columns
    assert not np.isfinite(res.jacobian[:, list(columns)]).all()
    others = [c for c in range(len(x)) if c not in columns]
    assert np.isfinite(res.jacobian[:, others]).all()


def test_a_function_that_raises_leaves_the_working_point_restored():
    from fdcheck.flatfun import FlatFunction
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("once")
        return x * 1.0

    fn = FlatFunction(flaky, [np.arange(4.0)])
    serial = Serial()
    points = Batch(np.array([0, 1, 2, 3]), np.array([10.0, 11.0, 12.0, 13.0]))
    with pytest.raises(RuntimeError, match="once"):
        serial(fn, fn.x0, points)
    x = serial._copies.of(fn.x0)
    assert x.tolist() == [0, 1, 2, 3]
    assert serial(fn, fn.x0, points).tolist() == [[10, 1, 2, 3], [0, 11, 2, 3], [0, 1, 12, 3],
                                                   [0, 1, 2, 13]]


BATCHED = [
    ("elementwise", lambda W: np.sin(W) * W),
    ("reduction over the trailing axes", lambda W: np.sum(W ** 3, axis=(-2, -1))),
    ("stacked product", lambda W: np.swapaxes(W, -1, -2) @ W),
    ("float32 output", lambda W: (W * 2).astype(np.float32)),
]


@pytest.mark.parametrize("label, batched", BATCHED, ids=[b[0] for b in BATCHED])
@pytest.mark.parametrize("max_points", [1, 2, 5, None])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("method", ["central", "forward", {"scheme": "central", "order": 4}])
def test_the_vectorized_mode_equals_the_plain_mode(label, batched, max_points, order, method):
    from fdcheck.engine import stencil_jacobian
    from fdcheck.flatfun import FlatFunction
    from fdcheck.stencils import Method
    W = np.random.default_rng(5).standard_normal((3, 2))
    fn = FlatFunction(batched, [W], order=order, batched_call=batched)
    vector = stencil_jacobian(fn, Method.parse(method), Vectorized(max_points=max_points))
    serial = stencil_jacobian(fn, Method.parse(method), Serial())
    assert vector.evaluations == serial.evaluations
    assert np.allclose(vector.jacobian, serial.jacobian, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batched, exact", [
    (lambda W: W, lambda W: np.eye(W.size)),                       # the stacked points themselves
    (lambda W: np.swapaxes(W, -1, -2), lambda W: np.eye(6).reshape(3, 2, 3, 2)
     .transpose(1, 0, 2, 3).reshape(6, 6)),                         # a view of them (X.T)
])
@pytest.mark.parametrize("max_points", [1, 3, None])
def test_vectorized_outputs_that_alias_the_points_are_stored_before_they_are_restored(batched, exact,
                                                                                   max_points):
    from fdcheck.engine import stencil_jacobian
    from fdcheck.stencils import Method
    from fdcheck.flatfun import FlatFunction
    W = np.random.default_rng(4).standard_normal((3, 2))
    fn = FlatFunction(batched, [W], batched_call=batched)
    got = stencil_jacobian(fn, Method(), Vectorized(max_points=max_points)).jacobian
    assert np.allclose(got, exact(W), atol=1e-8)


def test_vectorized_working_points_survive_a_function_that_raises():
    from fdcheck.flatfun import FlatFunction
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("once")
        return x * 1.0

    fn = FlatFunction(flaky, [np.arange(4.0)], batched_call=flaky)   # call 1
    vec = Vectorized(max_points=2)
    points = Batch(np.array([0, 1, 2, 3]), np.array([10.0, 11.0, 12.0, 13.0]))
    with pytest.raises(RuntimeError, match="once"):                 # call 2 raises, its rows moved
        vec(fn, fn.x0, Batch(np.array([2, 3]), np.array([12.0, 13.0])))
    assert vec(fn, fn.x0, points).tolist() == [[10, 1, 2, 3], [0, 11, 2, 3], [0, 1, 12, 3],
                                                [0, 1, 2, 13]]


WRITERS = [  # (options, the calls the Jacobian makes: 1 is the base point)
    ({}, 13), ({"method": "forward"}, 7), ({"method": {"scheme": "central", "order": 4}}, 25),
    ({"method": "richardson"}, 40), ({"sparsity": "diagonal"}, 3), ({"vectorized": True}, 2),
]


@pytest.mark.parametrize("options, at", [(o, at) for o, calls in WRITERS for at in sorted({1, 2, calls})],
                         ids=[f"{o or 'central'}, call {at}" for o, calls in WRITERS
                              for at in sorted({1, 2, calls})])
def test_a_function_that_writes_to_its_input_is_named_not_differentiated(options, at):
    from fdcheck.errors import EvaluationError
    W = np.arange(1.0, 7.0).reshape(2, 3)
    with pytest.raises(EvaluationError, match=r"writes to its input in place .*a copy"):
        fdcheck.numeric(WritesItsInput(at, lambda W: W.__imul__(1.5), np.sin), W, **options)
    assert W.tolist() == [[1, 2, 3], [4, 5, 6]]   # the caller's array is never handed over


@pytest.mark.parametrize("at", [1, 5])
def test_a_function_that_writes_to_another_input_is_named_and_the_callers_array_kept(at):
    from fdcheck.errors import EvaluationError
    f = WritesItsInput(at, lambda A: A.__iadd__(1.0), lambda A, W: A @ W, which=0)
    A, W = np.eye(2), np.arange(1.0, 5.0).reshape(2, 2)
    with pytest.raises(EvaluationError, match="writes to its input in place"):
        fdcheck.numeric(f, A, W, wrt=1)
    assert A.tolist() == [[1, 0], [0, 1]] and A.flags.writeable


def test_a_function_that_reads_its_input_still_gets_the_same_jacobian():
    # Read-only points change nothing for a function that only reads them,
    # even one that returns its input itself or a view of it.
    W = np.arange(1.0, 7.0).reshape(2, 3)
    for f in (lambda W: W, lambda W: np.swapaxes(W, -1, -2), lambda W: np.sin(W)):
        for options in ({}, {"vectorized": True}):
            res = fdcheck.numeric(f, W, **options)
            assert np.allclose(res.jacobian, fdcheck.numeric(lambda W: f(W.copy()), W).jacobian,
                               rtol=0, atol=0)


class TurnsComplex:
    """sin(W), complex (times 1 + 0.5j) from call ``at`` on; call 1 is the base point."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, W):
        self.calls += 1
        return np.sin(W) * (1 + 0.5j) if self.calls >= self.at else np.sin(W)


COMPLEX_AT = [(o, at) for o, calls in WRITERS for at in sorted({1, 2, calls})] \
    + [({"method": "complex-step"}, 1), ({"method": "complex-step"}, 2)]


@pytest.mark.parametrize("options, at", COMPLEX_AT,
                         ids=[f"{o or 'central'}, call {at}" for o, at in COMPLEX_AT])
def test_complex_values_at_a_real_point_are_refused_not_cut_to_their_real_part(options, at):
    # Stored into real rows, they used to lose their imaginary part with only
    # a ComplexWarning, and the Jacobian was that of Re f.
    import warnings

    from fdcheck.errors import EvaluationError
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(EvaluationError, match=r"complex values at a real point.*np\.imag"):
            fdcheck.numeric(TurnsComplex(at), np.arange(1.0, 7.0).reshape(2, 3), **options)


@pytest.mark.parametrize("x, dtype", [(np.array([0.3 + 0.2j, 0.5]), np.float64),
                                     (np.array([0.3 + 0.2j, 0.5], dtype=np.complex64), np.float32)])
def test_a_complex_input_is_differentiated_in_real_form(x, dtype):
    # |z|^2 = x^2 + y^2: columns (x1, y1, x2, y2), in the input's own precision.
    result = fdcheck.numeric(lambda z: np.abs(z) ** 2, x)
    assert result.jacobian.shape == (2, 4) and result.dtype == np.dtype(dtype).name
    np.testing.assert_allclose(result.jacobian, [[0.6, 0.4, 0, 0], [0, 0, 1.0, 0]],
                               atol=1e-8 if dtype == np.float64 else 1e-3)


@pytest.mark.parametrize("n, m, points", [
    (64, 64, 1024),          # 512 KB / (8 x 64): every point of a small Jacobian in one call
    (256, 32, 256),
    (1024, 1024, 64),
    (4096, 8, 16),
    (16384, 1, 16),          # at least 16 points a call...
    (200_000, 1, 2),         # ...where the 4 MB chunk allows: 4 MB / (8 x 200000) = 2
    (10**6, 1, 1),
])
def test_the_vectorized_mode_stacks_about_an_l2_cache_of_points_a_call(n, m, points):
    from fdcheck.evaluate import CHUNK_BYTES
    assert Vectorized().call_points(n, m) == points
    assert points * 8 * max(n, m) <= max(CHUNK_BYTES, 8 * max(n, m))
    assert Vectorized(max_points=3).call_points(n, m) == 3
    # The engine is handed whole 4 MB chunks, which the evaluator cuts into calls.
    assert Vectorized().chunk_points(n, m) == max(points, CHUNK_BYTES // (8 * max(n, m)))


@pytest.mark.parametrize("n, m, points", [
    (64, 8, 4096),           # 256 KB / (8 x 8): every point of a small Jacobian in one chunk
    (1024, 1024, 64),        # at least 64 points a chunk...
    (4096, 4096, 64),
    (16384, 2048, 32),       # ...but never more than the 4 MB chunk holds: 4 MB / (8 x 16384)
    (10**6, 1, 1),
])
def test_the_plain_mode_hands_over_about_half_an_l2_cache_of_outputs(n, m, points):
    assert Serial().chunk_points(n, m) == points


def test_a_python_complex_number_at_a_perturbed_point_is_refused_too():
    from fdcheck.errors import EvaluationError

    def f(x):
        return float(x[0]) if x[0] == 0.3 else complex(x[0], 1.0)
    with pytest.raises(EvaluationError, match="complex values at a real point"):
        fdcheck.numeric(f, np.array([0.3, 0.5]))
