"""The pictures of a search (matplotlib, imported only here). See ``SearchResult.plot``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from autograd_core._figures import new_figure

from .distributions import Choice, Distribution, IntUniform, LogUniform, OneMinusLogUniform
from .trial import COMPLETE, PRUNED, TrialResult

if TYPE_CHECKING:
    from .result import SearchResult


class _Axis:
    """How one parameter is drawn: its values as x (or y), the scale and the label."""

    def __init__(self, name: str, dist: Distribution) -> None:
        self.name = name
        self.dist = dist
        self.one_minus = isinstance(dist, OneMinusLogUniform)
        self.log = isinstance(dist, (LogUniform, OneMinusLogUniform))
        self.choice = isinstance(dist, Choice)
        self.label = f"1 − {name} (log scale)" if self.one_minus else f"{name} (log scale)" if self.log else name

    def value(self, v: Any) -> float:
        if self.choice:
            for i, o in enumerate(self.dist.options):
                if o == v or repr(o) == repr(v):
                    return float(i)
            return math.nan
        return 1.0 - float(v) if self.one_minus else float(v)

    def span(self, dist: Distribution) -> tuple[float, float] | None:
        """The drawn range of a narrowed distribution of this parameter (None if not narrowed)."""
        if dist == self.dist:
            return None
        if self.choice:
            if not isinstance(dist, Choice):
                return None
            positions = [self.value(o) for o in dist.options]
            return min(positions) - 0.3, max(positions) + 0.3
        a, b = self.value(dist.low), self.value(dist.high)
        pad = 0.3 if isinstance(dist, IntUniform) else 0.0  # a box around the integers, not through them
        return min(a, b) - pad, max(a, b) + pad

    def span_of_whole(self) -> tuple[float, float]:
        if self.choice:
            return -0.3, len(self.dist.options) - 0.7
        a, b = self.value(self.dist.low), self.value(self.dist.high)
        pad = 0.3 if isinstance(self.dist, IntUniform) else 0.0
        return min(a, b) - pad, max(a, b) + pad

    def setup(self, ax: Any, which: str) -> None:
        set_scale = ax.set_xscale if which == "x" else ax.set_yscale
        set_label = ax.set_xlabel if which == "x" else ax.set_ylabel
        if self.log:
            set_scale("log")
        if self.choice:
            ticks = range(len(self.dist.options))
            labels = [str(o) for o in self.dist.options]
            (ax.set_xticks if which == "x" else ax.set_yticks)(list(ticks), labels)
        set_label(self.label)


def _drawn(result: SearchResult) -> list[TrialResult]:
    return [
        t for t in result.trials if t.status in (COMPLETE, PRUNED) and t.value is not None and math.isfinite(t.value)
    ]


def _scatter(ax: Any, xs: list[float], ys: list[float], colour: str, pruned: bool, label: str | None) -> None:
    if not xs:
        return
    if pruned:
        ax.scatter(xs, ys, s=28, facecolors="none", edgecolors=colour, linewidths=1.2, label=label)
    else:
        ax.scatter(xs, ys, s=28, color=colour, alpha=0.85, edgecolors="white", linewidths=0.5, label=label)


def plot_search(result: SearchResult, params: Sequence[str] | None, pair: Sequence[str] | bool | None) -> Any:
    names = list(result.space) if params is None else list(params)
    unknown = [n for n in names if n not in result.space]
    if unknown:
        raise ValueError(f"SearchResult.plot: unknown parameter(s) {unknown}; the space has {list(result.space)}")
    axes_of = {n: _Axis(n, result.space[n]) for n in result.space}
    if pair is None:  # continuous parameters first, then integers
        numeric = [n for n in result.space if not axes_of[n].choice]
        numeric.sort(key=lambda n: isinstance(result.space[n], IntUniform))
        pair = numeric[:2] if len(numeric) >= 2 else False
    elif pair is not False:
        pair = list(pair)
        if len(pair) != 2 or any(p not in result.space for p in pair):
            raise ValueError(f"SearchResult.plot: pair must name two parameters of the space, got {pair!r}")
    panels = len(names) + (1 if pair else 0)
    cols = min(3, panels)
    rows = math.ceil(panels / cols)
    fig = new_figure("SearchResult.plot", (4.3 * cols, 3.5 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    rounds = sorted({t.round for t in result.trials} | set(result.spaces))
    colour = {r: f"C{i % 10}" for i, r in enumerate(rounds)}
    drawn = _drawn(result)
    best = result.completed()[:1]
    several = len(rounds) > 1

    for ax, name in zip(axes, names):
        axis = axes_of[name]
        for r in rounds:
            if r > min(rounds) and r in result.spaces:
                span = axis.span(result.spaces[r][name])
                if span is not None:
                    ax.axvspan(*span, color=colour[r], alpha=0.08, linewidth=0)
            for pruned in (False, True):
                ts = [t for t in drawn if t.round == r and (t.status == PRUNED) == pruned]
                label = (f"round {r}" if several else "trials") if not pruned else None
                _scatter(ax, [axis.value(t.params[name]) for t in ts], [t.value for t in ts], colour[r], pruned, label)
        if best:
            ax.scatter([axis.value(best[0].params[name])], [best[0].value], marker="*", s=160, color="black", zorder=3)
        axis.setup(ax, "x")
        ax.set_ylabel(result.metric)
        ax.grid(True, alpha=0.3)

    if pair:
        ax = axes[len(names)]
        ax_x, ax_y = axes_of[pair[0]], axes_of[pair[1]]
        from matplotlib.patches import Rectangle

        for r in rounds:
            if r > min(rounds) and r in result.spaces:
                sx, sy = ax_x.span(result.spaces[r][pair[0]]), ax_y.span(result.spaces[r][pair[1]])
                if sx is not None or sy is not None:  # a side left whole spans the whole axis
                    sx = sx or ax_x.span_of_whole()
                    sy = sy or ax_y.span_of_whole()
                    box = Rectangle((sx[0], sy[0]), sx[1] - sx[0], sy[1] - sy[0], fill=False, edgecolor=colour[r])
                    box.set_linewidth(1.8)
                    ax.add_patch(box)
            for pruned in (False, True):
                ts = [t for t in drawn if t.round == r and (t.status == PRUNED) == pruned]
                xs = [ax_x.value(t.params[pair[0]]) for t in ts]
                ys = [ax_y.value(t.params[pair[1]]) for t in ts]
                _scatter(ax, xs, ys, colour[r], pruned, None)
        if best:
            bx, by = ax_x.value(best[0].params[pair[0]]), ax_y.value(best[0].params[pair[1]])
            ax.scatter([bx], [by], marker="*", s=160, color="black", zorder=3)
        ax_x.setup(ax, "x")
        ax_y.setup(ax, "y")
        ax.set_title("coarse to fine" if several else "the trials", fontsize="medium")
        ax.grid(True, alpha=0.3)

    for ax in axes[panels:]:
        ax.set_visible(False)
    if names:
        from matplotlib.lines import Line2D

        handles, labels = axes[0].get_legend_handles_labels()
        if any(t.status == PRUNED for t in drawn):
            handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color="grey"))
            labels.append("pruned")
        if best:
            handles.append(Line2D([], [], marker="*", linestyle="", color="black", markersize=11))
            labels.append(f"best (trial {best[0].number})")
        axes[0].legend(handles, labels, fontsize="small")
    title = f"{len(result.trials)} trials"
    if best:
        title += f"; best {result.metric} = {best[0].value:.4g}"
    fig.suptitle(title)
    return fig


def plot_curves(result: SearchResult, metric: str | None) -> Any:
    metric = result.metric if metric is None else metric
    fig = new_figure("SearchResult.plot_curves", (7.5, 4.5))
    ax = fig.subplots()
    rounds = sorted({t.round for t in result.trials})
    colour = {r: f"C{i % 10}" for i, r in enumerate(rounds)}
    best = result.completed()[:1]
    from matplotlib.lines import Line2D

    drawn_any = False
    for t in result.trials:
        points = [(p["step"], p[metric]) for p in t.curve if metric in p]
        if not points:
            continue
        drawn_any = True
        xs, ys = zip(*points)
        if t.status == PRUNED:
            ax.plot(xs, ys, color=colour[t.round], linestyle="--", linewidth=0.9, alpha=0.6)
            ax.plot(xs[-1:], ys[-1:], marker="x", color=colour[t.round], alpha=0.8)
        elif t.status == COMPLETE:
            ax.plot(xs, ys, color=colour[t.round], linewidth=1.1, alpha=0.75)
        else:
            ax.plot(xs, ys, color="grey", linestyle=":", linewidth=0.9)
    if best:
        points = [(p["step"], p[metric]) for p in best[0].curve if metric in p]
        if points:
            ax.plot(*zip(*points), color="black", linewidth=2.2)
    handles = [Line2D([], [], color=colour[r]) for r in rounds] if len(rounds) > 1 else []
    labels = [f"round {r}" for r in rounds] if len(rounds) > 1 else []
    if any(t.status == PRUNED for t in result.trials):
        handles.append(Line2D([], [], color="grey", linestyle="--", marker="x"))
        labels.append("pruned")
    if best:
        handles.append(Line2D([], [], color="black", linewidth=2.2))
        labels.append(f"best (trial {best[0].number})")
    if handles:
        ax.legend(handles, labels, fontsize="small")
    if not drawn_any:
        ax.text(0.5, 0.5, f"no trial reported {metric!r}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"learning curves of {len(result.trials)} trials", fontsize="medium")
    return fig
