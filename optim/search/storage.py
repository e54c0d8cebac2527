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
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar

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


#: Seconds SQLite itself waits for a lock held by another connection before saying "locked".
#: The storage then waits on, retrying (a finished trial is never dropped), with a warning.
BUSY_TIMEOUT = 5.0

T = TypeVar("T")


def _wait(seconds: float) -> None:
    time.sleep(seconds)


def _busy(err: sqlite3.OperationalError) -> bool:
    """The error says that another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(err) or "busy" in str(err)


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
        self._warned = False
        try:
            # Transactions are opened here by hand (BEGIN IMMEDIATE: the write lock is taken
            # first, so that reading and writing in one transaction cannot be refused half way).
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            tables = self._read(
                lambda: {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")},
                "open it",
            )
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
            self._read(lambda: self.db.execute("PRAGMA journal_mode=WAL"), "open it")
            self.db.execute("PRAGMA synchronous=NORMAL")

            def create() -> None:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (_dumps(FORMAT),))

            self._write(create, "create its tables")

    # ------------------------------------------------------------------ waiting for locks
    def _retry(self, what: str, started: float, delay: float) -> float:
        """Wait before trying again; warn once when another connection has held the lock a while."""
        if not self._warned and time.monotonic() - started >= BUSY_TIMEOUT:
            self._warned = True
            warnings.warn(
                f"storage: {self.path} is locked by another connection (another program, or an sqlite3 shell in "
                f"a transaction); waiting to {what}. Nothing is lost: the search goes on when the lock is released",
                RuntimeWarning,
                stacklevel=5,
            )
        _wait(delay)
        return min(2 * delay, 1.0)

    def _read(self, action: Callable[[], T], what: str) -> T:
        """``action()``, tried again for as long as another connection keeps the file locked."""
        started, delay = time.monotonic(), 0.01
        while True:
            try:
                return action()
            except sqlite3.OperationalError as err:
                if not _busy(err):
                    raise
            delay = self._retry(what, started, delay)

    def _write(self, action: Callable[[], T], what: str) -> T:
        """``action()`` in one transaction that holds the write lock from its start, tried again
        (from the start) for as long as another connection keeps the file locked: never dropped."""
        started, delay = time.monotonic(), 0.01
        while True:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    out = action()
                    self.db.execute("COMMIT")
                    return out
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as err:
                if not _busy(err):
                    raise
            delay = self._retry(what, started, delay)

    # ------------------------------------------------------------------ meta and rounds
    def _get(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _meta(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self.db.execute("SELECT key, value FROM meta")}

    def meta(self) -> dict[str, Any]:
        return self._read(self._meta, "read it")

    def start(self, seed: int | None, metric: str, mode: str) -> int:
        def settle() -> int:  # in one transaction: two drivers starting together agree on one seed
            stored = self._meta()
            mine = seed if seed is not None else stored.get("seed")  # resume a search that drew its own seed
            if mine is None:
                mine = _fresh_seed()
            if "seed" in stored:
                for key, value in (("seed", mine), ("metric", metric), ("mode", mode)):
                    if stored[key] != value:
                        raise ValueError(
                            f"storage: {self.path} holds a search with {key}={stored[key]!r}, not {value!r}; "
                            "resume it with the same settings, or give this search another file"
                        )
                return mine
            for key, value in (("seed", mine), ("metric", metric), ("mode", mode)):
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dumps(value)))
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('created', ?)",
                (_dumps(_dt.datetime.now().astimezone().isoformat(timespec="seconds")),),
            )
            return mine

        return self._write(settle, "record the search's settings")

    def start_round(self, round: int, space: Mapping[str, Distribution]) -> None:
        """Record round ``round``'s space, or check it is the one recorded."""
        spec = space_spec(space)

        def settle() -> Any:
            self.db.execute("INSERT OR IGNORE INTO rounds VALUES (?, ?)", (round, _dumps(spec)))
            return self.db.execute("SELECT space FROM rounds WHERE round = ?", (round,)).fetchone()

        row = self._write(settle, f"record round {round}'s space")
        if json.loads(row[0]) != json.loads(_dumps(spec)):
            stored = space_from_spec(json.loads(row[0]))
            raise ValueError(
                f"storage: {self.path} holds a search whose round {round} searched {stored}, not {dict(space)}; "
                "resume it with the same space, or give this search another file"
            )

    def spaces(self) -> dict[int, dict[str, Distribution]]:
        rows = self._read(
            lambda: self.db.execute("SELECT round, space FROM rounds ORDER BY round").fetchall(), "read it"
        )
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
        self._write(
            lambda: self.db.execute("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row),
            f"record trial {result.number}",
        )

    def trials(self) -> dict[int, TrialResult]:
        """Every recorded trial, by number."""
        out = {}
        query = (
            "SELECT number, round, status, value_repr, params, metrics, error, curve, seconds, attempts "
            "FROM trials ORDER BY number"
        )
        rows = self._read(lambda: self.db.execute(query).fetchall(), "read it")
        for number, rnd, status, value, params, metrics, error, curve, seconds, attempts in rows:
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
