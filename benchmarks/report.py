"""Timing, peak memory, the environment, and the printed table.

Timing: one warm-up call per side (whose results are compared), then ``repeats``
interleaved calls, framework then NumPy (A B A B ...), so both sides share the
machine's noise; each figure is the median. Peak memory: ``tracemalloc`` (which
NumPy reports its array allocations to) around one training step per side.
"""

from __future__ import annotations

import datetime as _dt
import gc
import math
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .workloads import Case, Report

#: Environment variables this machine sets that slow OpenBLAS down.
SLOW_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
W3_MEMORY_TARGET = 1.3


@dataclass
class Row:
    """One measured case (times in seconds per unit)."""

    key: str
    title: str
    unit: str
    target: float
    framework_s: float | None = None
    numpy_s: float | None = None
    ratio: float | None = None  # median over repeats of framework / NumPy (each pair measured back to back)
    ratio_of_medians: float | None = None
    passed: bool | None = None
    discrepancy: float | None = None
    agrees: bool | None = None
    repeats: int = 0
    framework_all_s: list[float] = field(default_factory=list)
    numpy_all_s: list[float] = field(default_factory=list)
    peak_framework_bytes: int | None = None
    peak_numpy_bytes: int | None = None
    memory_ratio: float | None = None
    extra_s: dict[str, float] = field(default_factory=dict)
    note: str = ""
    skipped: str = ""
    figures: dict[str, float] = field(default_factory=dict)  # a Report's measurements
    lines: list[str] = field(default_factory=list)  # a Report's printed lines


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()  # garbage from the other side is not this side's cost
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(case: Case | Report, repeats: int, memory: bool = True) -> Row:
    """Warm up and compare both sides, time them interleaved, then measure peak memory.

    A :class:`Report` measures itself: its figures and lines go in the row as they are.
    """
    if isinstance(case, Report):
        row = Row(case.key, case.title, "report", math.nan, repeats=repeats)
        row.figures, row.lines, row.passed = case.run(repeats)
        return row
    row = Row(case.key, case.title, case.unit, case.target, repeats=repeats, note=case.note)
    # The warm-up calls start from identical state: their results must agree.
    _, fw_result = _timed(case.framework)
    _, np_result = _timed(case.numpy)
    row.discrepancy = case.compare(fw_result, np_result)
    row.agrees = row.discrepancy <= case.tol
    del fw_result, np_result
    for _ in range(repeats):
        t, _ = _timed(case.framework)
        row.framework_all_s.append(t / case.inner)
        t, _ = _timed(case.numpy)
        row.numpy_all_s.append(t / case.inner)
    row.framework_s = statistics.median(row.framework_all_s)
    row.numpy_s = statistics.median(row.numpy_all_s)
    # Each framework repeat is paired with the NumPy repeat right after it (same noise):
    # the ratio is the median of the pairs' ratios, which a burst of load skews less.
    row.ratio = statistics.median(f / n for f, n in zip(row.framework_all_s, row.numpy_all_s))
    row.ratio_of_medians = row.framework_s / row.numpy_s
    row.passed = row.ratio <= case.target
    for name, fn in case.extra.items():
        fn()
        row.extra_s[name] = statistics.median(_timed(fn)[0] for _ in range(max(repeats, 1))) / case.inner
    if memory and case.memory is not None:
        fw_step, np_step = case.memory
        row.peak_framework_bytes = peak_bytes(fw_step)
        row.peak_numpy_bytes = peak_bytes(np_step)
        row.memory_ratio = row.peak_framework_bytes / max(row.peak_numpy_bytes, 1)
    return row


def peak_bytes(step: Callable[[], Any]) -> int:
    """Peak of the memory allocated during ``step()`` (arrays alive before it do not count)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ============================================================== environment


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process, from threadpoolctl if it is installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")
    return [{k: lib.get(k) for k in keys} for lib in threadpool_info() if lib.get("user_api") == "blas"]


def limit_blas_threads(n: int) -> Any:
    """Limit the BLAS to ``n`` threads for the life of the returned object (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("--blas-threads needs threadpoolctl: pip install -e '.[bench]'") from None
    return threadpool_limits(limits=n, user_api="blas")


def environment() -> dict[str, Any]:
    """What the figures depend on: machine, versions, BLAS and the OpenBLAS variables."""
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "blas": blas_info(),
        "env": {k: os.environ[k] for k in SLOW_BLAS_VARS if k in os.environ},
    }


def environment_lines(env: dict[str, Any]) -> list[str]:
    lines = [
        f"{env['date']}  Python {env['python']}  NumPy {env['numpy']}  {env['platform']}  {env['cpu_count']} CPUs",
    ]
    if env["blas"]:
        for lib in env["blas"]:
            where = "NumPy's" if "numpy" in str(lib["filepath"]) else "also loaded"
            lines.append(
                f"BLAS ({where}): {lib['internal_api']} {lib['version']}, {lib['architecture']}, "
                f"{lib['num_threads']} threads ({lib['threading_layer']})"
            )
    else:
        lines.append("BLAS: install threadpoolctl (pip install -e '.[bench]') to see it; or numpy.show_config()")
    if env.get("blas_threads_limit"):
        lines.append(f"BLAS limited to {env['blas_threads_limit']} thread(s) for this run (--blas-threads)")
    if env["env"]:
        setting = ", ".join(f"{k}={v}" for k, v in env["env"].items())
        lines.append(
            f"WARNING: {setting} is set; it slows OpenBLAS (NumPy's side most of all). For benchmark runs "
            "unset it in that command only: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m benchmarks"
        )
    else:
        lines.append("OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: not set (good: they slow OpenBLAS down)")
    return lines


# ============================================================== formatting


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.2f} MiB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]


def table_lines(rows: list[Row]) -> list[str]:
    """The results as a Markdown table (it prints readably and pastes into the README)."""
    header = ["", "workload", "unit", "framework", "NumPy", "ratio", "target", "", "agree (max diff)"]
    body = []
    for r in rows:
        if r.lines:  # a report: printed below the table
            continue
        if r.skipped:
            body.append([r.key, r.title, r.unit, "-", "-", "-", f"≤ {r.target:g}×", "skipped", r.skipped.split(":")[0]])
            continue
        status = "pass" if r.passed else "MISS"
        agree = f"{'yes' if r.agrees else 'NO'} ({r.discrepancy:.1e})"
        body.append(
            [
                r.key,
                r.title,
                r.unit,
                fmt_time(r.framework_s),
                fmt_time(r.numpy_s),
                f"{r.ratio:.2f}×",
                f"≤ {r.target:g}×",
                status,
                agree,
            ]
        )
    return _table(header, body)


def memory_lines(rows: list[Row]) -> list[str]:
    measured = [r for r in rows if r.peak_framework_bytes is not None]
    if not measured:
        return []
    body = []
    for r in measured:
        target = f"≤ {W3_MEMORY_TARGET:g}×" if r.key == "W3" else ""
        status = ("pass" if r.memory_ratio <= W3_MEMORY_TARGET else "MISS") if target else ""
        body.append(
            [
                r.key,
                fmt_bytes(r.peak_framework_bytes),
                fmt_bytes(r.peak_numpy_bytes),
                f"{r.memory_ratio:.2f}×",
                target,
                status,
            ]
        )
    header = ["peak memory, one step", "framework", "NumPy", "ratio", "target", ""]
    return _table(header, body)


def extra_lines(rows: list[Row]) -> list[str]:
    lines = []
    for r in rows:
        for name, t in r.extra_s.items():
            lines.append(
                f"{r.key}: {name}: {fmt_time(t)} per {r.unit} "
                f"(framework = {r.framework_s / t:.2g}× that; for information, not a target)"
            )
        if r.note:
            lines.append(f"{r.key}: note: {r.note}")
        if r.skipped:
            lines.append(f"{r.key}: skipped: {r.skipped}")
    return lines


def report_lines(rows: list[Row], env: dict[str, Any], repeats: int) -> list[str]:
    lines = [*environment_lines(env), ""]
    lines.append(
        f"Times: median of {repeats} interleaved repeats (framework, NumPy, framework, ...) after one warm-up; "
        "ratio: median of the back-to-back pairs' framework / hand-written NumPy; same process, data, dtype "
        "and initial weights. 'agree': the warm-up results (losses, weights, gradients) of both sides."
    )
    if any(not r.lines for r in rows):
        lines += ["", *table_lines(rows)]
    mem = memory_lines(rows)
    if mem:
        lines += ["", "Peak memory allocated during one training step (tracemalloc):", *mem]
    extra = extra_lines(rows)
    if extra:
        lines += ["", *extra]
    for r in rows:
        if r.lines:
            lines += ["", f"{r.key}: {r.title} (not a ratio to NumPy):", *r.lines]
    return lines


def progress_line(row: Row, seconds: float) -> str:
    """What is printed as each case finishes."""
    if row.lines:
        status = "targets met" if row.passed else "a target missed" if row.passed is False else "done"
        return f"{row.key}: {status} ({seconds:.1f} s)"
    return f"{row.key}: {row.ratio:.2f}× NumPy ({seconds:.1f} s){'' if row.agrees else '  RESULTS DISAGREE'}"


def to_json(rows: list[Row], env: dict[str, Any], repeats: int, quick: bool) -> dict[str, Any]:
    return {"environment": env, "repeats": repeats, "quick": quick, "results": [asdict(r) for r in rows]}
