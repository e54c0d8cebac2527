"""The file behind ``nn.fit(..., checkpoint=path)`` and ``nn.fit(..., resume=path)``.

One ``.npz`` (written atomically by ``save_arrays``, read without unpickling) holds
everything needed to continue training exactly where it stopped::

    format                      "nn.fit checkpoint 1"
    epoch                       epochs completed (the next epoch's index)
    model/<name>                model.state_dict(): parameters and running statistics
    optimizer/<key>             optimizer.state_dict(): lr, moments, step counts
    schedule/<key>              schedule.state_dict(), when there is a schedule
    history/<name>, history.epoch    the learning curves so far
    split/val_index             the examples validation_split held out
    rng/<which>/<path>#<type>   the state of every random generator training uses

A NumPy Generator's state is a dict holding big integers (PCG64's 128-bit state);
each leaf is stored on its own: integers as decimal strings (``#int``), names as
strings (``#str``), arrays as arrays (``#array``), and rebuilt exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autograd_core.serialization import load_arrays, save_arrays

from .callbacks import Callback
from .module import Module

__all__ = [
    "FORMAT", "encode_state", "decode_state", "save_run", "load_run", "check_run", "apply_run", "BackupAndRestore",
]  # fmt: skip

FORMAT = "nn.fit checkpoint 1"


# ============================================================== generator states


def encode_state(prefix: str, state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A Generator's ``bit_generator.state`` (nested dicts) as flat name → array entries."""
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        name = f"{prefix}/{key}"
        if isinstance(value, Mapping):
            out.update(encode_state(name, value))
        elif isinstance(value, str):
            out[name + "#str"] = np.array(value)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            out[name + "#int"] = np.array(str(int(value)))  # exact, however big
        elif isinstance(value, np.ndarray):
            out[name + "#array"] = value.copy()
        else:
            raise TypeError(f"checkpoint: cannot store a generator state entry {name!r} of type {type(value).__name__}")
    return out


def decode_state(prefix: str, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The nested state dict :func:`encode_state` stored under ``prefix``."""
    state: dict[str, Any] = {}
    for full, value in arrays.items():
        if not full.startswith(prefix + "/"):
            continue
        path, _, kind = full[len(prefix) + 1 :].rpartition("#")
        *parents, leaf = path.split("/")
        node = state
        for p in parents:
            node = node.setdefault(p, {})
        if kind == "int":
            node[leaf] = int(str(value))
        elif kind == "str":
            node[leaf] = str(value)
        else:
            node[leaf] = np.array(value)
    return state


def generators(model: Module, shuffle: np.random.Generator) -> dict[str, np.random.Generator]:
    """Every generator a training run draws from: shuffling, ``nn``'s default one, and the modules' own."""
    from .init import default_rng

    found = {"shuffle": shuffle, "nn": default_rng()}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"module/{name + '.' if name else ''}{attr}"] = value
    return found


# ============================================================== the file


def save_run(
    path: str | os.PathLike[str],
    *,
    model: Module,
    optimizer: Any,
    schedule: Any,
    history: Any,
    epoch: int,
    rngs: Mapping[str, np.random.Generator],
    val_index: np.ndarray | None,
) -> None:
    """Write the whole training state to ``path`` in one atomic step."""
    arrays: dict[str, Any] = {"format": np.array(FORMAT), "epoch": np.array(epoch, dtype=np.int64)}
    arrays.update({f"model/{k}": v for k, v in model.state_dict().items()})
    arrays.update({f"optimizer/{k}": v for k, v in optimizer.state_dict().items()})
    if schedule is not None:
        arrays.update({f"schedule/{k}": v for k, v in schedule.state_dict().items()})
    arrays["history.epoch"] = np.array(history.epoch, dtype=np.int64)
    arrays.update({f"history/{k}": np.array(v, dtype=np.float64) for k, v in history.history.items()})
    if val_index is not None:
        arrays["split/val_index"] = np.asarray(val_index, dtype=np.int64)
    for which, gen in rngs.items():
        arrays.update(encode_state(f"rng/{which}", gen.bit_generator.state))
    save_arrays(path, arrays)


def load_run(path: str | os.PathLike[str]) -> dict[str, dict[str, np.ndarray] | np.ndarray]:
    """Read a checkpoint into its sections: ``model``, ``optimizer``, ``schedule``, ``history``, ..."""
    arrays = load_arrays(path)
    where = f"nn.fit(resume={os.fspath(path)!r})"
    if str(arrays.get("format", "")) != FORMAT:
        raise ValueError(
            f"{where}: not a checkpoint written by nn.fit(..., checkpoint=...) (no {FORMAT!r} marker); "
            "a model saved with nn.save is loaded with nn.load(model, path)"
        )

    def section(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

    return {
        "where": where,
        "epoch": int(arrays["epoch"]),
        "model": section("model/"),
        "optimizer": section("optimizer/"),
        "schedule": section("schedule/"),
        "history": section("history/"),
        "history.epoch": np.asarray(arrays["history.epoch"]),
        "val_index": arrays.get("split/val_index"),
        "rng": section("rng/"),
    }


def check_run(run: Mapping[str, Any], model: Module, optimizer: Any, schedule: Any, keys: list[str]) -> None:
    """Everything that must fit before anything is changed; a ValueError says what differs."""
    where = run["where"]
    own = model.state_dict()
    saved = run["model"]
    lines = []
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if missing:
        lines.append(f"  in the model, not in the checkpoint: {', '.join(missing)}")
    if unexpected:
        lines.append(f"  in the checkpoint, not in the model: {', '.join(unexpected)}")
    for k in own:
        if k in saved and saved[k].shape != own[k].shape:
            lines.append(f"  {k}: shape {saved[k].shape} in the checkpoint, {own[k].shape} in the model")
    if lines:
        raise ValueError(
            "\n".join([f"{where}: the checkpoint was saved from another architecture:", *lines])
            + "\nBuild the model the checkpoint was trained with (nothing was changed)."
        )
    saved_opt = str(run["optimizer"].get("optimizer", "?"))
    if saved_opt != type(optimizer).__name__:
        raise ValueError(
            f"{where}: the checkpoint holds the state of optimizer {saved_opt}, not {type(optimizer).__name__}; "
            f"make the optimizer a {saved_opt} (nothing was changed)"
        )
    sched = run["schedule"]
    if sched and schedule is None:
        raise ValueError(
            f"{where}: the run used a learning-rate schedule ({sched['schedule']}); pass schedule= to continue it "
            "(nothing was changed)"
        )
    if sched and str(sched["schedule"]) != type(schedule).__name__:
        raise ValueError(
            f"{where}: the checkpoint holds the state of schedule {sched['schedule']}, not {type(schedule).__name__} "
            "(nothing was changed)"
        )
    if sorted(run["history"]) != sorted(keys):
        raise ValueError(
            f"{where}: the checkpoint's history has {sorted(run['history'])} but this fit logs {sorted(keys)}; "
            "resume with the same metrics and validation (nothing was changed)"
        )


def apply_run(run: Mapping[str, Any], model: Module, optimizer: Any, schedule: Any, rngs: Mapping[str, Any]) -> None:
    """Load what :func:`check_run` accepted: optimizer (which checks itself before changing), schedule, model, rngs."""
    states = {which: decode_state(which, run["rng"]) for which in rngs}
    for which, gen in rngs.items():
        kind = gen.bit_generator.state["bit_generator"]
        if states[which] and states[which].get("bit_generator") != kind:
            raise ValueError(
                f"{run['where']}: the {which} generator was a {states[which].get('bit_generator')}, "
                f"this one is a {kind} (nothing was changed)"
            )
    backup = optimizer.state_dict()
    optimizer.load_state_dict(run["optimizer"])
    if schedule is not None and run["schedule"]:
        try:
            schedule.load_state_dict(run["schedule"])
        except Exception:
            optimizer.load_state_dict(backup)
            raise
    model.load_state_dict(run["model"])
    for which, gen in rngs.items():
        if states[which]:
            gen.bit_generator.state = states[which]


# ============================================================== the callback


class BackupAndRestore(Callback):
    """What ``nn.fit(..., checkpoint=path, resume=path)`` installs (Keras's ``BackupAndRestore``).

    :meth:`restore` loads the run read from ``resume`` (before training begins; it returns
    the epoch to start at); after every epoch whose loss is finite, ``on_epoch_end`` writes
    the whole training state to ``checkpoint``. ``fit`` puts it last among the callbacks,
    so what it writes is the state after every other callback has seen the epoch.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] | None,
        run: Mapping[str, Any] | None,
        *,
        schedule: Any,
        rngs: Mapping[str, np.random.Generator],
        val_index: np.ndarray | None,
        say: Callable[[str], None],
    ) -> None:
        self.checkpoint = checkpoint
        self.run = run
        self.schedule = schedule
        self.rngs = rngs
        self.val_index = val_index
        self.say = say

    def restore(self, keys: list[str], initial_epoch: int) -> int:
        """Load the run into the model, optimizer, schedule, generators and history; the epoch to start at."""
        run = self.run
        if run is None:
            return initial_epoch
        check_run(run, self.model, self.optimizer, self.schedule, keys)
        if initial_epoch not in (0, run["epoch"]):
            raise ValueError(
                f"{run['where']}: initial_epoch={initial_epoch}, but the checkpoint is at epoch {run['epoch']}"
            )
        apply_run(run, self.model, self.optimizer, self.schedule, self.rngs)
        for i, epoch in enumerate(run["history.epoch"]):
            self.history.append(int(epoch), {k: run["history"][k][i] for k in keys})
        return run["epoch"]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.checkpoint is None:
            return
        if math.isfinite(logs["loss"]):
            save_run(self.checkpoint, model=self.model, optimizer=self.optimizer, schedule=self.schedule,
                     history=self.history, epoch=epoch + 1, rngs=self.rngs, val_index=self.val_index)  # fmt: skip
        else:
            self.say(f"Epoch {epoch + 1}: the loss is {logs['loss']}; {os.fspath(self.checkpoint)} not updated")
