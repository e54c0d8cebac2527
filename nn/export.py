"""``nn.export_onnx``: write a model that takes one ``(batch, features)`` input as an ONNX file."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from autograd_core import export_onnx as _export_onnx

from .conv import Conv2d
from .embedding import Embedding
from .layers import Dense
from .module import Module, positive_int

__all__ = ["export_onnx"]


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
    random batch of ``dtype`` (the graph input's dtype; the output has the model's), with a
    symbolic batch axis, in eval mode (its modes are restored afterwards). ``in_features``
    defaults to the first ``Dense`` layer's. Returns the ``onnx.ModelProto`` (``path=None``
    only returns it). Needs ``pip install "autograd-core[onnx]"``.

    >>> model = nn.Sequential(nn.Dense(64, 32), nn.ReLU(), nn.Dense(32, 10))
    >>> nn.export_onnx(model, "digits.onnx")                             # doctest: +SKIP
    """
    where = "nn.export_onnx"
    if not isinstance(model, Module):
        raise TypeError(f"{where}: model must be an nn.Module, got {type(model).__name__}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{where}: dtype is the input's floating dtype (np.float32 or np.float64), got {dtype}")
    if in_features is None:
        first = next((m for m in model.modules() if isinstance(m, (Dense, Conv2d, Embedding))), None)
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
    return _export_onnx(model, example, path=path, opset=opset, input_names=["input"], output_names=["output"])
