"""The arguments of a compiled function: the key that chooses its program, and its inputs.

An argument that is a Tensor or a NumPy array (also inside tuples, lists and dicts) is an
*input*: the key holds its shape and dtype (and, for a Tensor, whether it requires grad), and
the program receives the object itself at every call. Anything else is part of the program:
the key holds its value (compared by equality where it is hashable, else by identity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..tensor import Tensor

#: Markers in a key: an input Tensor, an input array, the same input again, a value, an object.
TENSOR, ARRAY, AGAIN, VALUE, OBJECT = "T", "A", "=", "V", "O"


class Flat:
    """One call's arguments, flattened: ``key`` (hashable), ``inputs`` (the Tensors and arrays, each
    once, in order), and ``objects`` (what the key names by identity, kept alive with it)."""

    __slots__ = ("key", "inputs", "objects")

    def __init__(self) -> None:
        self.inputs: list[Any] = []
        self.objects: list[Any] = []
        self.key: Any = None


def flatten(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Flat:
    """The key and inputs of a call ``f(*args, **kwargs)``."""
    flat = Flat()
    seen: dict[int, int] = {}
    positional = tuple([_key(a, flat, seen) for a in args])
    flat.key = (positional, tuple([(k, _key(v, flat, seen)) for k, v in kwargs.items()]) if kwargs else ())
    return flat


def _key(a: Any, flat: Flat, seen: dict[int, int]) -> Any:
    t = type(a)
    if t is float or t is int or t is bool or t is str or a is None:
        return (VALUE, t, a)
    if isinstance(a, (Tensor, np.ndarray)):
        i = seen.get(id(a))
        if i is not None:
            return (AGAIN, i)
        seen[id(a)] = len(flat.inputs)
        flat.inputs.append(a)
        if isinstance(a, Tensor):
            if a._node is not None:
                raise ValueError(
                    f"ag.compile: an argument Tensor of shape {a.shape} was computed by ops that require grad (it "
                    "has a graph), which a compiled program cannot go back through; pass a leaf: x.detach(), or "
                    "compute x inside the compiled function"
                )
            data = a.data
            return (TENSOR, data.shape, data.dtype, a.requires_grad)
        return (ARRAY, a.shape, a.dtype)
    if t is tuple or t is list:
        return (t, tuple(_key(x, flat, seen) for x in a))
    if t is dict:
        return (t, tuple((k, _key(v, flat, seen)) for k, v in a.items()))
    if isinstance(a, tuple) and hasattr(a, "_fields"):  # a namedtuple
        return (t, tuple(_key(x, flat, seen) for x in a))
    try:
        hash(a)
    except TypeError:
        flat.objects.append(a)
        return (OBJECT, id(a))
    return (VALUE, t, a)


def rebuild(args: tuple[Any, ...], kwargs: dict[str, Any], swap: Callable[[Any], Any]) -> tuple[Any, Any]:
    """``args`` and ``kwargs`` with every input ``x`` replaced by ``swap(x)`` (called once per object)."""
    done: dict[int, Any] = {}

    def one(a: Any) -> Any:
        if isinstance(a, (Tensor, np.ndarray)):
            if id(a) not in done:
                done[id(a)] = swap(a)
            return done[id(a)]
        t = type(a)
        if t is tuple or t is list:
            return t(one(x) for x in a)
        if t is dict:
            return {k: one(v) for k, v in a.items()}
        if isinstance(a, tuple) and hasattr(a, "_fields"):
            return t(*(one(x) for x in a))
        return a

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


def describe(part: Any) -> str:
    """A readable description of one argument's part of a key (for the retrace warning)."""
    kind = part[0] if isinstance(part, tuple) and part else None
    if kind == TENSOR:
        return f"a Tensor of shape {part[1]}, {part[2]}" + (", requires grad" if part[3] else "")
    if kind == ARRAY:
        return f"an array of shape {part[1]}, {part[2]}"
    if kind == VALUE:
        return repr(part[2])
    if kind == OBJECT:
        return "an object (compared by identity)"
    if kind == AGAIN:
        return f"the same object as input {part[1]}"
    if kind in (tuple, list, dict):
        return f"a {kind.__name__} of {len(part[1])}"
    return repr(part)
