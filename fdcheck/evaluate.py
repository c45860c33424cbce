"""How a batch of points is evaluated: one by one, vectorized along a leading
batch axis, or through any ``concurrent.futures.Executor``.

A batch is a set of k points near x0, each given by the entries it changes.
Evaluators return a (k, m) array of flat outputs, in the order of the points;
they know nothing of steps or stencils.
"""
from __future__ import annotations

import math
import sys
import threading
from concurrent.futures import Executor
from typing import Any

import numpy as np

from .notes import Note, note
from .errors import EvaluationError
from .flatfun import complex_output_error, from_function
from .protocols import Flat
from .step import steps_for
from .stencils import stencil

# Memory for one chunk of perturbed points or outputs. Small on purpose: the
# engine reuses one buffer of this size for every chunk, and a buffer that
# stays in cache avoids the page faults a fresh large one costs on first write.
CHUNK_BYTES = 4 * 2**20
# Points per call of the vectorized mode: a stack of about one core's L2 cache,
# so that the function's passes over its stacked points and outputs stay in
# cache (benchmarks/chunks.py measures other sizes). Still at least 16 points
# a call where CHUNK_BYTES allows, to share the function's own cost per call
# among several points.
VECTOR_CACHE_BYTES = 512 * 2**10
VECTOR_MIN_POINTS = 16
# Outputs per chunk of the plain mode: about half a core's L2 cache, so that
# the engine combines them while they are still in cache, but at least
# SERIAL_MIN_POINTS, so that the engine's own cost per chunk stays small
# beside the calls.
SERIAL_CACHE_BYTES = 256 * 2**10
SERIAL_MIN_POINTS = 64
# What an output without a dtype (a Python number) is taken for in the hot
# loops' quick test: complex, so that _odd_output looks at it closer.
_UNTYPED = np.dtype(np.complex128)


class Batch:
    """k points near x0.

    Attributes
    ----------
    indices, values : ndarray, shape (nnz,)
        Entries changed and their new values (in the evaluation dtype).
    indptr : ndarray, shape (k + 1,), optional
        Point j changes ``indices[indptr[j]:indptr[j+1]]``; None when every
        point changes exactly one entry (the coordinate case).
    dense : ndarray, shape (k, n), optional
        Explicit points, for directions that change every entry.
    """

    # A plain class with slots: one is built per chunk, on the plain mode's
    # fixed cost per Jacobian.
    __slots__ = ("indices", "values", "indptr", "dense")

    def __init__(self, indices: np.ndarray, values: np.ndarray, indptr: np.ndarray | None = None,
                 dense: np.ndarray | None = None) -> None:
        self.indices = indices
        self.values = values
        self.indptr = indptr
        self.dense = dense

    def __len__(self) -> int:
        if self.dense is not None:
            return int(self.dense.shape[0])
        return int(self.indices.shape[0]) if self.indptr is None else int(self.indptr.shape[0] - 1)

    def take(self, start: int, stop: int) -> "Batch":
        """Points ``start`` to ``stop``."""
        if self.dense is not None:
            return Batch(self.indices, self.values, None, self.dense[start:stop])
        if self.indptr is None:
            return Batch(self.indices[start:stop], self.values[start:stop])
        a, b = int(self.indptr[start]), int(self.indptr[stop])
        return Batch(self.indices[a:b], self.values[a:b], self.indptr[start:stop + 1] - a)


def nonfinite_rows(a: np.ndarray) -> list[int]:
    """Rows of ``a`` (k, m) holding a non-finite entry."""
    # A finite sum rules out inf and nan in one pass without a temporary; an
    # overflowing sum of finite entries only costs the exact check below.
    if np.isfinite(np.add.reduce(a, axis=None)):
        return []
    return np.flatnonzero(~np.isfinite(a).all(axis=1)).tolist()


def _output(out: np.ndarray | None, k: int, m: int, dtype: Any) -> np.ndarray:
    return np.empty((k, m), dtype=dtype) if out is None else out[:k]


def _chunk_for(n: int, m: int) -> int:
    return max(1, CHUNK_BYTES // (8 * max(n, m, 1)))


def _vector_chunk(n: int, m: int) -> int:
    most = _chunk_for(n, m)
    return max(min(VECTOR_MIN_POINTS, most), VECTOR_CACHE_BYTES // (8 * max(n, m, 1)))


def _store(out: np.ndarray, j: int, y: np.ndarray) -> None:
    try:
        out[j] = y
    except (ValueError, TypeError) as exc:
        raise EvaluationError(f"the function returned {np.shape(y)} values at a perturbed point, "
                              f"{out.shape[1]} at the base point: {exc}") from None


def _wrong_shape(y: Any, shape: tuple[int, ...]) -> None:
    raise EvaluationError(f"the function returned shape {np.shape(y)} at a perturbed point, "
                          f"{shape} at the base point")


def _odd_output(y: Any, shape: tuple[int, ...], real: bool) -> None:
    """Raise for an output of the wrong shape, or complex where the rows are
    real (assigned, it would lose its imaginary part with only a warning)."""
    if getattr(y, "shape", ()) != shape:
        _wrong_shape(y, shape)
    if real and _is_complex(y):
        raise complex_output_error()


def _is_complex(y: Any) -> bool:
    # Not np.iscomplexobj, which converts its argument first.
    dtype = getattr(y, "dtype", None)
    return isinstance(y, complex) if dtype is None else dtype.kind == "c"


def _stack_into(fn: Flat, kept: list[Any], out: np.ndarray) -> None:
    """The outputs ``kept`` (one per point) into ``out`` (len(kept), m), in
    the case's order, in one pass; an output of the wrong shape or a complex
    one where ``out`` is real is named."""
    shape = fn.out_shape
    real = out.dtype.kind != "c"
    try:
        if shape and (fn.order == "C" or len(shape) == 1):
            # Rows of a C-order out are the outputs laid end to end; the
            # same-kind casting refuses complex values into real rows.
            np.concatenate(kept, axis=0, out=out.reshape((-1,) + shape[1:]))
        else:
            stacked = np.asarray(kept)
            if stacked.shape[1:] != shape or real and stacked.dtype.kind == "c":
                raise ValueError("an odd output")
            fn.output_rows(out)[...] = stacked
    except (ValueError, TypeError):
        for y in kept:
            if getattr(y, "shape", ()) != shape or real and _is_complex(y):
                _odd_output(y, shape, real)
        raise


def _coordinate_direct(fn: Flat, x: np.ndarray, x0: np.ndarray, batch: Batch, out: np.ndarray) -> None:
    # The plain mode's hot loop for NumPy: the function sees a view of x, which
    # is perturbed in place: per point, one scalar write and one call. The
    # outputs are stacked into ``out`` at the end, in one pass. An output is
    # kept as it is only where nothing else can change it: an array that owns
    # its memory and that nobody but this loop refers to (CPython's reference
    # count). Any other (a view of x, which moves next; a buffer the function
    # reuses or keeps; a Python number) is copied at once.
    args = fn.bind(x)
    call = fn.call
    kept: list[Any] = []
    ndarray, refs, copy = np.ndarray, sys.getrefcount, np.array
    # The points of one element come together: it is restored only when the
    # next point moves another one, to its value in x0.
    prev, restore = -1, 0.0
    try:
        for i, v, b in zip(batch.indices.tolist(), batch.values.tolist(),
                           x0[batch.indices].tolist()):
            if i != prev:
                if prev >= 0:
                    x[prev] = restore
                prev, restore = i, b
            x[i] = v
            y = call(*args)
            # Two references: ``y`` and getrefcount's own argument.
            kept.append(y if type(y) is ndarray and y.base is None and refs(y) == 2 else copy(y))
    except Exception as exc:
        raise from_function(exc)
    finally:
        if prev >= 0:
            x[prev] = restore
    _stack_into(fn, kept, out)


class _Copies:
    """Each thread's working copy of x0, kept between chunks (an executor may
    run one evaluator on several threads), and the x0 it was copied from.

    A dict by thread id: the copies of threads that have ended are simply
    replaced, and no per-thread object has to be created.
    """

    def __init__(self) -> None:
        self._held: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def of(self, x0: np.ndarray, rows: int | None = None) -> np.ndarray:
        """This thread's copy of x0, shape (n,); with ``rows``, x0 stacked
        that many times, shape (rows, n)."""
        key = threading.get_ident()
        held = self._held.get(key)
        if held is None or held[0] is not x0 or held[1].dtype != x0.dtype \
                or (rows is not None and held[1].shape[0] < rows):
            copy = x0.copy() if rows is None else np.repeat(x0[None, :], rows, axis=0)
            held = self._held[key] = (x0, copy)
        return held[1] if rows is None else held[1][:rows]

    def forget(self) -> None:
        """Copy afresh next time: this thread's copy may be left perturbed."""
        self._held.pop(threading.get_ident(), None)


class Serial:
    """One call per point; the point is perturbed in place and restored.

    The working copy of x0 is kept between chunks (per thread: an executor
    may run one Serial on several threads), since every element moved is
    restored: a Jacobian of n inputs copies x0 once, not once per chunk.
    """

    def __init__(self) -> None:
        self._copies = _Copies()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Serial.__init__(self)

    def chunk_points(self, n: int, m: int) -> int:
        cached = max(SERIAL_MIN_POINTS, SERIAL_CACHE_BYTES // (8 * max(m, 1)))
        return min(_chunk_for(n, m), cached)

    def __call__(self, fn: Flat, x0: np.ndarray, batch: Batch, out_dtype: Any = np.float64,
                 out: np.ndarray | None = None) -> np.ndarray:
        k = len(batch)
        out = _output(out, k, fn.m, out_dtype)
        if batch.dense is not None:
            for j in range(k):
                _store(out, j, fn(batch.dense[j]))
            return out
        x = self._copies.of(x0)
        try:
            self._points(fn, x, x0, batch, out)
        except BaseException:
            self._copies.forget()
            raise
        return out

    @staticmethod
    def _points(fn: Flat, x: np.ndarray, x0: np.ndarray, batch: Batch, out: np.ndarray) -> None:
        if batch.indptr is None:
            if getattr(fn, "direct", False):
                _coordinate_direct(fn, x, x0, batch, out)
                return
            # The hot loop of the plain mode: scalar writes, no array allocation.
            for j, (i, v) in enumerate(zip(batch.indices.tolist(), batch.values.tolist())):
                x[i] = v
                _store(out, j, fn(x))
                x[i] = x0[i]
            return
        for j in range(len(batch)):
            sl = slice(int(batch.indptr[j]), int(batch.indptr[j + 1]))
            idx = batch.indices[sl]
            x[idx] = batch.values[sl]
            _store(out, j, fn(x))
            x[idx] = x0[idx]


class Vectorized:
    """Many points per call, along a leading batch axis, in bounded chunks.

    The stacked points are kept between chunks (per thread), each row a copy
    of x0: a chunk writes its few changed entries, calls, and restores them,
    instead of writing k copies of x0 again.
    """

    def __init__(self, max_points: int | None = None) -> None:
        self.max_points = max_points
        self._copies = _Copies()

    def __getstate__(self) -> dict[str, Any]:
        return {"max_points": self.max_points}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Vectorized.__init__(self, state["max_points"])

    def _evaluate(self, fn: Flat, x0: np.ndarray, piece: Batch, out: np.ndarray) -> None:
        if piece.dense is not None:
            out[:] = fn.batched(piece.dense)
            return
        k = len(piece)
        xs = self._copies.of(x0, k)
        rows = np.arange(k) if piece.indptr is None else np.repeat(np.arange(k), np.diff(piece.indptr))
        try:
            xs[rows, piece.indices] = piece.values
            # Stored before the points are restored: the output may be a view of them.
            out[:] = fn.batched(xs)
        except BaseException:
            self._copies.forget()
            raise
        xs[rows, piece.indices] = x0[piece.indices]

    def call_points(self, n: int, m: int) -> int:
        """How many points one call of the function stacks."""
        return self.max_points or _vector_chunk(n, m)

    def chunk_points(self, n: int, m: int) -> int:
        # The engine hands over as much as its buffer holds; the calls are
        # cut to call_points here, so that the engine's own cost per chunk
        # is shared by several calls.
        return max(self.call_points(n, m), _chunk_for(n, m))

    def __call__(self, fn: Flat, x0: np.ndarray, batch: Batch, out_dtype: Any = np.float64,
                 out: np.ndarray | None = None) -> np.ndarray:
        k = len(batch)
        out = _output(out, k, fn.m, out_dtype)
        step = self.call_points(x0.shape[0], fn.m)
        for a in range(0, k, step):
            piece = batch.take(a, min(k, a + step))
            self._evaluate(fn, x0, piece, out[a:a + len(piece)])
        return out


def batched_disagrees(fn: Flat) -> Note | None:
    """Why ``fn``'s batched call cannot stand in for its plain one (a note of
    kind ``unbatched``: ``how`` it ``raises``, with the ``error``, or
    ``disagrees``), or None:
    it raises on a stack of two points, or returns other values there than
    one point a call (a framework's vmap through code it cannot batch, such
    as a PyTorch Function without a vmap rule; a batching rule that reads
    one point for all, as PyTorch's index_fill on a 0-d input). Costs one
    plain evaluation, at the second point."""
    moved = (fn.x0 + steps_for(fn.x0, fn.dtype, stencil("central", 2))).astype(fn.dtype)
    try:
        ys = fn.batched(np.stack([fn.x0, moved]))
    except Exception as exc:  # whatever the framework raises for what it cannot batch
        first = (str(exc).strip().splitlines() or [""])[0].split(". ")[0]
        return note("unbatched", how="raises", error=f"{type(exc).__name__}: {first[:160]}")
    eps = float(np.finfo(fn.dtype).eps)
    plain = np.stack([fn.value, np.asarray(fn(moved), dtype=np.float64)])
    scale = float(np.abs(plain[np.isfinite(plain)]).max(initial=0.0))
    if not np.allclose(ys, plain, rtol=1e3 * eps, atol=1e3 * eps * scale, equal_nan=True):
        return note("unbatched", how="disagrees")
    return None


def _evaluate_piece(inner: Any, fn: Flat, x0: np.ndarray, batch: Batch, out_dtype: Any) -> np.ndarray:
    # In another process: the framework set there as it is here (JAX's float64).
    with fn.backend.scope():
        return inner(fn, x0, batch, out_dtype)


class OnExecutor:
    """Points spread over a ``concurrent.futures.Executor`` (a process pool,
    a Dask client's executor); each worker runs ``inner`` on its share."""

    def __init__(self, executor: Executor, inner: Any = None, workers: int | None = None) -> None:
        self.executor = executor
        self.inner = inner if inner is not None else Serial()
        self.workers = workers or getattr(executor, "_max_workers", None) or 2

    def chunk_points(self, n: int, m: int) -> int:
        # Several pieces per worker per chunk keeps every worker busy.
        return max(self.workers * 4, _chunk_for(n, m))

    def __call__(self, fn: Flat, x0: np.ndarray, batch: Batch, out_dtype: Any = np.float64,
                 out: np.ndarray | None = None) -> np.ndarray:
        k = len(batch)
        per = max(1, math.ceil(k / (self.workers * 4)))
        futures = [self.executor.submit(_evaluate_piece, self.inner, fn, x0,
                                        batch.take(a, min(k, a + per)), out_dtype)
                   for a in range(0, k, per)]
        result = _output(out, k, fn.m, out_dtype)
        row = 0
        for f in futures:
            part = f.result()
            result[row:row + len(part)] = part
            row += len(part)
        return result
