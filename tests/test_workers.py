"""Dask: a real LocalCluster gives the serial Jacobian to the last bit, from the
library (a Client) and from the command line (--scheduler ADDRESS)."""
import numpy as np
import pytest

import fdcheck
from fdcheck.workers import as_executor, dask_workers

from .conftest import ROOT

distributed = pytest.importorskip("dask.distributed")


def f(W):  # module level: it must pickle to reach the workers
    return np.tanh(np.arange(6.0).reshape(2, 3) @ W)


def _cluster(processes: bool):
    # Dashboard off; the scheduler's health server on a free port, so two
    # clusters side by side do not compete for 8787.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=":0", worker_dashboard_address=None,
                                  scheduler_kwargs={"dashboard": False}) as cluster:
        with distributed.Client(cluster) as client:
            yield cluster, client


@pytest.fixture(scope="module")
def threads_cluster():
    yield from _cluster(processes=False)


@pytest.fixture(scope="module")
def process_cluster():
    yield from _cluster(processes=True)


@pytest.mark.parametrize("vectorized", [False, True])
def test_dask_client_gives_the_serial_jacobian_bit_for_bit(threads_cluster, vectorized):
    _, client = threads_cluster
    W = np.random.default_rng(0).standard_normal((3, 4))
    serial = fdcheck.jacobian(f, W, vectorized=vectorized)
    on_dask = fdcheck.jacobian(f, W, executor=client, vectorized=vectorized)
    assert np.array_equal(serial, on_dask)


def test_dask_worker_processes_give_the_serial_jacobian_bit_for_bit(process_cluster):
    _, client = process_cluster
    W = np.random.default_rng(1).standard_normal((3, 5))
    assert np.array_equal(fdcheck.jacobian(f, W), fdcheck.jacobian(f, W, executor=client))


def test_a_client_is_seen_as_an_executor_with_its_thread_count(threads_cluster):
    _, client = threads_cluster
    executor, count = as_executor(client)
    assert count == 2 and hasattr(executor, "submit")
    assert dask_workers(client).count == 2


def test_cli_scheduler_runs_the_shipped_cases_on_the_cluster(threads_cluster, cli_json):
    cluster, _ = threads_cluster
    code, doc = cli_json(str(ROOT / "cases" / "teaching.yaml"), "--scheduler",
                         cluster.scheduler_address)
    assert code == 0 and doc["summary"]["passed"] == doc["summary"]["cases"] == 7


def test_cli_scheduler_that_cannot_be_reached_is_a_usage_error(cli):
    code, out, err = cli("run", str(ROOT / "cases" / "teaching.yaml"), "--scheduler",
                         "tcp://127.0.0.1:1")
    assert code == 2 and "cannot reach the Dask scheduler" in out + err
    # Refused at once by a plain connection, never taken for a silent scheduler.
    assert "accepted the connection" not in out + err


def test_a_scheduler_that_accepts_and_never_answers_times_out(cli, monkeypatch):
    import socket
    import time

    from fdcheck import workers
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.setattr(workers._connect, "__defaults__", (1.0,))
    try:
        start = time.monotonic()
        code, out, err = cli("run", str(ROOT / "cases" / "teaching.yaml"), "--scheduler", address)
        assert code == 2 and "accepted the connection but did not answer within 1 s" in out + err
        assert time.monotonic() - start < 10
    finally:
        server.close()
