"""``nn.save`` / ``nn.load``: a module's ``state_dict`` as a ``.npz`` file.

Built on :mod:`autograd_core.serialization`: the write is atomic (a temporary file
replaced in one step) and loading never unpickles, so a file from an untrusted source
cannot run code; a file holding object arrays is refused.
"""

from __future__ import annotations

import os

from autograd_core.serialization import load_arrays, save_arrays

from .module import Module

__all__ = ["save", "load"]


def save(module: Module, path: str | os.PathLike[str]) -> None:
    """Write ``module.state_dict()`` (parameters and running statistics) to the ``.npz`` file ``path``.

    >>> save(model, "model.npz")   # doctest: +SKIP
    """
    if not isinstance(module, Module):
        raise TypeError(f"nn.save: expected a Module, got {type(module).__name__}")
    save_arrays(path, module.state_dict())


def load(module: Module, path: str | os.PathLike[str], strict: bool = True) -> Module:
    """Load the arrays of the ``.npz`` file ``path`` into ``module`` (in place) and return it.

    The module must have the architecture the file was saved from; missing, unexpected or
    mis-shaped entries raise a ValueError naming them (see ``Module.load_state_dict``).

    >>> model = nn.load(make_model(), "model.npz").eval()   # doctest: +SKIP
    """
    if not isinstance(module, Module):
        raise TypeError(
            f"nn.load: expected the Module to load into (build the model first, then nn.load(model, path)), "
            f"got {type(module).__name__}"
        )
    try:
        module.load_state_dict(load_arrays(path), strict=strict)
    except ValueError as err:
        msg = str(err)
        if msg.startswith("load:"):
            raise
        raise ValueError(f"nn.load({os.fspath(path)!r}): {msg}") from None
    return module
