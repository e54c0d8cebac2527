"""Saving and loading dicts of arrays as ``.npz``: atomic writes, never unpickled.

``nn.save``/``nn.load`` and the optimizers' checkpoints are built on these two.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np


def save_arrays(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` (name → array or number) to the ``.npz`` file ``path`` atomically.

    The data goes to a temporary file in the same folder, is flushed to disk, and then
    replaces ``path`` in one step, so a crash mid-save never leaves a truncated file
    where the old one was. Object arrays are refused (they would need pickle to load).
    """
    path = os.fspath(path)
    clean = {}
    for key, value in arrays.items():
        if not isinstance(key, str):
            raise TypeError(f"save: keys must be strings, got {key!r}")
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise TypeError(f"save: entry {key!r} is an object array, which cannot be saved without pickle")
        clean[key] = arr
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **clean)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


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
