"""Tracing: record every op a function runs, as a tape of events, for the back-ends that
turn it into another program (ONNX export today; ``ag.compile``'s Python program next).

Design note: how it is used
===========================
A :class:`Tracer` records on the thread that enters it::

    tracer = Tracer(reads="raise")
    with tracer:
        x = tracer.input(example)          # a traced value (a TracedTensor)
        y = f(x)                           # every op f runs is recorded, in and out of grad mode
    tape = tracer.tape                     # what happened, in order
    out = tape.value(y)                    # the traced value y is (None: not computed from the trace)
    for op in tape.ops_for([out]):         # the ops y depends on, each after its inputs
        op.fn, op.args, op.params, op.out  # the Function (with what forward stored), arguments, result

**The hook.** ``Function.apply`` ends with ``if tracing.active: tracing.record(...)``: one
module-global read when no trace is running (any thread), so eager code pays nothing more.
``record`` sees the op's real arguments (``fn.inputs`` holds zero-memory stand-ins for
values the derivative does not read) and classifies each positional argument as

- :class:`Traced`: a traced value, i.e. a graph input (``tracer.input``) or the output of an
  earlier recorded op (the :class:`Value` says which);
- :class:`CapturedTensor`: a Tensor made outside the trace (a parameter), kept as the object,
  so a back-end reads its current value when it needs it (ONNX: an initializer; compile: at
  every call);
- :class:`CapturedArray`: a NumPy array constant, kept as the object for the same reason;
- :class:`Constant`: a Python number (or a list, converted as the op converted it).

Keyword parameters are kept as given (an axis, a shape, an index); traced arrays inside
them (a mask given to ``where``, an integer input used as an index) are listed in
``OpEvent.traced_params``, and back-ends find them by identity (``Tape.value``).

**Traced values.** Op outputs and float inputs become :class:`TracedTensor`, a Tensor whose
value reads (``.data``, ``.item()``, ``float()``, ``bool()``, ``np.asarray``, ``.numpy()``,
``.tolist()``, ``format(t, ".3f")``, NumPy predicates) look at their caller: the library's
own code (``_callers.py``; and a user op's ``forward``, which receives arrays) reads freely,
the user's code raises :class:`TracingError` naming its file and line (``reads="raise"``) or
is recorded as a :class:`ReadEvent` and goes on (``reads="record"``: a back-end may refuse
later with more context, or guard on the value). Comparisons give a :class:`TracedMask`,
a boolean array recorded like any op (``ops/compare.py``), so ``ag.where(x > 0, x, 0)`` keeps
its mask in the program; ``&``, ``|``, ``^``, ``~`` of masks are recorded too. When the trace
ends, its tensors become plain Tensors and its masks plain arrays in all but name: nothing
outlives the trace.

**For compile (not built yet), without reshaping the tape.** The tape is a list of events
of several kinds, and back-ends dispatch on the kind, so more kinds slot in:

- *effects*: the library's in-place updates (each ``versions.bump`` site: optimizer steps,
  running statistics, ``t[i] = v``; ``.grad`` accumulation in the engine; generator draws
  in Dropout and ``randn``) become events appended by those sites through one more hook of the
  same shape (``if tracing.active: tracing.effect(...)``);
- *backward passes* (``backward()``, ``ag.grad``): the engine's VJPs are ops like any other
  when recorded with ``create_graph``; an event marks where a pass starts and ends;
- *guards*: a program is valid for the inputs' shapes and dtypes (``Tape.inputs``), the
  Python constants it was traced with (``Constant`` args, ``params``) and, with
  ``reads="record"``, the values read (``ReadEvent.value``): what a re-tracing check compares;
- *a Python back-end* beside the ONNX one walks ``ops_for`` and calls each ``fn.forward`` on
  arrays, reading ``CapturedTensor.tensor.data`` at every call.
"""

from __future__ import annotations

import itertools
import sys
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal

import numpy as np

from . import _callers
from .tensor import Tensor

__all__ = [
    "TracingError", "Tracer", "Tape", "Value", "OpEvent", "ReadEvent", "Traced", "CapturedTensor",
    "CapturedArray", "Constant", "TracedTensor", "TracedMask", "active", "record",
]  # fmt: skip


class TracingError(ValueError):
    """The user's code read the value of a traced tensor (``.item()``, ``float()``, ``.data``,
    ``np.asarray``, ...) while a function was traced: the program would hold this one value."""


#: How many traces are recording, on any thread: ``Function.apply`` reads it (one global read).
active = 0
_count_lock = threading.Lock()
#: The tracers recording on this thread (and task), innermost last.
_stack: ContextVar[tuple[Tracer, ...]] = ContextVar("tracers", default=())
_tokens = itertools.count(1)
#: Code objects that call an op's ``forward`` on arrays: code they call is the op's own business.
OP_CALLERS: set[Any] = set()


# ============================================================== the tape


class Value:
    """A traced value: an input of the trace, or the output of a recorded op."""

    __slots__ = ("index", "obj", "producer", "input")

    def __init__(self, index: int, obj: Any, producer: OpEvent | None, input: int | None) -> None:
        self.index = index  # its position in Tape.values
        self.obj = obj  # the TracedTensor, TracedMask or integer input array
        self.producer = producer  # the op that made it (None for an input)
        self.input = input  # which input of the trace it is (None for an op output)

    @property
    def array(self) -> np.ndarray:
        """Its value in this trace (an array; read by back-ends, which are the library's)."""
        obj = self.obj
        return _DATA.__get__(obj, Tensor) if isinstance(obj, Tensor) else obj.view(np.ndarray)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def __repr__(self) -> str:
        made = f"input {self.input}" if self.producer is None else f"{self.producer.fn.name}"
        return f"Value(#{self.index}, {made}, shape {self.shape}, {self.dtype})"


@dataclass(frozen=True, slots=True)
class Traced:
    """An argument that is a traced value."""

    value: Value


@dataclass(frozen=True, slots=True)
class CapturedTensor:
    """An argument that is a Tensor made outside the trace (a parameter): the object itself."""

    tensor: Tensor


@dataclass(frozen=True, slots=True)
class CapturedArray:
    """An argument that is a NumPy array made outside the trace: the object itself."""

    array: np.ndarray


@dataclass(frozen=True, slots=True)
class Constant:
    """An argument that is a Python number (or a list, converted as the op converted it)."""

    value: Any


Arg = Traced | CapturedTensor | CapturedArray | Constant


@dataclass(eq=False, slots=True)
class OpEvent:
    """One recorded op: the ``Function`` instance (with what its ``forward`` stored), what each
    positional argument was, the keyword parameters as given, and the traced value it made."""

    fn: Any
    args: tuple[Arg, ...]
    params: dict[str, Any]
    traced_params: tuple[Value, ...]
    out: Value
    #: ``(file, line, function, code)`` of the user's code that ran the op.
    where: tuple[str, int, str, str]

    def inputs(self) -> list[Value]:
        """The traced values it reads: its traced arguments, then those in its parameters."""
        return [a.value for a in self.args if type(a) is Traced] + list(self.traced_params)


@dataclass(eq=False, slots=True)
class ReadEvent:
    """The user's code read a traced value (``reads="record"``): what it did, where, and what it got
    (``value`` is None for an array derived from a traced mask)."""

    value: Value | None
    what: str
    where: tuple[str, int, str, str]


Event = OpEvent | ReadEvent


@dataclass(eq=False)
class Tape:
    """What a trace recorded: its inputs, every value, and the events in the order they happened."""

    inputs: list[Value] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    _ids: dict[int, Value] = field(default_factory=dict, repr=False)
    _made_by: dict[Any, Value] = field(default_factory=dict, repr=False)  # op (Function instance) -> its output

    def value(self, obj: Any) -> Value | None:
        """The traced value ``obj`` is (a Tensor or an array, by identity), or None."""
        v = self._ids.get(id(obj))
        return v if v is not None and v.obj is obj else None

    @property
    def ops(self) -> list[OpEvent]:
        return [e for e in self.events if type(e) is OpEvent]

    @property
    def reads(self) -> list[ReadEvent]:
        return [e for e in self.events if type(e) is ReadEvent]

    def ops_for(self, outputs: list[Value]) -> list[OpEvent]:
        """The ops the ``outputs`` depend on, each after the ops it reads (the engine's one graph
        walk: deterministic, inputs in their order)."""
        from .engine import walk

        roots = [v.producer for v in outputs if v.producer is not None]
        return walk(roots, lambda op: [v.producer for v in op.inputs() if v.producer is not None])


# ============================================================== the tracer


class Tracer:
    """Records the ops run on this thread inside ``with tracer:`` (see the module docstring).

    ``reads``: what a read of a traced value by the user's code does: ``"raise"`` a
    :class:`TracingError` naming the line, or ``"record"`` a :class:`ReadEvent` and go on.
    """

    def __init__(self, reads: Literal["raise", "record"] = "raise") -> None:
        if reads not in ("raise", "record"):
            raise ValueError(f"Tracer: reads must be 'raise' or 'record', got {reads!r}")
        self.reads = reads
        self.tape = Tape()
        self._token = next(_tokens)  # what the TracedMasks of this trace carry (never reused)
        self._entered = False

    # ------------------------------------------------------------------ entering and leaving
    def __enter__(self) -> Tape:
        global active
        if self._entered:
            raise RuntimeError("Tracer: a tracer records once; make a new one for another trace")
        self._entered = True
        self._reset = _stack.set((*_stack.get(), self))
        with _count_lock:
            active += 1
        return self.tape

    def __exit__(self, *exc: object) -> None:
        global active
        with _count_lock:
            active -= 1
        _stack.reset(self._reset)
        for v in self.tape.values:  # nothing outlives the trace: its tensors are plain again
            if type(v.obj) is TracedTensor:
                _untrace(v.obj)

    # ------------------------------------------------------------------ values
    def input(self, data: Any, requires_grad: bool = False) -> Any:
        """A new input of the trace: a :class:`TracedTensor` for floating data (copied, as
        ``Tensor(data)``), a copy of the array for integer data (an index input)."""
        arr = np.asarray(data.data if isinstance(data, Tensor) else data)
        if arr.dtype.kind in "iu":
            obj: Any = arr.copy()
        else:
            obj = Tensor(arr, requires_grad=requires_grad)
            obj.__class__ = TracedTensor
        value = self._new_value(obj, None, len(self.tape.inputs))
        self.tape.inputs.append(value)
        return obj

    def _new_value(self, obj: Any, producer: OpEvent | None, input: int | None = None) -> Value:
        tape = self.tape
        value = Value(len(tape.values), obj, producer, input)
        tape.values.append(value)
        tape._ids[id(obj)] = value  # the tape keeps obj alive: its id stays unique
        return value

    def owns(self, obj: Any) -> Value | None:
        return self.tape.value(obj)

    # ------------------------------------------------------------------ recording
    def record(self, fn: Any, args: tuple[Any, ...], raw: list[Any], params: dict[str, Any], out: Any) -> Any:
        """Append the op ``fn`` (run on ``args``, which it received as ``raw``) that made ``out``;
        returns ``out`` as a traced value (a TracedTensor, the same object; or a TracedMask)."""
        where = _callers.caller()
        kinds = tuple(self._arg(a, r, fn) for a, r in zip(args, raw))
        found: list[Value] = []
        for p in params.values():
            self._find(p, found, fn)
        event = OpEvent(fn, kinds, params, tuple(found), None, where)  # type: ignore[arg-type]
        if isinstance(out, Tensor):
            out.__class__ = TracedTensor
        else:
            out = np.asarray(out).view(TracedMask)
            out._trace = self._token
        event.out = self._new_value(out, event)
        self.tape._made_by[fn] = event.out
        self.tape.events.append(event)
        return out

    def _arg(self, a: Any, raw: Any, fn: Any) -> Arg:
        if isinstance(a, (Tensor, np.ndarray)):
            v = self.tape.value(a)
            if v is not None:
                return Traced(v)
            if isinstance(a, Tensor):
                return CapturedTensor(a)
            self._refuse_derived(a, fn)
            return CapturedArray(a)
        if isinstance(a, (list, tuple)):
            found: list[Value] = []
            self._find(a, found, fn)
            if found or any(type(x) is TracedTensor for x in a):
                raise TracingError(
                    f"{fn.name}: a list holding traced tensors would be read as constant numbers; "
                    "join them with ag.stack or ag.concatenate first"
                )
        return Constant(raw)

    def _find(self, p: Any, found: list[Value], fn: Any) -> None:
        """Collect the traced arrays inside a parameter (an index tuple, a mask)."""
        if isinstance(p, np.ndarray):
            v = self.tape.value(p)
            if v is not None:
                found.append(v)
            else:
                self._refuse_derived(p, fn)
        elif isinstance(p, (tuple, list)):
            for q in p:
                self._find(q, found, fn)

    def _refuse_derived(self, a: np.ndarray, fn: Any) -> None:
        if type(a) is TracedMask and a._trace == self._token:
            raise TracingError(
                f"{fn.name}: a mask was changed with NumPy after a comparison made it (a view, astype, "
                "indexing or reshaping of the comparison's result), which a trace cannot follow. Reshape, "
                "index or cast the tensors before comparing them, or use ag.where(mask, 1.0, 0.0) for numbers"
            )

    def on_read(self, value: Value | None, what: str, frame: FrameType | None) -> None:
        """The user's code read ``value`` (None: something derived from a mask): raise or record."""
        here = _callers.user_frame(frame) or frame
        where = _callers.describe(here) if here is not None else ("<unknown>", 0, "", "")
        if self.reads == "record":
            self.tape.events.append(ReadEvent(value, what, where))
            return
        raise TracingError(read_message(what, where))


def _untrace(t: Tensor) -> None:
    t.__class__ = Tensor


def read_message(what: str, where: tuple[str, int, str, str]) -> str:
    """The explanation of a read of a traced value by the user's code, at ``where``."""
    file, line, _, code = where
    return (
        f"{what} reads a traced value at {file}:{line}" + (f" ({code})" if code else "") + ". While a "
        "function is traced (ag.export_onnx, ag.compile), a number or an array taken out of the graph would be "
        "frozen into the program, which would then be wrong for other inputs. Keep it a tensor: choose "
        "elementwise with ag.where(x > 0, a, b) (comparisons are recorded) rather than Python control flow, "
        "divide by x.abs().max() rather than by its .item(), use x.max(axis=1) or a product with a mask rather "
        "than an index from np.argmax(x.data); format or print values after tracing"
    )


def record(fn: Any, args: tuple[Any, ...], raw: list[Any], params: dict[str, Any], out: Any) -> Any:
    """``Function.apply``'s hook (called while ``active``): record the op in this thread's
    innermost trace, if there is one; returns ``out`` (as a traced value when recorded)."""
    stack = _stack.get()
    if not stack:
        return out
    return stack[-1].record(fn, args, raw, params, out)


def output_of(node: Any) -> Any:
    """The traced Tensor that the recorded op ``node`` made, in a trace recording on this thread, or
    None. A backward pass that runs its VJPs on Tensors while a trace records (forward mode over it:
    ``hvp``) gives them this Tensor for the node's output, so that the trace follows the value instead
    of taking the node's saved array as a constant."""
    for tracer in reversed(_stack.get()):
        value = tracer.tape._made_by.get(node)
        if value is not None:
            return value.obj
    return None


# ============================================================== reads: the library's or the user's


def _read_allowed(frame: FrameType | None) -> bool:
    """Whether the code at ``frame`` (NumPy and the standard library acting for their caller) is
    the library's, or a user op's ``forward`` run by ``Function.apply`` on arrays."""
    while frame is not None:
        name = frame.f_code.co_filename
        if _callers.in_library(name):
            return True
        if not _callers.see_through(name):
            back = frame.f_back
            return back is not None and back.f_code in OP_CALLERS
        frame = frame.f_back
    return True


def _owner(obj: Any) -> tuple[Tracer, Value] | None:
    for tracer in reversed(_stack.get()):
        value = tracer.owns(obj)
        if value is not None:
            return tracer, value
    return None


def _check(obj: Any, what: str, frame: FrameType | None) -> None:
    """Refuse (or record) a read of the traced ``obj`` made at ``frame``, unless the library made it."""
    if _read_allowed(frame):
        return
    owner = _owner(obj)
    if owner is not None:
        owner[0].on_read(owner[1], what, frame)
    elif type(obj) is TracedMask and _live(obj):  # a view or cast of a traced mask: read all the same
        next(t for t in reversed(_stack.get()) if t._token == obj._trace).on_read(None, what, frame)


_DATA = Tensor.__dict__["data"]  # the slot behind Tensor.data


def _get_data(self: Tensor) -> np.ndarray:
    _check(self, ".data", sys._getframe(1))
    return _DATA.__get__(self, Tensor)


def _set_data(self: Tensor, value: np.ndarray) -> None:
    _DATA.__set__(self, value)


def _reader(name: str, what: str) -> Any:
    """``Tensor.<name>``, checking its caller first (a value read)."""
    method = getattr(Tensor, name)

    def read(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        _check(self, what, sys._getframe(1))
        return method(self, *args, **kwargs)

    read.__name__ = name
    read.__doc__ = method.__doc__
    return read


class TracedTensor(Tensor):
    """A traced value while its trace records: a Tensor whose value reads by the user's code
    raise :class:`TracingError` (or are recorded). Becomes a plain Tensor when the trace ends."""

    __slots__ = ()

    data = property(_get_data, _set_data)  # type: ignore[assignment]
    item = _reader("item", ".item()")
    numpy = _reader("numpy", ".numpy()")
    tolist = _reader("tolist", ".tolist()")
    __array__ = _reader("__array__", "np.asarray / np.array")
    __bool__ = _reader("__bool__", "bool() (an if or a while on a tensor)")
    __float__ = _reader("__float__", "float()")
    __int__ = _reader("__int__", "int()")
    __getstate__ = _reader("__getstate__", "pickling or copying")
    any = _reader("any", ".any()")
    all = _reader("all", ".all()")
    argmax = _reader("argmax", ".argmax()")
    argmin = _reader("argmin", ".argmin()")

    # the shape is not a value: no check
    shape = property(lambda self: _DATA.__get__(self, Tensor).shape)  # type: ignore[assignment]
    ndim = property(lambda self: _DATA.__get__(self, Tensor).ndim)  # type: ignore[assignment]
    size = property(lambda self: _DATA.__get__(self, Tensor).size)  # type: ignore[assignment]
    dtype = property(lambda self: _DATA.__get__(self, Tensor).dtype)  # type: ignore[assignment]

    def __format__(self, spec: str) -> str:
        if spec:
            _check(self, f"format(t, {spec!r})", sys._getframe(1))
        return Tensor.__format__(self, spec)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc in _interop.RAW_UFUNCS:
            _check(self, f"np.{ufunc.__name__}", sys._getframe(1))
        return Tensor.__array_ufunc__(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in _interop.RAW_FUNCTIONS and func not in _NOT_READS:
            _check(self, f"np.{getattr(func, '__name__', func)}", sys._getframe(1))
        return Tensor.__array_function__(self, func, types, args, kwargs)

    def detach(self) -> Tensor:
        """A traced copy without gradient (recorded: it is the same value)."""
        with _no_grad():
            return _ew.Detach.apply(self)

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TracingError(
            "t[index] = value changes a traced tensor in place, which a trace does not record; build the new "
            "tensor instead (ag.where(mask, value, t), ag.concatenate)"
        )

    def _inplace(self, other: Any, op: str) -> Tensor:
        if _grad_enabled.get() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            return Tensor._inplace(self, other, op)  # recorded, and rebound: x = x + y
        raise TracingError(
            f"in-place {op} changes a traced tensor, which a trace does not record; write x = x {op[:-1]} y"
        )

    def __repr__(self) -> str:
        return Tensor.__repr__(self)


# ============================================================== masks


def _live(mask: Any) -> bool:
    """Whether a TracedMask belongs to a trace recording on this thread."""
    token = mask._trace
    return token != 0 and any(t._token == token for t in _stack.get())


def _plain(x: Any) -> Any:
    if isinstance(x, TracedMask):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _boolean(x: Any) -> bool:
    return (isinstance(x, np.ndarray) and x.dtype == bool) or isinstance(x, (bool, np.bool_))


def _mask_reader(name: str, what: str) -> Any:
    method = getattr(np.ndarray, name)

    def read(self: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        if _live(self):
            _check(self, what, sys._getframe(1))
        return method(self, *args, **kwargs)

    read.__name__ = name
    return read


class TracedMask(np.ndarray):
    """A boolean array computed by a comparison of traced values, while its trace records.

    It behaves as the boolean array it is, for the library's code; the user's code can give
    it to ops (``ag.where(mask, a, b)``, ``x * mask``) and combine masks (``&``, ``|``, ``^``,
    ``~``: recorded), but not read it (``bool(mask)``, ``mask.any()``, ``mask[0]``: a
    :class:`TracingError`). After the trace it is an ordinary boolean array."""

    _trace: int = 0  # the trace it belongs to

    def __array_finalize__(self, obj: Any) -> None:
        self._trace = getattr(obj, "_trace", 0)  # a view or a copy: of the same trace, but not a value of it

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        live = [x for x in inputs if isinstance(x, TracedMask) and _live(x)]
        if live and method == "__call__" and not kwargs and ufunc in _compare.LOGICAL and all(map(_boolean, inputs)):
            return _compare.LOGICAL[ufunc].apply(*inputs)
        if any(isinstance(x, Tensor) for x in inputs):
            return NotImplemented  # the Tensor's turn: an op that takes the mask as an argument
        if live:
            _check(live[0], f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"), sys._getframe(1))
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        return getattr(ufunc, method)(*_plain(inputs), **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if any(issubclass(t, Tensor) for t in types):
            return NotImplemented  # e.g. np.where(mask, x, 0): the Tensor's turn
        if _live(self):
            _check(self, f"np.{getattr(func, '__name__', func)}", sys._getframe(1))
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})

    __bool__ = _mask_reader("__bool__", "bool() (an if or a while on a mask)")
    __int__ = _mask_reader("__int__", "int()")
    __float__ = _mask_reader("__float__", "float()")
    __index__ = _mask_reader("__index__", "an index")
    __iter__ = _mask_reader("__iter__", "iterating")
    __getitem__ = _mask_reader("__getitem__", "indexing a mask")
    __setitem__ = _mask_reader("__setitem__", "assigning into a mask")
    item = _mask_reader("item", ".item()")
    tolist = _mask_reader("tolist", ".tolist()")

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __str__(self) -> str:
        return str(self.view(np.ndarray))


# The ops need this module, so they are imported after it is defined.
from . import interop as _interop  # noqa: E402
from .grad_mode import grad_enabled as _grad_enabled  # noqa: E402
from .grad_mode import no_grad as _no_grad  # noqa: E402
from .ops import compare as _compare  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402

_NOT_READS = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj}
