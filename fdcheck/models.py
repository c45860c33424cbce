"""Models and pytrees as the Python API takes them: checks named after their
parameters.

- A ``torch.nn.Module`` checked with ``wrt="parameters"`` (every parameter
  that requires grad) or a list of names and globs (``["encoder.*.weight"]``)
  is called as ``torch.func.functional_call(model, params, inputs)``: each
  parameter is an input of its own, named as ``named_parameters`` names it;
  buffers are held fixed.
- An input that is a pytree (a dict, list, tuple or NamedTuple of arrays, and
  for JAX any registered pytree: Flax and Equinox modules) is spread into its
  leaves, each named by its path (``params['dense']['kernel']``); the
  function receives the tree rebuilt. Leaves that are not floating arrays
  (integers, strings, None) are held as they are and left out of ``wrt``.

Labels then read as the names do: ``dW/dencoder.layers.0.weight[2,1]``
(1-based, as every label).
"""
from __future__ import annotations

import fnmatch
from typing import Any, Callable, Sequence

import numpy as np

from . import backends

PARAMETERS = "parameters"


class Paths(list):
    """Input names made here (parameter names, tree paths): not identifiers,
    and taken as they are."""


def _is_module(f: Any) -> bool:
    torch = __import__("sys").modules.get("torch")
    return torch is not None and isinstance(f, torch.nn.Module)


class ModuleCall:
    """``model(*inputs)`` with its chosen parameters given first, by position."""

    def __init__(self, model: Any, names: Sequence[str], count: int) -> None:
        self.model, self.names, self.count = model, tuple(names), count
        self.__name__ = type(model).__name__

    def __call__(self, *args: Any) -> Any:
        from torch.func import functional_call
        params = dict(zip(self.names, args[:self.count]))
        return functional_call(self.model, params, tuple(args[self.count:]))


def _chosen(model: Any, wrt: Any) -> list[tuple[str, Any]]:
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if wrt == PARAMETERS:
        return named
    patterns = [wrt] if isinstance(wrt, str) else list(wrt)
    chosen = [(n, p) for n, p in named if any(fnmatch.fnmatchcase(n, pat) for pat in patterns)]
    if not chosen:
        listed = ", ".join(n for n, _ in named[:8]) + (", ..." if len(named) > 8 else "")
        raise ValueError(f"wrt={wrt!r} names no parameter that requires grad; the model's: "
                         f"{listed}")
    return chosen


def module(model: Any, inputs: Sequence[Any], wrt: Any
           ) -> tuple[Callable[..., Any], list[Any], list[str], list[str]]:
    """A module as a function of its parameters and inputs: the function,
    its inputs (the parameters first, detached leaves that require grad), their
    names (the parameters' own, then x0, x1...) and the names to check."""
    chosen = _chosen(model, wrt)
    names = [n for n, _ in chosen]
    params = [p.detach().clone().requires_grad_(True) for _, p in chosen]
    rest = [f"x{i}" for i in range(len(inputs))]
    return ModuleCall(model, names, len(names)), params + list(inputs), Paths(names + rest), \
        names


def is_tree(x: Any) -> bool:
    """A pytree input to spread: a dict, a NamedTuple, a list or tuple holding
    framework arrays or trees (a nested list of numbers is an array, as
    ever), or for JAX any registered pytree that is not a single array."""
    if isinstance(x, dict) or (isinstance(x, tuple) and hasattr(x, "_fields")):
        return True
    if isinstance(x, (list, tuple)):
        return any(is_tree(v) or backends.name_of(v) != "numpy"
                   or isinstance(v, np.ndarray) for v in x)
    jax = __import__("sys").modules.get("jax")
    if jax is None or backends.name_of(x) == "jax" or hasattr(x, "shape"):
        return False
    leaves = jax.tree_util.tree_leaves(x)
    return bool(leaves) and not (len(leaves) == 1 and leaves[0] is x)


def _flatten(x: Any, name: str) -> tuple[list[tuple[str, Any]], Callable[[list[Any]], Any]]:
    """The leaves of tree ``x`` with their path names, and how to rebuild it:
    dicts, lists, tuples and NamedTuples by their keys, indices and fields
    (whatever else is imported), any other JAX pytree by JAX's paths."""
    if isinstance(x, dict):
        keys = list(x)
        parts = [_flatten(v, f"{name}[{k!r}]") for k, v in x.items()]
    elif isinstance(x, tuple) and hasattr(x, "_fields"):
        keys = list(x._fields)
        parts = [_flatten(v, f"{name}.{k}") for k, v in zip(x._fields, x)]
    elif isinstance(x, (list, tuple)) and is_tree(x):
        keys = list(range(len(x)))
        parts = [_flatten(v, f"{name}[{i}]") for i, v in enumerate(x)]
    elif is_tree(x):
        import jax
        pairs, treedef = jax.tree_util.tree_flatten_with_path(x)
        named = [(name + jax.tree_util.keystr(path), leaf) for path, leaf in pairs]
        return named, lambda leaves: jax.tree_util.tree_unflatten(treedef, leaves)
    else:
        return [(name, x)], lambda leaves: leaves[0]
    named = [pair for leaves, _ in parts for pair in leaves]
    sizes = [len(leaves) for leaves, _ in parts]

    def rebuild(leaves: list[Any]) -> Any:
        out, at = [], 0
        for (_, build), k in zip(parts, sizes):
            out.append(build(leaves[at:at + k]))
            at += k
        if isinstance(x, dict):
            return dict(zip(keys, out))
        return type(x)(*out) if hasattr(x, "_fields") else type(x)(out)
    return named, rebuild


class TreeCall:
    """``f`` called with its tree inputs rebuilt from their leaves.

    ``spans``: per original input, None (an input passed as it is) or its
    slots, each a leaf taken from the arguments (``_TAKE``) or a value held
    (a leaf that is no array: a string, a flag), and how to rebuild it."""

    def __init__(self, f: Callable[..., Any], spans: Sequence[Any]) -> None:
        self.f, self.spans = f, tuple(spans)
        self.__name__ = getattr(f, "__name__", type(f).__name__)
        # Leaves passed as they are and never checked (said in a note).
        self.held: tuple[str, ...] = ()

    def __call__(self, *leaves: Any) -> Any:
        args, at = [], 0
        for span in self.spans:
            if span is None:
                args.append(leaves[at])
                at += 1
                continue
            slots, rebuild = span
            values = []
            for slot in slots:
                if slot is _TAKE:
                    values.append(leaves[at])
                    at += 1
                else:
                    values.append(slot)
            args.append(rebuild(values))
        return self.f(*args)


_TAKE = object()


def _array_like(x: Any) -> bool:
    return hasattr(x, "dtype") or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _floating(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return isinstance(x, float)
    if backends.name_of(x) == "torch":
        return bool(x.is_floating_point())
    return np.dtype(dtype).kind == "f"


def trees(f: Callable[..., Any], inputs: Sequence[Any], names: Sequence[str]
          ) -> tuple[Callable[..., Any], list[Any], list[str], list[str]] | None:
    """Tree inputs spread into named leaves (None where no input is a tree):
    the function, its leaves, their names, and the floating leaves' names
    (the inputs checked by default; integer leaves are passed, not checked)."""
    if not any(is_tree(x) for x in inputs):
        return None
    spans: list[Any] = []
    leaves, leaf_names, floating, held = [], [], [], []
    for x, name in zip(inputs, names):
        if not is_tree(x):
            spans.append(None)
            pairs = [(name, x)]
        else:
            named, rebuild = _flatten(x, name)
            spans.append(([_TAKE if _array_like(v) else v for _, v in named], rebuild))
            pairs = [(n, v) for n, v in named if _array_like(v)]
            held += [f"{n} (no array)" for n, v in named if not _array_like(v)]
        for leaf_name, leaf in pairs:
            leaves.append(leaf)
            leaf_names.append(leaf_name)
            if _floating(leaf):
                floating.append(leaf_name)
            elif spans[-1] is not None:
                held.append(f"{leaf_name} (not floating)")
    call = TreeCall(f, spans)
    call.held = tuple(held)
    return call, leaves, Paths(leaf_names), floating


def with_held(result: Any, fn: Any) -> Any:
    """``result`` with a note, on its first check, of the tree leaves held
    as they are and not checked."""
    from dataclasses import replace

    from .notes import note
    held = getattr(fn, "held", ())
    if not held or not result.checks:
        return result
    first = result.checks[0]
    first = replace(first, notes=(*first.notes, note("unchecked-leaves", leaves=", ".join(held))))
    return replace(result, checks=(first, *result.checks[1:]))


def called_as(fn: Any, ref: Any) -> Any:
    """A callable reference called as ``fn`` calls the caller's function:
    with the trees rebuilt (a module's references take the parameters and
    inputs by position, as they come)."""
    if callable(ref) and isinstance(fn, TreeCall):
        return TreeCall(ref, fn.spans)
    return ref


def expand(f: Callable[..., Any], inputs: Sequence[Any], names: Sequence[str],
           wrt: Any) -> tuple[Callable[..., Any], list[Any], list[str], Any] | None:
    """A module or tree inputs as a function of named inputs (see the module's
    docstring), or None for a plain call."""
    if _is_module(f) and wrt is not None and (wrt == PARAMETERS or isinstance(wrt, str) or (
            isinstance(wrt, (list, tuple)) and all(isinstance(w, str) for w in wrt))):
        fn, args, arg_names, chosen = module(f, inputs, wrt)
        return fn, args, arg_names, chosen
    if not any(is_tree(x) for x in inputs):
        return None
    found = trees(f, inputs, names)
    assert found is not None
    fn, leaves, leaf_names, floating = found
    return fn, leaves, leaf_names, floating if wrt is None else wrt
