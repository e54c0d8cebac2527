"""THREADS: the BLAS threads of ``nn.fit``, on an idle machine and with a competing process (a report).

Each round times one ``nn.fit`` call for every state, model and count, in turn:

- states: idle, and busy: one competing process (:func:`busy_core`, a Python loop that keeps one
  core busy) started for the round's busy half and stopped after it;
- counts: ``fit``'s default (one thread, or NumPy's own count for large matrix products: its own
  choice, made from the model and the batch size), and NumPy's own count (one thread per core:
  what ``fit`` used before it chose a count), given the way a search gives its count to a trial;
- models: the digits CNN of ``examples/cnn_digits.py`` (Adam, batches of 64, float32, one epoch
  per call), and W3's MLP (1024-2048-2048-10, float32, gradient descent, two batches of 512 per
  call), whose large matrix products can use a second core.

Rounds interleave everything (after one untimed call of each model), the counts taking turns at
going first, so the machine's own noise (other users' processes) falls on every column alike;
the table gives the median and the range over the rounds. Targets for the default: idle, at most
10 % slower than the faster count; busy, no collapse: at most twice the faster count's time.

``python -m benchmarks --busy`` runs any workload with such a competing process.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .workloads import Report, Sizes, _require, load_digits_data

IDLE_LOSS = 1.10  # the default's time / the faster count's, idle
COLLAPSE = 2.0  # the same, busy: beyond it the default has collapsed


@contextlib.contextmanager
def busy_core() -> Iterator[subprocess.Popen[bytes]]:
    """A competing process keeping one core busy (a Python loop) while the block runs; it is
    stopped when the block ends, however it ends (Ctrl-C included)."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.2)  # its interpreter has started and spins
        yield process
    finally:
        process.kill()
        process.wait()


def threads(s: Sizes) -> list[Report]:
    """nn.fit's BLAS threads: the digits CNN and W3's MLP, idle and busy; 1 thread, NumPy's count, the default."""
    _require(("fit", "Sequential", "Conv2d", "MaxPool2d", "Flatten", "Dense", "ReLU"), ("Adam",))
    return [Report("THREADS", "nn.fit's BLAS threads, idle and with a competing process", lambda r: run(s, r))]


def _models(s: Sizes) -> dict[str, tuple[str, Callable[[], float]]]:
    """Name → (what one call is, a function running one call of ``nn.fit`` and returning seconds per unit)."""
    import nn

    f32 = np.float32
    x, y, _ = load_digits_data(s.digits_samples)
    images = x.reshape(-1, 1, 8, 8).astype(f32)

    def cnn() -> float:
        rng = np.random.default_rng(0)
        model = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, rng=rng, dtype=f32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, rng=rng, dtype=f32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dense(16 * 2 * 2, 10, rng=rng, dtype=f32),
        )  # fmt: skip
        start = time.perf_counter()
        nn.fit(model, images, y, loss="cross_entropy", optimizer="adam", lr=0.01, epochs=1, seed=0, verbose=0)
        return time.perf_counter() - start

    sizes, batch = s.w3_layers, s.w3_batch
    rng = np.random.default_rng(1)
    big_x = rng.standard_normal((2 * batch, sizes[0])).astype(f32)
    big_y = rng.integers(0, sizes[-1], size=2 * batch)

    def mlp() -> float:
        layers: list[Any] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.Dense(n_in, n_out, rng=i, dtype=f32)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
        model = nn.Sequential(*layers)
        start = time.perf_counter()
        nn.fit(model, big_x, big_y, loss="cross_entropy", optimizer="sgd", batch_size=batch, seed=0, verbose=0)
        return time.perf_counter() - start

    mlp_name = f"W3's MLP {'-'.join(map(str, sizes))}, batches of {batch}"
    return {
        "cnn": ("digits CNN (examples/cnn_digits.py), per epoch", cnn),
        "mlp": (f"{mlp_name}, per call of 2 batches", mlp),
    }


def run(s: Sizes, repeats: int) -> tuple[dict[str, float], list[str], bool | None]:
    """Measure; return the figures (JSON), the lines to print and whether every target was met."""
    import autograd_core as ag
    from autograd_core import threads as blas

    own = ag.get_num_threads()  # NumPy's count in this process (one per core unless limited)
    other = own if own != blas.DEFAULT else 2
    default = "default (after)"
    counts: dict[str, int | None] = {default: None, f"{other} threads{', before' if other == own else ''}": other}
    models = _models(s)
    states = ("idle", "busy")
    times: dict[tuple[str, str, str], list[float]] = {(m, st, c): [] for m in models for st in states for c in counts}
    for _, call in models.values():  # warm-up: first calls (imports, allocations) are not timed
        call()
    load_before = os.getloadavg()[0]
    order = list(counts)
    for _ in range(repeats):
        for state in states:
            with busy_core() if state == "busy" else contextlib.nullcontext():
                for m, (_, call) in models.items():
                    for c in order:
                        # A count given here holds through fit, as a search's count holds through its
                        # trials; the default is fit's own choice (without --blas-threads's count).
                        with _own_choice() if counts[c] is None else blas.blas_threads(counts[c]):
                            times[m, state, c].append(call())
        order = order[1:] + order[:1]  # each count takes each place in the order in turn
    load_after = os.getloadavg()[0]

    figures: dict[str, float] = {"load_before": load_before, "load_after": load_after}
    lines = [
        f"THREADS: nn.fit, median (range) of {repeats} interleaved round(s), idle and with one competing process "
        f"busy on one core; {os.cpu_count()} CPUs, load average {load_before:.1f} before and {load_after:.1f} "
        "after (other users' processes count too)"
    ]
    passed = True
    width = max(len(c) for c in counts)
    for m, (title, _) in models.items():
        lines += [f"  {title}:", f"    {'':<{width}}  {'idle':>24}  {'busy':>24}  busy/idle"]
        median = {(st, c): statistics.median(times[m, st, c]) for st in states for c in counts}
        for c, n in counts.items():
            cells = []
            for st in states:
                t = times[m, st, c]
                key = f"{m}_{st}_{'default' if n is None else n}"
                figures[f"{key}_median_s"], figures[f"{key}_min_s"], figures[f"{key}_max_s"] = (
                    median[st, c],
                    min(t),
                    max(t),
                )
                cells.append(f"{_ms(median[st, c])} ({_ms(min(t))}–{_ms(max(t))})")
            lines.append(
                f"    {c:<{width}}  {cells[0]:>24}  {cells[1]:>24}  {median['busy', c] / median['idle', c]:.2f}×"
            )
        idle, busy = (median[st, default] / min(median[st, c] for c in counts) for st in states)
        ok = idle <= IDLE_LOSS and busy <= COLLAPSE
        passed = passed and ok
        lines.append(
            f"    the default against the faster count: idle {idle:.2f}× (target ≤ {IDLE_LOSS:.2f}×), busy "
            f"{busy:.2f}× (target ≤ {COLLAPSE:.0f}×): {'pass' if ok else 'MISS'}"
        )
    return figures, lines, passed


@contextlib.contextmanager
def _own_choice() -> Iterator[None]:
    """No count of the user's (``--blas-threads``) while the block runs: ``fit`` chooses its own."""
    from autograd_core import threads as blas

    user, blas._user = blas._user, None
    try:
        yield
    finally:
        blas._user = user


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"
