"""Export to ONNX: run a function once under the tracer, turn what it recorded into an ONNX model.

``export_onnx(f, *example_inputs)`` calls ``f`` on traced copies of the examples
(``autograd_core.tracing``), takes the ops its outputs depend on (the engine's graph walk
over the tape), and lets each op write its own ONNX form, one node or a few. Parameters and
captured arrays become initializers, the examples graph inputs, and the result runs in any
ONNX runtime::

    model = nn.Sequential(nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3))
    ag.export_onnx(model, np.zeros((2, 4), np.float32), path="model.onnx")

Layout: ``builder.py`` (what forms write with), ``trace.py`` (one run of ``f``, compared
between runs), ``backend.py`` (a trace written op by op), ``export.py`` (the entry point).

**An op's ONNX form lives beside its forward and VJP**, the same way for the library's ops
and the user's: a class attribute when it is one ONNX node on the inputs (cast to the
output's dtype), a method ``to_onnx(self, builder, inputs, output)`` otherwise, which reads
what ``forward`` stored on ``self``. ``inputs`` are the names of the values given to
``forward`` (one per positional input), ``output`` the name its result must be written to::

    class Exp(Function):
        onnx_op = "Exp"
        ...

    class Swish(ag.Function):
        def forward(self, x):
            return x / (1 + np.exp(-x))

        def backward(self, g, out, x):
            s = 1 / (1 + np.exp(-x))
            return g * (s + out * (1 - s))

        def to_onnx(self, builder, inputs, output):
            builder.op("Mul", inputs[0], builder.op("Sigmoid", inputs[0]), out=output)

The builder (:class:`OnnxBuilder`) writes nodes (``op``), constants (``const``), casts
(``cast``) and reductions (``reduce``, whose form depends on the opset), and knows the
dtype and (symbolic) shape of every value (``dtype``, ``shape``, ``dims``), the value of
a constant (``constant``), and the name of a traced array an op keeps as a parameter (a
mask, an index input: ``traced``). A Python number given to an op becomes a constant of
the op's output dtype; an array keeps its dtype. A form that cannot keep a dynamic axis
symbolic raises :class:`DynamicShapeError`.

**The batch axis.** Axis 0 of every example input is symbolic (``"batch"``) unless
``dynamic_axes=()``. Shapes recorded during a trace are concrete (a reshape remembers
``(2, 12)``, not ``(batch, 12)``), so for each dynamic axis ``f`` is traced a second time
with that axis one longer (and the examples rolled along it): dimensions that change
are the ones that follow the batch. Reshapes then keep them symbolic (a ``0`` or ``-1``
in ONNX's target shape), and the two ONNX graphs must come out identical. When they do
not, or ``f`` fails on the longer inputs, something depends on the examples' size (a
captured array of the batch's length, ``len(x)`` in an ``if``) or on their values: a
third trace on the examples merely rolled tells which. Size alone: the model is exported
for the examples' fixed shapes, with an :class:`OnnxExportWarning` saying why. Values: a
``ValueError`` naming the op, since no traced graph would be right for other inputs.

**Values read out of the graph.** A read of a traced value by ``f``'s code (``x.item()``,
``float(x)``, ``x.data``, ``np.asarray(x)``, ...) is a ``TracingError`` naming the line (and
the op that would have frozen it, when rolling the examples shows one); comparisons are
recorded, so ``ag.where(x > 0, x, 0.1 * x)`` exports with its mask computed in the graph.

**Modules** take part through a protocol, not by name: when ``f`` (or the object a bound
method ``f`` belongs to) has a method ``onnx_export_context()``, the export runs inside the
context manager it returns, whose value maps the ``id`` of captured Tensors and arrays to
initializer names. ``nn.Module``'s (in ``nn/export.py``) puts the model in eval mode,
restores every module's mode afterwards, and names parameters and buffers as
``state_dict()`` does.
"""

from .builder import Dim, DynamicShapeError, OnnxBuilder
from .export import MIN_OPSET, OnnxExportWarning, export_onnx

__all__ = ["export_onnx", "OnnxBuilder", "Dim", "DynamicShapeError", "OnnxExportWarning", "MIN_OPSET"]
