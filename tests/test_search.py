"""optim.search: distributions on the lecture's scales, random (not grid) trials, seeds that give
the same trials on every executor (serial, process pool, Dask), pruning, failures, lost workers,
storage and resume, coarse to fine, results, tables and pictures, and optional dependencies."""

from __future__ import annotations

import functools
import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import search_objectives as objectives

from optim import search
from optim.search.distributions import zoom_one

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"lr": search.LogUniform(1e-4, 1.0), "h": search.IntUniform(1, 5)}


def same_trials(a: search.SearchResult, b: search.SearchResult) -> None:
    """The same trials with the same results (exactly; NaN equals NaN here)."""
    assert [t.number for t in a.trials] == [t.number for t in b.trials]
    for x, y in zip(a.trials, b.trials):
        assert x.params == y.params
        assert repr((x.status, x.value, x.metrics, x.curve)) == repr((y.status, y.value, y.metrics, y.curve))


@pytest.fixture(scope="module")
def pool():
    """One process pool of 2 for the tests that do not break or interrupt it (each start costs ~1 s)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


# ============================================================== distributions


def test_log_uniform_gives_each_decade_the_same_share() -> None:
    lr = search.LogUniform(1e-4, 1.0).rvs(size=40_000, random_state=0)
    assert lr.min() >= 1e-4 and lr.max() <= 1.0
    shares = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1, 0])[0] / lr.size
    # Each share is binomial with sd sqrt(0.25 * 0.75 / 40000) = 0.0022: 0.015 is 7 sd.
    np.testing.assert_allclose(shares, 0.25, atol=0.015)
    # A uniform draw would put 90 % in the last decade: this is what the log scale prevents.
    assert shares[-1] < 0.3


def test_log_uniform_samples_the_exponent_uniformly() -> None:
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    r = rng_b.uniform(-4, 0, size=100)
    drawn = [search.LogUniform(1e-4, 1.0).sample(rng_a) for _ in range(100)]
    np.testing.assert_allclose(drawn, 10.0**r, rtol=1e-12)


def test_one_minus_log_uniform_is_log_uniform_in_one_minus_beta() -> None:
    beta = search.OneMinusLogUniform(0.9, 0.999).rvs(size=20_000, random_state=1)
    assert beta.min() >= 0.9 and beta.max() <= 0.999
    r = np.log10(1 - beta)  # = uniform(-3, -1)
    shares = np.histogram(r, bins=[-3, -2, -1])[0] / beta.size
    np.testing.assert_allclose(shares, 0.5, atol=0.02)  # sd 0.0035
    rng_a, rng_b = np.random.default_rng(2), np.random.default_rng(2)
    assert search.OneMinusLogUniform(0.9, 0.999).sample(rng_a) == pytest.approx(1 - 10 ** rng_b.uniform(-3, -1))


def test_uniform_int_uniform_and_choice() -> None:
    u = search.Uniform(0.5, 1.0).rvs(size=5000, random_state=0)
    assert u.min() >= 0.5 and u.max() <= 1.0 and abs(u.mean() - 0.75) < 0.01
    k = search.IntUniform(50, 53).rvs(size=4000, random_state=0)
    assert k.dtype.kind == "i" and set(k.tolist()) == {50, 51, 52, 53}  # both ends included
    np.testing.assert_allclose(np.bincount(k - 50) / k.size, 0.25, atol=0.03)
    rng = np.random.default_rng(0)
    one = search.IntUniform(50, 100).sample(rng)
    assert isinstance(one, int) and 50 <= one <= 100
    c = search.Choice([32, 64, (1, 2), "relu"])
    drawn = [c.sample(rng) for _ in range(200)]
    assert {repr(d) for d in drawn} == {"32", "64", "(1, 2)", "'relu'"}
    assert c.rvs(size=3, random_state=0).dtype == object
    assert search.Choice([32, 64]).rvs(size=(2, 3), random_state=0).shape == (2, 3)


def test_rvs_follows_scipy_random_state_conventions() -> None:
    d = search.LogUniform(1e-3, 1.0)
    assert d.rvs(random_state=7) == d.rvs(random_state=7)  # an int seeds a new generator
    assert isinstance(d.rvs(), float)  # None: NumPy's global RandomState
    a = d.rvs(size=4, random_state=np.random.RandomState(3))
    b = d.rvs(size=4, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(a, b)
    assert 1e-3 <= d.sample(np.random.RandomState(0)) <= 1.0
    with pytest.raises(TypeError, match="random_state"):
        d.rvs(random_state="seed")


def test_narrow_gives_the_same_kind_over_a_sub_range() -> None:
    assert search.LogUniform(1e-4, 1.0).narrow(1e-3, 1e-2) == search.LogUniform(1e-3, 1e-2)
    assert search.OneMinusLogUniform(0.9, 0.999).narrow(0.95, 0.99) == search.OneMinusLogUniform(0.95, 0.99)
    assert search.Uniform(0, 1).narrow(0.2, 0.3) == search.Uniform(0.2, 0.3)
    assert search.IntUniform(1, 10).narrow(3, 4) == search.IntUniform(3, 4)
    assert search.Choice([32, 64, 128, 256]).narrow(64, 128) == search.Choice([64, 128])
    assert search.Choice(["a", "b", "c"]).restrict(["c", "a"]) == search.Choice(["a", "c"])
    with pytest.raises(ValueError, match="inside"):
        search.LogUniform(1e-4, 1.0).narrow(1e-5, 1e-2)
    with pytest.raises(ValueError, match="inside"):
        search.IntUniform(1, 10).narrow(0, 4)
    with pytest.raises(TypeError, match="restrict"):
        search.Choice(["a", 1]).narrow(0, 1)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: search.LogUniform(0, 1), "positive"),
        (lambda: search.LogUniform(-1e-3, 1), "positive"),
        (lambda: search.Uniform(2, 1), "low must not exceed high"),
        (lambda: search.LogUniform(1, 1e-3), "low must not exceed high"),
        (lambda: search.IntUniform(5, 1), "low must not exceed high"),
        (lambda: search.OneMinusLogUniform(0.9, 1.0), "high < 1"),
        (lambda: search.OneMinusLogUniform(0.99, 0.9), "low must not exceed high"),
        (lambda: search.Uniform(0, math.inf), "finite"),
        (lambda: search.Choice([]), "at least one option"),
    ],
)
def test_bad_distributions_raise_value_errors(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_distributions_refuse_wrong_types() -> None:
    with pytest.raises(TypeError, match="integer"):
        search.IntUniform(1.5, 3)
    with pytest.raises(TypeError, match="list"):
        search.Choice("abc")
    with pytest.raises(TypeError, match="low must be a number"):
        search.Uniform("0", 1)


def test_scikit_learn_randomized_search_cv_takes_the_distributions() -> None:
    sklearn = pytest.importorskip("sklearn")
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RandomizedSearchCV

    assert sklearn  # the import is the point
    x, y = make_classification(n_samples=80, n_features=4, random_state=0)
    space = {
        "C": search.LogUniform(1e-3, 1e2),
        "max_iter": search.IntUniform(50, 100),
        "fit_intercept": search.Choice([True, False]),
    }
    cv = RandomizedSearchCV(LogisticRegression(), space, n_iter=6, cv=2, random_state=0).fit(x, y)
    cs = np.asarray(cv.cv_results_["param_C"], dtype=float)
    assert len(set(cs)) == 6 and cs.min() >= 1e-3 and cs.max() <= 1e2
    assert all(50 <= int(m) <= 100 for m in cv.cv_results_["param_max_iter"])
    assert 1e-3 <= cv.best_params_["C"] <= 1e2 and cv.best_params_["fit_intercept"] in (True, False)


# ============================================================== random, seeded trials


def test_random_not_grid_every_trial_tries_a_new_value() -> None:
    # A 5 × 5 grid over (lr, beta) tries 5 learning rates; 25 random trials try 25.
    space = {"lr": search.LogUniform(1e-4, 1.0), "beta": search.OneMinusLogUniform(0.9, 0.999)}
    result = search.random_search(objectives.bowl, space, n_trials=25, metric="score")
    assert len({t.params["lr"] for t in result.trials}) == 25
    assert len({t.params["beta"] for t in result.trials}) == 25
    assert not hasattr(search, "grid_search")


def test_trial_i_draws_from_the_i_th_child_of_the_seed_sequence() -> None:
    result = search.random_search(objectives.bowl, SPACE, n_trials=6, metric="score", seed=11)
    children = np.random.SeedSequence(11).spawn(6)
    for t, child in zip(result.trials, children):
        rng = np.random.default_rng(child)
        assert t.params == {"lr": SPACE["lr"].sample(rng), "h": SPACE["h"].sample(rng)}
        assert t.params == search.sample_params(SPACE, 11, t.number)
    other = search.random_search(objectives.bowl, SPACE, n_trials=6, metric="score", seed=12)
    assert [t.params for t in other.trials] != [t.params for t in result.trials]


def test_serial_search_records_everything() -> None:
    result = search.random_search(objectives.bowl, SPACE, n_trials=8, metric="score", mode="max")
    assert len(result) == 8 and [t.number for t in result.trials] == list(range(8))
    for t in result.trials:
        assert t.status == "complete" and t.error is None and t.round == 1 and t.attempts == 1
        assert t.value == t.metrics["score"] and t.metrics["loss"] == -t.value
        assert [p["step"] for p in t.curve] == [0, 1, 2, 3] and t.curve[-1]["score"] == t.value
        assert t.seconds >= 0
    values = [t.value for t in result.trials]
    assert result.best.value == max(values) and result.best_params == result.best.params
    low = search.random_search(objectives.bowl, SPACE, n_trials=8, metric="loss", mode="min")
    assert low.best.number == result.best.number  # loss = -score
    assert "8 complete" in repr(result)


def test_thread_pool_gives_the_serial_results() -> None:
    serial = search.random_search(objectives.bowl, SPACE, n_trials=6, metric="score", seed=3)
    with ThreadPoolExecutor(2) as pool:
        threaded = search.random_search(objectives.bowl, SPACE, n_trials=6, metric="score", seed=3, executor=pool)
    same_trials(serial, threaded)


def test_process_pool_gives_the_serial_results_and_callbacks_run_here() -> None:
    seen = []
    serial = search.random_search(objectives.bowl, SPACE, n_trials=10, metric="score", seed=4)
    pooled = search.random_search(
        objectives.bowl, SPACE, n_trials=10, metric="score", seed=4, executor=2, callback=seen.append
    )
    same_trials(serial, pooled)
    assert sorted(t.number for t in seen) == list(range(10))


# ============================================================== failures


def test_failed_and_diverged_trials_do_not_stop_the_search() -> None:
    result = search.random_search(objectives.raise_when, {"lr": search.LogUniform(1e-4, 1.0)}, n_trials=30, seed=0)
    by = {s: [t for t in result.trials if t.status == s] for s in ("complete", "failed", "diverged")}
    assert all(by.values()), result.counts()
    for t in by["failed"]:
        assert t.params["lr"] < 1e-3 and t.value is None
        assert "Traceback" in t.error and "RuntimeError: lr" in t.error and "too small" in t.error
    for t in by["diverged"]:
        assert t.params["lr"] > 0.3 and not math.isfinite(t.value)
    assert any(math.isinf(t.value) for t in by["diverged"]) and any(math.isnan(t.value) for t in by["diverged"])
    assert result.best.status == "complete" and result.best.params["lr"] == min(t.params["lr"] for t in by["complete"])


def test_a_missing_metric_stops_at_the_first_result_and_records_nothing(tmp_path: Path, pool) -> None:
    path = tmp_path / "s.sqlite"
    with pytest.raises(ValueError, match=r"returned the metrics \['loss'\] but not 'score'"):
        search.random_search(objectives.no_metric, SPACE, n_trials=5, metric="score", storage=path)
    assert sqlite3.connect(path).execute("select count(*) from trials").fetchone() == (0,)
    with pytest.raises(ValueError, match="not 'value'"):  # the default metric
        search.random_search(objectives.no_metric, SPACE, n_trials=5, executor=pool)


def test_a_metric_missing_after_the_first_result_fails_that_trial() -> None:
    result = search.random_search(objectives.metric_missing_later, SPACE, n_trials=6, metric="score")
    assert [t.status for t in result.trials].count("failed") == 1
    assert result.trials[3].status == "failed" and "not 'score'" in result.trials[3].error


def test_bad_returns_are_reported() -> None:
    with pytest.raises(ValueError, match="must return a number or a dict"):
        search.random_search(lambda p, t: "good", SPACE, n_trials=2)
    with pytest.raises(ValueError, match="not a number"):
        search.random_search(lambda p, t: {"value": "high"}, SPACE, n_trials=2)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"space": {}}, ValueError, "space is empty"),
        ({"n_trials": 0}, ValueError, "n_trials must be a positive integer"),
        ({"n_trials": 2.5}, ValueError, "n_trials"),
        ({"mode": "maximize"}, ValueError, "mode must be one of 'max', 'min'"),
        ({"metric": ""}, ValueError, "metric"),
        ({"retries": -1}, ValueError, "retries"),
        ({"seed": -3}, ValueError, "seed"),
        ({"executor": 0}, ValueError, "at least 1 process"),
        ({"executor": "dask"}, TypeError, "executor must be"),
        ({"pruner": "median"}, TypeError, "pruner"),
        ({"space": {"lr": 0.1}}, TypeError, "not a distribution"),
        ({"space": [("lr", search.Uniform(0, 1))]}, TypeError, "dict"),
        ({"objective": lambda params: 1.0}, ValueError, r"\(params, trial\)"),
        ({"objective": 3}, TypeError, "objective must be a function"),
    ],
)
def test_bad_arguments_raise_before_any_trial_runs(kwargs, error, message) -> None:
    calls = []

    def objective(params, trial):
        calls.append(trial.number)
        return 1.0

    args = {"objective": objective, "space": SPACE, "n_trials": 3, **kwargs}
    with pytest.raises(error, match=message):
        search.random_search(**args)
    assert calls == []


def test_coarse_to_fine_checks_its_own_arguments() -> None:
    with pytest.raises(ValueError, match="2 entries for 3 rounds"):
        search.coarse_to_fine(objectives.bowl, SPACE, rounds=3, n_trials=[5, 5])
    with pytest.raises(ValueError, match="top"):
        search.coarse_to_fine(objectives.bowl, SPACE, top=0)
    with pytest.raises(ValueError, match="margin"):
        search.coarse_to_fine(objectives.bowl, SPACE, margin=-1)
    with pytest.raises(TypeError, match="unknown option"):
        search.coarse_to_fine(objectives.bowl, SPACE, n_trial=5)
    with pytest.raises(ValueError, match="mode"):
        search.coarse_to_fine(objectives.bowl, SPACE, mode="best")


def test_objectives_for_other_processes_must_be_picklable() -> None:
    with pytest.raises(TypeError, match="picklable.*top level of a module"):
        search.random_search(lambda params, trial: 1.0, SPACE, n_trials=2, executor=2)

    def nested(params, trial):
        return 1.0

    with pytest.raises(TypeError, match="picklable"):
        search.random_search(nested, SPACE, n_trials=2, executor=2)


# ============================================================== storage and resume


def test_interrupted_search_resumes_and_runs_only_the_missing_trials(tmp_path: Path) -> None:
    log = str(tmp_path / "calls.txt")
    Path(log + ".stop").touch()
    objective = functools.partial(objectives.interrupt_at, log=log, at=5)
    path = tmp_path / "search.sqlite"
    with pytest.raises(KeyboardInterrupt):
        search.random_search(objective, SPACE, n_trials=10, storage=str(path), seed=2)
    on_disk = search.load(path)
    assert [t.number for t in on_disk.trials] == [0, 1, 2, 3, 4]
    assert all(t.status == "complete" for t in on_disk.trials)

    os.remove(log + ".stop")
    Path(log).write_text("")
    resumed = search.random_search(objective, SPACE, n_trials=10, storage=str(path), seed=2)
    assert Path(log).read_text().split() == [str(n) for n in range(5, 10)]  # only the missing ones ran
    assert len(resumed) == 10
    fresh = search.random_search(objective, SPACE, n_trials=10, seed=2)
    same_trials(resumed, fresh)
    same_trials(search.load(path), fresh)


def test_an_interrupt_in_a_pool_worker_stops_the_search_and_keeps_the_finished(tmp_path: Path) -> None:
    log = str(tmp_path / "calls.txt")
    Path(log + ".stop").touch()
    objective = functools.partial(objectives.interrupt_at, log=log, at=3)
    path = tmp_path / "pool.sqlite"
    with pytest.raises(KeyboardInterrupt):
        search.random_search(objective, SPACE, n_trials=40, storage=path, executor=2)
    stored = [t.number for t in search.load(path).trials]
    assert 3 not in stored and len(stored) < 40  # stopped early; trial 3 runs again on resume
    os.remove(log + ".stop")
    resumed = search.random_search(objective, SPACE, n_trials=40, storage=path)
    same_trials(resumed, search.random_search(objective, SPACE, n_trials=40))


def test_a_crashed_search_keeps_its_finished_trials(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    script = textwrap.dedent(
        f"""
        import functools, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        import search_objectives
        from optim import search
        objective = functools.partial(search_objectives.crash_at, at=4)
        search.random_search(objective, {{"lr": search.LogUniform(1e-4, 1.0)}}, n_trials=8, storage={str(path)!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr  # the process died at trial 4, mid-search
    assert [t.number for t in search.load(path).trials] == [0, 1, 2, 3]
    no_crash = functools.partial(objectives.crash_at, at=-1)
    resumed = search.random_search(no_crash, {"lr": search.LogUniform(1e-4, 1.0)}, n_trials=8, storage=path)
    assert [t.number for t in resumed.trials] == list(range(8))


def test_failed_trials_run_again_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    space = {"lr": search.LogUniform(1e-4, 1.0)}
    first = search.random_search(objectives.raise_when, space, n_trials=12, storage=path)
    failed = [t.number for t in first.trials if t.status == "failed"]
    assert failed
    calls = []

    def fixed(params, trial):
        calls.append(trial.number)
        return objectives.raise_when({"lr": max(params["lr"], 1e-3)}, trial)

    second = search.random_search(fixed, space, n_trials=12, storage=path)
    assert calls == failed
    assert all(second.trials[n].status != "failed" for n in failed)
    assert sqlite3.connect(path).execute("select count(*) from trials").fetchone() == (12,)  # one row per trial


def test_storage_refuses_another_search(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    search.random_search(objectives.bowl, SPACE, n_trials=3, metric="score", storage=path, seed=1)
    with pytest.raises(ValueError, match="seed=1"):
        search.random_search(objectives.bowl, SPACE, n_trials=3, metric="score", storage=path, seed=2)
    with pytest.raises(ValueError, match="metric='score'"):
        search.random_search(objectives.bowl, SPACE, n_trials=3, metric="loss", storage=path, seed=1)
    with pytest.raises(ValueError, match="round 1 searched"):
        search.random_search(objectives.bowl, {"lr": SPACE["lr"]}, n_trials=3, metric="score", storage=path, seed=1)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("create table people (name text)").connection.commit()
    with pytest.raises(ValueError, match="not a search's"):
        search.random_search(objectives.bowl, SPACE, n_trials=3, metric="score", storage=other)
    (tmp_path / "text.sqlite").write_text("hello, this is not a database at all" * 100)
    with pytest.raises(ValueError, match="not a search file"):
        search.random_search(objectives.bowl, SPACE, n_trials=3, storage=tmp_path / "text.sqlite")
    with pytest.raises(FileNotFoundError, match="folder"):
        search.random_search(objectives.bowl, SPACE, n_trials=3, storage=tmp_path / "nope" / "s.sqlite")
    with pytest.raises(FileNotFoundError):
        search.load(tmp_path / "missing.sqlite")


def test_seed_none_is_recorded_and_resumed(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    first = search.random_search(objectives.bowl, SPACE, n_trials=3, metric="score", seed=None, storage=path)
    assert first.seed > 2**32  # fresh entropy
    more = search.random_search(objectives.bowl, SPACE, n_trials=5, metric="score", seed=None, storage=path)
    assert more.seed == first.seed and [t.params for t in more.trials[:3]] == [t.params for t in first.trials]


class Activation:
    """A Choice option that JSON cannot hold: stored by its repr, resumed as the object itself."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def test_resumed_trials_get_their_parameters_as_drawn(tmp_path: Path) -> None:
    relu, tanh = Activation("relu"), Activation("tanh")
    space = {"lr": search.LogUniform(1e-4, 1.0), "act": search.Choice([relu, tanh])}
    path = tmp_path / "s.sqlite"
    search.random_search(objectives.raise_when, space, n_trials=6, storage=path)
    assert {t.params["act"] for t in search.load(path).trials} <= {"Activation('relu')", "Activation('tanh')"}
    resumed = search.random_search(objectives.raise_when, space, n_trials=8, storage=path)
    assert all(t.params["act"] is relu or t.params["act"] is tanh for t in resumed.trials)


def test_load_round_trips_values_params_and_curves(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    space = {"lr": search.LogUniform(1e-4, 1.0), "shape": search.Choice([(64, 32), "wide", None])}
    result = search.random_search(objectives.raise_when, space, n_trials=20, storage=path)
    loaded = search.load(path)
    assert loaded.metric == "value" and loaded.mode == "max" and loaded.seed == 0 and loaded.space == space
    for a, b in zip(result.trials, loaded.trials):
        assert a.params == b.params and type(a.params["shape"]) is type(b.params["shape"])
        assert a.status == b.status and a.error == b.error and a.curve == b.curve
        assert (
            (a.value is None and b.value is None) or a.value == b.value or (math.isnan(a.value) and math.isnan(b.value))
        )
    assert loaded.best.number == result.best.number


# ============================================================== lost workers


def test_a_lost_pool_worker_is_retried_then_recorded_as_failed(tmp_path: Path) -> None:
    objective = functools.partial(objectives.kill_worker, folder=str(tmp_path), once=(2,), always=(5,))
    space = {"lr": search.LogUniform(1e-4, 1.0)}
    result = search.random_search(objective, space, n_trials=8, executor=2, retries=1)
    status = {t.number: t.status for t in result.trials}
    assert status == {n: ("failed" if n == 5 else "complete") for n in range(8)}
    assert result.trials[2].attempts >= 2  # died once, then ran again
    assert "died 2 time(s)" in result.trials[5].error and "retries=1" in result.trials[5].error
    survivor = functools.partial(objectives.kill_worker, folder=str(tmp_path), once=(), always=())
    serial = search.random_search(survivor, space, n_trials=8)  # the pool's survivors agree with it
    for a, b in zip(result.trials, serial.trials):
        if a.number != 5:
            assert a.value == b.value and a.params == b.params


def test_retries_zero_records_a_lost_worker_at_once(tmp_path: Path) -> None:
    # Trials 1 and 2 are in the pool together when trial 1 kills it: both run again, alone and
    # uncharged; then trial 1 kills its worker alone, which counts, and retries=0 records it.
    objective = functools.partial(objectives.kill_worker, folder=str(tmp_path), once=(), always=(1,))
    result = search.random_search(objective, {"lr": search.LogUniform(1e-4, 1.0)}, n_trials=3, executor=1)
    assert [t.status for t in result.trials] == ["complete", "failed", "complete"]
    assert "WorkerLost" in result.trials[1].error and "died 1 time(s)" in result.trials[1].error


def test_a_pool_found_broken_when_submitting_is_replaced(tmp_path: Path) -> None:
    # A worker can die between two looks at the trials: the next submit meets the broken pool
    # first. The trial goes to a new pool, and the dead one's trial is still blamed alone.
    import concurrent.futures as cf

    from optim.search.executors import Futures, Lost
    from optim.search.trial import Task

    objective = functools.partial(objectives.kill_worker, folder=str(tmp_path), once=(), always=(0,))
    backend = Futures(1)
    try:
        killer = backend.submit(Task(objective, 0, 1, {"lr": 0.01}, 0, "value", "max", remote=True))
        cf.wait([killer])  # its worker has died and the pool knows it; the driver has not looked yet
        survivor = backend.submit(Task(objective, 1, 1, {"lr": 0.01}, 0, "value", "max", remote=True))
        assert backend.outcome(survivor).metrics == {"value": 0.0}
        with pytest.raises(Lost) as lost:
            backend.outcome(killer)
        assert lost.value.alone and "died" in lost.value.reason
        assert len(backend.replacements) == 1
    finally:
        backend.close()


def test_a_broken_pools_leftover_workers_are_stopped(tmp_path: Path) -> None:
    # A worker started for a trial submitted while the pool was breaking can outlive the pool's
    # own clean-up, and the pool's thread would wait for it at exit: the search stops it.
    import concurrent.futures as cf
    import multiprocessing
    import time

    from optim.search.executors import Futures, Lost
    from optim.search.trial import Task

    objective = functools.partial(objectives.kill_worker, folder=str(tmp_path), once=(), always=(0,))
    backend = Futures(1)
    try:
        killer = backend.submit(Task(objective, 0, 1, {"lr": 0.01}, 0, "value", "max", remote=True))
        cf.wait([killer])
        pool = backend.pool
        pool._executor_manager_thread.join(timeout=30)  # the pool's own clean-up is over
        straggler = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
        straggler.start()
        pool._processes[straggler.pid] = straggler  # as if the racing submit had started it
        with pytest.raises(Lost):
            backend.outcome(killer)
        straggler.join(timeout=30)
        assert not straggler.is_alive() and straggler.exitcode is not None
    finally:
        backend.close()


# ============================================================== pruning


def test_pruners_by_hand() -> None:
    median = search.MedianPruner(warmup_steps=1, n_startup_trials=2)
    others = [[(0, 1.0), (1, 2.0), (2, 3.0)], [(0, 1.0), (1, 4.0), (2, 5.0)], [(0, 9.0)]]
    assert median.prune([(0, 0.0), (1, 2.5)], others, "max")  # median of 2 and 4 is 3 > 2.5
    assert not median.prune([(0, 0.0), (1, 3.5)], others, "max")
    assert not median.prune([(0, 0.0)], others, "max")  # warm-up
    assert not median.prune([(0, 0.0), (1, 2.5)], others, "min")
    assert median.prune([(0, 0.0), (1, float("nan"))], others, "max")
    assert not search.MedianPruner(warmup_steps=1, n_startup_trials=5).prune([(0, 0.0), (1, 0.0)], others, "max")

    sha = search.SuccessiveHalving(min_steps=1, eta=3)
    assert [sha.rung(s) for s in (0, 1, 2, 3, 8, 9)] == [None, 1, 1, 3, 3, 9]
    rung1 = [[(0, 0.0), (1, float(v))] for v in range(1, 6)]  # five others reached step 1 with 1..5
    assert not sha.prune([(0, 0.0), (1, 4.5)], rung1, "max")  # 6 values at the rung: the best 2 go on
    assert sha.prune([(0, 0.0), (1, 3.5)], rung1, "max")
    assert not sha.prune([(0, 0.0), (1, 3.5)], rung1, "min")
    assert not sha.prune([(0, 9.0)], rung1, "max")  # before the first rung
    with pytest.raises(ValueError, match="eta"):
        search.SuccessiveHalving(eta=1)
    with pytest.raises(ValueError, match="warmup_steps"):
        search.MedianPruner(warmup_steps=-1)


def test_median_pruner_stops_trials_that_are_behind_serially() -> None:
    pruner = search.MedianPruner(warmup_steps=1, n_startup_trials=3)
    space = {"q": search.Uniform(0.0, 1.0)}
    result = search.random_search(objectives.climb, space, n_trials=20, metric="score", pruner=pruner, seed=0)
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned and len(pruned) < 20
    for t in result.trials:
        earlier = [
            [(p["step"], p["score"]) for p in u.curve]
            for u in result.trials[: t.number]
            if u.status in ("complete", "pruned")
        ]
        own = [(p["step"], p["score"]) for p in t.curve]
        if t.status == "pruned":  # stopped at the first step the rule says so, curve kept
            assert len(t.curve) < 6 and t.value == t.curve[-1]["score"]
            assert pruner.prune(own, earlier, "max")
            assert not any(pruner.prune(own[:k], earlier, "max") for k in range(1, len(own)))
        else:
            assert len(t.curve) == 6 and not any(pruner.prune(own[:k], earlier, "max") for k in range(1, 7))
    assert result.best.status == "complete"


def test_successive_halving_prunes_in_a_process_pool(pool) -> None:
    space = {"q": search.Uniform(0.0, 1.0)}
    result = search.random_search(
        objectives.climb,
        space,
        n_trials=12,
        metric="score",
        pruner=search.SuccessiveHalving(min_steps=1, eta=3),
        executor=pool,
    )
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned and all(1 <= t.curve[-1]["step"] < 5 for t in pruned)
    assert max(t.value for t in result.trials if t.status == "complete") == result.best.value


def test_trial_report_checks_its_input() -> None:
    trial = search.Trial(0, {"lr": 0.1}, metric="acc")
    trial.report(1, acc=0.5)
    trial.report(1, loss=0.2)  # the same step: added to that point
    assert trial.curve == [{"step": 1, "acc": 0.5, "loss": 0.2}]
    with pytest.raises(ValueError, match="must not decrease"):
        trial.report(0, acc=0.1)
    with pytest.raises(ValueError, match="at least one metric"):
        trial.report(2)
    with pytest.raises(TypeError, match="must be a number"):
        trial.report(2, acc="high")


# ============================================================== coarse to fine


def test_zoom_narrows_on_each_parameter_s_own_scale() -> None:
    lr = search.LogUniform(1e-4, 1.0)
    z = zoom_one(lr, [1e-3, 1e-2], 0.5, lr)  # log10 span [-3, -2], widened by 0.5 on each side
    assert (math.log10(z.low), math.log10(z.high)) == pytest.approx((-3.5, -1.5))
    beta = search.OneMinusLogUniform(0.9, 0.999)
    z = zoom_one(beta, [0.99, 0.995], 0.5, beta)  # on log10(1 - beta): [-2.301, -2]
    assert isinstance(z, search.OneMinusLogUniform)
    assert math.log10(1 - z.high) == pytest.approx(math.log10(0.005) - 0.5 * math.log10(2))
    assert math.log10(1 - z.low) == pytest.approx(-2 + 0.5 * math.log10(2))
    assert zoom_one(lr, [0.5, 0.9], 1.0, lr).high == 1.0  # kept inside the original bounds
    z = zoom_one(search.Uniform(0, 1), [0.4, 0.6], 0.5, search.Uniform(0, 1))
    assert isinstance(z, search.Uniform) and (z.low, z.high) == pytest.approx((0.3, 0.7))
    assert zoom_one(search.IntUniform(1, 100), [40, 50], 0.5, search.IntUniform(1, 100)) == search.IntUniform(35, 55)
    single = zoom_one(lr, [1e-2], 0.5, lr)  # one value: at least margin × 10 % of the range
    assert (math.log10(single.low), math.log10(single.high)) == pytest.approx((-2.2, -1.8))
    sizes = search.Choice([16, 32, 64, 128, 256])
    assert zoom_one(sizes, [32, 128], 0.5, sizes) == search.Choice([32, 64, 128])
    acts = search.Choice(["relu", "tanh", "sigmoid"])
    assert zoom_one(acts, ["sigmoid", "relu"], 0.5, acts) == search.Choice(["relu", "sigmoid"])


def test_coarse_to_fine_runs_rounds_inside_the_zoomed_boxes() -> None:
    space = {"lr": search.LogUniform(1e-4, 1.0), "beta": search.OneMinusLogUniform(0.9, 0.999)}
    result = search.coarse_to_fine(objectives.bowl, space, rounds=3, n_trials=[12, 8, 8], top=4, metric="score")
    assert [t.round for t in result.trials] == [1] * 12 + [2] * 8 + [3] * 8
    assert [t.number for t in result.trials] == list(range(28))
    assert result.spaces[1] == space
    for r in (2, 3):
        before = search.SearchResult([t for t in result.trials if t.round < r], "score", "max", 0, space)
        assert result.spaces[r] == before.zoom(top=4, margin=0.5)
        for t in result.trials:
            if t.round == r:
                for name, dist in result.spaces[r].items():
                    assert dist.low <= t.params[name] <= dist.high
                    assert space[name].low <= dist.low <= dist.high <= space[name].high
    width = {r: math.log10(result.spaces[r]["lr"].high / result.spaces[r]["lr"].low) for r in (1, 2, 3)}
    assert width[1] == 4 and width[2] < width[1]
    assert abs(math.log10(result.best_params["lr"]) + 2) < 0.5


def test_coarse_to_fine_resumes_in_any_round(tmp_path: Path) -> None:
    log = str(tmp_path / "calls.txt")
    Path(log + ".stop").touch()
    objective = functools.partial(objectives.interrupt_at, log=log, at=13)  # in round 2
    path = tmp_path / "c2f.sqlite"
    kwargs = {"rounds": 2, "n_trials": 10, "top": 3, "storage": path}
    with pytest.raises(KeyboardInterrupt):
        search.coarse_to_fine(objective, SPACE, **kwargs)
    os.remove(log + ".stop")
    Path(log).write_text("")
    resumed = search.coarse_to_fine(objective, SPACE, **kwargs)
    assert Path(log).read_text().split() == [str(n) for n in range(13, 20)]
    same_trials(resumed, search.coarse_to_fine(objective, SPACE, rounds=2, n_trials=10, top=3))
    assert search.load(path).spaces[2] == resumed.spaces[2]


# ============================================================== results


def test_to_pandas_tables() -> None:
    pytest.importorskip("pandas")
    result = search.random_search(objectives.bowl, SPACE, n_trials=5, metric="score")
    df = result.to_pandas()
    assert list(df.index) == list(range(5))
    assert {"round", "status", "value", "lr", "h", "score", "loss", "seconds", "error"} <= set(df.columns)
    assert df["value"].tolist() == [t.value for t in result.trials]
    curves = result.to_pandas(curves=True)
    assert len(curves) == 20 and {"number", "step", "score", "loss"} <= set(curves.columns)


def test_plots_use_log_axes_and_show_the_rounds() -> None:
    pytest.importorskip("matplotlib")
    space = {
        "lr": search.LogUniform(1e-4, 1.0),
        "beta": search.OneMinusLogUniform(0.9, 0.999),
        "h": search.IntUniform(1, 5),
        "batch": search.Choice([32, 64]),
    }
    result = search.coarse_to_fine(objectives.bowl, space, rounds=2, n_trials=8, top=3, metric="score")
    fig = result.plot()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 5  # one per parameter and the pair
    lr, beta, h, batch, pair = axes
    assert lr.get_xscale() == "log" and beta.get_xscale() == "log" and h.get_xscale() == "linear"
    assert beta.get_xlabel() == "1 − beta (log scale)" and lr.get_xlabel() == "lr (log scale)"
    assert pair.get_xlabel() == "lr (log scale)" and pair.get_ylabel() == "1 − beta (log scale)"
    assert len(pair.patches) == 1  # round 2's box
    xs = np.concatenate([c.get_offsets()[:, 0] for c in beta.collections if len(c.get_offsets())])
    assert xs.max() <= 0.1 + 1e-12 and xs.min() >= 1e-3 - 1e-12  # 1 - beta is drawn, not beta
    labels = [t.get_text() for t in lr.get_legend().get_texts()]
    assert "round 1" in labels and "round 2" in labels
    curves = result.plot_curves()
    assert len(curves.axes[0].lines) >= 16


def test_best_without_a_complete_trial_says_so() -> None:
    result = search.random_search(objectives.raise_when, {"lr": search.LogUniform(1e-5, 1e-4)}, n_trials=3)
    with pytest.raises(ValueError, match="no trial completed.*3 failed"):
        _ = result.best
    with pytest.raises(ValueError, match="no trial completed"):
        result.zoom()


# ============================================================== optional dependencies


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_import_optim_imports_no_optional_dependency() -> None:
    done = run_python(
        """
        import sys
        import optim
        from optim import search
        search.random_search(lambda p, t: p["x"], {"x": search.Uniform(0, 1)}, n_trials=3)
        heavy = sorted(m for m in ("dask", "distributed", "pandas", "matplotlib") if m in sys.modules)
        print(heavy)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_the_extras_serial_and_pool_work_and_the_rest_says_what_to_install() -> None:
    done = run_python(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        for name in ("dask", "distributed", "pandas", "matplotlib"):
            sys.modules[name] = None  # makes importing it fail, as when it is not installed
        import search_objectives
        from optim import search
        from optim.search.executors import Dask

        space = {{"lr": search.LogUniform(1e-4, 1.0)}}
        if __name__ == "__main__":
            a = search.random_search(search_objectives.bowl, space, n_trials=4, metric="score")
            b = search.random_search(search_objectives.bowl, space, n_trials=4, metric="score", executor=2)
            assert [t.value for t in a.trials] == [t.value for t in b.trials]
            for call in (a.to_pandas, a.plot, a.plot_curves, lambda: Dask(object())):
                try:
                    call()
                except ImportError as err:
                    print(err)
        """
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4
    assert 'pip install "autograd-core[search]"' in lines[0] and "pandas" in lines[0]
    assert 'pip install "autograd-core[plot]"' in lines[1] and 'pip install "autograd-core[plot]"' in lines[2]
    assert 'pip install "autograd-core[search]"' in lines[3] and "distributed" in lines[3]


# ============================================================== Dask


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    # allowed_failures=0: Dask gives up on a task at its first dead worker, so the search's own
    # retries are what is tested (by default Dask re-runs it 3 times first).
    cluster = distributed.LocalCluster(
        processes=True,
        n_workers=2,
        threads_per_worker=1,
        dashboard_address=None,
        scheduler_kwargs={"allowed_failures": 0},
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_gives_the_serial_and_pool_results(dask_client) -> None:
    serial = search.random_search(objectives.bowl, SPACE, n_trials=10, metric="score", seed=4)
    on_dask = search.random_search(objectives.bowl, SPACE, n_trials=10, metric="score", seed=4, executor=dask_client)
    same_trials(serial, on_dask)
    # The pool run of the same seed is compared with serial in test_process_pool_gives_the_serial_results.


def test_dask_prunes_fails_and_stores(dask_client, tmp_path: Path) -> None:
    result = search.random_search(
        objectives.climb,
        {"q": search.Uniform(0.0, 1.0)},
        n_trials=12,
        metric="score",
        pruner=search.MedianPruner(warmup_steps=1, n_startup_trials=2),
        executor=dask_client,
        storage=tmp_path / "d.sqlite",
    )
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned and all(len(t.curve) < 6 and t.value == t.curve[-1]["score"] for t in pruned)
    assert [t.number for t in search.load(tmp_path / "d.sqlite").trials] == list(range(12))
    failing = search.random_search(
        objectives.raise_when, {"lr": search.LogUniform(1e-4, 1.0)}, n_trials=12, executor=dask_client
    )
    same_trials(failing, search.random_search(objectives.raise_when, {"lr": search.LogUniform(1e-4, 1.0)}, n_trials=12))


def test_dask_lost_worker_is_retried(dask_client, tmp_path: Path) -> None:
    objective = functools.partial(objectives.kill_worker, folder=str(tmp_path), once=(1,), always=())
    space = {"lr": search.LogUniform(1e-4, 1.0)}
    result = search.random_search(objective, space, n_trials=4, executor=dask_client, retries=1)
    assert [t.status for t in result.trials] == ["complete"] * 4
    assert result.trials[1].attempts == 2
    same_trials(result, search.random_search(objective, space, n_trials=4))


def test_every_executor_computes_with_the_same_blas_threads(dask_client, pool) -> None:
    """One BLAS thread per trial by default, the user's count when set, on every executor: the same
    bits everywhere (a dot product of 20,000 has other last bits with 2 threads than with 1), and the
    driver's own count is back when the search ends."""
    from threadpoolctl import threadpool_limits

    import autograd_core as ag

    space = {"scale": search.Uniform(1.0, 2.0)}
    values = {}
    for user in (None, 2):
        if user is not None:
            ag.set_num_threads(user)
        want = user or 1
        # The driver's own count is the other one; the workers start with NumPy's, or Dask's 1.
        with threadpool_limits(limits=3 - want, user_api="blas"), ThreadPoolExecutor(2) as threads:
            results = {}
            for name, executor in [("serial", None), ("own", 2), ("pool", pool), ("threads", threads),
                                   ("dask", dask_client)]:  # fmt: skip
                results[name] = search.random_search(objectives.long_dot, space, n_trials=4, seed=5, executor=executor)
                assert ag.get_num_threads() == 3 - want, name
        for name, result in results.items():
            assert [t.metrics["threads"] for t in result.trials] == [want] * 4, name
            same_trials(results["serial"], result)
        values[user] = [t.value for t in results["serial"].trials]
    assert values[None] != values[2]  # the count decides the bits: the agreement above is not by chance


# ============================================================== shared storage, timeouts, dying drivers


def test_a_value_too_large_for_a_float_is_recorded_as_diverged(tmp_path: Path) -> None:
    result = search.random_search(objectives.huge, SPACE, n_trials=4, storage=tmp_path / "s.sqlite")
    assert [t.status for t in result.trials] == ["complete", "diverged", "diverged", "complete"]
    assert result.trials[1].value == math.inf and result.trials[1].curve == [{"step": 0, "value": math.inf}]
    assert result.trials[2].value == -math.inf and result.trials[2].metrics["other"] == 1.0
    assert [t.status for t in search.load(tmp_path / "s.sqlite").trials] == [t.status for t in result.trials]


def test_a_write_lock_held_past_the_busy_timeout_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    # Another connection holds the file's write lock when trial 2 finishes, for longer than
    # SQLite's busy timeout: the storage waits and retries (saying so) instead of losing the trial.
    import threading

    from optim.search import storage as storage_module

    monkeypatch.setattr(storage_module, "BUSY_TIMEOUT", 0.05)
    real_wait = storage_module._wait
    held, release = threading.Event(), threading.Event()

    def wait(seconds: float) -> None:  # the storage is about to retry: now let the holder go
        release.set()
        real_wait(seconds)

    monkeypatch.setattr(storage_module, "_wait", wait)
    path = tmp_path / "s.sqlite"

    def hold() -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        db.execute("COMMIT")
        db.close()

    holder = threading.Thread(target=hold)

    def objective(params, trial):
        if trial.number == 2:
            holder.start()
            held.wait(30)
        return params["lr"]

    try:
        with pytest.warns(RuntimeWarning, match="locked by another connection"):
            result = search.random_search(objective, SPACE, n_trials=4, storage=path)
    finally:
        release.set()
        holder.join(30)
    assert release.is_set() and [t.status for t in result.trials] == ["complete"] * 4
    same_trials(search.load(path), result)


def log_lines(folder: Path) -> list[tuple[int, int]]:
    """The ``(trial number, pid)`` of each start that ``objectives.gated`` logged."""
    path = folder / "log"
    return [tuple(map(int, line.split())) for line in path.read_text().split("\n") if line] if path.exists() else []


def poll(condition, what: str, seconds: float = 60.0) -> None:
    """Wait until ``condition()`` holds (checked every 10 ms), failing with ``what`` at the deadline."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def start_driver(call: str, folder: Path, pause: float = 0.0, gate: object = 0) -> subprocess.Popen:
    """A search in a process of its own (``call`` uses ``objective``); it prints its trials as JSON."""
    script = textwrap.dedent(
        f"""
        import functools, json, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        import search_objectives
        from optim import search
        SPACE = {{"lr": search.LogUniform(1e-4, 1.0), "h": search.IntUniform(1, 5)}}
        objective = functools.partial(search_objectives.gated, folder={str(folder)!r}, gate={gate!r}, pause={pause})
        if __name__ == "__main__":
            result = {call}
            print(json.dumps([[t.number, t.round, t.status, t.value, t.params] for t in result.trials]))
        """
    )
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def as_rows(result: search.SearchResult) -> list:
    return [[t.number, t.round, t.status, t.value, t.params] for t in result.trials]


@pytest.mark.skipif(sys.platform == "win32", reason="uses the POSIX process model")
def test_two_drivers_on_one_storage_split_the_trials(tmp_path: Path) -> None:
    # Driver A (another process) claims trial 0 and waits inside it; driver B (here) runs every
    # other trial meanwhile, then waits for A's; A then finds the rest recorded. Each trial runs
    # once, and both drivers return the whole result.
    path, hold = tmp_path / "s.sqlite", tmp_path / "hold"
    hold.touch()
    a = start_driver(f"search.random_search(objective, SPACE, n_trials=8, storage={str(path)!r})", tmp_path)
    try:
        poll(lambda: (0, a.pid) in log_lines(tmp_path), "driver A to start trial 0")
        objective = functools.partial(objectives.gated, folder=str(tmp_path), gate=0)
        mine = []

        def callback(t):
            mine.append(t.number)
            if len(mine) == 7:
                hold.unlink()  # now A may finish trial 0

        b = search.random_search(objective, SPACE, n_trials=8, storage=path, callback=callback)
        out, _ = a.communicate(timeout=60)
    finally:
        a.kill()
    assert a.returncode == 0 and mine == list(range(1, 8))
    assert sorted(log_lines(tmp_path)) == [(0, a.pid)] + [(n, os.getpid()) for n in range(1, 8)]
    assert [t.status for t in b.trials] == ["complete"] * 8
    assert json.loads(out) == json.loads(json.dumps(as_rows(b)))
    same_trials(search.load(path), b)
    same_trials(b, search.random_search(objective, SPACE, n_trials=8))


@pytest.mark.skipif(sys.platform == "win32", reason="uses the POSIX process model")
def test_a_dead_drivers_claim_is_taken_over(tmp_path: Path) -> None:
    # Driver A claims trial 0 and is killed (SIGKILL) inside it, after driver B has run the
    # others while waiting for it: B takes trial 0 over and returns the whole result.
    path, hold = tmp_path / "s.sqlite", tmp_path / "hold"
    hold.touch()
    a = start_driver(f"search.random_search(objective, SPACE, n_trials=6, storage={str(path)!r})", tmp_path)
    try:
        poll(lambda: (0, a.pid) in log_lines(tmp_path), "driver A to start trial 0")
        objective = functools.partial(objectives.gated, folder=str(tmp_path), gate=0)

        def callback(t):
            if t.number == 5:
                a.kill()
                a.wait(60)
                hold.unlink()

        b = search.random_search(objective, SPACE, n_trials=6, storage=path, callback=callback)
    finally:
        a.kill()
    assert a.returncode == -9
    assert log_lines(tmp_path) == [(0, a.pid)] + [(n, os.getpid()) for n in (1, 2, 3, 4, 5, 0)]
    assert [t.status for t in b.trials] == ["complete"] * 6
    assert sqlite3.connect(path).execute("select count(*) from trials").fetchone() == (6,)
    same_trials(search.load(path), b)


@pytest.mark.skipif(sys.platform == "win32", reason="uses the POSIX process model")
def test_three_drivers_of_a_coarse_to_fine_search_agree(tmp_path: Path) -> None:
    # However the trials fall, each runs once, and every driver returns the same whole result:
    # round 2 is zoomed by each from the same round 1.
    path = tmp_path / "s.sqlite"
    call = f"search.coarse_to_fine(objective, SPACE, rounds=2, n_trials=6, top=2, storage={str(path)!r})"
    drivers = [start_driver(call, tmp_path, pause=0.02) for _ in range(3)]
    try:
        outs = [d.communicate(timeout=120)[0] for d in drivers]
    finally:
        for d in drivers:
            d.kill()
    assert [d.returncode for d in drivers] == [0, 0, 0]
    assert sorted(n for n, _ in log_lines(tmp_path)) == list(range(12))
    rows = [json.loads(out) for out in outs]
    assert rows[0] == rows[1] == rows[2] and [r[:3] for r in rows[0]] == [
        [n, 1 + n // 6, "complete"] for n in range(12)
    ]
    assert sqlite3.connect(path).execute("select count(*) from trials").fetchone() == (12,)


def test_a_claim_of_another_machine_holds_until_its_heartbeat_is_stale(tmp_path: Path, monkeypatch) -> None:
    import time

    from optim.search import storage as st

    monkeypatch.setattr(st, "HEARTBEAT", 0.01)
    path = tmp_path / "s.sqlite"
    with st.SQLiteStorage(path) as mine:
        mine.start(0, "value", "max")
        db = sqlite3.connect(path, isolation_level=None)
        first = db.execute("select beat from drivers where id = ?", (mine.id,)).fetchone()[0]
        poll(lambda: db.execute("select beat from drivers where id = ?", (mine.id,)).fetchone()[0] > first, "a beat")
        # A driver on another machine (its process cannot be looked at from here) claims trial 3.
        db.execute("insert into drivers values ('other', 'another-host', 1, ?)", (time.time(),))
        db.execute("insert into claims values (3, 'other', ?)", (time.time(),))
        assert mine.claim(3) == st.TAKEN and mine.poll([3]) == ({}, [])
        db.execute("update drivers set beat = ? where id = 'other'", (time.time() - st.GRACE - 1,))
        assert mine.poll([3]) == ({}, [3])  # its heartbeat stopped: taken over
        assert mine.claim(3) == st.CLAIMED and mine.claim(4) == st.CLAIMED
    assert db.execute("select count(*) from claims").fetchone() == (0,)  # closing gives them up
    assert db.execute("select id from drivers").fetchall() == []


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


@pytest.mark.skipif(sys.platform == "win32", reason="uses the POSIX process model")
@pytest.mark.parametrize("executor", [None, 2])
def test_a_trial_past_its_timeout_is_stopped_and_recorded_as_failed(tmp_path: Path, executor) -> None:
    (tmp_path / "hold").touch()  # trial 1 waits on it (at most 60 s): it hangs
    objective = functools.partial(objectives.gated, folder=str(tmp_path), gate=1)
    result = search.random_search(objective, SPACE, n_trials=5, executor=executor, timeout=1.5)
    assert [t.status for t in result.trials] == ["complete", "failed", "complete", "complete", "complete"]
    hung = result.trials[1]
    assert hung.error.startswith("TimeoutError:") and "timeout=1.5 s" in hung.error
    assert 1.5 <= hung.seconds < 30 and hung.value is None
    assert [t.attempts for t in result.trials] == [1] * 5  # no other trial was lost with it
    pid = dict(log_lines(tmp_path))[1]
    assert pid != os.getpid() and not running(pid)  # it ran in a process of its own, which was ended
    (tmp_path / "hold").unlink()
    fine = search.random_search(objective, SPACE, n_trials=5)
    assert [t.value for t in result.trials if t.number != 1] == [t.value for t in fine.trials if t.number != 1]


def test_timeout_is_checked_where_it_cannot_apply() -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        search.random_search(objectives.bowl, SPACE, n_trials=2, timeout=0)
    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="ThreadPoolExecutor cannot"):
        search.random_search(objectives.bowl, SPACE, n_trials=2, executor=pool, timeout=5)
    with pytest.raises(TypeError, match="with timeout=, trials run in a process of their own"):
        search.random_search(lambda p, t: 1.0, SPACE, n_trials=2, timeout=5)


def test_dask_stops_a_trial_past_its_timeout(dask_client, tmp_path: Path) -> None:
    (tmp_path / "hold").touch()
    objective = functools.partial(objectives.gated, folder=str(tmp_path), gate=1)
    result = search.random_search(objective, SPACE, n_trials=4, executor=dask_client, timeout=1.5)
    assert [t.status for t in result.trials] == ["complete", "failed", "complete", "complete"]
    assert result.trials[1].error.startswith("TimeoutError:") and result.trials[1].seconds >= 1.5
    pid = dict(log_lines(tmp_path))[1]
    poll(lambda: not running(pid), "the hung trial's worker process to be restarted")
    (tmp_path / "hold").unlink()
    after = search.random_search(objectives.bowl, SPACE, n_trials=4, metric="score", executor=dask_client)
    same_trials(after, search.random_search(objectives.bowl, SPACE, n_trials=4, metric="score"))  # it works on


@pytest.mark.skipif(sys.platform == "win32", reason="uses the POSIX process model")
@pytest.mark.parametrize("timeout", [None, 30])
def test_pool_workers_exit_when_their_driver_is_killed(tmp_path: Path, timeout) -> None:
    (tmp_path / "hold").touch()  # trials 0 and 1 hang in the two workers
    call = f"search.random_search(objective, SPACE, n_trials=4, executor=2, timeout={timeout})"
    driver = start_driver(call, tmp_path, gate=(0, 1))
    try:
        poll(lambda: len(log_lines(tmp_path)) == 2, "both workers to start a trial")
        workers = [pid for _, pid in log_lines(tmp_path)]
        assert driver.pid not in workers and all(running(pid) for pid in workers)
        driver.kill()
        driver.wait(60)
        poll(lambda: not any(running(pid) for pid in workers), "the workers to exit", seconds=20)
    finally:
        driver.kill()
        (tmp_path / "hold").unlink()


def test_without_a_pruner_every_executor_gives_the_same_result(pool) -> None:
    # Coarse to fine with failed and diverged trials: round 2's box depends on every result of
    # round 1, so a single difference would show. (With a pruner, a parallel search's results
    # depend on which trials had finished when each started: not compared.)
    space = {"lr": search.LogUniform(1e-4, 1.0), "h": search.IntUniform(1, 5)}
    kwargs = {"rounds": 2, "n_trials": 10, "top": 3, "seed": 5}
    serial = search.coarse_to_fine(objectives.raise_when, space, **kwargs)
    assert {"complete", "failed", "diverged"} <= set(serial.counts()) and serial.spaces[2] != space
    for executor in (2, pool):
        parallel = search.coarse_to_fine(objectives.raise_when, space, executor=executor, **kwargs)
        same_trials(serial, parallel)
        assert parallel.spaces == serial.spaces


@pytest.mark.skipif(sys.platform == "win32", reason="uses the POSIX process model")
def test_an_idle_worker_killed_from_outside_is_replaced() -> None:
    import signal

    from optim.search.executors import Processes
    from optim.search.trial import Task

    backend = Processes(1)
    try:
        first = backend.submit(Task(objectives.bowl, 0, 1, {"lr": 0.01}, 0, "score", "max", remote=True))
        assert backend.outcome(backend.wait([first])[0]).metrics is not None
        os.kill(first.worker.process.pid, signal.SIGKILL)
        first.worker.process.join(30)
        second = backend.submit(Task(objectives.bowl, 1, 1, {"lr": 0.01}, 0, "score", "max", remote=True))
        assert backend.outcome(backend.wait([second])[0]).metrics is not None
        assert second.worker is not first.worker and len(backend.pool) == 1
    finally:
        backend.close()


# ============================================================== FitPruning


def test_fit_pruning_stops_the_fits_the_pruner_says_are_behind() -> None:
    pruner = search.MedianPruner(warmup_steps=1, n_startup_trials=2)
    space = {"lr": search.LogUniform(1e-4, 1e-1)}
    result = search.random_search(
        objectives.fit_mlp, space, n_trials=10, metric="val_loss", mode="min", pruner=pruner, seed=0
    )
    assert [t.status for t in result.trials].count("failed") == 0
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned and result.best.status == "complete"
    for t in result.trials:
        own = [(p["step"], p["val_loss"]) for p in t.curve]
        assert [s for s, _ in own] == list(range(len(own)))  # every epoch reported, as the callbacks count them
        assert t.metrics["epochs"] == len(own) and t.value == own[-1][1] == t.metrics["val_loss"]
        earlier = [
            [(p["step"], p["val_loss"]) for p in u.curve]
            for u in result.trials[: t.number]
            if u.status in ("complete", "pruned")
        ]
        stops = [k for k in range(1, len(own) + 1) if pruner.prune(own[:k], earlier, "min")]
        # The fit stopped after the first epoch at which the pruner said so, and only then.
        assert (t.status == "pruned") == bool(stops) and len(own) == (stops[0] if stops else 6)


@pytest.mark.parametrize(
    "monitor, metric, mode, message",
    [
        ("val_loss", "val_accuracy", "max", "monitor 'val_loss' is not the search's metric 'val_accuracy'"),
        ("val_loss", "val_loss", "max", "a loss is better smaller: run the search with mode='min'"),
        ("val_accuracy", "val_accuracy", "min", "an accuracy is better larger"),
        ("val_f1", "val_f1", "max", r"monitor 'val_f1' is not logged by this fit; it logs \['accuracy', 'loss'"),
        ("val_loss", "val_loss", "min", None),
    ],
)
def test_fit_pruning_refuses_a_monitor_the_search_does_not_rank_by(monitor, metric, mode, message) -> None:
    objective = functools.partial(objectives.fit_mlp, monitor=monitor, epochs=3)
    trial = search.Trial(0, {"lr": 0.01}, metric=metric, mode=mode, pruner=search.MedianPruner())
    if message is None:  # the right pairing: every epoch reported
        objective({"lr": 0.01}, trial)
        assert [p["step"] for p in trial.curve] == [0, 1, 2]
        return
    with pytest.raises(ValueError, match=message):
        objective({"lr": 0.01}, trial)
    assert trial.curve == []  # refused at the first report, before reporting anything
    # In a search, the trials fail with that message: the search does not run a pruner that never prunes.
    result = search.random_search(
        objective, {"lr": search.LogUniform(1e-3, 1e-2)}, n_trials=2, metric=metric, mode=mode
    )
    assert [t.status for t in result.trials] == ["failed", "failed"]
    assert all("FitPruning" in t.error and "ValueError" in t.error for t in result.trials)


def test_fit_pruning_is_a_callback_and_checks_its_arguments() -> None:
    import nn

    trial = search.Trial(0, {}, metric="val_loss", mode="min")
    assert isinstance(search.FitPruning(trial), nn.Callback) and search.FitPruning(trial).monitor == "val_loss"
    with pytest.raises(TypeError, match="the search's Trial"):
        search.FitPruning(None)
    with pytest.raises(TypeError, match="monitor"):
        search.FitPruning(trial, monitor=3)


def test_optim_search_imports_nn_only_for_fit_pruning() -> None:
    done = run_python(
        """
        import sys
        from optim import search
        before = "nn" in sys.modules
        search.FitPruning
        print(before, "nn" in sys.modules)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
