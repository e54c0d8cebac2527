"""``Module``, ``Parameter`` and ``Sequential``: how layers hold their weights.

A module finds its parts by looking at its attributes: every ``Parameter`` and every
sub-``Module`` assigned to ``self`` (directly, or inside a list, tuple or dict) is
found, in the order the attributes were set. Nothing needs registering, and a
subclass that forgets ``super().__init__()`` still works. Arrays that are state but
not learnable (BatchNorm's running statistics) are declared with
:meth:`Module.register_buffer`: they go into ``state_dict`` but not ``parameters``.

>>> class TwoLayer(Module):
...     def __init__(self):
...         super().__init__()
...         self.hidden = Dense(4, 8)
...         self.out = Dense(8, 2)
...     def forward(self, x):
...         return self.out(self.hidden(x).relu())
>>> [name for name, _ in TwoLayer().named_parameters()]   # doctest: +SKIP
['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from autograd_core import Tensor, no_grad, tracing
from autograd_core import versions as _versions
from autograd_core._checks import check_int

__all__ = ["Parameter", "Module", "Sequential", "LoadResult", "layer_input", "positive_int"]


def positive_int(value: Any, what: str, where: str) -> int:
    """``check_int(value, what, where, low=1)`` for a layer's sizes, whose every refusal (a
    string too) has always been a ValueError.

    >>> positive_int(3, "in_features", "Dense")
    3
    """
    try:
        return check_int(value, what, where, low=1)
    except TypeError as err:
        raise ValueError(str(err)) from None


def layer_input(x: Any, dtype: np.dtype, where: str) -> Any:
    """``x`` in a layer's dtype: the rule every layer follows for its input.

    A layer computes in the dtype of its parameters, so a float32 model stays float32
    whatever the data: floating, integer and bool inputs of another dtype are cast (a
    Tensor through the differentiable ``astype``, so gradients still flow back to it,
    in its own dtype). Anything that is not numeric raises a TypeError naming the layer.

    >>> layer_input(np.ones(2), np.dtype(np.float32), "Dense(2, 1)").dtype
    dtype('float32')
    """
    if isinstance(x, Tensor):
        return x if x.data.dtype == dtype else x.astype(dtype)
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)  # (an array as it is: a traced one stays traced)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: input must be numeric, got dtype {arr.dtype}")
    return arr if arr.dtype == dtype else tracing.effect(_cast_input, arr, dtype)  # (made again by ag.compile)


class Parameter(Tensor):
    """A learnable Tensor: a leaf that requires grad, found automatically by its Module.

    ``data`` is copied (``float64`` by default, ``float32`` when given float32 data or
    ``dtype=np.float32``).

    >>> w = Parameter(np.zeros((3, 2)))
    >>> w.requires_grad
    True

    ``module_name`` is the dotted name a module lists it under (``"0.weight"``), recorded
    when a module looks for its parameters (``parameters()``, ``state_dict()``, its first
    call, ...); ``ag.draw_graph`` shows it when the parameter has no ``name`` of its own.
    Inside nested modules the longest name wins: the one of the largest model holding it.
    """

    __slots__ = ("module_name",)

    def __init__(self, data: Any, dtype: Any = None, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype, name=name)
        self.module_name: str | None = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Parameter(")
        extra = "" if self.data.dtype == np.float64 else f", dtype={self.data.dtype}"
        return f"Parameter({body}{extra})"


class LoadResult(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _remember_name(p: Parameter, name: str) -> None:
    """Record ``name`` as ``p.module_name`` unless it already has a longer (more nested) one."""
    old = getattr(p, "module_name", None)
    if old is None or name.count(".") >= old.count("."):
        p.module_name = name


def _cast_input(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A layer's array input in the layer's dtype (a copy)."""
    return arr.astype(dtype)


def _set_modes(modes: list[tuple[Module, bool]]) -> None:
    for m, mode in modes:
        m.training = mode


def _forget_grads(params: list[Parameter]) -> None:
    for p in params:
        p.grad = None


def _count(n: int) -> str:
    return f"{n:,} param{'' if n == 1 else 's'}"


class Module:
    """Base class of layers and models: calling a module runs its ``forward``.

    Subclasses assign Parameters and sub-modules as attributes and define ``forward``.
    ``train()`` / ``eval()`` switch the mode of the module and everything inside it
    (it matters for BatchNorm and Dropout); ``.training`` tells which.
    """

    #: True in training mode (the default), False after ``eval()``.
    training: bool = True
    _buffer_names: tuple[str, ...] | list[str] = ()
    _named: bool = False  # whether this module has given its parameters their names (see Parameter.module_name)
    _output_shape: str | None = None  # what nn.summary saw it return; shown by repr

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What calling the module computes; every module defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._named:  # once per module: name the parameters, so drawn graphs show "0.weight"
            for _, m in self.named_modules():
                m._named = True
        if tracing.active:  # ag.compile: a program is for this mode; another mode traces again
            tracing.guard(self, "training")
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ discovery
    def _members(self) -> Iterator[tuple[str, Parameter | Module]]:
        """Direct Parameters and sub-modules with their local names, in attribute order."""
        for name, value in vars(self).items():
            if isinstance(value, (Module, Parameter)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, (Module, Parameter)):
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, (Module, Parameter)):
                        yield f"{name}.{k}", v

    def register_buffer(self, name: str, value: Any) -> None:
        """Store ``value`` (a NumPy array) as ``self.<name>``: saved in ``state_dict``, not learnable."""
        if "_buffer_names" not in vars(self):
            self._buffer_names = []
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, np.asarray(value))

    def _walk(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, Any, str]]:
        """(dotted name, object, kind) for every parameter, buffer and module, depth first."""
        seen.add(id(self))
        for name, value in self._members():
            full = prefix + name
            if isinstance(value, Parameter):
                if id(value) not in seen:  # a shared parameter is listed once
                    seen.add(id(value))
                    _remember_name(value, full)
                    yield full, value, "param"
            elif id(value) not in seen:
                yield full, value, "module"
                yield from value._walk(full + ".", seen)
        for name in self._buffer_names:
            yield prefix + name, getattr(self, name), "buffer"

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs: ``"0.weight"``, ``"bn1.gamma"``, ... (each once)."""
        for name, obj, kind in self._walk("", set()):
            if kind == "param":
                yield name, obj

    def parameters(self) -> Iterator[Parameter]:
        """Every learnable Parameter (running statistics are not), each once: give them to an optimizer."""
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(dotted name, array)`` for the non-learnable state (``"1.running_mean"``, ...)."""
        for name, obj, kind in self._walk("", set()):
            if kind == "buffer":
                yield name, obj

    def named_modules(self) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``""``) and every module inside it."""
        yield "", self
        for name, obj, kind in self._walk("", set()):
            if kind == "module":
                yield name, obj

    def modules(self) -> Iterator[Module]:
        """This module and every module inside it, each once."""
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, value in self._members():
            if isinstance(value, Module):
                yield value

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Training mode for this module and everything inside it (returns ``self``)."""
        modes = [(m, bool(mode)) for m in self.modules()]
        if tracing.active:  # inside ag.compile: a change of state the program makes too
            for m, _ in modes:
                tracing.wrote(m, "training")
            tracing.effect(_set_modes, modes)
        else:
            _set_modes(modes)
        return self

    def eval(self) -> Module:
        """Evaluation mode: BatchNorm uses its running statistics, Dropout does nothing."""
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self, grad: bool = False) -> Iterator[Module]:
        """Eval mode inside the ``with`` block (under ``no_grad`` unless ``grad=True``); every
        module's own mode is restored afterwards, also when the block raises.

        >>> model = nn.Sequential(nn.Dense(2, 2, rng=0), nn.Dropout(0.5))
        >>> with model.evaluating():
        ...     model[1].training
        False
        >>> model[1].training
        True
        """
        modes = [(m, m.training) for m in self.modules()]
        self.eval()
        try:
            if grad:
                yield self
            else:
                with no_grad():
                    yield self
        finally:
            if tracing.active:
                tracing.effect(_set_modes, modes)
            else:
                _set_modes(modes)

    def onnx_export_context(self) -> contextlib.AbstractContextManager[dict[int, str]]:
        """What ``ag.export_onnx`` runs this module in: eval mode, and its ``state_dict`` names
        for the initializers (see ``nn/export.py``)."""
        from .export import export_context

        return export_context(self)

    def zero_grad(self) -> None:
        """Forget the accumulated gradients of every parameter (``.grad = None``)."""
        params = list(self.parameters())
        if tracing.active:  # inside ag.compile: a change of state the program makes too
            tracing.effect(_forget_grads, params)
        else:
            _forget_grads(params)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Name → NumPy array (a copy) for every parameter and buffer (running statistics included)."""
        d = {}
        for name, obj, kind in self._walk("", set()):
            if kind == "param":
                d[name] = obj.data.copy()
            elif kind == "buffer":
                d[name] = np.array(obj, copy=True)
        return d

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy the arrays of ``state_dict`` into this module's parameters and buffers, in place.

        Everything is checked before anything changes. With ``strict=True`` a key the
        module has but the dict lacks (missing) or the reverse (unexpected) is an error;
        a shape mismatch always is. Values are cast to each parameter's dtype. Parameters
        stay the same objects, so an optimizer built on them keeps working.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected a dict of name → array, got {type(state_dict).__name__}")
        own = {name: (obj, kind) for name, obj, kind in self._walk("", set()) if kind != "module"}
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        values = {}
        modules = dict(self.named_modules())
        for key, (obj, kind) in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value.data if isinstance(value, Tensor) else np.asarray(value)
            target = obj.data if kind == "param" else obj
            if arr.dtype.kind not in "biuf":
                problems.append(f"{key!r} has dtype {arr.dtype}; expected numbers")
            elif arr.shape != target.shape:
                problems.append(f"{key!r} has shape {arr.shape} in the dict but {target.shape} in the module")
            elif not np.isfinite(arr).all():
                problems.append(f"{key!r} holds NaN or infinity")
            else:
                owner, _, local = key.rpartition(".")
                problem = modules[owner].check_state(local, arr)
                if problem:
                    problems.append(f"{key!r} {problem}")
                else:
                    values[key] = (target, arr)
        if problems or (strict and (missing or unexpected)):
            lines = [f"{where}: the state dict does not fit this module:"]
            if strict and missing:
                lines.append(f"  missing keys (in the module, not in the dict): {', '.join(map(repr, missing))}")
            if strict and unexpected:
                lines.append(f"  unexpected keys (in the dict, not in the module): {', '.join(map(repr, unexpected))}")
            lines.extend(f"  wrong shape, dtype or values: {p}" for p in problems)
            lines.append(
                "Was it saved from a model of the same architecture?"
                + (" strict=False ignores missing and unexpected keys." if strict and (missing or unexpected) else "")
            )
            raise ValueError("\n".join(lines))
        for target, arr in values.values():
            target[...] = arr  # in place: optimizers keep pointing at the same arrays
            _versions.bump(target)  # a graph recorded before the load must not use the new values
        return LoadResult(missing, unexpected)

    def check_state(self, name: str, value: np.ndarray) -> str | None:
        """Why ``value`` cannot be this module's parameter or buffer ``name`` (None if it can).

        ``load_state_dict`` calls it for every entry after checking dtype, shape and finiteness;
        layers override it for their own rules (BatchNorm: a variance is never negative).
        """
        return None

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of a leaf module's repr (its settings)."""
        return ""

    def _repr_lines(self, root_training: bool) -> list[str]:
        subs = [(name, value) for name, value in self._members() if isinstance(value, Module)]
        nparams = sum(p.data.size for p in self.parameters())
        notes = [f"out {self._output_shape}"] if self._output_shape else []
        notes += [_count(nparams)] if nparams else []
        if self.training != root_training:
            notes.append("training mode" if self.training else "eval mode")
        note = f"  # {', '.join(notes)}" if notes else ""
        if not subs:
            return [f"{type(self).__name__}({self.extra_repr()}){note}"]
        lines = [f"{type(self).__name__}("]
        for name, m in subs:
            sub = m._repr_lines(root_training)
            lines.append(f"  ({name}): {sub[0]}")
            lines.extend("  " + s for s in sub[1:])
        lines.append(f"){note}")
        return lines

    def __repr__(self) -> str:
        lines = self._repr_lines(self.training)
        mode = "training mode" if self.training else "eval mode"
        lines[-1] += f", {mode}" if "  # " in lines[-1] else f"  # {mode}"
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Indexable (``seq[0]``; a slice gives a Sequential), iterable and sized; the
    parameters of ``seq[i]`` are named ``"i.weight"`` and so on.

    >>> model = Sequential(Dense(64, 32, bias=False), BatchNorm(32), ReLU(), Dense(32, 10))  # doctest: +SKIP
    >>> len(model), model[0].weight.shape                                                   # doctest: +SKIP
    (4, (64, 32))
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential: item {i} is a {type(m).__name__}, not a Module "
                    "(wrap functions in a Module, or call them in a Module's forward)"
                )
        self.layers = list(modules)

    def _members(self) -> Iterator[tuple[str, Parameter | Module]]:
        for i, m in enumerate(self.layers):
            yield str(i), m

    def forward(self, x: Any) -> Any:
        """Each layer in turn, the output of one the input of the next."""
        for layer in self.layers:
            x = layer(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (returns ``self``)."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self.layers.append(module)
        self._named = False  # name the new parameters at the next call
        return self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            part = Sequential(*self.layers[index])
            part.training = self.training
            return part
        try:
            return self.layers[index]
        except IndexError:
            raise IndexError(f"Sequential: index {index} out of range for {len(self.layers)} layers") from None

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)
