"""The ONNX back-end: a trace's ops, in order, each written by its own form (``Function.to_onnx``
or ``onnx_op``) into an :class:`OnnxBuilder`; and the comparison of two written graphs."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .. import _callers
from ..function import Function
from ..tensor import Tensor
from ..tracing import CapturedArray, CapturedTensor, Constant, Traced, Value
from .builder import Dim, OnnxBuilder, read_names
from .trace import ExportTrace


def has_form(cls: type) -> bool:
    """Whether ops of class ``cls`` have an ONNX form (``onnx_op``, or their own ``to_onnx``)."""
    return getattr(cls, "onnx_op", None) is not None or getattr(cls, "to_onnx", None) is not Function.to_onnx


def in_library(cls: type) -> bool:
    """Whether ``cls`` is one of the library's classes (``_callers.py``), not the user's."""
    module = sys.modules.get(cls.__module__)
    return _callers.in_library(getattr(module, "__file__", None) or "")


def forms() -> dict[str, type]:
    """Name → class of every op of the library (those imported so far) that has an ONNX form.
    A base class of ops (whose ``name`` is empty) is no op. (Export never looks ops up by name:
    each writes its own form; this index is for tests and documentation.)"""
    found: dict[str, type] = {}
    stack = list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.name and in_library(cls) and has_form(cls):
            found[cls.name] = cls
    return dict(sorted(found.items()))


def _emit(b: OnnxBuilder, fn: Any, inputs: list[str], output: str, where: str) -> None:
    cls = type(fn)
    if not has_form(cls):
        hint = (
            "It cannot be exported (yet)"
            if in_library(cls)
            else "Give it a method to_onnx(self, builder, inputs, output) that writes its ONNX nodes, or the "
            "class attribute onnx_op = '<ONNX operator>' when it is one node (see help(autograd_core.onnx))"
        )
        raise NotImplementedError(f"{where}: the op {fn.name!r} ({cls.__qualname__}) has no ONNX form. {hint}")
    fn.to_onnx(b, inputs, output)


def write(
    onnx: Any,
    trace: ExportTrace,
    dims: dict[tuple[Any, ...], tuple[Dim, ...]],
    opset: int,
    symbols: list[Any],
    input_names: list[str],
    output_names: list[str],
    names: dict[int, str],
) -> OnnxBuilder:
    """Write the ONNX nodes and initializers of one trace, its values' dimensions given by role
    (``trace.dims``). ``names``: id of a captured Tensor or array → its name (``state_dict`` keys)."""
    where = "export_onnx"
    b = OnnxBuilder(onnx, opset, [(s, size) for s, _, _, size in symbols])
    for name in (*input_names, *output_names):
        b._names.add(name)
    value_info = onnx.helper.make_tensor_value_info
    result: dict[Value, str] = {}
    for v, name in zip(trace.inputs, input_names):
        result[v] = b._traced[id(v.obj)] = name
        b._declare(name, v.dtype, dims[trace.value_role(v)])
        b.graph_inputs.append(value_info(name, b.onnx_dtype(v.dtype), list(b.shape(name) or ())))

    def captured(t: Tensor) -> str:
        hint = names.get(id(t)) or names.get(id(t.data))
        if t.requires_grad or hint:  # a parameter: its own initializer, by name
            return b._initializer(("leaf", id(t.data)), t.data, t.data, hint or t.name or "param")
        return b.const(t.data, name=t.name or "const")

    claimed: dict[Value, str] = {}
    for value, name in zip(trace.output_values, output_names):
        if value is not None and value.producer is not None and value not in claimed:
            claimed[value] = name
    for i, op in enumerate(trace.ops):
        fn = op.fn
        b.current = f"{fn.name} (op #{i})"
        dt = op.out.dtype
        xs = []
        for a in op.args:
            if type(a) is Traced:
                xs.append(result[a.value])
            elif type(a) is CapturedTensor:
                xs.append(captured(a.tensor))
            elif type(a) is CapturedArray:
                arr = a.array
                if id(arr) in names:  # a module's buffer (running statistics): its own initializer, by name
                    xs.append(b._initializer(("leaf", id(arr)), arr, arr, names[id(arr)]))
                else:
                    xs.append(b.const(arr, name="const"))
            else:
                assert type(a) is Constant
                number = a.value
                if type(number) in (int, float, bool) and dt.kind == "f":
                    number = np.asarray(number, dtype=dt)  # a Python number takes the op's dtype, as in NumPy
                xs.append(b.const(number, name="const"))
        out = claimed.get(op.out) or b.fresh(fn.name)
        b._declare(out, dt, dims[("op", i)])
        _emit(b, fn, xs, out, where)
        if out not in b._produced:
            raise RuntimeError(f"{where}: the ONNX form of {b.current} did not write its result to {out!r}")
        result[op.out] = b._traced[id(op.out.obj)] = out

    b.current = "outputs"
    for t, value, name in zip(trace.outputs, trace.output_values, output_names):
        if value is not None:
            src, shape = result[value], dims[trace.value_role(value)]
        else:
            src, shape = captured(t), tuple(Dim(n, ()) for n in t.shape)
        if src != name:
            b.op("Identity", src, out=name)
        b._declare(name, t.dtype, shape)
        b.graph_outputs.append(value_info(name, b.onnx_dtype(t.dtype), list(b.shape(name) or ())))
    return b


def graph_difference(a: OnnxBuilder, b: OnnxBuilder) -> str | None:
    """The first difference between two ONNX graphs, as "<op> changes (<what>)", or None."""
    for k, (n, m) in enumerate(zip(a.nodes, b.nodes)):
        if n != m:
            return f"{a.node_origin[k]} changes (node {n.op_type} {list(n.output)} became {m.op_type})"
    if len(a.nodes) != len(b.nodes):
        return f"the graph changes ({len(a.nodes)} ONNX nodes, then {len(b.nodes)})"
    used = read_names(a.nodes)  # (the same nodes read the same names) a constant no node reads is not in the model
    for name, arr in a.initializers.items():
        if name not in used:
            continue
        other = b.initializers.get(name)
        if other is None or other.shape != arr.shape or other.dtype != arr.dtype:
            return f"{a.init_origin[name]} changes (its constant {name!r} of shape {arr.shape} changes shape)"
        if not np.array_equal(arr, other, equal_nan=arr.dtype.kind == "f"):
            return f"{a.init_origin[name]} changes (its constant {name!r} changes value)"
    return None
