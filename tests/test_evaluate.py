"""Evaluators: serial, vectorized and a real process pool give the same Jacobian."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import fdcheck
from fdcheck.evaluate import Batch, Serial, Vectorized

from .conftest import ROOT


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


def test_serial_working_copy_survives_a_function_that_raises():
    from fdcheck.flatfun import FlatFunction
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("once")
        return x * 1.0

    x0 = np.arange(4.0)
    fn = FlatFunction(flaky, [x0])            # call 1
    serial = Serial()
    points = Batch(np.array([0, 1, 2, 3]), np.array([10.0, 11.0, 12.0, 13.0]))
    with pytest.raises(RuntimeError):
        serial(fn, fn.x0, points)               # calls 2, 3: raises with x[1] moved
    out = serial(fn, fn.x0, points)             # afresh: no leftover perturbation
    assert out.tolist() == [[10, 1, 2, 3], [0, 11, 2, 3], [0, 1, 12, 3], [0, 1, 2, 13]]
