"""Smoke test of the benchmark harness (issue 6): tiny sizes, no timing assertions.

It proves that each workload's framework side and hand-written NumPy side compute the
same thing (same losses, weights, gradients), that the NumPy references are right on
their own (finite differences), and that ``python -m benchmarks`` runs end to end.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from autograd_core.testing import numerical_gradient  # noqa: E402
from benchmarks import numpy_cnn  # noqa: E402
from benchmarks import numpy_reference as ref  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.workloads import WORKLOADS, Report, Sizes, Skip, max_discrepancy  # noqa: E402

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


def test_numpy_hvp_and_chain_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal(7), rng.standard_normal(7)
    f, g, hv = ref.tanh_sq_hvp(x, v)
    assert f == pytest.approx(float(np.sum(np.tanh(x) ** 2)))
    np.testing.assert_allclose(g, numerical_gradient(lambda: ref.tanh_sq_hvp(x, v)[0], x), rtol=1e-6)
    eps = 1e-6
    fd = (ref.tanh_sq_hvp(x + eps * v, v)[1] - ref.tanh_sq_hvp(x - eps * v, v)[1]) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-8)

    x0 = rng.uniform(-1, 1, 4)
    _, g = ref.chain(x0, 6, 1.0001)
    np.testing.assert_allclose(g, numerical_gradient(lambda: ref.chain(x0, 6, 1.0001)[0], x0), rtol=1e-6)


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
    assert [r["key"] for r in data["results"]] == ["W1", "W4", "FIT"]
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


def test_command_line_rejects_unknown_workloads() -> None:
    with pytest.raises(SystemExit):
        main(["--quick", "--only", "W9"])


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
