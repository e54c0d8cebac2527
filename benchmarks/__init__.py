"""Benchmarks of issue 6: autograd_core against hand-written NumPy, in the same process.

Run ``python -m benchmarks`` (``--help`` for options). Every figure is a ratio to the
same computation written by hand in NumPy (``numpy_reference.py``), on the same data,
dtype and initial weights; the workloads are in ``workloads.py``, timing and the
table in ``report.py``.
"""
