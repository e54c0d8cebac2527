"""Where a hyperparameter is drawn from: the scales the deep-learning course teaches.

A learning rate between 0.0001 and 1 is not drawn uniformly (90 % of the draws would land
between 0.1 and 1): draw its exponent uniformly, ``r = uniform(-4, 0)``, ``lr = 10**r``, so
each decade gets the same share. An averaging ``β`` between 0.9 and 0.999 is drawn on the
scale of ``1 − β`` (which sets the window ``1/(1 − β)`` it averages over):
``1 − β = 10**uniform(-3, -1)``.

Every distribution has

- ``sample(rng)``: one value, from a ``numpy.random.Generator`` (or a legacy ``RandomState``);
- ``rvs(size=None, random_state=None)``: scipy.stats' protocol, so a space plugs into
  scikit-learn's ``RandomizedSearchCV`` as it is;
- ``narrow(low, high)``: the same kind of distribution over a sub-range (what coarse to fine
  uses).

>>> rng = np.random.default_rng(0)
>>> lr = LogUniform(1e-4, 1.0)
>>> 1e-4 <= lr.sample(rng) <= 1.0
True
>>> lr.narrow(1e-3, 1e-2)
LogUniform(0.001, 0.01)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autograd_core._checks import check_real

from .codec import decode_value, encode_value

RandomSource = np.random.Generator | np.random.RandomState | int | np.random.SeedSequence | None


def as_generator(random_state: RandomSource, where: str) -> np.random.Generator | np.random.RandomState:
    """A Generator or RandomState from what scipy.stats and scikit-learn pass as ``random_state``.

    ``None`` is NumPy's global RandomState (as in scipy.stats); an int or a SeedSequence seeds a
    new ``numpy.random.Generator``; a Generator or RandomState is used as it is.
    """
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if isinstance(random_state, (numbers.Integral, np.random.SeedSequence)) and not isinstance(random_state, bool):
        return np.random.default_rng(random_state)
    raise TypeError(
        f"{where}: random_state must be None, an int, a numpy.random.Generator or a RandomState, "
        f"got {type(random_state).__name__}"
    )


def _integers(rng: np.random.Generator | np.random.RandomState, low: int, high: int, size: Any) -> Any:
    """Integers in ``[low, high]`` (both ends) from either kind of generator."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(low, high, size=size, endpoint=True)
    return rng.randint(low, high + 1, size=size)


class Distribution:
    """A prior over one hyperparameter. See the module's docstring for the protocol.

    Subclasses define ``_draw(rng, size)``; the continuous ones also say on which scale they
    are uniform (``to_scale``/``from_scale``), which is the scale coarse to fine narrows on and
    the axis ``SearchResult.plot`` draws.
    """

    #: True when the samples are uniform on a log scale (plotted on a log axis).
    log_scale = False

    def sample(self, rng: np.random.Generator | np.random.RandomState) -> Any:
        """One value, drawn from ``rng`` (a ``numpy.random.Generator`` or ``RandomState``)."""
        if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
            rng = as_generator(rng, f"{self!r}.sample")
        return self._draw(rng, None)

    def rvs(self, size: int | tuple[int, ...] | None = None, random_state: RandomSource = None) -> Any:
        """scipy.stats' protocol: one value (``size=None``) or an array of ``size`` values."""
        return self._draw(as_generator(random_state, f"{self!r}.rvs"), size)

    def narrow(self, low: Any, high: Any) -> Distribution:
        """The same kind of distribution over ``[low, high]``, which must lie inside this one's range."""
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        """A JSON-ready description (what a storage file records)."""
        raise NotImplementedError

    def _draw(self, rng: np.random.Generator | np.random.RandomState, size: Any) -> Any:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.spec() == self.spec()

    def __hash__(self) -> int:
        return hash(repr(self))


class _Continuous(Distribution):
    """A distribution over ``[low, high]`` that is uniform on some scale ``t = to_scale(x)``."""

    def __init__(self, low: float, high: float) -> None:
        name = type(self).__name__
        low = check_real(low, "low", name)
        high = check_real(high, "high", name)
        if low > high:
            raise ValueError(f"{name}({low:g}, {high:g}): low must not exceed high")
        self._check(low, high)
        self.low = low
        self.high = high

    def _check(self, low: float, high: float) -> None:
        """Extra checks of the bounds (positivity for a log scale)."""

    def to_scale(self, x: Any) -> Any:
        """The coordinate in which the samples are uniform."""
        return np.asarray(x, dtype=np.float64)

    def from_scale(self, t: Any) -> Any:
        """The inverse of :meth:`to_scale`: values from coordinates on the sampling scale."""
        return np.asarray(t, dtype=np.float64)

    def _draw(self, rng: np.random.Generator | np.random.RandomState, size: Any) -> Any:
        a, b = sorted((float(self.to_scale(self.low)), float(self.to_scale(self.high))))
        x = np.clip(self.from_scale(rng.uniform(a, b, size=size)), self.low, self.high)
        return float(x) if size is None else x

    def narrow(self, low: Any, high: Any) -> Distribution:
        name = type(self).__name__
        low, high = check_real(low, "low", name), check_real(high, "high", name)
        if low < self.low or high > self.high:
            raise ValueError(
                f"{self!r}.narrow({low:g}, {high:g}): the sub-range must lie inside [{self.low:g}, {self.high:g}]"
            )
        return type(self)(low, high)

    def spec(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "low": self.low, "high": self.high}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"


class Uniform(_Continuous):
    """Uniform on ``[low, high]`` (a keep-probability, a weight on a loss term).

    >>> Uniform(0.5, 1.0).rvs(size=3, random_state=0).round(3)
    array([0.818, 0.635, 0.52 ])
    """


class LogUniform(_Continuous):
    """``10**uniform(log10(low), log10(high))``: each decade gets the same share.

    For ``LogUniform(1e-4, 1)``: ``r = uniform(-4, 0)``, ``lr = 10**r``, so a quarter of the
    draws fall in each of [1e-4, 1e-3], [1e-3, 1e-2], [1e-2, 0.1] and [0.1, 1]. ``low`` must be
    positive.

    >>> lr = LogUniform(1e-4, 1.0).rvs(size=10_000, random_state=0)
    >>> np.histogram(np.log10(lr), bins=[-4, -3, -2, -1, 0])[0] / 10_000   # share per decade
    array([0.2524, 0.2466, 0.2505, 0.2505])
    """

    log_scale = True

    def _check(self, low: float, high: float) -> None:
        if low <= 0:
            raise ValueError(
                f"LogUniform({low:g}, {high:g}): low must be positive (its samples are "
                "10**uniform(log10(low), log10(high))); for a range that reaches 0 use Uniform"
            )

    def to_scale(self, x: Any) -> Any:
        return np.log10(np.asarray(x, dtype=np.float64))

    def from_scale(self, t: Any) -> Any:
        return 10.0 ** np.asarray(t, dtype=np.float64)


class OneMinusLogUniform(_Continuous):
    """``1 − 10**uniform(log10(1 − high), log10(1 − low))``: log-uniform on the scale of ``1 − β``.

    For ``OneMinusLogUniform(0.9, 0.999)``: ``1 − β = 10**uniform(-3, -1)``, so β = 0.9 … 0.99
    (averaging over 10 … 100 values) gets as many draws as β = 0.99 … 0.999 (100 … 1000),
    where a small change of β matters much more. Requires ``0 <= low <= high < 1``.

    >>> beta = OneMinusLogUniform(0.9, 0.999)
    >>> [round(1 - float(b), 5) for b in beta.rvs(size=3, random_state=0)]
    [0.01879, 0.00346, 0.00121]
    """

    log_scale = True

    def _check(self, low: float, high: float) -> None:
        if not (0.0 <= low and high < 1.0):
            raise ValueError(
                f"OneMinusLogUniform({low:g}, {high:g}): needs 0 <= low <= high < 1 "
                "(its samples are 1 - 10**uniform(log10(1 - high), log10(1 - low)))"
            )

    def to_scale(self, x: Any) -> Any:
        return np.log10(1.0 - np.asarray(x, dtype=np.float64))

    def from_scale(self, t: Any) -> Any:
        return 1.0 - 10.0 ** np.asarray(t, dtype=np.float64)


class IntUniform(Distribution):
    """Integers from ``low`` to ``high``, both ends included, each equally likely (hidden units).

    >>> IntUniform(50, 100).rvs(size=5, random_state=0)
    array([93, 82, 76, 63, 65])
    """

    def __init__(self, low: int, high: int) -> None:
        for what, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or float(v) != int(v):
                raise TypeError(f"IntUniform: {what} must be an integer, got {v!r}")
        low, high = int(low), int(high)
        if low > high:
            raise ValueError(f"IntUniform({low}, {high}): low must not exceed high")
        self.low = low
        self.high = high

    def to_scale(self, x: Any) -> Any:
        """The coordinate in which the samples are uniform: the integers themselves."""
        return np.asarray(x, dtype=np.float64)

    def from_scale(self, t: Any) -> Any:
        """The inverse of :meth:`to_scale`."""
        return np.asarray(t, dtype=np.float64)

    def _draw(self, rng: np.random.Generator | np.random.RandomState, size: Any) -> Any:
        x = _integers(rng, self.low, self.high, size)
        return int(x) if size is None else np.asarray(x, dtype=np.int64)

    def narrow(self, low: Any, high: Any) -> IntUniform:
        if low < self.low or high > self.high:
            raise ValueError(f"{self!r}.narrow({low}, {high}): the sub-range must lie inside [{self.low}, {self.high}]")
        return IntUniform(low, high)

    def spec(self) -> dict[str, Any]:
        return {"type": "IntUniform", "low": self.low, "high": self.high}

    def __repr__(self) -> str:
        return f"IntUniform({self.low}, {self.high})"


class Choice(Distribution):
    """One of ``options``, each equally likely (a mini-batch size, an activation, an optimizer).

    ``narrow(low, high)`` keeps the options between ``low`` and ``high`` (they must be
    comparable, as numbers are); ``restrict(options)`` keeps the given ones, for any kind.

    >>> sizes = Choice([32, 64, 128, 256])
    >>> sizes.rvs(size=4, random_state=0)
    array([256, 128, 128,  64])
    >>> sizes.narrow(64, 128)
    Choice([64, 128])
    """

    def __init__(self, options: Sequence[Any]) -> None:
        if isinstance(options, (str, bytes)) or not isinstance(options, (Sequence, np.ndarray, range)):
            raise TypeError(f"Choice: options must be a list of values, got {options!r}")
        opts = [o.item() if isinstance(o, np.generic) else o for o in options]
        if not opts:
            raise ValueError("Choice: needs at least one option, got an empty list")
        self.options = opts

    def _draw(self, rng: np.random.Generator | np.random.RandomState, size: Any) -> Any:
        index = _integers(rng, 0, len(self.options) - 1, size)
        if size is None:
            return self.options[int(index)]
        if all(isinstance(o, numbers.Real) and not isinstance(o, bool) for o in self.options):
            return np.asarray(self.options)[index]
        table = np.empty(len(self.options), dtype=object)
        for i, o in enumerate(self.options):  # one by one: a tuple option stays one element
            table[i] = o
        return table[index]

    def narrow(self, low: Any, high: Any) -> Choice:
        try:
            kept = [o for o in self.options if low <= o <= high]
        except TypeError:
            raise TypeError(
                f"{self!r}.narrow({low!r}, {high!r}): these options cannot be compared; use restrict([...])"
            ) from None
        if not kept:
            raise ValueError(f"{self!r}.narrow({low!r}, {high!r}): no option lies in that range")
        return Choice(kept)

    def restrict(self, options: Sequence[Any]) -> Choice:
        """The options that are also in ``options``, in this distribution's order."""
        kept = [o for o in self.options if any(_same(o, k) for k in options)]
        if not kept:
            raise ValueError(f"{self!r}.restrict({list(options)!r}): none of these is an option")
        return Choice(kept)

    def spec(self) -> dict[str, Any]:
        return {"type": "Choice", "options": [encode_value(o) for o in self.options]}

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other odd options compare by identity
        return a is b


DISTRIBUTIONS = {cls.__name__: cls for cls in (Uniform, LogUniform, OneMinusLogUniform, IntUniform, Choice)}


def from_spec(spec: dict[str, Any]) -> Distribution:
    """The distribution a :meth:`Distribution.spec` describes."""
    kind = DISTRIBUTIONS.get(spec.get("type", ""))
    if kind is None:
        raise ValueError(f"unknown distribution {spec!r}")
    if kind is Choice:
        return Choice([decode_value(o) for o in spec["options"]])
    return kind(spec["low"], spec["high"])


def space_spec(space: Mapping[str, Distribution]) -> list[list[Any]]:
    """A space as JSON-ready ``[name, distribution spec]`` pairs (in order)."""
    return [[name, dist.spec()] for name, dist in space.items()]


def space_from_spec(spec: list[list[Any]]) -> dict[str, Distribution]:
    """The space :func:`space_spec` describes."""
    return {name: from_spec(d) for name, d in spec}


def zoom_one(dist: Distribution, values: list[Any], margin: float, bounds: Distribution) -> Distribution:
    """``dist`` narrowed around ``values`` (the top trials'), on its own scale, inside ``bounds``.

    Continuous and integer parameters: the span of the values on the parameter's scale
    (``log10 x`` for LogUniform, ``log10(1 − x)`` for OneMinusLogUniform, ``x`` otherwise),
    widened by ``margin`` × that span on each side — by at least ``margin`` × 10 % of the whole
    range of ``bounds``, so a single value still gets a box — and clipped to ``bounds``.
    Integers round outwards. A Choice keeps the options the values use (numbers: every option
    between the smallest and the largest used).
    """
    if isinstance(bounds, Choice):
        used = [o for o in bounds.options if any(_same(o, v) for v in values)]
        numeric = all(isinstance(o, numbers.Real) and not isinstance(o, bool) for o in bounds.options)
        if numeric and used:
            return bounds.narrow(min(used), max(used))
        return bounds.restrict(used) if used else dist
    t = np.asarray(bounds.to_scale(values), dtype=np.float64)
    ends = np.asarray(bounds.to_scale([bounds.low, bounds.high]), dtype=np.float64)
    lo_t, hi_t = float(ends.min()), float(ends.max())
    span = float(t.max() - t.min())
    pad = margin * max(span, 0.1 * (hi_t - lo_t))
    a, b = max(float(t.min()) - pad, lo_t), min(float(t.max()) + pad, hi_t)
    x = np.sort(np.asarray(bounds.from_scale([a, b]), dtype=np.float64))
    low, high = max(float(x[0]), float(bounds.low)), min(float(x[1]), float(bounds.high))
    low, high = min(low, min(values)), max(high, max(values))  # rounding never drops a top value
    if isinstance(bounds, IntUniform):
        low, high = math.floor(low + 1e-9), math.ceil(high - 1e-9)
        return IntUniform(max(low, bounds.low), min(high, bounds.high))
    return type(bounds)(low, high)
