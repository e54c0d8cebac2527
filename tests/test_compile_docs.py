"""What the documentation says of ``ag.compile`` is what it does.

The README's "Static graphs" section (its snippet, the values its comments give, and the program
it prints), the limits stated in the how-to (``docs/how-to/compile.md``) and in the engine's
explanation (``docs/explanation/engine.md``): Python side effects at trace time only, once per
trace; a draw from a generator of one's own kept from the trace; names read at trace time.
"""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

import autograd_core as ag
import optim
from autograd_core import Tensor

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
HOW_TO = (ROOT / "docs" / "how-to" / "compile.md").read_text(encoding="utf-8")
ENGINE = (ROOT / "docs" / "explanation" / "engine.md").read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` (a ``## `` line), up to the next heading of that level."""
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def _run(code: str, **names: Any) -> tuple[dict[str, Any], str]:
    """Run ``code`` (with ``names``, which earlier cells of its page define); its namespace and what
    it printed."""
    namespace: dict[str, Any] = {"__name__": "__docs__", **names}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(textwrap.dedent(code), "docs snippet", "exec"), namespace)  # noqa: S102
    return namespace, out.getvalue()


# ============================================================== the README's static graphs


def _readme_static_graphs() -> tuple[str, str]:
    """The section's Python snippet and the program it shows (its ```text block)."""
    section = _section(README, "## Static graphs")
    (snippet,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    (shown,) = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    return snippet, shown


def test_the_readme_walkthrough_compiled_gives_the_values_its_comment_shows() -> None:
    snippet, _ = _readme_static_graphs()
    (comment,) = re.findall(r"^print\(w\.item\(\), step\.traces\)\s+# (.*)$", snippet, flags=re.M)
    namespace, printed = _run(snippet)
    w, step = namespace["w"], namespace["step"]
    assert printed.splitlines()[0] == comment  # what the comment says is what it prints
    assert step.traces == 1 and comment == f"{w.item()!r} 1"
    assert abs(w.item() - 5) < 1e-8

    eager = Tensor(0.0, requires_grad=True)  # the tour's loop, eagerly: the same bits
    train = optim.GradientDescent([eager], lr=0.01)
    for _ in range(1000):
        train.minimize(lambda: eager**2 - 10 * eager + 25)
    assert eager.data.tobytes() == w.data.tobytes()


def test_the_readme_shows_the_program_that_step_source_prints() -> None:
    snippet, shown = _readme_static_graphs()
    namespace, printed = _run(snippet)
    source = namespace["step"].source
    assert printed.split("\n", 1)[1] == source + "\n"  # print(step.source) prints the source

    # The README shows the float program in full, and says that the array program follows it.
    floats, sep, arrays = source.partition("\n\n# the array program, which it runs where NumPy would warn:\n")
    assert sep and "same steps on arrays follow, for where NumPy would" in " ".join(README.split())
    assert [line.rstrip() for line in shown.rstrip("\n").split("\n")] == [
        line.rstrip() for line in floats.rstrip("\n").split("\n")
    ]
    assert floats.startswith("# ag.compile: <lambda> (its values are all scalars: computed on Python floats")
    assert arrays.startswith("# ag.compile: <lambda>\ndef run():") and "accumulate(w, " in arrays


# ============================================================== the limits, as the docs state them


def test_the_docs_state_that_python_side_effects_run_at_trace_time_only() -> None:
    flat = {name: " ".join(text.split()) for name, text in (("how-to", HOW_TO), ("engine", ENGINE))}
    assert "Python side effects run at trace time only**, as in `tf.function` and `jax.jit`" in flat["engine"]
    assert "happen on the call that traces, once per trace, and never when the program runs" in flat["engine"]
    assert "run while the function is traced, once per trace, and never when the program runs" in flat["how-to"]
    assert "Five calls, two traces, two prints." in flat["how-to"]


def test_print_and_append_happen_once_per_trace_not_per_call() -> None:
    log: list[int] = []
    w = Tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)

    def f(x: Tensor) -> Tensor:
        log.append(len(x))
        print("tracing", len(x))  # noqa: T201
        return (x * w[: len(x)]).sum()

    step = ag.compile(f)
    out = io.StringIO()
    results = []
    with contextlib.redirect_stdout(out):
        for n in [3, 3, 3, 4, 4, 3, 4]:
            results.append(step(np.full(n, 2.0)).item())
    assert log == [3, 4] and step.traces == 2  # the calls of shape 3 after the second trace: no print
    assert out.getvalue() == "tracing 3\ntracing 4\n"
    assert results == [12.0, 12.0, 12.0, 20.0, 20.0, 12.0, 20.0]  # and yet every call computed
    w.data[...] = 0.0  # the program reads w at every call; its Python side effects stay behind
    with contextlib.redirect_stdout(out):
        assert step(np.full(3, 2.0)).item() == 0.0
    assert log == [3, 4] and out.getvalue() == "tracing 3\ntracing 4\n"


def test_the_how_tos_example_prints_twice_for_five_calls() -> None:
    (cell,) = [c for c in re.findall(r"```\{code-cell\} ipython3\n(.*?)```", HOW_TO, flags=re.S) if "def noisy" in c]
    namespace, printed = _run(cell, np=np, ag=ag)  # (the page's first cell imports them)
    assert printed == "tracing for 3 rows\ntracing for 4 rows\n"
    assert namespace["log"] == [3, 4] and namespace["noisy"].traces == 2


def test_a_draw_from_ones_own_generator_is_the_traces_and_through_ag_effect_is_new() -> None:
    assert "the program keeps the numbers of the trace" in " ".join(HOW_TO.split())
    rng = np.random.default_rng(0)
    kept = ag.compile(lambda x: x + rng.normal(size=2))
    first, second = kept(np.zeros(2)).data, kept(np.zeros(2)).data
    assert np.array_equal(first, second)

    drawn = ag.compile(lambda x: x + ag.effect(rng.normal, size=2))
    draws = [drawn(np.zeros(2)).data for _ in range(3)]
    expected = np.random.default_rng(0)
    expected.normal(size=2)  # the draw of kept's trace
    assert [d.tobytes() for d in draws] == [expected.normal(size=2).tobytes() for _ in range(3)]


def test_a_name_bound_to_a_new_object_after_the_trace_is_not_seen() -> None:
    assert "a name bound to a new object afterwards is not seen: compile again" in " ".join(ENGINE.split())
    holder = {"w": Tensor(1.0, requires_grad=True)}
    step = ag.compile(lambda x: x * holder["w"])
    assert step(np.array(3.0)).item() == 3.0
    holder["w"] = Tensor(5.0, requires_grad=True)  # eager code would use it; the program keeps the first
    assert step(np.array(3.0)).item() == 3.0 and step.traces == 1
    assert ag.compile(lambda x: x * holder["w"])(np.array(3.0)).item() == 15.0  # compiled again: seen
