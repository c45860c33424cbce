"""What the Python API makes of inputs that are not dense real arrays, before a
case is built: complex inputs in real form (:mod:`fdcheck.complexify`), sparse
ones as their stored values or dense form (:mod:`fdcheck.sparseinputs`), the
function wrapped to rebuild them."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from . import complexify, sparseinputs


def complex_inputs(f: Callable[..., Any], inputs: Sequence[Any]
                    ) -> tuple[Callable[..., Any], list[Any]]:
    """Complex inputs in real form (z as view_as_real(z)), and ``f`` calling
    with z rebuilt (see :mod:`fdcheck.complexify`)."""
    at = [i for i, x in enumerate(inputs) if complexify.is_complex(x)]
    if not at:
        return f, list(inputs)
    return (complexify.Complexified(f, at),
            [complexify.realify(x) if i in at else x for i, x in enumerate(inputs)])


def sparse_inputs(f: Callable[..., Any], inputs: Sequence[Any], sparse: str
                   ) -> tuple[Callable[..., Any], list[Any], dict[int, Any]]:
    """Sparse inputs as their stored values (``masked``) or dense form
    (``dense``), and ``f`` rebuilding them (see :mod:`fdcheck.sparseinputs`)."""
    if sparse not in sparseinputs.SEMANTICS:
        raise ValueError(f"sparse={sparse!r}: one of {', '.join(sparseinputs.SEMANTICS)}")
    at = sparseinputs.sparse_positions(inputs)
    if not at:
        return f, list(inputs), {}
    patterns = {i: sparseinputs.pattern(inputs[i], sparse) for i in at}
    for i in at:
        if complexify.is_complex(inputs[i]):
            raise ValueError(f"input {i} is sparse and complex: fdcheck checks either, not both")
    return (sparseinputs.Sparsified(f, patterns),
            [sparseinputs.variables(x, patterns[i]) if i in patterns else x
             for i, x in enumerate(inputs)], patterns)
