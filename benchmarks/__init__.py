"""Benchmarks: autograd_core against the fastest hand-written programs, in the same process.

Run ``python -m benchmarks`` (``--help`` for options). Every figure is a ratio to the
fastest program a person writes by hand for the same result (``numpy_reference.py``:
NumPy with the backward pass written out, plain Python floats for the walkthrough, the
closed form for the Hessian-vector product), on the same data, dtype and initial
weights; the workloads are listed in ``suite.py`` (what they share and W1–W6 in
``workloads.py``, the others in modules of their own), timing and the table in ``report.py``.
``--peers`` runs PyTorch and JAX on the same workloads, each in its own process
(``peers/``).
"""
