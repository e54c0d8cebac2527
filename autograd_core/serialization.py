"""Saving and loading dicts of arrays as ``.npz``: atomic writes, never unpickled.

``nn.save``/``nn.load``, the optimizers' checkpoints and every other file the library
writes go through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import secrets
import stat
import zipfile
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import numpy as np


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Write a file all at once or not at all: ``write(f)`` fills a temporary file beside it.

    The temporary file is flushed to disk and then replaces ``path`` in one step, so a
    crash mid-save never leaves a truncated file where the old one was. The new file
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
    for _ in range(100):
        tmp = os.path.join(folder, f".{os.path.basename(target)}.tmp-{secrets.token_hex(4)}")
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

    A file holding object arrays, or one that is not a valid ``.npz``, raises a
    ValueError that names the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load: {path} is not a .npz file (not a zip archive); it will not be unpickled")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {key: f[key] for key in f.files}
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise ValueError(
                f"load: {path} holds object arrays, which would need pickle to load; refusing to unpickle"
            ) from None
        raise ValueError(f"load: {path} is not a valid .npz file ({err})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"load: {path} is not a valid .npz file ({err})") from None
