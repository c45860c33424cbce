"""Rendering: the only place that formats numbers, checks, cases and tables.

Text for people, JSON for tools (the shape is fixed by docs/cases.md and only
extended), and the labelled Jacobian table of ``fdcheck jacobian``.
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, Iterable, Sequence, TextIO

import numpy as np

from .compare import Comparison
from .layout import element_labels, index_text

NAMES = {"value": "value", "analytic": "analytic", "chain": "chain rule", "torch": "torch",
         "jax": "jax"}


def number(x: float) -> str:
    """A number as in a failure message: 6.0000000, or 1.2345678e-09."""
    if x is None or not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e7:
        return f"{x:.7f}"
    return f"{x:.7e}"


def short(x: float) -> str:
    """A compact error figure: 1.2e-11."""
    return f"{x:.1e}" if math.isfinite(x) else str(x)


def _json_number(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


def _derivative(c: Comparison) -> str:
    """``dZ/dW``; ``d2S/dW2`` for a Hessian; the derivative of vᵀ dZ/dW for
    the second derivative a framework computes."""
    if c.derivative == 2:
        return f"d2{c.out_name}/d{c.wrt}2"
    return f"d{c.out_name}/d{c.wrt}"


def check_title(c: Comparison) -> str:
    """``analytic dZ/dW``, ``value of Z``, ``torch dS/dW``, ``torch d2S/dW2``,
    ``torch (forward mode) dZ/dW``..."""
    if c.against == "value":
        return f"value of {c.out_name}"
    name = NAMES.get(c.against, c.against)
    if c.mode == "forward":
        name += " (forward mode)"
    title = f"{name} {_derivative(c)}"
    return title + (f" (stage {c.stage})" if c.stage and c.stage != c.out_name else "")


def entry_text(c: Comparison) -> str:
    """The worst entry, as a person writes it: dZ[1,0]/dW[2,0]."""
    w = c.worst
    if w is None:
        return ""
    if c.derivative == 2 and w.input is not None:
        # A row of a second derivative is an element of the input too.
        return (f"d2{c.out_name}/d{index_text(str(c.wrt), w.output)}"
                f"d{index_text(str(c.wrt), w.input)}")
    out = index_text(c.out_name, w.output)
    if c.against == "value" or w.input is None:
        return out
    return f"d{out}/d{index_text(str(c.wrt), w.input)}"


def check_message(c: Comparison) -> str:
    """One line a person can act on.

    ``dZ[1,0]/dW[2,0]: numeric 6.0000000, analytic 5.0000000 (|error| 1.0e+00 > 5.0e-05)``
    """
    w = c.worst
    if w is None:
        return "" if c.notes else "no entries to compare"
    ref_name = "expected" if c.against == "value" else NAMES.get(c.against, c.against)
    num_name = "computed" if c.against == "value" else "numeric"
    bound = w.bound if w.bound == w.bound else c.tolerance.atol + c.tolerance.rtol * abs(w.reference)
    err = abs(w.numeric - w.reference)
    rel = ">" if not err <= bound else "<="
    text = (f"{entry_text(c)}: {num_name} {number(w.numeric)}, {ref_name} {number(w.reference)} "
            f"(|error| {short(err)} {rel} {short(bound)})")
    if not c.passed and c.mismatches > 1:
        text += f"; {c.mismatches} of {c.entries} entries differ"
    return text


def check_summary(c: Comparison) -> str:
    status = "ok  " if c.passed else "FAIL"
    detail = (f"max abs error {short(c.max_abs_error)}, max rel error {short(c.max_rel_error)}"
              if c.passed else check_message(c))
    if c.unreliable:
        detail += f"; {c.unreliable} entries unreliable (not counted)"
    if c.notes:
        notes = "; ".join(c.notes)
        detail = notes if not detail else detail + (": " if c.unreliable else "; ") + notes
    return f"{status} {check_title(c)}: {detail}"


def check_json(c: Comparison) -> dict[str, Any]:
    w = c.worst
    out: dict[str, Any] = {
        "against": c.against, "wrt": c.wrt, "passed": c.passed,
        "max_abs_error": _json_number(c.max_abs_error),
        "max_rel_error": _json_number(c.max_rel_error),
        "worst": None if w is None else {
            "output": list(w.output), "input": None if w.input is None else list(w.input),
            "numeric": _json_number(w.numeric), "reference": _json_number(w.reference),
            "bound": _json_number(w.bound), "estimated_error": _json_number(w.estimate)},
        "tolerance": {"atol": c.tolerance.atol, "rtol": c.tolerance.rtol,
                      **({"auto": c.tolerance.auto} if c.tolerance.auto else {})},
        "mismatches": c.mismatches, "entries": c.entries, "message": check_message(c),
    }
    if c.stage is not None:
        out["stage"] = c.stage
    if c.derivative != 1:
        out["derivative"] = c.derivative
    if c.mode != "reverse":
        out["mode"] = c.mode
    if c.unreliable:
        out["unreliable"] = c.unreliable
    if c.notes:
        out["notes"] = list(c.notes)
    return out


def case_json(r: Any) -> dict[str, Any]:
    return {"name": r.name, "file": r.file, "line": r.line, "passed": r.passed, "error": r.error,
            "checks": [check_json(c) for c in r.checks], "evaluations": r.evaluations,
            "seconds": round(r.seconds, 6)}


def summary_counts(results: Sequence[Any]) -> dict[str, int]:
    return {"cases": len(results),
            "passed": sum(r.status == "passed" for r in results),
            "failed": sum(r.status == "failed" for r in results),
            "errors": sum(r.status == "error" for r in results)}


def results_json(results: Sequence[Any]) -> str:
    """The JSON document of ``fdcheck run --format json``."""
    doc = {"cases": [case_json(r) for r in results], "summary": summary_counts(results)}
    return json.dumps(doc, indent=2)


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def case_text(r: Any, verbose: bool = False) -> str:
    """A case in the text report: one status line, then its checks."""
    tag = {"passed": "PASS ", "failed": "FAIL ", "error": "ERROR"}[r.status]
    where = f"{r.file}:{r.line}" if r.file and r.line else (r.file or "")
    head = f"{tag} {r.name if r.name is not None else '(file)'}"
    if where:
        head += f"  [{where}]"
    lines = [head]
    for c in r.checks:
        if verbose or not c.passed or c.unreliable:
            lines.append("      " + check_summary(c))
    if r.error:
        lines.append("      " + r.error)
    elif r.status == "passed" and not verbose:
        lines[0] += f"  ({_count(len(r.checks), 'check')}, {_count(r.evaluations, 'evaluation')})"
    return "\n".join(lines)


def summary_text(results: Sequence[Any], seconds: float) -> str:
    s = summary_counts(results)
    return (f"{s['cases']} cases: {s['passed']} passed, {s['failed']} failed, "
            f"{s['errors']} errors in {seconds:.2f}s")


def _cell(x: float, digits: int) -> str:
    text = f"{x:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def jacobian_table(jac: np.ndarray, out_name: str, out_shape: Sequence[int], in_name: str,
                   in_shape: Sequence[int], order: str, digits: int = 6) -> str:
    """The Jacobian with rows and columns labelled by element, as on paper."""
    rows = element_labels(out_name, out_shape, order)
    cols = element_labels(in_name, in_shape, order)
    cells = [[_cell(float(v), digits) for v in row] for row in np.asarray(jac)]
    width = max([len(c) for c in cols] + [len(c) for row in cells for c in row] + [1])
    lead = max(len(r) for r in rows) if rows else 1
    lines = [" " * lead + "  " + " ".join(c.rjust(width) for c in cols)]
    for label, row in zip(rows, cells):
        lines.append(label.ljust(lead) + "  " + " ".join(c.rjust(width) for c in row))
    return "\n".join(lines)


class ProgressLine:
    """A one-line progress display on a terminal, shown only for work that
    has already taken more than ``after`` seconds."""

    def __init__(self, stream: TextIO = sys.stderr, after: float = 1.0) -> None:
        self.stream = stream
        self.after = after
        self.start: dict[str, float] = {}
        self.last = 0.0
        self.shown = False

    def __call__(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        begun = self.start.setdefault(label, now)
        if done >= total:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.shown = False
            self.start.pop(label, None)
            return
        if now - begun < self.after or now - self.last < 0.1:
            return
        self.last = now
        rate = done / max(now - begun, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("inf")
        width = 30
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r\x1b[K{label} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{total} evaluations, {eta:.0f}s left")
        self.stream.flush()
        self.shown = True


def write_lines(lines: Iterable[str], stream: TextIO = sys.stdout) -> None:
    for line in lines:
        stream.write(line + "\n")
    stream.flush()
