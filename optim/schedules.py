"""Learning-rate decay, as the deep-learning course teaches it: small objects that set ``optimizer.lr``.

A schedule keeps the learning rate each group had when the schedule was made (``base_lr``,
α₀) and sets ``lr = α₀ · factor(epoch)``. Epochs are numbered from 1, as in the course's
table (α₀ = 0.2 and ``decay_rate = 1`` give 0.1, 0.067, 0.05, 0.04 for epochs 1-4):
creating a schedule sets the learning rate of epoch 1, and :meth:`Schedule.step` moves to the
next epoch. Call it once per epoch, or once per mini-batch to decay per step (then the epoch
is the step ``t``). Any optimizer works::

    opt = optim.Adam(params, lr=0.2)
    schedule = optim.InverseTimeDecay(opt, decay_rate=1.0)   # opt.lr == 0.1 (epoch 1)
    for epoch in range(10):
        for batch in batches:
            opt.minimize(lambda: loss(batch))
        schedule.step()                                       # 0.0667, 0.05, ...

PyTorch's schedulers start at ``α₀`` on their epoch 0, so e.g. ``ExponentialLR(gamma=0.95)``
gives our sequence one epoch later.

To change the learning rate by hand while a schedule runs ("babysitting" one model), set
``schedule.base_lr``; it takes effect at once, and the decay continues from there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autograd_core import tracing
from autograd_core._checks import check_int, check_real

from .optimizer import Optimizer


class Schedule:
    """Base class: ``lr = base_lr · factor(epoch)`` for every parameter group."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an optim optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs: list[float] = [group["lr"] for group in optimizer.param_groups]
        self.epoch = 0
        self.step()

    def factor(self, epoch: int) -> float:
        """The multiplier of ``base_lr`` at ``epoch`` (1, 2, ...)."""
        raise NotImplementedError

    def lr_at(self, epoch: int) -> float:
        """The learning rate of the first group at ``epoch``, without changing anything."""
        return self.base_lrs[0] * self.factor(epoch)

    @property
    def base_lr(self) -> float:
        """α₀ (of the first group). Setting it sets every group's and applies it at once."""
        return self.base_lrs[0]

    @base_lr.setter
    def base_lr(self, value: float) -> None:
        value = self.optimizer._check("lr", value)
        self.base_lrs = [value] * len(self.base_lrs)
        self._apply()

    def step(self, epoch: int | None = None) -> None:
        """Move to the next epoch (or to ``epoch``) and set the optimizer's learning rate."""
        explicit = epoch
        if epoch is None:
            epoch = self.epoch + 1
        epoch = check_int(epoch, "epoch", f"{type(self).__name__}.step", low=1, expected="an integer >= 1")
        if tracing.active:  # inside ag.compile: a change of state the program makes too
            tracing.effect(self._move, None if explicit is None else epoch)
        else:
            self._move(None if explicit is None else epoch)

    def _move(self, epoch: int | None) -> None:
        self.epoch = self.epoch + 1 if epoch is None else epoch
        self._apply()

    def _apply(self) -> None:
        f = self.factor(self.epoch)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.optimizer._check("lr", base * f)

    def state_dict(self) -> dict[str, np.ndarray]:
        """``schedule`` (the class name), ``epoch`` and ``base_lrs``, as NumPy arrays."""
        return {
            "schedule": np.array(type(self).__name__),
            "epoch": np.array(self.epoch, dtype=np.int64),
            "base_lrs": np.array(self.base_lrs, dtype=np.float64),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the epoch and ``base_lrs`` and set the optimizer's learning rate accordingly."""
        where = f"{type(self).__name__}.load_state_dict"
        missing = {"schedule", "epoch", "base_lrs"} - set(state_dict)
        if missing:
            raise ValueError(f"{where}: missing entries {sorted(missing)}")
        saved_type = str(np.asarray(state_dict["schedule"]))
        if saved_type != type(self).__name__:
            raise ValueError(f"{where}: the state is from a {saved_type}, not a {type(self).__name__}")
        raw = np.asarray(state_dict["base_lrs"])
        if raw.dtype.kind not in "iuf":
            raise ValueError(f"{where}: entry 'base_lrs' has dtype {raw.dtype}; expected numbers")
        base_lrs = [self.optimizer._check("lr", x) for x in raw.reshape(-1).tolist()]  # finite, >= 0
        if len(base_lrs) != len(self.base_lrs):
            raise ValueError(
                f"{where}: the state has {len(base_lrs)} parameter group(s), the optimizer {len(self.base_lrs)}"
            )
        epoch = np.asarray(state_dict["epoch"])
        if epoch.shape != () or epoch.dtype.kind not in "iuf" or not np.isfinite(epoch) or epoch != np.round(epoch):
            raise ValueError(f"{where}: entry 'epoch' must be a whole number, got {epoch.tolist()!r}")
        if epoch < 1:
            raise ValueError(f"{where}: entry 'epoch' must be at least 1 (epochs count from 1), got {int(epoch)}")
        self.base_lrs = base_lrs
        self.step(int(epoch))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(epoch={self.epoch}, base_lr={self.base_lr:g}, lr={self.optimizer.lr:g})"


def _positive(owner: str, name: str, value: float, *, allow_zero: bool = False) -> float:
    need = "non-negative" if allow_zero else "positive"
    return check_real(value, name, owner, low=0, low_open=not allow_zero, expected=f"a {need} finite number")


class InverseTimeDecay(Schedule):
    """``lr = α₀ / (1 + decay_rate · epoch)``.

    >>> import optim
    >>> from autograd_core import Tensor
    >>> opt = optim.GradientDescent([Tensor(0.0, requires_grad=True)], lr=0.2)
    >>> s = optim.InverseTimeDecay(opt, decay_rate=1.0)
    >>> [round(s.lr_at(epoch), 4) for epoch in (1, 2, 3, 4)]
    [0.1, 0.0667, 0.05, 0.04]
    """

    def __init__(self, optimizer: Optimizer, decay_rate: float = 1.0) -> None:
        self.decay_rate = _positive(type(self).__name__, "decay_rate", decay_rate, allow_zero=True)
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return 1.0 / (1.0 + self.decay_rate * epoch)


class ExponentialDecay(Schedule):
    """``lr = rate^epoch · α₀`` (for example ``0.95^epoch · α₀``).

    >>> import optim
    >>> from autograd_core import Tensor
    >>> opt = optim.GradientDescent([Tensor(0.0, requires_grad=True)], lr=0.2)
    >>> s = optim.ExponentialDecay(opt, rate=0.95)
    >>> [round(s.lr_at(epoch), 6) for epoch in (1, 2, 3)]
    [0.19, 0.1805, 0.171475]
    """

    def __init__(self, optimizer: Optimizer, rate: float = 0.95) -> None:
        self.rate = _positive(type(self).__name__, "rate", rate)
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return self.rate**epoch


class InverseSqrtDecay(Schedule):
    """``lr = k / √epoch · α₀``.

    >>> import optim
    >>> from autograd_core import Tensor
    >>> opt = optim.GradientDescent([Tensor(0.0, requires_grad=True)], lr=0.2)
    >>> s = optim.InverseSqrtDecay(opt, k=1.0)
    >>> [round(s.lr_at(epoch), 4) for epoch in (1, 2, 3, 4)]
    [0.2, 0.1414, 0.1155, 0.1]
    """

    def __init__(self, optimizer: Optimizer, k: float = 1.0) -> None:
        self.k = _positive(type(self).__name__, "k", k)
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return self.k / math.sqrt(epoch)


class StaircaseDecay(Schedule):
    """The discrete staircase: ``lr = α₀ · drop^⌊(epoch − 1) / every⌋``; epochs 1 to ``every`` use α₀.

    >>> import optim
    >>> from autograd_core import Tensor
    >>> opt = optim.GradientDescent([Tensor(0.0, requires_grad=True)], lr=0.2)
    >>> s = optim.StaircaseDecay(opt, every=2, drop=0.5)
    >>> [s.lr_at(epoch) for epoch in range(1, 6)]
    [0.2, 0.2, 0.1, 0.1, 0.05]
    """

    def __init__(self, optimizer: Optimizer, every: int, drop: float = 0.5) -> None:
        name = type(self).__name__
        self.every = check_int(every, "every", name, low=1, expected="a positive integer (epochs per step)")
        self.drop = check_real(drop, "drop", name, low=0, high=1, low_open=True, expected="in (0, 1]")
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return self.drop ** ((epoch - 1) // self.every)


class LambdaDecay(Schedule):
    """Any rule: ``lr = α₀ · fn(epoch)``.

    >>> import optim
    >>> from autograd_core import Tensor
    >>> opt = optim.GradientDescent([Tensor(0.0, requires_grad=True)], lr=0.2)
    >>> s = optim.LambdaDecay(opt, lambda epoch: 1.0 if epoch < 10 else 0.1)
    >>> s.lr_at(9), round(s.lr_at(10), 6)
    (0.2, 0.02)
    """

    def __init__(self, optimizer: Optimizer, fn: Callable[[int], float]) -> None:
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return float(self.fn(epoch))
