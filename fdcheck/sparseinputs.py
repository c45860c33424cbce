"""Sparse PyTorch inputs (COO, CSR), checked as gradcheck checks them.

``masked`` (fdcheck's default, gradcheck's ``masked=True``): the input is its
stored values, a dense tensor of shape (nnz,) + dense dims; each stored entry
is perturbed, and the function is called with the sparse tensor rebuilt from
the perturbed values on the same pattern. The unstored entries are not
variables: their gradient is not compared.

``dense`` (gradcheck's ``masked=False``): the input is its dense form, every
element a variable, and the function is called with the dense tensor made
sparse again in the input's layout.

Either way the framework's reference is its autograd of that function, and a
separate check (the ``sparse-gradient`` aspect) holds the gradient PyTorch
returns for the sparse input itself to the input's layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

SEMANTICS = ("masked", "dense")


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a sparse PyTorch tensor."""
    layout = getattr(x, "layout", None)
    return layout is not None and str(layout) != "torch.strided" and hasattr(x, "to_dense")


@dataclass(frozen=True)
class Pattern:
    """What rebuilds a sparse tensor from its values (or its dense form).

    Attributes
    ----------
    layout : str
        ``torch.sparse_coo`` or ``torch.sparse_csr``.
    indices : tuple of tensors
        COO: (indices,); CSR: (crow_indices, col_indices).
    size : tuple of int
    semantics : {"masked", "dense"}
    """

    layout: str
    indices: tuple[Any, ...]
    size: tuple[int, ...]
    semantics: str

    def rebuild(self, values: Any) -> Any:
        """The sparse tensor of ``values`` (masked) or of the dense ``values``."""
        import torch
        if self.semantics == "dense":
            return values.to_sparse_csr() if self.layout == "torch.sparse_csr" \
                else values.to_sparse()
        # The indices are the input's own, valid by construction: no invariant
        # check each evaluation (and no warning from torch that it is off).
        if self.layout == "torch.sparse_csr":
            return torch.sparse_csr_tensor(self.indices[0], self.indices[1], values,
                                           size=self.size, check_invariants=False)
        return torch.sparse_coo_tensor(self.indices[0], values, self.size, is_coalesced=True,
                                       check_invariants=False)


def pattern(x: Any, semantics: str) -> Pattern:
    """The pattern of sparse ``x``.

    Raises
    ------
    ValueError
        For a layout other than COO and CSR, or unknown ``semantics``.
    """
    if semantics not in SEMANTICS:
        raise ValueError(f"sparse={semantics!r}: one of {', '.join(SEMANTICS)}")
    layout = str(x.layout)
    if layout == "torch.sparse_coo":
        x = x.coalesce()
        return Pattern(layout, (x.indices(),), tuple(x.shape), semantics)
    if layout == "torch.sparse_csr":
        return Pattern(layout, (x.crow_indices(), x.col_indices()), tuple(x.shape), semantics)
    raise ValueError(f"a sparse input of layout {layout}: fdcheck checks COO and CSR tensors")


def variables(x: Any, p: Pattern) -> Any:
    """What is perturbed: the stored values (masked) or the dense form, a dense
    tensor that keeps ``x``'s ``requires_grad``."""
    dense = (x.coalesce() if p.layout == "torch.sparse_coo" else x).detach()
    values = dense.to_dense() if p.semantics == "dense" else dense.values()
    return values.clone().requires_grad_(bool(x.requires_grad))


class Sparsified:
    """``fn`` called with the inputs at the patterns' positions rebuilt sparse;
    picklable where ``fn`` is."""

    def __init__(self, fn: Callable[..., Any], patterns: dict[int, Pattern]) -> None:
        self.fn = fn
        self.patterns = patterns
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*(self.patterns[i].rebuild(a) if i in self.patterns else a
                         for i, a in enumerate(args)))


def sparse_positions(inputs: Sequence[Any]) -> list[int]:
    return [i for i, x in enumerate(inputs) if is_sparse(x)]
