"""Comparisons and the logic of masks: boolean results, not differentiable.

``x > 0`` on Tensors is a plain boolean NumPy array: no node is made, since a mask has no
gradient. While a trace records (``tracing.py``: ``ag.export_onnx``, ``ag.compile``) the
same ops are recorded, and their result is a :class:`~autograd_core.tracing.TracedMask`, a
boolean array that knows it was computed from traced values, so ``ag.where(x > 0, x, 0)``
is exported with its mask computed from ``x`` rather than frozen. ``&``, ``|``, ``^`` and
``~`` of such masks are recorded too (``TracedMask`` sends them here).

Each op is a ``Function`` whose ``apply`` returns the array itself; its ONNX form is one
node on inputs cast to the dtype NumPy compared them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import tracing as _tracing
from ..function import Function, _constant
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..onnx.builder import OnnxBuilder


class Comparison(Function):
    """An elementwise op with a boolean result: ``forward`` is the NumPy ufunc ``ufunc``."""

    name = ""  # a base class of ops, not an op
    ufunc: Any = None

    def forward(self, *xs: Any) -> np.ndarray:
        self.dtype = np.result_type(*xs)  # what NumPy compares in (a Python number is weak: float32 stays)
        return self.ufunc(*xs)

    def backward(self, g: Any, out: Any, *xs: Any) -> Any:
        return (None,) * len(xs)  # never called: a boolean result records no node

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Any:  # type: ignore[override]
        """The boolean result as an array (recorded, as a ``TracedMask``, while a trace records)."""
        fn = cls()
        raw = [a.data if isinstance(a, Tensor) else _constant(a, cls.name) for a in args]
        raw = [x.view(np.ndarray) if isinstance(x, _tracing.TracedMask) else x for x in raw]  # computed as arrays
        try:
            out = np.asarray(fn.forward(*raw, **params))
        except ValueError as err:
            raise ValueError(fn.explain(err, tuple(raw))) from None
        if _tracing.active:
            return _tracing.record(fn, args, raw, params, out)
        return out

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.op(self.onnx_op or "", *(builder.cast(x, self.dtype) for x in inputs), out=output)


class Less(Comparison):
    name, ufunc, onnx_op = "less", np.less, "Less"


class LessEqual(Comparison):
    name, ufunc, onnx_op = "less_equal", np.less_equal, "LessOrEqual"


class Greater(Comparison):
    name, ufunc, onnx_op = "greater", np.greater, "Greater"


class GreaterEqual(Comparison):
    name, ufunc, onnx_op = "greater_equal", np.greater_equal, "GreaterOrEqual"


class Equal(Comparison):
    name, ufunc, onnx_op = "equal", np.equal, "Equal"


class NotEqual(Comparison):
    name, ufunc = "not_equal", np.not_equal

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.op("Not", builder.op("Equal", *(builder.cast(x, self.dtype) for x in inputs)), out=output)


class IsNaN(Comparison):
    name, ufunc, onnx_op = "isnan", np.isnan, "IsNaN"


class IsInf(Comparison):
    name, ufunc, onnx_op = "isinf", np.isinf, "IsInf"


class IsFinite(Comparison):
    name, ufunc = "isfinite", np.isfinite

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        x = builder.cast(inputs[0], self.dtype)
        builder.op("Not", builder.op("Or", builder.op("IsNaN", x), builder.op("IsInf", x)), out=output)


# ---------------------------------------------------------------- the logic of masks (booleans in, boolean out)


class LogicalAnd(Comparison):
    name, ufunc, onnx_op = "logical_and", np.logical_and, "And"


class LogicalOr(Comparison):
    name, ufunc, onnx_op = "logical_or", np.logical_or, "Or"


class LogicalXor(Comparison):
    name, ufunc, onnx_op = "logical_xor", np.logical_xor, "Xor"


class LogicalNot(Comparison):
    name, ufunc, onnx_op = "logical_not", np.logical_not, "Not"


#: NumPy's ufuncs that these ops compute (``interop.py`` sends them here for Tensors; on
#: boolean masks the bitwise ones are the logical ones).
UFUNCS: dict[Any, type[Comparison]] = {
    np.less: Less, np.less_equal: LessEqual, np.greater: Greater, np.greater_equal: GreaterEqual,
    np.equal: Equal, np.not_equal: NotEqual, np.isnan: IsNaN, np.isinf: IsInf, np.isfinite: IsFinite,
}  # fmt: skip
LOGICAL: dict[Any, type[Comparison]] = {
    np.logical_and: LogicalAnd, np.bitwise_and: LogicalAnd, np.logical_or: LogicalOr, np.bitwise_or: LogicalOr,
    np.logical_xor: LogicalXor, np.bitwise_xor: LogicalXor, np.not_equal: LogicalXor,
    np.logical_not: LogicalNot, np.invert: LogicalNot, np.equal: Equal,
}  # fmt: skip
