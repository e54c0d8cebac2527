"""How a module takes part in an ONNX export, and ``nn.export_onnx``.

``ag.export_onnx`` knows nothing of ``nn``: it asks the object it exports for
``onnx_export_context()`` (see ``autograd_core.onnx``). A module's is :func:`export_context`:
eval mode while the export traces it (every module's mode restored afterwards, also on an
error), and its ``state_dict`` names for the initializers of its parameters and buffers.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from autograd_core import export_onnx as _export_onnx

from .conv import Conv2d
from .embedding import Embedding
from .layers import Dense
from .module import Module, positive_int
from .rnn import GRU, LSTM, RNN

__all__ = ["export_onnx", "export_context"]


@contextlib.contextmanager
def export_context(module: Module) -> Iterator[dict[int, str]]:
    """Eval mode (recording allowed) while ``module`` is exported, with the names of its arrays:
    ``id`` of each parameter, of its data and of each buffer → its ``state_dict`` key."""
    with module.evaluating(grad=True):
        names = {id(p): n for n, p in module.named_parameters()}
        names.update({id(p.data): n for n, p in module.named_parameters()})
        names.update({id(a): n for n, a in module.named_buffers()})
        yield names


def in_dtype(model: Module, dtype: np.dtype, where: str) -> Module:
    """``model`` itself when its floating parameters and buffers are all ``dtype``, else a copy
    whose are (the model is left alone)."""
    floats = [p.data for p in model.parameters()] + [a for _, a in model.named_buffers()]
    if all(a.dtype == dtype for a in floats if a.dtype.kind == "f"):
        return model
    try:
        copied = copy.deepcopy(model)
    except Exception as err:
        raise TypeError(
            f"{where}: to export {type(model).__name__} as {dtype} it is copied and cast, but it cannot be copied "
            f"({type(err).__name__}: {err}); pass the model's own dtype, or build it in {dtype}"
        ) from err
    for p in copied.parameters():
        if p.data.dtype.kind == "f":
            p.data = p.data.astype(dtype)
    for m in copied.modules():
        for name in m._buffer_names:
            arr = getattr(m, name)
            if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
                setattr(m, name, arr.astype(dtype))
    return copied


def export_onnx(
    model: Module,
    path: str | os.PathLike[str] | None,
    *,
    in_features: int | None = None,
    dtype: Any = np.float32,
    opset: int = 17,
) -> Any:
    """Export ``model`` (one input of shape ``(batch, in_features)``) to the ONNX file ``path``.

    :func:`autograd_core.export_onnx` without an example: the model is traced on a small
    random batch, with a symbolic batch axis, in eval mode (its modes are restored
    afterwards). ``dtype`` is the exported model's: its input, initializers, computation and
    output (what deployment runtimes expect; a float64 model exported as ``np.float32``, the
    default, is copied and cast first, and the model itself is left alone; ``np.float64``
    keeps float64 throughout). ``in_features`` defaults to the first ``Dense`` layer's.

    A sequence model (its first layer an ``Embedding`` or a recurrent layer, and a recurrent
    layer inside) takes ``(batch, time)`` int64 indices, or ``(batch, time, features)``
    sequences, with batch and time both free (``dynamic_axes=(0, 1)``).

    Returns the ``onnx.ModelProto`` (``path=None`` only returns it). Needs ``pip install
    "autograd-core[onnx]"``.

    >>> model = nn.Sequential(nn.Dense(64, 32), nn.ReLU(), nn.Dense(32, 10))
    >>> nn.export_onnx(model, "digits.onnx")                             # doctest: +SKIP
    """
    where = "nn.export_onnx"
    if not isinstance(model, Module):
        raise TypeError(f"{where}: model must be an nn.Module, got {type(model).__name__}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{where}: dtype is the exported model's: np.float32 or np.float64, not {dtype}")
    if in_features is None:
        recurrent = (RNN, LSTM, GRU)
        first = next((m for m in model.modules() if isinstance(m, (Dense, Conv2d, Embedding, *recurrent))), None)
        if isinstance(first, (Embedding, *recurrent)) and any(isinstance(m, recurrent) for m in model.modules()):
            if isinstance(first, Embedding):  # (batch, time) indices
                sequences: np.ndarray = np.zeros((2, 3), dtype=np.int64)
            else:  # (batch, time, features), or time first
                sequences = np.random.default_rng(0).normal(size=(2, 3, first.input_size)).astype(dtype)
            target = in_dtype(model, dtype, where)  # outputs named "output" (or output_0, output_1, ...)
            return _export_onnx(target, sequences, path=path, opset=opset, input_names=["input"], dynamic_axes=(0, 1))
        if isinstance(first, (Conv2d, Embedding)):
            what = "images" if isinstance(first, Conv2d) else "integer indices"
            raise ValueError(
                f"{where}: {type(model).__name__} starts with {type(first).__name__}, so it takes {what}, not "
                "(batch, features) rows: export it with ag.export_onnx(model, example), an example batch such as x[:2]"
            )
        if first is None:
            raise ValueError(
                f"{where}: cannot tell how many features {type(model).__name__} takes (it has no Dense layer); "
                "pass in_features="
            )
        in_features = first.in_features
    in_features = positive_int(in_features, "in_features", where)
    example = np.random.default_rng(0).normal(size=(2, int(in_features))).astype(dtype)
    target = in_dtype(model, dtype, where)
    return _export_onnx(target, example, path=path, opset=opset, input_names=["input"], output_names=["output"])
