"""The Tensor: data, grad, flags and operator overloads. No maths lives here.

Every method that computes something forwards to an op in ``autograd_core/ops``;
every op records itself through ``Function.apply`` (see ``function.py``).
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import versions as _versions
from ._checks import check_bool
from .grad_mode import grad_enabled

DEFAULT_DTYPE = np.dtype(np.float64)


def as_float_array(data: Any, dtype: Any = None, *, copy: bool = True, what: str = "Tensor") -> np.ndarray:
    """Validate ``data`` and return it as a floating NumPy array.

    Integer and bool data become ``float64``; floating arrays keep their dtype unless
    ``dtype`` says otherwise. Strings, objects, complex numbers and ragged lists raise.
    """
    if isinstance(data, Tensor):
        arr = data.data
    else:
        try:
            arr = np.asarray(data)
        except ValueError as err:  # NumPy 2 refuses ragged nested lists
            raise ValueError(
                f"{what}: data must be a number, an array or a nested list with a regular "
                f"(rectangular) shape; got an irregular sequence ({err})"
            ) from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"{what}: data must be numeric (bool, int or float), got {type(data).__name__} with dtype {arr.dtype}"
        )
    if dtype is None:
        target = arr.dtype if kind == "f" else DEFAULT_DTYPE
    else:
        target = np.dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"{what}: dtype must be a floating type such as np.float32 or np.float64, got {target}")
    return np.array(arr, dtype=target, copy=copy) if copy else arr.astype(target, copy=False)


class Tensor:
    """A floating NumPy array that remembers how it was computed.

    >>> w = Tensor(3.0, requires_grad=True, name="w")
    >>> y = w ** 2 + 2 * w
    >>> y.backward()
    >>> w.grad
    array(8.)

    ``data`` is a number, a nested list, a NumPy array or a Tensor (copied). Data is
    ``float64`` by default and ``float32`` when a float32 array is given or
    ``dtype=np.float32`` is asked for; integer and bool data become ``float64``.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_node", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self.data: np.ndarray = as_float_array(data, dtype)
        self.grad: np.ndarray | None = None
        if requires_grad is not True and requires_grad is not False:  # "no" or 0 would silently mean True or False
            requires_grad = check_bool(requires_grad, "requires_grad", "Tensor")
        self.requires_grad: bool = requires_grad
        self.name: str | None = name
        self._node: Any = None  # the Function that produced this tensor; None for a leaf
        if _tracing.active:  # Tensor(t) of a traced value: a traced copy (tracing.py)
            _tracing.made(self, data)

    @staticmethod
    def _make(data: np.ndarray, node: Any) -> Tensor:
        """Fast internal constructor for op outputs: no validation, no copy."""
        t = _new(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = node is not None
        t.name = None
        t._node = node
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``, a tuple of ints."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``data``: ``float64`` or ``float32``."""
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op."""
        return self._node is None

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor (``None`` for a leaf)."""
        return None if self._node is None else self._node.name

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed), as ``ndarray.T``; differentiable."""
        return _shape.Transpose.apply(self, axes=None)

    @property
    def mT(self) -> Tensor:
        """Transpose of the last two axes (a batch of matrices)."""
        return _shape.swapaxes(self, -1, -2)

    def item(self) -> float:
        """The value of a single-element tensor as a Python float."""
        if _tracing.active:  # ag.compile refuses the user's reads of captured tensors (tracing.py)
            _tracing.captured_read(self, ".item()", sys._getframe(1))
        if self.data.size != 1:
            raise ValueError(
                f"item: only a single-element tensor can become a Python number; this one has shape {self.shape}"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        if _tracing.active:
            _tracing.captured_read(self, ".numpy()", sys._getframe(1))
        return self.data

    def tolist(self) -> Any:
        """The data as nested Python lists (of floats)."""
        if _tracing.active:
            _tracing.captured_read(self, ".tolist()", sys._getframe(1))
        return self.data.tolist()

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward (leaves always do)."""
        if self._node is not None:
            self._node.retained = weakref.ref(self)  # weak: the node must not keep its output alive

    @property
    def _version(self) -> int:
        """How many in-place changes the library has made to this tensor's memory (shared with
        its ``detach()`` alias and its views). See ``versions.py``."""
        return _versions.version(self.data)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor._make(self.data, None)

    def astype(self, dtype: Any) -> Tensor:
        """Cast to another floating dtype (differentiable: the gradient is cast back)."""
        return _ew.astype(self, dtype)

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Back-propagate from this tensor, accumulating into ``.grad`` of every leaf
        that requires grad. ``grad`` (the upstream gradient, same shape as this tensor)
        may be omitted only for a single-element tensor. Unless ``retain_graph=True``
        the graph's saved arrays are released afterwards."""
        _engine.backward(self, grad, retain_graph)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if _tracing.active:
            _tracing.captured_read(self, "np.asarray / np.array", sys._getframe(1))
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _interop.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _interop.array_function(func, args, kwargs)

    # Pickling and copy.deepcopy keep the values, gradient, flags and name, never the graph:
    # a computed tensor comes back as a leaf (it would otherwise drag its whole graph along).
    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data, "grad": self.grad, "requires_grad": self.requires_grad, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.data = state["data"]
        self.grad = state["grad"]
        self.requires_grad = state["requires_grad"]
        self.name = state["name"]
        self._node = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.data.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self.data.dtype}")
        if self.requires_grad:
            extras.append("requires_grad=True")
        if self.name is not None:
            extras.append(f"name={self.name!r}")
        return f"Tensor({', '.join([body, *extras])})"

    def __bool__(self) -> bool:
        if _tracing.active:
            _tracing.captured_read(self, "bool() (an if or a while on a tensor)", sys._getframe(1))
        return bool(self.data)

    def __float__(self) -> float:
        if _tracing.active:
            _tracing.captured_read(self, "float()", sys._getframe(1))
        return float(self.data.item()) if self.data.size == 1 else float(self.item())

    def __int__(self) -> int:
        if _tracing.active:
            _tracing.captured_read(self, "int()", sys._getframe(1))
        return int(self.data.item()) if self.data.size == 1 else int(self.item())

    __hash__ = object.__hash__  # identity hash, although == is elementwise

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Tensor:
        return _ew.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ew.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ew.Subtract.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ew.Subtract.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ew.Multiply.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ew.Multiply.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ew.Divide.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ew.Divide.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ew.Power.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ew.Power.apply(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _linalg.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _linalg.MatMul.apply(other, self)

    def __neg__(self) -> Tensor:
        return _ew.Negative.apply(self)

    def __pos__(self) -> Tensor:
        return self

    # In-place operators update the data, and keep the object (and its class: a Parameter stays
    # a Parameter), where that cannot hide anything from autodiff: under no_grad (the classic
    # ``w -= lr * w.grad``) or on tensors outside any graph. Each change bumps the version
    # counter, so a backward that needs the old values refuses instead of using the new ones.
    def _inplace(self, other: Any, op: str) -> Tensor:
        if grad_enabled.get() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            if self.requires_grad and self._node is None:
                raise RuntimeError(
                    f"in-place {op} on a leaf tensor that requires grad would hide the update from "
                    f"autodiff; update parameters inside `with ag.no_grad():` or write `w = w {op[:-1]} ...`"
                )
            return getattr(self, _INPLACE_FALLBACK[op])(other)  # recorded, and rebound: x = x + y
        if _tracing.active:  # a change of state: a compiled program makes it too (tracing.effect)
            return _tracing.effect(_change_in_place, self, other, op)
        return _change_in_place(self, other, op)

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(other, "/=")

    def __ipow__(self, other: Any) -> Tensor:
        return self._inplace(other, "**=")

    def __imatmul__(self, other: Any) -> Tensor:
        return self._inplace(other, "@=")

    # Comparisons are not differentiable: they return plain boolean arrays. While a trace records
    # (tracing.py) they are recorded ops (ops/compare.py), whose masks the trace can follow.
    def __lt__(self, other: Any) -> np.ndarray:
        return _cmp.Less.apply(self, other) if _tracing.active else self.data < _raw(other)

    def __le__(self, other: Any) -> np.ndarray:
        return _cmp.LessEqual.apply(self, other) if _tracing.active else self.data <= _raw(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return _cmp.Greater.apply(self, other) if _tracing.active else self.data > _raw(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return _cmp.GreaterEqual.apply(self, other) if _tracing.active else self.data >= _raw(other)

    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return _cmp.Equal.apply(self, other) if _tracing.active else self.data == _raw(other)

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return _cmp.NotEqual.apply(self, other) if _tracing.active else self.data != _raw(other)

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index: Any) -> Tensor:
        return _shape.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        if grad_enabled.get() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            raise RuntimeError(
                "item assignment is not recorded, so the gradient would be lost; build the new "
                "tensor with ag.where or ag.concatenate, or assign inside `with ag.no_grad():`"
            )
        if _tracing.active:  # a change of state: a compiled program makes it too (tracing.effect)
            _tracing.effect(_assign, self, index, value)
            return
        _assign(self, index, value)

    # ------------------------------------------------------------------ maths methods
    def exp(self) -> Tensor:
        """``e ** x``; see :func:`autograd_core.exp`."""
        return _ew.Exp.apply(self)

    def log(self) -> Tensor:
        """Natural logarithm; see :func:`autograd_core.log`."""
        return _ew.Log.apply(self)

    def sqrt(self) -> Tensor:
        """Square root; see :func:`autograd_core.sqrt`."""
        return _ew.Sqrt.apply(self)

    def square(self) -> Tensor:
        """``x ** 2``; see :func:`autograd_core.square`."""
        return _ew.Square.apply(self)

    def abs(self) -> Tensor:
        """Absolute value (gradient 0 at 0); see :func:`autograd_core.abs`."""
        return _ew.Abs.apply(self)

    def sin(self) -> Tensor:
        """Sine; see :func:`autograd_core.sin`."""
        return _ew.Sin.apply(self)

    def cos(self) -> Tensor:
        """Cosine; see :func:`autograd_core.cos`."""
        return _ew.Cos.apply(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent; see :func:`autograd_core.tanh`."""
        return _ew.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """The logistic function ``1 / (1 + e ** -x)``; see :func:`autograd_core.sigmoid`."""
        return _ew.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        """``max(x, 0)`` (gradient 0 at 0); see :func:`autograd_core.relu`."""
        return _ew.Relu.apply(self)

    def clip(self, low: Any = None, high: Any = None) -> Tensor:
        """Clamp to ``[low, high]``; see :func:`autograd_core.clip`."""
        return _ew.clip(self, low, high)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (all axes when None), as ``np.sum``."""
        return _reduce.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (all axes when None), as ``np.mean``."""
        return _reduce.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """The largest values over ``axis``, as ``np.max``; for the indices (torch's ``x.max(1)[1]``) use ``argmax``."""
        return _reduce.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """The smallest values over ``axis``, as ``np.min``; ties split the gradient evenly."""
        return _reduce.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        """Variance ``Σ(x - mean)² / (n - ddof)``; ``ddof=0`` (NumPy's default) is the biased one."""
        return _reduce.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        """Standard deviation ``√var``; gradient 0 where it is 0 (see ``ag.std``)."""
        return _reduce.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def norm(self, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
        """Vector or matrix norm as ``np.linalg.norm`` (2-norm by default; see ``ag.norm``)."""
        return _linalg.norm(self, ord=ord, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """``log(Σ exp(x))`` over ``axis``, computed stably; its gradient is the softmax."""
        return _reduce.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        """``exp(x) / Σ exp(x)`` along ``axis``, computed stably."""
        return _reduce.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """``x - logsumexp(x)`` along ``axis``, computed stably."""
        return _reduce.LogSoftmax.apply(self, axis=axis)

    def reshape(self, *shape: Any) -> Tensor:
        """The same data in a new shape: ``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; one entry may be -1."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return _shape.Reshape.apply(self, shape=shape)

    def flatten(self) -> Tensor:
        """The data as one axis, ``t.reshape(-1)``."""
        return _shape.Reshape.apply(self, shape=(-1,))

    def transpose(self, *axes: Any) -> Tensor:
        """Axes permuted: ``t.transpose(1, 0)``, ``t.transpose((1, 0))``, or reversed when none are given."""
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return _shape.Transpose.apply(
            self, axes=None if axes is None or len(axes) == 0 else tuple(int(a) for a in axes)
        )

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """``axis1`` and ``axis2`` interchanged."""
        return _shape.swapaxes(self, axis1, axis2)

    def pow(self, p: Any) -> Tensor:
        """``self ** p``."""
        return _ew.Power.apply(self, p)

    def log1p(self) -> Tensor:
        """``log(1 + x)``, accurate for tiny x."""
        return _ew.Log1p.apply(self)

    def expm1(self) -> Tensor:
        """``exp(x) - 1``, accurate for tiny x."""
        return _ew.Expm1.apply(self)

    def unsqueeze(self, axis: int) -> Tensor:
        """A new size-1 axis at ``axis`` (NumPy's ``expand_dims``)."""
        return _shape.expand_dims(self, axis)

    def squeeze(self, axis: Any = None) -> Tensor:
        """Without size-1 axes (all, or those named by ``axis``)."""
        return _shape.squeeze(self, axis)

    def clone(self) -> Tensor:
        """A differentiable copy: new data, and the gradient flows back to this tensor."""
        return _ew.Clone.apply(self)

    def copy(self) -> Tensor:
        """Same as ``clone()``."""
        return _ew.Clone.apply(self)

    # Queries: plain NumPy results, not differentiable (like the comparisons).
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Index of the largest element: an int (flattened) when ``axis`` is None, else an array."""
        return _reduce.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Index of the smallest element: an int (flattened) when ``axis`` is None, else an array."""
        return _reduce.argmin(self, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        """Whether any element is non-zero: a bool, or a boolean array along ``axis``."""
        found = np.any(self.data, axis=axis, keepdims=keepdims)
        return bool(found) if found.ndim == 0 else found

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        """Whether every element is non-zero: a bool, or a boolean array along ``axis``."""
        found = np.all(self.data, axis=axis, keepdims=keepdims)
        return bool(found) if found.ndim == 0 else found

    def __format__(self, spec: str) -> str:
        """``f"{loss:.3f}"`` formats a single-element tensor like a float; ``f"{t}"`` is ``str(t)``."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(
                f"format spec {spec!r} needs a single-element tensor, but this one has shape {self.shape}; "
                "format its elements one by one, or t.numpy() with np.array2string"
            )
        return format(self.data.item(), spec)


_new = object.__new__
_INPLACE_FALLBACK = {
    "+=": "__add__", "-=": "__sub__", "*=": "__mul__", "/=": "__truediv__", "**=": "__pow__", "@=": "__matmul__",
}  # fmt: skip
_INPLACE_UFUNCS = {"+=": np.add, "-=": np.subtract, "*=": np.multiply, "/=": np.divide, "**=": np.power}


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _change_in_place(t: Tensor, other: Any, op: str) -> Tensor:
    """``t op= other`` on ``t``'s data (no graph to record), bumping its version."""
    value = other.data if isinstance(other, Tensor) else other
    if op == "@=":
        result = np.matmul(t.data, value)
        if result.shape != t.data.shape:
            raise ValueError(
                f"in-place @=: the product of shapes {t.shape} and {np.shape(value)} has shape "
                f"{result.shape}, not the tensor's {t.shape}; write x = x @ y to change its shape"
            )
        np.copyto(t.data, result, casting="same_kind")
    else:
        _INPLACE_UFUNCS[op](t.data, value, out=t.data, casting="same_kind")
    _versions.bump(t.data)
    return t


def _assign(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value`` on ``t``'s data, bumping its version."""
    t.data[index] = _raw(value)
    _versions.bump(t.data)


# The ops need the Tensor class, so they are imported after it is defined.
from . import engine as _engine  # noqa: E402
from . import interop as _interop  # noqa: E402
from . import tracing as _tracing  # noqa: E402
from .ops import compare as _cmp  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
