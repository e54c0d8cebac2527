"""Saving and loading dicts of arrays as ``.npz``: atomic writes, never unpickled.

``nn.save``/``nn.load``, the optimizers' checkpoints and every other file the library
writes go through :func:`atomic_write`.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import stat
import time
import zipfile
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import numpy as np

#: A temporary file not modified for this long is stale whoever wrote it (a writer on another
#: machine sharing the folder, or a file of an earlier version without a process id).
STALE_AFTER = 3600.0


def _host_tag() -> str:
    """Six hex digits naming this machine in temporary files (a process id means nothing elsewhere)."""
    return hashlib.blake2b(socket.gethostname().encode(), digest_size=3).hexdigest()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (ours, or another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a number we cannot ask about: leave it
    return True


def remove_stale_temporaries(target: str) -> list[str]:
    """Remove the temporary files that :func:`atomic_write` left beside ``target`` when killed.

    A writer killed mid-write (SIGKILL, power loss) leaves its ``.NAME.tmp-HOST-PID-XXXXXXXX``
    file behind. One is stale when its writer (``PID`` on this machine, ``HOST``) is no
    longer running, or when it has not been modified for :data:`STALE_AFTER` seconds (a writer
    on another machine sharing the folder, or the ``.NAME.tmp-XXXXXXXX`` of earlier versions).
    Files of a running writer are left alone. Returns the paths removed.
    """
    folder, name = os.path.split(target)
    ours = re.compile(rf"\.{re.escape(name)}\.tmp-(?:([0-9a-f]{{6}})-([0-9]+)-)?[0-9a-f]{{8}}")
    host = _host_tag()
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder or "."))
    except OSError:
        return removed
    for entry in entries:
        match = ours.fullmatch(entry.name)
        if match is None:
            continue
        try:
            stale = time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
            if not stale and match.group(1) == host:
                stale = not _alive(int(match.group(2)))
            if stale:
                os.remove(entry.path)
                removed.append(entry.path)
        except OSError:  # removed meanwhile by another writer, or not ours to remove
            continue
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Write a file all at once or not at all: ``write(f)`` fills a temporary file beside it.

    The temporary file is flushed to disk and then replaces ``path`` in one step, so a
    crash mid-save never leaves a truncated file where the old one was; the temporary
    files of writers killed earlier are removed (:func:`remove_stale_temporaries`). The new file
    keeps the mode of the file it replaces (else it gets the usual ``0o666`` less the
    umask, as ``open`` would give); saving through a symbolic link replaces the link's
    target, not the link. A missing folder is an error that names the folder.

    >>> atomic_write("notes.txt", lambda f: f.write(b"hello"))   # doctest: +SKIP
    """
    target = os.path.realpath(os.fspath(path))  # through symlinks: replace the file they point to
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder!r} does not exist (create it first, e.g. os.makedirs)")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: os.open below applies the umask to 0o666
    remove_stale_temporaries(target)
    prefix = os.path.join(folder, f".{os.path.basename(target)}.tmp-{_host_tag()}-{os.getpid()}-")
    for _ in range(100):
        tmp = prefix + secrets.token_hex(4)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - a hundred collisions of 32 random bits
        raise FileExistsError(f"save: could not create a temporary file in {folder!r}")
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_arrays(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` (name → array or number) to the ``.npz`` file ``path`` atomically
    (see :func:`atomic_write`). Object arrays are refused (they would need pickle to load).
    """
    clean: dict[str, Any] = {}  # (Any: NumPy's stub would match ndarray values against allow_pickle)
    for key, value in arrays.items():
        if not isinstance(key, str):
            raise TypeError(f"save: keys must be strings, got {key!r}")
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise TypeError(f"save: entry {key!r} is an object array, which cannot be saved without pickle")
        clean[key] = arr
    atomic_write(path, lambda f: np.savez(f, **clean))


def load_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a ``.npz`` file written by :func:`save_arrays` (never unpickles).

    A file holding object arrays, one that is not a valid ``.npz``, or one with a damaged
    entry raises a ValueError that names the file (and the entry).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load: {path} is not a .npz file (not a zip archive); it will not be unpickled")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as err:  # a damaged zip directory: BadZipFile, OSError, EOFError, ...
        raise ValueError(f"load: {path} is not a valid .npz file ({type(err).__name__}: {err})") from None
    out = {}
    with npz:
        for key in npz.files:
            try:
                value = npz[key]
            except ValueError as err:
                if "allow_pickle" in str(err) or "object arrays" in str(err).lower():
                    raise ValueError(
                        f"load: {path} holds object arrays (entry {key!r}), which would need pickle to load; "
                        "refusing to unpickle"
                    ) from None
                raise ValueError(f"load: {path}: entry {key!r} is damaged ({err})") from None
            except Exception as err:  # a bad CRC, an unknown compression method, a truncated entry, ...
                raise ValueError(f"load: {path}: entry {key!r} is damaged ({type(err).__name__}: {err})") from None
            if not isinstance(value, np.ndarray):  # a member whose name lost its ".npy" is read as bytes
                raise ValueError(f"load: {path}: entry {key!r} is not an array (a damaged file?)")
            out[key] = value
    return out
