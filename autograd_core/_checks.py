"""Argument checks shared by the library: one wording for every "must be a positive integer".

Each check returns the value as a plain Python ``int``/``float`` (so a ``np.int64`` from a
user's array becomes an ``int``) or raises an error that names the function (``where``),
the argument and the value at fault. ``bool`` is never taken for a number: ``True`` as a
batch size is a mistake, not a 1.

>>> check_int(3, "batch_size", "fit", low=1)
3
>>> check_int(0, "batch_size", "fit", low=1)
Traceback (most recent call last):
ValueError: fit: batch_size must be a positive integer, got 0
>>> check_real(0.5, "p", "Dropout", low=0, high=1)
0.5

Where a value's users need more than its interval, the message can say what the value is
(``meaning``), what kind of number it is (``noun``) or what it must be (``expected``):

>>> check_real(1.5, "p", "Dropout", low=0, high=1, meaning="the probability of dropping an element")
Traceback (most recent call last):
ValueError: Dropout: p is the probability of dropping an element and must be a number in [0, 1], got 1.5
>>> check_real(1.0, "beta", "Momentum", low=0, high=1, high_open=True, expected="in [0, 1)")
Traceback (most recent call last):
ValueError: Momentum: beta must be in [0, 1), got 1.0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

__all__ = ["check_int", "check_real", "check_bool", "check_choice"]


def _integer_phrase(low: int | None, high: int | None) -> str:
    if high is None:
        if low == 1:
            return "a positive integer"
        if low == 0:
            return "a non-negative integer"
        return "an integer" if low is None else f"an integer >= {low}"
    if low is None:
        return f"an integer <= {high}"
    return f"an integer in [{low}, {high}]"


def check_int(
    value: Any,
    what: str,
    where: str,
    *,
    low: int | None = None,
    high: int | None = None,
    expected: str | None = None,
) -> int:
    """``value`` as an ``int``, if it is an integer (not a bool) in ``[low, high]``.

    A value of the wrong type is a ``TypeError`` only when it is not a number at all (a
    string, ``None``); a float such as ``2.0`` or a number out of range is a ``ValueError``,
    as NumPy and scikit-learn report them. ``expected`` replaces what the message says the
    value must be (``"an integer >= 1"`` for an epoch, which counts from 1).
    """
    phrase = expected or _integer_phrase(low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            raise ValueError(f"{where}: {what} must be {phrase}, got {value!r}")
        raise TypeError(f"{where}: {what} must be {phrase}, got {value!r}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{where}: {what} must be {phrase}, got {value!r}")
    return number


def check_real(
    value: Any,
    what: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
    noun: str = "number",
    expected: str | None = None,
    meaning: str | None = None,
) -> float:
    """``value`` as a ``float``, if it is a real number (not a bool) in the given interval.

    ``low``/``high`` bound it (inclusive unless ``low_open``/``high_open``); ``finite``
    refuses NaN and infinities. The message names the interval in the usual notation.
    It can say more: ``noun`` is what is expected (``"real number"``: not a string, not
    complex), ``expected`` replaces what the value must be (``"in [0, 1)"``), and ``meaning``
    says what the value is (``p is the probability of dropping an element and must be ...``).
    """
    subject = what if meaning is None else f"{what} is {meaning} and"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {subject} must be a {noun}, got {value!r}")
    v = float(value)
    bad = math.isnan(v) or (finite and math.isinf(v))
    if low is not None and (v < low or (low_open and v == low)):
        bad = True
    if high is not None and (v > high or (high_open and v == high)):
        bad = True
    if bad:
        phrase = expected or _real_phrase(low, high, low_open, high_open, finite, noun)
        raise ValueError(f"{where}: {subject} must be {phrase}, got {value!r}")
    return v


def _real_phrase(
    low: float | None, high: float | None, low_open: bool, high_open: bool, finite: bool, noun: str = "number"
) -> str:
    if low is None and high is None:
        return f"a finite {noun}" if finite else f"a {noun} (not NaN)"
    if high is None:
        if low == 0:
            return f"a positive {noun}" if low_open else f"a non-negative {noun}"
        return f"a {noun} {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"a {noun} {'<' if high_open else '<='} {high:g}"
    return f"a {noun} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_bool(value: Any, what: str, where: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (a NumPy bool too): ``"no"`` or ``0`` would
    silently mean True or False."""
    if value is True or value is False:
        return value
    kind = type(value)
    if kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"):  # np.bool_ (NumPy 2 calls it bool)
        return bool(value)
    raise TypeError(f"{where}: {what} must be True or False, got {value!r}")


def check_choice(value: Any, what: str, where: str, choices: Collection[Any], *, expected: str | None = None) -> Any:
    """``value`` if it is one of ``choices``; otherwise a ValueError listing them (or saying
    ``expected``, such as ``"'values' or 'ops'"``)."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value asked of a set
        ok = False
    if not ok:
        phrase = expected or "one of " + ", ".join(repr(c) for c in choices)
        raise ValueError(f"{where}: {what} must be {phrase}; got {value!r}")
    return value
