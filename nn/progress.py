"""What ``nn.fit`` prints: nothing, one line per epoch, or a progress bar per epoch.

``verbose=0`` prints nothing. ``verbose=1`` and ``"auto"`` show a tqdm bar per epoch
(on stderr, with the running loss and metrics) when tqdm is installed and stderr is a
terminal, or in a notebook (``tqdm.auto``); otherwise, e.g. when output goes to a log
file, they print one plain line per epoch on stdout, never a line per batch.
``verbose=2`` always prints the plain lines.
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["make_progress", "in_notebook", "format_logs"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython is only looked at when it is already imported)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython is no notebook
        return False
    return type(shell).__name__ == "ZMQInteractiveShell"


def format_logs(logs: dict[str, float], sep: str = ", ") -> str:
    """``loss 0.1234, accuracy 0.9650, val_loss ...`` (4 significant decimals)."""
    return sep.join(f"{k} {v:.4f}" for k, v in logs.items())


class Silent:
    """``verbose=0``: every method does nothing (and costs next to nothing per batch)."""

    def start_epoch(self, epoch: int) -> None:
        pass

    def batch(self, sums: dict[str, float], seen: int) -> None:
        """After each batch: ``sums`` of the values weighted by batch size over ``seen`` examples."""

    def end_epoch(self, logs: dict[str, float]) -> None:
        pass

    def cut_epoch(self) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class Lines(Silent):
    """One plain line per epoch on stdout: ``Epoch 3/10: loss 0.1234, val_loss 0.2000 (0.4 s)``."""

    def __init__(self, epochs: int, steps: int) -> None:
        self.epochs = epochs
        self.epoch = 0
        self.started = 0.0

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.started = time.perf_counter()

    def end_epoch(self, logs: dict[str, float]) -> None:
        seconds = time.perf_counter() - self.started
        self.message(f"Epoch {self.epoch + 1}/{self.epochs}: {format_logs(logs)} ({seconds:.1f} s)")

    def message(self, text: str) -> None:
        print(text, file=sys.stdout, flush=True)


class Bars(Silent):
    """A tqdm bar per epoch on stderr; the running loss and metrics as its postfix."""

    def __init__(self, epochs: int, steps: int, tqdm: Any) -> None:
        self.tqdm = tqdm
        self.epochs = epochs
        self.steps = steps
        self.bar: Any = None

    def start_epoch(self, epoch: int) -> None:
        self.bar = self.tqdm(
            total=self.steps,
            desc=f"Epoch {epoch + 1}/{self.epochs}",
            unit="batch",
            leave=True,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def batch(self, sums: dict[str, float], seen: int) -> None:
        self.bar.set_postfix_str(
            format_logs({k: v / seen for k, v in sums.items()}), refresh=False
        )  # drawn by update, at most ~10 times a second
        self.bar.update(1)

    def end_epoch(self, logs: dict[str, float]) -> None:
        self.bar.set_postfix_str(format_logs(logs), refresh=False)
        self.bar.close()
        self.bar = None

    def cut_epoch(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def message(self, text: str) -> None:
        self.tqdm.write(text, file=sys.stderr)

    def close(self) -> None:
        self.cut_epoch()


def make_progress(verbose: Any, epochs: int, steps: int) -> Silent:
    """The display ``verbose`` asks for (see the module docstring)."""
    if verbose not in (0, 1, 2, "auto") or isinstance(verbose, float):
        raise ValueError(f"nn.fit: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
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
