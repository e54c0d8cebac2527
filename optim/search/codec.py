"""How a parameter value is written as JSON and read back (what the storage and a space's spec hold).

Numbers, strings, None, lists, tuples and dicts keep their type through a round trip; any
other object is written as its ``repr`` and read back as that string. Nothing is ever
unpickled. This module imports nothing of the search, so both the distributions and the
storage can use it.

>>> decode_value(encode_value((64, "wide", None)))
(64, 'wide', None)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def encode_value(value: Any) -> Any:
    """A JSON-ready form of a parameter value: numbers, strings, None, lists, tuples and dicts
    keep their type through :func:`decode_value`; any other object is kept as its ``repr``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    return {"__repr__": repr(value)}


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value` (an object stored by its ``repr`` comes back as that string)."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode_value(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {decode_value(k): decode_value(v) for k, v in value["__dict__"]}
        if "__repr__" in value:
            return value["__repr__"]
    return value


def round_trip(value: Any) -> Any:
    """``value`` as it comes back from storage (what a resumed search compares its draws with)."""
    return decode_value(encode_value(value))


__all__ = ["encode_value", "decode_value", "round_trip"]
