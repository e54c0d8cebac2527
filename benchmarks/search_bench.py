"""The hyperparameter search's own costs: a report, not a ratio to NumPy.

- **Overhead per trial**: the time ``optim.search.random_search`` takes for 200 trials of a
  trivial objective, less the time of calling that objective 200 times in a loop, divided by
  200; run one by one (serial), on a process pool of 2 and on a Dask ``LocalCluster`` of 2
  workers (each made and warmed up beforehand: their start-up is reported apart). Targets:
  under 5 ms serial, under 20 ms on Dask.
- **Speed-up on 2 workers**: 24 real trials (an MLP on the digits, trained with Adam) serially,
  then on the pool and on Dask; the speed-up is serial time / parallel time. Target: ≥ 1.7×
  on 2 cores. Every run has one BLAS thread per process (Dask's workers set it themselves;
  the pool's workers get ``OMP_NUM_THREADS=1`` and friends; the serial run is limited with
  threadpoolctl when it is installed), so 2 workers are 2 cores' worth of work.

Both ends of every comparison run the same trials with the same seed, and their results are
checked to agree.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
TARGET_SERIAL_S = 5e-3
TARGET_DASK_S = 20e-3
TARGET_SPEEDUP = 1.7


def trivial(params: dict[str, Any], trial: Any) -> float:
    """The cheapest objective: what is left is the search's own cost."""
    return params["x"]


_DATA: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` digits (all 1797: scikit-learn's); fewer, random data of their shape
    (the quick smoke test: no scikit-learn to import in every worker)."""
    if n not in _DATA:  # once per process
        if n >= 1797:
            from .workloads import load_digits_data

            x, y, _ = load_digits_data(n)
        else:
            rng = np.random.default_rng(0)
            x, y = rng.standard_normal((n, 64)), rng.integers(0, 10, size=n)
        _DATA[n] = (x, y)
    return _DATA[n]


def digits_trial(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """A real trial: an MLP 64-hidden-10 trained with Adam on the digits, accuracy on the last fifth."""
    import nn
    import optim
    from autograd_core import no_grad

    x, y = _digits(params["samples"])
    split = len(x) * 4 // 5
    rng = trial.rng
    model = nn.Sequential(nn.Dense(64, params["hidden"], rng=rng), nn.ReLU(), nn.Dense(params["hidden"], 10, rng=rng))
    opt = optim.Adam(model.parameters(), lr=params["lr"])
    for epoch in range(params["epochs"]):
        order = rng.permutation(split)
        for start in range(0, split, 32):
            idx = order[start : start + 32]
            opt.minimize(lambda idx=idx: nn.softmax_cross_entropy(model(x[idx]), y[idx]))
        with no_grad():
            accuracy = float(np.mean(np.argmax(model(x[split:]).numpy(), axis=1) == y[split:]))
        trial.report(epoch, accuracy=accuracy)
    return {"accuracy": accuracy}


@contextlib.contextmanager
def _one_blas_thread_here() -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def _one_blas_thread_in_children() -> Iterator[None]:
    """Processes started inside this block get one BLAS thread (the variables are restored after)."""
    saved = {k: os.environ.get(k) for k in ONE_THREAD}
    os.environ.update(dict.fromkeys(ONE_THREAD, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def _verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def search(s: Any) -> list[Any]:
    """Hyperparameter search: overhead per trial (serial, pool, Dask) and the speed-up on 2 workers."""
    from .workloads import Report  # here: the workers that import this module for its objectives need none of it

    return [Report("SEARCH", "optim.search overhead and parallel speed-up", lambda repeats: run(s.quick, repeats))]


def run(quick: bool, repeats: int) -> tuple[dict[str, float], list[str], bool | None]:
    """Measure; return the figures (JSON), the lines to print and whether every target was met."""
    from optim import search

    n_trivial = 10 if quick else 200
    n_real = 2 if quick else 24
    samples = 100 if quick else 1797
    real_space = {
        "lr": search.LogUniform(1e-3, 1e-2),
        "hidden": search.IntUniform(32, 64),
        "samples": search.Choice([samples]),
        "epochs": search.Choice([1 if quick else 3]),
    }
    trivial_space = {"x": search.Uniform(0.0, 1.0)}
    figures: dict[str, float] = {}
    lines: list[str] = []
    agree: list[bool] = []

    # ---------------------------------------------------------------- overhead per trial
    params = [search.sample_params(trivial_space, 0, i) for i in range(n_trivial)]

    def loop() -> list[float]:
        return [trivial(p, None) for p in params]

    def searched(executor: Any) -> Callable[[], list[float]]:
        def go() -> list[float]:
            result = search.random_search(trivial, trivial_space, n_trials=n_trivial, executor=executor)
            return [t.value for t in result.trials]

        return go

    def per_trial(fn: Callable[[], list[float]]) -> float:
        fn()  # warm-up, and a check
        times = []
        for _ in range(repeats):
            t_search, values = _timed(fn)
            t_loop, expected = _timed(loop)
            agree.append(values == expected)
            times.append((t_search - t_loop) / n_trivial)
        return statistics.median(times)

    figures["loop_per_call_s"] = statistics.median(_timed(loop)[0] / n_trivial for _ in range(max(repeats, 3)))
    figures["overhead_serial_s"] = per_trial(searched(None))
    _warm(samples)  # the digits loaded (and scikit-learn imported) before the clock starts, as in the workers
    with _one_blas_thread_here():
        real_serial = _real(search, real_space, n_real, None)
    with _one_blas_thread_in_children():
        figures["pool_start_s"], pool = _timed(lambda: _started_pool(2, samples))
        with pool:
            figures["overhead_pool_s"] = per_trial(searched(pool))
            real_pool = _real(search, real_space, n_real, pool)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        lines.append("SEARCH: Dask not installed (pip install -e '.[search]'): its figures are skipped")
    else:
        figures["dask_start_s"], (cluster, client) = _timed(lambda: _started_cluster(LocalCluster, Client, samples))
        try:
            figures["overhead_dask_s"] = per_trial(searched(client))
            real_dask = _real(search, real_space, n_real, client)
        finally:
            client.close()
            cluster.close()

    # ---------------------------------------------------------------- speed-up
    figures["real_serial_s"] = real_serial[0]
    figures["real_pool_s"] = real_pool[0]
    figures["speedup_pool"] = real_serial[0] / real_pool[0]
    agree.append(real_pool[1] == real_serial[1])
    if "overhead_dask_s" in figures:
        figures["real_dask_s"] = real_dask[0]
        figures["speedup_dask"] = real_serial[0] / real_dask[0]
        agree.append(real_dask[1] == real_serial[1])
    figures["results_agree"] = float(all(agree))

    ok_serial = figures["overhead_serial_s"] < TARGET_SERIAL_S
    ok_dask = figures.get("overhead_dask_s", 0.0) < TARGET_DASK_S
    ok_speedup = max(figures["speedup_pool"], figures.get("speedup_dask", 0.0)) >= TARGET_SPEEDUP
    lines += [
        f"SEARCH: overhead per trial ({n_trivial} trials of a trivial objective, less a loop calling it: "
        f"{_fmt(figures['loop_per_call_s'])} per call), median of {repeats}:",
        f"  serial            {_fmt(figures['overhead_serial_s']):>10}   target < 5 ms: {_verdict(ok_serial)}",
        f"  process pool of 2 {_fmt(figures['overhead_pool_s']):>10}   (its start: {figures['pool_start_s']:.2f} s)",
    ]
    if "overhead_dask_s" in figures:
        lines.append(
            f"  Dask, 2 workers   {_fmt(figures['overhead_dask_s']):>10}   target < 20 ms: {_verdict(ok_dask)}   "
            f"(LocalCluster start: {figures['dask_start_s']:.2f} s)"
        )
    dask = f", Dask {figures['real_dask_s']:.2f} s = {figures['speedup_dask']:.2f}×" if "real_dask_s" in figures else ""
    lines.append(
        f"SEARCH: speed-up of {n_real} digits trials on 2 workers (one BLAS thread per process; target ≥ 1.7×): "
        f"serial {real_serial[0]:.2f} s, pool {real_pool[0]:.2f} s = {figures['speedup_pool']:.2f}×{dask}: "
        f"{_verdict(ok_speedup)}"
    )
    lines.append(
        f"SEARCH: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end (other processes slow "
        "the parallel runs)" + ("" if all(agree) else "; RESULTS DISAGREE between executors")
    )
    return figures, lines, ok_serial and ok_dask and ok_speedup and all(agree)


def _started_pool(workers: int, samples: int) -> cf.ProcessPoolExecutor:
    pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    futures = [pool.submit(_warm, samples, 0.2) for _ in range(workers)]  # the sleep: one each
    cf.wait(futures)
    return pool


def _started_cluster(local_cluster: Any, client_class: Any, samples: int) -> tuple[Any, Any]:
    cluster = local_cluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = client_class(cluster)
    client.run(_warm, samples)  # on every worker
    return cluster, client


def _warm(samples: int, sleep: float = 0.0) -> int:
    """Import what a trial needs and load its data, before the clock starts (in each process)."""
    import nn  # noqa: F401
    import optim.search  # noqa: F401

    _digits(samples)
    time.sleep(sleep)
    return os.getpid()


def _real(search: Any, space: dict[str, Any], n: int, executor: Any) -> tuple[float, list[Any]]:
    def go() -> list[Any]:
        result = search.random_search(digits_trial, space, n_trials=n, metric="accuracy", executor=executor)
        return [(t.params, t.value) for t in result.trials]

    return _timed(go)
