"""A peer's process: ``python -m benchmarks.peers.worker NAME THREADS`` (started by the harness).

It runs on at most ``THREADS`` CPUs, imports ``benchmarks.peers.NAME_peer`` (and so the
framework), says it is ready (or why it is skipped), then answers the harness's requests,
one JSON line each, until told to quit or its input closes. The protocol goes to the
original standard output alone: anything the framework prints goes to standard error.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np

from . import INSTALL, LABELS, limit_cpus


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()  # as the harness does before each of its own calls
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: Sequence[str] | None = None) -> int:
    name, threads = (sys.argv[1:] if argv is None else list(argv))[:2]
    threads = int(threads)
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # C libraries that print to fd 1 land on stderr, not in the protocol
    sys.stdout = sys.stderr
    limit_cpus(threads)  # the harness's own limit, inherited; this makes sure of it
    try:
        peer = importlib.import_module(f"benchmarks.peers.{name}_peer")
        info = peer.setup(threads)
    except Exception as err:  # ImportError above all; a broken install too
        _send(out, {"skip": f"{LABELS[name]} is not importable ({type(err).__name__}: {err}); {INSTALL}"})
        return 0
    _send(out, {"ready": True, **info})
    units: dict[str, Callable[[], Any]] = {}
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "quit":
            break
        try:
            if op == "build":
                builder = peer.BUILDERS.get(request["kind"])
                if builder is None:
                    _send(out, {"unsupported": f"no {info['label']} version of {request['kind']!r}"})
                    continue
                with np.load(request["arrays"], allow_pickle=False) as data:
                    arrays = {k: data[k] for k in data.files}
                units[request["key"]], note = builder(request["params"], arrays)
                _send(out, {"ok": True, "note": note})
            elif op == "warmup":
                seconds, result = _timed(units[request["key"]])
                np.savez(request["out"], **peer.to_numpy(result))
                _send(out, {"ok": True, "seconds": seconds})
            elif op == "time":
                seconds, _ = _timed(units[request["key"]])
                _send(out, {"ok": True, "seconds": seconds})
            elif op == "drop":
                units.pop(request["key"], None)
                gc.collect()
                _send(out, {"ok": True})
            else:
                _send(out, {"error": f"unknown request {op!r}"})
        except Exception as err:
            traceback.print_exc()
            _send(out, {"error": f"{op} {request.get('key', '')}: {type(err).__name__}: {err}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
