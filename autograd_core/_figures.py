"""The figures the library draws (learning curves, a search's results): made one way everywhere.

- In a Jupyter notebook a figure is the cell's value: it is displayed once, where it is
  returned (never a second time by pyplot at the end of the cell), whether or not pyplot was
  ever imported: the figure renders itself as a PNG (``_repr_png_``).
- In a script that imported ``matplotlib.pyplot`` it is made through pyplot, so
  ``plt.show()`` shows it with the others.
- Otherwise it is a standalone ``Figure``: ``fig.savefig("curves.png")``.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from ._optional import require

__all__ = ["new_figure", "in_notebook"]

_FIGURE_CLASS: Any = None


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


def _figure_class() -> Any:
    """``matplotlib.figure.Figure`` with a PNG picture of itself, for notebooks."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        from matplotlib.figure import Figure

        class DisplayedFigure(Figure):  # type: ignore[misc]
            """A Figure that a notebook shows as the cell's value (its PNG)."""

            def _repr_png_(self) -> bytes:
                buffer = io.BytesIO()
                self.savefig(buffer, format="png", bbox_inches="tight")
                return buffer.getvalue()

        _FIGURE_CLASS = DisplayedFigure
    return _FIGURE_CLASS


def new_figure(what: str, figsize: tuple[float, float]) -> Any:
    """A new figure for ``what`` (the function drawing it, for the error when matplotlib is
    missing), made as the module docstring says. Needs the ``plot`` extra."""
    require("matplotlib", what, "plot")
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and not in_notebook():
        return pyplot.figure(figsize=figsize, layout="constrained")
    return _figure_class()(figsize=figsize, layout="constrained")
