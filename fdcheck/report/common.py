"""The words every report uses: numbers, check titles, names as one line."""
from __future__ import annotations

import math
from typing import Any


from ..compare import Comparison
from ..layout import element_label

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


def _derivative(c: Comparison) -> str:
    """``dZ/dW``; ``d2S/dW2`` for a Hessian; the derivative of vᵀ dZ/dW for
    the second derivative a framework computes."""
    if c.derivative == 2 and c.cotangent:
        return f"d(v.d{c.out_name}/d{c.of})/d{c.wrt}"
    if c.derivative == 2 and c.of is not None and c.of != c.wrt:
        return f"d2{c.out_name}/d{c.of}d{c.wrt}"
    if c.derivative == 2:
        return f"d2{c.out_name}/d{c.wrt}2"
    return f"d{c.out_name}/d{c.wrt}"


# What each behaviour check compares, after the framework's name, and the
# words for its two sides (see fdcheck.checks.behaviour).
ASPECTS = {"reentrant": ("backward run twice", "first run", "second run"),
           "undefined-grad": ("undefined output gradient", "expected", "returned"),
           "dtypes": ("gradient dtype", "", ""),
           "batched": ("batched backward (vmap)", "one at a time", "batched"),
           "batched-forward": ("batched forward mode (vmap)", "one at a time", "batched"),
           "batched-second": ("batched double backward (vmap)", "one at a time", "batched"),
           "batched-values": ("batched function (vmap)", "one at a time", "batched"),
           "sparse-gradient": ("gradient layout", "", "")}


def check_title(c: Comparison) -> str:
    """``analytic dZ/dW``, ``value of Z``, ``torch dS/dW``, ``torch d2S/dW2``,
    ``torch (forward mode) dZ/dW``, ``torch backward run twice dZ/dW``..."""
    if c.against == "value":
        return f"value of {c.out_name}"
    if c.aspect is not None:
        return f"{NAMES.get(c.against, c.against)} {ASPECTS[c.aspect][0]} {c.out_name}"
    name = NAMES.get(c.against, c.against)
    if c.mode == "forward":
        name += " (forward mode)"
    title = f"{name} {_derivative(c)}"
    return title + (f" (stage {c.stage})" if c.stage and c.stage != c.out_name else "")


def entry_text(c: Comparison) -> str:
    """The worst entry in the labels of the Jacobian printout and the hints:
    dz21/dw31 for Z[1, 0] and W[2, 0] (1-based; the JSON keeps 0-based indices)."""
    w = c.worst
    if w is None:
        return ""
    col = _label(c.in_labels, str(c.wrt), w.input) if w.input is not None else ""
    if c.derivative == 2 and w.input is not None:
        # A row of a second derivative is an element of an input too: the
        # input whose gradient it is.
        row = _label(c.out_labels, str(c.of or c.wrt), w.output)
        if c.cotangent:
            return f"d(v.d{c.out_name}/d{row})/d{col}"
        return f"d2{c.out_name}/d{row}d{col}"
    out = element_label(c.out_name, w.output)
    if c.against == "value" or w.input is None:
        return out
    return f"d{out}/d{col}"


def _label(labels: tuple[str, ...] | None, name: str, index: tuple[int, ...]) -> str:
    """A structured input's coordinate label (its one index), else the element's."""
    if labels is not None and len(index) == 1 and index[0] < len(labels):
        return labels[index[0]]
    return element_label(name, index)


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _one_line(text: Any) -> str:
    """A name as one printable line: a newline in it cannot start a forged report
    line, and a lone surrogate cannot stop the output."""
    escaped = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in escaped)
