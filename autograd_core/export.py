"""The names ``autograd_core.export`` has always offered; the export itself is ``autograd_core.onnx``.

``ONNX_FORMS`` is no longer a table that export reads: each op writes its own ONNX form
(``Function.onnx_op`` or ``Function.to_onnx``). It remains as a read-only index, computed
when read, of the library's ops that have one and make nodes of the autograd graph (op
name → class): not the comparisons, whose results are arrays, nor a traced ``detach()``
(``autograd_core.onnx.backend.forms()`` lists them all).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .onnx import MIN_OPSET, Dim, DynamicShapeError, OnnxBuilder, OnnxExportWarning, export_onnx
from .onnx.backend import forms
from .ops.compare import Comparison
from .ops.elementwise import Detach


def _graph_forms() -> dict[str, type]:
    return {n: c for n, c in forms().items() if not issubclass(c, Comparison) and c is not Detach}


__all__ = ["export_onnx", "OnnxBuilder", "Dim", "DynamicShapeError", "OnnxExportWarning", "MIN_OPSET", "ONNX_FORMS"]


class _Forms(Mapping[str, type]):
    """Op name → the library's op class with that name that has an ONNX form (computed when read)."""

    def __getitem__(self, name: str) -> type:
        return _graph_forms()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_graph_forms())

    def __len__(self) -> int:
        return len(_graph_forms())


ONNX_FORMS: Mapping[str, type] = _Forms()
