"""The Optimizer base: parameters, per-parameter state, ``zero_grad``, ``step``, ``minimize``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd_core import Tensor, no_grad


class Optimizer:
    """Base class: subclasses implement :meth:`update` for one parameter.

    ``params`` is an iterable of Tensors (``nn.Parameter`` s, or any Tensor with
    ``requires_grad=True``). ``lr`` may be changed at any time.
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(
                    f"{type(self).__name__}: params[{i}] (shape {p.shape}) must be a leaf tensor with "
                    "requires_grad=True"
                )
        self.lr = lr
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = float(value)
        if not value >= 0:
            raise ValueError(f"{type(self).__name__}: lr must be a non-negative number, got {value}")
        self._lr = value

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (``.grad = None``)."""
        for p in self.params:
            p.grad = None

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient; those whose ``.grad`` is None are skipped."""
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self.update(p, p.grad, state)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def minimize(self, cost_fn: Callable[[], Tensor]) -> float:
        """One training step: ``zero_grad``, ``cost = cost_fn()``, ``backward``, ``step``.

        Returns the cost (before the step) as a float.
        """
        self.zero_grad()
        cost = cost_fn()
        if not isinstance(cost, Tensor):
            raise TypeError(f"minimize: cost_fn must return a Tensor, got {type(cost).__name__}")
        cost.backward()
        self.step()
        return float(cost.item())


class GradientDescent(Optimizer):
    """Plain gradient descent: ``w ← w − lr · g``.

    >>> w = Tensor(0.0, requires_grad=True)
    >>> GradientDescent([w], lr=0.01).minimize(lambda: w**2 - 10*w + 25)
    25.0
    >>> w.item()
    0.1
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        super().__init__(params, lr)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        p.data -= self.lr * g


SGD = GradientDescent
