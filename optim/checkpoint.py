"""Saving and loading an optimizer's state (and its schedule's) as ``.npz``, never unpickled."""

from __future__ import annotations

import os

from autograd_core.serialization import load_arrays, save_arrays

from .optimizer import Optimizer
from .schedules import Schedule

_PREFIX = "schedule/"


def save(optimizer: Optimizer, path: str | os.PathLike[str], schedule: Schedule | None = None) -> None:
    """Write ``optimizer.state_dict()`` (and ``schedule.state_dict()``) to the ``.npz`` file ``path``.

    The write is atomic. Save the model beside it (``nn.save``) to checkpoint training::

        nn.save(model, "day3-model.npz")
        optim.save(opt, "day3-optim.npz", schedule)
    """
    arrays = optimizer.state_dict()
    if schedule is not None:
        arrays.update({_PREFIX + k: v for k, v in schedule.state_dict().items()})
    save_arrays(path, arrays)


def load(optimizer: Optimizer, path: str | os.PathLike[str], schedule: Schedule | None = None) -> None:
    """Restore what :func:`save` wrote into ``optimizer`` (and ``schedule``); never unpickles.

    Raises a ValueError on a file from another optimizer type or other parameters, or when a
    schedule is asked for and the file has none.
    """
    arrays = load_arrays(path)
    sched = {k[len(_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_PREFIX)}
    own = {k: v for k, v in arrays.items() if not k.startswith(_PREFIX)}
    if schedule is not None and not sched:
        raise ValueError(f"optim.load: {os.fspath(path)} holds no schedule state")
    optimizer.load_state_dict(own)
    if schedule is not None:
        schedule.load_state_dict(sched)
