"""Movement ops: reshape, transpose, indexing, broadcasting, joining."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import tracing as _tracing
from .._checks import check_int
from ..engine import sum_to
from ..function import Function
from ..grad_mode import grad_enabled
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..onnx.builder import OnnxBuilder

_INT64_MAX = int(np.iinfo(np.int64).max)
_INT64_MIN = int(np.iinfo(np.int64).min)


class Reshape(Function):
    saves_inputs = False
    saves_output = False
    py_forward, py_backward = "{0}.reshape({shape})", ("{g}.reshape({0.shape})",)

    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, g, out, x):
        return g.reshape(x.shape)

    def jvp(self, ds, out, x):
        return ds[0].reshape(out.shape)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        from ..onnx.builder import DynamicShapeError

        src, dst = builder.dims(inputs[0]), builder.dims(output)
        target, free, copied = [], 0, False
        for d, dim in enumerate(dst):
            if dim.static:
                target.append(dim.size)
            elif d < len(src) and src[d] == dim:
                target.append(0)  # ONNX: copy the input's dimension (the batch stays symbolic)
                copied = True
            else:
                target.append(-1)  # ONNX: whatever is left (the batch times something)
                free += 1
        shapes = f"from {builder.shape(inputs[0])} to {builder.shape(output)}"
        if free > 1:
            raise DynamicShapeError(f"reshape {shapes} spreads the dynamic axes over several dimensions")
        attrs: dict[str, Any] = {}
        if any(dim.static and dim.size == 0 for dim in dst):  # an empty dimension: 0 must mean 0, not "copy"
            if copied or free:
                raise DynamicShapeError(f"reshape {shapes} makes an empty array")
            if builder.opset < 14:
                raise NotImplementedError(f"export_onnx: reshape {shapes} to an empty array needs opset 14 or later")
            attrs["allowzero"] = 1
        shape = builder.const(np.array(target, dtype=np.int64), name="shape")
        builder.op("Reshape", inputs[0], shape, out=output, **attrs)


class Transpose(Function):
    """Permute axes (reverse them when ``axes`` is None)."""

    saves_inputs = False
    saves_output = False
    py_forward = "np.transpose({0}, {axes})"

    def python_form(self, inputs: tuple[Any, ...]) -> tuple[Any, Any]:
        if self.axes is None:
            return self.py_forward, ("{g}.transpose()",)
        inverse = tuple(int(i) for i in np.argsort(self.axes))
        return self.py_forward, (f"{{g}}.transpose({inverse!r})",)

    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, g, out, x):
        if self.axes is None:
            return g.transpose()
        return g.transpose(tuple(int(i) for i in np.argsort(self.axes)))

    def jvp(self, ds, out, x):
        return np.transpose(ds[0], self.axes)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        ndim = len(builder.dims(inputs[0]))
        perm = list(range(ndim))[::-1] if self.axes is None else [int(a) % ndim for a in self.axes]
        builder.op("Transpose", inputs[0], out=output, perm=perm)


class BroadcastTo(Function):
    saves_inputs = False
    saves_output = False
    py_forward, py_backward = "np.broadcast_to({0}, {shape})", ("sum_to({g}, {0.shape})",)

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, g, out, x):
        return sum_to(g, x.shape)

    def jvp(self, ds, out, x):
        return np.broadcast_to(ds[0], out.shape)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        from ..onnx.builder import DynamicShapeError

        src, dst = builder.dims(inputs[0]), builder.dims(output)
        lead = len(dst) - len(src)
        target = []
        for d, dim in enumerate(dst):
            if dim.static:
                target.append(dim.size)
            elif d >= lead and src[d - lead] == dim:
                target.append(1)  # Expand keeps the input's (symbolic) dimension
            else:
                raise DynamicShapeError(
                    f"broadcast_to from {builder.shape(inputs[0])} to {builder.shape(output)}: the target shape "
                    "follows the batch but the input does not, so it was taken from another tensor's shape (let "
                    "broadcasting do it: b + 0 * x)"
                )
        builder.op("Expand", inputs[0], builder.const(np.array(target, dtype=np.int64), name="shape"), out=output)


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
    py_forward, py_backward = "{0}[{index}]", ("unindex({g}, {index}, {0.shape})",)

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
        return unindex(g, self.kept, x.shape)

    def jvp(self, ds, out, x):
        return ds[0][self.index]

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        _getitem_onnx(builder, self.index, inputs[0], output)


def unindex(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``getitem``'s VJP on arrays (what its ``backward`` computes): zeros of ``shape``, ``g`` added at ``index``."""
    return Unindex().forward(g, index=index, shape=shape)


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

    def jvp(self, ds, out, g):
        d = ds[0]
        if isinstance(d, Tensor):
            return Unindex.apply(d, index=self.index, shape=out.shape)
        return Unindex().forward(d, index=self.index, shape=out.shape)


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

    def jvp(self, ds, out, *xs):
        return np.concatenate(_tangents(ds, xs), axis=self.axis)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = builder.dtype(output)
        builder.op("Concat", *(builder.cast(x, dt) for x in inputs), out=output, axis=int(self.axis))


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

    def jvp(self, ds, out, *xs):
        return np.stack(_tangents(ds, xs), axis=self.axis)

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        dt = builder.dtype(output)
        axis = builder.const(np.array([self.axis], dtype=np.int64), name="axes")
        parts = (builder.op("Unsqueeze", builder.cast(x, dt), axis) for x in inputs)
        builder.op("Concat", *parts, out=output, axis=int(self.axis))


def _tangents(ds: tuple[Any, ...], xs: tuple[Any, ...]) -> list[Any]:
    """One tangent per joined input: zeros for those without one (a join cannot leave a hole)."""
    return [np.zeros(np.shape(x), dtype=np.result_type(x)) if d is None else d for d, x in zip(ds, xs)]


def _getitem_onnx(b: OnnxBuilder, index: Any, x: str, output: str) -> None:
    """``x[index]`` in ONNX: the slices in one ``Slice``, then integers, new axes and one integer array."""
    ndim = len(b.dims(x))
    parts: list[Any] = []
    for p in index if isinstance(index, tuple) else (index,):
        if isinstance(p, list):
            p = np.asarray(p)
        if isinstance(p, (bool, np.bool_)) or (isinstance(p, np.ndarray) and p.dtype == bool):
            raise NotImplementedError(
                "export_onnx: getitem with a boolean mask has no ONNX form: the number of elements it selects "
                "depends on the data. Use ag.where(mask, x, 0) to keep the shape, or index with integers "
                "(np.flatnonzero(mask)) when the selection is fixed"
            )
        if isinstance(p, np.ndarray) and p.ndim == 0 and b.traced(p) is None:
            p = int(p)  # NumPy treats a 0-d integer array as an integer
        parts.append(p)
    used = sum(p is not None and p is not Ellipsis for p in parts)
    dots = next((i for i, p in enumerate(parts) if p is Ellipsis), None)
    if dots is None:
        parts += [slice(None)] * (ndim - used)
    else:
        parts[dots : dots + 1] = [slice(None)] * (ndim - used)
    arrays = [i for i, p in enumerate(parts) if isinstance(p, np.ndarray)]
    if len(arrays) > 1:
        raise NotImplementedError(
            "export_onnx: getitem with several integer arrays has no ONNX form here; index with one array at a "
            "time (x[rows][:, cols]) or combine them into one"
        )
    steps: list[tuple[str, list[str], dict[str, Any]]] = []
    # 1. every slice at once, on the input's own axes (slices keep the rank)
    cut = [(axis, p) for axis, p in enumerate(p for p in parts if p is not None) if isinstance(p, slice)]
    cut = [(axis, s) for axis, s in cut if s != slice(None)]
    # ONNX clamps a negative start of a backward slice to the first element where NumPy selects nothing
    # (x[-2::-1] of one row): those axes are reversed first, and sliced forwards from the other end
    back = [axis for axis, s in cut if (s.step or 1) < 0 and s.start is not None and s.start < 0]
    if back:
        starts, ends, back_steps = (
            b.const(np.full(len(back), v, dtype=np.int64), name=n)
            for v, n in ((_INT64_MAX, "starts"), (_INT64_MIN, "ends"), (-1, "steps"))
        )
        steps.append(("Slice", [starts, ends, b.const(np.array(back, dtype=np.int64), name="axes"), back_steps], {}))
    if cut:
        bounds = [_slice_bounds(s, reversed_=axis in back) for axis, s in cut]
        ints = [b.const(np.array(col, dtype=np.int64), name=n) for col, n in zip(zip(*bounds), ("starts", "ends"))]
        axes = b.const(np.array([a for a, _ in cut], dtype=np.int64), name="axes")
        step = b.const(np.array([r[2] for r in bounds], dtype=np.int64), name="steps")
        steps.append(("Slice", [*ints, axes, step], {}))
    # 2. integers, the integer array and new axes, in order, on the axes that are left
    w, at = 0, 0
    for p in parts:
        if p is None:
            steps.append(("Unsqueeze", [b.const(np.array([w], dtype=np.int64), name="axes")], {}))
            w += 1
        elif isinstance(p, slice):
            w += 1
        elif isinstance(p, np.ndarray):
            given = b.traced(p)  # an index input of the graph, or a constant
            indices = given if given is not None else b.const(p.astype(np.int64), name="indices")
            steps.append(("Gather", [indices], {"axis": w}))
            at = w
            w += p.ndim
        else:
            steps.append(("Gather", [b.const(np.array(int(p), dtype=np.int64), name="index")], {"axis": w}))
    # NumPy puts the array's dimensions first when the integers and the array it indexes with are not
    # next to each other (x[0, :, idx]); Gather left them where the array was.
    advanced = [i for i, p in enumerate(parts) if isinstance(p, np.ndarray) or _is_int(p)]
    if arrays and at and advanced != list(range(advanced[0], advanced[-1] + 1)):
        k = parts[arrays[0]].ndim
        rank = len(b.dims(output))
        perm = list(range(at, at + k)) + [i for i in range(rank) if not at <= i < at + k]
        steps.append(("Transpose", [], {"perm": perm}))
    if not steps:
        b.op("Identity", x, out=output)
        return
    for i, (op_type, extra, attrs) in enumerate(steps):
        x = b.op(op_type, x, *extra, out=output if i == len(steps) - 1 else None, **attrs)


def _is_int(p: Any) -> bool:
    return isinstance(p, (int, np.integer)) and not isinstance(p, bool)


def _slice_bounds(s: slice, reversed_: bool = False) -> tuple[int, int, int]:
    """ONNX Slice's (start, end, step) for a Python slice, valid for any length of the axis; with
    ``reversed_``, for a backward slice with a negative start, on the axis reversed first."""
    step = 1 if s.step is None else int(s.step)
    if reversed_:  # x[a:b:-k] with a < 0 is r[-1-a : -1-b : k] of r = x[::-1] (b < 0: from the front; b ≥ 0: the end)
        stop = _INT64_MAX if s.stop is None else -1 - int(s.stop)
        return -1 - int(s.start), stop, -step
    if step > 0:
        return (0 if s.start is None else int(s.start)), (_INT64_MAX if s.stop is None else int(s.stop)), step
    # backwards: ONNX clamps start to [0, n-1] and end to [-1, n-1]; INT64_MIN ends before element 0
    return (_INT64_MAX if s.start is None else int(s.start)), (_INT64_MIN if s.stop is None else int(s.stop)), step


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
    # (a compiled program reads the index where its backward runs, in the same call: no copy)
    if arrays and isinstance(x, Tensor) and x.requires_grad and grad_enabled.get() and not _tracing.active:
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
    """``x`` with the same data in ``shape`` (one entry may be -1), as ``np.reshape``."""
    return Reshape.apply(x, shape=tuple(shape) if isinstance(shape, (list, tuple)) else shape)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """``x`` with its axes permuted (reversed when ``axes`` is None), as ``np.transpose``."""
    return Transpose.apply(x, axes=None if axes is None else tuple(int(a) for a in axes))


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """``x`` with ``axis1`` and ``axis2`` interchanged, as ``np.swapaxes``."""
    ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
    axes = list(range(ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return Transpose.apply(x, axes=tuple(axes))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """``x`` broadcast to ``shape``; the gradient is summed back to ``x``'s shape."""
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
