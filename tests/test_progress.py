"""Progress on long work, and memory bounded by the chunk size."""
import io

import numpy as np
import pytest

import fdcheck
from fdcheck import report
from fdcheck.evaluate import CHUNK_BYTES, Serial, Vectorized


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(report.time, "monotonic", c)
    return c


def test_progress_line_appears_only_after_a_second_and_is_cleared(clock):
    out = io.StringIO()
    line = report.ProgressLine(out, after=1.0)
    line("dZ/dW", 10, 100)
    clock.now = 0.5
    line("dZ/dW", 50, 100)
    assert out.getvalue() == ""                       # quick work shows nothing
    clock.now = 2.0
    line("dZ/dW", 60, 100)
    shown = out.getvalue()
    assert "dZ/dW" in shown and "60/100 evaluations" in shown and "left" in shown
    line("dZ/dW", 100, 100)
    assert out.getvalue().endswith("\r\x1b[K")        # erased when done


def test_engine_reports_progress_up_to_the_total():
    seen = []
    fdcheck.numeric(np.sin, np.ones(5000), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (10_000, 10_000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_progress_when_stderr_is_not_a_terminal_or_in_json(cli, fmt):
    from .conftest import ROOT
    code, out, err = cli("run", str(ROOT / "cases" / "teaching.yaml"), "--format", fmt)
    assert code == 0 and "\r" not in err and "evaluations," not in err


class Spy:
    """An evaluator that records the largest batch it was handed."""

    def __init__(self, inner):
        self.inner = inner
        self.largest = 0

    def chunk_points(self, n, m):
        return self.inner.chunk_points(n, m)

    def __call__(self, fn, x0, batch, out_dtype=np.float64, out=None):
        self.largest = max(self.largest, len(batch))
        return self.inner(fn, x0, batch, out_dtype, out)


@pytest.mark.parametrize("inner", [Serial(), Vectorized()])
@pytest.mark.parametrize("n, m", [(20_000, 1), (2_000, 600)])
def test_points_in_flight_are_bounded_by_the_chunk(inner, n, m):
    from fdcheck.derive import jacobian as numeric_jacobian
    from fdcheck.flatfun import FlatFunction
    A = np.random.default_rng(0).standard_normal((m, n)) / n if m > 1 else None
    f = (lambda x: A @ x) if m > 1 else (lambda x: np.sum(x ** 2, axis=-1, keepdims=True))
    batched = (lambda X: X @ A.T) if m > 1 else f
    fn = FlatFunction(f, [np.ones(n)], batched_call=batched)
    spy = Spy(inner)
    numeric_jacobian(fn, None, spy)
    bound = max(1, CHUNK_BYTES // (8 * max(n, m)))
    # One chunk of perturbed points (and of their outputs) at a time: 4 MB.
    assert spy.largest <= bound
    assert spy.largest * max(n, m) * 8 <= CHUNK_BYTES + 16 * max(n, m)
