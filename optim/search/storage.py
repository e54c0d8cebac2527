"""Where a search records its trials: in memory, or in an SQLite file it can resume from.

The driver talks to one interface, :class:`Storage`; ``storage=None`` gives an
:class:`InMemoryStorage`, a path an :class:`SQLiteStorage`.

The SQLite file: only the processes that run the search (the drivers) write; workers send
their results back to them. One transaction per trial, so a search stopped at any moment
(Ctrl-C, a crash, a killed machine) leaves every trial that had finished on disk, and the file
is never half-written: SQLite's journal makes each row all or nothing. Everything is stored as
numbers and JSON text (:mod:`optim.search.codec`); nothing is ever unpickled. A lock held by
another connection is waited for, however long, never a lost trial.

**Several drivers on one file** (the same search started in several processes on one
machine) share the work, as Optuna's shared storage does: a driver claims a trial in a
transaction before running it (:meth:`SQLiteStorage.claim`), so no trial runs twice while its
claimer lives; a driver that finds a trial claimed by another waits for its row, and takes it
over when that driver has died (its process is gone, or it has not written its heartbeat for
``GRACE`` seconds: a driver writes one every ``HEARTBEAT`` seconds from a thread). Each driver
returns the whole result. SQLite's locking is only to be trusted on a local disk: on a network
file system (NFS, SMB) it can fail silently and corrupt the file. Across machines, run one
driver with a Dask cluster as its executor.

Tables: ``meta`` (key → JSON: format, seed, metric, mode), ``rounds`` (round → its space, as
JSON), ``trials`` (number, round, status, value, params, metrics, error, curve, seconds,
attempts, finished_at), ``claims`` (number, driver, since) and ``drivers`` (id, host, pid,
beat). ``sqlite3 search.sqlite "select number, status, value from trials"`` reads it from a
shell.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
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
CREATE TABLE IF NOT EXISTS claims (number INTEGER PRIMARY KEY, driver TEXT NOT NULL, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS drivers (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, beat REAL NOT NULL);
"""


#: Seconds SQLite itself waits for a lock held by another connection before saying "locked".
#: The storage then waits on, retrying (a finished trial is never dropped), with a warning.
BUSY_TIMEOUT = 5.0
#: Seconds between two heartbeats of a driver.
HEARTBEAT = 5.0
#: A driver whose last heartbeat is older than this is dead: its claims are taken over.
GRACE = 60.0

#: What :meth:`Storage.claim` answers: run it; another living driver runs it; it is recorded.
CLAIMED, TAKEN, DONE = "claimed", "taken", "done"

HOST = socket.gethostname()

T = TypeVar("T")


def _wait(seconds: float) -> None:
    time.sleep(seconds)


def _busy(err: sqlite3.OperationalError) -> bool:
    """The error says that another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(err) or "busy" in str(err)


def _running(pid: int) -> bool:
    """False when no process ``pid`` runs on this machine (a zombie counts as gone). True when
    it cannot be told (on Windows): the heartbeat decides there."""
    if sys.platform == "win32":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _alive(host: str | None, pid: int | None, beat: float | None, now: float) -> bool:
    """Whether the driver of a claim lives (``None``: it closed, or its row was removed)."""
    if host is None or pid is None or beat is None or now - beat > GRACE:
        return False
    return host != HOST or _running(pid)


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


def _fresh_seed() -> int:
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)
    return entropy


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

    def claim(self, number: int) -> str:
        """Claim trial ``number`` before running it: :data:`CLAIMED` (run it), :data:`TAKEN`
        (another living driver runs it: :meth:`poll` for it) or :data:`DONE` (it was recorded
        since this driver read the trials: :meth:`poll` gives it)."""
        return CLAIMED

    def poll(self, numbers: Iterable[int]) -> tuple[dict[int, TrialResult], list[int]]:
        """Of trials claimed by other drivers: those recorded since, and those whose driver died
        (or gave them up), to be claimed again."""
        return {}, []

    def add(self, result: TrialResult) -> TrialResult:
        """Record a finished trial; returns what is recorded (another driver's row, if one
        recorded it first after taking it over from this one)."""
        raise NotImplementedError

    def close(self) -> None:
        """Give up this driver's claims and release the file (nothing to do in memory)."""

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

    def add(self, result: TrialResult) -> TrialResult:
        self._trials[result.number] = result
        return result


class SQLiteStorage(Storage):
    """An open search file. ``SQLiteStorage(path)`` creates it if needed; ``readonly=True`` only reads."""

    def __init__(self, path: str | os.PathLike[str], readonly: bool = False) -> None:
        self.path = self.file = os.fspath(path)
        if readonly:
            if not os.path.exists(self.path):
                raise FileNotFoundError(f"search.load: no such file: {self.path}")
        else:
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"storage: the folder {folder!r} does not exist (create it first)")
        self._warned = False
        self.id = uuid.uuid4().hex  # this driver, in the claims
        self._seen: dict[int, tuple[str, float]] = {}  # number -> the row this driver knows of it
        self._heart: _Heartbeat | None = None
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

        seed = self._write(settle, "record the search's settings")
        self._write(
            lambda: self.db.execute(
                "INSERT OR REPLACE INTO drivers VALUES (?, ?, ?, ?)", (self.id, HOST, os.getpid(), time.time())
            ),
            "register this driver",
        )
        self._heart = _Heartbeat(self.file, self.id)
        self._heart.start()
        return seed

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
    def add(self, result: TrialResult) -> TrialResult:
        """Write one finished trial (replacing a failed row of an earlier run), committed at once."""
        value = result.value
        finished = _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")
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
            finished,
        )
        n = result.number

        def record() -> TrialResult | None:
            if self._newer(n):  # another driver took it over from this one and recorded it first
                return self._rows(f"number = {int(n)}")[n]
            self.db.execute("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            self.db.execute("DELETE FROM claims WHERE number = ? AND driver = ?", (n, self.id))
            self._seen[n] = (finished, result.seconds)
            return None

        theirs = self._write(record, f"record trial {n}")
        return result if theirs is None else theirs

    def _rows(self, where: str = "1") -> dict[int, TrialResult]:
        out = {}
        query = (
            "SELECT number, round, status, value_repr, params, metrics, error, curve, seconds, attempts, finished_at "
            f"FROM trials WHERE {where} ORDER BY number"
        )
        for number, rnd, status, value, params, metrics, error, curve, seconds, attempts, finished in self.db.execute(
            query
        ).fetchall():
            self._seen[number] = (finished, seconds)
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

    def trials(self) -> dict[int, TrialResult]:
        """Every recorded trial, by number."""
        return self._read(self._rows, "read it")

    def _newer(self, number: int) -> bool:
        """Trial ``number`` has a row this driver has not seen (recorded by another driver)."""
        row = self.db.execute("SELECT finished_at, seconds FROM trials WHERE number = ?", (number,)).fetchone()
        return row is not None and tuple(row) != self._seen.get(number)

    def _claimer(self, number: int) -> tuple[Any, ...] | None:
        """``(driver, host, pid, beat)`` of trial ``number``'s claim (host, pid, beat None when
        its driver has gone), or None when it is not claimed."""
        return self.db.execute(
            "SELECT c.driver, d.host, d.pid, d.beat FROM claims c LEFT JOIN drivers d ON d.id = c.driver "
            "WHERE c.number = ?",
            (number,),
        ).fetchone()

    def claim(self, number: int) -> str:
        def take() -> str:
            if self._newer(number):
                return DONE
            claimer = self._claimer(number)
            if claimer is not None and claimer[0] != self.id:
                driver, host, pid, beat = claimer
                if _alive(host, pid, beat, time.time()):
                    return TAKEN
                self.db.execute("DELETE FROM drivers WHERE id = ?", (driver,))  # a dead driver's: take it over
            self.db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (number, self.id, time.time()))
            return CLAIMED

        return self._write(take, f"claim trial {number}")

    def poll(self, numbers: Iterable[int]) -> tuple[dict[int, TrialResult], list[int]]:
        numbers = [int(n) for n in numbers]

        def look() -> tuple[dict[int, TrialResult], list[int]]:
            now = time.time()
            newer = [n for n in numbers if self._newer(n)]
            finished = self._rows(f"number IN ({','.join(map(str, newer))})") if newer else {}
            orphaned = []
            for n in numbers:
                if n not in finished:
                    claimer = self._claimer(n)
                    if claimer is None or not _alive(claimer[1], claimer[2], claimer[3], now):
                        orphaned.append(n)
            return finished, orphaned

        return self._read(look, "read it")

    def close(self) -> None:
        try:
            if self._heart is not None:
                self._heart.stop()
                try:  # what this driver claimed and did not finish can be claimed at once
                    self.db.execute("BEGIN IMMEDIATE")
                    self.db.execute("DELETE FROM claims WHERE driver = ?", (self.id,))
                    self.db.execute("DELETE FROM drivers WHERE id = ?", (self.id,))
                    self.db.execute("COMMIT")
                except sqlite3.OperationalError:  # locked past the busy timeout: the claims die with the heartbeat
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
        finally:
            self.db.close()


class _Heartbeat(threading.Thread):
    """Writes the driver's ``beat`` every :data:`HEARTBEAT` seconds, on a connection of its own."""

    def __init__(self, path: str, driver: str) -> None:
        super().__init__(name="optim.search heartbeat", daemon=True)
        self.path = path
        self.driver = driver
        self.stopped = threading.Event()

    def run(self) -> None:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            while not self.stopped.wait(HEARTBEAT):
                try:
                    db.execute("UPDATE drivers SET beat = ? WHERE id = ?", (time.time(), self.driver))
                except sqlite3.OperationalError:  # the file is busy: the next beat
                    pass
        finally:
            db.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def open_storage(storage: str | os.PathLike[str] | None) -> Storage:
    """The storage for ``random_search``'s ``storage`` argument."""
    return InMemoryStorage() if storage is None else SQLiteStorage(storage)


__all__ = ["Storage", "InMemoryStorage", "SQLiteStorage", "open_storage", "FORMAT", "CLAIMED", "TAKEN", "DONE"]
