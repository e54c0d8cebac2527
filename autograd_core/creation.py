"""Constructors: tensors of zeros, ones, ranges and random numbers, as in NumPy and PyTorch.

Every constructor makes a leaf and takes ``dtype=`` (a floating type: ``float64`` by
default, or ``np.float32``), ``requires_grad=`` and ``name=``. Shapes are given either
way, ``zeros(2, 3)`` or ``zeros((2, 3))``.

Random tensors draw from ``rng``: an int seed, a ``numpy.random.Generator``, or None
for a fresh, unseeded generator. They never touch NumPy's global random state
(``np.random.seed`` neither affects nor is affected by them).

>>> w = randn(3, 2, rng=0, requires_grad=True, name="w")
>>> w.shape, w.requires_grad
((3, 2), True)
>>> arange(4)
Tensor([0., 1., 2., 3.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_int, check_real
from .tensor import DEFAULT_DTYPE, Tensor, as_float_array

__all__ = [
    "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "linspace",
    "eye", "randn", "rand",
]  # fmt: skip


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """The same as ``Tensor(data, requires_grad, dtype, name)`` (PyTorch's spelling).

    >>> tensor([1, 2, 3])
    Tensor([1., 2., 3.])
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``.

    >>> zeros(2, 3).shape
    (2, 3)
    """
    return _leaf(np.zeros(_shape(shape, "zeros"), dtype=_dtype(dtype, "zeros")), requires_grad, name)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``.

    >>> ones(2)
    Tensor([1., 1.])
    """
    return _leaf(np.ones(_shape(shape, "ones"), dtype=_dtype(dtype, "ones")), requires_grad, name)


def full(shape: Any, value: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor of ``shape`` (an int or a tuple) filled with ``value``.

    >>> full((2, 2), 0.5)
    Tensor([[0.5, 0.5],
            [0.5, 0.5]])
    """
    return _leaf(_filled(_shape((shape,), "full"), value, _dtype(dtype, "full"), "full"), requires_grad, name)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Zeros of ``t``'s shape and dtype (a Tensor or an array; integer arrays give float64).

    >>> zeros_like(Tensor([1.0, 2.0], dtype=np.float32))
    Tensor([0., 0.], dtype=float32)
    """
    shape, dtype = _like(t, dtype, "zeros_like")
    return _leaf(np.zeros(shape, dtype=dtype), requires_grad, name)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Ones of ``t``'s shape and dtype (a Tensor or an array; integer arrays give float64).

    >>> ones_like(np.zeros((1, 2)))
    Tensor([[1., 1.]])
    """
    shape, dtype = _like(t, dtype, "ones_like")
    return _leaf(np.ones(shape, dtype=dtype), requires_grad, name)


def full_like(t: Any, value: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """``value`` everywhere, in ``t``'s shape and dtype.

    >>> full_like(Tensor([1.0, 2.0]), 7)
    Tensor([7., 7.])
    """
    shape, dtype = _like(t, dtype, "full_like")
    return _leaf(_filled(shape, value, dtype, "full_like"), requires_grad, name)


def arange(
    start: Any,
    stop: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, with NumPy's signature: ``arange(stop)``,
    ``arange(start, stop)``, ``arange(start, stop, step)``. Always floating (``float64``
    unless ``dtype=`` says otherwise), even for integer arguments.

    >>> arange(1, 2, 0.25)
    Tensor([1.  , 1.25, 1.5 , 1.75])
    """
    for what, v in (("start", start), ("stop", stop), ("step", step)):
        if v is not None:
            check_real(v, what, "arange", noun="real number")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    values = np.arange(start, step=step) if stop is None else np.arange(start, stop, step)
    return _leaf(values.astype(_dtype(dtype, "arange")), requires_grad, name)


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included unless ``endpoint=False``).

    >>> linspace(0, 1, 5)
    Tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    for what, v in (("start", start), ("stop", stop)):
        check_real(v, what, "linspace", noun="real number")
    num = check_int(num, "num", "linspace", low=0)
    values = np.linspace(start, stop, num, endpoint=endpoint)
    return _leaf(values.astype(_dtype(dtype, "linspace")), requires_grad, name)


def eye(
    n: int,
    m: int | None = None,
    k: int = 0,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """The ``n × m`` identity (``m = n`` by default); ``k`` shifts the diagonal up (k > 0) or down.

    >>> eye(2)
    Tensor([[1., 0.],
            [0., 1.]])
    """
    (n,) = _shape((n,), "eye")
    if m is not None:
        (m,) = _shape((m,), "eye")
    k = check_int(k, "k (the diagonal's offset)", "eye")
    return _leaf(np.eye(n, m, k, dtype=_dtype(dtype, "eye")), requires_grad, name)


def randn(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """Samples of the standard normal distribution ``N(0, 1)``: ``randn(2, 3)`` or ``randn((2, 3))``.

    ``rng`` is an int seed or a ``numpy.random.Generator`` (None: a fresh, unseeded one).
    The same seed gives the same values in any dtype (float32 values are the float64
    draws rounded).

    >>> bool((randn(2, 3, rng=0) == randn((2, 3), rng=0)).all())
    True
    """
    values = _generator(rng, "randn").standard_normal(_shape(shape, "randn"))
    return _leaf(values.astype(_dtype(dtype, "randn"), copy=False), requires_grad, name)


def rand(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """Samples of the uniform distribution on ``[0, 1)``: ``rand(2, 3)`` or ``rand((2, 3))``.

    ``rng`` as for :func:`randn`.

    >>> x = rand(1000, rng=0)
    >>> bool((x.data >= 0).all() and (x.data < 1).all())
    True
    """
    values = _generator(rng, "rand").random(_shape(shape, "rand"))
    return _leaf(values.astype(_dtype(dtype, "rand"), copy=False), requires_grad, name)


# ============================================================== helpers


def _leaf(data: np.ndarray, requires_grad: bool, name: str | None) -> Tensor:
    t = Tensor._make(data, None)
    t.requires_grad = bool(requires_grad)
    t.name = name
    return t


def _dtype(dtype: Any, where: str) -> np.dtype:
    if dtype is None:
        return DEFAULT_DTYPE
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: {dtype!r} is not a dtype; use np.float32 or np.float64") from None
    if dt.kind != "f":
        raise TypeError(f"{where}: dtype must be a floating type such as np.float32 or np.float64, got {dt}")
    return dt


def _shape(args: tuple[Any, ...], where: str) -> tuple[int, ...]:
    """``(2, 3)`` from ``f(2, 3)`` or ``f((2, 3))``; sizes must be non-negative integers."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, np.ndarray)):
        args = tuple(np.asarray(args[0]).reshape(-1).tolist()) if isinstance(args[0], np.ndarray) else tuple(args[0])
    elif not args:
        raise TypeError(f"{where}: give a shape, such as {where}(2, 3) or {where}((2, 3)); {where}(()) is a 0-d tensor")
    for n in args:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(
                f"{where}: a shape is made of non-negative integers, got {n!r} in {args!r}"
                + (f" (the shape is the first argument: {where}(shape, value))" if where == "full" else "")
            )
    return tuple(int(n) for n in args)


def _filled(shape: tuple[int, ...], value: Any, dtype: np.dtype, where: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.data
    arr = as_float_array(value, dtype, copy=False, what=where)
    try:
        return np.array(np.broadcast_to(arr, shape), dtype=dtype)
    except ValueError:
        raise ValueError(f"{where}: value of shape {arr.shape} does not broadcast to the shape {shape}") from None


def _like(t: Any, dtype: Any, where: str) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(t, Tensor):
        shape, own = t.shape, t.dtype
    else:
        arr = np.asarray(t)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{where}: expected a Tensor or a numeric array, got {type(t).__name__}")
        shape, own = arr.shape, arr.dtype if arr.dtype.kind == "f" else DEFAULT_DTYPE
    return shape, own if dtype is None else _dtype(dtype, where)


def _generator(rng: Any, where: str) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()  # fresh entropy; NumPy's global state is left alone
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(f"{where}: rng must be a non-negative int seed, a numpy.random.Generator or None, got {rng!r}")
