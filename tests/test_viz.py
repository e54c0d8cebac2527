"""ag.draw_graph: the DOT source of both notations, leaf marks, gradients, cuts, rendering."""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import graphviz
import numpy as np
import pytest

import autograd_core as ag
import autograd_core.viz
from autograd_core import Tensor
from autograd_core.viz import DotNotFoundError

ROOT = Path(__file__).resolve().parent.parent

_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')
_NODE = re.compile(r"^\t(\w+) \[(.*)\]$")
_EDGE = re.compile(r"^\t(\w+) -> (\w+)(?: \[(.*)\])?$")


def _attrs(text: str | None) -> dict[str, str]:
    out = {}
    for key, value in _ATTR.findall(text or ""):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        out[key] = value
    return out


class Dot:
    """The nodes and edges of a DOT source, by label rather than by generated id."""

    def __init__(self, graph: graphviz.Digraph) -> None:
        self.source = graph.source
        self.nodes: dict[str, dict[str, str]] = {}
        self.edges: list[tuple[str, str, str | None]] = []
        raw_edges = []
        for line in self.source.splitlines():
            if m := _EDGE.match(line):
                raw_edges.append((m.group(1), m.group(2), _attrs(m.group(3))))
            elif (m := _NODE.match(line)) and m.group(1) not in ("node", "edge", "graph"):
                self.nodes[m.group(1)] = _attrs(m.group(2))
        for a, b, attrs in raw_edges:
            self.edges.append((self.label(a), self.label(b), attrs.get("label")))

    def label(self, ident: str) -> str:
        return self.nodes[ident]["label"]

    def by_label(self) -> dict[str, dict[str, str]]:
        return {attrs["label"]: attrs for attrs in self.nodes.values()}


def walkthrough_cost_at(w: Tensor) -> Tensor:
    """The lecture's cost, with its coefficients as named data ``x``."""
    x = Tensor(np.array([[1.0], [-10.0], [25.0]]), name="x")
    return x[0][0] * w**2 + x[1][0] * w + x[2][0]


def walkthrough() -> Tensor:
    return walkthrough_cost_at(Tensor(0.0, requires_grad=True, name="w"))


# ============================================================== the walkthrough, both notations


def test_values_notation_of_the_walkthrough() -> None:
    cost = walkthrough()
    dot = Dot(ag.draw_graph(cost, labels="values", name="cost"))
    nodes = dot.by_label()
    assert set(nodes) == {
        "w\\nrequires grad",
        "w²",
        "x[0][0]",
        "x[0][0]·w²",
        "x[1][0]",
        "x[1][0]·w",
        "x[0][0]·w² + x[1][0]·w",
        "x[2][0]",
        "cost",
    }
    assert sorted(dot.edges) == sorted(
        [
            ("w\\nrequires grad", "w²", "power"),
            ("x[0][0]", "x[0][0]·w²", "multiply"),
            ("w²", "x[0][0]·w²", "multiply"),
            ("x[1][0]", "x[1][0]·w", "multiply"),
            ("w\\nrequires grad", "x[1][0]·w", "multiply"),
            ("x[0][0]·w²", "x[0][0]·w² + x[1][0]·w", "add"),
            ("x[1][0]·w", "x[0][0]·w² + x[1][0]·w", "add"),
            ("x[0][0]·w² + x[1][0]·w", "cost", "add"),
            ("x[2][0]", "cost", "add"),
        ]
    )
    # the leaf that requires grad is marked by colour and label; data is a plain box
    assert nodes["w\\nrequires grad"] == {
        "label": "w\\nrequires grad",
        "shape": "box",
        "style": "filled",
        "fillcolor": "#cfe2ff",
    }
    assert nodes["x[0][0]"] == {"label": "x[0][0]", "shape": "box"}
    assert "style" not in nodes["w²"] and "shape" not in nodes["w²"]  # computed values: plain ellipses
    assert nodes["cost"]["penwidth"] == "2"  # the output stands out
    assert "… " not in dot.source


def test_ops_notation_of_the_walkthrough() -> None:
    cost = walkthrough()
    cost.name = "cost"  # the tensor's own name is used when no name= is given
    dot = Dot(ag.draw_graph(cost, labels="ops"))
    labels = sorted(attrs["label"] for attrs in dot.nodes.values())
    assert labels == sorted(
        ["w\\nrequires grad", "x[0][0]", "x[1][0]", "x[2][0]", "power(·, 2)", "multiply", "multiply", "add", "add"]
        + ["cost"]
    )
    assert dot.nodes["out"] == {"label": "cost", "shape": "plaintext"}
    edges = sorted(dot.edges, key=str)
    assert edges == sorted(
        [
            ("w\\nrequires grad", "power(·, 2)", None),
            ("w\\nrequires grad", "multiply", None),
            ("power(·, 2)", "multiply", "w²"),
            ("x[0][0]", "multiply", None),
            ("x[1][0]", "multiply", None),
            ("multiply", "add", "x[0][0]·w²"),
            ("multiply", "add", "x[1][0]·w"),
            ("add", "add", "x[0][0]·w² + x[1][0]·w"),
            ("x[2][0]", "add", None),
            ("add", "cost", None),
        ],
        key=str,
    )
    marked = [a for a in dot.nodes.values() if a.get("style") == "filled"]
    assert [a["label"] for a in marked] == ["w\\nrequires grad"]


def test_constants_are_drawn_by_value_and_as_c_after_release() -> None:
    w = Tensor(2.0, requires_grad=True, name="w")
    cost = w**2 - 10 * w + 25
    before = Dot(ag.draw_graph(cost)).by_label()
    assert {"w²", "10·w", "w² − 10·w", "w² − 10·w + 25"} <= set(before)
    ops = Dot(ag.draw_graph(cost, labels="ops")).by_label()
    assert {"power(·, 2)", "multiply(10, ·)", "subtract", "add(·, 25)"} <= set(ops)
    cost.backward()  # releases the saved arrays, constants included; the structure stays
    after = Dot(ag.draw_graph(cost)).by_label()
    assert {"w^c", "c·w", "w^c − c·w", "w^c − c·w + c"} <= set(after)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda w, v: (w + 1) * 2, "(w + 1)·2"),
        (lambda w, v: w - (v - 1), "w − (v − 1)"),
        (lambda w, v: w - v * 3, "w − v·3"),
        (lambda w, v: -(w + v), "−(w + v)"),
        (lambda w, v: -(w**2), "−w²"),
        (lambda w, v: (w + v) ** 2, "(w + v)²"),
        (lambda w, v: w**-1, "w⁻¹"),
        (lambda w, v: w**0.5, "w^0.5"),
        (lambda w, v: w**v, "w^v"),
        (lambda w, v: w / (v * 2), "w / (v·2)"),
        (lambda w, v: (w * v).exp(), "exp(w·v)"),
        (lambda w, v: ag.maximum(w, v).tanh(), "tanh(maximum(w, v))"),
        (lambda w, v: w.square() + (-v), "w² + −v"),
        (lambda w, v: w * -2.5, "w·-2.5"),  # numbers keep their ASCII minus
    ],
)
def test_value_labels_follow_precedence(make, expected) -> None:
    w = Tensor(1.5, requires_grad=True, name="w")
    v = Tensor(0.5, requires_grad=True, name="v")
    assert make(w, v)._node is not None
    dot = ag.draw_graph(make(w, v))
    assert Dot(dot).label("v0") == expected


def test_arrays_show_shape_dtype_index_and_matmul() -> None:
    W = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True, name="W")
    x = Tensor(np.ones((4, 3), dtype=np.float32), name="x")
    y = (x @ W).T[0]
    nodes = Dot(ag.draw_graph(y)).by_label()
    assert "W\\n(3, 2)\\nfloat32\\nrequires grad" in nodes
    assert "x\\n(4, 3)\\nfloat32" in nodes  # named data: shape and dtype, no mark
    assert "x @ W\\n(4, 2)\\nfloat32" in nodes
    assert "(x @ W)ᵀ\\n(2, 4)\\nfloat32" in nodes
    assert "(x @ W)ᵀ[0]\\n(4,)\\nfloat32" in nodes
    unnamed = Tensor(np.zeros((2, 2)), requires_grad=True)
    assert Dot(ag.draw_graph(unnamed.sum())).by_label().keys() == {"sum(tensor)", "tensor\\n(2, 2)\\nrequires grad"}


def test_a_value_used_twice_is_one_node_with_two_edges() -> None:
    w = Tensor(3.0, requires_grad=True, name="w")
    h = w.exp()
    y = h * h + h
    for labels in ("values", "ops"):
        dot = Dot(ag.draw_graph(y, labels=labels))
        sources = [a for a, _, _ in dot.edges]
        leaf = "w\\nrequires grad"
        assert sources.count(leaf) == 1
        exp_node = "exp(w)" if labels == "values" else "exp"
        assert sources.count(exp_node) == 3  # twice into the product, once into the sum
        assert list(dot.by_label()).count(exp_node) == 1
    square = Dot(ag.draw_graph(w * w))
    assert square.edges == [("w\\nrequires grad", "w·w", "multiply")] * 2


def test_user_ops_names_and_intermediate_names() -> None:
    class Softplus(ag.Function):
        def forward(self, x):
            return np.logaddexp(0, x)

        def backward(self, g, out, x):
            return g * (1 - np.exp(-out))

    w = Tensor([0.0, 1.0], requires_grad=True, name="w")
    z = Softplus.apply(w)
    loss = (z * 3).sum()
    assert "sum(softplus(w)·3)" in Dot(ag.draw_graph(loss)).by_label()
    nodes = Dot(ag.draw_graph(loss, name="J", names={"z": z})).by_label()
    assert {"J", "z\\n(2,)", "z·3\\n(2,)"} <= set(nodes)
    assert "softplus" in Dot(ag.draw_graph(loss, labels="ops")).by_label()


def test_long_labels_are_truncated_and_text_is_escaped() -> None:
    w = Tensor(1.0, requires_grad=True, name="w")
    y = w
    for _ in range(6):
        y = y.sin()
    label = Dot(ag.draw_graph(y, label_width=12)).label("v0")
    assert label == "sin(sin(sin…" and len(label) == 12
    odd = Tensor(1.0, requires_grad=True, name='<b>a"\\n')
    source = ag.draw_graph(odd * 2).source
    assert 'label="<b>a\\"\\\\n\\nrequires grad"' in source  # not HTML, quote escaped, backslash literal


def test_a_leaf_alone_and_argument_errors() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    assert Dot(ag.draw_graph(w)).by_label() == {
        "w\\n(2,)\\nrequires grad": {
            "label": "w\\n(2,)\\nrequires grad",
            "shape": "box",
            "style": "filled",
            "fillcolor": "#cfe2ff",
            "penwidth": "2",
        }
    }
    assert Dot(ag.draw_graph(Tensor(2.5), labels="ops")).by_label().keys() == {"2.5"}
    with pytest.raises(ValueError, match="labels must be 'values' or 'ops'"):
        ag.draw_graph(w, labels="nodes")
    with pytest.raises(TypeError, match="expected a Tensor"):
        ag.draw_graph(np.ones(2))
    with pytest.raises(ValueError, match="max_nodes"):
        ag.draw_graph(w, max_nodes=0)


# ============================================================== gradients


def test_show_grad_while_the_graph_is_alive() -> None:
    w = Tensor(2.0, requires_grad=True, name="w")
    cost = walkthrough_cost_at(w)
    nodes = Dot(ag.draw_graph(cost, name="cost", show_grad=True)).by_label()
    # dcost/dw = 2w - 10 = -6 at w = 2; every sum passes 1 down; d cost / d(w²) = x[0][0] = 1
    assert "w\\nrequires grad\\ngrad -6" in nodes
    assert "x[1][0]·w\\ngrad 1" in nodes
    assert "cost\\ngrad 1" in nodes
    assert "x[0][0]" in nodes  # data has no gradient
    assert w.grad is None  # computed afresh: no .grad touched
    ops = Dot(ag.draw_graph(cost, labels="ops", name="cost", show_grad=True))
    assert ("power(·, 2)", "multiply", "w²\\ngrad 1") in ops.edges
    assert ops.nodes["out"]["label"] == "cost\\ngrad 1"


def test_show_grad_after_a_plain_backward_uses_what_was_stored() -> None:
    W = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="W")
    h = (W * 2).tanh()
    h.retain_grad()
    loss = h.sum()
    loss.backward()
    nodes = Dot(ag.draw_graph(loss, show_grad=True)).by_label()
    gmin, gmax = W.grad.min(), W.grad.max()
    assert f"W\\n(2, 3)\\nrequires grad\\ngrad (2, 3) in [{gmin:.3g}, {gmax:.3g}]" in nodes
    assert "tanh(W·c)\\n(2, 3)\\ngrad (2, 3) in [1, 1]" in nodes  # the retained tensor's gradient
    assert "W·c" in nodes  # released, not retained: no constant, gradient or shape left to show
    assert "sum(tanh(W·c))\\ngrad 1" in nodes


# ============================================================== large graphs


def test_a_100000_node_chain_draws_with_max_nodes() -> None:
    w = Tensor(0.5, requires_grad=True, name="w")
    y = w
    for _ in range(100_000):
        y = y * 1.0
    dot = Dot(ag.draw_graph(y, max_nodes=20))
    assert len(dot.nodes) == 21  # 20 values and the "more" node
    assert dot.nodes["more"]["label"] == "… 99981 more"  # 100,000 products and w, minus the 20 drawn
    assert dot.nodes["more"]["style"] == "dashed"
    assert sum(1 for a, _, _ in dot.edges if a.startswith("…")) == 1
    assert len(dot.label("v0")) <= 40


def test_max_depth_cuts_by_distance() -> None:
    w = Tensor(1.0, requires_grad=True, name="w")
    y = ((w.exp() + 1).log() * 2).sum()
    dot = Dot(ag.draw_graph(y, max_depth=1))
    assert len(dot.nodes) == 3
    assert dot.nodes["more"]["label"] == "… 4 more"
    assert ("… 4 more", "log(exp(w) + 1)·2", None) in dot.edges


# ============================================================== rendering


def _need_dot() -> None:
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's `dot` is missing in CI: .ci/run should have installed it")
        pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz)")


def test_rendering_to_svg(tmp_path: Path) -> None:
    _need_dot()
    cost = walkthrough()
    for labels in ("values", "ops"):
        graph = ag.draw_graph(cost, labels=labels, name="cost")
        svg = graph.pipe(format="svg", encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        assert "x[0][0]·w²" in svg and "cost" in svg
        path = graph.render(outfile=tmp_path / f"{labels}.svg", cleanup=True)
        assert Path(path).read_text(encoding="utf-8").count("<svg") == 1
    assert "image/svg+xml" in ag.draw_graph(cost)._repr_mimebundle_()  # what Jupyter displays


def test_the_example_renders_both_notations(tmp_path: Path) -> None:
    _need_dot()
    subprocess.run([sys.executable, str(ROOT / "examples" / "draw_walkthrough.py"), str(tmp_path)], check=True)
    values = (tmp_path / "walkthrough_values.svg").read_text(encoding="utf-8")
    ops = (tmp_path / "walkthrough_ops.svg").read_text(encoding="utf-8")
    assert "x[0][0]·w²" in values and "grad &#45;10" in values  # dot writes "-" as &#45;
    assert "power(·, 2)" in ops and "x[0][0]·w²" in ops


def test_the_committed_pictures_exist() -> None:
    for name in ("walkthrough_values.svg", "walkthrough_ops.svg"):
        svg = (ROOT / "docs" / name).read_text(encoding="utf-8")
        assert "<svg" in svg and "x[0][0]" in svg
        assert f"docs/{name}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_missing_dot_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on this PATH
    cost = walkthrough()
    graph = ag.draw_graph(cost)
    assert "x[0][0]·w²" in graph.source  # building the graph needs no binary
    with pytest.raises(DotNotFoundError, match="apt-get install graphviz") as err:
        graph.pipe(format="svg")
    assert isinstance(err.value, graphviz.ExecutableNotFound)
    with pytest.raises(DotNotFoundError, match="brew install graphviz"):
        graph.render(outfile=tmp_path / "g.svg")
    with pytest.raises(DotNotFoundError):
        graph._repr_mimebundle_()


def test_docstring_examples() -> None:
    result = doctest.testmod(autograd_core.viz)
    assert result.attempted > 0 and result.failed == 0
