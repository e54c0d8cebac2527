"""Movement ops: reshape, transpose, indexing, broadcasting, joining."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_int
from ..engine import sum_to
from ..function import Function
from ..grad_mode import grad_enabled
from ..tensor import Tensor


class Reshape(Function):
    saves_inputs = False
    saves_output = False

    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, g, out, x):
        return g.reshape(x.shape)


class Transpose(Function):
    """Permute axes (reverse them when ``axes`` is None)."""

    saves_inputs = False
    saves_output = False

    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, g, out, x):
        if self.axes is None:
            return g.transpose()
        return g.transpose(tuple(int(i) for i in np.argsort(self.axes)))


class BroadcastTo(Function):
    saves_inputs = False
    saves_output = False

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, g, out, x):
        return sum_to(g, x.shape)


def expand(g: Any, shape: tuple[int, ...]) -> Any:
    """``g`` broadcast to ``shape``, for VJPs (sum's and mean's): a recorded ``broadcast_to``
    when ``g`` is a Tensor. For an array, small results are materialised, which is ~5x
    cheaper than ``np.broadcast_to``'s view (its Python overhead is ~3 µs) and gives a fresh
    array a leaf can keep as its ``.grad`` without copying; large ones stay zero-copy views."""
    if isinstance(g, Tensor):
        return BroadcastTo.apply(g, shape=shape)
    if math.prod(shape) > 65536:
        return np.broadcast_to(g, shape)
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


class GetItem(Function):
    """``x[index]``: slices, integers, integer arrays, boolean masks.

    VJP: scatter ``g`` into zeros of x's shape at ``index``, adding where an integer
    array repeats an element.
    """

    saves_inputs = False
    saves_output = False

    name = "getitem"

    def forward(self, x, index, kept=None):
        self.index = index  # as given (ONNX export recognises an index input by identity)
        self.kept = index if kept is None else kept  # what backward reads: a copy of index arrays (getitem)
        try:
            return x[index]
        except IndexError as err:
            raise IndexError(f"getitem: {err} (tensor shape {x.shape})") from None

    def backward(self, g, out, x):
        if isinstance(g, Tensor):
            return Unindex.apply(g, index=self.kept, shape=x.shape)
        return Unindex().forward(g, index=self.kept, shape=x.shape)


class Unindex(Function):
    """The transpose of ``getitem``: a zero tensor of ``shape`` with ``g`` added at ``index``."""

    saves_inputs = False
    saves_output = False

    def forward(self, g, index, shape):
        self.index = index
        full = np.zeros(shape, dtype=g.dtype)
        if _is_basic(index):  # no element can repeat: plain assignment is enough
            full[index] = g
        else:
            np.add.at(full, index, g)
        return full

    def backward(self, g, out, x):
        return g[self.index]


class Concatenate(Function):
    saves_inputs = False
    saves_output = False

    def forward(self, *xs, axis):
        out = np.concatenate(xs, axis=axis)
        self.axis = axis % out.ndim
        self.ends = np.cumsum([x.shape[self.axis] for x in xs]).tolist()
        return out

    def backward(self, g, out, *xs):
        lead = (slice(None),) * self.axis
        starts = [0] + self.ends[:-1]
        return tuple(g[lead + (slice(s, e),)] for s, e in zip(starts, self.ends))


class Stack(Function):
    saves_inputs = False
    saves_output = False

    def forward(self, *xs, axis):
        out = np.stack(xs, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, g, out, *xs):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] for i in range(len(xs)))


def _is_basic(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis)))
        or (isinstance(p, np.ndarray) and p.dtype == bool)
        for p in parts
    )


def _copied(p: Any) -> Any:
    return p.copy() if isinstance(p, np.ndarray) else p


def _index_part(p: Any) -> Any:
    if isinstance(p, Tensor):
        # A Tensor holds floats, so it cannot say whether it means a mask or indices:
        # 1.0/0.0 would silently select elements 1 and 0 instead of masking.
        raise IndexError(
            "getitem: index with a NumPy integer or boolean array (or t.data.astype(int)), not a Tensor: "
            "a Tensor holds floats, so a mask and a list of indices would look the same"
        )
    return p


# ============================================================== public functions


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]``: slices, integers, and NumPy integer or boolean arrays.

    When the op is recorded, its backward reads a copy of the index arrays: the caller may
    refill the same buffer before backward (a data loader's reused batch)."""
    if isinstance(index, tuple):
        index = tuple(_index_part(p) for p in index)
        arrays = any(isinstance(p, np.ndarray) for p in index)
    else:
        index = _index_part(index)
        arrays = isinstance(index, np.ndarray)
    if arrays and isinstance(x, Tensor) and x.requires_grad and grad_enabled.get():
        kept = tuple(_copied(p) for p in index) if isinstance(index, tuple) else _copied(index)
        out = GetItem.apply(x, index=index, kept=kept)
    else:
        out = GetItem.apply(x, index=index)
    if out._node is None and isinstance(x, Tensor) and x.name is not None:
        out.name = f"{x.name}[{_index_text(index)}]"  # data: x[0][0] keeps a readable name
    return out


def _index_text(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)

    def one(p: Any) -> str:
        if isinstance(p, slice):
            text = "" if p.start is None else str(p.start)
            text += ":" + ("" if p.stop is None else str(p.stop))
            return text + ("" if p.step is None else f":{p.step}")
        if p is Ellipsis:
            return "..."
        if p is None:
            return "None"
        if isinstance(p, np.ndarray):
            return f"<{p.dtype.name} array>"
        return str(p)

    return ", ".join(one(p) for p in parts)


def reshape(x: Any, shape: Any) -> Tensor:
    return Reshape.apply(x, shape=tuple(shape) if isinstance(shape, (list, tuple)) else shape)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    return Transpose.apply(x, axes=None if axes is None else tuple(int(a) for a in axes))


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
    axes = list(range(ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return Transpose.apply(x, axes=tuple(axes))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    return BroadcastTo.apply(x, shape=tuple(shape) if isinstance(shape, (list, tuple)) else (shape,))


def _probe(x: Any) -> np.ndarray:
    """A zero-memory array of x's shape, to let NumPy work out a new shape."""
    return np.broadcast_to(False, np.shape(x.data if isinstance(x, Tensor) else x))


def expand_dims(x: Any, axis: Any) -> Tensor:
    """Insert a size-1 axis at position ``axis`` (several for a tuple), as NumPy does."""
    probe = _probe(x)
    try:
        shape = np.expand_dims(probe, axis).shape
    except (ValueError, TypeError) as err:
        raise ValueError(f"expand_dims: cannot insert axis {axis!r} into shape {probe.shape}: {err}") from None
    return Reshape.apply(x, shape=shape)


def unsqueeze(x: Any, axis: int) -> Tensor:
    """PyTorch's name for :func:`expand_dims`: a new size-1 axis at ``axis``.

    >>> unsqueeze(Tensor([1.0, 2.0]), 0).shape
    (1, 2)
    >>> unsqueeze(Tensor([1.0, 2.0]), -1).shape
    (2, 1)
    """
    return expand_dims(x, axis)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove size-1 axes: all of them, or those named by ``axis`` (which must have size 1).

    >>> squeeze(Tensor([[1.0], [2.0]])).shape
    (2,)
    """
    probe = _probe(x)
    try:
        shape = np.squeeze(probe, axis).shape
    except (ValueError, TypeError) as err:
        raise ValueError(f"squeeze: cannot remove axis {axis!r} from shape {probe.shape}: {err}") from None
    return Reshape.apply(x, shape=shape)


def concatenate(tensors: Sequence[Any], axis: int | None = 0) -> Tensor:
    """Join tensors along an existing axis; ``axis=None`` flattens them first, as NumPy does.

    >>> concatenate([Tensor([[1.0, 2.0]]), Tensor([3.0])], axis=None)
    Tensor([1., 2., 3.])
    """
    if len(tensors) == 0:
        raise ValueError("concatenate: need at least one tensor")
    if axis is None:
        return Concatenate.apply(*[Reshape.apply(t, shape=(-1,)) for t in tensors], axis=0)
    return Concatenate.apply(*tensors, axis=_axis(axis, "concatenate"))


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    if len(tensors) == 0:
        raise ValueError("stack: need at least one tensor")
    return Stack.apply(*tensors, axis=_axis(axis, "stack"))


def _axis(axis: Any, where: str) -> int:
    return axis if type(axis) is int else check_int(axis, "axis", where)
