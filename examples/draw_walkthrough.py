"""Drawing the walkthrough's graph
===============================

Draw the deep-learning course's walkthrough graph in both notations and write it as SVG.

    cost = x[0][0]·w² + x[1][0]·w + x[2][0]

``labels="values"`` draws every value as a node (with its gradient, after a backward);
``labels="ops"`` draws every operation as a node with the values on the edges.
Rendering needs Graphviz's ``dot`` (``apt-get install graphviz``).

Run:  python examples/draw_walkthrough.py [output directory, default docs/]
"""

import sys
from pathlib import Path

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs"
out_dir.mkdir(parents=True, exist_ok=True)

w = Tensor(0.0, requires_grad=True, name="w")
x = Tensor(np.array([[1.0], [-10.0], [25.0]]), name="x")  # the data that controls the cost
cost = x[0][0] * w**2 + x[1][0] * w + x[2][0]
cost.backward(retain_graph=True)  # keep the graph's arrays so every value's gradient can be drawn
print("cost =", cost.item(), " dcost/dw =", w.grad)  # 25.0, -10.0

pictures = {
    "walkthrough_values.svg": ag.draw_graph(cost, labels="values", name="cost", show_grad=True),
    "walkthrough_ops.svg": ag.draw_graph(cost, labels="ops", name="cost"),
}
for filename, graph in pictures.items():
    path = out_dir / filename
    path.write_text(graph.pipe(format="svg", encoding="utf-8"), encoding="utf-8")
    print("wrote", path)
