"""Samplers: which trials a search runs, round by round, and what each one tries.

The driver asks a sampler three things: the number of trials in each round
(:meth:`Sampler.rounds`), before each round the space that round samples, given the trials
of the rounds before it (:meth:`Sampler.space`), and each trial's parameters
(:meth:`Sampler.sample`). Trials are numbered across rounds (round 2 of ``[30, 15]`` holds
trials 30 to 44).

- :class:`RandomSampler`: one round of random trials over the whole space (``random_search``).
- :class:`ZoomSampler`: coarse to fine: round 1 samples the whole space, each later round
  the box around the best trials so far (``coarse_to_fine``).

Both draw trial ``i``'s parameters from ``numpy.random.SeedSequence(seed)``'s ``i``-th child
(:func:`sample_params`), so a trial's parameters depend only on the seed, its number and the
space of its round, never on which process runs it or when.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .distributions import Distribution
from .trial import COMPLETE, seed_sequence

if TYPE_CHECKING:
    from .result import SearchResult


def sample_params(space: Mapping[str, Any], seed: int, number: int) -> dict[str, Any]:
    """The parameters trial ``number`` of a search with ``seed`` tries: one draw from each
    distribution, in the space's order, from a Generator seeded with :func:`seed_sequence`.

    The same seed and space give the same trials, whichever executor runs them.

    >>> from optim.search import LogUniform
    >>> sample_params({"lr": LogUniform(1e-4, 1.0)}, seed=0, number=0) == \\
    ...     sample_params({"lr": LogUniform(1e-4, 1.0)}, seed=0, number=0)
    True
    """
    rng = np.random.default_rng(seed_sequence(seed, number))
    return {name: dist.sample(rng) for name, dist in space.items()}


class Sampler:
    """The interface (see the module's docstring); :meth:`space` and :meth:`sample` have defaults."""

    def rounds(self) -> list[int]:
        """How many trials each round runs."""
        raise NotImplementedError

    def space(self, round: int, space: dict[str, Distribution], before: SearchResult) -> dict[str, Distribution]:
        """The space round ``round`` samples; ``before`` holds the trials of the earlier rounds."""
        return dict(space)

    def sample(self, space: Mapping[str, Distribution], seed: int, number: int) -> dict[str, Any]:
        """Trial ``number``'s parameters (a function of its arguments only)."""
        return sample_params(space, seed, number)


class RandomSampler(Sampler):
    """``n_trials`` random trials over the whole space, in one round."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials

    def rounds(self) -> list[int]:
        return [self.n_trials]


class ZoomSampler(Sampler):
    """Coarse to fine: ``counts[r - 1]`` trials in round ``r``; round 1 samples the whole space,
    each later round :meth:`SearchResult.zoom` ``(top, margin)`` of all the trials before it.

    If no trial before a round completed, that round samples the same space as the one before
    it (with a warning).
    """

    def __init__(self, counts: Sequence[int], top: int, margin: float) -> None:
        self.counts = list(counts)
        self.top = top
        self.margin = margin
        self.last: dict[str, Distribution] | None = None

    def rounds(self) -> list[int]:
        return list(self.counts)

    def space(self, round: int, space: dict[str, Distribution], before: SearchResult) -> dict[str, Distribution]:
        if round == 1 or self.last is None:
            self.last = dict(space)
        elif any(t.status == COMPLETE for t in before.trials):
            self.last = before.zoom(top=self.top, margin=self.margin)
        else:
            warnings.warn(
                f"coarse_to_fine: no trial of rounds 1-{round - 1} completed; round {round} searches the same space",
                RuntimeWarning,
                stacklevel=5,  # the caller of coarse_to_fine
            )
        return self.last


__all__ = ["Sampler", "RandomSampler", "ZoomSampler", "sample_params"]
