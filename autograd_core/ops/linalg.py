"""Matrix products."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor
from .elementwise import Multiply


class MatMul(Function):
    """``a @ b`` with NumPy's rules (1-D operands, broadcast batch dimensions).

    VJP: ``g @ bᵀ`` for a and ``aᵀ @ g`` for b, on the last two axes.
    """

    saves_output = False

    def forward(self, a, b):
        return np.matmul(a, b)

    def backward(self, g, out, a, b):
        if a.ndim == 1 and b.ndim == 1:  # inner product: a scalar out
            return (g * b if self.needs(0) else None), (g * a if self.needs(1) else None)
        # Treat a 1-D operand as a row (a) or column (b) matrix, as matmul does.
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        if a_vec:
            a = a.reshape(1, -1)
            g = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        if b_vec:
            b = b.reshape(-1, 1)
            g = g.reshape(g.shape + (1,))
        ga = gb = None
        if self.needs(0):
            ga = g @ b.mT  # .mT: transpose of the last two axes (arrays and Tensors alike)
            if a_vec:
                ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if self.needs(1):
            gb = a.mT @ g
            if b_vec:
                gb = gb.reshape(gb.shape[:-1])
        return ga, gb

    def explain(self, err: Exception, xs: tuple[Any, ...]) -> str:
        sa, sb = np.shape(xs[0]), np.shape(xs[1])
        if not sa or not sb:
            return f"matmul: operands must be at least 1-D, got shapes {sa} and {sb} (use * to scale by a scalar)"
        ia = len(sa) - 1
        ib = max(len(sb) - 2, 0)
        if sa[ia] != sb[ib]:
            return f"matmul: shapes {sa} and {sb} are not aligned: {sa[ia]} (dim {ia}) != {sb[ib]} (dim {ib})"
        return f"matmul: the batch dimensions of shapes {sa} and {sb} do not broadcast together"


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b`` (NumPy's ``matmul`` rules)."""
    return MatMul.apply(a, b)


def dot(a: Any, b: Any) -> Tensor:
    """NumPy's ``dot`` for scalars, vectors and matrices (``a @ b``, or ``a * b`` if either is 0-d)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return Multiply.apply(a, b)
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise ValueError("dot: only up to 2-D operands are supported; use matmul (@) for batches")
    return MatMul.apply(a, b)
