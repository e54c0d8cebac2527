"""``nn.summary(model, example)``: each layer's output shape and parameter count, as Keras and torchinfo print them.

>>> model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 2, rng=1))
>>> print(nn.summary(model, np.zeros((32, 4))))
Sequential: input (32, 4) float64, output (32, 2)
=============================================
Layer (type)        Output shape      Param #
=============================================
0 (Dense)           (32, 8)                40
1 (ReLU)            (32, 8)                 0
2 (Dense)           (32, 2)                18
=============================================
Total params: 58 (464 B)
Trainable params: 58
Non-trainable params: 0
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from autograd_core import Tensor

from .module import Module

__all__ = ["summary", "Summary", "Row"]


class Row(NamedTuple):
    """One line of a :class:`Summary`: a module, its output shape(s) and its own parameters."""

    name: str  # the dotted name, as in model.named_modules()
    type: str  # the class name
    depth: int  # 0 for the model's direct parts, 1 inside them, ...
    output_shape: str  # "(32, 8)"; "[(32, 5, 16), (1, 32, 16)]" for several outputs; "-" when not called
    calls: int  # how many times it ran during the forward pass
    params: int | None  # the parameters it holds itself (None: only its parts hold some)


def _shape(out: Any) -> str:
    if isinstance(out, (Tensor, np.ndarray)):
        return str(tuple(out.shape))
    if isinstance(out, (tuple, list)):
        return "[" + ", ".join(_shape(o) for o in out) + "]"
    if isinstance(out, dict):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in out.items()) + "}"
    return type(out).__name__


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


class Summary:
    """What :func:`summary` returns: printing it (``str``, ``repr``) gives the table.

    ``rows`` (a :class:`Row` per module, depth first), ``total_params``,
    ``trainable_params`` (parameters with ``requires_grad``), ``param_bytes``,
    ``inputs`` (the shape and dtype of each input) and ``output_shape`` hold the numbers.
    """

    def __init__(
        self, model: Module, inputs: list[tuple[tuple[int, ...], str]], output_shape: str, rows: list[Row]
    ) -> None:
        self.model_type = type(model).__name__
        self.inputs = inputs
        self.output_shape = output_shape
        self.rows = rows
        params = list(model.parameters())
        self.total_params = sum(p.data.size for p in params)
        self.trainable_params = sum(p.data.size for p in params if p.requires_grad)
        self.param_bytes = sum(p.data.nbytes for p in params)

    def __str__(self) -> str:
        names = ["  " * r.depth + f"{r.name} ({r.type})" for r in self.rows]
        shapes = [r.output_shape + (f" x{r.calls}" if r.calls > 1 else "") for r in self.rows]
        counts = ["--" if r.params is None else f"{r.params:,}" for r in self.rows]
        w_name = max([18, *map(len, names)]) + 2
        w_shape = max([16, *map(len, shapes)]) + 2
        w_count = max([len("Param #"), *map(len, counts)])
        width = w_name + w_shape + w_count
        inputs = ", ".join(f"{shape} {dtype}" for shape, dtype in self.inputs)
        lines = [f"{self.model_type}: input {inputs}, output {self.output_shape}", "=" * width]
        lines.append(f"{'Layer (type)':<{w_name}}{'Output shape':<{w_shape}}{'Param #':>{w_count}}")
        lines.append("=" * width)
        lines += [f"{n:<{w_name}}{s:<{w_shape}}{c:>{w_count}}" for n, s, c in zip(names, shapes, counts)]
        lines.append("=" * width)
        lines.append(f"Total params: {self.total_params:,} ({_size(self.param_bytes)})")
        lines.append(f"Trainable params: {self.trainable_params:,}")
        lines.append(f"Non-trainable params: {self.total_params - self.trainable_params:,}")
        return "\n".join(lines)

    __repr__ = __str__


def summary(model: Module, example: Any) -> Summary:
    """Each layer's name, output shape and parameter count, from one forward pass on ``example``.

    ``example`` is a batch as the model takes it (an array or a Tensor; a tuple is several
    inputs). The pass runs in eval mode under ``no_grad`` and every module's mode is restored.
    Parameters are counted as torchinfo counts them: running statistics (BatchNorm's) are
    state, not parameters. A module whose parameters all sit in its parts shows ``--``; a
    module called several times shows its first output shape and ``xN``. Afterwards
    ``print(model)`` shows each module's output shape too.

    It is the way to size a ``Dense`` after a convolution stack: the row of ``Flatten`` says
    how many features it gives.

    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.MaxPool2d(2), nn.Flatten())
    >>> [row.output_shape for row in nn.summary(model, np.zeros((2, 1, 8, 8))).rows]
    ['(2, 4, 8, 8)', '(2, 4, 4, 4)', '(2, 64)']
    """
    if not isinstance(model, Module):
        raise TypeError(f"nn.summary: model must be an nn.Module, got {type(model).__name__}")
    args = example if isinstance(example, tuple) else (example,)
    inputs = []
    for arg in args:
        arr = arg.data if isinstance(arg, Tensor) else np.asarray(arg)
        inputs.append((tuple(arr.shape), str(arr.dtype)))

    modules: list[tuple[str, Module, int]] = []  # depth first, each module once
    seen = {id(model)}

    def walk(module: Module, prefix: str, depth: int) -> None:
        for local, part in module._members():
            if isinstance(part, Module) and id(part) not in seen:
                seen.add(id(part))
                modules.append((prefix + local, part, depth))
                walk(part, prefix + local + ".", depth + 1)

    walk(model, "", 0)
    outputs: dict[int, str] = {}
    calls: dict[int, int] = {}
    patched = []
    for _, module, _ in [("", model, 0), *modules]:
        own = vars(module).get("forward")  # an instance's own forward, if it has one, comes back afterwards

        def forward(*a: Any, _forward: Any = module.forward, _key: int = id(module), **kw: Any) -> Any:
            out = _forward(*a, **kw)
            outputs.setdefault(_key, _shape(out))
            calls[_key] = calls.get(_key, 0) + 1
            return out

        module.forward = forward  # type: ignore[method-assign]
        patched.append((module, own))
    try:
        with model.evaluating():
            model(*args)
    finally:
        for module, own in patched:
            if own is None:
                del module.forward
            else:
                module.forward = own  # type: ignore[method-assign]

    rows = []
    counted: set[int] = set()
    own = [p for _, p in model._members() if not isinstance(p, Module)]
    if own:  # parameters the model holds itself, beside its parts
        counted.update(id(p) for p in own)
        rows.append(Row(type(model).__name__, type(model).__name__, 0, outputs.get(id(model), "-"), 1,
                        sum(p.data.size for p in own)))  # fmt: skip
    for name, module, depth in modules:
        own_params = [p for _, p in module._members() if not isinstance(p, Module) and id(p) not in counted]
        counted.update(id(p) for p in own_params)
        has_parts = any(isinstance(p, Module) for _, p in module._members())
        n = sum(p.data.size for p in own_params)
        rows.append(
            Row(
                name=name,
                type=type(module).__name__,
                depth=depth,
                output_shape=outputs.get(id(module), "-"),
                calls=calls.get(id(module), 0),
                params=None if has_parts and not own_params else n,
            )
        )
    for _, module, _ in [("", model, 0), *modules]:
        module._output_shape = outputs.get(id(module))
    return Summary(model, inputs, outputs.get(id(model), "-"), rows)
