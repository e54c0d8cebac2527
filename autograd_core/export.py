"""Export to ONNX: run a function once, turn the graph it recorded into an ONNX model.

``export_onnx(f, *example_inputs)`` calls ``f`` on tracked copies of the examples, walks
the recorded graph from the outputs (iteratively), and writes one ONNX node, or a few,
per op. Parameters and captured arrays become initializers, the examples become graph
inputs, and the result runs in any ONNX runtime::

    model = nn.Sequential(nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3))
    ag.export_onnx(model, np.zeros((2, 4), np.float32), path="model.onnx")

**The batch axis.** Axis 0 of every example input is symbolic (``"batch"``) unless
``dynamic_axes=()``. Shapes recorded during a trace are concrete (a reshape remembers
``(2, 12)``, not ``(batch, 12)``), so for each dynamic axis ``f`` is traced a second time
with that axis one longer (and the examples rolled along it): dimensions that change
are the ones that follow the batch. Reshapes then keep them symbolic (a ``0`` or ``-1``
in ONNX's target shape), and the two ONNX graphs must come out identical. When they do
not, or ``f`` fails on the longer inputs, something depends on the examples' size (a
captured array of the batch's length, ``len(x)`` in an ``if``) or on their values (a mask
from ``x.data > 0``): a third trace on the examples merely rolled tells which. Size alone:
the model is exported for the examples' fixed shapes, with an :class:`OnnxExportWarning`
saying why. Values: a ``ValueError`` naming the op, since no traced graph would be right
for other inputs.

**An op's ONNX form** is a function ``emit(builder, fn, inputs, output)``: ``fn`` is the
recorded op (the ``Function`` instance, with what its ``forward`` stored on ``self``),
``inputs`` the names of its input values, one per positional input of ``forward``,
and ``output`` the name its result must be written to. The built-in forms sit in the
table ``ONNX_FORMS`` (op name → emitter), filled with ``@onnx_form("name")``, so a new
op's form is a few lines::

    @onnx_form("max_pool2d")  # its forward keeps the window's geometry on self.win
    def _max_pool2d(b, fn, inputs, output):
        w = fn.win
        b.op("MaxPool", inputs[0], out=output, kernel_shape=[w.kh, w.kw], strides=[w.sh, w.sw],
             pads=[w.ph, w.pw, w.ph, w.pw])

A user-defined ``Function`` supplies its form as a method with the same arguments::

    class Swish(ag.Function):
        def forward(self, x):
            return x / (1 + np.exp(-x))

        def backward(self, g, out, x):
            s = 1 / (1 + np.exp(-x))
            return g * (s + out * (1 - s))

        def to_onnx(self, builder, inputs, output):
            builder.op("Mul", inputs[0], builder.op("Sigmoid", inputs[0]), out=output)

The builder (:class:`OnnxBuilder`) writes nodes (``op``), constants (``const``), casts
(``cast``) and reductions (``reduce``, whose form depends on the opset), and knows the
dtype and (symbolic) shape of every traced value (``dtype``, ``shape``). A Python number
given to an op becomes an initializer of the op's output dtype; an array keeps its dtype.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ._optional import require
from .grad_mode import enable_grad
from .serialization import atomic_write
from .tensor import Tensor, as_float_array

__all__ = ["export_onnx", "OnnxBuilder", "ONNX_FORMS", "onnx_form", "DynamicShapeError", "OnnxExportWarning"]

#: The lowest opset exported: before 13, Softmax flattened its input instead of working on one axis.
MIN_OPSET = 13
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


class OnnxExportWarning(UserWarning):
    """The export had to fix the shapes that were asked to be dynamic (the message says why)."""


class DynamicShapeError(NotImplementedError):
    """Raised by an op's ONNX form when it cannot keep a dynamic axis symbolic: the export then
    falls back to the examples' fixed shapes, with an :class:`OnnxExportWarning`."""


def _require_onnx() -> Any:
    require("onnx", "export_onnx", "onnx")
    import onnx
    import onnx.checker
    import onnx.helper
    import onnx.numpy_helper

    return onnx


class Dim(NamedTuple):
    """One dimension of a traced value: its size in the example, and how much it grew when each
    dynamic axis of the inputs grew by one (all zero for a fixed dimension)."""

    size: int
    growth: tuple[int, ...]

    @property
    def static(self) -> bool:
        return not any(self.growth)


# ============================================================== the builder


class OnnxBuilder:
    """Collects the nodes and initializers of the ONNX graph; what an op's ONNX form writes with.

    ``opset`` is the target opset (an int). Values are named by strings; an optional input
    is ``None``. The ``onnx`` module itself is ``builder.onnx`` (for ``onnx.helper`` and
    friends, when an op needs a subgraph or a tensor attribute).
    """

    def __init__(self, onnx: Any, opset: int, symbols: Sequence[tuple[str, int]] = ()) -> None:
        self.onnx = onnx
        self.opset = opset
        #: The dynamic axes' symbols and their sizes in the examples: ``[("batch", 4)]``.
        self.symbols = list(symbols)
        self.nodes: list[Any] = []
        self.graph_inputs: list[Any] = []
        self.graph_outputs: list[Any] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.domains: dict[str, int] = {}
        self.node_origin: list[str] = []  # for each node, the traced op that wrote it
        self.init_origin: dict[str, str] = {}
        self.current = "export"  # the traced op being written
        self._dtypes: dict[str, np.dtype] = {}
        self._dims: dict[str, tuple[Dim, ...]] = {}
        self._names: set[str] = set()
        self._produced: set[str] = set()
        self._consts: dict[Any, tuple[Any, str]] = {}
        #: Integer example inputs (index inputs): id of the array ``f`` received → graph input name.
        self.index_inputs: dict[int, str] = {}
        self._masks: dict[int, str] = {}  # id of a zero-safe where's mask → its name in the graph

    # ------------------------------------------------------------------ names and facts
    def fresh(self, hint: str = "v") -> str:
        """A value name not used yet, built from ``hint``."""
        name, i = hint, 0
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def dtype(self, name: str) -> np.dtype | None:
        """The NumPy dtype of a value (``None`` for an intermediate of unknown type)."""
        return self._dtypes.get(name)

    def shape(self, name: str) -> tuple[int | str | None, ...] | None:
        """The shape of a traced value: an int for a fixed dimension, the symbol's name
        (``"batch"``) for a dimension equal to a dynamic axis, ``None`` for one that depends
        on it otherwise (``8 * batch`` after a flatten). ``None`` for an unknown value."""
        dims = self._dims.get(name)
        if dims is None:
            return None
        return tuple(self._dim_text(d) for d in dims)

    def _dim_text(self, d: Dim) -> int | str | None:
        if d.static:
            return d.size
        moved = [k for k, g in enumerate(d.growth) if g]
        if len(moved) == 1 and d.growth[moved[0]] == 1 and d.size == self.symbols[moved[0]][1]:
            return self.symbols[moved[0]][0]
        return None

    def dims(self, name: str) -> tuple[Dim, ...]:
        """The dimensions of a traced value, as :class:`Dim` (size in the example, growth)."""
        dims = self._dims.get(name)
        if dims is None:
            raise KeyError(f"export_onnx: {self.current}: {name!r} is not a traced value; its shape is unknown")
        return dims

    def _declare(self, name: str, dtype: Any, dims: tuple[Dim, ...] | None) -> None:
        self._names.add(name)
        self._dtypes[name] = np.dtype(dtype)
        if dims is not None:
            self._dims[name] = dims

    def onnx_dtype(self, dtype: Any) -> int:
        """ONNX's element type (a ``TensorProto`` enum) for a NumPy dtype."""
        return int(self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))

    # ------------------------------------------------------------------ writing
    def op(
        self, op_type: str, *inputs: str | None, out: str | Sequence[str] | None = None, domain: str = "", **attrs: Any
    ) -> Any:
        """Append the node ``op_type(*inputs)`` with attributes ``attrs``; returns its output's name.

        ``out`` names the output (a fresh name by default); a list of names gives a node
        with several outputs, and the list is returned. ``None`` stands for an omitted
        optional input. ``domain`` is for operators outside the default ONNX domain.
        """
        names = []
        for i, x in enumerate(inputs):
            if x is None:
                names.append("")
            elif isinstance(x, str):
                names.append(x)
            else:
                raise TypeError(
                    f"export_onnx: {self.current}: input {i} of {op_type} is a {type(x).__name__}; inputs are value "
                    "names (strings): make constants with builder.const(value, dtype)"
                )
        while names and names[-1] == "":
            names.pop()
        many = out is not None and not isinstance(out, str)
        if out is None:
            outs = [self.fresh(op_type.lower())]
        else:
            outs = [out] if isinstance(out, str) else list(out)
        for o in outs:
            self._names.add(o)
            self._produced.add(o)
        clean = {k: _attribute(v) for k, v in attrs.items()}
        if domain and domain != "ai.onnx":
            self.domains.setdefault(domain, 1)
        node = self.onnx.helper.make_node(op_type, names, outs, name=outs[0], domain=domain or None, **clean)
        self.nodes.append(node)
        self.node_origin.append(self.current)
        return outs if many else outs[0]

    def const(self, value: Any, dtype: Any = None, name: str | None = None) -> str:
        """An initializer holding ``value`` (a number or an array, as ``dtype`` when given);
        returns its name. The same constant given twice is stored once."""
        arr = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"export_onnx: {self.current}: constants must be numeric, got dtype {arr.dtype}")
        if isinstance(value, np.ndarray) and arr.size > 16:
            key: Any = (id(value), arr.dtype.str)  # large arrays by identity (parameters, buffers)
        else:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
        return self._initializer(key, value, arr, name)

    def _initializer(self, key: Any, value: Any, arr: np.ndarray, name: str | None) -> str:
        hit = self._consts.get(key)
        if hit is not None:
            return hit[1]
        out = self.fresh(name or "const")
        self._consts[key] = (value, out)  # value kept alive: its id stays unique
        self.initializers[out] = arr
        self.init_origin[out] = self.current
        self._declare(out, arr.dtype, tuple(Dim(n, ()) for n in arr.shape))
        return out

    def cast(self, name: str, dtype: Any, out: str | None = None) -> str:
        """``name`` as ``dtype``: the value itself when it already is, a converted copy of a
        constant, else a ``Cast`` node."""
        dtype = np.dtype(dtype)
        if out is None:
            known = self._dtypes.get(name)
            if known is not None and known == dtype:  # (np.dtype("float64") == None is True)
                return name
            if name in self.initializers:
                return self.const(self.initializers[name].astype(dtype), name=name)
        return self.op("Cast", name, out=out, to=self.onnx_dtype(dtype))

    def reduce(
        self, op_type: str, x: str, axes: Iterable[int] | None = None, keepdims: bool = False, out: str | None = None
    ) -> str:
        """``ReduceSum``, ``ReduceMean``, ``ReduceMax``, ... over ``axes`` (all axes when ``None``),
        written for the opset: axes are an input from opset 13 for ``ReduceSum`` and from 18
        for the others, an attribute before."""
        attrs: dict[str, Any] = {"keepdims": int(bool(keepdims))}
        if axes is None:
            return self.op(op_type, x, out=out, **attrs)
        axes = [int(a) for a in axes]
        if not axes:
            raise ValueError(f"export_onnx: {self.current}: {op_type} over no axes is the identity; write Identity")
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.const(np.array(axes, dtype=np.int64), name="axes"), out=out, **attrs)
        return self.op(op_type, x, out=out, axes=axes, **attrs)


def _attribute(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, tuple):
        return [_attribute(a) for a in v]
    return v


# ============================================================== the table of ONNX forms

Emitter = Callable[[OnnxBuilder, Any, list[str], str], None]

#: Op name → the function that writes its ONNX form (see the module docstring).
ONNX_FORMS: dict[str, Emitter] = {}


def onnx_form(*names: str) -> Callable[[Emitter], Emitter]:
    """Register the decorated function as the ONNX form of the ops called ``names``."""

    def register(emit: Emitter) -> Emitter:
        for n in names:
            ONNX_FORMS[n] = emit
        return emit

    return register


def _same_dtype(op_type: str) -> Emitter:
    """An elementwise op: inputs cast to the output's dtype (NumPy's promotion), one node."""

    def emit(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
        dt = b.dtype(out)
        b.op(op_type, *(b.cast(x, dt) for x in xs), out=out)

    return emit


for _name, _op_type in {
    "add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "maximum": "Max", "minimum": "Min",
    "neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sin": "Sin", "cos": "Cos", "tanh": "Tanh",
    "sigmoid": "Sigmoid", "relu": "Relu", "abs": "Abs", "matmul": "MatMul", "clone": "Identity",
}.items():  # fmt: skip
    ONNX_FORMS[_name] = _same_dtype(_op_type)


@onnx_form("square")
def _square(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    x = b.cast(xs[0], b.dtype(out))
    b.op("Mul", x, x, out=out)


@onnx_form("power")
def _power(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    base = b.cast(xs[0], dt)
    exponent = fn.inputs[1]
    if fn.parents[1] is None and type(exponent) in (int, float) and exponent == 2:
        b.op("Mul", base, base, out=out)  # NumPy squares for x ** 2; so do we
    else:
        b.op("Pow", base, b.cast(xs[1], dt), out=out)


@onnx_form("log1p")
def _log1p(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    # ONNX has no Log1p: log(1 + x) loses the digits of x below the dtype's epsilon (absolute error ≤ ε)
    dt = b.dtype(out)
    b.op("Log", b.op("Add", b.cast(xs[0], dt), b.const(1, dt, name="one")), out=out)


@onnx_form("expm1")
def _expm1(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)  # ONNX has no Expm1: exp(x) - 1, absolute error ≤ ε as for log1p
    b.op("Sub", b.op("Exp", b.cast(xs[0], dt)), b.const(1, dt, name="one"), out=out)


@onnx_form("leaky_relu")
def _leaky_relu(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    x = b.cast(xs[0], dt)
    if float(np.float32(fn.slope)) == fn.slope or dt != np.float64:
        b.op("LeakyRelu", x, out=out, alpha=float(fn.slope))
    else:  # LeakyRelu's alpha is a float32 attribute: in float64 a slope such as 0.01 would be rounded
        zero = b.const(0, dt, name="zero")
        b.op("Where", b.op("Greater", x, zero), x, b.op("Mul", x, b.const(fn.slope, dt, name="slope")), out=out)


@onnx_form("cast")
def _cast(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    b.cast(xs[0], b.dtype(out), out=out)


@onnx_form("where")
def _where(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    cond = b._masks.get(id(fn.cond))
    if cond is None and getattr(fn, "zero_safe", False) and fn.parents[1] is not None:
        # std's and norm's where(s == 0, 1, s) (see zero_safe): the mask s == 0 is computed in the
        # graph, so the model is right for inputs with zeros elsewhere (or none)
        cond = b.op("Equal", xs[1], b.const(0, b.dtype(xs[1]), name="zero"))
        b._masks[id(fn.cond)] = cond  # the where(s == 0, 0, f(...)) that follows has the same mask
    if cond is None:
        cond = b.const(fn.cond, bool, name="cond")
    b.op("Where", cond, b.cast(xs[0], dt), b.cast(xs[1], dt), out=out)


@onnx_form("clip")
def _clip(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    x, low, high = (b.cast(v, dt) for v in xs)
    if all(len(b.dims(v)) == 0 for v in xs[1:]):
        b.op("Clip", x, low, high, out=out)  # scalar bounds (an absent one is ±inf)
    else:  # bounds that broadcast, which Clip's scalar bounds cannot: NumPy's minimum(maximum(x, low), high)
        b.op("Min", b.op("Max", x, low), high, out=out)


# ---------------------------------------------------------------- reductions and normalisations


def _axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes))


def _reduction(op_type: str) -> Emitter:
    def emit(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
        ndim = len(b.dims(xs[0]))
        axes = _axes(fn.axis, ndim) if ndim else ()
        if axes == () or (axes is None and ndim == 0):
            b.op("Identity", xs[0], out=out)  # nothing to reduce
            return
        b.reduce(op_type, xs[0], axes, keepdims=fn.keepdims, out=out)

    return emit


for _name, _op_type in {
    "sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin", "logsumexp": "ReduceLogSumExp",
}.items():  # fmt: skip
    ONNX_FORMS[_name] = _reduction(_op_type)


@onnx_form("var")
def _var(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    # as ours: shift by each slice's first element (a constant slice gives exactly 0), centre, Σc² / (n - ddof)
    dt = b.dtype(out)
    x, dims = b.cast(xs[0], dt), b.dims(xs[0])
    axes = _axes(fn.axis, len(dims)) if dims else ()
    axes = list(range(len(dims)) if axes is None else axes)
    if axes:
        ones = b.const(np.ones(len(axes), dtype=np.int64), name="ends")
        at = b.const(np.array(axes, dtype=np.int64), name="axes")
        first = b.op("Slice", x, b.const(np.zeros(len(axes), dtype=np.int64), name="starts"), ones, at)
        c = b.op("Sub", x, first)
        c = b.op("Sub", c, b.reduce("ReduceMean", c, axes, keepdims=True))
        squares = b.reduce("ReduceSum", b.op("Mul", c, c), axes, keepdims=fn.keepdims)
    else:  # over no axes: every element is its own slice
        c = b.op("Sub", x, x)
        squares = b.op("Mul", c, c)
    fixed = int(np.prod([dims[a].size for a in axes if dims[a].static]))
    moving = [a for a in axes if not dims[a].static]
    if not moving:
        b.op("Div", squares, b.const(max(fixed - fn.ddof, 0), dt, name="count"), out=out)
        return
    # the count follows the batch: n from the input's run-time shape, then max(n - ddof, 0) as NumPy
    sizes = b.op("Gather", b.op("Shape", x), b.const(np.array(moving, dtype=np.int64), name="axes"))
    n = b.cast(b.reduce("ReduceProd", sizes, None, keepdims=False), dt)
    if fixed != 1:
        n = b.op("Mul", n, b.const(fixed, dt, name="count"))
    if fn.ddof:
        n = b.op("Relu", b.op("Sub", n, b.const(fn.ddof, dt, name="ddof")))
    b.op("Div", squares, n, out=out)


@onnx_form("softmax", "logsoftmax")
def _softmax(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    b.op("Softmax" if fn.name == "softmax" else "LogSoftmax", xs[0], out=out, axis=int(fn.axis))


# ---------------------------------------------------------------- movement


@onnx_form("reshape")
def _reshape(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    src, dst = b.dims(xs[0]), b.dims(out)
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
    shapes = f"from {b.shape(xs[0])} to {b.shape(out)}"
    if free > 1:
        raise DynamicShapeError(f"reshape {shapes} spreads the dynamic axes over several dimensions")
    attrs = {}
    if any(dim.static and dim.size == 0 for dim in dst):  # an empty dimension: 0 must mean 0, not "copy"
        if copied or free:
            raise DynamicShapeError(f"reshape {shapes} makes an empty array")
        if b.opset < 14:
            raise NotImplementedError(f"export_onnx: reshape {shapes} to an empty array needs opset 14 or later")
        attrs["allowzero"] = 1
    b.op("Reshape", xs[0], b.const(np.array(target, dtype=np.int64), name="shape"), out=out, **attrs)


@onnx_form("broadcastto")
def _broadcast_to(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    src, dst = b.dims(xs[0]), b.dims(out)
    lead = len(dst) - len(src)
    target = []
    for d, dim in enumerate(dst):
        if dim.static:
            target.append(dim.size)
        elif d >= lead and src[d - lead] == dim:
            target.append(1)  # Expand keeps the input's (symbolic) dimension
        else:
            raise DynamicShapeError(
                f"broadcast_to from {b.shape(xs[0])} to {b.shape(out)}: the target shape follows the batch but "
                "the input does not, so it was taken from another tensor's shape (let broadcasting do it: b + 0 * x)"
            )
    b.op("Expand", xs[0], b.const(np.array(target, dtype=np.int64), name="shape"), out=out)


@onnx_form("transpose")
def _transpose(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    ndim = len(b.dims(xs[0]))
    perm = list(range(ndim))[::-1] if fn.axes is None else [int(a) % ndim for a in fn.axes]
    b.op("Transpose", xs[0], out=out, perm=perm)


@onnx_form("concatenate")
def _concatenate(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    b.op("Concat", *(b.cast(x, dt) for x in xs), out=out, axis=int(fn.axis))


@onnx_form("stack")
def _stack(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    axis = b.const(np.array([fn.axis], dtype=np.int64), name="axes")
    b.op("Concat", *(b.op("Unsqueeze", b.cast(x, dt), axis) for x in xs), out=out, axis=int(fn.axis))


@onnx_form("getitem")
def _getitem(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    ndim = len(b.dims(xs[0]))
    parts: list[Any] = []
    for p in fn.index if isinstance(fn.index, tuple) else (fn.index,):
        if isinstance(p, list):
            p = np.asarray(p)
        if isinstance(p, (bool, np.bool_)) or (isinstance(p, np.ndarray) and p.dtype == bool):
            raise NotImplementedError(
                "export_onnx: getitem with a boolean mask has no ONNX form: the number of elements it selects "
                "depends on the data. Use ag.where(mask, x, 0) to keep the shape, or index with integers "
                "(np.flatnonzero(mask)) when the selection is fixed"
            )
        if isinstance(p, np.ndarray) and p.ndim == 0 and id(p) not in b.index_inputs:
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
    if cut:
        rows = [_slice_bounds(s) for _, s in cut]
        ints = [b.const(np.array(col, dtype=np.int64), name=n) for col, n in zip(zip(*rows), ("starts", "ends"))]
        axes = b.const(np.array([a for a, _ in cut], dtype=np.int64), name="axes")
        step = b.const(np.array([r[2] for r in rows], dtype=np.int64), name="steps")
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
            given = b.index_inputs.get(id(p))  # an index input of the graph, or a constant
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
        rank = len(b.dims(out))
        perm = list(range(at, at + k)) + [i for i in range(rank) if not at <= i < at + k]
        steps.append(("Transpose", [], {"perm": perm}))
    if not steps:
        b.op("Identity", xs[0], out=out)
        return
    x = xs[0]
    for i, (op_type, extra, attrs) in enumerate(steps):
        x = b.op(op_type, x, *extra, out=out if i == len(steps) - 1 else None, **attrs)


def _is_int(p: Any) -> bool:
    return isinstance(p, (int, np.integer)) and not isinstance(p, bool)


def _slice_bounds(s: slice) -> tuple[int, int, int]:
    """ONNX Slice's (start, end, step) for a Python slice, valid for any length of the axis."""
    step = 1 if s.step is None else int(s.step)
    if step > 0:
        return (0 if s.start is None else int(s.start)), (_INT64_MAX if s.stop is None else int(s.stop)), step
    # backwards: ONNX clamps start to [0, n-1] and end to [-1, n-1]; INT64_MIN ends before element 0
    return (_INT64_MAX if s.start is None else int(s.start)), (_INT64_MIN if s.stop is None else int(s.stop)), step


# ---------------------------------------------------------------- images (batch, channels, height, width)
# onnxruntime's CPU provider has no double Conv or AveragePool: in float64 they are written as what they
# compute, from the kh·kw shifted views of the padded image (a matrix product, a sum); MaxPool has both.


def _window_attrs(win: Any) -> dict[str, list[int]]:
    return {"kernel_shape": [win.kh, win.kw], "strides": [win.sh, win.sw], "pads": [win.ph, win.pw, win.ph, win.pw]}


def _shifted_views(b: OnnxBuilder, x: str, win: Any) -> list[str]:
    """The image ``x`` zero-padded, seen from each window offset ``(i, j)`` (in the order ``i·kw + j``):
    ``xp[:, :, i::sh, j::sw]`` cut to the output's ``Ho × Wo``, for an image of any size."""
    if win.ph or win.pw:
        x = b.op("Pad", x, b.const(np.array([0, 0, win.ph, win.pw] * 2, dtype=np.int64), name="pads"))
    axes = b.const(np.array([2, 3], dtype=np.int64), name="axes")
    steps = b.const(np.array([win.sh, win.sw], dtype=np.int64), name="steps")
    views = []
    for i in range(win.kh):
        for j in range(win.kw):
            # offset i's last window starts kh - 1 - i rows before the end: stop there
            ends = [-(win.kh - 1 - i) or _INT64_MAX, -(win.kw - 1 - j) or _INT64_MAX]
            starts = b.const(np.array([i, j], dtype=np.int64), name="starts")
            views.append(b.op("Slice", x, starts, b.const(np.array(ends, dtype=np.int64), name="ends"), axes, steps))
    return views


@onnx_form("conv2d")
def _conv2d(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt, win = b.dtype(out), fn.win
    x, w, *bias = (b.cast(v, dt) for v in xs)
    if dt != np.float64:
        b.op("Conv", x, w, *bias, out=out, **_window_attrs(win))
        return
    # im2col: the views side by side, (N, kh·kw·C, Ho, Wo), times W as a (kh·kw·C, O) matrix
    o, c = (d.size for d in b.dims(xs[1])[:2])
    cols = b.op("Transpose", b.op("Concat", *_shifted_views(b, x, win), axis=1), perm=[0, 2, 3, 1])
    shape = b.const(np.array([win.kh * win.kw * c, o], dtype=np.int64), name="shape")
    y = b.op("MatMul", cols, b.op("Reshape", b.op("Transpose", w, perm=[2, 3, 1, 0]), shape))  # (N, Ho, Wo, O)
    if bias:
        y = b.op("Add", y, bias[0])
    b.op("Transpose", y, out=out, perm=[0, 3, 1, 2])


@onnx_form("max_pool2d")
def _max_pool2d(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    # MaxPool leaves the padding out of every window, as our -inf padding does (no window is all padding)
    b.op("MaxPool", b.cast(xs[0], b.dtype(out)), out=out, **_window_attrs(fn.win))


@onnx_form("avg_pool2d")
def _avg_pool2d(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt, win = b.dtype(out), fn.win
    if isinstance(fn.weights, (list, tuple)) or fn.weights != 1.0 / (win.kh * win.kw):
        raise NotImplementedError(f"export_onnx: {b.current}: a window sum with weights other than 1/(kh·kw)")
    x = b.cast(xs[0], dt)
    if dt != np.float64:  # the padding counts as zeros: every window is divided by kh·kw
        b.op("AveragePool", x, out=out, count_include_pad=1, **_window_attrs(win))
        return
    b.op("Mul", b.op("Sum", *_shifted_views(b, x, win)), b.const(fn.weights, dt, name="weight"), out=out)


# ---------------------------------------------------------------- layers and losses


@onnx_form("dense")
def _dense(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    b.op("Gemm", *(b.cast(x, dt) for x in xs), out=out)


@onnx_form("batch_norm_eval")
def _batch_norm_eval(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    x, gamma, beta, mean, var = (b.cast(v, dt) for v in xs)
    ndim = len(b.dims(xs[0]))
    if ndim < 2 or tuple(fn.axes) != (0, *range(2, ndim)):  # the features are not on ONNX's channel axis, 1
        if fn.kept is not None:
            raise NotImplementedError(
                f"export_onnx: {b.current}: batch norm over axes {tuple(fn.axes)} of a {ndim}-D input has no ONNX "
                "form: BatchNormalization keeps axis 1 (the channels); move the features there (transpose)"
            )
        # statistics that broadcast as they are (over the leading axes): our maths, elementwise
        scale = b.op("Div", gamma, b.op("Sqrt", b.op("Add", var, b.const(fn.eps, dt, name="eps"))))
        shift = b.op("Sub", beta, b.op("Mul", mean, scale))
        b.op("Add", b.op("Mul", x, scale), shift, out=out)
        return
    # BatchNormalization's epsilon is a float32 attribute; in float64 the rest of ε goes into the variance
    eps32 = float(np.float32(fn.eps))
    if dt == np.float64 and eps32 != fn.eps:
        rest = fn.eps - eps32
        if var in b.initializers:
            var = b.const(b.initializers[var] + rest, dt, name=f"{var}{rest:+.2g}")  # e.g. "1.running_var+2.5e-13"
        else:
            var = b.op("Add", var, b.const(rest, dt, name="eps"))
    b.op("BatchNormalization", x, gamma, beta, mean, var, out=out, epsilon=eps32)


@onnx_form("batch_norm")
def _batch_norm(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    # training mode: normalised with the batch's own statistics, which BatchNormalization cannot do in inference
    dt = b.dtype(out)
    x, gamma, beta = (b.cast(v, dt) for v in xs)
    axes = list(fn.axes)
    if fn.kept is not None:  # per channel of an image: (C,) → (1, C, 1, 1), keeping the batch axis symbolic
        shape = b.const(np.array([1 if i in fn.axes else -1 for i in range(len(fn.kept))], dtype=np.int64))
        gamma, beta = b.op("Reshape", gamma, shape), b.op("Reshape", beta, shape)
    xc = b.op("Sub", x, b.reduce("ReduceMean", x, axes, keepdims=True))
    var = b.reduce("ReduceMean", b.op("Mul", xc, xc), axes, keepdims=True)
    inv = b.op("Reciprocal", b.op("Sqrt", b.op("Add", var, b.const(fn.eps, dt, name="eps"))))
    b.op("Add", b.op("Mul", b.op("Mul", xc, inv), gamma), beta, out=out)


@onnx_form("softmax_cross_entropy")
def _softmax_cross_entropy(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    z, y = (b.cast(v, dt) for v in xs)
    terms = b.op("Mul", y, b.op("LogSoftmax", z, axis=-1))
    zero = b.const(0, dt, name="zero")
    terms = b.op("Where", b.op("Equal", y, zero), zero, terms)  # a -inf logit with target 0 adds 0, not NaN
    rows = b.reduce("ReduceSum", terms, [1], keepdims=False)
    b.op("Neg", b.reduce("ReduceMean", rows, None, keepdims=False), out=out)


@onnx_form("binary_cross_entropy")
def _binary_cross_entropy(b: OnnxBuilder, fn: Any, xs: list[str], out: str) -> None:
    dt = b.dtype(out)
    z, y = (b.cast(v, dt) for v in xs)
    softplus = b.op("Log", b.op("Add", b.const(1, dt, name="one"), b.op("Exp", b.op("Neg", b.op("Abs", z)))))
    terms = b.op("Add", b.op("Sub", b.op("Relu", z), b.op("Mul", z, y)), softplus)
    b.reduce("ReduceMean", terms, None, keepdims=False, out=out)


# ============================================================== tracing


class _Trace:
    """One run of ``f``: its tracked inputs, its outputs, and the recorded ops in forward order."""

    def __init__(self, f: Callable[..., Any], arrays: list[np.ndarray], where: str) -> None:
        # integer arrays (indices) are given as they are: a Tensor holds floats
        self.inputs = [Tensor(a, requires_grad=True) if a.dtype.kind == "f" else a.copy() for a in arrays]
        with enable_grad():
            result = f(*self.inputs)
        many = isinstance(result, (tuple, list))
        outputs = list(result) if many else [result]
        if not outputs:
            raise ValueError(f"{where}: f returned an empty {type(result).__name__}; return a Tensor or a tuple")
        for i, t in enumerate(outputs):
            if not isinstance(t, Tensor):
                what = f"output {i}" if many else "f"
                raise TypeError(
                    f"{where}: {what} returned a {type(t).__name__}; f must return a Tensor or a tuple of Tensors "
                    "computed from its inputs (do not convert to NumPy inside f)"
                )
        self.outputs = outputs
        self.input_ids = {id(x): j for j, x in enumerate(self.inputs)}
        self.nodes = _forward_order([t._node for t in outputs if t._node is not None])
        self.position = {id(n): i for i, n in enumerate(self.nodes)}

    def role(self, p: Any) -> tuple[Any, ...]:
        """What an input of an op is, comparable between traces."""
        if p is None:
            return ("constant",)
        if isinstance(p, Tensor):
            if p._node is not None:
                return ("node", self.position[id(p._node)])
            j = self.input_ids.get(id(p))
            if j is not None:
                return ("input", j)
            return ("leaf",) if p.requires_grad else ("constant",)  # its value is compared with the graphs
        return ("node", self.position[id(p)])

    def uses_inputs(self) -> bool:
        if any(id(t) in self.input_ids for t in self.outputs):
            return True
        if self.indices_used():
            return True
        return any(isinstance(p, Tensor) and id(p) in self.input_ids for n in self.nodes for p in n.parents)

    def indices_used(self) -> set[int]:
        """The integer inputs (by position) that an op received as they are: as an input, or in
        the index of a ``getitem``. One that was converted first (``idx + 1``, ``int(i)``) is not."""
        ids = {id(x): j for j, x in enumerate(self.inputs) if not isinstance(x, Tensor)}
        used = set()
        for n in self.nodes if ids else ():
            parts = list(n.inputs)
            if n.name == "getitem":
                parts += list(n.index) if isinstance(n.index, tuple) else [n.index]
            used.update(ids[id(p)] for p in parts if id(p) in ids)
        return used


def _forward_order(roots: list[Any]) -> list[Any]:
    """Every op reachable from ``roots``, each after the ops it consumes (iterative post-order)."""
    order: list[Any] = []
    seen: set[int] = set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in reversed(node.parents):
            if p is not None and not isinstance(p, Tensor) and id(p) not in seen:
                stack.append((p, False))
    return order


def _structure_difference(a: _Trace, b: _Trace) -> str | None:
    """How the graph of trace ``b`` differs from trace ``a`` in its ops and their wiring, if it does."""
    if len(a.outputs) != len(b.outputs):
        return f"{len(a.outputs)} outputs, then {len(b.outputs)}"
    if len(a.nodes) != len(b.nodes):
        return f"{len(a.nodes)} ops, then {len(b.nodes)}"
    for i, (n, m) in enumerate(zip(a.nodes, b.nodes)):
        if type(n) is not type(m) or len(n.parents) != len(m.parents):
            return f"op #{i} was {n.name!r}, then {m.name!r}"
        if [a.role(p) for p in n.parents] != [b.role(p) for p in m.parents] or n.out.ndim != m.out.ndim:
            return f"op #{i} ({n.name!r}) has other inputs or another rank"
    if [a.role(t) for t in a.outputs] != [b.role(t) for t in b.outputs]:
        return "the outputs come from other ops"
    return None


class _Fallback(Exception):
    """The dynamic axes cannot be kept, for the reason given."""


def _grow(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` one longer along ``axis`` (its last slice repeated) and rolled by one, so that both the
    shape and the values at every position change."""
    extra = np.take(a, [-1], axis=axis) if a.shape[axis] else np.zeros(a.shape[:axis] + (1,) + a.shape[axis + 1 :])
    return np.roll(np.concatenate([a, extra.astype(a.dtype)], axis=axis), 1, axis=axis)


def _dynamic_graph(
    f: Callable[..., Any], arrays: list[np.ndarray], base: _Trace, symbols: list[Any], write: Any, where: str
) -> OnnxBuilder:
    """The graph with symbolic axes: trace again with each dynamic axis one longer, derive which
    dimensions follow it, and require the ONNX graphs of all traces to be identical."""
    others = []
    for _, axis, members, size in symbols:
        grown = list(arrays)
        for j in members:
            grown[j] = _grow(arrays[j], axis)
        what = f"axis {axis} of the inputs grows from {size} to {size + 1}"
        try:
            trace = _Trace(f, grown, where)
        except Exception as err:
            raise _Fallback(f"f fails when {what} ({type(err).__name__}: {err})") from err
        diff = _structure_difference(base, trace)
        if diff is not None:
            raise _Fallback(f"f records a different graph when {what} ({diff})")
        others.append((trace, what))
    dims = _dims(base, [t for t, _ in others], symbols, arrays)
    try:
        graph = write(base, dims, symbols)
        again = [(write(t, dims, symbols), what) for t, what in others]
    except DynamicShapeError as err:
        raise _Fallback(str(err)) from err
    for other, what in again:
        diff = _graph_difference(graph, other)
        if diff is not None:
            raise _Fallback(f"the ONNX form of {diff} when {what}")
    return graph


def _values_difference(
    f: Callable[..., Any], arrays: list[np.ndarray], base: _Trace, symbols: list[Any], write: Any, where: str
) -> str | None:
    """What changes when the examples are only rolled along the dynamic axes (same shapes, values
    moved): anything that does was computed from the values, and no traced graph is right."""
    rolled = list(arrays)
    for _, axis, members, _ in symbols:
        for j in members:
            rolled[j] = np.roll(rolled[j], 1, axis=axis)
    try:
        trace = _Trace(f, rolled, where)
    except Exception as err:
        return f"f fails on the examples rolled along the batch ({type(err).__name__}: {err})"
    diff = _structure_difference(base, trace)
    if diff is not None:
        return f"f records a different graph for inputs of the same shape ({diff})"
    fixed = _dims(base, [], [], arrays)
    diff = _graph_difference(write(base, fixed, []), write(trace, fixed, []))
    return None if diff is None else f"the ONNX form of {diff} for inputs of the same shape"


# ============================================================== the export


def export_onnx(
    f: Callable[..., Any],
    *example_inputs: Any,
    path: str | os.PathLike[str] | None = None,
    opset: int = 17,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: Iterable[int] = (0,),
) -> Any:
    """Trace ``f`` on the example inputs and convert the recorded graph to an ONNX model.

    ``f`` takes Tensors and returns a Tensor or a tuple of Tensors; an ``nn.Module`` is
    one (it is exported in eval mode: Dropout vanishes, BatchNorm uses its running
    statistics; its modes are restored afterwards, also when the export fails).
    Parameters and other captured arrays become initializers (a module's named after its
    ``state_dict`` keys); the example inputs become the graph inputs ``input_names``
    (``"input"``, or ``"input_0"``, ``"input_1"``, ...) and keep their floating dtype;
    the outputs (``"output"``, ...) keep theirs. An integer example is an index input
    (``int64`` in the graph): ``f`` receives it as a NumPy integer array, since a Tensor
    holds floats, and must index with it as it is (``nn.Embedding``, ``w[index]``)::

        ag.export_onnx(nn.Sequential(nn.Embedding(100, 8), nn.Flatten()), np.zeros((2, 5), np.int64))

    ``dynamic_axes``: the axes of the inputs that may have another size at run time, axis
    0 (``"batch"``) by default; ``()`` fixes every shape. ``f`` is traced once more per
    dynamic axis, to tell which dimensions follow it (see the module docstring). When
    ``f`` only works for the examples' size, the model gets their fixed shapes and an
    :class:`OnnxExportWarning` says why. Values taken out of the graph (``x.data``,
    ``np.asarray(x)``, ``x.item()``) are frozen as constants: a mask or index computed from
    them is a ``ValueError`` when the axes are dynamic (the traces disagree), but cannot
    be seen with ``dynamic_axes=()``.

    ``opset``: the ONNX operator set, 13 or later (17 by default); the model's IR version
    is the lowest that opset needs, so older runtimes load it. With ``path`` the model is
    also written there (atomically). Every model passes ``onnx.checker.check_model`` with
    ``full_check=True`` before it is returned.

    An op with no ONNX form raises ``NotImplementedError`` naming it. A user ``Function``
    supplies its form with a method ``to_onnx(self, builder, inputs, output)`` that
    writes nodes through the :class:`OnnxBuilder` (see the module docstring)::

        def to_onnx(self, builder, inputs, output):
            builder.op("Mul", inputs[0], builder.op("Sigmoid", inputs[0]), out=output)

    Needs the ``onnx`` extra (``pip install "autograd-core[onnx]"``); ``onnxruntime`` runs
    the result.

    >>> model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 3, rng=1))
    >>> proto = ag.export_onnx(model, np.zeros((2, 4), np.float32))
    >>> [n.op_type for n in proto.graph.node]   # float32 in, float64 weights: the input is cast
    ['Cast', 'Gemm', 'Relu', 'Gemm']
    >>> ag.export_onnx(model, np.zeros((2, 4)), path="model.onnx")            # doctest: +SKIP
    """
    where = "export_onnx"
    onnx = _require_onnx()
    if not callable(f):
        raise TypeError(f"{where}: f must be callable (a function or an nn.Module), got {type(f).__name__}")
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"{where}: opset must be an int, got {opset!r}")
    newest = onnx.defs.onnx_opset_version()
    if opset < MIN_OPSET:
        raise ValueError(
            f"{where}: opset {opset} is too old: opsets before {MIN_OPSET} give Softmax and LogSoftmax other "
            f"semantics (they flatten the input); use opset {MIN_OPSET} or later (17 is the default)"
        )
    if opset > newest:
        raise ValueError(f"{where}: opset {opset} is newer than the installed onnx {onnx.__version__} knows ({newest})")
    opset = int(opset)
    if not example_inputs:
        raise ValueError(f"{where}: give at least one example input, e.g. export_onnx(model, x[:2])")
    arrays = [_example(x, f"{where}: example input {j}") for j, x in enumerate(example_inputs)]
    input_names = _names(input_names, len(arrays), "input", where)
    axes = _dynamic_axes(dynamic_axes, where)
    symbols = []  # (name, axis, inputs that have it, its size in the examples)
    for axis in axes:
        members = [j for j, a in enumerate(arrays) if a.ndim > axis]
        sizes = sorted({arrays[j].shape[axis] for j in members})
        if len(sizes) > 1:
            raise ValueError(
                f"{where}: dynamic axis {axis} has sizes {sizes} in the example inputs; a dynamic axis is one "
                "size shared by every input that has it. Give examples that agree, or pass dynamic_axes=() "
                "for fixed shapes"
            )
        if members:
            symbols.append(("batch" if axis == 0 else f"axis{axis}", axis, members, sizes[0]))

    owner = f if _is_module(f) else getattr(f, "__self__", None)
    owner = owner if _is_module(owner) else None
    modes = [(m, m.training) for m in owner.modules()] if owner is not None else []
    try:
        if owner is not None:
            owner.eval()
        base = _Trace(f, arrays, where)
        used = base.indices_used()
        for j, a in enumerate(arrays):
            if a.dtype.kind != "f" and j not in used:
                raise ValueError(
                    f"{where}: example input {j} holds integers, so it is an index input (int64 in the graph, "
                    "for nn.Embedding or w[index]), but f did not index with it as it was given: it computed with "
                    "it or converted it first (i + 1, i.astype(float), int(i), a layer's cast), which a graph "
                    "cannot follow. Index with the array f receives; for float data give a float example "
                    "(x.astype(np.float32))"
                )
        if not base.uses_inputs():
            raise ValueError(
                f"{where}: the outputs of f do not depend on its inputs: was the result computed under "
                "no_grad, or from x.data / x.numpy()? Compute it with tensor ops"
            )
        output_names = _names(output_names, len(base.outputs), "output", where, taken=input_names)
        names = _module_names(owner)

        def write(trace: _Trace, dims: dict[Any, Any], symbols: list[Any]) -> OnnxBuilder:
            return _write(onnx, trace, dims, opset, symbols, input_names, output_names, names)

        graph = None
        if symbols:
            try:
                graph = _dynamic_graph(f, arrays, base, symbols, write, where)
            except _Fallback as why:
                wrong = _values_difference(f, arrays, base, symbols, write, where)
                if wrong is not None:
                    raise ValueError(
                        f"{where}: {wrong}. Something in f depends on the values of its inputs outside the graph "
                        "(Python control flow on them, a mask or index from x.data, a number from x.item()) or "
                        "is random (a Dropout in training mode: call .eval() on the modules f uses); a traced "
                        "graph cannot follow that. Compute it with tensor ops (ag.where, arithmetic)"
                    ) from None
                shapes = ", ".join(str(a.shape) for a in arrays)
                warnings.warn(
                    f"{where}: the inputs' {', '.join(f'axis {a}' for _, a, _, _ in symbols)} cannot stay dynamic: "
                    f"{why}. The model is exported for inputs of exactly the examples' shapes ({shapes}). Compute "
                    "shapes with tensor ops (x.reshape(-1, 12) rather than a size taken from x.shape) to keep "
                    "the batch dynamic, or pass dynamic_axes=() to ask for fixed shapes",
                    OnnxExportWarning,
                    stacklevel=2,
                )
        if graph is None:
            graph = write(base, _dims(base, [], [], arrays), [])
    finally:
        for m, mode in modes:
            m.training = mode

    b = graph
    used = {i for n in b.nodes for i in n.input}
    tensors = [onnx.numpy_helper.from_array(a, n) for n, a in b.initializers.items() if n in used]
    g = onnx.helper.make_graph(b.nodes, "autograd_core", b.graph_inputs, b.graph_outputs, initializer=tensors)
    imports = [onnx.helper.make_opsetid("", opset)] + [onnx.helper.make_opsetid(d, v) for d, v in b.domains.items()]
    from . import __version__

    model = onnx.helper.make_model(g, opset_imports=imports, producer_name="autograd_core")
    model.producer_version = __version__
    model.ir_version = onnx.helper.find_min_ir_version_for(imports, ignore_unknown=True)
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        data = model.SerializeToString()
        atomic_write(path, lambda fh: fh.write(data))
    return model


def _example(x: Any, what: str) -> np.ndarray:
    """An example input as an array: integers as int64 (an index input), anything else as floats."""
    if not isinstance(x, Tensor):
        try:
            a = np.asarray(x)
        except ValueError:
            a = None  # ragged: as_float_array says so
        if a is not None and a.dtype.kind in "iu":
            if a.dtype.kind == "u" and a.size and a.max() > _INT64_MAX:
                raise ValueError(f"{what}: integers above {_INT64_MAX} do not fit the graph's int64 indices")
            return a.astype(np.int64)
    return as_float_array(x, what=what)


def _is_module(obj: Any) -> bool:
    return all(callable(getattr(obj, a, None)) for a in ("modules", "eval", "named_parameters"))


def _module_names(owner: Any) -> dict[int, str]:
    """id of each parameter and buffer array → its ``state_dict`` name."""
    if owner is None:
        return {}
    names = {id(p): n for n, p in owner.named_parameters()}
    names.update({id(p.data): n for n, p in owner.named_parameters()})
    if callable(getattr(owner, "named_buffers", None)):
        names.update({id(a): n for n, a in owner.named_buffers()})
    return names


def _names(given: Sequence[str] | None, n: int, kind: str, where: str, taken: Sequence[str] = ()) -> list[str]:
    if given is None:
        names = [kind] if n == 1 else [f"{kind}_{i}" for i in range(n)]
    else:
        names = [given] if isinstance(given, str) else list(given)
        if len(names) != n or not all(isinstance(s, str) and s for s in names):
            raise ValueError(f"{where}: {kind}_names must be {n} non-empty string(s), one per {kind}; got {given!r}")
    clash = [s for i, s in enumerate(names) if s in names[:i] or s in taken]
    if clash:
        raise ValueError(f"{where}: the name {clash[0]!r} is given twice; input and output names must be unique")
    return names


def _dynamic_axes(dynamic_axes: Iterable[int], where: str) -> list[int]:
    axes = [dynamic_axes] if isinstance(dynamic_axes, (int, np.integer)) else list(dynamic_axes)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 0:
            raise ValueError(f"{where}: dynamic_axes must be axis numbers ≥ 0 such as (0,), got {dynamic_axes!r}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: dynamic_axes lists an axis twice: {dynamic_axes!r}")
    return [int(a) for a in axes]


def _dims(base: _Trace, others: list[_Trace], symbols: list[Any], arrays: list[np.ndarray]) -> dict[Any, Any]:
    """Symbolic dimensions of every traced value: node position or ("input", j) → tuple of Dim."""

    def dims_of(shape: tuple[int, ...], grown: list[tuple[int, ...]]) -> tuple[Dim, ...]:
        return tuple(Dim(n, tuple(g[d] - n for g in grown)) for d, n in enumerate(shape))

    out: dict[Any, Any] = {}
    for i, node in enumerate(base.nodes):
        out[i] = dims_of(node.out.shape, [t.nodes[i].out.shape for t in others])
    for j, a in enumerate(arrays):
        grow = [[1 if (j in members and d == axis) else 0 for _, axis, members, _ in symbols] for d in range(a.ndim)]
        out[("input", j)] = tuple(Dim(n, tuple(grow[d])) for d, n in enumerate(a.shape))
    return out


def _emitter(fn: Any, where: str) -> Emitter:
    own = getattr(type(fn), "to_onnx", None)
    if own is not None:
        return lambda b, fn, xs, out: own(fn, b, xs, out)
    home = type(fn).__module__.split(".")[0]
    # The table is for the library's own ops: a user op that happens to share a name has no claim to it.
    form = ONNX_FORMS.get(fn.name) if home in ("autograd_core", "nn", "optim") else None
    if form is None:
        raise NotImplementedError(
            f"{where}: the op {fn.name!r} ({type(fn).__qualname__}) has no ONNX form. "
            + (
                "Give it a method to_onnx(self, builder, inputs, output) that writes its ONNX nodes "
                "(see help(autograd_core.export))"
                if home not in ("autograd_core", "nn", "optim")
                else "It cannot be exported (yet)"
            )
        )
    return form


def _write(
    onnx: Any,
    trace: _Trace,
    dims: dict[Any, Any],
    opset: int,
    symbols: list[Any],
    input_names: list[str],
    output_names: list[str],
    names: dict[int, str],
) -> OnnxBuilder:
    """Write the ONNX nodes and initializers of one trace."""
    where = "export_onnx"
    b = OnnxBuilder(onnx, opset, [(s, size) for s, _, _, size in symbols])
    for name in (*input_names, *output_names):
        b._names.add(name)
    value_info = onnx.helper.make_tensor_value_info
    for j, (x, name) in enumerate(zip(trace.inputs, input_names)):
        if not isinstance(x, Tensor):
            b.index_inputs[id(x)] = name
        b._declare(name, x.dtype, dims[("input", j)])
        b.graph_inputs.append(value_info(name, b.onnx_dtype(x.dtype), list(b.shape(name) or ())))

    def leaf(t: Tensor) -> str:
        j = trace.input_ids.get(id(t))
        if j is not None:
            return input_names[j]
        hint = names.get(id(t)) or names.get(id(t.data)) or t.name or "param"
        return b._initializer(("leaf", id(t.data)), t.data, t.data, hint)  # each parameter its own initializer

    claimed: dict[int, str] = {}
    for t, name in zip(trace.outputs, output_names):
        if t._node is not None and id(t._node) not in claimed:
            claimed[id(t._node)] = name
    result: dict[int, str] = {}
    for i, node in enumerate(trace.nodes):
        b.current = f"{node.name} (op #{i})"
        xs = []
        dt = node.out.dtype
        for k, (p, raw) in enumerate(zip(node.parents, node.inputs)):
            if p is None:
                value = raw
                if type(raw) in (int, float, bool) and dt.kind == "f":
                    value = np.asarray(raw, dtype=dt)  # a Python number takes the op's dtype, as in NumPy
                named = node.named_inputs.get(k)
                if id(raw) in b.index_inputs:  # an integer input, given to the op as it is
                    xs.append(b.index_inputs[id(raw)])
                elif id(raw) in names:  # a module's buffer (running statistics): its own initializer, by name
                    xs.append(b._initializer(("leaf", id(raw)), raw, raw, names[id(raw)]))
                else:
                    xs.append(b.const(value, name=named.name if named is not None else "const"))
            elif isinstance(p, Tensor):
                xs.append(leaf(p))
            else:
                xs.append(result[id(p)])
        out = claimed.get(id(node)) or b.fresh(node.name)
        b._declare(out, dt, dims[i])
        _emitter(node, where)(b, node, xs, out)
        if out not in b._produced:
            raise RuntimeError(f"{where}: the ONNX form of {b.current} did not write its result to {out!r}")
        result[id(node)] = out

    b.current = "outputs"
    for t, name in zip(trace.outputs, output_names):
        if t._node is not None:
            src, shape = result[id(t._node)], dims[trace.position[id(t._node)]]
        elif id(t) in trace.input_ids:
            src, shape = leaf(t), dims[("input", trace.input_ids[id(t)])]
        else:
            src, shape = leaf(t), tuple(Dim(n, ()) for n in t.shape)
        if src != name:
            b.op("Identity", src, out=name)
        b._declare(name, t.dtype, shape)
        b.graph_outputs.append(value_info(name, b.onnx_dtype(t.dtype), list(b.shape(name) or ())))
    return b


def _graph_difference(a: OnnxBuilder, b: OnnxBuilder) -> str | None:
    """The first difference between two ONNX graphs, as "<op> changes (<what>)", or None."""
    for k, (n, m) in enumerate(zip(a.nodes, b.nodes)):
        if n != m:
            return f"{a.node_origin[k]} changes (node {n.op_type} {list(n.output)} became {m.op_type})"
    if len(a.nodes) != len(b.nodes):
        return f"the graph changes ({len(a.nodes)} ONNX nodes, then {len(b.nodes)})"
    for name, arr in a.initializers.items():
        other = b.initializers.get(name)
        if other is None or other.shape != arr.shape or other.dtype != arr.dtype:
            return f"{a.init_origin[name]} changes (its constant {name!r} of shape {arr.shape} changes shape)"
        if not np.array_equal(arr, other, equal_nan=arr.dtype.kind == "f"):
            return f"{a.init_origin[name]} changes (its constant {name!r} changes value)"
    if len(a.initializers) != len(b.initializers):
        return "the graph changes (other constants)"
    return None
