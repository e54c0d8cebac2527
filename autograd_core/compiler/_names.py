"""Names in a generated program: its constants (captured tensors and arrays, op classes, effects,
dtypes) as readable globals, and Python literals for the numbers and tuples it can write out."""

from __future__ import annotations

import keyword
import math
import re
import types
from typing import Any

import numpy as np

from ..tensor import Tensor


class Names:
    """The globals of one generated program: ``name(obj)`` gives each object one readable name."""

    def __init__(self, base: dict[str, Any]) -> None:
        self.globals: dict[str, Any] = dict(base)
        self._by_id: dict[int, str] = {id(v): k for k, v in base.items() if not isinstance(v, (int, float, str))}
        self._kept: list[Any] = []
        #: The globals holding state (captured tensors and arrays, objects an effect changes): what a
        #: statement may not be folded over (``name(obj)``, unless ``constant(obj)`` made it first).
        self.state: set[str] = set()

    def constant(self, obj: Any, hint: str | None = None) -> str:
        """``name(obj)`` for an object nobody changes (the seed of a backward pass, a folded value)."""
        return self.name(obj, hint, state=False)

    def name(self, obj: Any, hint: str | None = None, state: bool = True) -> str:
        """The global that holds ``obj`` (made on first use, named after ``hint`` or the object)."""
        found = self._by_id.get(id(obj))
        if found is not None:
            return found
        stem = _identifier(hint or _hint(obj))
        name, i = stem, 1
        while name in self.globals or keyword.iskeyword(name):
            i += 1
            name = f"{stem}_{i}"
        self.globals[name] = obj
        self._by_id[id(obj)] = name
        self._kept.append(obj)  # its id stays unique while the program lives
        if state and not isinstance(obj, (type, np.dtype)) and not callable(obj):
            self.state.add(name)
        return name

    def literal(self, x: Any) -> str:
        """``x`` as Python source: a literal for numbers, strings, None, slices, Ellipsis and tuples or
        lists of them; the name of a global for anything else (arrays, dtypes, NumPy scalars)."""
        t = type(x)
        if x is None or t is bool or t is int or t is str:
            return repr(x)
        if t is float:
            if math.isfinite(x):
                return repr(x)
            return self.name(x, "inf" if x > 0 else "minus_inf" if x < 0 else "nan")
        if x is Ellipsis:
            return "..."
        if t is slice:
            return f"slice({self.literal(x.start)}, {self.literal(x.stop)}, {self.literal(x.step)})"
        if t is tuple:
            items = ", ".join(self.literal(v) for v in x)
            return f"({items},)" if len(x) == 1 else f"({items})"
        if t is list:
            return "[" + ", ".join(self.literal(v) for v in x) + "]"
        if isinstance(x, np.dtype):
            return self.name(x, x.name)
        if isinstance(x, type) and issubclass(x, np.generic):
            return self.name(x, f"np_{x.__name__}")
        return self.name(x)


def _identifier(text: str) -> str:
    text = re.sub(r"\W+", "_", text).strip("_") or "c"
    return "_" + text if text[0].isdigit() else text


def _hint(obj: Any) -> str:
    """A readable name for a constant of the program."""
    if isinstance(obj, Tensor):
        name = obj.name or getattr(obj, "module_name", None)
        return f"{name}" if name else "t"
    if isinstance(obj, np.ndarray):
        return "c"
    if isinstance(obj, types.MethodType):
        owner = obj.__self__
        owner_name = type(owner).__name__ if not isinstance(owner, type) else owner.__name__
        return f"{owner_name}_{obj.__func__.__name__}".lower().replace("__", "_")
    if isinstance(obj, type):
        return obj.__name__
    name = getattr(obj, "__name__", None)
    if isinstance(name, str) and name != "<lambda>":
        return name
    return type(obj).__name__.lower()
