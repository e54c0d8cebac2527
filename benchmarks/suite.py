"""The workloads by name, in the order the report shows them.

``workloads.py`` holds what every workload shares (cases, sizes, targets, the data) and W1–W6;
the others live in modules of their own, which import from it: W7 in ``conv.py``, W9 in ``rnn.py``, JAC in
``jacobian.py``, FIT in ``fit_loop.py``, SEARCH in ``search_bench.py``, THREADS in ``threads.py``, the compiled
rows (W1c–W7c, W9c) in ``compiled.py``. This module only names them all.
"""

from __future__ import annotations

from collections.abc import Callable

from . import compiled, conv, fit_loop, jacobian, rnn, search_bench, threads
from .workloads import Case, Report, Sizes, w1, w2, w3, w4, w5, w6

WORKLOADS: dict[str, Callable[[Sizes], list[Case] | list[Report]]] = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W4": w4,
    "W5": w5,
    "W6": w6,
    "W7": conv.w7,
    "W9": rnn.w9,
    "JAC": jacobian.jac,
    "W1c": compiled.w1c,  # ag.compile around the step (compiled.py)
    "W2c": compiled.w2c,
    "W3c": compiled.w3c,
    "W4c": compiled.w4c,
    "W5c": compiled.w5c,
    "W6c": compiled.w6c,
    "W7c": compiled.w7c,
    "W9c": rnn.w9c,
    "FIT": fit_loop.cases,
    "SEARCH": search_bench.search,  # a report (search_bench.py), not a ratio
    "THREADS": threads.threads,  # a report: nn.fit's BLAS threads, idle and busy
}
