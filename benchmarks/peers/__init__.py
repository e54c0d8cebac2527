"""Other frameworks on the same workloads: ``python -m benchmarks --peers``.

Each peer (PyTorch, JAX) runs in a process of its own, started with the current
interpreter before any timing (``worker.py``), so that neither its start-up nor its
imports are timed, and the frameworks' thread pools and allocators do not share a process.
The harness talks to it through a pipe, one JSON line per request:

- ``build``: make the unit of work of a case (``workloads.PeerSpec``) from its initial
  state, handed over as an ``.npz`` file (written once per case, loaded without pickle);
- ``warmup``: run it once (JAX compiles here) and write its results (losses, weights,
  gradients) to an ``.npz`` file, which the harness compares with the framework's own
  warm-up results, as it does for the floor's;
- ``time``: run it once more and answer the seconds it took, measured in the peer's
  process around the call alone (after a ``gc.collect()``, as for the other sides);
- ``drop``: forget it.

The workloads themselves are in ``torch_peer.py`` and ``jax_peer.py``, written the way
an expert user of each framework writes them. A framework that is not installed is a
skipped column, with the reason; nothing here imports PyTorch or JAX into the harness.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

#: The peers, in the order of their columns: module ``<name>_peer.py`` → column label.
LABELS = {"torch": "PyTorch", "jax": "JAX"}
INSTALL = 'pip install "autograd-core[peers]"'
ROOT = Path(__file__).resolve().parents[2]  # the directory that holds ``benchmarks/``

#: Seconds to wait for a peer: start-up and import, building a case, one run.
START_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 1200.0


class PeerFailed(Exception):
    """A peer could not do what was asked (its error, a crash or a time-out); the message says which."""


class PeerUnsupported(Exception):
    """The peer has no version of this workload."""


@dataclass
class PeerResult:
    """One peer's figures for one case (times in seconds per unit, like :class:`report.Row`)."""

    label: str
    seconds: float | None = None
    all_s: list[float] = field(default_factory=list)
    ratio: float | None = None  # median over rounds of peer / floor (each pair measured in one round)
    warmup_s: float | None = None  # the first call, compilation included
    discrepancy: float | None = None  # against the framework's warm-up results
    agrees: bool | None = None
    note: str = ""
    skipped: str = ""


def limit_cpus(n: int) -> set[int] | None:
    """Limit this process (and the processes it starts) to the first ``n`` of the CPUs it may
    run on. Returns the CPUs it had, to restore, or None when nothing changed (``n`` is at
    least their number, or the platform has no CPU affinity)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = os.sched_getaffinity(0)
    if n >= len(cpus):
        return None
    os.sched_setaffinity(0, sorted(cpus)[:n])
    return cpus


def worker_env(threads: int) -> dict[str, str]:
    """The environment of a peer's process: every thread pool pinned to ``threads``.

    OpenMP, OpenBLAS and MKL read their variables at start-up (PyTorch sets its own
    pool again with ``torch.set_num_threads``). XLA's CPU pool has no size setting: it
    is sized from the CPUs the process may run on, which the harness limits to
    ``threads`` for every process, its own included (:func:`limit_cpus`); with 1 thread
    XLA is also told not to split its Eigen kernels.
    """
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("JAX_PLATFORMS", "cpu")
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flags}".strip()
    return env


class Peer:
    """A framework in its own process, answering the harness's requests (see the module's doc)."""

    def __init__(self, name: str, threads: int, workdir: Path) -> None:
        self.name = name
        self.label = LABELS[name]
        self.version = ""
        self.threads = ""  # how its threads were pinned, in its own words
        self.skipped = ""  # why it is not running (not installed, crashed, timed out)
        self.workdir = workdir
        self._stderr = open(workdir / f"{name}.stderr", "w+", encoding="utf-8")  # closed in close()
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.peers.worker", name, str(threads)],
            cwd=ROOT,
            env=worker_env(threads),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )

    @property
    def title(self) -> str:
        """The column's header: the label and the version."""
        return f"{self.label} {self.version}".strip()

    def wait_ready(self) -> None:
        """Wait for the worker's first line: ready (with version and threads) or skipped (with why)."""
        try:
            reply = self._receive(START_TIMEOUT_S)
        except PeerFailed as err:
            self.skipped = str(err)
            return
        if "skip" in reply:
            self.skipped = reply["skip"]
            self.close()
            return
        self.label, self.version, self.threads = reply["label"], reply["version"], reply["threads"]

    def build(self, key: str, kind: str, params: dict[str, Any], arrays_path: Path) -> str:
        """Make the case's unit of work; return the peer's note on how it is written."""
        reply = self._request({"op": "build", "key": key, "kind": kind, "params": params, "arrays": str(arrays_path)})
        if "unsupported" in reply:
            raise PeerUnsupported(reply["unsupported"])
        return reply.get("note", "")

    def warmup(self, key: str) -> tuple[dict[str, np.ndarray], float]:
        """Run the case once; return its results (as arrays) and the seconds it took."""
        out = self.workdir / f"{key}-{self.name}-out.npz"
        reply = self._request({"op": "warmup", "key": key, "out": str(out)})
        with np.load(out, allow_pickle=False) as data:
            result = {k: data[k] for k in data.files}
        out.unlink()
        return result, reply["seconds"]

    def time(self, key: str) -> float:
        """Run the case once more; return the seconds it took in the peer's process."""
        return self._request({"op": "time", "key": key})["seconds"]

    def drop(self, key: str) -> None:
        if self._proc is not None:
            self._request({"op": "drop", "key": key})

    def close(self) -> None:
        """Ask the worker to quit, and make sure it did."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.poll() is None:
                    proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                    proc.stdin.flush()
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                pipe.close()
        if not self._stderr.closed:
            self._stderr.close()

    # ---------------------------------------------------------------- the pipe

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._proc is None:
            raise PeerFailed(self.skipped or f"{self.label} is not running")
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # it died: _receive says how
        reply = self._receive(RUN_TIMEOUT_S)
        if "error" in reply:
            raise PeerFailed(f"{self.label}: {reply['error']}")
        return reply

    def _receive(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None
        stdout: IO[str] = self._proc.stdout
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"no answer in {timeout:.0f} s")
            ready, _, _ = select.select([stdout], [], [], left)
            if ready:
                line = stdout.readline()
                if not line:
                    self._fail(f"its process ended (exit status {self._proc.wait()})")
                return json.loads(line)

    def _fail(self, what: str) -> None:
        self._stderr.flush()
        self._stderr.seek(0)
        tail = [line.strip() for line in self._stderr.read().splitlines() if line.strip()][-3:]
        self.skipped = f"{self.label} failed: {what}" + (f" ({' / '.join(tail)})" if tail else "")
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                pipe.close()
            self._proc = None
        raise PeerFailed(self.skipped)


def start_peers(threads: int, workdir: Path, names: tuple[str, ...] = tuple(LABELS)) -> list[Peer]:
    """Start every peer's process (all at once, their imports overlapping), then wait for each."""
    peers = [Peer(name, threads, workdir) for name in names]
    for peer in peers:
        peer.wait_ready()
    return peers
