"""``python -m benchmarks``: run the workloads and print the table (see ``--help``).

For honest NumPy figures on this machine, unset the OpenBLAS variables in that
command only::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m benchmarks

With ``--peers``, PyTorch and JAX (when installed: ``pip install -e ".[peers]"``) run
W1–W5 and W9 too, each in its own process, and the table gets a column per peer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import autograd_core as ag

from .peers import Peer, limit_cpus, start_peers
from .report import (
    Row,
    environment,
    environment_lines,
    limit_blas_threads,
    measure,
    progress_line,
    report_lines,
    to_json,
)
from .suite import WORKLOADS
from .threads import busy_core
from .workloads import TARGETS, Sizes, Skip

#: What ``--peers`` runs unless ``--only`` says otherwise: the workloads with peer versions.
PEER_WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W9", "W1c", "W2c", "W4c", "W5c")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time autograd_core against the fastest hand-written programs (NumPy by hand, Python floats, "
        "closed forms) and print the ratios; with --peers, PyTorch's and JAX's too.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repeat (a smoke test, not a timing)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--only", metavar="W1,W4", help=f"a comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--repeats", type=int, help="timed repeats per side (default 7; 1 with --quick)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="limit the BLAS to N threads (ag.set_num_threads(N): nn.fit's too); 1 steadies small-matrix figures "
        "on a busy machine; with --peers every framework gets N threads (default 2)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help=f"also run {', '.join(PEER_WORKLOADS)} in PyTorch and JAX where installed, each in its own process "
        "(pip install -e '.[peers]'); a missing one is a skipped column",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc peak-memory measurement")
    parser.add_argument(
        "--busy",
        action="store_true",
        help="run with a competing process keeping one core busy (started here, stopped at the end), as on a "
        "machine someone else is using",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 7
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.blas_threads is not None and args.blas_threads < 1:
        parser.error("--blas-threads must be at least 1")
    if args.peers and args.blas_threads is None:
        args.blas_threads = 2
    if args.only:
        by_name = {k.upper(): k for k in WORKLOADS}  # (W1c: the compiled rows' keys have a lower-case c)
        args.only = [by_name.get(k.strip().upper(), k.strip()) for k in args.only.split(",") if k.strip()]
        unknown = [k for k in args.only if k not in WORKLOADS]
        if unknown:
            parser.error(f"--only: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    else:
        args.only = list(PEER_WORKLOADS if args.peers else WORKLOADS)
    return args


def run(argv: Sequence[str] | None = None) -> list[Row]:
    """Run the benchmarks as the command line says; print the report; return the rows."""
    args = parse_args(argv)
    sizes = Sizes.make(args.quick)
    limiter = limit_blas_threads(args.blas_threads, required=not args.peers) if args.blas_threads else None
    args.blas_threads_pinned = limiter is not None
    if args.blas_threads:  # nn.fit, nn.predict and a search's trials too (they have a default of their own)
        ag.set_num_threads(args.blas_threads)
    # With peers, every process runs on the same CPUs, as many as threads (the peers inherit it).
    cpus_before = limit_cpus(args.blas_threads) if args.peers else None
    peers: list[Peer] = []
    try:
        with (
            busy_core() if args.busy else contextlib.nullcontext(),
            tempfile.TemporaryDirectory(prefix="benchmarks-") as workdir,
        ):
            try:
                if args.peers:  # started (and imported) before any timing
                    peers = start_peers(args.blas_threads, Path(workdir))
                return _run(args, sizes, peers, Path(workdir))
            finally:
                for peer in peers:
                    peer.close()
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        if cpus_before is not None:
            os.sched_setaffinity(0, cpus_before)


def _run(args: argparse.Namespace, sizes: Sizes, peers: list[Peer], workdir: Path) -> list[Row]:
    env = environment()
    env["blas_threads_limit"] = args.blas_threads
    env["blas_threads_pinned"] = args.blas_threads_pinned
    env["busy"] = args.busy
    if args.peers and hasattr(os, "sched_getaffinity"):
        env["cpus"] = sorted(os.sched_getaffinity(0))
    if args.peers:
        env["peers"] = [
            {"name": p.name, "label": p.label, "version": p.version, "threads": p.threads, "skipped": p.skipped}
            for p in peers
        ]
    print("\n".join(environment_lines(env)), flush=True)
    rows: list[Row] = []
    start = time.perf_counter()
    for name in args.only:
        try:
            cases = WORKLOADS[name](sizes)
        except Skip as why:
            doc = (WORKLOADS[name].__doc__ or "").strip().splitlines()[0]
            rows.append(Row(name, doc, "-", TARGETS.get(name, math.nan), skipped=str(why)))
            print(f"{name}: skipped: {why}", flush=True)
            continue
        for case in cases:
            t0 = time.perf_counter()
            row = measure(case, args.repeats, memory=not args.no_memory, peers=peers, workdir=workdir)
            rows.append(row)
            print(progress_line(row, time.perf_counter() - t0), flush=True)
    if args.peers:  # a peer that failed during the run is skipped from then on: say so
        for entry, peer in zip(env["peers"], peers):
            entry["failed"] = "" if entry["skipped"] else peer.skipped
    print()
    print("\n".join(report_lines(rows, env, args.repeats)))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(to_json(rows, env, args.repeats, args.quick), f, indent=2)
        print(f"wrote {args.json}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 1 if any result disagrees: the framework's with its floor's, or a peer's with
    the framework's (timing misses do not fail; a skipped peer does not either)."""
    rows = run(argv)
    agree = [r.agrees for r in rows] + [p.agrees for r in rows for p in r.peers.values()]
    return 0 if all(a is not False for a in agree) else 1


if __name__ == "__main__":
    sys.exit(main())
