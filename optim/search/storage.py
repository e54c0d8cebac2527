"""The search's SQLite file: one row per finished trial, written by the driver as each finishes.

Only the process that runs the search writes (workers send their results back to it), one
transaction per trial, so a search stopped at any moment (Ctrl-C, a crash, a killed machine)
leaves every trial that had finished on disk, and the file is never half-written: SQLite's
journal makes each row all or nothing. Everything is stored as numbers and JSON text; nothing
is ever unpickled.

Tables: ``meta`` (key → JSON: format, seed, metric, mode), ``rounds`` (round → its space, as
JSON) and ``trials`` (number, round, status, value, params, metrics, error, curve, seconds,
attempts, finished_at). ``sqlite3 search.sqlite "select number, status, value from trials"``
reads it from a shell.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sqlite3
from collections.abc import Mapping
from typing import Any

import numpy as np

from .distributions import Distribution, from_spec
from .trial import TrialResult

FORMAT = "optim.search/1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (round INTEGER PRIMARY KEY, space TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    number INTEGER PRIMARY KEY,
    round INTEGER NOT NULL,
    status TEXT NOT NULL,
    value REAL,
    value_repr TEXT,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    error TEXT,
    curve TEXT NOT NULL,
    seconds REAL NOT NULL,
    attempts INTEGER NOT NULL,
    finished_at TEXT NOT NULL
);
"""


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


def space_spec(space: Mapping[str, Distribution]) -> list[list[Any]]:
    """A space as JSON-ready ``[name, distribution spec]`` pairs (in order)."""
    return [[name, dist.spec()] for name, dist in space.items()]


def space_from_spec(spec: list[list[Any]]) -> dict[str, Distribution]:
    return {name: from_spec(d) for name, d in spec}


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


class Storage:
    """An open search file. ``Storage(path)`` creates it if needed; ``readonly=True`` only reads."""

    def __init__(self, path: str | os.PathLike[str], readonly: bool = False) -> None:
        self.path = os.fspath(path)
        if readonly:
            if not os.path.exists(self.path):
                raise FileNotFoundError(f"search.load: no such file: {self.path}")
        else:
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"storage: the folder {folder!r} does not exist (create it first)")
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as err:
            raise ValueError(f"storage: {self.path} is not a search file ({err})") from None
        if tables and "meta" not in tables or "meta" in tables and self._get("format") != FORMAT:
            self.db.close()
            raise ValueError(
                f"storage: {self.path} is an SQLite file but not a search's (it has the tables {sorted(tables)}); "
                "give the search a file of its own"
            )
        if not tables and readonly:
            self.db.close()
            raise ValueError(f"search.load: {self.path} holds no search")
        if not readonly:
            # WAL: a commit appends to the log and needs no rewrite of the file; NORMAL keeps
            # every committed trial through a crash of this process (not of the machine's power).
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            with self.db:
                self.db.executescript(_SCHEMA)
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (_dumps(FORMAT),))

    # ------------------------------------------------------------------ meta and rounds
    def _get(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def meta(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self.db.execute("SELECT key, value FROM meta")}

    def agree(self, seed: int, metric: str, mode: str) -> None:
        """Check that this file holds the same search (or none yet) and record its settings."""
        stored = self.meta()
        if "seed" in stored:
            for key, mine in (("seed", seed), ("metric", metric), ("mode", mode)):
                if stored[key] != mine:
                    raise ValueError(
                        f"storage: {self.path} holds a search with {key}={stored[key]!r}, not {mine!r}; "
                        "resume it with the same settings, or give this search another file"
                    )
            return
        with self.db:
            for key, value in (("seed", seed), ("metric", metric), ("mode", mode)):
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dumps(value)))
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('created', ?)",
                (_dumps(_dt.datetime.now().astimezone().isoformat(timespec="seconds")),),
            )

    def agree_round(self, round: int, space: Mapping[str, Distribution]) -> None:
        """Record round ``round``'s space, or check it is the one recorded."""
        spec = space_spec(space)
        row = self.db.execute("SELECT space FROM rounds WHERE round = ?", (round,)).fetchone()
        if row is None:
            with self.db:
                self.db.execute("INSERT INTO rounds VALUES (?, ?)", (round, _dumps(spec)))
        elif json.loads(row[0]) != json.loads(_dumps(spec)):
            stored = space_from_spec(json.loads(row[0]))
            raise ValueError(
                f"storage: {self.path} holds a search whose round {round} searched {stored}, not {dict(space)}; "
                "resume it with the same space, or give this search another file"
            )

    def spaces(self) -> dict[int, dict[str, Distribution]]:
        rows = self.db.execute("SELECT round, space FROM rounds ORDER BY round")
        return {r: space_from_spec(json.loads(s)) for r, s in rows}

    # ------------------------------------------------------------------ trials
    def add(self, result: TrialResult) -> None:
        """Write one finished trial (replacing an earlier row of the same number), committed at once."""
        value = result.value
        row = (
            result.number,
            result.round,
            result.status,
            value if value is not None and math.isfinite(value) else None,
            None if value is None else repr(float(value)),
            _dumps({k: encode_value(v) for k, v in result.params.items()}),
            _dumps(result.metrics),
            result.error,
            _dumps(result.curve),
            result.seconds,
            result.attempts,
            _dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
        )
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def trials(self) -> dict[int, TrialResult]:
        """Every recorded trial, by number."""
        out = {}
        query = (
            "SELECT number, round, status, value_repr, params, metrics, error, curve, seconds, attempts "
            "FROM trials ORDER BY number"
        )
        for number, rnd, status, value, params, metrics, error, curve, seconds, attempts in self.db.execute(query):
            out[number] = TrialResult(
                number=number,
                params={k: decode_value(v) for k, v in json.loads(params).items()},
                value=None if value is None else float(value),
                metrics=json.loads(metrics),
                status=status,
                error=error,
                curve=json.loads(curve),
                seconds=seconds,
                round=rnd,
                attempts=attempts,
            )
        return out

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
