"""``python -m benchmarks``: run the workloads and print the table (see ``--help``).

For honest NumPy figures on this machine, unset the OpenBLAS variables in that
command only::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m benchmarks
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence

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
from .workloads import TARGETS, WORKLOADS, Sizes, Skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time autograd_core against hand-written NumPy (issue 6) and print the ratios.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repeat (a smoke test, not a timing)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--only", metavar="W1,W4", help=f"a comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--repeats", type=int, help="timed repeats per side (default 7; 1 with --quick)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="limit the BLAS to N threads (threadpoolctl); 1 steadies small-matrix figures on a busy machine",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc peak-memory measurement")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 7
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.only:
        args.only = [k.strip().upper() for k in args.only.split(",") if k.strip()]
        unknown = [k for k in args.only if k not in WORKLOADS]
        if unknown:
            parser.error(f"--only: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    else:
        args.only = list(WORKLOADS)
    return args


def run(argv: Sequence[str] | None = None) -> list[Row]:
    """Run the benchmarks as the command line says; print the report; return the rows."""
    args = parse_args(argv)
    sizes = Sizes.make(args.quick)
    limiter = limit_blas_threads(args.blas_threads) if args.blas_threads else None
    env = environment()
    env["blas_threads_limit"] = args.blas_threads
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
            row = measure(case, args.repeats, memory=not args.no_memory)
            rows.append(row)
            print(progress_line(row, time.perf_counter() - t0), flush=True)
    print()
    print("\n".join(report_lines(rows, env, args.repeats)))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(to_json(rows, env, args.repeats, args.quick), f, indent=2)
        print(f"wrote {args.json}")
    if limiter is not None:
        limiter.restore_original_limits()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 1 if any framework result disagrees with NumPy's (timing misses do not fail)."""
    rows = run(argv)
    return 0 if all(r.agrees is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
