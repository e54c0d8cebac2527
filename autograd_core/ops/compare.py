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
    py_forward = "np.less({0}, {1})"


class LessEqual(Comparison):
    name, ufunc, onnx_op = "less_equal", np.less_equal, "LessOrEqual"
    py_forward = "np.less_equal({0}, {1})"


class Greater(Comparison):
    name, ufunc, onnx_op = "greater", np.greater, "Greater"
    py_forward = "np.greater({0}, {1})"


class GreaterEqual(Comparison):
    name, ufunc, onnx_op = "greater_equal", np.greater_equal, "GreaterOrEqual"
    py_forward = "np.greater_equal({0}, {1})"


class Equal(Comparison):
    name, ufunc, onnx_op = "equal", np.equal, "Equal"
    py_forward = "np.equal({0}, {1})"


class NotEqual(Comparison):
    name, ufunc = "not_equal", np.not_equal
    py_forward = "np.not_equal({0}, {1})"

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.op("Not", builder.op("Equal", *(builder.cast(x, self.dtype) for x in inputs)), out=output)


class IsNaN(Comparison):
    name, ufunc, onnx_op = "isnan", np.isnan, "IsNaN"
    py_forward = "np.isnan({0})"


class IsInf(Comparison):
    name, ufunc, onnx_op = "isinf", np.isinf, "IsInf"
    py_forward = "np.isinf({0})"


class IsFinite(Comparison):
    name, ufunc = "isfinite", np.isfinite
    py_forward = "np.isfinite({0})"

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        x = builder.cast(inputs[0], self.dtype)
        builder.op("Not", builder.op("Or", builder.op("IsNaN", x), builder.op("IsInf", x)), out=output)


class Sign(Comparison):
    """``np.sign`` of a tensor: a plain array (not differentiable), recorded while a trace records, like
    a comparison (``abs``'s VJP multiplies by it)."""

    name, ufunc, onnx_op = "sign", np.sign, "Sign"
    py_forward = "np.sign({0})"

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        builder.op("Sign", inputs[0], out=output)


class SignBit(Comparison):
    """``np.signbit`` of a tensor (a boolean array), recorded while a trace records."""

    name, ufunc = "signbit", np.signbit
    py_forward = "np.signbit({0})"

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        x = builder.cast(inputs[0], self.dtype)  # -0.0 has its sign bit set: 1/x is -inf there
        zero = builder.const(0, self.dtype, name="zero")
        negative = builder.op("Less", x, zero)
        minus_zero = builder.op(
            "And", builder.op("Equal", x, zero), builder.op("Less", builder.op("Reciprocal", x), zero)
        )
        builder.op("Or", negative, minus_zero, out=output)


class Ufunc(Comparison):
    """A NumPy ufunc of traced masks and numbers, which a VJP computes under ``create_graph``
    (``0.5 * (a == b)`` in ``maximum``'s): recorded by ``ag.compile``'s tracer (``tracing.py``),
    which makes no other."""

    name = "ufunc"
    to_onnx = Function.to_onnx  # (an export never records it: no form)

    def forward(self, *xs: Any, call: Any, kwargs: dict[str, Any]) -> Any:  # type: ignore[override]
        self.call, self.kwargs = call, kwargs
        return call(*xs, **kwargs)

    def python_form(self, inputs: tuple[Any, ...]) -> tuple[Any, Any]:
        name = getattr(self.call, "__name__", "")
        if self.kwargs or getattr(np, name, None) is not self.call:
            return None, None
        args = ", ".join(f"{{{i}}}" for i in range(len(inputs)))
        return f"np.{name}({args})", None


# ---------------------------------------------------------------- the logic of masks (booleans in, boolean out)


class LogicalAnd(Comparison):
    name, ufunc, onnx_op = "logical_and", np.logical_and, "And"
    py_forward = "np.logical_and({0}, {1})"


class LogicalOr(Comparison):
    name, ufunc, onnx_op = "logical_or", np.logical_or, "Or"
    py_forward = "np.logical_or({0}, {1})"


class LogicalXor(Comparison):
    name, ufunc, onnx_op = "logical_xor", np.logical_xor, "Xor"
    py_forward = "np.logical_xor({0}, {1})"


class LogicalNot(Comparison):
    name, ufunc, onnx_op = "logical_not", np.logical_not, "Not"
    py_forward = "np.logical_not({0})"


#: NumPy's ufuncs that these ops compute (``interop.py`` sends them here for Tensors; on
#: boolean masks the bitwise ones are the logical ones).
UFUNCS: dict[Any, type[Comparison]] = {
    np.less: Less, np.less_equal: LessEqual, np.greater: Greater, np.greater_equal: GreaterEqual,
    np.equal: Equal, np.not_equal: NotEqual, np.isnan: IsNaN, np.isinf: IsInf, np.isfinite: IsFinite,
}  # fmt: skip
#: NumPy's ufuncs of tensors that give plain arrays without a gradient (``interop.py`` computes them on
#: the data, and records them while a trace records).
RAW: dict[Any, type[Comparison]] = {np.sign: Sign, np.signbit: SignBit}
LOGICAL: dict[Any, type[Comparison]] = {
    np.logical_and: LogicalAnd, np.bitwise_and: LogicalAnd, np.logical_or: LogicalOr, np.bitwise_or: LogicalOr,
    np.logical_xor: LogicalXor, np.bitwise_xor: LogicalXor, np.not_equal: LogicalXor,
    np.logical_not: LogicalNot, np.invert: LogicalNot, np.equal: Equal,
}  # fmt: skip
