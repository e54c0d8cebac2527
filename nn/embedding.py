"""Embedding: a learnable lookup table from integer indices (words, items, classes) to vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor, tracing

from . import init as _init
from .module import Module, Parameter, positive_int

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``dim``, looked up by integer index.

    ``forward(index)`` takes integer indices of any shape (a list, a NumPy integer array,
    an int; whole-valued floats are accepted too) and returns ``weight[index]``, of shape
    ``index.shape + (dim,)``. The gradient of ``weight`` is the upstream gradient added
    into the rows that were looked up, a repeated index adding up (it is the indexing
    op's gradient). ``weight`` has shape ``(num_embeddings, dim)`` and starts as draws of
    ``N(0, 1)``, as in PyTorch; ``rng`` (a Generator or an int seed) fixes them, by
    default they come from the generator of :func:`nn.seed`.

    >>> emb = Embedding(10, 3, rng=0)
    >>> emb([[1, 2], [2, 9]]).shape
    (2, 2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        dim: int,
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.dim = positive_int(dim, "dim", "Embedding")
        where = f"Embedding({self.num_embeddings}, {self.dim})"
        table = _init.as_rng(rng, where).standard_normal((self.num_embeddings, self.dim))
        self.weight = Parameter(table, dtype=dtype or np.float64)

    def forward(self, index: Any) -> Tensor:
        return self.weight[tracing.effect(self._indices, index)]  # (checked from its values: made again by ag.compile)

    def _indices(self, index: Any) -> Any:
        """``index`` as NumPy integers, checked: whole numbers in ``[0, num_embeddings)``."""
        where = f"Embedding({self.num_embeddings}, {self.dim})"
        if isinstance(index, Tensor):
            raise TypeError(
                f"{where}: the indices are a Tensor, which holds floats (and indices have no gradient); "
                "pass integer indices as a list or a NumPy integer array (t.data.astype(int))"
            )
        if isinstance(index, (bool, np.bool_)):
            raise TypeError(f"{where}: indices must be integers, got the bool {index!r}")
        try:
            arr = np.asarray(index)
        except ValueError:
            raise ValueError(f"{where}: indices must form a regular (rectangular) array of integers") from None
        kind = arr.dtype.kind
        if kind == "b":
            raise TypeError(
                f"{where}: indices must be integers, got booleans (a mask); to take the rows a mask "
                "selects, index the table: emb.weight[mask]"
            )
        if kind not in "iuf":
            what = "strings" if kind in "US" else f"values of dtype {arr.dtype}"
            raise TypeError(f"{where}: indices must be integers, got {what} ({type(index).__name__})")
        if kind == "f":
            whole = np.isfinite(arr) & (arr == np.round(arr))
            if not whole.all():
                at = tuple(int(i) for i in np.argwhere(~whole)[0])
                raise ValueError(
                    f"{where}: indices must be whole numbers, got {arr[at].item()!r}"
                    + (f" at position {at}" if at else "")
                )
        bad = (arr < 0) | (arr >= self.num_embeddings)
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            value = arr[at].item()
            raise IndexError(
                f"{where}: index {int(value)}{f' at position {at}' if at else ''} is out of range; "
                f"indices must be in [0, {self.num_embeddings - 1}] (0 <= index < num_embeddings)"
            )
        if arr.ndim == 0 and not tracing.compiling():  # (compiled, it stays an array: an int would be frozen)
            return int(arr)
        return arr if kind in "iu" else arr.astype(np.intp)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.dim}"
