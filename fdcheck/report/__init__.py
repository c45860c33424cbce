"""Rendering: the only place that words and formats numbers, checks, cases, notes,
tables and side files (the notes in :mod:`.notes`, the side files in :mod:`.files`).

Text for people, JSON for tools (the shape is fixed by docs/cases.md and only
extended), and the labelled Jacobian table of ``fdcheck jacobian``.
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, Sequence, TextIO

import numpy as np

from ..compare import Comparison
from ..layout import element_labels
from .common import ASPECTS, NAMES, _count, _one_line, check_title, entry_text, number, short
from .files import check_slug, plot_check, save_check, write_files
from .notes import NOTE_TEXTS, note_text, notes_text, vmap_reason

__all__ = ["NAMES", "NOTE_TEXTS", "ProgressLine", "case_json", "case_text", "check_json",
           "check_message", "check_slug", "check_summary", "check_title", "diagnosis_json",
           "entry_text", "hint_text", "jacobian_table", "note_text", "notes_text", "number",
           "plot_check", "result_html", "result_repr", "results_json", "results_junit",
           "save_check", "short", "summary_counts", "summary_text", "vmap_reason",
           "write_files"]

def check_message(c: Comparison) -> str:
    """One line a person can act on.

    ``dz21/dw31: numeric 6.0000000, analytic 5.0000000 (|error| 1.0e+00 > 5.0e-05)``
    """
    w = c.worst
    if w is None:
        return "" if c.notes else "no entries to compare"
    ref_name = "expected" if c.against == "value" else NAMES.get(c.against, c.against)
    num_name = "computed" if c.against == "value" else "numeric"
    if c.aspect is not None:
        num_name, ref_name = ASPECTS[c.aspect][1:]
    bound = w.bound if w.bound == w.bound else c.tolerance.atol + c.tolerance.rtol * abs(w.reference)
    err = abs(w.numeric - w.reference)
    rel = ">" if not err <= bound else "<="
    held = (f"|error| {short(err)} {rel} {short(bound)}" if math.isfinite(w.reference)
            else "a reference that is not finite fails")
    text = (f"{entry_text(c)}: {num_name} {number(w.numeric)}, {ref_name} {number(w.reference)} "
            f"({held})")
    if not c.passed and c.mismatches > 1:
        text += f"; {c.mismatches} of {c.entries} entries differ"
    return text


def check_summary(c: Comparison, hidden: frozenset[str] = frozenset()) -> str:
    """The line of one check; notes of the kinds in ``hidden`` left out."""
    status = "ok  " if c.passed else "FAIL"
    detail = (f"max abs error {short(c.max_abs_error)}, max rel error {short(c.max_rel_error)}, "
              f"resolution {short(c.resolution)}" if c.passed else check_message(c))
    if c.entries == 0:
        detail = "no entries: the derivative is empty (an empty output or input)"
    if c.aspect is not None and c.entries == 0:
        detail = ("the input's layout and shape" if c.aspect == "sparse-gradient" else
                  "the input's dtype, shape and device") if c.passed else ""
    if c.unreliable:
        detail += f"; {c.unreliable} entries unreliable (not counted)"
    shown = [note_text(n) for n in c.notes if n.kind not in hidden]
    if shown:
        notes = "; ".join(shown)
        detail = notes if not detail else detail + (": " if c.unreliable else "; ") + notes
    return f"{status} {check_title(c)}: {detail}"


def diagnosis_json(d: Any) -> dict[str, Any]:
    return {"kind": d.kind, "message": d.message, **dict(d.fields)}


def hint_text(c: Comparison) -> str | None:
    """The first diagnosis of a failing check, as the line under it."""
    return f"hint: {c.diagnosis[0].message}" if c.diagnosis else None


def check_json(c: Comparison) -> dict[str, Any]:
    w = c.worst
    out: dict[str, Any] = {
        "against": c.against, "wrt": c.wrt, "output": c.out_name, "passed": c.passed,
        "max_abs_error": _json_number(c.max_abs_error),
        "max_rel_error": _json_number(c.max_rel_error),
        "worst": None if w is None else {
            "output": list(w.output), "input": None if w.input is None else list(w.input),
            "numeric": _json_number(w.numeric), "reference": _json_number(w.reference),
            "bound": _json_number(w.bound), "estimated_error": _json_number(w.estimate)},
        "tolerance": {"atol": c.tolerance.atol, "rtol": c.tolerance.rtol,
                      **({"auto": c.tolerance.auto} if c.tolerance.auto else {})},
        "mismatches": c.mismatches, "entries": c.entries, "message": check_message(c),
        "resolution": _json_number(c.resolution), "verdict": c.verdict,
    }
    if c.stage is not None:
        out["stage"] = c.stage
    if not c.passed:
        out["diagnosis"] = [diagnosis_json(d) for d in c.diagnosis]
    if c.derivative != 1:
        out["derivative"] = c.derivative
    if c.of is not None:
        out["of"] = c.of
    if c.cotangent:
        out["cotangent"] = True
    if c.aspect is not None:
        out["aspect"] = c.aspect
    if c.mode != "reverse":
        out["mode"] = c.mode
    if c.unreliable:
        out["unreliable"] = c.unreliable
    if c.unverified:
        out["unverified"] = c.unverified
    if c.notes:
        out["notes"] = notes_text(c)
    return out


def _json_number(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


def case_json(r: Any) -> dict[str, Any]:
    out = {"name": r.name, "file": r.file, "line": r.line, "passed": r.passed, "error": r.error,
           "checks": [check_json(c) for c in r.checks], "evaluations": r.evaluations,
           "seconds": round(r.seconds, 6)}
    located = getattr(r, "location", None)
    if isinstance(located, str):
        out["locate"] = {"error": located}
    elif located is not None:
        out["locate"] = {"recorded": located.recorded, "seconds": round(located.seconds, 6),
                         "alone": located.alone,
                         "nan_op": located.nan_op,
                         "evaluations": located.evaluations,
                         "rules": [{"name": x.name, "site": x.site, "passed": x.passed,
                                    "shapes": [list(s) for s in x.shapes],
                                    "error": x.result.error,
                                    "checks": [check_json(c) for c in x.result.checks]}
                                   for x in located.rules]}
    e = getattr(r, "exploration", None)
    if e is not None:
        out["explore"] = {"drawn": e.drawn, "failed": e.failed, "seed": e.seed,
                          "shapes": {k: list(s) for k, s in e.shapes.items()},
                          "conditions": {k: _json_number(c) for k, c in e.conditions.items()},
                          "message": e.message, "errors": e.errors, "path": e.path,
                          "seconds": round(e.seconds, 6)}
    return out


def summary_counts(results: Sequence[Any]) -> dict[str, int]:
    return {"cases": len(results),
            "passed": sum(r.status == "passed" for r in results),
            "failed": sum(r.status == "failed" for r in results),
            "errors": sum(r.status == "error" for r in results)}


def results_json(results: Sequence[Any]) -> str:
    """The JSON document of ``fdcheck run --format json``."""
    doc = {"cases": [case_json(r) for r in results], "summary": summary_counts(results)}
    # Strict JSON: a number that is not finite is null (json.dumps would write
    # NaN or Infinity, which strict parsers refuse).
    return json.dumps(_strict(doc), indent=2, allow_nan=False)


def _strict(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def case_text(r: Any, verbose: bool = False) -> str:
    """A case in the text report: one status line, then its checks."""
    tag = {"passed": "PASS ", "failed": "FAIL ", "error": "ERROR"}[r.status]
    where = f"{_one_line(r.file)}:{r.line}" if r.file and r.line else _one_line(r.file or "")
    head = f"{tag} {_one_line(r.name) if r.name is not None else '(file)'}"
    if where:
        head += f"  [{where}]"
    lines = [head]
    # How the points were evaluated says nothing about the verdict: once a
    # case, and only in the verbose report.
    said = not verbose
    for c in r.checks:
        if verbose or not c.passed or c.unreliable:
            lines.append("      " + check_summary(c, frozenset({"unbatched"}) if said
                                                  else frozenset()))
            said = said or any(n.kind == "unbatched" for n in c.notes)
            hint = hint_text(c)
            if hint:
                lines.append("           " + hint)
    lines += _explored(r) + location_lines(getattr(r, "location", None))
    if r.error:
        lines.append("      " + _one_line(r.error))
    elif r.status == "passed" and not verbose:
        lines[0] += f"  ({_count(len(r.checks), 'check')}, {_count(r.evaluations, 'evaluation')})"
    return "\n".join(lines)


def location_lines(found: Any) -> list[str]:
    """What locating found: each custom rule the function called, checked on
    its own, in call order."""
    if found is None:
        return []
    if isinstance(found, str):
        return ["      locate: " + _one_line(found)]
    failing = sum(not r.passed for r in found.rules)
    nan = [] if found.nan_op is None else [
        "      locate: the first operation whose backward returns NaN: " + found.nan_op
        if found.nan_op else "      locate: no operation's backward returns NaN"]
    if found.alone:
        rule = found.rules[0]
        return [f"      locate: the function is one custom rule, {rule.name} ({rule.site}), "
                f"called with its inputs: the checks above are the rule's"] + nan
    lines = [f"      locate: {_count(found.recorded, 'call')} of custom rules; "
             f"{_count(len(found.rules), 'rule')}, each checked on its own: {failing} "
             f"{'fails' if failing == 1 else 'fail'} ({found.seconds:.2f} s, "
             f"{_count(found.evaluations, 'evaluation')})" if found.recorded else
             f"      locate: no custom rule is called ({found.seconds:.2f} s)"]
    lines += nan
    for rule in found.rules:
        shapes = ", ".join(str(s) for s in rule.shapes)
        if rule.passed:
            lines.append(f"        ok   {rule.name} ({rule.site}) at {shapes}")
            continue
        if rule.result.error:
            lines.append(f"        ERROR {rule.name} ({rule.site}): {_one_line(rule.result.error)}")
            continue
        for c in rule.result.checks:
            if not c.passed:
                lines.append(f"        FAIL {rule.name} ({rule.site}) at {shapes}: "
                             f"{check_title(c)}: {check_message(c)}")
                hint = hint_text(c)
                if hint:
                    lines.append("             " + hint)
    return lines


def _explored(r: Any) -> list[str]:
    found = getattr(r, "exploration", None)
    if found is None:
        return []
    written = "every check passes at the written inputs; " \
        if found.failed and r.checks and all(c.passed for c in r.checks) else ""
    return ["      " + exploration_text(found, written)]


def exploration_text(e: Any, before: str = "") -> str:
    """What ``--explore`` found, in one line (``before``: what the written
    inputs showed)."""
    errors = f"; {_count(e.errors, 'draw')} could not be run ({_one_line(e.first_error)})" \
        if e.errors else ""
    if not e.failed:
        return f"ok   explore: {_count(e.drawn, 'drawn input')}, no check failed{errors} " \
               f"({e.seconds:.1f} s)"
    shapes = ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in e.shapes.items())
    conds = ", ".join(f"{k} {c:.3g}" for k, c in e.conditions.items())
    written = f"; written to {e.path}" if e.path else ""
    return (f"FAIL explore: {before}the input drawn {e.drawn} fails, shrunk to {shapes} (condition "
            f"{conds or '-'}): {_one_line(e.message or '')}{errors}{written} "
            f"({e.seconds:.1f} s, seed {e.seed})")


def summary_text(results: Sequence[Any], seconds: float) -> str:
    s = summary_counts(results)
    return (f"{_count(s['cases'], 'case')}: {s['passed']} passed, {s['failed']} failed, "
            f"{_count(s['errors'], 'error')} in {seconds:.2f}s")


def _cell(x: float, digits: int) -> str:
    text = f"{x:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def jacobian_table(jac: np.ndarray, out_name: str, out_shape: Sequence[int], in_name: str,
                   in_shape: Sequence[int], order: str, digits: int = 6,
                   in_labels: Sequence[str] | None = None) -> str:
    """The Jacobian with rows and columns labelled by element, as on paper
    (``in_labels``: a structured input's coordinates)."""
    rows = element_labels(out_name, out_shape, order)
    cols = list(in_labels) if in_labels is not None else element_labels(in_name, in_shape, order)
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


# -- files: saved matrices, heatmaps, JUnit XML -------------------------------------

def results_junit(results: Sequence[Any]) -> str:
    """JUnit XML: one testsuite per file, one testcase per case (with its file
    and line), a failing case's report as its failure, a case that could not be
    run as an error."""
    import xml.etree.ElementTree as ET
    suites = ET.Element("testsuites", name="fdcheck")
    by_file: dict[str, list[Any]] = {}
    for r in results:
        by_file.setdefault(_printable(r.file or "fdcheck"), []).append(r)
    for file, cases in by_file.items():
        counts = summary_counts(cases)
        suite = ET.SubElement(suites, "testsuite", name=file, tests=str(counts["cases"]),
                              failures=str(counts["failed"]), errors=str(counts["errors"]),
                              time=f"{sum(r.seconds for r in cases):.6f}")
        for r in cases:
            name = str(r.name) if r.name is not None else f"(the file {file})"
            case = ET.SubElement(suite, "testcase", name=_printable(name), classname=file,
                                 file=file, time=f"{r.seconds:.6f}")
            if r.line:
                case.set("line", str(r.line))
            if r.status == "error":
                node = ET.SubElement(case, "error", message=_printable(r.error or ""))
                node.text = _printable(r.error or "")
            elif r.status == "failed":
                first = next(c for c in r.checks if not c.passed)
                node = ET.SubElement(case, "failure", message=_printable(check_summary(first)))
                node.text = _printable(case_text(r, verbose=True))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _printable(text: str) -> str:
    # XML 1.0 has no place for most control characters, lone surrogates, or
    # the non-characters U+FFFE and U+FFFF.
    return "".join(ch if (ch in "\t\n\r" or " " <= ch) and not "\ud800" <= ch <= "\udfff"
                   and ch not in "\ufffe\uffff" else "\ufffd" for ch in text)


# -- notebooks -----------------------------------------------------------------------

def result_repr(r: Any) -> str:
    """One line: ``<CaseResult 'name': FAIL, 3 checks, 1 failed>``."""
    failed = sum(not c.passed for c in r.checks)
    head = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}[r.status]
    return (f"<CaseResult {r.name!r}: {head}, {_count(len(r.checks), 'check')}"
            + (f", {failed} failed" if failed else "") + ">")


def result_html(r: Any) -> str:
    """A compact HTML table for Jupyter: the case, each check, its verdict,
    its worst entry and the hint."""
    from html import escape
    colour = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#9a6700"}[r.status]
    head = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}[r.status]
    rows = []
    for c in r.checks:
        rows.append("<tr><td>{}</td><td style='color:{}'>{}</td><td>{}</td><td>{}</td></tr>".format(
            escape(check_title(c)), "#1a7f37" if c.passed else "#cf222e",
            "ok" if c.passed else "FAIL", escape(check_message(c) if c.worst else "; ".join(notes_text(c))),
            escape(c.diagnosis[0].message) if c.diagnosis else ""))
    error = f"<p>{escape(r.error)}</p>" if r.error else ""
    return (f"<div><b style='color:{colour}'>{head}</b> <b>{escape(str(r.name))}</b> "
            f"({_count(r.evaluations, 'evaluation')}){error}"
            "<table><tr><th>check</th><th>verdict</th><th>worst entry</th><th>hint</th></tr>"
            + "".join(rows) + "</table></div>")

