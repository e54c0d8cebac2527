"""Optional dependencies (the extras), imported only when used, with an error that says what to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, what: str, extra: str) -> ModuleType:
    """Import ``module`` for ``what``, or raise an ImportError naming ``pip install "autograd-core[extra]"``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f'{what} needs {module.split(".")[0]}, which is not installed: pip install "autograd-core[{extra}]"'
        ) from err
