"""Evaluators: serial, vectorized and a real process pool give the same Jacobian."""
import multiprocessing
import os
import sys
import time
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


# The plain mode's loop exists twice: in C (fdcheck/_hotloop.c) and in Python,
# the fallback where the extension is not built. Both must give the same
# Jacobian, to the last bit, for every kind of output a function can return.
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
    ("integer output", lambda W: (W > 0).astype(np.int64), (3, 2), np.float64),
    ("Fortran-ordered output", lambda W: np.asfortranarray(np.outer(W, W)), (3, 2), np.float64),
    ("big-endian output", lambda W: (A23 @ W).astype(">f8"), (3, 2), np.float64),
    # Outputs whose memory the next call overwrites: never read after it.
    ("a buffer the function reuses", lambda W: np.matmul(A23, np.tanh(W), out=REUSED[0]),
     (3, 2), np.float64),
    ("a view of a reused buffer", lambda W: np.matmul(A23, np.tanh(W), out=REUSED[1])[:, ::1],
     (3, 2), np.float64),
]


def _loops(monkeypatch):
    import fdcheck.evaluate as ev
    assert ev._hotloop is not None, "the C hot loop was not built (pip install -e . compiles it)"
    for name, module in (("C", ev._hotloop), ("python", None)):
        monkeypatch.setattr(ev, "_hotloop", module)
        yield name


@pytest.mark.parametrize("label, fn, shape, dtype", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("method", ["central", "forward", {"scheme": "central", "order": 4}])
def test_compiled_and_python_loops_agree_to_the_last_bit(monkeypatch, label, fn, shape, dtype, order,
                                                         method):
    W = (np.random.default_rng(1).standard_normal(shape) + 0.5).astype(dtype)
    results = {}
    for name in _loops(monkeypatch):
        with np.errstate(all="ignore"):
            results[name] = fdcheck.numeric(fn, W, order=order, method=method)
    c, py = results["C"], results["python"]
    assert c.evaluations == py.evaluations
    assert np.array_equal(c.jacobian, py.jacobian, equal_nan=True)


@pytest.mark.parametrize("fn, exact", [
    (lambda W: W.T, lambda W: np.eye(6).reshape(3, 2, 3, 2).transpose(1, 0, 2, 3).reshape(6, 6)),
    (lambda W: W, lambda W: np.eye(6)),
    (lambda W: np.sum(W ** 3), lambda W: (3 * W ** 2).reshape(1, -1)),
])
def test_outputs_that_alias_the_input_are_stored_before_it_moves(monkeypatch, fn, exact):
    W = np.random.default_rng(2).standard_normal((3, 2))
    for _ in _loops(monkeypatch):
        got = fdcheck.jacobian(fn, W)
        assert np.allclose(got, exact(W), atol=1e-8)


@pytest.mark.parametrize("bad, message", [
    (lambda W: np.ones(1) if W[0, 0] != 1.0 else np.ones(6), r"shape \(1,\) at a perturbed point"),
    (lambda W: np.ones((2, 3)) if W[0, 0] != 1.0 else np.ones((3, 2)),
     r"shape \(2, 3\) at a perturbed point, \(3, 2\) at the base"),
    (lambda W: "text" if W[0, 0] != 1.0 else np.ones(2), r"shape \(\) at a perturbed point"),
])
def test_a_wrong_output_at_a_perturbed_point_is_named(monkeypatch, bad, message):
    from fdcheck.errors import EvaluationError
    W = np.ones((3, 2))
    for _ in _loops(monkeypatch):
        with pytest.raises(EvaluationError, match=message):
            fdcheck.numeric(bad, W)


class _PointsOnly(Serial):
    """Serial without the one-pass central difference: every point is stored
    in the chunk buffer, then differenced by the engine."""

    def differences(self, *args):
        return None


@pytest.mark.parametrize("label, fn, shape, dtype", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("order", ["C", "F"])
def test_the_one_pass_central_difference_equals_points_then_differences(label, fn, shape, dtype,
                                                                       order):
    from fdcheck.engine import Method, stencil_jacobian
    from fdcheck.flatfun import FlatFunction
    W = (np.random.default_rng(1).standard_normal(shape) + 0.5).astype(dtype)
    fl = FlatFunction(fn, [W], order=order)
    calls = []
    serial = Serial()
    serial.differences = lambda *a: calls.append(1) or Serial.differences(serial, *a)
    with np.errstate(all="ignore"):
        one_pass = stencil_jacobian(fl, Method(), serial)
        apart = stencil_jacobian(fl, Method(), _PointsOnly())
    assert calls, "the one-pass path was not taken"
    assert np.array_equal(one_pass.jacobian, apart.jacobian, equal_nan=True)
    assert one_pass.flags == apart.flags and one_pass.evaluations == apart.evaluations == 2 * W.size


@pytest.mark.parametrize("fn, x, columns", [
    (np.sqrt, [0.0, 4.0, 0.0], (0, 2)),                      # nan at x - h
    (lambda x: np.where(x > 1, np.inf, x), [1.0, 0.0], (0,)),  # inf at x + h only
    (lambda x: np.sqrt(x[1]) + x, [1.0, 0.0, 3.0], (1,)),   # every output of column 1
])
def test_the_one_pass_central_difference_flags_the_same_non_finite_columns(fn, x, columns):
    from fdcheck.engine import Method, stencil_jacobian
    from fdcheck.flatfun import FlatFunction
    one_pass = fdcheck.numeric(fn, np.array(x))
    with np.errstate(all="ignore"):
        apart = stencil_jacobian(FlatFunction(fn, [np.array(x)]), Method(), _PointsOnly())
    assert one_pass.flags[0].columns == apart.flags[0].columns == columns
    assert np.array_equal(one_pass.jacobian, apart.jacobian, equal_nan=True)


@pytest.mark.parametrize("evaluator", [Serial(), Vectorized(max_points=2), Vectorized()])
@pytest.mark.parametrize("start", [0, 1, 3])
def test_one_pass_differences_move_the_elements_from_start(evaluator, start):
    from fdcheck.flatfun import FlatFunction
    x = np.arange(5.0)
    fn = FlatFunction(lambda x: x * x, [x], batched_call=lambda x: x * x)
    k = 5 - start
    dest = np.empty((k, 5))
    upper, lower = x[start:] + 1, x[start:] - 1
    assert evaluator.differences(fn, fn.x0, start, upper, lower, np.full(k, 0.5), dest) == []
    # d(x_i^2)/dx_i by a central difference of step 1 is exactly 2 x_i.
    assert dest.tolist() == (np.eye(5)[start:] * 2 * x).tolist()


# A large Jacobian is written behind the calls: the C loop holds the outputs
# of a few rows in a ring and a second thread differences them into the
# result. The same bits, the same flags, the same restored point.
@pytest.fixture
def behind(monkeypatch):
    """The least ring (4 slots) and its thread, whatever the machine's cores."""
    import fdcheck.evaluate as ev
    monkeypatch.setattr(ev, "CORES", 2)
    monkeypatch.setattr(ev, "RING_BYTES", 1)
    assert ev._ring_slots(1) == 4
    return ev


def _ring_threads():
    """The process's threads named as the C loop names its second thread."""
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                names.append(comm.read().strip())
        except FileNotFoundError:   # a thread that ended meanwhile
            pass
    return names.count("fdcheck-ring")


def _ring_threads_left(seconds=1.0):
    """_ring_threads() once every joined thread has also left /proc: the kernel
    wakes pthread_join as the thread exits, and removes its entry only just
    after. A thread never joined waits on its condition and stays."""
    deadline = time.monotonic() + seconds
    while _ring_threads() and time.monotonic() < deadline:
        time.sleep(0.001)
    return _ring_threads()


def _both_ways(fn, x0, upper, lower, scale):
    out = []
    for way in (False, True):
        dest = np.full((len(upper), fn.m), -1.0)
        with np.errstate(all="ignore"):
            bad = Serial().differences(fn, x0, 0, upper, lower, scale, dest, way)
        out.append((dest, bad))
    return out


@pytest.mark.parametrize("label, fn, shape, dtype", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("order", ["C", "F"])
def test_rows_written_behind_are_the_same_bits_for_every_kind_of_output(behind, label, fn, shape,
                                                                        dtype, order):
    from fdcheck.flatfun import FlatFunction
    W = (np.random.default_rng(2).standard_normal(shape) + 0.5).astype(dtype)
    fl = FlatFunction(fn, [W], order=order)   # 6 rows in 4 slots: the ring wraps
    (direct, bad_direct), (written, bad_written) = _both_ways(
        fl, fl.x0, fl.x0 + dtype(0.25), fl.x0 - dtype(0.25), np.full(fl.n, 2.0))
    assert np.array_equal(written, direct, equal_nan=True) and bad_written == bad_direct
    assert (direct != -1.0).any()


@pytest.mark.parametrize("values, columns", [
    (np.arange(300.0) + 1, []),
    (np.where(np.arange(300) % 37 == 0, 0.0, 1.0), list(range(0, 300, 37))),  # sqrt(-h) is nan
])
def test_rows_written_behind_wrap_the_ring_many_times_and_keep_every_flag(behind, values, columns):
    from fdcheck.flatfun import FlatFunction
    fl = FlatFunction(lambda x: np.sqrt(x) * x[::-1], [values])
    h = np.full(300, 1e-3)
    (direct, bad_direct), (written, bad_written) = _both_ways(fl, fl.x0, fl.x0 + h, fl.x0 - h,
                                                              1 / (2 * h))
    assert np.array_equal(written, direct, equal_nan=True)
    assert bad_written == bad_direct == columns


@pytest.mark.skipif(sys.platform != "linux", reason="counts the process's threads in /proc")
def test_rows_written_behind_are_differenced_on_a_second_thread_that_ends_with_the_call(behind):
    from fdcheck.flatfun import FlatFunction
    seen = []

    def f(x):
        seen.append(_ring_threads())
        return x * x

    fl = FlatFunction(f, [np.arange(40.0)])
    for way, extra in ((False, 0), (True, 1)):
        seen.clear()
        dest = np.empty((40, 40))
        assert _ring_threads_left() == 0   # none from an earlier call still in /proc
        assert Serial().differences(fl, fl.x0, 0, fl.x0 + 1, fl.x0 - 1, np.full(40, 0.5), dest,
                                    way) == []
        # Found by name, not by the number of threads, which a thread another
        # test left starting up can change.
        assert max(seen) == extra and _ring_threads_left() == 0
        assert dest.tolist() == np.diag(2 * np.arange(40.0)).tolist()


# The upper point, the lower point, a later element; behind, also after the ring wrapped.
@pytest.mark.parametrize("way, fail_at", [(False, 1), (False, 2), (False, 5),
                                          (True, 1), (True, 2), (True, 9), (True, 61)])
def test_the_one_pass_central_difference_survives_a_function_that_raises(behind, way, fail_at):
    from fdcheck.flatfun import FlatFunction
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == fail_at + 1:   # call 1 is the base evaluation
            raise RuntimeError("once")
        return x * 1.0

    fn = FlatFunction(flaky, [np.arange(40.0)])
    serial = Serial()
    args = (fn, fn.x0, 0, fn.x0 + 1, fn.x0 - 1, np.full(40, 0.5))
    with pytest.raises(RuntimeError, match="once"):
        serial.differences(*args, np.empty((40, 40)), way)
    assert serial._copies.of(fn.x0).tolist() == list(range(40))   # the point restored
    if sys.platform == "linux":
        assert _ring_threads_left() == 0   # a second thread, if any, was joined
    dest = np.empty((40, 40))
    assert serial.differences(*args, dest, way) == []
    assert dest.tolist() == np.eye(40).tolist()


@pytest.mark.parametrize("cores, slots", [(1, 0), (2, 64), (8, 64)])
def test_the_ring_needs_a_second_core(monkeypatch, cores, slots):
    import fdcheck.evaluate as ev
    monkeypatch.setattr(ev, "CORES", cores)
    monkeypatch.setattr(ev, "RING_BYTES", 2**20)
    assert ev._ring_slots(1024) == slots


@pytest.mark.parametrize("limit, behind", [(64 * 2**20, False), (0, True)])
def test_the_engine_writes_behind_only_a_jacobian_too_large_for_the_cache(monkeypatch, limit, behind):
    import fdcheck.engine as engine
    from fdcheck.engine import Method, stencil_jacobian
    from fdcheck.flatfun import FlatFunction
    W = np.random.default_rng(3).standard_normal((3, 50))
    fl = FlatFunction(lambda W: np.tanh(A23 @ W), [W])
    reference = stencil_jacobian(fl, Method(), Serial()).jacobian
    asked = []
    serial = Serial()
    serial.differences = lambda *a: asked.append(a[-1]) or Serial.differences(serial, *a)
    monkeypatch.setattr(engine, "WRITE_BEHIND_BYTES", limit)
    result = stencil_jacobian(fl, Method(), serial)
    assert set(asked) == {behind}
    assert np.array_equal(result.jacobian, reference)


@pytest.mark.parametrize("start, k", [(-1, 2), (4, 2), (6, 0)])
def test_the_compiled_difference_refuses_elements_outside_the_input(start, k):
    from fdcheck.flatfun import FlatFunction
    fn = FlatFunction(lambda x: x * 1.0, [np.zeros(5)])
    with pytest.raises(IndexError, match="outside the input of 5 elements"):
        Serial().differences(fn, fn.x0, start, np.ones(k), np.ones(k), np.ones(k), np.empty((k, 5)))


def test_a_function_that_raises_leaves_the_working_point_restored(monkeypatch):
    from fdcheck.flatfun import FlatFunction
    for _ in _loops(monkeypatch):
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


class _VectorizedPointsOnly(Vectorized):
    def differences(self, *args):
        return None


BATCHED = [
    ("elementwise", lambda W: np.sin(W) * W),
    ("reduction over the trailing axes", lambda W: np.sum(W ** 3, axis=(-2, -1))),
    ("stacked product", lambda W: np.swapaxes(W, -1, -2) @ W),
    ("float32 output", lambda W: (W * 2).astype(np.float32)),
]


@pytest.mark.parametrize("label, batched", BATCHED, ids=[b[0] for b in BATCHED])
@pytest.mark.parametrize("max_points", [2, 5, None])
@pytest.mark.parametrize("order", ["C", "F"])
def test_the_vectorized_one_pass_difference_equals_points_then_differences(label, batched,
                                                                         max_points, order):
    from fdcheck.engine import Method, stencil_jacobian
    from fdcheck.flatfun import FlatFunction
    W = np.random.default_rng(5).standard_normal((3, 2))
    fn = FlatFunction(batched, [W], order=order, batched_call=batched)
    one_pass = stencil_jacobian(fn, Method(), Vectorized(max_points=max_points))
    apart = stencil_jacobian(fn, Method(), _VectorizedPointsOnly(max_points=max_points))
    serial = stencil_jacobian(fn, Method(), Serial())
    assert np.array_equal(one_pass.jacobian, apart.jacobian)
    assert np.allclose(one_pass.jacobian, serial.jacobian, rtol=1e-12, atol=1e-12)
    assert Vectorized(max_points=max_points).differences(
        fn, fn.x0, 0, fn.x0 + 1, fn.x0 - 1, np.ones(6), np.empty((6, fn.m))) == []


@pytest.mark.parametrize("layout, convert, rtol", [
    ("C-contiguous float64 (compiled)", np.ascontiguousarray, 0),
    ("column-major float64", np.asfortranarray, 0),
    ("float32", lambda ys: ys.astype(np.float32), 1e-6),
])
def test_halves_is_the_scaled_central_difference_and_names_its_non_finite_rows(layout, convert,
                                                                                rtol):
    from fdcheck.evaluate import _halves
    ys = np.random.default_rng(6).standard_normal((8, 3))
    ys[1, 2] = np.inf       # an upper output of row 1
    ys[4 + 3, 0] = np.nan   # a lower output of row 3
    scale = np.array([0.5, 2.0, 3.0, 1e3])
    dest = np.empty((4, 3))
    assert _halves(convert(ys), scale, dest) == [1, 3]
    expected = (ys[:4] - ys[4:]) * scale[:, None]
    assert np.allclose(dest, expected, rtol=rtol, atol=0, equal_nan=True)
    if rtol == 0:
        assert np.array_equal(dest, expected, equal_nan=True)


BIG = np.finfo(np.float64).max
TINY = np.finfo(np.float64).smallest_subnormal


# The C row difference tests finiteness on the exponent bits, not with
# isfinite(), so that it vectorizes: every non-finite kind, at the head, in
# the middle and in the tail a vector loop leaves, and the finite extremes.
@pytest.mark.parametrize("upper, lower, scale, finite", [
    (np.inf, 0.0, 1.0, False),
    (0.0, np.inf, 1.0, False),          # -inf
    (np.nan, 0.0, 1.0, False),
    (-np.nan, 0.0, 1.0, False),         # a nan with the sign bit set
    (BIG, -BIG, 1.0, False),            # overflow in the subtraction
    (BIG, 0.0, 2.0, False),             # overflow in the scaling
    (BIG, 0.0, 1.0, True),
    (-BIG, 0.0, 1.0, True),
    (TINY, 0.0, 1.0, True),
    (-0.0, 0.0, 1.0, True),
])
@pytest.mark.parametrize("column", [0, 5, 10])
def test_the_compiled_row_difference_names_exactly_the_non_finite_rows(upper, lower, scale, finite,
                                                                        column):
    from fdcheck.evaluate import _halves
    ys = np.ones((4, 11))               # rows 0-1 upper, 2-3 lower; 11 columns: a tail
    ys[1, column], ys[3, column] = upper, lower
    dest = np.empty((2, 11))
    with np.errstate(all="ignore"):
        expected = (ys[:2] - ys[2:]) * np.array([1.0, scale])[:, None]
        assert _halves(ys, np.array([1.0, scale]), dest) == ([] if finite else [1])
    assert np.array_equal(dest, expected, equal_nan=True)


def test_the_vectorized_one_pass_difference_survives_a_function_that_raises():
    from fdcheck.flatfun import FlatFunction
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 3:   # call 1 is the base evaluation; call 3 the second chunk
            raise RuntimeError("once")
        return x * 1.0

    fn = FlatFunction(flaky, [np.arange(4.0)], batched_call=flaky)
    vec = Vectorized(max_points=4)
    args = (fn, fn.x0, 0, fn.x0 + 1, fn.x0 - 1, np.full(4, 0.5))
    with pytest.raises(RuntimeError, match="once"):
        vec.differences(*args, np.empty((4, 4)))
    dest = np.empty((4, 4))
    assert vec.differences(*args, dest) == []
    assert dest.tolist() == np.eye(4).tolist()


def test_the_vectorized_one_pass_difference_flags_non_finite_columns():
    from fdcheck.engine import Method, stencil_jacobian
    from fdcheck.flatfun import FlatFunction
    x = np.array([1.0, 0.0, 3.0])
    fn = FlatFunction(np.sqrt, [x], batched_call=np.sqrt)
    with np.errstate(all="ignore"):
        res = stencil_jacobian(fn, Method(), Vectorized(max_points=2))
    assert res.flags[0].columns == (1,)
    assert np.isfinite(res.jacobian[[0, 2]][:, [0, 2]]).all()


@pytest.mark.parametrize("batched, exact", [
    (lambda W: W, lambda W: np.eye(W.size)),                       # the stacked points themselves
    (lambda W: np.swapaxes(W, -1, -2), lambda W: np.eye(6).reshape(3, 2, 3, 2)
     .transpose(1, 0, 2, 3).reshape(6, 6)),                         # a view of them (X.T)
])
@pytest.mark.parametrize("max_points", [1, 3, None])
def test_vectorized_outputs_that_alias_the_points_are_stored_before_they_are_restored(batched, exact,
                                                                                   max_points):
    from fdcheck.engine import Method, stencil_jacobian
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
@pytest.mark.parametrize("loop", ["C", "python"])
def test_a_function_that_writes_to_its_input_is_named_not_differentiated(monkeypatch, options, at,
                                                                          loop):
    import fdcheck.evaluate as ev
    from fdcheck.errors import EvaluationError
    if loop == "python":
        monkeypatch.setattr(ev, "_hotloop", None)
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
@pytest.mark.parametrize("loop", ["C", "python"])
def test_complex_values_at_a_real_point_are_refused_not_cut_to_their_real_part(monkeypatch,
                                                                               options, at, loop):
    # Stored into real rows, they used to lose their imaginary part with only
    # a ComplexWarning, and the Jacobian was that of Re f.
    import warnings

    import fdcheck.evaluate as ev
    from fdcheck.errors import EvaluationError
    if loop == "python":
        monkeypatch.setattr(ev, "_hotloop", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(EvaluationError, match=r"complex values at a real point.*np\.imag"):
            fdcheck.numeric(TurnsComplex(at), np.arange(1.0, 7.0).reshape(2, 3), **options)


@pytest.mark.parametrize("x", [np.array([0.3 + 0.2j, 0.5]), np.array([1.0, 2.0], dtype=np.complex64)])
def test_a_complex_input_is_refused_by_name(x):
    with pytest.raises(ValueError, match=r"input 0 is complex(128|64).*two real inputs"):
        fdcheck.numeric(lambda z: np.abs(z) ** 2, x)



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
    assert Vectorized().chunk_points(n, m) == points
    assert points * 8 * max(n, m) <= max(CHUNK_BYTES, 8 * max(n, m))
    assert Vectorized(max_points=3).chunk_points(n, m) == 3


@pytest.mark.parametrize("loop", ["C", "python"])
def test_a_python_complex_number_at_a_perturbed_point_is_refused_too(monkeypatch, loop):
    import fdcheck.evaluate as ev
    from fdcheck.errors import EvaluationError
    if loop == "python":
        monkeypatch.setattr(ev, "_hotloop", None)

    def f(x):
        return float(x[0]) if x[0] == 0.3 else complex(x[0], 1.0)
    with pytest.raises(EvaluationError, match="complex values at a real point"):
        fdcheck.numeric(f, np.array([0.3, 0.5]))
