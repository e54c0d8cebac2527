"""What ``nn.fit`` prints: nothing, one line per epoch, or a progress bar per epoch.

``verbose=0`` prints nothing. ``verbose=1`` and ``"auto"`` show a tqdm bar per epoch
(on stderr, with the running loss and metrics) when tqdm is installed and stderr is a
terminal, or in a notebook (``tqdm.auto``); otherwise, e.g. when output goes to a log
file, they print one plain line per epoch on stdout, never a line per batch.
``verbose=2`` always prints the plain lines.

Each display is a :class:`nn.Callback` that ``fit`` puts after the user's callbacks, so it
sees the same events they do; ``message(text)`` prints a line of ``fit``'s own (resuming,
stopping) without breaking a bar.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from autograd_core._checks import check_choice
from autograd_core._figures import in_notebook

from .callbacks import Callback

__all__ = ["make_progress", "in_notebook", "format_logs", "Silent", "Lines", "Bars"]


def format_logs(logs: dict[str, float], sep: str = ", ") -> str:
    """``loss 0.1234, accuracy 0.9650, val_loss ...`` (4 significant decimals)."""
    return sep.join(f"{k} {v:.4f}" for k, v in logs.items())


class Silent(Callback):
    """``verbose=0``: prints nothing (and, overriding no hook, costs nothing per batch)."""

    def message(self, text: str) -> None:
        """Print a line of ``fit``'s own (nothing here)."""


class Lines(Silent):
    """One plain line per epoch on stdout: ``Epoch 3/10: loss 0.1234, val_loss 0.2000 (0.4 s)``."""

    def __init__(self, epochs: int, steps: int) -> None:
        self.epochs = epochs
        self.epoch = 0
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epoch = epoch
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        seconds = time.perf_counter() - self.started
        self.message(f"Epoch {self.epoch + 1}/{self.epochs}: {format_logs(logs)} ({seconds:.1f} s)")

    def message(self, text: str) -> None:
        print(text, file=sys.stdout, flush=True)


class Bars(Silent):
    """A tqdm bar per epoch on stderr; the running loss and metrics (weighted by batch size) as its postfix."""

    def __init__(self, epochs: int, steps: int, tqdm: Any) -> None:
        self.tqdm = tqdm
        self.epochs = epochs
        self.steps = steps
        self.bar: Any = None
        self.sums: dict[str, float] = {}
        self.seen = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self.sums, self.seen = {}, 0
        self.bar = self.tqdm(
            total=self.steps,
            desc=f"Epoch {epoch + 1}/{self.epochs}",
            unit="batch",
            leave=True,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        # every batch has batch_size examples but the last, which has the rest
        size = self.params["batch_size"]
        if batch == self.steps - 1:
            size = self.params["samples"] - size * (self.steps - 1)
        self.seen += size
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v * size
        postfix = format_logs({k: v / self.seen for k, v in self.sums.items()})
        self.bar.set_postfix_str(postfix, refresh=False)  # drawn by update, at most ~10 times a second
        self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.bar.set_postfix_str(format_logs(logs), refresh=False)
        self._close()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def message(self, text: str) -> None:
        self._close()  # an epoch cut short: its bar ends where it stopped, the message goes below
        self.tqdm.write(text, file=sys.stderr)


def make_progress(verbose: Any, epochs: int, steps: int) -> Silent:
    """The display ``verbose`` asks for (see the module docstring)."""
    if isinstance(verbose, float):  # 1.0 == 1, but is not one of the choices
        raise ValueError(f"nn.fit: verbose must be one of 0, 1, 2, 'auto'; got {verbose!r}")
    check_choice(verbose, "verbose", "nn.fit", (0, 1, 2, "auto"))
    if verbose == 0:
        return Silent()
    if verbose == 2:
        return Lines(epochs, steps)
    notebook = in_notebook()
    if notebook or sys.stderr.isatty():
        try:
            if notebook:
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
        except ImportError:  # no progress extra: plain lines
            return Lines(epochs, steps)
        return Bars(epochs, steps, tqdm)
    return Lines(epochs, steps)
