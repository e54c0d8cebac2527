"""Timing, peak memory, the environment, and the printed table.

Timing: one warm-up call per side (whose results are compared), then ``repeats``
interleaved rounds, framework then floor (A B A B ...), so both sides share the
machine's noise; each figure is the median. With peers (``--peers``), each round is
framework, each peer (in its own process), floor, and every peer's warm-up results are
compared with the framework's. Peak memory: ``tracemalloc`` (which NumPy reports its
array allocations to) around one unit per side, framework and NumPy only.
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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .peers import PeerFailed, PeerResult, PeerUnsupported
from .workloads import Case, Report

if TYPE_CHECKING:
    from .peers import Peer

#: Environment variables this machine sets that slow OpenBLAS down.
SLOW_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass
class Row:
    """One measured case (times in seconds per unit)."""

    key: str
    title: str
    unit: str
    target: float  # NaN: no target
    floor: str = "NumPy"  # what the NumPy column holds: the fastest hand-written program (workloads.Case)
    framework_s: float | None = None
    numpy_s: float | None = None  # the floor's time
    ratio: float | None = None  # median over repeats of framework / floor (each pair measured back to back)
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
    memory_target: float = math.nan
    peers: dict[str, PeerResult] = field(default_factory=dict)  # by peer name ("torch", "jax")
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


def measure(
    case: Case | Report, repeats: int, memory: bool = True, peers: Sequence[Peer] = (), workdir: Path | None = None
) -> Row:
    """Warm up and compare every side, time them interleaved, then measure peak memory.

    ``peers`` are running :class:`peers.Peer` processes (``--peers``); ``workdir`` is where
    the case's initial state is handed to them. A :class:`Report` measures itself: its
    figures and lines go in the row as they are.
    """
    if isinstance(case, Report):
        row = Row(case.key, case.title, "report", math.nan, repeats=repeats)
        row.figures, row.lines, row.passed = case.run(repeats)
        return row
    row = Row(
        case.key,
        case.title,
        case.unit,
        case.target,
        floor=case.floor,
        repeats=repeats,
        note=case.note,
        memory_target=case.memory_target,
    )
    # The warm-up calls start from identical state: their results must agree.
    _, fw_result = _timed(case.framework)
    _, np_result = _timed(case.numpy)
    row.discrepancy = case.compare(fw_result, np_result)
    row.agrees = row.discrepancy <= case.tol
    running = _warm_up_peers(case, peers, fw_result, row, workdir)
    del fw_result, np_result
    for _ in range(repeats):
        t, _ = _timed(case.framework)
        row.framework_all_s.append(t / case.inner)
        for peer, result in list(running):
            try:
                result.all_s.append(peer.time(case.key) / case.inner)
            except PeerFailed as err:
                result.skipped = str(err)
                running.remove((peer, result))
        t, _ = _timed(case.numpy)
        row.numpy_all_s.append(t / case.inner)
    row.framework_s = statistics.median(row.framework_all_s)
    row.numpy_s = statistics.median(row.numpy_all_s)
    # Each framework repeat is paired with the floor's repeat of the same round (same noise):
    # the ratio is the median of the pairs' ratios, which a burst of load skews less.
    row.ratio = statistics.median(f / n for f, n in zip(row.framework_all_s, row.numpy_all_s))
    row.ratio_of_medians = row.framework_s / row.numpy_s
    row.passed = None if math.isnan(case.target) else row.ratio <= case.target
    for peer, result in running:
        result.seconds = statistics.median(result.all_s)
        result.ratio = statistics.median(p / n for p, n in zip(result.all_s, row.numpy_all_s))
        try:
            peer.drop(case.key)
        except PeerFailed:
            pass  # the next case finds the peer gone and says why
    for name, fn in case.extra.items():
        fn()
        per = 1 if name.startswith("trace") else case.inner  # (a trace is timed once, whatever the unit)
        row.extra_s[name] = statistics.median(_timed(fn)[0] for _ in range(max(repeats, 1))) / per
    if memory and case.memory is not None:
        fw_step, np_step = case.memory
        row.peak_framework_bytes = peak_bytes(fw_step)
        row.peak_numpy_bytes = peak_bytes(np_step)
        row.memory_ratio = row.peak_framework_bytes / max(row.peak_numpy_bytes, 1)
    return row


def _warm_up_peers(
    case: Case, peers: Sequence[Peer], fw_result: dict[str, Any], row: Row, workdir: Path | None
) -> list[tuple[Peer, PeerResult]]:
    """Hand each running peer the case's initial state, run its warm-up and compare its results
    with the framework's. Returns the peers that are ready to be timed."""
    running: list[tuple[Peer, PeerResult]] = []
    arrays_path: Path | None = None
    for peer in peers:
        result = row.peers[peer.name] = PeerResult(peer.label)
        if case.peer is None:
            result.skipped = "no version of this workload"
            continue
        if peer.skipped:
            result.skipped = peer.skipped
            continue
        if arrays_path is None:
            if workdir is None:
                raise ValueError("measure: peers need a workdir to hand them the initial state")
            arrays_path = workdir / f"{case.key}-in.npz"
            np.savez(arrays_path, **case.peer.arrays)
        try:
            result.note = peer.build(case.key, case.peer.kind, case.peer.params, arrays_path)
            peer_result, result.warmup_s = peer.warmup(case.key)
        except (PeerFailed, PeerUnsupported) as err:
            result.skipped = str(err)
            continue
        try:
            result.discrepancy = case.compare(peer_result, fw_result)
        except ValueError as err:  # different keys or shapes: a bug in the peer's version
            result.discrepancy, result.note = math.inf, f"{result.note}; {err}"
        result.agrees = result.discrepancy <= case.tol
        running.append((peer, result))
    return running


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


def limit_blas_threads(n: int, required: bool = True) -> Any:
    """Limit the BLAS to ``n`` threads for the life of the returned object (threadpoolctl).

    Without threadpoolctl: exit with the command to install it, or return None when not ``required``.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if not required:
            return None
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
        if env.get("blas_threads_pinned", True):
            lines.append(f"NumPy's BLAS limited to {env['blas_threads_limit']} thread(s) for this run (--blas-threads)")
        else:
            lines.append(
                f"NumPy's BLAS NOT limited to {env['blas_threads_limit']} thread(s): threadpoolctl is missing "
                "(pip install -e '.[bench]')"
            )
    if env.get("busy"):
        lines.append("A competing process kept one core busy during the whole run (--busy)")
    if "cpus" in env:
        lines.append(f"Every process (this one and each peer's) runs on CPU(s) {', '.join(map(str, env['cpus']))}")
    for peer in env.get("peers", []):
        if peer["skipped"]:
            lines.append(f"{peer['label']}: skipped: {peer['skipped']}")
        else:
            lines.append(f"{peer['label']} {peer['version']} in its own process: {peer['threads']}")
            if peer.get("failed"):
                lines.append(f"{peer['label']}: stopped during the run: {peer['failed']}")
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


def _target(t: float) -> str:
    return "-" if math.isnan(t) else f"≤ {t:g}×"


def _peer_cell(result: PeerResult | None) -> str:
    if result is None or result.ratio is None:
        return "-" if result is None or result.skipped == "no version of this workload" else "skipped"
    return f"{result.ratio:.2f}×" + ("" if result.agrees else " DISAGREE")


def table_lines(rows: list[Row], peers: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The results as a Markdown table (it prints readably and pastes into the README).

    ``peers``: ``(name, column title)`` of each peer, whose ratio to the same floor gets a column.
    """
    header = ["", "workload", "unit", "framework", "floor", "floor time", "ratio", "target", "", "agree (max diff)"]
    header += [f"{title} ratio" for _, title in peers]
    body = []
    for r in rows:
        if r.lines:  # a report: printed below the table
            continue
        if r.skipped:
            cells = [r.key, r.title, r.unit, "-", "-", "-", "-", _target(r.target), "skipped", r.skipped.split(":")[0]]
            body.append(cells + ["-" for _ in peers])
            continue
        status = "" if r.passed is None else "pass" if r.passed else "MISS"
        agree = f"{'yes' if r.agrees else 'NO'} ({r.discrepancy:.1e})"
        cells = [
            r.key,
            r.title,
            r.unit,
            fmt_time(r.framework_s),
            r.floor,
            fmt_time(r.numpy_s),
            f"{r.ratio:.2f}×",
            _target(r.target),
            status,
            agree,
        ]
        body.append(cells + [_peer_cell(r.peers.get(name)) for name, _ in peers])
    return _table(header, body)


def peer_lines(rows: list[Row], env: dict[str, Any]) -> list[str]:
    """The peers' own figures: time per unit, the first (compiling) call, agreement with the framework,
    and how each workload is written in each framework."""
    peers = [p for p in env.get("peers", []) if not p["skipped"]]
    measured = [r for r in rows if any(r.peers.get(p["name"]) and r.peers[p["name"]].all_s for p in peers)]
    if not measured:
        return []
    header = [""]
    for p in peers:
        header += [p["label"], "first call", "agree with framework"]
    body = []
    for r in measured:
        cells = [r.key]
        for p in peers:
            result = r.peers.get(p["name"])
            if result is None or result.seconds is None:
                cells += ["-", "-", "-" if result is None or not result.skipped else "failed"]
            else:
                agree = f"{'yes' if result.agrees else 'NO'} ({result.discrepancy:.1e})"
                cells += [fmt_time(result.seconds), fmt_time(result.warmup_s), agree]
        body.append(cells)
    lines = ["Peers: time per unit (median, as the framework's), first call (JAX compiles in it):"]
    lines += _table(header, body)
    notes: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        for p in peers:
            result = r.peers.get(p["name"])
            if result is None:
                continue
            if result.note:
                notes.setdefault((p["label"], result.note), []).append(r.key)
            if result.skipped and result.skipped != "no version of this workload":
                notes.setdefault((p["label"], f"skipped: {result.skipped}"), []).append(r.key)
    lines += [f"{label} ({', '.join(keys)}): {note}" for (label, note), keys in notes.items()]
    return lines


def memory_lines(rows: list[Row]) -> list[str]:
    measured = [r for r in rows if r.peak_framework_bytes is not None]
    if not measured:
        return []
    body = []
    for r in measured:
        has_target = not math.isnan(r.memory_target)
        status = ("pass" if r.memory_ratio <= r.memory_target else "MISS") if has_target else ""
        body.append(
            [
                r.key,
                fmt_bytes(r.peak_framework_bytes),
                fmt_bytes(r.peak_numpy_bytes),
                f"{r.memory_ratio:.2f}×",
                _target(r.memory_target) if has_target else "",
                status,
            ]
        )
    header = ["peak memory, one unit", "framework", "NumPy", "ratio", "target", ""]
    return _table(header, body)


def extra_lines(rows: list[Row]) -> list[str]:
    lines = []
    for r in rows:
        for name, t in r.extra_s.items():
            if name.startswith("trace"):
                lines.append(f"{r.key}: {name}: {fmt_time(t)} (for information)")
                continue
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
    peers = env.get("peers", [])
    order = ", ".join(["framework", *(p["label"] for p in peers if not p["skipped"]), "floor"])
    lines.append(
        f"Times: median of {repeats} interleaved rounds ({order}; then again) after one warm-up. "
        "The floor is the fastest hand-written program for the same result: NumPy with the backward "
        "pass written out, plain Python floats for the walkthrough (W1-np: a NumPy 0-d array), the "
        "closed form for the Hessian-vector product. Ratio: median over the rounds of time / the floor's "
        "time in the same round; same data, dtype and initial weights. 'agree': the warm-up results "
        "(losses, weights, gradients) of framework and floor."
        + (" Each peer runs in its own process; its warm-up results are checked against ours." if peers else "")
    )
    if any(not r.lines for r in rows):
        titles = [(p["name"], f"{p['label']} {p['version']}".strip()) for p in peers]
        lines += ["", *table_lines(rows, titles)]
    peer = peer_lines(rows, env)
    if peer:
        lines += ["", *peer]
    mem = memory_lines(rows)
    if mem:
        lines += ["", "Peak memory allocated during one unit (tracemalloc; framework and NumPy only):", *mem]
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
    line = f"{row.key}: {row.ratio:.2f}× {row.floor}"
    for result in row.peers.values():
        if result.ratio is not None:
            line += f", {result.label} {result.ratio:.2f}×" + ("" if result.agrees else " (DISAGREES)")
    return f"{line} ({seconds:.1f} s){'' if row.agrees else '  RESULTS DISAGREE'}"


def to_json(rows: list[Row], env: dict[str, Any], repeats: int, quick: bool) -> dict[str, Any]:
    return {"environment": env, "repeats": repeats, "quick": quick, "results": [asdict(r) for r in rows]}
