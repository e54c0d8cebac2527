"""Smoke test of the benchmark harness: tiny sizes, no timing assertions.

It proves that each workload's framework side and its floor (the hand-written program)
compute the same thing (same losses, weights, gradients), that the floors are right on
their own (finite differences), that ``python -m benchmarks`` runs end to end, and that
``--peers`` without PyTorch or JAX prints skipped columns instead of failing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

import autograd_core as ag  # noqa: E402
from autograd_core import Tensor  # noqa: E402
from autograd_core.testing import numerical_gradient  # noqa: E402
from benchmarks import numpy_cnn, numpy_rnn  # noqa: E402
from benchmarks import numpy_reference as ref  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.suite import WORKLOADS  # noqa: E402
from benchmarks.workloads import Report, Sizes, Skip, max_discrepancy, w1, w5  # noqa: E402

QUICK = Sizes.make(quick=True)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_framework_and_numpy_agree(name: str) -> None:
    try:
        cases = WORKLOADS[name](QUICK)
    except Skip as why:
        pytest.skip(str(why))
    cases = [c for c in cases if not isinstance(c, Report)]
    if not cases:
        pytest.skip(f"{name} is a report, not a comparison with NumPy (see its own test)")
    for case in cases:
        # Two units in a row: the first from identical state, the second from the state
        # each side's own first unit left behind.
        for _ in range(2):
            fw, np_ = case.framework(), case.numpy()
            diff = case.compare(fw, np_)
            assert diff <= case.tol, f"{case.key}: framework and NumPy differ by {diff:.3g} (tolerance {case.tol:g})"


def test_discrepancy_sees_a_difference() -> None:
    a = {"loss": [1.0, 2.0], "w": np.zeros(3)}
    assert max_discrepancy(a, {"loss": [1.0, 2.0], "w": np.zeros(3)}) == 0.0
    assert max_discrepancy(a, {"loss": [1.0, 2.0], "w": np.array([0.0, 1e-6, 0.0])}) == pytest.approx(1e-6)
    assert max_discrepancy(a, {"loss": [1.0, np.nan], "w": np.zeros(3)}) == float("inf")


@pytest.mark.parametrize("batchnorm", [False, True])
def test_numpy_mlp_backward_matches_finite_differences(batchnorm: bool) -> None:
    rng = np.random.default_rng(0)
    sizes = (5, 4, 3, 3)
    weights = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(b) for b in sizes[1:]]
    if batchnorm:
        biases[:-1] = [None, None]
    mlp = ref.MLP(weights, biases, batchnorm=batchnorm)
    if batchnorm:  # not the initial ones/zeros, so their gradients are tested in general
        mlp.gammas = [rng.uniform(0.5, 1.5, n) for n in sizes[1:-1]]
        mlp.betas = [rng.standard_normal(n) for n in sizes[1:-1]]
    x = rng.standard_normal((6, sizes[0]))
    y = rng.integers(0, sizes[-1], size=6)
    _, grads = mlp.loss_and_grads(x, y)
    params = mlp.params()
    assert len(grads) == len(params)
    for p, g in zip(params, grads):
        assert g.shape == p.shape
        num = numerical_gradient(lambda: mlp.loss_and_grads(x, y)[0], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def _tanh_sq(x: np.ndarray) -> float:
    return float(np.sum(np.tanh(x) ** 2))


def test_hvp_closed_form_matches_finite_differences_and_the_framework() -> None:
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal(7), rng.standard_normal(7)
    hv = ref.tanh_sq_hvp(x, v)
    # Finite differences only: H v = d/dε ∇f(x + εv), with ∇f itself by central differences.
    eps = 1e-4

    def grad_at(z: np.ndarray) -> np.ndarray:
        return numerical_gradient(lambda: _tanh_sq(z), z, eps=1e-5)  # perturbs z in place: a fresh array

    fd = (grad_at(x + eps * v) - grad_at(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)
    # The framework's two ways of writing it (nested grad; gradients twice).
    f = lambda z: (z.tanh() ** 2).sum()  # noqa: E731
    g = ag.grad(f)
    np.testing.assert_allclose(ag.grad(lambda z: (g(z) * v).sum())(Tensor(x)).data, hv, rtol=1e-12, atol=1e-14)
    xt = Tensor(x, requires_grad=True)
    (gx,) = ag.gradients(f(xt), [xt], create_graph=True)
    np.testing.assert_allclose(ag.gradients((gx * v).sum(), [xt])[0].data, hv, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ag.hvp(f, Tensor(x), v)[1].data, hv, rtol=1e-12, atol=1e-14)  # and forward over reverse


def test_w5_rows_are_the_three_ways_against_the_closed_form() -> None:
    cases = w5(QUICK)
    assert [c.key for c in cases] == ["W5", "W5-gradients", "W5-hvp"]
    for case in cases:
        assert case.floor == "closed form" and case.target == 6.0
        fw, floor = case.framework(), case.numpy()
        assert fw.keys() == floor.keys() == {"hv"}
        assert case.compare(fw, floor) <= 1e-12


def test_chain_matches_finite_differences() -> None:
    x0 = np.random.default_rng(1).uniform(-1, 1, 4)
    _, g = ref.chain(x0, 6, 1.0001)
    np.testing.assert_allclose(g, numerical_gradient(lambda: ref.chain(x0, 6, 1.0001)[0], x0), rtol=1e-6)


def test_w1_float_floor_reaches_the_frameworks_w() -> None:
    floats, numpy_0d = w1(Sizes(w1_steps=300))
    assert (floats.key, floats.floor, floats.target) == ("W1", "Python floats", 35.0)
    assert (numpy_0d.key, numpy_0d.floor) == ("W1-np", "NumPy 0-d") and math.isnan(numpy_0d.target)
    fw = floats.framework()
    for case in (floats, numpy_0d):
        floor = case.numpy()
        assert floor["w"] == pytest.approx(fw["w"], abs=1e-13)
        assert floor["cost"] == pytest.approx(fw["cost"], abs=1e-12)
    assert isinstance(floats.numpy()["w"], float)  # a Python float, not a NumPy scalar
    assert fw["w"] == pytest.approx(5.0 - 5.0 * 0.98**300, rel=1e-12)  # w_t = 5(1 − 0.98ᵗ)


def test_numpy_adam_first_step_is_lr_sized() -> None:
    w = np.array([1.0, -2.0])
    ref.Adam(lr=0.1).update([w], [np.array([3.0, -0.5])])
    np.testing.assert_allclose(w, [0.9, -1.9])  # the first bias-corrected step is ±lr


def test_scalar_loop_reaches_the_minimum() -> None:
    w, cost = ref.scalar_loop(1001)
    assert w == pytest.approx(5.0, abs=1e-6)
    assert ref.scalar_loop_python(1001)[0] == pytest.approx(w, abs=1e-12)


def test_command_line_quick_run_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["--quick", "--only", "w1,W4,fit", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "W1" in printed and "W4" in printed and "FIT" in printed and "ratio" in printed
    data = json.loads(out.read_text())
    assert data["quick"] is True
    assert [r["key"] for r in data["results"]] == ["W1", "W1-np", "W4", "FIT"]
    for r in data["results"]:
        assert r["agrees"] is True
        assert r["framework_s"] > 0 and r["numpy_s"] > 0 and r["ratio"] > 0


def test_numpy_cnn_backward_matches_finite_differences() -> None:
    rng = np.random.default_rng(2)
    shapes = [(3, 1, 3, 3), (3,), (4, 3, 3, 3), (4,), (16, 5), (5,)]  # 8×8 → 4×4 → 2×2, 4·2·2 features
    cnn = numpy_cnn.CNN([rng.standard_normal(s) * 0.5 for s in shapes])
    x = rng.standard_normal((3, 1, 8, 8))
    y = rng.integers(0, 5, size=3)
    _, grads = cnn.loss_and_grads(x, y)
    for p, g in zip(cnn.params, grads):
        assert g.shape == p.shape
        num = numerical_gradient(lambda: cnn.loss_and_grads(x, y)[0], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_numpy_lstm_backward_matches_finite_differences() -> None:
    rng = np.random.default_rng(4)
    shapes = [(12, 2), (12, 3), (12,), (12,), (3, 4), (4,)]  # 2 inputs, 3 hidden, 4 classes
    lstm = numpy_rnn.LSTMClassifier([rng.uniform(-0.8, 0.8, s) for s in shapes])
    x = rng.standard_normal((3, 5, 2))
    y = rng.integers(0, 4, size=3)
    _, grads = lstm.loss_and_grads(x, y)
    for p, g in zip(lstm.params, grads):
        assert g.shape == p.shape
        num = numerical_gradient(lambda: lstm.loss_and_grads(x, y)[0], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_numpy_conv_layer_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((2, 4, 5, 4))
    _, dx, dw, db = numpy_cnn.conv_layer(x, w, b, g, 1)
    for arr, grad in ((x, dx), (w, dw), (b, db)):
        num = numerical_gradient(lambda: float(np.sum(numpy_cnn.conv_layer(x, w, b, g, 1)[0] * g)), arr)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_command_line_quick_run_of_the_conv_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "W7", "--no-memory"]) == 0
    printed = capsys.readouterr().out
    assert "W7-conv" in printed and "digits CNN" in printed and "RESULTS DISAGREE" not in printed


def test_jacobian_rows_are_both_modes_on_both_shapes() -> None:
    cases = WORKLOADS["JAC"](QUICK)
    assert [c.key for c in cases] == ["JAC-tall-fwd", "JAC-tall-rev", "JAC-wide-fwd", "JAC-wide-rev"]
    for case in cases:
        fw, floor = case.framework(), case.numpy()
        assert fw["J"].shape == floor["J"].shape == ((40, 3) if "tall" in case.key else (3, 40))
        assert case.compare(fw, floor) <= 1e-12


def test_command_line_rejects_unknown_workloads() -> None:
    with pytest.raises(SystemExit):
        main(["--quick", "--only", "W99"])


def test_search_report_quick_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "search.json"
    assert main(["--quick", "--only", "search", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "overhead per trial" in printed and "speed-up" in printed and "serial" in printed
    (row,) = json.loads(out.read_text())["results"]
    figures = row["figures"]
    assert row["key"] == "SEARCH" and row["unit"] == "report" and row["lines"]
    assert figures["results_agree"] == 1.0  # serial, pool and Dask ran the same trials to the same results
    for key in ("overhead_serial_s", "overhead_pool_s", "real_serial_s", "real_pool_s", "speedup_pool"):
        assert math.isfinite(figures[key])
    if importlib.util.find_spec("distributed") is not None:
        assert math.isfinite(figures["overhead_dask_s"]) and figures["speedup_dask"] > 0


def test_threads_report_quick_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "threads.json"
    before = ag.get_num_threads()
    assert main(["--quick", "--only", "threads", "--json", str(out)]) == 0
    assert "competing process busy on one core" in capsys.readouterr().out
    (row,) = json.loads(out.read_text())["results"]
    assert row["key"] == "THREADS" and row["unit"] == "report" and row["lines"]
    other = before if before != 1 else 2
    for model in ("cnn", "mlp"):
        for state in ("idle", "busy"):
            for count in ("default", other):
                figures = [row["figures"][f"{model}_{state}_{count}_{k}_s"] for k in ("min", "median", "max")]
                assert 0 < figures[0] <= figures[1] <= figures[2]
    assert ag.get_num_threads() == before  # the counts it measured are not left behind


def test_busy_core_spins_while_the_block_runs_and_is_stopped_after() -> None:
    from benchmarks.threads import busy_core

    with busy_core() as process:
        stat = Path(f"/proc/{process.pid}/stat")
        if stat.exists():  # Linux: the CPU time it has used (utime + stime, in clock ticks) grows
            ticks = [sum(int(f) for f in stat.read_text().rsplit(")", 1)[1].split()[11:13])]
            time.sleep(0.3)
            ticks.append(sum(int(f) for f in stat.read_text().rsplit(")", 1)[1].split()[11:13]))
            assert ticks[1] > ticks[0]
        assert process.poll() is None
    assert process.poll() is not None


def test_busy_flag_runs_the_workloads_beside_a_competing_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import benchmarks.__main__ as command
    from benchmarks.threads import busy_core

    started = []

    @contextlib.contextmanager
    def recorded():
        with busy_core() as process:
            started.append(process)
            yield process

    monkeypatch.setattr(command, "busy_core", recorded)
    assert main(["--quick", "--only", "W1", "--busy"]) == 0
    assert "A competing process kept one core busy during the whole run (--busy)" in capsys.readouterr().out
    (process,) = started
    assert process.poll() is not None  # stopped at the end


def _hide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *packages: str) -> None:
    """Make ``import <package>`` fail in child processes, as if the package were not installed."""
    for name in packages:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('No module named {name!r}')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))


def test_peers_flag_without_torch_or_jax_prints_skipped_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide(tmp_path, monkeypatch, "torch", "jax")
    out = tmp_path / "bench.json"
    assert main(["--quick", "--peers", "--only", "W1,W5", "--no-memory", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PyTorch: skipped: PyTorch is not importable" in printed and "autograd-core[peers]" in printed
    assert "JAX: skipped: JAX is not importable" in printed
    header = next(line for line in printed.splitlines() if "| workload" in line)
    assert "PyTorch ratio" in header and "JAX ratio" in header
    rows = [line for line in printed.splitlines() if line.startswith("| W")]
    assert len(rows) == 5 and all(line.rstrip(" |").endswith("skipped") for line in rows)
    data = json.loads(out.read_text())
    assert [p["skipped"] != "" for p in data["environment"]["peers"]] == [True, True]
    for r in data["results"]:
        assert r["agrees"] is True
        assert set(r["peers"]) == {"torch", "jax"}
        assert all(p["ratio"] is None and p["skipped"] for p in r["peers"].values())


def test_installed_peers_compute_the_frameworks_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Where PyTorch or JAX is installed (neither is in the dev extra), it runs and agrees with the framework."""
    installed = [name for name in ("torch", "jax") if importlib.util.find_spec(name) is not None]
    if not installed:
        pytest.skip("neither PyTorch nor JAX is installed")
    out = tmp_path / "bench.json"
    assert main(["--quick", "--peers", "--only", "W1,W4,W5", "--no-memory", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["key"] for r in data["results"]] == ["W1", "W1-np", "W4", "W5", "W5-gradients", "W5-hvp"]
    for r in data["results"]:
        for name in installed:
            result = r["peers"][name]
            assert result["agrees"] is True, (r["key"], name, result)
            assert result["discrepancy"] <= 1e-10 and result["ratio"] > 0 and result["seconds"] > 0
