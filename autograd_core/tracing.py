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

**For ag.compile: a program tracer.** :class:`ProgramTracer` records, besides the ops,
everything else a call does that a program must do again, as more kinds of events
(back-ends dispatch on the kind):

- *backward passes*: with ``create_graph`` the engine's VJPs are ops like any other; a plain
  ``backward()`` runs each node's ``backward`` on arrays, and the engine reports each of its
  steps (:class:`VjpEvent`: one node's VJP; :class:`StepEvent`: a ``sum_to``, a cast, the sum
  of two shares; :class:`GradEvent`: the accumulation into a leaf's ``.grad``), so a program
  makes the same NumPy calls in the same order;
- *effects*: the library's in-place changes of state (an optimizer's ``step``, running
  statistics, generator draws, ``t[i] = v`` and in-place operators on tensors) call
  :func:`effect` (``ag.effect``, public, so a user's optimizer can too): an
  :class:`EffectEvent` holds the call, to be made again at every call of the program with
  that call's values;
- *guards*: Python state the trace depended on (a module's ``training``), reported with
  :func:`guard` (:class:`GuardEvent`), besides what a back-end reads off the tape itself
  (the inputs' shapes and dtypes, the captured tensors' ``requires_grad``);
- *fresh floats*: a library read of a traced value (``minimize``'s ``cost.item()``) gives a
  float the tracer remembers (``ProgramTracer.floats``), so a program returns that call's value.

Gradients that the engine puts in ``.grad`` during such a trace, the integer inputs and the
arrays effects return are :class:`TracedArray` s: the library reads them, the user's code may
give them to ops (``lr * w.grad`` is recorded) but not read them, and nothing may change them
in place outside an effect.
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
    "CapturedArray", "Constant", "TracedTensor", "TracedArray", "TracedMask", "active", "record",
    "ProgramTracer", "VjpEvent", "StepEvent", "GradEvent", "EffectEvent", "GuardEvent", "effect", "guard",
    "recorder",
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

    def __init__(self, index: int, obj: Any, producer: Any, input: int | None) -> None:
        self.index = index  # its position in Tape.values
        self.obj = obj  # the TracedTensor, TracedMask or integer input array (or an engine's array)
        self.producer = producer  # the event that made it (an OpEvent, ...; None for an input)
        self.input = input  # which input of the trace it is (None for an op output)

    @property
    def array(self) -> np.ndarray:
        """Its value in this trace (an array; read by back-ends, which are the library's)."""
        obj = self.obj
        if isinstance(obj, Tensor):
            return _DATA.__get__(obj, Tensor)
        return obj.view(np.ndarray) if isinstance(obj, np.ndarray) else np.asarray(obj)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def __repr__(self) -> str:
        made = f"input {self.input}" if self.producer is None else _event_name(self.producer)
        return f"Value(#{self.index}, {made}, shape {self.shape}, {self.dtype})"


@dataclass(frozen=True, slots=True)
class Traced:
    """An argument that is a traced value (``tensor``: an effect got it as a Tensor, not an array)."""

    value: Value
    tensor: bool = False


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
    events: list[Any] = field(default_factory=list)
    _ids: dict[int, Value] = field(default_factory=dict, repr=False)
    #: The data arrays of the traced tensors (the library passes ``x.data`` to ops and effects).
    _arrays: dict[int, tuple[np.ndarray, Value]] = field(default_factory=dict, repr=False)
    _made_by: dict[Any, Value] = field(default_factory=dict, repr=False)  # op (Function instance) -> its output

    def value(self, obj: Any) -> Value | None:
        """The traced value ``obj`` is (a Tensor or an array, by identity; an array may also be the
        data of a traced tensor), or None."""
        v = self._ids.get(id(obj))
        if v is not None and v.obj is obj:
            return v
        found = self._arrays.get(id(obj))
        return found[1] if found is not None and found[0] is obj else None

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
            if isinstance(v.obj, TracedTensor):
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

    def _new_value(self, obj: Any, producer: Any, input: int | None = None) -> Value:
        tape = self.tape
        value = Value(len(tape.values), obj, producer, input)
        tape.values.append(value)
        tape._ids[id(obj)] = value  # the tape keeps obj alive: its id stays unique
        if isinstance(obj, Tensor):
            data = _DATA.__get__(obj, Tensor)
            tape._arrays[id(data)] = (data, value)  # (the pair keeps the array alive too)
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
            out.__class__ = traced_class(type(out))
        else:
            out = np.asarray(out).view(TracedMask)
            out._trace = self._token
        event.out = self._new_value(out, event)
        self.tape._made_by[fn] = event.out
        self.tape.events.append(event)
        return out

    def _arg(self, a: Any, raw: Any, fn: Any) -> Arg:
        if type(a) is TracedFloat and a._trace == self._token:
            raise TracingError(read_message(f"{fn.name}: a float from .item() or float() of a traced value, used in "
                                            "arithmetic,", _callers.caller()))  # fmt: skip
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
        if isinstance(a, TracedArray) and a._trace == self._token:
            raise TracingError(
                f"{fn.name}: an array was computed with NumPy from a traced array (a gradient in .grad, an "
                "integer input), which a trace cannot follow; compute with tensor ops (ag.where, indexing the "
                "tensor) or pass the array as it is"
            )

    def made(self, t: Tensor, data: Any) -> None:
        """``Tensor(data)`` (or ``ag.tensor``) made ``t`` from a traced value: record the copy, so that ``t``
        is a traced value too (a new leaf, which may require grad) rather than a frozen constant."""
        if self.tape.value(t) is not None:
            return
        if isinstance(data, (Tensor, np.ndarray)):
            v = self.tape._ids.get(id(data))  # the traced tensor or array itself (not the data a read gave)
            if v is not None and v.obj is not data:
                v = None
            if v is None:
                if isinstance(data, TracedArray) and data._trace == self._token:
                    self._refuse_derived(data, _ew.Copy)
                return
            raw = _DATA.__get__(data, Tensor) if isinstance(data, Tensor) else data
            fn = _ew.Copy()
            fn.dtype = _DATA.__get__(t, Tensor).dtype
            self.record(fn, (data,), [raw], {"dtype": fn.dtype}, t)

    def on_read(self, value: Value | None, what: str, frame: FrameType | None) -> None:
        """The user's code read ``value`` (None: something derived from a mask): raise or record."""
        here = _callers.user_frame(frame) or frame
        where = _callers.describe(here) if here is not None else ("<unknown>", 0, "", "")
        if self.reads == "record":
            self.tape.events.append(ReadEvent(value, what, where))
            return
        raise TracingError(read_message(what, where))


def _untrace(t: Tensor) -> None:
    t.__class__ = _UNTRACED.get(type(t), Tensor)


#: The traced class of each Tensor class (a Parameter made or given while a trace records keeps
#: its class's slots), and back.
_TRACED: dict[type, type] = {}
_UNTRACED: dict[type, type] = {}


def traced_class(cls: type) -> type:
    """The class a tensor of class ``cls`` has while it is a traced value."""
    if cls is Tensor or issubclass(cls, TracedTensor):
        return TracedTensor if cls is Tensor else cls
    traced = _TRACED.get(cls)
    if traced is None:
        traced = type(f"Traced{cls.__name__}", (TracedTensor, cls), {"__slots__": ()})
        _TRACED[cls], _UNTRACED[traced] = traced, cls
    return traced


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
    if _read_allowed(frame) or _suspended():
        return
    owner = _owner(obj)
    if owner is not None:
        owner[0].on_read(owner[1], what, frame)
    elif isinstance(obj, TracedArray) and _live(obj):  # a view or cast of a traced array: read all the same
        next(t for t in reversed(_stack.get()) if t._token == obj._trace).on_read(None, what, frame)


_DATA = Tensor.__dict__["data"]  # the slot behind Tensor.data


def _get_data(self: Tensor) -> np.ndarray:
    _check(self, ".data", sys._getframe(1))
    return _DATA.__get__(self, Tensor)


def _set_data(self: Tensor, value: np.ndarray) -> None:
    _DATA.__set__(self, value)


def _reader(name: str, what: str, number: bool = False) -> Any:
    """``Tensor.<name>``, checking its caller first (a value read). A ``number`` the library reads
    (``minimize``'s ``cost.item()``) is remembered by a program tracer: a program returns it fresh."""
    method = getattr(Tensor, name)

    def read(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        frame = sys._getframe(1)
        tracer = recorder() if number else None
        if name == "item" and tracer is not None and not _read_allowed(frame) and tracer.owns(self) is not None:
            # the user's loss.item() under ag.compile: a float that may be returned (fresh at every call),
            # not used (arithmetic, comparisons, if: a TracingError naming the line)
            result = method(self, *args, **kwargs)
            return tracer.traced_float(self, result) if type(result) is float else result
        _check(self, what, frame)
        result = method(self, *args, **kwargs)
        if tracer is not None:
            tracer.note_float(self, result)
        return result

    read.__name__ = name
    read.__doc__ = method.__doc__
    return read


class TracedTensor(Tensor):
    """A traced value while its trace records: a Tensor whose value reads by the user's code
    raise :class:`TracingError` (or are recorded). Becomes a plain Tensor when the trace ends."""

    __slots__ = ()

    data = property(_get_data, _set_data)  # type: ignore[assignment]
    item = _reader("item", ".item()", number=True)
    numpy = _reader("numpy", ".numpy()")
    tolist = _reader("tolist", ".tolist()")
    __array__ = _reader("__array__", "np.asarray / np.array")
    __bool__ = _reader("__bool__", "bool() (an if or a while on a tensor)")
    __float__ = _reader("__float__", "float()", number=True)
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


# ============================================================== traced arrays and masks


def _live(arr: Any) -> bool:
    """Whether a TracedArray belongs to a trace recording on this thread."""
    token = arr._trace
    return token != 0 and any(t._token == token for t in _stack.get())


def _plain(x: Any) -> Any:
    if isinstance(x, TracedArray):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _boolean(x: Any) -> bool:
    return (isinstance(x, np.ndarray) and x.dtype == bool) or isinstance(x, (bool, np.bool_))


def _array_reader(name: str, what: str) -> Any:
    method = getattr(np.ndarray, name)

    def read(self: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        if _live(self):
            _check(self, what, sys._getframe(1))
        return method(self, *args, **kwargs)

    read.__name__ = name
    return read


def _float_method(name: str) -> Any:
    method = getattr(float, name)

    def use(self: Any, *args: Any) -> Any:  # (a TracedFloat)
        if self._trace and any(t._token == self._trace for t in _stack.get()):
            frame = sys._getframe(1)
            if not _read_allowed(frame) and not _suspended():
                here = _callers.user_frame(frame) or frame
                where = _callers.describe(here) if here is not None else ("<unknown>", 0, "", "")
                raise TracingError(read_message(f"a float from .item() used in {name.strip('_')}", where))
        return method(self, *args)

    use.__name__ = name
    return use


class TracedFloat(float):
    """What the user's ``loss.item()`` (or ``float(loss)``) gives while ``ag.compile`` traces: the float,
    which the function may return (a program returns that call's value), but not compute with or
    compare (the program would hold this one value): that raises :class:`TracingError` naming the
    line. After the trace it is an ordinary float."""

    _trace = 0

    for _name in (
        "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
        "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__divmod__", "__rdivmod__",
        "__neg__", "__pos__", "__abs__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__bool__",
        "__int__", "__round__", "__trunc__", "__floor__", "__ceil__", "is_integer",
    ):  # fmt: skip
        locals()[_name] = _float_method(_name)
    del _name
    __hash__ = float.__hash__


def _in_graph_vjp() -> ProgramTracer | None:
    """The program tracer, when the library's code runs a VJP under ``create_graph`` (not suspended)."""
    tracer = recorder()
    return tracer if tracer is not None and tracer.graph_depth else None


def _suspended() -> bool:
    stack = _stack.get()
    return bool(stack) and getattr(stack[-1], "suspended", 0) > 0


def _ufunc_on_traced(
    live: list[Any], ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any], frame: Any
) -> Any:
    """What is left of a ufunc on traced arrays (``live``: those of a trace recording) once the
    special cases are done: recorded inside a VJP under ``create_graph``, else a read (the user's is
    refused, from ``frame``), computed on the plain arrays."""
    if live:
        tracer = _in_graph_vjp()
        if tracer is not None and kwargs.get("out") is None:
            return tracer.ufunc(ufunc, method, inputs, {k: v for k, v in kwargs.items() if k != "out"})
        _check(live[0], f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"), frame)
    if "out" in kwargs:
        kwargs["out"] = _plain(kwargs["out"])
    return getattr(ufunc, method)(*_plain(inputs), **kwargs)


class TracedArray(np.ndarray):
    """An array a traced program computes, while its trace records: a gradient the engine put in a
    leaf's ``.grad``, an integer input (class labels, indices), an array an effect returned.

    It behaves as the array it is, for the library's code; the user's code can give it to ops
    (``w[labels]``, ``lr * w.grad``: recorded, the latter as a multiply) but not read it
    (``bool(a)``, ``a[0]``, ``a.sum()``: a :class:`TracingError`); nothing may change it in place
    outside an effect. After the trace it is an ordinary array."""

    _trace: int = 0  # the trace it belongs to

    def __array_finalize__(self, obj: Any) -> None:
        self._trace = getattr(obj, "_trace", 0)  # a view or a copy: of the same trace, but not a value of it

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if any(isinstance(x, Tensor) for x in inputs):
            return NotImplemented  # the Tensor's turn: an op that takes the array as an argument
        live = [x for x in inputs if isinstance(x, TracedArray) and _live(x)]
        outs = kwargs.get("out", ())
        if any(isinstance(x, TracedArray) and _live(x) for x in (outs if isinstance(outs, tuple) else (outs,))):
            if not _suspended():
                raise TracingError(
                    f"np.{ufunc.__name__} changes a traced array in place (a gradient in .grad, an input) outside "
                    f"ag.effect, so a compiled program would not make the change{_where_now(sys._getframe(1))}; "
                    "compute a new tensor (w = w - lr * w.grad), or report the change with ag.effect(fn, ...)"
                )
        elif live and method == "__call__" and not kwargs and ufunc in _interop.UFUNCS:
            frame = sys._getframe(1)
            if not _read_allowed(frame) and not _suspended():
                return _interop.UFUNCS[ufunc](*inputs)  # the user's arithmetic on a gradient: recorded as an op
        return _ufunc_on_traced(live, ufunc, method, inputs, kwargs, sys._getframe(1))

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = _in_graph_vjp() if _live(self) and not args and not kwargs else None
        if tracer is not None:  # a mask made numbers in a VJP under create_graph: recorded
            return tracer.ufunc(None, np.dtype(dtype), (self,), {})
        return np.ndarray.astype(self, dtype, *args, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if any(issubclass(t, Tensor) for t in types):
            return NotImplemented  # e.g. np.where(mask, x, 0): the Tensor's turn
        if _live(self) and func not in _NOT_READS:
            tracer = _in_graph_vjp()
            if tracer is not None and not any(isinstance(a, (list, tuple, dict)) for a in args):
                return tracer.ufunc(func, None, tuple(args), dict(kwargs))  # np.where(mask, 1, slope) in a VJP
            _check(self, f"np.{getattr(func, '__name__', func)}", sys._getframe(1))
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})

    __bool__ = _array_reader("__bool__", "bool() (an if or a while on an array)")
    __int__ = _array_reader("__int__", "int()")
    __float__ = _array_reader("__float__", "float()")
    __index__ = _array_reader("__index__", "an index")
    __iter__ = _array_reader("__iter__", "iterating")
    __getitem__ = _array_reader("__getitem__", "indexing a traced array")
    item = _array_reader("item", ".item()")
    tolist = _array_reader("tolist", ".tolist()")

    def __setitem__(self, index: Any, value: Any) -> None:
        if _live(self) and not _suspended():
            raise TracingError(
                "assigning into a traced array (a gradient in .grad, an input, a mask) changes it in place, which "
                f"a compiled program would not do{_where_now(sys._getframe(1))}; build a new tensor instead "
                "(ag.where(mask, value, t)), or report the change with ag.effect(fn, ...)"
            )
        np.ndarray.__setitem__(self, index, value)

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __str__(self) -> str:
        return str(self.view(np.ndarray))


class TracedMask(TracedArray):
    """A boolean array computed by a comparison of traced values, while its trace records.

    It behaves as the boolean array it is, for the library's code; the user's code can give
    it to ops (``ag.where(mask, a, b)``, ``x * mask``) and combine masks (``&``, ``|``, ``^``,
    ``~``: recorded), but not read it (``bool(mask)``, ``mask.any()``, ``mask[0]``: a
    :class:`TracingError`). After the trace it is an ordinary boolean array."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        live = [x for x in inputs if isinstance(x, TracedMask) and _live(x)]
        if live and method == "__call__" and not kwargs and ufunc in _compare.LOGICAL and all(map(_boolean, inputs)):
            return _compare.LOGICAL[ufunc].apply(*inputs)
        if any(isinstance(x, Tensor) for x in inputs):
            return NotImplemented  # the Tensor's turn: an op that takes the mask as an argument
        return _ufunc_on_traced(live, ufunc, method, inputs, kwargs, sys._getframe(1))

    __bool__ = _array_reader("__bool__", "bool() (an if or a while on a mask)")
    __getitem__ = _array_reader("__getitem__", "indexing a mask")
    __setitem__ = _array_reader("__setitem__", "assigning into a mask")


def _where_now(frame: FrameType | None) -> str:
    here = _callers.user_frame(frame)
    if here is None:
        return ""
    file, line, _, code = _callers.describe(here)
    return f" (at {file}:{line}" + (f": {code})" if code else ")")


# ============================================================== programs (ag.compile)


@dataclass(eq=False, slots=True)
class VjpEvent:
    """The engine ran an op's VJP on arrays (a plain backward pass): ``grads = op.fn.backward(g, out,
    *inputs)``; ``tupled``: it returned a tuple. ``where``: the user's line that ran the pass."""

    op: OpEvent
    g: Value
    grads: tuple[Value | None, ...]
    tupled: bool
    where: tuple[str, int, str, str]
    #: Under ``create_graph``: which of ``g``, ``out`` and the inputs the VJP got as Tensors (its
    #: recorded ops are the op's own events; ``grads`` are its results that are arrays all the same,
    #: computed without a tensor, made again by calling ``backward`` with Tensors where it had them).
    tensors: tuple[bool, ...] | None = None


@dataclass(eq=False, slots=True)
class StepEvent:
    """One of the engine's own steps in a backward pass: ``"sum_to"`` (``info``: the shape), ``"cast"``
    (the dtype), ``"add"`` (two shares), ``"constant"`` (a seed of ones: ``info``), ``"data"`` (a captured
    tensor's data: ``info``), ``"captured"`` (an array: ``info``), ``"asarray"`` (``info``: the array-like
    and the dtype), ``"zeros"`` (zeros like the input), ``"copy"``, ``"tensor"`` (a Tensor handed out
    holding the input's array)."""

    kind: str
    inputs: tuple[Value, ...]
    out: Value
    info: Any = None


@dataclass(eq=False, slots=True)
class GradEvent:
    """The engine accumulated ``g`` into a leaf's ``.grad`` (``backward()``), ``owned``: adopting ``g``
    itself when ``.grad`` was None. ``leaf_value``: the leaf's traced value when it is an argument or
    was made in the trace (None: a captured tensor). ``out``: what ``.grad`` holds afterwards."""

    leaf: Tensor
    leaf_value: Value | None
    g: Value
    owned: bool
    out: Value
    where: tuple[str, int, str, str]


@dataclass(frozen=True, slots=True)
class Nested:
    """A tuple, list or dict holding traced values, in an effect's arguments or results:
    ``items`` are the slots (a dict's as ``(key, slot)`` pairs)."""

    kind: type
    items: tuple[Any, ...]


@dataclass(eq=False, slots=True)
class EffectEvent:
    """A call reported with :func:`effect`: ``fn(*args, **kwargs)``, each argument a slot
    (:class:`Traced`, :class:`Constant` for an object passed as it is, or :class:`Nested`);
    ``results`` is the same for what it returned (its arrays are traced values)."""

    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    results: Any
    where: tuple[str, int, str, str]


@dataclass(eq=False, slots=True)
class GuardEvent:
    """The trace read ``obj.attr`` (a module's ``training``) and depended on its ``value``."""

    obj: Any
    attr: str
    value: Any
    where: tuple[str, int, str, str]


def _event_name(event: Any) -> str:
    if type(event) is OpEvent:
        return event.fn.name
    if type(event) is VjpEvent:
        return f"vjp of {event.op.fn.name}"
    if type(event) is StepEvent:
        return event.kind
    if type(event) is GradEvent:
        return "grad"
    if type(event) is EffectEvent:
        return f"effect {getattr(event.fn, '__qualname__', event.fn)}"
    return type(event).__name__


class ProgramTracer(Tracer):
    """The tracer of ``ag.compile``: the ops, and everything else a call does that a program must
    do again (see the module docstring): the engine's steps in a plain backward pass, effects,
    guards, and the floats the library reads. Arguments are inputs as they are (a Tensor keeps
    its identity, its class swapped while the trace records), and inside an effect or a VJP the
    tracer is *suspended*: the call is one event, made again as a whole, and reads are free."""

    def __init__(self) -> None:
        super().__init__(reads="raise")
        self.suspended = 0
        self.graph_depth = 0  # inside a VJP under create_graph
        self.guards: dict[tuple[int, str], GuardEvent] = {}
        self.written: set[tuple[int, str]] = set()
        #: id of a float the library read from a traced value -> (the float, the value)
        self.floats: dict[int, tuple[Any, Value]] = {}
        self._ops: dict[int, OpEvent] = {}
        self._grads: list[tuple[Tensor, np.ndarray, Any]] = []  # (leaf, the traced view it holds, the array)
        self._keep: list[Any] = []  # objects whose identity the tracer relies on
        self._library = False  # the effect being recorded was called by the library's code
        self._pass_where: tuple[str, int, str, str] | None = None
        #: id of what an array argument became (a Tensor, a TracedArray) -> the caller's array
        self.arrays: dict[int, np.ndarray] = {}

    def __enter__(self) -> Tape:
        tape = super().__enter__()
        _watch_grads(+1)
        return tape

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        _watch_grads(-1)
        for leaf, view, arr in self._grads:
            if leaf.grad is view:  # the gradient the trace put there, as the plain array it is
                leaf.grad = arr

    # ------------------------------------------------------------------ inputs
    def input_tensor(self, t: Tensor) -> Tensor:
        """An argument Tensor as an input of the trace: the object itself (its class is a traced one
        while the trace records), so that its ``.grad`` and its identity are the caller's."""
        if self.tape.value(t) is None:
            t.__class__ = traced_class(type(t))
            value = self._new_value(t, None, len(self.tape.inputs))
            self.tape.inputs.append(value)
        return t

    def input_array(self, a: np.ndarray, as_tensor: bool = True) -> Any:
        """An argument array as an input: floating data as a Tensor that does not require grad (no
        copy; unless ``as_tensor`` is False), anything else (class labels, indices) as a :class:`TracedArray`."""
        if a.dtype.kind == "f" and as_tensor:
            obj: Any = Tensor._make(a, None)
            obj.__class__ = TracedTensor
        else:
            obj = a.view(TracedArray)
            obj._trace = self._token
        self.arrays[id(obj)] = a
        value = self._new_value(obj, None, len(self.tape.inputs))
        self.tape.inputs.append(value)
        return obj

    # ------------------------------------------------------------------ ops
    def record(self, fn: Any, args: tuple[Any, ...], raw: list[Any], params: dict[str, Any], out: Any) -> Any:
        if self.suspended:  # inside an effect or a VJP: made again as a whole
            return out
        result = super().record(fn, args, raw, params, out)
        self._ops[id(fn)] = self.tape.events[-1]
        return result

    def _known(self, obj: Any, what: str) -> Value:
        v = self.tape.value(obj)
        if v is None:
            raise TracingError(
                f"ag.compile: {what} is not a value of this trace (a backward pass through a graph recorded "
                "outside the compiled function?); compute the loss inside the function you compile"
            )
        return v

    # ------------------------------------------------------------------ the engine (engine._run)
    def seed(self, seed: Any, grad: Any) -> None:
        """The first gradient of a backward pass: a shared one, or the given ``grad``."""
        self._pass_where = _callers.caller()  # the user's line of this pass (backward(), ag.grad, ...)
        if self.tape.value(seed) is not None:
            return
        if grad is None:
            kind, info = "constant", seed
        elif isinstance(grad, Tensor) and seed is _DATA.__get__(grad, Tensor):
            kind, info = "data", grad
        elif seed is grad:
            kind, info = "captured", grad
        else:
            kind, info = "asarray", (grad, seed.dtype)
        self._keep.append(info)
        event = StepEvent(kind, (), None, info)  # type: ignore[arg-type]
        event.out = self._new_value(seed, event)
        self.tape.events.append(event)

    def seed_tensor(self, seed: np.ndarray) -> Tensor:
        """The seed of a backward pass under ``create_graph`` as a traced Tensor: arithmetic the VJPs do
        with it is then recorded, where on the array it would be computed once, in the trace, and frozen.
        (The same values: the seed has the output's dtype, which is the VJPs' own.)"""
        t = Tensor._make(seed, None)
        t.__class__ = TracedTensor
        event = StepEvent("tensor", (self._known(seed, "the seed"),), None)  # type: ignore[arg-type]
        event.out = self._new_value(t, event)
        self.tape.events.append(event)
        return t

    def vjp(self, node: Any, g: Any, out: Any, inputs: tuple[Any, ...]) -> Any:
        """Run ``node.backward(g, out, *inputs)`` on arrays, as the engine does, and record it."""
        op = self._ops.get(id(node))
        if op is None or op.fn is not node:
            raise TracingError(
                f"ag.compile: backward through the op {node.name!r}, which was recorded outside the compiled "
                "function (a graph made before the call); compute the loss inside the function you compile"
            )
        gv = self._known(g, "the upstream gradient")
        self.suspended += 1
        try:
            grads = node.backward(g, out, *inputs)
        finally:
            self.suspended -= 1
        tupled = type(grads) is tuple
        event = VjpEvent(op, gv, (), tupled, self._pass_where or _callers.caller())
        values: list[Value | None] = []
        for gi in grads if tupled else (grads,):
            if gi is None:
                values.append(None)
            else:
                v = self.tape.value(gi)
                values.append(v if v is not None else self._new_value(gi, event))
        event.grads = tuple(values)
        self.tape.events.append(event)
        return grads

    def graph_backward(self, node: Any, g: Any, inputs: tuple[Any, ...]) -> Any:
        """Run a VJP under ``create_graph`` on the op's traced tensors (its ops are recorded), and check
        that none of them got an array computed inside the VJP from values (a mask from ``x.data``:
        it would be frozen in the program)."""
        out, xs = self.node_tensors(node, inputs)
        known = {id(x) for x in _arrays_in((node.inputs, getattr(node, "saved", None), list(vars(node).values())))}
        start = len(self.tape.events)
        self.graph_depth += 1
        try:
            grads = node.backward(g, out, *xs)
        finally:
            self.graph_depth -= 1
        for e in self.tape.events[start:]:
            if type(e) is not OpEvent:
                continue
            found = [a.array for a in e.args if type(a) is CapturedArray] + list(_arrays_in(list(e.params.values())))
            fresh = [a for a in found if id(a) not in known and self.tape.value(a) is None]
            if fresh:
                raise NotImplementedError(
                    f"ag.compile: the derivative of {node.name} under create_graph (a second derivative) computes "
                    f"its {e.fn.name} from the values of its inputs in a way a compiled program cannot follow; "
                    "take this derivative without ag.compile (step.eager), or once per value"
                )
        self.graph_vjp(node, g, out, xs, grads)  # its results that are arrays, not recorded ops
        return grads

    def ufunc(self, ufunc: Any, how: Any, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """NumPy arithmetic on traced masks inside a VJP under ``create_graph`` (``0.5 * (a == b)``,
        ``mask.astype(g.dtype)``: ``ufunc`` None and ``how`` the dtype): recorded as an op."""
        raw = [_plain(x) for x in inputs]
        if ufunc is None and isinstance(how, np.dtype):  # astype
            fn: Any = _ew.Cast()
            fn.recorded_as_array = True  # (not through Function.apply: an array result, as NumPy gave it)
            out = raw[0].astype(how)
            return self.record(fn, inputs, raw, {"dtype": how}, out)
        call = ufunc if how == "__call__" or how is None else getattr(ufunc, how)
        fn = _compare.Ufunc()
        fn.call, fn.kwargs = call, kwargs
        out = call(*raw, **kwargs)
        return self.record(fn, inputs, raw, {"call": call, "kwargs": kwargs}, out)

    def graph_vjp(self, node: Any, g: Any, out: Any, xs: list[Any], grads: Any) -> None:
        """A VJP under ``create_graph`` returned ``grads``: those that are arrays, not tensors, were
        computed from constants and arrays (the seed, a captured array) without a recorded op, so a
        program makes them by calling the VJP again (see :class:`VjpEvent`)."""
        tupled = type(grads) is tuple
        items = grads if tupled else (grads,)
        fresh = [gi is not None and not isinstance(gi, Tensor) and self.tape.value(gi) is None for gi in items]
        if not any(fresh):
            return
        op = self._ops[id(node)]
        gv = self.tape.value(g)
        if gv is None:  # (an array the engine made from arrays: the seed is always known)
            gv = self._known(g, "the upstream gradient")
        tensors = (isinstance(g, Tensor), True, *(isinstance(x, Tensor) for x in xs))
        event = VjpEvent(op, gv, (), tupled, self._pass_where or _callers.caller(), tensors)
        event.grads = tuple(self._new_value(gi, event) if new else None for gi, new in zip(items, fresh))
        self.tape.events.append(event)

    def step(self, kind: str, inputs: tuple[Any, ...], out: Any, info: Any = None) -> None:
        """One of the engine's steps on arrays (see :class:`StepEvent`) made ``out``."""
        if any(out is x for x in inputs):
            return
        event = StepEvent(kind, tuple(self._known(x, "a gradient") for x in inputs), None, info)  # type: ignore[arg-type]
        event.out = self._new_value(out, event)
        self.tape.events.append(event)

    def leaf(self, leaf: Tensor, g: Any, owned: bool, on_leaf: Any) -> None:
        """The engine hands ``leaf`` its gradient at the end of a pass: for ``backward()`` the accumulation
        into ``.grad`` (an effect, recorded), for ``gradients()`` a collection (nothing to record)."""
        if on_leaf is not _engine._accumulate_into_grad:
            on_leaf(leaf, g, owned)
            return
        gv = self._known(g, "a gradient")
        lv = self.tape.value(leaf)
        self.suspended += 1
        try:
            on_leaf(leaf, g, owned)
        finally:
            self.suspended -= 1
        event = GradEvent(leaf, lv, gv, owned, None, self._pass_where or _callers.caller())  # type: ignore[arg-type]
        after = leaf.grad
        if type(after) is np.ndarray:  # the user's code sees a traced array, which it may not read
            view = after.view(TracedArray)
            view._trace = self._token
            leaf.grad = view
            self._grads.append((leaf, view, after))
            after = view
        event.out = self._new_value(after, event)
        self.tape.events.append(event)

    def result(self, t: Tensor, arr: Any) -> None:
        """``gradients()`` hands out ``t``, a Tensor holding the traced array ``arr``."""
        v = self._known(arr, "a gradient")
        t.__class__ = TracedTensor
        event = StepEvent("tensor", (v,), None)  # type: ignore[arg-type]
        event.out = self._new_value(t, event)
        self.tape.events.append(event)

    def node_tensors(self, node: Any, inputs: tuple[Any, ...]) -> tuple[Tensor, list[Any]]:
        """For a VJP under ``create_graph``: the op's traced output and inputs, which the engine
        gives the VJP instead of fresh wrappers of the same arrays (so that it is recorded on them)."""
        op = self._ops.get(id(node))
        if op is None or op.fn is not node:
            raise TracingError(
                f"ag.compile: a backward pass through the op {node.name!r}, which was recorded outside the "
                "compiled function; compute the loss inside the function you compile"
            )
        xs: list[Any] = []
        for p, x, a in zip(node.parents, inputs, op.args):
            if p is None or isinstance(p, Tensor):
                xs.append(x if p is None else p)
            elif type(a) is Traced and isinstance(a.value.obj, Tensor):
                xs.append(a.value.obj)
            else:
                xs.append(Tensor._make(x, p))
        return op.out.obj, xs

    # ------------------------------------------------------------------ effects, guards, floats
    def call(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], library: bool = False) -> Any:
        """``effect(fn, *args, **kwargs)``: make the call now, suspended, and record it. The arrays it
        returns to the user's code are :class:`TracedArray` s; to the library's, the arrays themselves
        (whose code may test ``type(a) is np.ndarray``)."""
        where = _callers.caller()
        self._library = library
        slots = tuple(self._slot(a, fn) for a in args)
        kw = {k: self._slot(v, fn) for k, v in kwargs.items()}
        self.suspended += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.suspended -= 1
        event = EffectEvent(fn, slots, kw, None, where)
        result, event.results = self._result(result, event, args, kwargs)
        self.tape.events.append(event)
        return result

    def _slot(self, a: Any, fn: Any) -> Any:
        if isinstance(a, (Tensor, np.ndarray, np.generic, float)):
            v = self.tape.value(a)
            if v is not None:
                return Traced(v, tensor=isinstance(a, Tensor))
            if isinstance(a, TracedArray) and a._trace == self._token:
                raise TracingError(
                    f"ag.effect({getattr(fn, '__qualname__', fn)}): an argument was computed with NumPy from a "
                    "traced array, which a trace cannot follow; pass the traced array itself"
                )
            return Constant(a)
        if isinstance(a, (tuple, list)):
            items = tuple(self._slot(x, fn) for x in a)
            return Nested(type(a), items) if any(type(x) is not Constant for x in items) else Constant(a)
        if isinstance(a, dict):
            pairs = tuple((k, self._slot(x, fn)) for k, x in a.items())
            return Nested(dict, pairs) if any(type(x) is not Constant for _, x in pairs) else Constant(a)
        return Constant(a)

    def _result(self, r: Any, event: EffectEvent, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """``r`` with its new arrays traced (TracedArray views), and its slots."""
        if any(r is a for a in args) or any(r is a for a in kwargs.values()):
            return r, Constant(r)  # returns an argument (self, for an in-place change): not a new value
        if isinstance(r, Tensor):
            v = self.tape.value(r)
            if v is None:
                r.__class__ = traced_class(type(r))
                v = self._new_value(r, event)
            return r, Traced(v, tensor=True)
        if isinstance(r, np.ndarray):
            v = self.tape.value(r)
            if v is None:
                if type(r) is np.ndarray and not self._library:
                    r = r.view(TracedArray)
                    r._trace = self._token
                v = self._new_value(r, event)
            return r, Traced(v)
        if isinstance(r, (np.generic, float)) and not isinstance(r, bool):
            v = self.tape.value(r) or self._new_value(r, event)
            if type(r) is float:
                self.floats[id(r)] = (r, v)
            return r, Traced(v)
        if isinstance(r, (tuple, list)) and type(r) in (tuple, list):
            pairs = [self._result(x, event, args, kwargs) for x in r]
            return type(r)(p[0] for p in pairs), Nested(type(r), tuple(p[1] for p in pairs))
        return r, Constant(r)

    def guard(self, obj: Any, attr: str) -> None:
        key = (id(obj), attr)
        if key in self.written or key in self.guards:
            return
        self.guards[key] = GuardEvent(obj, attr, getattr(obj, attr), _callers.caller())

    def wrote(self, obj: Any, attr: str) -> None:
        self.written.add((id(obj), attr))
        self._keep.append(obj)

    def traced_float(self, t: Tensor, result: float) -> TracedFloat:
        f = TracedFloat(result)
        f._trace = self._token
        self.floats[id(f)] = (f, self.tape.value(t))  # type: ignore[assignment]
        return f

    def note_float(self, t: Tensor, result: Any) -> None:
        v = self.tape.value(t)
        if v is not None and type(result) is float:
            self.floats[id(result)] = (result, v)


def _arrays_in(x: Any) -> Any:
    """The NumPy arrays in ``x`` (inside tuples, lists and dicts)."""
    if isinstance(x, np.ndarray):
        yield x
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _arrays_in(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _arrays_in(v)


_GRAD = Tensor.__dict__["grad"]  # the slot behind Tensor.grad
_watching = 0
_watch_lock = threading.Lock()


def set_grad(t: Tensor, value: Any) -> None:
    """``t.grad = value``: what a program makes of that assignment in a compiled function."""
    _GRAD.__set__(t, value)


def _get_grad(self: Tensor) -> Any:
    return _GRAD.__get__(self, Tensor)


def _set_grad(self: Tensor, value: Any) -> None:
    if recorder() is not None and not _read_allowed(sys._getframe(1)):
        effect(set_grad, self, value)  # the user's ``w.grad = None``: made at every call of the program
    else:
        _GRAD.__set__(self, value)


def _watch_grads(step: int) -> None:
    """While ``ag.compile`` traces (on any thread), ``Tensor.grad`` is a property that sees the user's
    assignments (``w.grad = None``), so that a program makes them too; the plain slot otherwise."""
    global _watching
    with _watch_lock:
        _watching += step
        Tensor.grad = property(_get_grad, _set_grad) if _watching else _GRAD  # type: ignore[assignment,method-assign,misc]


def recorder() -> ProgramTracer | None:
    """The program tracer recording on this thread (not inside an effect or a VJP), or None."""
    stack = _stack.get()
    if stack:
        tracer = stack[-1]
        if type(tracer) is ProgramTracer and not tracer.suspended:
            return tracer
    return None


def compiling() -> bool:
    """Whether ``ag.compile`` is tracing on this thread (inside an effect too)."""
    return active > 0 and any(type(t) is ProgramTracer for t in _stack.get())


def effect(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` and return what it returns: a change of state that a compiled
    program must make too, at every call (``ag.effect``).

    The library reports its own this way: an optimizer's ``step`` and ``zero_grad``, BatchNorm's
    running averages, Dropout's random draws, ``t[i] = v`` and in-place operators on tensors. A
    user's own optimizer (or any code that changes state in place) uses it the same way: outside
    ``ag.compile`` it is just the call. While ``ag.compile`` traces a function, the call is made
    and recorded, and the program makes it again at every call: arguments that are traced values
    (tensors computed in the function, its inputs, gradients in ``.grad``) are replaced by that
    call's values (a Tensor as a Tensor, an array as an array); everything else (a parameter, an
    optimizer, a dict of state, a generator, a number) is passed as it is, the same object every
    time, so ``fn`` reads its current state (a learning rate set since). Arrays, Tensors and
    floats ``fn`` returns are traced values, which later ops may use.

    >>> def update(p, lr):                         # a hand-written gradient step
    ...     p.data -= lr * p.grad
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> effect(update, w, 0.1)                     # outside ag.compile: update(w, 0.1)
    >>> w.data
    array([0.8, 1.6])
    """
    if active:
        tracer = recorder()
        if tracer is not None:
            return tracer.call(fn, args, kwargs, _callers.in_library(sys._getframe(1).f_code.co_filename))
    return fn(*args, **kwargs)


def guard(obj: Any, attr: str) -> None:
    """The trace being recorded depends on ``obj.attr`` (a module's ``training``): a compiled program
    checks it at every call and traces again when it differs. (Nothing outside a compile trace.)"""
    if active:
        tracer = recorder()
        if tracer is not None:
            tracer.guard(obj, attr)


def wrote(obj: Any, attr: str) -> None:
    """An effect of the trace being recorded sets ``obj.attr`` (``model.train()`` inside the compiled
    function): later reads of it depend on the effect, not on the state before the call."""
    if active:
        tracer = recorder()
        if tracer is not None:
            tracer.wrote(obj, attr)


def made(t: Tensor, data: Any) -> None:
    """``Tensor(data)`` made ``t`` (called by ``Tensor.__init__`` while a trace records)."""
    stack = _stack.get()
    if stack and not getattr(stack[-1], "suspended", 0):
        stack[-1].made(t, data)


def captured_read(t: Tensor, what: str, frame: FrameType | None) -> None:
    """The user's code read the value of ``t`` (``.item()``, ``float()``, ...) while ``ag.compile``
    traces: refused when ``t`` was made outside the compiled function (a parameter), whose value
    the program would otherwise hold frozen."""
    tracer = recorder()
    if tracer is None or tracer.tape.value(t) is not None or _read_allowed(frame):
        return
    here = _callers.user_frame(frame) or frame
    file, line, _, code = _callers.describe(here) if here is not None else ("<unknown>", 0, "", "")
    raise TracingError(
        f"{what} reads the value of a tensor made outside the compiled function (a parameter) at {file}:{line}"
        + (f" ({code})" if code else "")
        + ". ag.compile would hold that value frozen in the program, which reads parameters at every call "
        "only through ops: compute with the tensor itself (w * 2, ag.where(w > 0, a, b)) rather than with its "
        "value, or read it outside the compiled function"
    )


# The ops need this module, so they are imported after it is defined.
from . import engine as _engine  # noqa: E402
from . import interop as _interop  # noqa: E402
from .grad_mode import grad_enabled as _grad_enabled  # noqa: E402
from .grad_mode import no_grad as _no_grad  # noqa: E402
from .ops import compare as _compare  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402

_NOT_READS = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj}
