"""NumPy interoperability: ``np.exp(t)``, ``array * t``, ``np.sum(t)`` and friends.

NumPy hands any ufunc or array function that touches a Tensor to the tables below,
so mixed expressions build Tensors (never object arrays), and the ops' VJPs, which
are written with NumPy functions, record themselves when given Tensors.
Comparisons and ``np.isnan``-like tests give boolean arrays (``ops/compare.py``);
other non-differentiable predicates (``np.sign``) and queries (``np.shape``,
``np.allclose``) run on the raw data. Anything else raises
rather than silently dropping the gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import tracing as _tracing
from .ops import compare, linalg, reduce, shape
from .ops import elementwise as ew
from .tensor import Tensor


def _positive(x: Any) -> Any:
    return x if isinstance(x, Tensor) else Tensor(x)


UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: ew.add,
    np.subtract: ew.subtract,
    np.multiply: ew.multiply,
    np.divide: ew.divide,
    np.power: ew.power,
    np.negative: ew.negative,
    np.positive: _positive,
    np.square: ew.square,
    np.exp: ew.exp,
    np.log: ew.log,
    np.log1p: ew.log1p,
    np.expm1: ew.expm1,
    np.sqrt: ew.sqrt,
    np.sin: ew.sin,
    np.cos: ew.cos,
    np.tanh: ew.tanh,
    np.absolute: ew.abs,
    np.maximum: ew.maximum,
    np.minimum: ew.minimum,
    np.matmul: linalg.matmul,
}

#: Comparisons and NaN/inf tests: boolean arrays (recorded while tracing: see ops/compare.py).
COMPARISONS = compare.UFUNCS

RAW_UFUNCS = {np.sign, np.signbit, np.logical_and, np.logical_or, np.logical_not, np.logical_xor}

FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.sum: reduce.sum,
    np.mean: reduce.mean,
    np.max: reduce.max,
    np.amax: reduce.max,
    np.min: reduce.min,
    np.amin: reduce.min,
    np.var: reduce.var,
    np.std: reduce.std,
    np.linalg.norm: linalg.norm,
    np.reshape: shape.reshape,
    np.transpose: shape.transpose,
    np.swapaxes: shape.swapaxes,
    np.broadcast_to: shape.broadcast_to,
    np.expand_dims: shape.expand_dims,
    np.squeeze: shape.squeeze,
    np.concatenate: shape.concatenate,
    np.stack: shape.stack,
    np.where: ew.where,
    np.clip: ew.clip,
    np.dot: linalg.dot,
}

RAW_FUNCTIONS = {
    np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal, np.array_equiv,
    np.argmax, np.argmin, np.argsort, np.nonzero, np.count_nonzero, np.any, np.all,
    np.round, np.around, np.copy, np.array_repr, np.array_str, np.array2string,
    np.result_type, np.iscomplexobj, np.isrealobj,
}  # fmt: skip


def _unwrap(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _out_refused(name: str) -> TypeError:
    """``np.clip(t, 0, 1, out=t)``: say how to change a tensor's values in place instead."""
    return TypeError(
        f"np.{name} with out= is not supported on Tensors: an op on Tensors makes a new Tensor (that is how "
        f"it is recorded for autodiff). Write t = np.{name}(...) to rebind the name, or, to change the values "
        f"of t in place outside the graph, `with ag.no_grad(): t[...] = np.{name}(...)`"
    )


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if method == "__call__" and not kwargs:
        impl = UFUNCS.get(ufunc)
        if impl is not None:
            return impl(*inputs)
    if method == "__call__" and not kwargs and ufunc in COMPARISONS:
        return COMPARISONS[ufunc].apply(*inputs)
    if method == "__call__" and not kwargs and _tracing.active:  # a value a trace must follow (np.sign in a VJP)
        op = compare.RAW.get(ufunc) or compare.LOGICAL.get(ufunc)
        if op is not None:
            return op.apply(*inputs)
    if (ufunc in RAW_UFUNCS or ufunc in COMPARISONS) and method == "__call__" and "out" not in kwargs:
        return ufunc(*_unwrap(inputs), **kwargs)
    detail = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if "out" in kwargs:
        detail += " with out="
        if _tracing.compiling():
            raise _tracing.TracingError(
                f"{detail} writes a traced value into an array (w.data -= lr * w.grad) inside ag.compile, a change "
                "the compiled program would not make; change the tensor instead (w -= lr * w.grad under "
                "ag.no_grad(): the program makes that change too), or report the change with ag.effect(fn, ...)"
            )
        if method == "__call__" and ufunc in UFUNCS:
            raise _out_refused(ufunc.__name__)
    raise TypeError(
        f"{detail} is not supported on Tensors (it would not be differentiable). Use Tensor ops, "
        "or np.asarray(t) to compute on the raw values outside the graph"
    )


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    impl = FUNCTIONS.get(func)
    if impl is not None:
        if kwargs.get("out") is not None:
            raise _out_refused(func.__name__)
        return impl(*args, **kwargs)
    if func in RAW_FUNCTIONS:
        return func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
    raise TypeError(
        f"np.{getattr(func, '__name__', func)} is not supported on Tensors (it would not be "
        "differentiable). Use Tensor ops, or np.asarray(t) to compute on the raw values outside the graph"
    )
