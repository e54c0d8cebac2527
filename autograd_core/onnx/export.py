"""``export_onnx``: trace a function on examples, check the trace can stand for every input,
and write it with the ONNX back-end (see the package docstring)."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .._optional import require
from ..serialization import atomic_write
from ..tensor import Tensor, as_float_array
from ..tracing import ReadEvent, TracingError
from . import backend
from .builder import INT64_MAX, DynamicShapeError, OnnxBuilder, read_names
from .trace import ExportTrace, dims, grow, structure_difference

__all__ = ["export_onnx", "OnnxExportWarning", "MIN_OPSET"]

#: The lowest opset exported: before 13, Softmax flattened its input instead of working on one axis.
MIN_OPSET = 13


class OnnxExportWarning(UserWarning):
    """The export had to fix the shapes that were asked to be dynamic (the message says why)."""


def _require_onnx() -> Any:
    require("onnx", "export_onnx", "onnx")
    import onnx
    import onnx.checker
    import onnx.helper
    import onnx.numpy_helper

    return onnx


class _Fallback(Exception):
    """The dynamic axes cannot be kept, for the reason given."""


Writer = Callable[[ExportTrace, dict[Any, Any], list[Any]], OnnxBuilder]


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

    ``f`` runs once on the examples under the tracer (``autograd_core.tracing``), which
    records every op it runs; the ops its outputs depend on become ONNX nodes, each written
    by the op's own ONNX form. Parameters and other captured arrays become initializers,
    the examples the graph inputs. Every model passes ``onnx.checker.check_model`` with
    ``full_check=True`` before it is returned. Needs the ``onnx`` extra (``pip install
    "autograd-core[onnx]"``); ``onnxruntime`` runs the result.

    Parameters
    ----------
    f : callable
        Takes Tensors and returns a Tensor or a tuple of Tensors. An ``nn.Module`` is one,
        exported in eval mode (Dropout vanishes, BatchNorm uses its running statistics; its
        modes are restored afterwards, also when the export fails), its parameters and
        buffers named after its ``state_dict`` keys. (An object, or the object a bound
        method belongs to, takes part through ``onnx_export_context()``: see the package
        docstring.)
    *example_inputs : array_like or Tensor
        One per argument of ``f``: floating data keeps its dtype in the graph; an integer
        array is an index input (``int64`` in the graph), which ``f`` receives as a NumPy
        integer array (a Tensor holds floats) and must index with as it is (``nn.Embedding``,
        ``w[index]``).
    path : str or os.PathLike, optional
        Also write the model there (atomically).
    opset : int, default 17
        The ONNX operator set, 13 or later; the model's IR version is the lowest that opset
        needs, so older runtimes load it.
    input_names, output_names : sequence of str, optional
        Names of the graph's inputs and outputs: ``"input"`` (``"input_0"``, ``"input_1"``,
        ... for several) and ``"output"`` likewise by default.
    dynamic_axes : iterable of int, default (0,)
        The axes of the inputs that may have another size at run time (``"batch"`` for axis
        0, ``"axis1"``, ...); ``()`` fixes every shape. ``f`` is traced once more per dynamic
        axis, on examples one longer along it, to tell which dimensions follow it. When ``f``
        only works for the examples' size, the model gets their fixed shapes and an
        :class:`OnnxExportWarning` says why.

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    TracingError
        ``f`` read the value of a traced tensor (``.item()``, ``float()``, ``bool()``,
        ``.data``, ``np.asarray``, ``.numpy()``, ``.tolist()``, a format spec): the model
        would hold that one value. The message names the line, and the op whose graph
        depends on it when rolling the examples shows one. Comparisons (``x > 0``) are
        recorded: ``ag.where(x > 0, x, 0)`` exports.
    ValueError
        Bad arguments; a graph that changes with the values of the inputs in another way
        (randomness: a module in training mode); outputs that do not depend on the inputs.
    NotImplementedError
        An op with no ONNX form (it is named). A user ``Function`` supplies its form with a
        class attribute ``onnx_op = "Exp"`` (one node) or a method
        ``to_onnx(self, builder, inputs, output)`` writing nodes through the builder::

            def to_onnx(self, builder, inputs, output):
                builder.op("Mul", inputs[0], builder.op("Sigmoid", inputs[0]), out=output)

    Examples
    --------
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

    with _export_context(f) as names:
        base = ExportTrace(f, arrays, where)
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
            raise (TracingError if base.reads else ValueError)(
                f"{where}: the outputs of f do not depend on its inputs: were they computed from values taken "
                "out of the graph (x.data, x.numpy(), np.asarray(x)) or from other data? Compute them with tensor "
                "ops" + (f" ({_read_text(base.reads[0])})" if base.reads else "")
            )
        output_names = _names(output_names, len(base.outputs), "output", where, taken=input_names)

        def write(trace: ExportTrace, sizes: dict[Any, Any], symbols: list[Any]) -> OnnxBuilder:
            return backend.write(onnx, trace, sizes, opset, symbols, input_names, output_names, names)

        if base.reads:
            raise _read_error(base.reads[0], _diagnosis(f, arrays, base, symbols, write, where), where)
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
            graph = write(base, dims(base, [], []), [])

    b = graph
    used_names = read_names(b.nodes)
    tensors = [onnx.numpy_helper.from_array(a, n) for n, a in b.initializers.items() if n in used_names]
    g = onnx.helper.make_graph(b.nodes, "autograd_core", b.graph_inputs, b.graph_outputs, initializer=tensors)
    imports = [onnx.helper.make_opsetid("", opset)] + [onnx.helper.make_opsetid(d, v) for d, v in b.domains.items()]
    from .. import __version__

    model = onnx.helper.make_model(g, opset_imports=imports, producer_name="autograd_core")
    model.producer_version = __version__
    model.ir_version = onnx.helper.find_min_ir_version_for(imports, ignore_unknown=True)
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        data = model.SerializeToString()

        def write_bytes(fh: Any) -> None:
            fh.write(data)

        atomic_write(path, write_bytes)
    return model


def _export_context(f: Any) -> Any:
    """The context the export runs in: ``onnx_export_context()`` of ``f`` (or of the object a bound
    method ``f`` belongs to) when it has one (``nn.Module``: eval mode, and its state_dict names),
    else none (and no names)."""
    for owner in (f, getattr(f, "__self__", None)):
        hook = getattr(owner, "onnx_export_context", None)
        if callable(hook):
            return hook()
    return contextlib.nullcontext({})


def _read_text(read: ReadEvent) -> str:
    file, line, _, code = read.where
    return f"f reads a traced value ({read.what}) at {file}:{line}" + (f" ({code})" if code else "")


def _read_error(read: ReadEvent, diagnosis: str | None, where: str) -> TracingError:
    """A read of a traced value by ``f``: the model would hold the value of the examples."""
    return TracingError(
        f"{where}: "
        + (f"{diagnosis}, because " if diagnosis else "")
        + _read_text(read)
        + ". The graph would hold the value this example gives, and be wrong for other inputs: a graph cannot "
        "follow Python control flow on a value, a mask or index from x.data, or a number from x.item(). Compute "
        "it with tensor ops: ag.where(x > 0, a, b) (comparisons are recorded), x / x.abs().max() rather than "
        "its .item(), x.max(axis=1) or a product with a mask rather than an index from np.argmax"
    )


def _diagnosis(
    f: Callable[..., Any], arrays: list[np.ndarray], base: ExportTrace, symbols: list[Any], write: Writer, where: str
) -> str | None:
    """Which op's graph changes when the examples are rolled (None when rolling shows nothing)."""
    if not symbols:
        return None
    try:
        return _values_difference(f, arrays, base, symbols, write, where)
    except Exception:  # the read is the error to report; what rolling would show is a bonus
        return None


def _dynamic_graph(
    f: Callable[..., Any], arrays: list[np.ndarray], base: ExportTrace, symbols: list[Any], write: Writer, where: str
) -> OnnxBuilder:
    """The graph with symbolic axes: trace again with each dynamic axis one longer, derive which
    dimensions follow it, and require the ONNX graphs of all traces to be identical."""
    others = []
    for _, axis, members, size in symbols:
        grown = list(arrays)
        for j in members:
            grown[j] = grow(arrays[j], axis)
        what = f"axis {axis} of the inputs grows from {size} to {size + 1}"
        try:
            trace = ExportTrace(f, grown, where)
        except Exception as err:
            raise _Fallback(f"f fails when {what} ({type(err).__name__}: {err})") from err
        diff = structure_difference(base, trace)
        if diff is not None:
            raise _Fallback(f"f records a different graph when {what} ({diff})")
        others.append((trace, what))
    sizes = dims(base, [t for t, _ in others], symbols)
    try:
        graph = write(base, sizes, symbols)
        again = [(write(t, sizes, symbols), what) for t, what in others]
    except DynamicShapeError as err:
        raise _Fallback(str(err)) from err
    for other, what in again:
        diff = backend.graph_difference(graph, other)
        if diff is not None:
            raise _Fallback(f"the ONNX form of {diff} when {what}")
    return graph


def _values_difference(
    f: Callable[..., Any], arrays: list[np.ndarray], base: ExportTrace, symbols: list[Any], write: Writer, where: str
) -> str | None:
    """What changes when the examples are only rolled along the dynamic axes (same shapes, values
    moved): anything that does was computed from the values, and no traced graph is right. The
    examples as they are and rolled once more are tried too: a random draw (a Dropout in training
    mode) that happens to repeat once is unlikely to repeat three times."""
    rolled = list(arrays)
    for _, axis, members, _ in symbols:
        for j in members:
            rolled[j] = np.roll(rolled[j], 1, axis=axis)
    graph = write(base, dims(base, [], []), [])
    for examples in (rolled, arrays, rolled):
        try:
            trace = ExportTrace(f, examples, where)
        except Exception as err:
            return f"f fails on the examples rolled along the batch ({type(err).__name__}: {err})"
        diff = structure_difference(base, trace)
        if diff is not None:
            return f"f records a different graph for inputs of the same shape ({diff})"
        diff = backend.graph_difference(graph, write(trace, dims(trace, [], []), []))
        if diff is not None:
            return f"the ONNX form of {diff} for inputs of the same shape"
    return None


def _example(x: Any, what: str) -> np.ndarray:
    """An example input as an array: integers as int64 (an index input), anything else as floats."""
    if not isinstance(x, Tensor):
        try:
            a = np.asarray(x)
        except ValueError:
            a = None  # ragged: as_float_array says so
        if a is not None and a.dtype.kind in "iu":
            if a.dtype.kind == "u" and a.size and a.max() > INT64_MAX:
                raise ValueError(f"{what}: integers above {INT64_MAX} do not fit the graph's int64 indices")
            return a.astype(np.int64)
    return as_float_array(x, what=what)


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
