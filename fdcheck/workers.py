"""Where evaluations run: a local process pool, or a Dask cluster.

Both are seen by the engine as a ``concurrent.futures.Executor`` (see
:class:`fdcheck.evaluate.OnExecutor`); this module only builds them. Dask is
imported only when asked for (the ``dask`` extra).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Workers:
    """An executor, how many evaluations it runs at once, and how to release it."""

    executor: Executor
    count: int
    # close(wait): release it; without waiting (after Ctrl-C), work not started is dropped.
    close: Callable[[bool], None]


def _worker_start(parent: int) -> None:
    """In each worker: Ctrl-C is the parent's to handle (no traceback per
    worker); what the user's function prints goes to standard error (standard
    output holds the report); and the worker ends when its parent does, however
    the parent ends (SIGKILL included: the worker is then re-parented)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="fdcheck-watch-parent").start()


class LocalPool(Executor):
    """A pool of local processes, started by spawn (forking a process that has
    loaded JAX or PyTorch threads can deadlock), that starts again after one
    of its workers died (``os._exit``, a crash, the out-of-memory killer): the
    case being evaluated fails (BrokenProcessPool), the next ones run."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.count,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_start, initargs=(os.getpid(),))

    @property
    def _max_workers(self) -> int:  # read as an executor's worker count
        return self.count

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if getattr(self._pool, "_broken", False):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Release the workers; without waiting (after Ctrl-C), the ones still
        evaluating are stopped, so that the run ends now rather than when their
        work does."""
        processes = list(getattr(self._pool, "_processes", {}).values()) if not wait else []
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        for process in processes:
            process.terminate()


def process_pool(count: int) -> Workers:
    """A :class:`LocalPool` of ``count`` processes."""
    pool = LocalPool(count)
    def close(wait: bool = True) -> None:
        pool.shutdown(wait=wait, cancel_futures=not wait)
    return Workers(pool, count, close)


def is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and hasattr(obj, "get_executor")


def dask_workers(client_or_address: Any) -> Workers:
    """Evaluate on a Dask cluster: a ``dask.distributed.Client``, or the address
    of a scheduler (``tcp://host:8786``) to connect to.

    Raises
    ------
    BackendUnavailable
        Without the ``dask`` extra.
    """
    if is_dask_client(client_or_address):
        client, own = client_or_address, False
    else:
        try:
            from dask.distributed import Client
        except ImportError:
            from .errors import BackendUnavailable
            raise BackendUnavailable("--scheduler needs Dask: pip install 'fdcheck[dask]'") from None
        client, own = _connect(Client, str(client_or_address)), True
    count = max(1, sum(client.nthreads().values()))
    executor = client.get_executor()

    def close(wait: bool = True) -> None:
        if own:
            client.close()
    return Workers(executor, count, close)


CONNECT_SECONDS = 10.0


def _connect(client_class: Any, address: str, seconds: float = CONNECT_SECONDS) -> Any:
    """A Dask client of the scheduler at ``address``, or TimeoutError after
    ``seconds``: Dask's own timeout covers a scheduler that refuses, not one
    that accepts the connection and never answers its handshake.

    Raises
    ------
    TimeoutError
        Where the scheduler did not answer in time.
    OSError
        Where it could not be reached.
    """
    _reachable(address, seconds)
    done: dict[str, Any] = {}

    def connect() -> None:
        try:
            done["client"] = client_class(address, timeout=f"{seconds:g}s")
        except BaseException as exc:  # handed to the caller's thread
            done["error"] = exc

    # A daemon thread: one that never returns must not keep the process alive.
    thread = threading.Thread(target=connect, daemon=True, name="fdcheck-dask-connect")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"the Dask scheduler at {address} accepted the connection but did not "
                           f"answer within {seconds:g} s")
    if "error" in done:
        error = done["error"]
        if isinstance(error, (OSError, TimeoutError)):
            raise error
        # Whatever a peer that is no scheduler makes Dask's protocol do (a length
        # read from garbage: a MemoryError of exabytes, a ValueError, ...).
        raise OSError(f"{address} answered, but not as a Dask scheduler "
                      f"({type(error).__name__}: {str(error)[:200]})") from None
    return done["client"]


def _reachable(address: str, seconds: float) -> None:
    """Open and close a plain TCP connection to a ``tcp://host:port`` address:
    a closed port is refused at once, where Dask would retry until its timeout.

    Raises
    ------
    OSError
        Where nothing listens there.
    """
    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("", "tcp") or not port.isdigit():
        return  # another transport: Dask says what is wrong with it
    with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=seconds):
        pass


def as_executor(executor: Any) -> tuple[Executor, int | None]:
    """A ``concurrent.futures.Executor`` from an executor or a Dask client, and
    its worker count where known."""
    if is_dask_client(executor):
        w = dask_workers(executor)
        return w.executor, w.count
    return executor, getattr(executor, "_max_workers", None)
