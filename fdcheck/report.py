"""Rendering: the only place that formats numbers, checks, cases and tables.

Text for people, JSON for tools (the shape is fixed by docs/cases.md and only
extended), and the labelled Jacobian table of ``fdcheck jacobian``.
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, Callable, Sequence, TextIO

import numpy as np

from .compare import Comparison, Matrices, short_number
from .notes import Note
from .layout import Order, as_order, element_labels, index_text

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
    held = (f"|error| {short(err)} {rel} {short(bound)}" if math.isfinite(w.reference)
            else "a reference that is not finite fails")
    text = (f"{entry_text(c)}: {num_name} {number(w.numeric)}, {ref_name} {number(w.reference)} "
            f"({held})")
    if not c.passed and c.mismatches > 1:
        text += f"; {c.mismatches} of {c.entries} entries differ"
    return text


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def vmap_reason(n: Note) -> str:
    """Why the framework's vmap could not stand in for one point a call."""
    if n["how"] == "raises":
        return f"the framework's vmap cannot batch it ({n['error']})"
    return "the framework's vmap gives other values than one point a call"


def _product_failed(n: Note) -> str:
    if n["derivative"] == 2:
        what = ("differentiate its own backward (double backward: a .detach() or a Function "
                "whose backward is not differentiable?)")
    else:
        what = ("compute its " + ("vector-Jacobian" if n["product"] == "vjp" else "Jacobian-vector")
                + " product")
    return f"{n['framework']} could not {what}: {n['message']}"


_DIRECTIONS = {"jvp": ("J v along {k} random directions agrees",
                       "J v disagrees along random direction {k}"),
               "vjp": ("u^T J v along {k} random pairs of directions agrees, against one "
                       "vector-Jacobian product each",
                       "u^T J v disagrees along random pair {k}; u^T J e_i is compared")}

# Every kind of note, worded: the one place a note becomes a sentence.
NOTE_TEXTS: dict[str, Callable[[Note], str]] = {
    "outputs-skipped": lambda n: (
        f"output{'s' if len(n['skipped']) > 1 else ''} {', '.join(n['skipped'])} not checked: "
        "integer and boolean outputs have no derivative (a complex one inside a tuple, list or "
        "dict: return its .real and .imag)"),
    "unbatched": lambda n: f"evaluated one point a call: {vmap_reason(n)}",
    "too-large": lambda n: (
        f"the whole Jacobian would have {n['m']} x {n['n']} entries "
        f"({n['m'] * n['n'] * 8 / 2 ** 30:.1f} GB): checked along {n['directions']} random "
        "directions instead (set directions to choose how many)"),
    "noisy": lambda n: (
        f"the function is noisy: two evaluations at the same point differ by up to "
        f"{n['worst']:.1e} ({n['relative']:.1e} relative), which no finite difference can "
        "resolve"),
    "outputs-together": lambda n: (
        f"the outputs {', '.join(n['outputs'])} checked together, as one vector, along each "
        "direction"),
    "held": lambda n: (
        f"{', '.join(n['outputs'])} not compared with {n['framework']}: {n['framework']} marks "
        f"{'them' if len(n['outputs']) > 1 else 'it'} not differentiable"),
    "all-held": lambda n: (
        f"{n['framework']} marks every output ({', '.join(n['outputs'])}) not differentiable: "
        "its derivative of each is 0 by design, so there is nothing to compare"),
    "no-derivative": lambda n: (
        f"{n['framework']} could not take the {n['mode']}-mode derivative: {n['message']}"),
    "no-double-backward": lambda n: (
        f"{n['framework']} could not differentiate its own backward (double backward): "
        f"{n['message']}"),
    "no-product": _product_failed,
    "not-differentiable": lambda n: (
        f"{n['framework']}'s backward of {n['output']} is not differentiable: its result does "
        f"not depend on {n['wrt']} through autograd (a .detach(), .numpy() or a Function whose "
        f"backward is not itself differentiable?), so {n['framework']} says its second "
        "derivative is 0"),
    "nothing-verified": lambda n: "no entry could be verified",
    "blind": lambda n: (
        f"unverifiable: an entry is allowed {short_number(n['resolution'])} times the largest "
        "entry of the reference (the numeric derivative is dominated by rounding or noise here), "
        "so no mistake could have been caught"),
    "auto-derived": lambda n: (
        f"tolerance auto: derived by Richardson extrapolation for its error estimate "
        f"({n['method']} gives none)"),
    "refined": lambda n: (
        f"{n['count']} column(s) derived again by Richardson extrapolation after a first "
        "mismatch"),
    "refined-hessian": lambda n: (
        f"{n['count']} entries derived again by Richardson extrapolation of second differences "
        "after a first mismatch"),
    "rejudged": lambda n: (
        f"{n['count']} entries judged by the central differences at four halving steps, "
        "extrapolated, where the estimate so far disagreed with them (the one-sided slopes "
        "meet as the step shrinks: the function is smooth there)"),
    "kink": lambda n: (
        f"{n['count']} entries at a kink (the one-sided slopes converge to different limits as "
        "the step shrinks: the derivative does not exist there), and the reference lies between "
        "the limits: not counted"),
    "outside": lambda n: (
        f"{n['count']} entries at a kink where the reference lies outside the one-sided "
        "limits: counted as mismatches (a kink's subgradients lie between them)"),
    "jump": lambda n: (
        f"{n['count']} entries at a jump (the function moves by the same amount whatever the "
        "step: the derivative does not exist there): not counted"),
    "unverified": lambda n: (
        f"unverifiable: {n['count']} entries differ, but the numeric derivative there did not "
        "settle as the step shrank (rounding or noise dominates), so neither the mismatch nor "
        "a match is proven"),
    "non-finite": lambda n: (
        f"the function is not finite at a perturbed point for {n['count']} input element(s)"),
    "retried": lambda n: (
        f"the function raised at a point of the stencil ({n['error']}); {n['count']} column(s) "
        "taken with a smaller step or one-sided"),
    "directional": lambda n: (
        f"directional check: {_DIRECTIONS[n['product']][0].format(k=n['directions'])} "
        f"({n['evaluations']} evaluations, whatever the input's size)"),
    "localized": lambda n: (
        f"directional check: {_DIRECTIONS[n['product']][1].format(k=n['direction'])}; "
        f"localized by bisection in {n['steps']} steps to input element {n['element']} "
        f"({n['evaluations']} evaluations in all)"),
}


def note_text(n: Note) -> str:
    """The sentence of a note."""
    return NOTE_TEXTS[n.kind](n)


def notes_text(c: Comparison) -> list[str]:
    """The sentences of a check's notes, in order."""
    return [note_text(n) for n in c.notes]


def check_summary(c: Comparison) -> str:
    status = "ok  " if c.passed else "FAIL"
    detail = (f"max abs error {short(c.max_abs_error)}, max rel error {short(c.max_rel_error)}, "
              f"resolution {short(c.resolution)}" if c.passed else check_message(c))
    if c.entries == 0:
        detail = "no entries: the derivative is empty (an empty output or input)"
    if c.unreliable:
        detail += f"; {c.unreliable} entries unreliable (not counted)"
    if c.notes:
        notes = "; ".join(notes_text(c))
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
    if c.mode != "reverse":
        out["mode"] = c.mode
    if c.unreliable:
        out["unreliable"] = c.unreliable
    if c.unverified:
        out["unverified"] = c.unverified
    if c.notes:
        out["notes"] = notes_text(c)
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


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def case_text(r: Any, verbose: bool = False) -> str:
    """A case in the text report: one status line, then its checks."""
    tag = {"passed": "PASS ", "failed": "FAIL ", "error": "ERROR"}[r.status]
    where = f"{_one_line(r.file)}:{r.line}" if r.file and r.line else _one_line(r.file or "")
    head = f"{tag} {_one_line(r.name) if r.name is not None else '(file)'}"
    if where:
        head += f"  [{where}]"
    lines = [head]
    for c in r.checks:
        if verbose or not c.passed or c.unreliable:
            lines.append("      " + check_summary(c))
            hint = hint_text(c)
            if hint:
                lines.append("           " + hint)
    if r.error:
        lines.append("      " + _one_line(r.error))
    elif r.status == "passed" and not verbose:
        lines[0] += f"  ({_count(len(r.checks), 'check')}, {_count(r.evaluations, 'evaluation')})"
    return "\n".join(lines)


def _one_line(text: Any) -> str:
    """A name as one printable line: a newline in it cannot start a forged report
    line, and a lone surrogate cannot stop the output."""
    escaped = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in escaped)


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


# -- files: saved matrices, heatmaps, JUnit XML -------------------------------------

def check_slug(r: Any, index: int, c: Comparison) -> str:
    """A file name for one check of one case: ``case-name.2.analytic-dZ-dW``."""
    title = check_title(c)
    raw = f"{r.name or 'case'}.{index}.{title}"
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in raw).strip("-")[:150]


def _matrices(c: Comparison) -> Matrices:
    if c.matrices is None:
        raise ValueError(f"the check {check_title(c)} keeps no matrices")
    return c.matrices


def _labels(c: Comparison) -> tuple[list[str], list[str]]:
    mat = _matrices(c)
    rows = element_labels(c.out_name if c.derivative == 1 else str(c.wrt), mat.out_shape, mat.order)
    cols = element_labels(str(c.wrt), mat.in_shape, mat.order) if mat.in_shape is not None else []
    return rows, cols


def save_check(path: Any, c: Comparison) -> None:
    """The matrices of a check as ``.npz``: numeric, reference, bound, estimate
    (where the method gives one), unreliable, and the row and column labels."""
    mat = _matrices(c)
    rows, cols = _labels(c)
    arrays: dict[str, Any] = {"numeric": mat.numeric, "reference": mat.reference, "bound": mat.bound,
              "unreliable": mat.unreliable, "row_labels": np.array(rows, dtype=str),
              "column_labels": np.array(cols, dtype=str)}
    if mat.estimate is not None:
        arrays["estimate"] = mat.estimate
    np.savez(path, **arrays)


def plot_check(c: Comparison, ax: Any = None) -> Any:
    """A heatmap of |numeric - reference| / bound: rows the outputs, columns the
    input elements (labels thinned to about 20 a side), the worst entry
    circled, the verdict and the first diagnosis in the title.

    Raises
    ------
    ImportError
        Without matplotlib, naming the ``plot`` extra.
    """
    try:
        import matplotlib
        if ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'fdcheck[plot]'") from None
    mat = _matrices(c)
    num, ref = np.atleast_2d(mat.numeric), np.atleast_2d(mat.reference)
    with np.errstate(all="ignore"):
        ratio = np.abs(num - ref) / np.where(mat.bound > 0, np.atleast_2d(mat.bound), np.nan)
    if ax is None:
        fig, ax = plt.subplots(figsize=(min(12, 2 + 0.4 * ratio.shape[1]),
                                        min(10, 2 + 0.4 * ratio.shape[0])))
    else:
        fig = ax.figure
    shown = np.log10(np.clip(np.nan_to_num(ratio, nan=1e3, posinf=1e3), 1e-3, 1e3))
    image = ax.imshow(shown, cmap="RdYlGn_r", vmin=-3, vmax=3, aspect="auto",
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="log10 |numeric - reference| / bound (> 0 fails)")
    rows, cols = _labels(c)
    for labels, axis, size in ((rows, "y", ratio.shape[0]), (cols, "x", ratio.shape[1])):
        if labels:
            step = max(1, size // 20)
            ticks = list(range(0, size, step))
            getattr(ax, f"set_{axis}ticks")(ticks)
            getattr(ax, f"set_{axis}ticklabels")([labels[t] for t in ticks],
                                                 rotation=90 if axis == "x" else 0, fontsize=8)
    w = c.worst
    if w is not None and w.input is not None and mat.in_shape is not None:
        order: Order = as_order(mat.order)
        r = int(np.ravel_multi_index(w.output, mat.out_shape, order=order)) if w.output else 0
        k = int(np.ravel_multi_index(w.input, mat.in_shape, order=order)) if w.input else 0
        ax.plot([k], [r], marker="o", markersize=14, markerfacecolor="none",
                markeredgecolor="black", markeredgewidth=2)
    title = f"{'PASS' if c.passed else 'FAIL'} {check_title(c)}"
    if c.diagnosis:
        title += "\n" + c.diagnosis[0].message
    ax.set_title(title, fontsize=9, wrap=True)
    fig.tight_layout()
    return fig


def _unique(slug: str, used: set[str]) -> str:
    """``slug``, or ``slug-2``, ``slug-3``... where a file of that name was
    written already (the same case name in two files, ``a/b`` and ``a-b``)."""
    name, k = slug, 1
    while name.lower() in used:  # case-insensitive file systems too
        k += 1
        name = f"{slug}-{k}"
    used.add(name.lower())
    return name


def write_files(results: Sequence[Any], save: Any = None, plot: Any = None,
                plot_all: bool = False) -> tuple[list[str], list[str]]:
    """``--save DIR``: every check's matrices; ``--plot DIR``: a PNG per failing
    check (every check with ``plot_all``). Each file has a name of its own. A
    file that cannot be written is said, and the others are still written.

    Returns
    -------
    written : list of str
        The paths written.
    failed : list of str
        One line per file that could not be written, and why.
    """
    from pathlib import Path
    written: list[str] = []
    failed: list[str] = []
    used: set[str] = set()
    for r in results:
        for index, c in enumerate(r.checks):
            if c.matrices is None:
                continue
            slug = _unique(check_slug(r, index, c), used)
            jobs = []
            if save is not None:
                jobs.append((Path(save) / f"{slug}.npz", lambda path, c=c: save_check(path, c)))
            if plot is not None and (plot_all or not c.passed) and c.matrices.numeric.ndim == 2:
                jobs.append((Path(plot) / f"{slug}.png", lambda path, c=c: _save_plot(path, c)))
            for path, write in jobs:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write(path)
                    written.append(str(path))
                except Exception as exc:  # a disk, a name, a plotting backend: say it, go on
                    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                    failed.append(f"cannot write {_one_line(path)}: {type(exc).__name__}: {why}")
    return written, failed


def _save_plot(path: Any, c: Comparison) -> None:
    import matplotlib.pyplot as plt
    fig = plot_check(c)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


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

