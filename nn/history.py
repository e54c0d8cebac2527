"""``nn.History``: the learning curves :func:`nn.fit` returns, recorded as a callback like any other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autograd_core._figures import new_figure
from autograd_core._optional import require

from .callbacks import Callback

__all__ = ["History"]


class History(Callback):
    """The learning curves of :func:`fit`: ``history`` (name → list of per-epoch values) and ``epoch``.

    Names are ``loss``, each metric, and ``val_``-prefixed ones when validating. ``epoch``
    holds the epochs' indices, from 0, as Keras's ``History.epoch`` and the callbacks' hooks
    number them; ``plot()`` and ``to_pandas()`` count from 1, as the log does ("Epoch 1/40"),
    so the row labelled 6 is the epoch logged as "Epoch 6/40".
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def append(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Record one finished epoch."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.append(epoch, logs)

    def plot(self, keys: Sequence[str] | None = None, *, axes: Any = None, label: str | None = None) -> Any:
        """A matplotlib Figure: one panel per quantity (loss, each metric), training solid, validation dashed.

        ``keys`` picks the quantities (default: all, without the ``val_`` prefix).
        ``axes`` (a sequence of Axes, one per quantity) draws into an existing figure and
        ``label`` prefixes the legend, so two runs can share a figure::

            fig = day1.plot(label="lr 0.1")
            day2.plot(axes=fig.axes, label="lr 0.01")
            fig.savefig("curves.png")

        In a notebook the figure is displayed once, as the cell's value; in a script that
        imported ``matplotlib.pyplot`` it is made through it (so ``plt.show()`` shows it);
        otherwise it is a standalone Figure (``fig.savefig(...)``). Needs the ``plot`` extra.
        """

        names = list(keys) if keys is not None else [k for k in self.history if not k.startswith("val_")]
        if not names:
            raise ValueError("History.plot: nothing to plot (no epoch was recorded)")
        unknown = [k for k in names if k not in self.history]
        if unknown:
            raise ValueError(f"History.plot: unknown name(s) {unknown}; the history has {sorted(self.history)}")
        if axes is None:
            size = (4.2 * len(names), 3.2)
            fig = new_figure("History.plot", size)
            axes = fig.subplots(1, len(names), squeeze=False)
            axes = list(axes.ravel())
        axes = list(axes)
        if len(axes) < len(names):
            raise ValueError(f"History.plot: {len(names)} quantities to draw but {len(axes)} axes")
        prefix = f"{label}: " if label else ""
        epochs = [e + 1 for e in self.epoch]
        for ax, name in zip(axes, names):
            (line,) = ax.plot(
                epochs, self.history[name], label=f"{prefix}train", marker="." if len(epochs) < 30 else ""
            )
            if "val_" + name in self.history:
                ax.plot(epochs, self.history["val_" + name], "--", color=line.get_color(), label=f"{prefix}validation")
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
        return axes[0].figure

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame``: one row per epoch, one column per name; the index (``epoch``) counts
        from 1, as the log and ``plot()`` do."""
        pd = require("pandas", "History.to_pandas", "plot")
        return pd.DataFrame(self.history, index=pd.Index([e + 1 for e in self.epoch], name="epoch"))

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = ", ".join(f"{k} {v[-1]:.4g}" for k, v in self.history.items())
        return f"History({len(self.epoch)} epochs; last: {last})"
