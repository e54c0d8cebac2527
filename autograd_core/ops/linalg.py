"""Matrix products."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from .. import tracing as _tracing
from ..function import Function
from ..tensor import Tensor
from .elementwise import Abs, Divide, Multiply, Power, Sqrt, Square, zero_safe
from .reduce import Max, Min, Sum
from .shape import Reshape


class MatMul(Function):
    """``a @ b`` with NumPy's rules (1-D operands, broadcast batch dimensions).

    VJP: ``g @ bᵀ`` for a and ``aᵀ @ g`` for b, on the last two axes.
    """

    onnx_op = "MatMul"
    saves_inputs = "others"  # g @ bᵀ reads b, aᵀ @ g reads a
    saves_output = False
    py_forward = "np.matmul({0}, {1})"

    def python_form(self, inputs: tuple[Any, ...]) -> tuple[Any, Any]:
        vectors = (np.ndim(inputs[0]) == 1, np.ndim(inputs[1]) == 1)
        if vectors == (True, True):
            return self.py_forward, ("{g} * {1}", "{g} * {0}")
        if vectors == (False, False):
            return self.py_forward, ("{g} @ {1}.mT", "{0}.mT @ {g}")
        return self.py_forward, None  # a vector and a matrix: the program calls backward

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

    def jvp(self, ds, out, a, b):
        da, db = ds  # bilinear: the product of each tangent with the other input
        if db is None:
            return da @ b
        return a @ db if da is None else da @ b + a @ db

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


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002 - NumPy's name
    """Vector or matrix norm, as ``np.linalg.norm`` computes it, differentiable.

    Without ``axis``: the 2-norm of all elements (``ord=None``), or, when ``ord`` is
    given, the vector norm of a 1-D tensor or the matrix norm of a 2-D one. ``axis`` an
    int: vector norms along it; a pair of ints: matrix norms over those two axes.

    - vectors: ``None``/``2`` → ``√Σx²``; ``1`` → ``Σ|x|``; ``inf`` → ``max|x|``;
      ``-inf`` → ``min|x|``; any other ``p > 0`` → ``(Σ|x|ᵖ)^(1/p)``.
    - matrices: ``None``/``"fro"`` → ``√Σx²``; ``1``/``-1`` → max/min column sum of
      ``|x|``; ``inf``/``-inf`` → max/min row sum of ``|x|``.

    At the zero vector (and wherever the norm is 0) the gradient is 0, a subgradient,
    not NaN, and so are the second derivatives; ties in ``max|x|`` share the gradient
    evenly, as ``max`` does. Not supported (they raise): the matrix 2-norm and nuclear
    norm (singular values), ``ord=0`` (a count, with no gradient) and negative ``ord``.

    >>> norm(Tensor([3.0, 4.0]))
    Tensor(5.)
    >>> norm(Tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1)   # largest column sum of |x|
    Tensor(6.)
    >>> x = Tensor([0.0, 0.0], requires_grad=True)
    >>> norm(x).backward()
    >>> x.grad
    array([0., 0.])
    """
    shape = np.shape(x.data if isinstance(x, Tensor) else x)
    ndim = len(shape)
    if isinstance(axis, list):
        axis = tuple(axis)
    if axis is None:
        if ord is None or (ndim == 2 and _is_fro(ord)) or (ndim == 1 and _is_number(ord) and ord == 2):
            out = _two_norm(x, None, False)
            return Reshape.apply(out, shape=(1,) * ndim) if keepdims else out
        if ndim not in (1, 2):
            raise ValueError(
                f"norm: ord={ord!r} needs a vector or a matrix, got a tensor of shape {shape}; "
                "pass axis= (an int for vector norms, a pair for matrix norms)"
            )
        axis = tuple(range(ndim))
    try:
        axes = normalize_axis_tuple(int(axis) if isinstance(axis, (int, np.integer)) else axis, ndim)
    except (ValueError, TypeError) as err:
        raise ValueError(f"norm: bad axis={axis!r} for a tensor of shape {shape}: {err}") from None
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims, shape)
    raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")


def _is_number(ord: Any) -> bool:
    return isinstance(ord, (int, float, np.integer, np.floating)) and not isinstance(ord, bool)


def _is_fro(ord: Any) -> bool:
    return isinstance(ord, str) and ord in ("fro", "f")


def _two_norm(x: Any, axis: Any, keepdims: bool) -> Tensor:
    return _unscaled_or_scaled(_plain_two_norm, x, 2.0, axis, keepdims)


def _plain_two_norm(x: Any, p: float, axis: Any, keepdims: bool) -> Tensor:
    return zero_safe(Sqrt.apply, Sum.apply(Square.apply(x), axis=axis, keepdims=keepdims))


def _plain_p_norm(x: Any, p: float, axis: Any, keepdims: bool) -> Tensor:
    # |x|ᵖ for p < 2 has an infinite (p < 1) or NaN-making second (1 < p < 2) derivative at 0:
    # each element goes through the safe-where pattern (a 0 element gets gradient 0).
    terms = zero_safe(lambda a: Power.apply(a, p), Abs.apply(x))
    return zero_safe(lambda s: Power.apply(s, 1 / p), Sum.apply(terms, axis=axis, keepdims=keepdims))


_LOW: dict[tuple[np.dtype, float], float] = {}


def _unscaled_or_scaled(plain: Any, x: Any, p: float, axis: Any, keepdims: bool) -> Tensor:
    """``plain(x)``, the p-norm ``(Σ|x|ᵖ)^(1/p)``, unless ``|x|ᵖ`` overflowed (an infinite norm
    of finite values) or underflowed (a norm too small for ``Σ|x|ᵖ`` to keep its precision):
    then ``m · plain(x / m)`` with ``m`` a power of two near ``max|x|`` of each slice.

    ``‖x‖ = m‖x/m‖`` for any constant ``m``, so ``m`` is a constant to autodiff, and dividing by
    a power of two is exact: the scaled norm and its derivatives (PyTorch's values) differ
    from the plain ones only where those overflowed. The common case pays a look at the result.
    """
    if _tracing.compiling():
        # The choice depends on the values: ag.compile makes the scales at every call (an effect), and
        # always takes the scaled form: a scale of 1 gives the plain norm's bits, value and gradient.
        scale, flat = _tracing.effect(_plain_scales, plain, x, p, axis, keepdims)
        return Multiply.apply(plain(Divide.apply(x, scale), p, axis, keepdims), flat)
    with np.errstate(over="ignore", under="ignore"):  # handled below
        out = plain(x, p, axis, keepdims)
    r = out.data
    low = _low(r.dtype, p)
    if r.ndim == 0:
        v = float(r)
        if low <= v < math.inf or v != v:  # (NaN data stays as it is)
            return out
    elif not r.size or (r.min() >= low and r.max() < math.inf):  # (False for NaN: then checked below)
        return out
    scale, flat = _scales(r, x.data if isinstance(x, Tensor) else x, axis, low, keepdims, False)
    if scale is None:  # zero vectors, or infinite data: nothing to scale
        return out
    return Multiply.apply(plain(Divide.apply(x, scale), p, axis, keepdims), flat)


def _low(dtype: np.dtype, p: float) -> float:
    """Below this p-norm, ``Σ|x|ᵖ`` has lost digits."""
    low = _LOW.get((dtype, p))
    if low is None:
        low = _LOW[dtype, p] = (float(np.finfo(dtype).tiny) / float(np.finfo(dtype).eps)) ** (1 / p)
    return low


def _plain_scales(plain: Any, x: Any, p: float, axis: Any, keepdims: bool) -> tuple[Any, Any]:
    """For ag.compile, at every call: the scales of the values of ``x`` (ones where none is needed)."""
    data = x.data if isinstance(x, Tensor) else x
    with np.errstate(over="ignore", under="ignore"):
        r = plain(data, p, axis, keepdims).data
    return _scales(r, data, axis, _low(r.dtype, p), keepdims, True)


def _scales(r: np.ndarray, data: Any, axis: Any, low: float, keepdims: bool, always: bool) -> tuple[Any, Any]:
    """The scales of ``_unscaled_or_scaled`` for the plain norm ``r`` of ``data``, in the shapes of the
    division and the product (None when no slice needs one, unless ``always``: then ones)."""
    dtype = r.dtype
    data = np.asarray(data, dtype=dtype)
    biggest = np.max(np.abs(data), axis=axis, keepdims=True, initial=0)
    flagged = r.reshape(biggest.shape)
    scaled_slices = (np.isinf(flagged) | (flagged < low)) & np.isfinite(biggest) & (biggest > 0)
    if not always and not scaled_slices.any():
        return None, None
    power = np.frexp(np.where(scaled_slices, biggest, 1))[1]  # 2^power > max|x| >= 2^(power - 1)
    scale = np.where(scaled_slices, np.ldexp(np.ones_like(biggest), power), 1).astype(dtype, copy=False)
    return scale, (scale if keepdims else scale.reshape(r.shape))


def _vector_norm(x: Any, ord: Any, axis: int, keepdims: bool) -> Tensor:
    if ord is None or (_is_number(ord) and ord == 2):
        return _two_norm(x, axis, keepdims)
    if not _is_number(ord):
        raise ValueError(
            f"norm: ord={ord!r} is not a vector norm; use None or 2, 1, inf, -inf or a number p > 0"
            + (" ('fro' is for matrices: pass a 2-D tensor or axis=(0, 1))" if _is_fro(ord) else "")
        )
    if ord in (np.inf, -np.inf):
        return _extreme(Abs.apply(x), ord, axis, keepdims, np.shape(x.data if isinstance(x, Tensor) else x))
    if ord == 1:
        return Sum.apply(Abs.apply(x), axis=axis, keepdims=keepdims)
    if ord == 0 or ord < 0 or np.isnan(ord):
        why = "is not supported" if ord else "counts the non-zero elements, which has no gradient: use (x != 0).sum()"
        raise NotImplementedError(f"norm: ord={ord!r} {why}; the vector norms are None or 2, 1, inf, -inf and p > 0")
    return _unscaled_or_scaled(_plain_p_norm, x, float(ord), axis, keepdims)


def _extreme(t: Tensor, ord: Any, axis: int, keepdims: bool, shape: tuple[int, ...]) -> Tensor:
    """The largest (``ord > 0``) or smallest of the non-negative ``t`` along ``axis`` (``shape``: the
    norm's input's, for the message). Of no values the largest is 0, as in NumPy (a sum of nothing:
    its gradient is empty too); the smallest is undefined."""
    if t.shape[axis]:
        return (Max if ord > 0 else Min).apply(t, axis=axis, keepdims=keepdims)
    if ord > 0:
        return Sum.apply(t, axis=axis, keepdims=keepdims)
    raise ValueError(
        f"norm: ord={ord!r} over axis {axis} of shape {shape} is the smallest of no values, which is "
        "undefined (NumPy refuses it too); the largest (ord=inf or 1) of no values is 0"
    )


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool, shape: tuple[int, ...]) -> Tensor:
    row, col = axes
    if ord is None or _is_fro(ord):
        return _two_norm(x, axes, keepdims)
    if _is_number(ord) and ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum of |x| (sum over rows, then the max over columns); inf: the largest row sum
        summed, picked = (row, col) if ord in (1, -1) else (col, row)
        out = _extreme(Sum.apply(Abs.apply(x), axis=summed, keepdims=True), ord, picked, True, shape)
        if keepdims:
            return out
        return Reshape.apply(out, shape=tuple(n for i, n in enumerate(shape) if i not in axes))
    if (_is_number(ord) and ord in (2, -2)) or ord == "nuc":
        raise NotImplementedError(
            f"norm: the matrix norm ord={ord!r} is made of singular values, which this library does not "
            "differentiate; use 'fro', 1, -1, inf or -inf"
        )
    raise ValueError(f"norm: ord={ord!r} is not a matrix norm; use None or 'fro', 1, -1, inf or -inf")
