"""One run of the exported function under the shared tracer (``autograd_core/tracing.py``), and
the comparisons between runs that tell which dimensions follow the dynamic axes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..grad_mode import enable_grad
from ..tensor import Tensor
from ..tracing import Arg, CapturedTensor, OpEvent, ReadEvent, Traced, Tracer, Value
from .builder import Dim


class ExportTrace:
    """``f`` run once on ``arrays``: its inputs and outputs as traced values, the ops the outputs
    depend on (the engine's walk over the tape), and the reads of traced values it made."""

    def __init__(self, f: Callable[..., Any], arrays: list[np.ndarray], where: str) -> None:
        tracer = Tracer(reads="record")  # the export says more than the read alone would (see export.py)
        with tracer, enable_grad():
            # floats as Tensors requiring grad (f may differentiate), integer arrays (indices) as they are
            given = [tracer.input(a, requires_grad=a.dtype.kind == "f") for a in arrays]
            result = f(*given)
        tape = tracer.tape
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
        self.tape = tape
        self.inputs: list[Value] = tape.inputs
        self.outputs: list[Tensor] = outputs
        self.output_values: list[Value | None] = [tape.value(t) for t in outputs]
        self.ops: list[OpEvent] = tape.ops_for([v for v in self.output_values if v is not None])
        self.position = {op: i for i, op in enumerate(self.ops)}
        self.reads: list[ReadEvent] = tape.reads

    # ------------------------------------------------------------------ comparable descriptions
    def value_role(self, v: Value) -> tuple[Any, ...]:
        return ("input", v.input) if v.producer is None else ("op", self.position[v.producer])

    def role(self, a: Arg | Tensor | None) -> tuple[Any, ...]:
        """What an argument (or an output) is, comparable between traces."""
        if type(a) is Traced:
            return self.value_role(a.value)
        if type(a) is CapturedTensor:
            return ("leaf",) if a.tensor.requires_grad else ("constant",)  # its value is compared with the graphs
        if isinstance(a, Tensor):
            v = self.tape.value(a)
            return self.value_role(v) if v is not None else ("leaf",)
        return ("constant",)

    def uses_inputs(self) -> bool:
        """Whether an output is, or is computed from, an input of ``f``."""
        if any(v is not None and v.producer is None for v in self.output_values):
            return True
        return any(v.producer is None for op in self.ops for v in op.inputs())

    def indices_used(self) -> set[int]:
        """The integer inputs (by position) that an op received as they are: as an argument, or
        in a parameter (the index of a ``getitem``). One converted first (``i + 1``, ``int(i)``) is not."""
        return {
            v.input
            for op in self.ops
            for v in op.inputs()
            if v.producer is None and v.input is not None and not isinstance(v.obj, Tensor)
        }


def structure_difference(a: ExportTrace, b: ExportTrace) -> str | None:
    """How the graph of trace ``b`` differs from trace ``a`` in its ops and their wiring, if it does."""
    if len(a.outputs) != len(b.outputs):
        return f"{len(a.outputs)} outputs, then {len(b.outputs)}"
    if len(a.ops) != len(b.ops):
        return f"{len(a.ops)} ops, then {len(b.ops)}"
    for i, (n, m) in enumerate(zip(a.ops, b.ops)):
        if type(n.fn) is not type(m.fn) or len(n.args) != len(m.args) or len(n.traced_params) != len(m.traced_params):
            return f"op #{i} was {n.fn.name!r}, then {m.fn.name!r}"
        roles = [a.role(x) for x in n.args] + [a.value_role(v) for v in n.traced_params]
        others = [b.role(x) for x in m.args] + [b.value_role(v) for v in m.traced_params]
        if roles != others or len(n.out.shape) != len(m.out.shape):
            return f"op #{i} ({n.fn.name!r}) has other inputs or another rank"
    if [a.role(t) for t in a.outputs] != [b.role(t) for t in b.outputs]:
        return "the outputs come from other ops"
    return None


def dims(base: ExportTrace, others: list[ExportTrace], symbols: list[Any]) -> dict[tuple[Any, ...], tuple[Dim, ...]]:
    """The dimensions of every value of ``base``, by its role (``("op", i)``, ``("input", j)``: the
    same in every trace of ``f``): its size, and how it grew in each of the ``others`` (traced with
    one dynamic axis one longer each; their ops match ``base``'s one for one)."""

    def dims_of(shape: tuple[int, ...], grown: list[tuple[int, ...]]) -> tuple[Dim, ...]:
        return tuple(Dim(n, tuple(g[d] - n for g in grown)) for d, n in enumerate(shape))

    out: dict[tuple[Any, ...], tuple[Dim, ...]] = {}
    for i, op in enumerate(base.ops):
        out[("op", i)] = dims_of(op.out.shape, [t.ops[i].out.shape for t in others])
    for j, v in enumerate(base.inputs):
        out[("input", j)] = tuple(
            Dim(n, tuple(1 if (j in members and d == axis) else 0 for _, axis, members, _ in symbols))
            for d, n in enumerate(v.shape)
        )
    return out


def grow(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` one longer along ``axis`` (its last slice repeated) and rolled by one, so that both the
    shape and the values at every position change."""
    extra = np.take(a, [-1], axis=axis) if a.shape[axis] else np.zeros(a.shape[:axis] + (1,) + a.shape[axis + 1 :])
    return np.roll(np.concatenate([a, extra.astype(a.dtype)], axis=axis), 1, axis=axis)
