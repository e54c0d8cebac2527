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
    callback/<i>/<Class>/<key>  the state_dict() of each callback that has one

A NumPy Generator's state is a dict holding big integers (PCG64's 128-bit state);
each leaf is stored on its own: integers as decimal strings (``#int``), names as
strings (``#str``), arrays as arrays (``#array``), and rebuilt exactly.

Reading checks every entry before anything is changed, and every refusal names the file
and the entry; an epoch whose loss or weights are not finite is never written.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from autograd_core.serialization import load_arrays, save_arrays

from .callbacks import Callback
from .module import Module

__all__ = [
    "FORMAT", "encode_state", "decode_state", "generators", "run_arrays", "save_run", "load_run", "check_run",
    "apply_run", "stateful", "BackupAndRestore",
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
    """The nested state dict :func:`encode_state` stored under ``prefix``.

    A damaged entry raises a ValueError naming it.
    """
    state: dict[str, Any] = {}
    for full, value in arrays.items():
        if not full.startswith(prefix + "/"):
            continue
        path, _, kind = full[len(prefix) + 1 :].rpartition("#")
        *parents, leaf = path.split("/")
        node = state
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"entry {full!r} is damaged: its path crosses a value")
        if kind == "int":
            try:
                node[leaf] = int(str(value))
            except ValueError:
                raise ValueError(f"entry {full!r} is damaged: not a whole number ({str(value)[:40]!r})") from None
        elif kind == "str":
            node[leaf] = str(value)
        elif kind == "array":
            node[leaf] = np.array(value)
        else:
            raise ValueError(f"entry {full!r} is damaged: no #int, #str or #array at its end")
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


# ============================================================== callbacks' own state


def stateful(callbacks: Sequence[Callback]) -> list[Callback]:
    """The callbacks that keep state across a resume: those with ``state_dict()`` and ``load_state_dict(d)``."""
    return [
        cb
        for cb in callbacks
        if callable(getattr(cb, "state_dict", None)) and callable(getattr(cb, "load_state_dict", None))
    ]


def _callback_arrays(callbacks: Sequence[Callback]) -> dict[str, np.ndarray]:
    out = {}
    for i, cb in enumerate(callbacks):
        name = type(cb).__name__
        state = cb.state_dict()
        if not isinstance(state, Mapping):
            raise TypeError(f"nn.fit: {name}.state_dict() must return a dict of name → array, got {state!r}")
        for key, value in state.items():
            arr = np.asarray(value)
            if not isinstance(key, str) or arr.dtype.hasobject:
                raise TypeError(
                    f"nn.fit: {name}.state_dict() entry {key!r} is a {type(value).__name__}; a callback's state "
                    "holds numbers, strings and arrays under string names (it is saved without pickle)"
                )
            out[f"callback/{i}/{name}/{key}"] = arr
    return out


def _pair(
    saved: list[tuple[str, dict[str, np.ndarray]]], callbacks: list[Callback], where: str
) -> list[tuple[Callback, dict[str, np.ndarray]]]:
    """``(callback, saved state)`` pairs: the k-th saved state of a class goes to the k-th callback of it."""
    left = list(saved)
    pairs, fresh = [], []
    for cb in callbacks:
        match = next((s for s in left if s[0] == type(cb).__name__), None)
        if match is None:
            fresh.append(type(cb).__name__)
        else:
            left.remove(match)
            pairs.append((cb, match[1]))
    for name, _ in left:
        warnings.warn(
            f"{where}: the checkpoint holds the state of {name}, but this fit has no such callback; "
            "that state is not used",
            stacklevel=5,
        )
    for name in fresh:
        warnings.warn(f"{where}: {name} starts afresh: the checkpoint holds no state for it", stacklevel=5)
    return pairs


# ============================================================== the file


def run_arrays(
    *,
    model: Module,
    optimizer: Any,
    schedule: Any,
    history: Any,
    epoch: int,
    rngs: Mapping[str, np.random.Generator],
    val_index: np.ndarray | None,
    callbacks: Sequence[Callback] = (),
) -> dict[str, np.ndarray]:
    """The whole training state as the checkpoint's entries."""
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
    arrays.update(_callback_arrays(callbacks))
    return arrays


def non_finite(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The model's and optimizer's entries holding NaN or infinity (named as in the model or optimizer)."""
    bad = []
    for key, value in arrays.items():
        section, _, name = key.partition("/")
        if section in ("model", "optimizer") and value.dtype.kind == "f" and not np.isfinite(value).all():
            bad.append(name if section == "model" else f"optimizer {name}")
    return bad


def save_run(path: str | os.PathLike[str], **state: Any) -> None:
    """Write the whole training state (see :func:`run_arrays`) to ``path`` in one atomic step."""
    save_arrays(path, run_arrays(**state))


def _whole(value: np.ndarray) -> int | None:
    """``value`` as an int if it is a 0-d non-negative whole number, else None."""
    if value.shape != () or value.dtype.kind not in "iu" or int(value) < 0:
        return None
    return int(value)


def load_run(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint into its sections (``model``, ``optimizer``, ``schedule``, ``history``, ...).

    Every entry that can be checked without the model is checked here; a damaged one raises
    a ValueError naming the file and the entry.
    """
    where = f"nn.fit(resume={os.fspath(path)!r})"
    try:
        arrays = load_arrays(path)
    except ValueError as err:
        raise ValueError(f"{where}: {err} (nothing was changed)") from None
    if str(arrays.get("format", "")) != FORMAT:
        raise ValueError(
            f"{where}: not a checkpoint written by nn.fit(..., checkpoint=...) (no {FORMAT!r} marker); "
            "a model saved with nn.save is loaded with nn.load(model, path)"
        )

    def damaged(entry: str, text: str) -> ValueError:
        return ValueError(f"{where}: the checkpoint is damaged: entry {entry!r} {text} (nothing was changed)")

    def section(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

    for entry in ("epoch", "history.epoch"):
        if entry not in arrays:
            raise damaged(entry, "is missing")
    epoch = _whole(arrays["epoch"])
    if epoch is None:
        raise damaged("epoch", f"must be a non-negative whole number, got {arrays['epoch'].tolist()!r}")
    epochs = arrays["history.epoch"]
    if epochs.ndim != 1 or epochs.dtype.kind not in "iu":
        raise damaged(
            "history.epoch", f"must be a list of whole numbers, got dtype {epochs.dtype}, shape {epochs.shape}"
        )
    if len(epochs) and (epochs.min() < 0 or epochs.max() >= epoch or (np.diff(epochs) <= 0).any()):
        raise damaged("history.epoch", f"must count up to epoch {epoch} (exclusive), got {epochs.tolist()}")
    history = section("history/")
    for key, values in history.items():
        if values.ndim != 1 or values.dtype.kind not in "iuf":
            raise damaged(
                f"history/{key}", f"must be a list of numbers, got dtype {values.dtype}, shape {values.shape}"
            )
        if len(values) != len(epochs):
            raise damaged(f"history/{key}", f"has {len(values)} values for {len(epochs)} epochs")
    val_index = arrays.get("split/val_index")
    if val_index is not None:
        if val_index.ndim != 1 or val_index.dtype.kind not in "iu":
            raise damaged("split/val_index", f"must hold integers (example numbers), got dtype {val_index.dtype}")
        if len(val_index) and val_index.min() < 0:
            raise damaged("split/val_index", f"holds a negative example number ({int(val_index.min())})")
        if len(np.unique(val_index)) != len(val_index):
            raise damaged("split/val_index", "holds an example twice")
    rng = section("rng/")
    for key in rng:
        if key.rpartition("#")[2] not in ("int", "str", "array"):
            raise damaged(f"rng/{key}", "has no #int, #str or #array at its end")
    callbacks: dict[int, tuple[str, dict[str, np.ndarray]]] = {}
    for key, value in section("callback/").items():
        index, _, rest = key.partition("/")
        name, _, field = rest.partition("/")
        if not index.isdigit() or not name or not field or callbacks.get(int(index), (name,))[0] != name:
            raise damaged(f"callback/{key}", "is not callback/<number>/<class>/<name>")
        callbacks.setdefault(int(index), (name, {}))[1][field] = value
    return {
        "where": where,
        "epoch": epoch,
        "model": section("model/"),
        "optimizer": section("optimizer/"),
        "schedule": section("schedule/"),
        "history": history,
        "history.epoch": epochs,
        "val_index": val_index,
        "rng": rng,
        "callbacks": [callbacks[i] for i in sorted(callbacks)],
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
    if "optimizer" not in run["optimizer"]:
        raise ValueError(
            f"{where}: the checkpoint is damaged: entry 'optimizer/optimizer' is missing (nothing was changed)"
        )
    if run["schedule"] and "schedule" not in run["schedule"]:
        raise ValueError(
            f"{where}: the checkpoint is damaged: entry 'schedule/schedule' is missing (nothing was changed)"
        )
    saved_opt = str(run["optimizer"]["optimizer"])
    if saved_opt != type(optimizer).__name__:
        raise ValueError(
            f"{where}: the checkpoint holds the state of optimizer {saved_opt}, not {type(optimizer).__name__}; "
            f"make the optimizer a {saved_opt} (nothing was changed)"
        )
    sched = run["schedule"]
    if sched and schedule is None:
        raise ValueError(
            f"{where}: the run used a learning-rate schedule ({sched['schedule']}); pass schedule= to "
            "continue it (nothing was changed)"
        )
    if sched and str(sched["schedule"]) != type(schedule).__name__:
        raise ValueError(
            f"{where}: the checkpoint holds the state of schedule {sched['schedule']}, not "
            f"{type(schedule).__name__} (nothing was changed)"
        )
    if sorted(run["history"]) != sorted(keys):
        raise ValueError(
            f"{where}: the checkpoint's history has {sorted(run['history'])} but this fit logs {sorted(keys)}; "
            "resume with the same metrics and validation (nothing was changed)"
        )


def _generator_states(run: Mapping[str, Any], rngs: Mapping[str, np.random.Generator]) -> dict[str, dict]:
    """The saved state of each generator, checked on a scratch generator of the same kind."""
    states = {}
    for which, gen in rngs.items():
        try:
            state = decode_state(f"rng/{which}", {f"rng/{k}": v for k, v in run["rng"].items()})
        except ValueError as err:
            raise ValueError(f"{run['where']}: the checkpoint is damaged: {err} (nothing was changed)") from None
        if not state:
            continue
        kind = gen.bit_generator.state["bit_generator"]
        if state.get("bit_generator") != kind:
            raise ValueError(
                f"{run['where']}: the {which} generator was a {state.get('bit_generator')}, "
                f"this one is a {kind} (nothing was changed)"
            )
        try:
            type(gen.bit_generator)().state = state
        except Exception as err:
            raise ValueError(
                f"{run['where']}: the checkpoint is damaged: the state of the {which} generator (entries rng/{which}/"
                f"...) is refused by {kind}: {err} (nothing was changed)"
            ) from None
        states[which] = state
    return states


def apply_run(
    run: Mapping[str, Any],
    model: Module,
    optimizer: Any,
    schedule: Any,
    rngs: Mapping[str, Any],
    callbacks: Sequence[tuple[Any, dict[str, np.ndarray]]] = (),
) -> None:
    """Load what :func:`check_run` accepted, all or nothing: model, optimizer, schedule, generators, callbacks.

    Each part checks its entries before changing itself; when one refuses, the parts already
    loaded get their own state back and a ValueError names the file and the entry.
    """
    states = _generator_states(run, rngs)  # checked on scratch generators: setting them below cannot fail
    parts: list[tuple[Any, Mapping[str, Any]]] = [(model, run["model"]), (optimizer, run["optimizer"])]
    if schedule is not None and run["schedule"]:
        parts.append((schedule, run["schedule"]))
    parts += callbacks
    loaded = []
    try:
        for part, state in parts:
            before = part.state_dict()
            part.load_state_dict(dict(state))
            loaded.append((part, before))
    except Exception as err:
        for part, before in reversed(loaded):  # the schedule sets the optimizer's rate: undo in reverse
            part.load_state_dict(before)
        raise ValueError(f"{run['where']}: the checkpoint does not fit: {err}\n(nothing was changed)") from err
    for which, state in states.items():
        rngs[which].bit_generator.state = state


# ============================================================== the callback


class BackupAndRestore(Callback):
    """What ``nn.fit(..., checkpoint=path, resume=path)`` installs (Keras's ``BackupAndRestore``).

    ``fit`` puts it last among the callbacks. Its ``on_train_begin`` loads the run read from
    ``resume`` (after the other callbacks' own ``on_train_begin``, so a callback that resets
    itself there gets its saved state back): model, optimizer, schedule, generators, history
    and the state of every callback with ``state_dict()``/``load_state_dict(d)``, all or
    nothing; ``start`` is then the epoch to start at. After every epoch whose loss and
    weights are finite, ``on_epoch_end`` writes the whole state to ``checkpoint``: the state
    after every other callback has seen the epoch.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] | None,
        run: Mapping[str, Any] | None,
        *,
        keys: list[str],
        initial_epoch: int,
        schedule: Any,
        rngs: Mapping[str, np.random.Generator],
        val_index: np.ndarray | None,
        callbacks: Sequence[Callback],
        say: Callable[[str], None],
    ) -> None:
        self.checkpoint = checkpoint
        self.run = run
        self.keys = keys
        self.start = initial_epoch
        self.schedule = schedule
        self.rngs = rngs
        self.val_index = val_index
        self.callbacks = stateful(callbacks)
        self.say = say

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        run = self.run
        if run is None:
            return
        check_run(run, self.model, self.optimizer, self.schedule, self.keys)
        if self.start not in (0, run["epoch"]):
            raise ValueError(
                f"{run['where']}: initial_epoch={self.start}, but the checkpoint is at epoch {run['epoch']}"
            )
        pairs = _pair(run["callbacks"], self.callbacks, run["where"])
        apply_run(run, self.model, self.optimizer, self.schedule, self.rngs, pairs)
        for i, epoch in enumerate(run["history.epoch"]):
            self.history.append(int(epoch), {k: run["history"][k][i] for k in self.keys})
        self.start = run["epoch"]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.checkpoint is None:
            return
        path = os.fspath(self.checkpoint)
        if not math.isfinite(logs["loss"]):
            self.say(f"Epoch {epoch + 1}: the loss is {logs['loss']}; {path} not updated")
            return
        arrays = run_arrays(
            model=self.model, optimizer=self.optimizer, schedule=self.schedule, history=self.history,
            epoch=epoch + 1, rngs=self.rngs, val_index=self.val_index, callbacks=self.callbacks,
        )  # fmt: skip
        bad = non_finite(arrays)
        if bad:
            self.say(
                f"Epoch {epoch + 1}: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not finite; {path} not updated"
            )
            return
        save_arrays(path, arrays)
