"""What a search returns: the trials, the best one, tables, pictures, and the zoomed space."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from autograd_core._checks import check_int, check_real

from .distributions import Distribution, zoom_one
from .trial import COMPLETE, STATUSES, TrialResult


class SearchResult:
    """The trials of a search (``random_search``, ``coarse_to_fine`` or ``load``).

    - ``trials``: every recorded :class:`TrialResult`, by number (``number, params, value,
      metrics, status, error, curve, seconds, round``).
    - ``best`` / ``best_params``: the best complete trial (ties: the lowest number) and its params.
    - ``metric``, ``mode``, ``seed``; ``space`` (the original space) and ``spaces`` (round → the
      space it sampled); ``path`` (the storage file, or None).
    - ``zoom(top, margin)``: the narrower space around the best trials (coarse to fine).
    - ``to_pandas()``, ``plot()``, ``plot_curves()``: a table and pictures.
    """

    def __init__(
        self,
        trials: Sequence[TrialResult],
        metric: str,
        mode: str,
        seed: int,
        space: dict[str, Distribution],
        spaces: dict[int, dict[str, Distribution]] | None = None,
        path: str | None = None,
    ) -> None:
        self.trials = sorted(trials, key=lambda t: t.number)
        self.metric = metric
        self.mode = mode
        self.seed = seed
        self.space = dict(space)
        self.spaces = dict(spaces) if spaces else {1: self.space}
        self.path = path

    # ------------------------------------------------------------------ the best trials
    def completed(self) -> list[TrialResult]:
        """The complete trials, best first (ties: the lower number first)."""
        done = [t for t in self.trials if t.status == COMPLETE and t.value is not None and math.isfinite(t.value)]
        sign = -1.0 if self.mode == "max" else 1.0
        return sorted(done, key=lambda t: (sign * t.value, t.number))

    def top(self, k: int = 5) -> list[TrialResult]:
        """The ``k`` best complete trials, best first."""
        return self.completed()[:k]

    @property
    def best(self) -> TrialResult:
        """The best complete trial (``max`` or ``min`` of the metric, as ``mode`` says)."""
        done = self.completed()
        if not done:
            raise ValueError(f"SearchResult.best: no trial completed ({self._counts_text() or 'no trials'})")
        return done[0]

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of :attr:`best`."""
        return dict(self.best.params)

    def counts(self) -> dict[str, int]:
        """How many trials have each status."""
        counts = Counter(t.status for t in self.trials)
        return {s: counts[s] for s in STATUSES if counts[s]}

    def _counts_text(self) -> str:
        return ", ".join(f"{n} {s}" for s, n in self.counts().items())

    # ------------------------------------------------------------------ coarse to fine
    def zoom(self, top: int = 5, margin: float = 0.5) -> dict[str, Distribution]:
        """A narrower space around the ``top`` best complete trials, inside the original bounds.

        For each parameter, on its own scale (``log10 x`` for LogUniform, ``log10(1 − x)`` for
        OneMinusLogUniform, ``x`` for Uniform and IntUniform): the span of the top trials'
        values, widened on each side by ``margin`` × that span (by at least ``margin`` × 10 % of
        the whole range, so that one trial, or equal values, still give a box), then clipped to
        :attr:`space`'s bounds; IntUniform rounds outwards. A Choice keeps the options the top
        trials used (for numbers, every option between the smallest and the largest used).

        >>> from optim.search import LogUniform, TrialResult
        >>> trials = [TrialResult(i, {"lr": lr}, v, {"value": v}, "complete")
        ...           for i, (lr, v) in enumerate([(1e-3, 0.9), (1e-2, 0.95), (0.5, 0.1)])]
        >>> r = SearchResult(trials, "value", "max", 0, {"lr": LogUniform(1e-4, 1.0)})
        >>> r.zoom(top=2, margin=0.5)          # 10**(-3 - 0.5), 10**(-2 + 0.5)
        {'lr': LogUniform(0.00031622776601683794, 0.03162277660168379)}
        """
        top = check_int(top, "top", "SearchResult.zoom", low=1)
        margin = check_real(margin, "margin", "SearchResult.zoom", low=0)
        best = self.top(top)
        if not best:
            raise ValueError(f"SearchResult.zoom: no trial completed ({self._counts_text() or 'no trials'})")
        return {name: zoom_one(dist, [t.params[name] for t in best], margin, dist) for name, dist in self.space.items()}

    # ------------------------------------------------------------------ tables and pictures
    def to_pandas(self, curves: bool = False) -> Any:
        """A ``pandas.DataFrame``: one row per trial (indexed by number), with its round, status,
        value, each parameter, each returned metric, seconds, attempts and error. A metric
        whose name is also a parameter's or a column's is prefixed ``metric_``.

        ``curves=True`` gives the learning curves instead, one row per reported point
        (``number, round, status, step`` and the reported metrics). Needs pandas
        (``pip install "autograd-core[search]"``).
        """
        from autograd_core._optional import require

        pd = require("pandas", "SearchResult.to_pandas", "search")
        if curves:
            rows = [
                {"number": t.number, "round": t.round, "status": t.status, **point}
                for t in self.trials
                for point in t.curve
            ]
            columns = ["number", "round", "status", "step"]
            return pd.DataFrame(rows, columns=None if rows else columns)
        fixed = ["number", "round", "status", "value", "seconds", "attempts", "error"]
        params = list(self.space) + sorted({k for t in self.trials for k in t.params} - set(self.space))
        metrics = sorted({k for t in self.trials for k in t.metrics})
        taken = set(fixed) | set(params)
        rows = []
        for t in self.trials:
            row = {"number": t.number, "round": t.round, "status": t.status, "value": t.value}
            row.update({p: t.params.get(p) for p in params})
            row.update({(f"metric_{m}" if m in taken else m): t.metrics.get(m) for m in metrics})
            row.update({"seconds": t.seconds, "attempts": t.attempts, "error": t.error})
            rows.append(row)
        columns = ["number", "round", "status", "value", *params]
        columns += [f"metric_{m}" if m in taken else m for m in metrics] + ["seconds", "attempts", "error"]
        return pd.DataFrame(rows, columns=columns).set_index("number")

    def plot(self, params: Sequence[str] | None = None, pair: Sequence[str] | bool | None = None) -> Any:
        """A matplotlib Figure: the metric against each parameter, and the coarse-to-fine picture.

        One panel per parameter (``params``, default all): each complete trial a dot, each
        pruned one a ring, coloured by round; LogUniform parameters on a log axis, and
        OneMinusLogUniform ones as ``1 − β`` on a log axis (so labelled); each later round's range
        is shaded in its colour. A last panel shows two parameters against each other (``pair``,
        default the first two that are not Choices; ``False`` for none) with each later round's
        box drawn: the coarse-to-fine scatter of the deep-learning course. The best trial is a star. Save it with
        ``fig.savefig("search.png")``; in Jupyter it shows inline. Needs matplotlib
        (``pip install "autograd-core[plot]"``).
        """
        from .plotting import plot_search

        return plot_search(self, params, pair)

    def plot_curves(self, metric: str | None = None) -> Any:
        """A matplotlib Figure of every trial's learning curve (``metric``, default the search's):
        coloured by round, pruned trials dashed and ended by a cross, the best trial in black.
        Needs matplotlib (``pip install "autograd-core[plot]"``).
        """
        from .plotting import plot_curves

        return plot_curves(self, metric)

    # ------------------------------------------------------------------ the rest
    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self) -> Iterator[TrialResult]:
        return iter(self.trials)

    def __repr__(self) -> str:
        text = f"SearchResult({len(self.trials)} trials: {self._counts_text() or 'none'}"
        done = self.completed()
        if done:
            text += f"; best {self.metric}={done[0].value:.6g} (trial {done[0].number})"
        return text + ")"
