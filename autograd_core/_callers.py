"""Whose code is running: the library's or the user's.

``detect_anomaly()`` names the user's line that recorded an op, and a trace (``tracing.py``)
refuses reads of traced values made by the user's code but not the library's own. Both
ask the same question of a stack frame, answered here from its file name:

- **library** frames are in a registered package's directory: ``autograd_core`` itself,
  and each package built on it that registers when it is imported (``nn`` and ``optim``
  call :func:`register_library` with their ``__file__``; the core knows no other package);
- **see-through** frames (NumPy's and the standard library's, e.g. ``np.testing`` calling
  ``np.asarray(t)`` or ``copy.deepcopy`` calling ``__getstate__``) act for whoever called
  them, so the question is asked again of their caller;
- every other frame is the **user's**.
"""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
from types import FrameType

import numpy as np

__all__ = ["register_library", "in_library", "see_through", "user_frame", "describe", "caller"]


def _directory(path: str) -> str:
    path = os.path.abspath(path)
    return (path if os.path.isdir(path) else os.path.dirname(path)) + os.sep


#: Directories of the library's packages (with a trailing separator, for a prefix test).
LIBRARY: tuple[str, ...] = (_directory(__file__),)
_NUMPY = _directory(os.path.dirname(np.__file__))
_STDLIB = _directory(sysconfig.get_paths()["stdlib"])


def register_library(module_file: str) -> None:
    """Count the package whose ``__init__.py`` is ``module_file`` as part of the library: its
    frames are not the user's (``register_library(__file__)`` at the top of the package)."""
    global LIBRARY
    directory = _directory(module_file)
    if directory not in LIBRARY:
        LIBRARY = (*LIBRARY, directory)
        _USERS.clear()


def in_library(filename: str) -> bool:
    """Whether code in ``filename`` belongs to the library."""
    return filename.startswith(LIBRARY)


def see_through(filename: str) -> bool:
    """Whether code in ``filename`` acts for its caller (NumPy, the standard library)."""
    if filename.startswith(_NUMPY):
        return True
    return filename.startswith(_STDLIB) and "-packages" not in filename  # not site-/dist-packages under it


_USERS: dict[str, bool] = {}  # file name -> whether its code is the user's (a trace asks for every op)


def user_frame(frame: FrameType | None) -> FrameType | None:
    """The innermost frame, from ``frame`` outwards, that is the user's (None if there is none)."""
    users = _USERS
    while frame is not None:
        name = frame.f_code.co_filename
        user = users.get(name)
        if user is None:
            if len(users) > 4096:
                users.clear()
            user = users[name] = not name.startswith(LIBRARY) and not see_through(name)
        if user:
            return frame
        frame = frame.f_back
    return None


def describe(frame: FrameType) -> tuple[str, int, str, str]:
    """``(file, line, function, code)`` of a frame, the code being its source line (``""`` if unknown)."""
    code = frame.f_code
    return code.co_filename, frame.f_lineno, code.co_name, linecache.getline(code.co_filename, frame.f_lineno).strip()


def caller() -> tuple[str, int, str, str]:
    """``describe`` of the innermost user frame calling this function (of the caller itself when
    the whole stack is the library's)."""
    here = sys._getframe(1)
    return describe(user_frame(here) or here)
