"""The builder an op's ONNX form writes with: value names, their dtypes and shapes, nodes,
constants, casts and opset-dependent reductions.

An op's form (``Function.to_onnx(self, builder, inputs, output)``, or ``onnx_op``) receives
the names of its input values and the name its result must be written to; it adds nodes
with :meth:`OnnxBuilder.op` and constants with :meth:`OnnxBuilder.const`, and asks for
facts about values (``dtype``, ``shape``, ``dims``, ``constant``, ``traced``). The builder
never imports ``onnx`` itself: the export hands it the module (``builder.onnx``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = ["OnnxBuilder", "Dim", "DynamicShapeError", "INT64_MAX", "INT64_MIN", "read_names"]

INT64_MAX = int(np.iinfo(np.int64).max)
INT64_MIN = int(np.iinfo(np.int64).min)


class DynamicShapeError(NotImplementedError):
    """Raised by an op's ONNX form when it cannot keep a dynamic axis symbolic: the export then
    falls back to the examples' fixed shapes, with an ``OnnxExportWarning``."""


class Dim(NamedTuple):
    """One dimension of a traced value: its size in the example, and how much it grew when each
    dynamic axis of the inputs grew by one (all zero for a fixed dimension)."""

    size: int
    growth: tuple[int, ...]

    @property
    def static(self) -> bool:
        """True when the dimension does not follow any dynamic axis."""
        return not any(self.growth)


class OnnxBuilder:
    """Collects the nodes and initializers of the ONNX graph; what an op's ONNX form writes with.

    >>> def to_onnx(self, builder, inputs, output):      # x·σ(x), in the output's dtype
    ...     x = builder.cast(inputs[0], builder.dtype(output))
    ...     builder.op("Mul", x, builder.op("Sigmoid", x), out=output)

    ``opset`` is the target opset (an int). Values are named by strings; an optional input
    is ``None``. The ``onnx`` module itself is ``builder.onnx`` (for ``onnx.helper`` and
    friends, when an op needs a tensor attribute); the nodes of a subgraph (the body of a
    ``Scan`` or a ``Loop``) are written inside ``with builder.subgraph() as nodes:``.
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
        self._traced: dict[int, str] = {}  # id of a traced value's object (a mask, an index input) → its name

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

    def traced(self, obj: Any) -> str | None:
        """The name of the traced value ``obj`` is, for an array an op keeps as a parameter (a
        mask computed from the inputs, an integer input used as an index); None for a constant."""
        return self._traced.get(id(obj))

    def constant(self, name: str) -> np.ndarray | None:
        """The value of ``name`` when it is a constant (an initializer), else None."""
        return self.initializers.get(name)

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

    @contextlib.contextmanager
    def subgraph(self) -> Iterator[list[Any]]:
        """Nodes written inside the ``with`` go to the list it gives instead of the graph: the
        body of a ``Scan``, a ``Loop`` or an ``If``, made into a graph with
        ``builder.onnx.helper.make_graph(nodes, ...)``. The body may read the graph's values
        (parameters, constants, the results of earlier nodes) by name; its own values take
        fresh names as everywhere else:

        .. code-block:: python

            with builder.subgraph() as nodes:
                h2 = builder.op("Tanh", builder.op("Add", a, builder.op("MatMul", h, w_t)))
        """
        outer, origin = self.nodes, self.node_origin
        self.nodes, self.node_origin = [], []
        try:
            yield self.nodes
        finally:
            self.nodes, self.node_origin = outer, origin

    def value_info(self, name: str, dtype: Any) -> Any:
        """A graph input or output of a subgraph: ``name``, of ``dtype`` (its shape left unsaid)."""
        return self.onnx.helper.make_tensor_value_info(name, self.onnx_dtype(dtype), None)

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


def read_names(nodes: Iterable[Any]) -> set[str]:
    """The names of the values ``nodes`` read, those their subgraphs read included (a body may
    read the outer graph's values by name)."""
    names: set[str] = set()
    for node in nodes:
        names.update(node.input)
        for a in node.attribute:
            for g in [a.g, *a.graphs] if a.HasField("g") else a.graphs:
                names |= read_names(g.node)
    return names


def _attribute(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, tuple):
        return [_attribute(a) for a in v]
    return v
