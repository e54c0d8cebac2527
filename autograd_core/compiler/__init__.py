"""``ag.compile``: trace a function once, then run the program it made, bit for bit as eager code.

The first call of ``step = ag.compile(fn)`` runs ``fn`` under the shared tracer
(``autograd_core/tracing.py``, its program tracer): every op, every backward pass (each node's
VJP, the engine's sums and casts, the accumulation into ``.grad``), every effect (an optimizer's
step, running statistics, random draws). That call's results are ``fn``'s own. The tape becomes
a *program* (``_ir.py``): Python statements that make the same NumPy calls in the same order,
written out from the ops' source forms (``np.exp(v3)``) or calling their ``forward`` and
``backward``; it is simplified (``_passes.py``) and turned into a Python function
(``_codegen.py``), which later calls with arguments of the same shapes and dtypes run.
``step.source`` shows it.
"""

from __future__ import annotations

import builtins
import copy
import functools
import gc
import inspect
import linecache
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Any, overload

import numpy as np

from .. import anomaly as _anomaly
from .. import engine as _engine
from .. import tracing as _tracing
from .. import versions as _versions
from ..function import _float_output
from ..grad_mode import grad_enabled
from ..ops.shape import expand, unindex
from ..tensor import Tensor
from ._args import Flat, describe, flatten, rebuild
from ._codegen import Generated, generate
from ._ir import Builder, Program
from ._names import Names
from ._passes import eliminate_dead_code, share_common_subexpressions, write_in_place
from ._scalar import pow_array, scalar_source

__all__ = ["compile", "CompiledFunction", "CompileWarning"]


class CompileWarning(UserWarning):
    """A compiled function keeps tracing new programs (the message names what keeps changing)."""


class Retrace(Exception):
    """A program's guards do not hold for this call (raised before it does anything)."""


def as_tensor(a: Any) -> Tensor:
    """A fresh Tensor holding ``a``, with no graph (a program's output, an effect's argument)."""
    return Tensor._make(np.asarray(a), None)


def accumulate(leaf: Tensor, g: Any, owned: bool) -> Any:
    """``backward()``'s accumulation of ``g`` into ``leaf.grad`` (the engine's own function); returns
    what ``.grad`` holds afterwards."""
    _engine._accumulate_into_grad(leaf, g, owned)
    return leaf.grad


#: What every program's globals start with.
RUNTIME: dict[str, Any] = {
    "np": np,
    "Retrace": Retrace,
    "as_tensor": as_tensor,
    "accumulate": accumulate,
    "expand": expand,
    "sum_to": _engine.sum_to,
    "unindex": unindex,
    "_float_output": _float_output,
    "bump": _versions.bump,
}

#: Programs kept per compiled function (the least recently used go first).
KEEP = 64
_NO_ARGS = flatten((), {})
_NO_ARGS_KEYS = {True: (_NO_ARGS.key, True), False: (_NO_ARGS.key, False)}


class CompiledFunction:
    """A function compiled by :func:`compile`: call it as the function itself.

    Attributes: ``source`` (the latest program's Python source), ``traces`` (how many programs
    were traced), ``eager(*args, **kwargs)`` (run the function without compiling).
    """

    def __init__(self, fn: Callable[..., Any], max_traces: int, arrays_as_tensors: bool = True) -> None:
        self.fn = fn
        self.max_traces = max_traces
        #: Whether floating array arguments reach ``fn`` as Tensors (the contract), or, for the library's
        #: own steps that eager code gives arrays (nn.fit's batches), as the arrays they are (traced).
        self.arrays_as_tensors = arrays_as_tensors
        self.traces = 0
        self._programs: OrderedDict[Any, list[_Compiled]] = OrderedDict()
        self._latest: _Compiled | None = None
        self._lock = threading.RLock()
        self._warned = False
        self._keys: list[Any] = []  # the keys traced, for the warning
        self._failed: list[str] = []  # what the guards that failed were about
        functools.update_wrapper(self, fn)

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _tracing.active or _anomaly.active:
            # inside another trace (it records fn's ops as its own), or detect_anomaly (eager, checked)
            return self.fn(*args, **kwargs)
        if not args and not kwargs:  # (the commonest of small steps, without building a key)
            flat = _NO_ARGS
            key = _NO_ARGS_KEYS[grad_enabled.get()]
        else:
            flat = flatten(args, kwargs)
            key = (flat.key, grad_enabled.get())
        programs = self._programs.get(key)
        if programs is not None:
            for p in programs:
                try:
                    return p.run(*flat.inputs)
                except Retrace:
                    continue
                except Exception as err:
                    raise p.explain(err) from None
        return self._trace(args, kwargs, flat, key)

    def eager(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function without compiling, its array arguments as Tensors as a program gets them
        (floating arrays as Tensors that do not require grad; integer arrays as they are)."""

        def swap(x: Any) -> Any:
            if isinstance(x, np.ndarray) and x.dtype.kind == "f" and self.arrays_as_tensors:
                return Tensor(x)
            return x

        a, kw = rebuild(args, kwargs, swap)
        return self.fn(*a, **kw)

    # ------------------------------------------------------------------ tracing
    def _trace(self, args: tuple[Any, ...], kwargs: dict[str, Any], flat: Flat, key: Any) -> Any:
        collecting = gc.isenabled()
        gc.disable()  # tracing and building make many objects and no cycles: collections would only cost time
        try:
            return self._trace_now(args, kwargs, flat, key)
        finally:
            if collecting:
                gc.enable()

    def _trace_now(self, args: tuple[Any, ...], kwargs: dict[str, Any], flat: Flat, key: Any) -> Any:
        with self._lock:
            tracer = _tracing.ProgramTracer()

            def swap(x: Any) -> Any:
                if isinstance(x, Tensor):
                    return tracer.input_tensor(x)
                return tracer.input_array(x, as_tensor=self.arrays_as_tensors)

            with tracer:
                a, kw = rebuild(args, kwargs, swap)
                result = self.fn(*a, **kw)
            compiled = _Compiled(self, tracer, flat, result)
            self.traces += 1
            self._latest = compiled
            programs = self._programs.setdefault(key, [])
            programs.insert(0, compiled)
            self._programs.move_to_end(key)
            while len(self._programs) > KEEP:
                self._programs.popitem(last=False)
            self._keys.append((key, compiled))
            if self.traces > self.max_traces and not self._warned:
                self._warned = True
                warnings.warn(self._changing(), CompileWarning, stacklevel=3)
            return compiled.first

    def _changing(self) -> str:
        """The warning for too many programs: what keeps changing between them."""
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        params: list[str] = []
        try:
            params = [p.name for p in inspect.signature(self.fn).parameters.values()]
        except (TypeError, ValueError):
            pass
        keys = [k for k, _ in self._keys]
        parts: dict[str, list[Any]] = {}  # argument name -> its key part in each trace
        for args_key, _ in keys:
            positional, named = args_key[0], dict(args_key[1])
            for i, part in enumerate(positional):
                parts.setdefault(params[i] if i < len(params) else f"argument {i}", []).append(part)
            for k, part in named.items():
                parts.setdefault(k, []).append(part)
        changing = {k: v for k, v in parts.items() if len(set(map(_hashable, v))) > 1}
        if changing:
            arg = max(changing, key=lambda k: len(set(map(_hashable, changing[k]))))
            seen = list(dict.fromkeys(map(_hashable, changing[arg])))
            shown = ", ".join(describe(p) for p in seen[-3:])
            what = f"its argument {arg!r} keeps changing (the last: {shown})"
        elif len({k[1] for k in keys}) > 1:
            what = "it is called both in and out of no_grad"
        else:
            what = (
                "the state it reads keeps changing (" + "; ".join(self._failed[-3:]) + ")"
                if self._failed
                else ("the state it reads keeps changing")
            )
        return (
            f"ag.compile: {name} has been traced {self.traces} times (max_traces={self.max_traces}): {what}. "
            "Each new shape, dtype or Python value of an argument traces a new program; pass numbers that change "
            "as arrays (np.float64(x) is a value, np.array(x) an input), or compile once per configuration. "
            "It goes on working"
        )

    # ------------------------------------------------------------------ what it made
    @property
    def source(self) -> str:
        """The latest program's Python source (``""`` before the first call)."""
        return "" if self._latest is None else self._latest.source

    def _draw_graph(self, labels: str = "values", **kwargs: Any) -> Any:
        if self._latest is None:
            raise ValueError("draw_graph: this compiled function has not been called yet, so it has no program")
        from ._draw import draw_program

        return draw_program(
            self._latest.program, labels=labels, title=getattr(self, "__qualname__", "program"), **kwargs
        )

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"<ag.compile of {name}: {self.traces} program(s)>"

    def __deepcopy__(self, memo: dict[int, Any]) -> CompiledFunction:
        """A copy of the function, compiled afresh (programs are not copied: they hold the original's state)."""
        return CompiledFunction(copy.deepcopy(self.fn, memo), self.max_traces, self.arrays_as_tensors)

    def __reduce__(self) -> Any:
        return (CompiledFunction, (self.fn, self.max_traces, self.arrays_as_tensors))

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """On a method (``@ag.compile`` in a class body): the instance is an argument (by identity)."""
        if obj is None:
            return self
        return functools.partial(self, obj)


class _Compiled:
    """One program of a compiled function: built from a trace, with the first call's results."""

    def __init__(self, owner: CompiledFunction, tracer: _tracing.ProgramTracer, flat: Flat, result: Any) -> None:
        names = Names(RUNTIME)
        builder = Builder(tracer, flat.inputs, names)
        instrs = builder.build()
        self.first = _first_results(result, tracer)
        output = _outputs(result, tracer, builder, names)
        guards, notes = _guards(builder, tracer, names)
        program = Program(names, instrs, builder.args, output, guards, notes)
        eliminate_dead_code(program)
        share_common_subexpressions(program)
        eliminate_dead_code(program)
        write_in_place(program)
        title = getattr(owner.fn, "__qualname__", "function")
        self.generated: Generated = generate(program, title)
        self.program = program
        self.run = self.generated.fn
        scalar = scalar_source(program, title)
        if scalar is not None:  # every value a scalar: on Python floats, the array program as the fallback
            names.globals.update(run_arrays=self.run, pow_array=pow_array, isfinite=math.isfinite)
            filename = self.generated.filename + " (scalars)"
            exec(builtins.compile(scalar, filename, "exec"), names.globals)  # (compile: this module's)
            linecache.cache[filename] = (len(scalar), None, scalar.splitlines(True), filename)
            self.run = names.globals["run"]
            self.scalar = scalar

    scalar: str = ""

    @property
    def source(self) -> str:
        if self.scalar:
            fallback = "\n\n# the array program, which it runs where NumPy would warn:\n"
            return self.scalar + fallback + self.generated.source
        return self.generated.source

    def explain(self, err: BaseException) -> BaseException:
        """``err`` raised while the program ran, naming the user's line that recorded the op."""
        tb: TracebackType | None = err.__traceback__
        instr = getattr(err, "__ag_instr__", None)  # (a program run by a loop says which instruction failed)
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename == self.generated.filename:
                instr = self.generated.lines.get((code.co_filename, tb.tb_lineno), instr)
            tb = tb.tb_next
        if instr is None or instr.where is None:
            return err
        file, line, _, text = instr.where
        note = f"(in the compiled program, at {instr.label} recorded at {file}:{line}" + (f": {text})" if text else ")")
        try:
            new = type(err)(f"{err} {note}")
        except Exception:
            err.add_note(note)
            return err
        new.__cause__ = err
        return new


def _first_results(result: Any, tracer: _tracing.ProgramTracer) -> Any:
    """The trace's own results as a program returns them: Tensors without graph (an argument Tensor
    itself), plain arrays (an argument array itself)."""
    plain = {id(view): arr for _, view, arr in tracer._grads}

    def walk(x: Any) -> Any:
        if isinstance(x, Tensor):
            value = tracer.tape.value(x)
            if value is None or (value.input is not None and id(x) not in tracer.arrays):
                return x  # captured, or an argument Tensor: the object itself
            return Tensor._make(x.data, None)
        if type(x) is _tracing.TracedFloat:
            return float.__float__(x)  # (a plain float: the trace is over)
        if isinstance(x, np.ndarray):
            if id(x) in tracer.arrays:
                return tracer.arrays[id(x)]
            if id(x) in plain:
                return plain[id(x)]
            return x.view(np.ndarray) if isinstance(x, _tracing.TracedArray) else x
        t = type(x)
        if t is tuple or t is list:
            return t(walk(v) for v in x)
        if t is dict:
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return t(*(walk(v) for v in x))
        return x

    return walk(result)


def _outputs(result: Any, tracer: _tracing.ProgramTracer, builder: Builder, names: Names) -> Any:
    """The structure ``fn`` returned, as output specs (see ``_codegen.render_output``)."""
    tape = tracer.tape

    def walk(x: Any) -> Any:
        if isinstance(x, Tensor):
            value = tape.value(x)
            if value is None:
                return ("const", names.name(x))  # captured: the object itself
            if value.input is not None and value.producer is None:
                arg = builder.args[value.input]
                return ("tensor", arg) if id(x) in tracer.arrays else ("var", arg)
            return ("tensor", builder.var(value))
        if isinstance(x, float) and not isinstance(x, np.generic):
            found = tracer.floats.get(id(x))
            if found is not None and found[0] is x:
                return ("float", builder.var(found[1]))
            return ("const", names.literal(float(x)))
        if isinstance(x, (np.ndarray, np.generic)):
            value = tape.value(x)
            if value is not None:
                return ("var", builder.args[value.input] if value.producer is None else builder.var(value))  # type: ignore[index]
            if isinstance(x, _tracing.TracedArray) and x._trace == tracer._token:
                raise _tracing.TracingError(
                    "ag.compile: the function returned an array computed with NumPy from a traced value (a "
                    "gradient, an input), which a program cannot follow; return the traced value itself, or a "
                    "tensor computed with ops"
                )
            return ("const", names.name(x))
        t = type(x)
        if t is tuple:
            return ("tuple", [walk(v) for v in x])
        if t is list:
            return ("list", [walk(v) for v in x])
        if t is dict:
            return ("dict", [(names.literal(k), walk(v)) for k, v in x.items()])
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return ("named", names.name(t), [walk(v) for v in x])
        return ("const", names.literal(x))

    return walk(result)


def _guards(builder: Builder, tracer: _tracing.ProgramTracer, names: Names) -> tuple[list[str], list[str]]:
    """The conditions under which the program is the trace: the captured tensors' ``requires_grad``,
    shapes and dtypes, the captured arrays' shapes and dtypes, and the guards the library reported
    (a module's ``training``)."""
    guards: list[str] = []
    notes: list[str] = []
    for t in builder.captured.values():
        n = names.name(t)
        d = names.name(t.data, f"{n}_seen")
        guards.append(f"{n}.requires_grad is {bool(t.requires_grad)}")
        notes.append(f"the requires_grad of a tensor of shape {t.shape} (now {not t.requires_grad})")
        shape, dtype = names.literal(t.data.shape), names.literal(t.data.dtype)
        guards.append(f"({n}.data is {d} or {n}.data.shape == {shape} and {n}.data.dtype == {dtype})")
        notes.append(f"the shape or dtype of a tensor of shape {t.shape}")
    for a in builder.arrays.values():
        n = names.name(a)
        guards.append(f"{n}.shape == {names.literal(a.shape)} and {n}.dtype == {names.literal(a.dtype)}")
        notes.append(f"the shape or dtype of an array of shape {a.shape}")
    for g in tracer.guards.values():
        n = names.name(g.obj, type(g.obj).__name__.lower())
        op = "is" if g.value is None or type(g.value) is bool else "=="
        guards.append(f"{n}.{g.attr} {op} {names.literal(g.value)}")
        notes.append(f"{type(g.obj).__name__}'s {g.attr}")
    return guards, notes


def _hashable(part: Any) -> Any:
    try:
        hash(part)
    except TypeError:
        return repr(part)
    return part


@overload
def compile(fn: Callable[..., Any], *, max_traces: int = 8) -> CompiledFunction: ...
@overload
def compile(fn: None = None, *, max_traces: int = 8) -> Callable[[Callable[..., Any]], CompiledFunction]: ...


def compile(fn: Callable[..., Any] | None = None, *, max_traces: int = 8) -> Any:  # noqa: A001 - ag.compile
    """Compile ``fn`` (also as a decorator, ``@ag.compile`` or ``@ag.compile(max_traces=...)``): its
    first call traces it, later calls run the program it made, bit for bit as ``fn`` would.

    TensorFlow 1, as the deep-learning course teaches it, builds the computation graph once and runs
    it many times; this does that for any function of Tensors: forward ops, ``backward()``,
    ``ag.grad``/``ag.gradients`` (in any order), optimizer steps (``step``, ``zero_grad``,
    ``minimize``), schedules, modules in train or eval mode (BatchNorm's running averages, Dropout's draws)::

        step = ag.compile(lambda x: train.minimize(lambda: cost(x)))
        for _ in range(1000):
            loss = step(coefficients)      # the first call traces; later calls run the program
        print(step.source)                 # forward, backward and update, as Python over NumPy

    Parameters
    ----------
    fn : callable
        The function. Its arguments that are Tensors or NumPy arrays (also inside tuples, lists
        and dicts) are the program's inputs: another value of the same shape and dtype reuses the
        program, another shape or dtype traces again. A floating array reaches ``fn`` as a Tensor
        that does not require grad (so ``x[0][0]`` is recorded, not frozen as a number); an
        integer array (class labels, indices) as an array the library's losses and layers take as
        they are. An argument Tensor that requires grad gets its ``.grad`` filled as ``fn`` would
        fill it. Python numbers, strings, ``None`` and other objects are part of the program: a new
        value traces again, a value seen before reuses its program (objects compare by equality
        where they are hashable, else by identity).
    max_traces : int
        After this many programs a :class:`CompileWarning` names the argument that keeps changing;
        the function goes on working.

    Returns
    -------
    CompiledFunction
        Called as ``fn``; ``.source`` is the latest program's Python source, ``.traces`` how many
        programs were traced, ``.eager(*args)`` runs ``fn`` without compiling (arrays as Tensors,
        as a program gets them); ``ag.draw_graph(step)`` draws the program.

    Notes
    -----
    What the program reads at every call: the values of the inputs, and everything else ``fn``
    reads through the library (parameters, optimizer state and learning rates set with
    ``opt.lr = ...`` or a schedule, running statistics, captured arrays, generators). What it
    checks at every call, tracing again when it changed: the shapes and dtypes of the captured
    tensors and arrays, their ``requires_grad``, the modules' ``training`` modes, Dropout's ``p``,
    ``no_grad``. The outputs have the structure ``fn`` returns (Tensors, floats, tuples, dicts);
    Tensors carry no graph, and a float ``fn`` returns from a traced value (``minimize``'s loss,
    ``loss.item()`` in the library) is that call's.

    **Python side effects run at trace time only**, as in ``tf.function`` and ``jax.jit``: a
    ``print``, an ``append`` to a list, a counter of your own happen on the first call (and on each
    new trace), never when the program runs. Changes of state made through the library are part of
    the program (an optimizer's update, ``.grad``, ``t[i] = v``, in-place operators on tensors,
    running statistics, random draws); a function of your own that changes state in place reports
    itself with :func:`ag.effect <autograd_core.effect>` to be part of it too.

    Reading a traced value to steer Python (``if loss.item() > 1:``, ``float(t)`` in arithmetic,
    ``np.asarray(t)``, ``t.data``, ``.item()`` of a parameter) raises :class:`~autograd_core.TracingError`
    naming the line: the program would hold that one value. Choose elementwise with
    ``ag.where(x > 0, a, b)`` (comparisons are recorded) instead. An error raised while a program
    runs (a label out of range, say) names the line of ``fn`` that recorded the op. A user's own
    op (a ``Function``) runs as calls of its ``forward`` and ``backward``. Inside
    ``detect_anomaly()``, and inside another trace, ``fn`` runs eagerly.

    Examples
    --------
    >>> w = Tensor(0.0, requires_grad=True, name="w")
    >>> train = optim.GradientDescent([w], lr=0.01)
    >>> step = ag.compile(lambda: train.minimize(lambda: w**2 - 10 * w + 25))
    >>> [step() for _ in range(3)]          # the first call traced; the others ran the program
    [25.0, 24.01, 23.059204]
    >>> step.traces, round(w.item(), 6)
    (1, 0.29404)
    """
    from .._checks import check_int

    max_traces = check_int(max_traces, "max_traces", "ag.compile", low=1)
    if fn is None:
        return lambda f: compile(f, max_traces=max_traces)
    if not callable(fn):
        raise TypeError(f"ag.compile: fn must be callable, got {type(fn).__name__}")
    if isinstance(fn, CompiledFunction):
        return fn
    return CompiledFunction(fn, max_traces)
