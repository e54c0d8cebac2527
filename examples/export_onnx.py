"""Deploying the digits model with ONNX
====================================

Deploy the digits model: train it briefly (as ``digits.py`` builds it), export it to ONNX,
and run the file in onnxruntime next to our own predictions.

    .venv/bin/pip install -e ".[examples,onnx]" && .venv/bin/python examples/export_onnx.py [model.onnx]
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort

import nn
from autograd_core import no_grad

try:  # the model of digits.py, trained the same way; its folder is on sys.path when run as a script
    from digits import train
except ImportError:  # loaded from its path by a test
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from digits import train


def main(path: str | None = None) -> float:
    """Train, export to ``path`` (a temporary file by default), compare; returns the largest difference."""
    model, scores, (_, x_test, _, y_test) = train(epochs=3)  # brief: a deployment demo, not a benchmark
    print(f"trained 3 epochs: test accuracy {scores['test']:.4f}")
    x = x_test  # float64, as the model: onnxruntime then computes what we compute, to the last digits

    with tempfile.TemporaryDirectory() as tmp:
        path = path or os.path.join(tmp, "digits.onnx")
        # input (batch, 64), symbolic batch; eval mode. dtype is the exported model's: the default, float32,
        # halves the file and is what most runtimes expect, but is only as close to ours as float32 rounding
        nn.export_onnx(model, path, dtype=np.float64)
        print(f"exported to {path} ({os.path.getsize(path):,} bytes)")
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (theirs,) = session.run(None, {"input": x})  # the whole test set in one batch

    with no_grad():
        ours = model(x).numpy()
    print("\n  example  label  ours  onnxruntime")
    for i in range(10):
        print(f"  {i:7d}  {y_test[i]:5d}  {ours[i].argmax():4d}  {theirs[i].argmax():11d}")
    same = np.mean(ours.argmax(axis=1) == theirs.argmax(axis=1))
    diff = float(np.max(np.abs(ours - theirs)))
    print(f"\n{len(x)} test examples: {same:.1%} identical predictions, largest logit difference {diff:.2e}")
    return diff


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
