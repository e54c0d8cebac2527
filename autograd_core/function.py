"""How an op records itself: a forward on NumPy arrays and its VJP side by side.

An op is a subclass of :class:`Function` with two methods::

    class Exp(Function):
        def forward(self, x):              # NumPy arrays in, NumPy array out
            return np.exp(x)

        def backward(self, g, out, x):     # the vector-Jacobian product
            return g * out                 # d exp(x)/dx = exp(x): reuse the output

``backward`` receives the upstream gradient ``g``, the op's output ``out`` and its
inputs, and returns one gradient per input (a tuple, or a single value for one
input; ``None`` where an input needs none). It may return a gradient of the
*broadcast* shape: the engine sums it back to the input's shape, in one place.

The same ``backward`` serves both orders of differentiation. In a plain
``backward()`` it runs on NumPy arrays and builds nothing. Under
``create_graph=True`` it receives Tensors instead, and because a Tensor answers
to the same operators, methods and NumPy functions (``np.exp(t)`` dispatches to
our ``exp``), the VJP is itself recorded and can be differentiated again. So write
``backward`` with operators, ``np.*`` ufuncs, ``np.where``/``np.broadcast_to`` and
what arrays and Tensors share (``sum``, ``reshape``, ``transpose``, ``.T``, ``.mT``,
``astype``, indexing); never assign into arrays in place. Arrays kept in ``self.saved`` are
released after backward and are constants to higher-order derivatives.

Forward mode (``ag.jvp``, ``jacobian(mode="fwd")``, ``hessian``, ``hvp``) asks an op for its
Jacobian-vector product, ``jvp(self, ds, out, *xs)``, beside ``backward``: the output's tangent
from ``ds``, one tangent per input (``None`` where an input has none), written in the same
NumPy vocabulary (it runs on arrays, or on Tensors when its result must be recorded or
traced); see ``forward.py``. An op without one still works in reverse mode.

An op's ONNX form sits beside its forward and VJP too: a class attribute ``onnx_op =
"Exp"`` when it is one ONNX node on the inputs, else a method ``to_onnx(self, builder,
inputs, output)`` (see :meth:`Function.to_onnx` and ``autograd_core.onnx``).

Non-differentiable arguments (an axis, a shape, an index) are passed to ``apply``
as keywords and reach ``forward`` as keywords; keep what ``backward`` needs on
``self``.

Two class attributes say what ``backward`` reads, in either mode: ``saves_inputs =
False`` when it never reads the input values (only their shapes and dtypes),
``"others"`` when input ``i`` is read only for the gradients of the *other* inputs (a
product: ``d(ab)/da = b``), and ``saves_output = False`` when it never reads ``out``.
Both default to True, which is always safe. A node keeps only what its derivative
reads, as a hand-written backward would: a value it never reads (an array coming from
another op, not a constant) is replaced by a zero-memory stand-in of the same shape
and dtype, so it is freed as soon as nothing else needs it; and changed-in-place
detection (``versions.py``) checks only what is read.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from . import anomaly as _anomaly
from . import versions as _versions
from .grad_mode import grad_enabled
from .tensor import DEFAULT_DTYPE, Tensor, as_float_array

if TYPE_CHECKING:
    from .onnx.builder import OnnxBuilder


class Function:
    """Base class of every op, built-in or user-defined. See the module docstring."""

    __slots__ = ("parents", "inputs", "out", "saved", "stamp", "__dict__")
    #: Per input: the node that made it, the leaf Tensor itself, or None (needs no gradient).
    parents: tuple[Any, ...]
    #: What backward reads (see the module docstring); None once released after backward.
    inputs: tuple[Any, ...] | None
    out: Any
    saved: Any
    #: The op's place in time (``versions.order``): backward's order, in-place checks.
    stamp: int

    #: The op's name, used in error messages and graph drawings.
    name: str = "function"
    #: Whether ``backward`` reads the input values / the output (see the module docstring).
    saves_inputs: bool | str = True
    saves_output: bool = True
    #: A weak reference to the output tensor whose ``.grad`` backward should fill
    #: (``Tensor.retain_grad``); weak, so that the tensor and its node form no cycle.
    retained: weakref.ref[Tensor] | None = None
    #: Where the user's code called the op: ``(file, line, function, code)``, recorded
    #: only inside ``detect_anomaly()``.
    trace: tuple[str, int, str, str] | None = None
    #: Inputs that were named tensors not requiring grad (data such as ``x``), by position.
    named_inputs: dict[int, Tensor] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    def forward(self, *xs: Any, **params: Any) -> np.ndarray:
        """The op on NumPy arrays: the inputs (and keyword parameters) in, the output array out."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, g: Any, out: Any, *xs: Any) -> Any:
        """The vector-Jacobian product: the gradient of each input from the upstream gradient ``g``, the
        output ``out`` and the inputs ``xs`` (a tuple, or one value for one input; ``None`` for an input
        that needs none). Arrays in a plain backward, Tensors under ``create_graph=True``."""
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def jvp(self, ds: tuple[Any, ...], out: Any, *xs: Any) -> Any:
        """The Jacobian-vector product, for forward mode (``ag.jvp``, ``jacobian(mode="fwd")``,
        ``hessian``, ``hvp``): the output's tangent from ``ds``, one tangent per input (None where
        an input has none), the output and the inputs. See ``autograd_core.forward``."""
        raise NotImplementedError(
            f"{self.name}: this op has no forward-mode rule, so ag.jvp, jacobian(mode='fwd'), hessian and hvp "
            f"cannot go through it. Define jvp(self, ds, out, *xs) beside its backward (the output's tangent "
            f"from one tangent per input, None where an input has none), or use jacobian(mode='rev')"
        )

    #: The ONNX operator that computes this op in one node on its inputs cast to the output's
    #: dtype (``"Exp"``); ops that need more write :meth:`to_onnx` instead.
    onnx_op: str | None = None

    def to_onnx(self, builder: OnnxBuilder, inputs: list[str], output: str) -> None:
        """Write this op's ONNX form: nodes through ``builder`` (``autograd_core.onnx.OnnxBuilder``)
        that compute ``output`` (a value name) from ``inputs`` (the names of the values given to
        ``forward``, one per positional input); what ``forward`` stored on ``self`` is there to
        read. The default writes the one node ``onnx_op``."""
        if self.onnx_op is None:
            raise NotImplementedError(f"{self.name}: no ONNX form (set onnx_op or define to_onnx)")
        dt = builder.dtype(output)
        builder.op(self.onnx_op, *(builder.cast(x, dt) for x in inputs), out=output)

    #: ``ag.compile``'s Python source of ``forward``, for ops that have one: an expression of the
    #: inputs ``{0}``, ``{1}``, ... and of names ``{axis}`` (a parameter, or what ``forward`` keeps
    #: on ``self``; ``{0.shape}``, ``{0.dtype}`` are the inputs'), or a tuple of statements ending
    #: with that expression (temporaries ``{t0}``, ``{t1}``, ...). It makes the same NumPy calls as
    #: ``forward``, so a compiled program writes it out (``np.exp(v3)``); without one the program
    #: calls ``forward``.
    py_forward: str | tuple[str, ...] | None = None
    #: The same for ``backward``: one expression per input (None for an input that never gets a
    #: gradient) of ``{g}``, ``{out}``, the inputs and names.
    py_backward: tuple[str | None, ...] | None = None

    def python_form(self, inputs: tuple[Any, ...]) -> tuple[Any, Any]:
        """``(py_forward, py_backward)`` for this call: ``inputs`` are what ``forward`` got in the
        trace (numbers as they are, arrays). Ops whose source depends on the call (``x ** 2``, a
        product of vectors) override this."""
        return self.py_forward, self.py_backward

    def needs(self, i: int) -> bool:
        """Whether input ``i`` needs a gradient (skip the work when it does not)."""
        return self.parents[i] is not None

    def explain(self, err: Exception, xs: tuple[Any, ...]) -> str:
        """The message for a ValueError raised by ``forward``: name the op and the shapes."""
        shapes = " and ".join(str(np.shape(x)) for x in xs)
        msg = str(err)
        if "broadcast" in msg:
            return f"{self.name}: shapes {shapes} do not broadcast together"
        return f"{self.name}: {msg} (input shapes {shapes})"

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Tensor:
        """Run the op on Tensors, numbers or arrays and record it when a gradient is needed."""
        # This is the hot path of every op: keep it to plain loops and attribute stores.
        fn = cls()
        raw: list[Any] = []
        parents: Any = []  # a list, then the node's tuple
        track = 0  # how many inputs need a gradient
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                if a.requires_grad:
                    # A parent is the node that made the input, or the leaf tensor itself.
                    parents.append(a._node or a)
                    track += 1
                    continue
                if a.name is not None:  # named data such as x: remembered for drawing
                    fn.named_inputs = {**fn.named_inputs, len(raw) - 1: a}
            elif type(a) is float or type(a) is int:
                raw.append(a)  # the common constant, checked without a call
            else:
                raw.append(_constant(a, cls.name))
            parents.append(None)
        try:
            out = fn.forward(*raw, **params)
        except ValueError as err:
            raise ValueError(fn.explain(err, tuple(raw))) from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)  # NumPy returns scalars for 0-d results
        if not track or out.dtype.kind != "f":  # perhaps no float came in (ag.exp(int8_array), ag.add(1, 2))
            out = _float_output(out, raw)
        t = _new(Tensor)  # Tensor._make, inlined
        t.data = out
        t.grad = None
        t.name = None
        if track and grad_enabled.get():
            fn.parents = parents = tuple(parents)
            if out.ndim:  # keep only what the derivative reads (scalars cost nothing to keep)
                rule = fn.saves_inputs
                fn.inputs = tuple(raw) if rule is True or (rule and track > 1) else _without_tracked(raw, parents)
                fn.out = out if fn.saves_output else _stand_in(out)
            else:
                fn.inputs = tuple(raw)
                fn.out = out
            fn.stamp = next(_versions.order)  # the op's place in time: backward's order, in-place checks
            if _anomaly.active:
                fn.trace = _anomaly.caller()
            t.requires_grad = True
            t._node = fn
        else:
            t.requires_grad = False
            t._node = None
        if _tracing.active:  # a trace is recording (tracing.py): it sees the op and its real arguments
            _tracing.record(fn, args, raw, params, t)
        if _forward.active:  # forward mode (forward.py): the output's tangents, after the trace saw it
            _forward.propagate(fn, args, raw, t)
        return t


_new = object.__new__


def _without_tracked(raw: list[Any], parents: tuple[Any, ...]) -> tuple[Any, ...]:
    """A node's inputs when its derivative reads none of the tracked ones (saves_inputs is
    False, or "others" with a single tracked input): stand-ins for those, constants as they are."""
    if len(raw) == 1:  # (unrolled for one and two inputs: a loop costs more than the stand-ins)
        return (_stand_in(raw[0]),)
    if len(raw) == 2:
        a, b = raw
        return (a if parents[0] is None else _stand_in(a), b if parents[1] is None else _stand_in(b))
    return tuple([x if p is None else _stand_in(x) for x, p in zip(raw, parents)])


_STAND_INS: dict[tuple[int, ...], np.ndarray] = {}


def _stand_in(x: np.ndarray) -> np.ndarray:
    """A read-only, zero-memory array of ``x``'s shape and dtype (zero strides over one
    element): what a node keeps of a value its derivative never reads, so that the engine
    still knows its shape and dtype. Shared, one per shape (for its latest dtype: keyed by
    the shape alone, because a dtype's hash is slow and graphs rarely mix dtypes)."""
    shape = x.shape
    stand_in = _STAND_INS.get(shape)
    if stand_in is None or stand_in.dtype is not x.dtype:
        if len(_STAND_INS) >= 4096:  # many shapes (varying batch sizes): start again
            _STAND_INS.clear()
        stand_in = _STAND_INS[shape] = np.broadcast_to(np.zeros((), dtype=x.dtype), shape)
    return stand_in


def _float_output(out: np.ndarray, raw: list[Any]) -> np.ndarray:
    """An op's output in a floating dtype: where no float came in, the default float, as a
    Tensor's data is (NumPy would give ints for ``ag.add(1, 2)``, float16 for ``np.log`` of
    ``uint8`` data, float32 for ``int16``)."""
    for x in raw:
        if type(x) is float or getattr(x, "dtype", None) is not None and x.dtype.kind == "f":
            return out if out.dtype.kind == "f" else out.astype(DEFAULT_DTYPE)
    return out.astype(DEFAULT_DTYPE)


def _constant(a: Any, op: str) -> Any:
    """A non-Tensor operand: numbers stay Python scalars (so float32 tensors stay float32)."""
    t = type(a)
    if t is float or t is int or t is bool:
        return a
    if isinstance(a, np.generic):  # before float: np.float64 subclasses float but is not "weak"
        if a.dtype.kind in "biuf":
            return a.item()
    elif isinstance(a, np.ndarray):
        if a.dtype.kind in "biuf":
            return a
    elif isinstance(a, (int, float)):
        return a
    if isinstance(a, (list, tuple)):
        if any(isinstance(v, Tensor) and v.requires_grad for v in a):
            raise TypeError(
                f"{op}: a list holding Tensors that require grad would be read as constant numbers and "
                "their gradient lost; join them with ag.stack or ag.concatenate first"
            )
        return as_float_array(a, copy=False, what=op)
    raise TypeError(
        f"{op}: unsupported operand of type {type(a).__name__}"
        f"{'' if not isinstance(a, np.ndarray) else f' with dtype {a.dtype}'}; "
        "expected a Tensor, a number or a numeric NumPy array"
    )


# The tracer and forward mode import the ops, which need this module: imported last.
from . import forward as _forward  # noqa: E402
from . import tracing as _tracing  # noqa: E402

_tracing.OP_CALLERS.add(Function.apply.__func__.__code__)  # type: ignore[attr-defined]  # forward runs on arrays
