"""ag.set_num_threads / ag.get_num_threads, and the BLAS threads nn.fit, nn.predict and nn.evaluate run with:
one by default (NumPy's own count for large matrix products), the user's count when set, the count from
before restored afterwards, and the same bits in a resumed fit as in the uninterrupted one whatever the
process's own count. (The search: tests/test_search.py.)

``threadpool_limits`` from threadpoolctl stands for a count the process has that the user did not give to
``ag.set_num_threads`` (NumPy's default of one thread per core, ``OPENBLAS_NUM_THREADS`` in a new shell).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import autograd_core as ag
import nn
from autograd_core import threads

N = 20_000  # OpenBLAS splits a dot product longer than 10,000 between its threads
X = np.random.default_rng(0).standard_normal((60, 4))
Y = np.arange(60) % 3


@pytest.fixture(autouse=True)
def no_count_in_the_environment(monkeypatch) -> None:
    """The defaults are tested in a process whose environment sets no BLAS count (one that does is the
    user's choice, tested on its own)."""
    for name in threads.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def process_count(n: int) -> threadpool_limits:
    return threadpool_limits(limits=n, user_api="blas")


class Scaled(nn.Module):
    """A Dense layer scaled by v·v / N: a dot product of 20,000, so every weight's last bits depend on the
    BLAS threads. Records the threads each forward pass ran with."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Dense(4, 3, rng=0)
        self.v = nn.Parameter(np.random.default_rng(1).standard_normal(N))
        self.seen: list[int] = []

    def forward(self, x):
        self.seen.append(ag.get_num_threads())
        return self.dense(x) * (ag.dot(self.v, self.v) / N)


def train(epochs: int, **kwargs) -> tuple[Scaled, nn.History]:
    model = Scaled()
    history = nn.fit(
        model, X, Y, loss="cross_entropy", optimizer="adam", lr=0.01, epochs=epochs, batch_size=16, seed=0,
        verbose=0, **kwargs,
    )  # fmt: skip
    return model, history


def weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_bits(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_a_long_dot_product_has_other_bits_with_two_threads() -> None:
    """The premise of the bit-for-bit tests: they would pass by chance if it did not hold."""
    a, b = np.random.default_rng(3).standard_normal((2, N))
    with process_count(1):
        one = a @ b
    with process_count(2):
        two = a @ b
    assert one != two


def test_set_and_get() -> None:
    ag.set_num_threads(1)
    assert ag.get_num_threads() == 1 and threads.count() == 1
    ag.set_num_threads(2)
    assert ag.get_num_threads() == 2 and threads.count() == 2
    assert threadpool_limits(user_api="blas").get_original_num_threads()["blas"] == 2  # threadpoolctl agrees


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", None, True])
def test_set_num_threads_refuses_what_is_not_a_positive_integer(bad) -> None:
    error = ValueError if isinstance(bad, float) or (isinstance(bad, int) and not isinstance(bad, bool)) else TypeError
    with pytest.raises(error, match=r"ag.set_num_threads: n must be a positive integer, got"):
        ag.set_num_threads(bad)


def test_fit_predict_and_evaluate_run_with_one_thread_and_put_the_count_back() -> None:
    with process_count(2):
        model, _ = train(3, validation_split=0.25)
        assert set(model.seen) == {1} and ag.get_num_threads() == 2
        model.seen.clear()
        nn.predict(model, X, batch_size=16)
        assert model.seen == [1] * 4 and ag.get_num_threads() == 2
        model.seen.clear()
        nn.evaluate(model, X, Y, loss="cross_entropy")
        assert model.seen == [1] and ag.get_num_threads() == 2


class Wide(Scaled):
    """Scaled with a weight matrix of 1024 × 2048 (unused): on batches of 16 its products count as large."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Parameter(np.zeros((1024, 2048)))


def test_large_matrix_products_run_with_numpys_count_by_default() -> None:
    """By default fit, predict and evaluate run with NumPy's own count when the model's largest matrix
    product on a batch (the batch times its largest weight matrix) is large, with one thread otherwise;
    the count depends on the model and the batch size only, and the user's count still wins."""
    assert nn.evaluation.blas_work(Wide(), 16) >= threads.LARGE > nn.evaluation.blas_work(Wide(), 8)
    with process_count(2):
        model = Wide()
        nn.fit(model, X, Y, loss="cross_entropy", optimizer="sgd", batch_size=16, verbose=0)
        assert set(model.seen) == {2} and ag.get_num_threads() == 2
        model.seen.clear()
        nn.predict(model, X, batch_size=16)
        nn.evaluate(model, X, Y, loss="cross_entropy", batch_size=16)
        assert set(model.seen) == {2}
        model.seen.clear()
        nn.predict(model, X, batch_size=8)  # half the work: small
        nn.fit(model, X[:8], Y[:8], loss="cross_entropy", optimizer="sgd", batch_size=16, verbose=0)
        assert set(model.seen) == {1} and ag.get_num_threads() == 2
    with process_count(3):  # NumPy's own count, whatever it is
        model.seen.clear()
        nn.predict(model, X, batch_size=16)
        assert set(model.seen) == {3}
        model.seen.clear()
        ag.set_num_threads(1)  # the user's count wins
        nn.fit(model, X, Y, loss="cross_entropy", optimizer="sgd", batch_size=16, verbose=0)
        assert set(model.seen) == {1}


def test_the_count_comes_back_when_fit_raises() -> None:
    def loss(out, y):
        raise RuntimeError("a bad loss")

    with process_count(2):
        with pytest.raises(RuntimeError, match="a bad loss"):
            nn.fit(Scaled(), X, Y, loss=loss, optimizer="sgd", verbose=0)
        assert ag.get_num_threads() == 2


@pytest.mark.parametrize("user", [1, 2])
def test_a_count_the_user_set_wins(user: int) -> None:
    ag.set_num_threads(user)
    with process_count(3 - user):  # the process's own count is the other one
        model, _ = train(2, validation_split=0.25)
        assert set(model.seen) == {user} and ag.get_num_threads() == 3 - user
        model.seen.clear()
        nn.predict(model, X)
        assert model.seen == [user]


@pytest.mark.parametrize("name", threads.ENVIRONMENT)
def test_a_count_set_in_the_environment_wins_over_the_default(monkeypatch, name: str) -> None:
    monkeypatch.setenv(name, "2")
    with process_count(1):
        model, _ = train(2)
        assert set(model.seen) == {2} and ag.get_num_threads() == 1
    monkeypatch.setenv(name, "not a number")  # ignored, as the BLAS libraries ignore it
    with process_count(2):
        model, _ = train(1)
        assert set(model.seen) == {1}


def test_a_count_set_during_fit_holds_from_then_on() -> None:
    class SetTwo(nn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                ag.set_num_threads(2)

    with process_count(1):
        model, _ = train(2, callbacks=[SetTwo()])
        per_epoch = len(model.seen) // 2
        assert model.seen == [1] * per_epoch + [2] * per_epoch
        assert ag.get_num_threads() == 2 and threads.count() == 2  # not put back to the count from before fit


def test_fits_in_two_threads_keep_the_count_until_the_last_ends() -> None:
    """Two fits at once (a search on a thread pool, say): the first to end leaves the count to the other."""
    first_done = threading.Event()
    models: dict[str, Scaled] = {}

    class WaitForFirst(nn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                assert first_done.wait(60)

    def run(name: str, epochs: int, callbacks: list) -> None:
        models[name], _ = train(epochs, callbacks=callbacks)
        if name == "first":
            first_done.set()

    with process_count(2):
        second = threading.Thread(target=run, args=("second", 3, [WaitForFirst()]))
        second.start()
        run("first", 1, [])
        second.join()
        assert set(models["first"].seen) == {1} and set(models["second"].seen) == {1}
        assert ag.get_num_threads() == 2


@pytest.mark.parametrize("user", [None, 2])
def test_a_resumed_fit_is_the_uninterrupted_one_bit_for_bit(tmp_path: Path, user: int | None) -> None:
    """Stopped and resumed where the process has another count (a new shell with OPENBLAS_NUM_THREADS=1, a
    machine with more cores), the fit computes with its own count throughout: the same weights and history."""
    if user is not None:
        ag.set_num_threads(user)
    with process_count(2):
        full, full_history = train(4)
        train(2, checkpoint=tmp_path / "run.npz")
    with process_count(1):
        resumed, resumed_history = train(4, resume=tmp_path / "run.npz")
    assert_same_bits(weights(full), weights(resumed))
    assert resumed_history.history == full_history.history
    # ... and it is the count that decides: the other one gives other bits.
    ag.set_num_threads(1 if user == 2 else 2)
    other, _ = train(4)
    assert not np.array_equal(weights(other)["dense.weight"], weights(full)["dense.weight"])


def test_without_a_blas_it_can_control_set_num_threads_warns_once_and_the_calls_still_run(monkeypatch) -> None:
    """Apple's Accelerate, say: threadpoolctl finds nothing; the count cannot be applied, and says so."""
    monkeypatch.setattr(threads, "_libs", [])
    monkeypatch.setattr(threads, "_warned", False)
    monkeypatch.setattr(threads, "_blas", lambda refresh=False: [])
    with pytest.warns(RuntimeWarning, match="finds no BLAS it can control"):
        ag.set_num_threads(3)
    assert ag.get_num_threads() == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once is enough
        ag.set_num_threads(2)
        model, _ = train(1)
    assert model.seen == [2] * 4 and nn.predict(model, X).shape == (60, 3)
