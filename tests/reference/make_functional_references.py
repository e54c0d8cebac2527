"""Write ``functional_references.npz``: every case of ``functional_cases.py`` through ``torch.func``
(``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian``, and ``jvp`` of ``grad`` for the HVP), in float64.

Run it from the repository's root after changing a case (it needs PyTorch:
``.venv/bin/pip install torch==2.13.0``)::

    .venv/bin/python tests/reference/make_functional_references.py

The tests compare autograd_core with the stored results always, and with ``torch.func`` itself
when PyTorch is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from functional_cases import CASES, TorchRunner, results  # noqa: E402

PATH = HERE / "functional_references.npz"


def main() -> None:
    import torch

    stored: dict[str, np.ndarray] = {"torch_version": np.array(torch.__version__)}
    for case in CASES:
        for i, x in enumerate(case.inputs()):
            stored[f"{case.name}:input/{i}"] = x
        for key, value in results(case, TorchRunner).items():
            stored[f"{case.name}:{key}"] = value
    with open(PATH, "wb") as f:
        np.savez_compressed(f, **stored)
    print(f"wrote {PATH.name}: {len(CASES)} cases, {len(stored)} arrays (PyTorch {torch.__version__})")


if __name__ == "__main__":
    main()
