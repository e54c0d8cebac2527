"""Where a search records its trials: in memory, or in an SQLite file it can resume from.

The driver talks to one interface, :class:`Storage`; ``storage=None`` gives an
:class:`InMemoryStorage`, a path an :class:`SQLiteStorage`.

The SQLite file: only the process that runs the search writes (workers send their results
back to it), one transaction per trial, so a search stopped at any moment (Ctrl-C, a crash, a
killed machine) leaves every trial that had finished on disk, and the file is never
half-written: SQLite's journal makes each row all or nothing. Everything is stored as numbers
and JSON text (:mod:`optim.search.codec`); nothing is ever unpickled.

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
from typing import Any, Self

import numpy as np

from .codec import decode_value, encode_value
from .distributions import Distribution, space_from_spec, space_spec
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


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


def _fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy)


class Storage:
    """The interface the driver records a search through.

    ``start`` settles the search's seed, metric and mode (checking them against a search
    already recorded), ``start_round`` records a round's space (or checks it), ``trials``
    gives the recorded trials by number, ``add`` records one finished trial.
    """

    #: The file, or None in memory.
    path: str | None = None

    @property
    def name(self) -> str:
        """How messages name it."""
        return self.path if self.path is not None else "the in-memory storage"

    def start(self, seed: int | None, metric: str, mode: str) -> int:
        """The search's seed: ``seed``, or the recorded one, or a fresh one when both are None."""
        raise NotImplementedError

    def start_round(self, round: int, space: Mapping[str, Distribution]) -> None:
        raise NotImplementedError

    def trials(self) -> dict[int, TrialResult]:
        raise NotImplementedError

    def add(self, result: TrialResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (nothing to do in memory)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InMemoryStorage(Storage):
    """The trials of one call, kept in this process (``storage=None``)."""

    def __init__(self) -> None:
        self._spaces: dict[int, dict[str, Distribution]] = {}
        self._trials: dict[int, TrialResult] = {}

    def start(self, seed: int | None, metric: str, mode: str) -> int:
        return seed if seed is not None else _fresh_seed()

    def start_round(self, round: int, space: Mapping[str, Distribution]) -> None:
        self._spaces[round] = dict(space)

    def trials(self) -> dict[int, TrialResult]:
        return dict(self._trials)

    def add(self, result: TrialResult) -> None:
        self._trials[result.number] = result


class SQLiteStorage(Storage):
    """An open search file. ``SQLiteStorage(path)`` creates it if needed; ``readonly=True`` only reads."""

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

    def start(self, seed: int | None, metric: str, mode: str) -> int:
        stored = self.meta()
        if seed is None:
            seed = stored.get("seed")  # resume a search that drew its own seed
        if seed is None:
            seed = _fresh_seed()
        if "seed" in stored:
            for key, mine in (("seed", seed), ("metric", metric), ("mode", mode)):
                if stored[key] != mine:
                    raise ValueError(
                        f"storage: {self.path} holds a search with {key}={stored[key]!r}, not {mine!r}; "
                        "resume it with the same settings, or give this search another file"
                    )
            return seed
        with self.db:
            for key, value in (("seed", seed), ("metric", metric), ("mode", mode)):
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dumps(value)))
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('created', ?)",
                (_dumps(_dt.datetime.now().astimezone().isoformat(timespec="seconds")),),
            )
        return seed

    def start_round(self, round: int, space: Mapping[str, Distribution]) -> None:
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


def open_storage(storage: str | os.PathLike[str] | None) -> Storage:
    """The storage for ``random_search``'s ``storage`` argument."""
    return InMemoryStorage() if storage is None else SQLiteStorage(storage)


__all__ = ["Storage", "InMemoryStorage", "SQLiteStorage", "open_storage", "FORMAT"]
