"""nn.fit and its parts: batches, accuracy, evaluate/predict, History, callbacks, progress, checkpoints."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import nn
import optim
from nn import checkpoint as ckpt
from nn import progress

# ============================================================== helpers


def blobs(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable classes in 4 dimensions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(n, 4)) * 0.5
    x[np.arange(n), y] += 2.0
    return x, y


def mlp(seed: int = 0, batchnorm: bool = False, dropout: bool = False) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = [nn.Dense(4, 8, bias=not batchnorm, rng=rng)]
    if batchnorm:
        layers.append(nn.BatchNorm(8))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout(0.2))  # masks from nn's generator
    layers.append(nn.Dense(8, 3, rng=rng))
    return nn.Sequential(*layers)


def weights(model: nn.Module) -> dict[str, np.ndarray]:
    return model.state_dict()


def same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


CE = nn.softmax_cross_entropy


# ============================================================== batches and accuracy


def test_batches_in_order_are_views_and_cover_the_data() -> None:
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    got = list(nn.batches(x, y, batch_size=4))
    assert [len(xb) for xb, _ in got] == [4, 4, 2]
    assert np.shares_memory(got[0][0], x)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), y)
    assert [len(xb) for xb, _ in nn.batches(x, y, batch_size=4, drop_last=True)] == [4, 4]
    assert [xb.tolist() for xb in nn.batches(np.arange(3), batch_size=2)] == [[0, 1], [2]]


def test_batches_shuffle_is_seeded_and_keeps_pairs() -> None:
    x = np.arange(30.0)
    y = np.arange(30) * 10
    first = [(xb, yb) for xb, yb in nn.batches(x, y, batch_size=7, shuffle=True, rng=3)]
    again = [(xb, yb) for xb, yb in nn.batches(x, y, batch_size=7, shuffle=True, rng=np.random.default_rng(3))]
    for (a, b), (c, d) in zip(first, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
        np.testing.assert_array_equal(b, a * 10)  # pairs stay together
    seen = np.concatenate([xb for xb, _ in first])
    assert sorted(seen.tolist()) == x.tolist() and seen.tolist() != x.tolist()


def test_batches_bad_input() -> None:
    with pytest.raises(ValueError, match="x has 5 examples but y has 4"):
        nn.batches(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        nn.batches(np.zeros((5, 2)), batch_size=0)
    with pytest.raises(TypeError, match="rng must be"):
        nn.batches(np.zeros(5), shuffle=True, rng="seed")


def test_accuracy_with_indices_and_one_hot() -> None:
    z = np.array([[2.0, 0.1, 0.0], [0.3, 0.9, 0.1], [1.0, 0.0, 3.0], [0.0, 1.0, 0.0]])
    assert nn.accuracy(z, np.array([0, 1, 2, 2])) == 0.75
    assert nn.accuracy(z, np.eye(3)[[0, 0, 2, 1]]) == 0.75
    assert nn.accuracy(nn.Softmax()(z), np.array([0, 1, 2, 2])) == 0.75  # probabilities, a Tensor
    with pytest.raises(ValueError, match="binary_accuracy"):
        nn.accuracy(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="4 outputs but 3 targets"):
        nn.accuracy(z, np.array([0, 1, 2]))
    assert nn.binary_accuracy(np.array([2.0, -1.0, 0.5, -3.0]), np.array([1, 0, 0, 0])) == 0.75
    assert nn.binary_accuracy(np.array([0.9, 0.2]), np.array([1, 1]), threshold=0.5) == 0.5


# ============================================================== predict and evaluate


def test_predict_and_evaluate_run_in_eval_mode_and_restore_each_mode() -> None:
    x, y = blobs(50)
    model = mlp(batchnorm=True)
    nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2, verbose=0)
    model[0].eval()  # a mixture of modes comes back as it was
    running = model[1].running_mean.copy()
    out = nn.predict(model, x, batch_size=7)
    assert [m.training for m in model.modules()] == [True, False, True, True, True]
    np.testing.assert_array_equal(model[1].running_mean, running)  # eval mode: statistics untouched
    model.eval()
    from autograd_core import no_grad

    with no_grad():
        np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-12, atol=1e-12)
    model.train()
    logs = nn.evaluate(model, x, y, loss=CE, metrics={"acc": nn.accuracy}, batch_size=16)
    assert logs["loss"] == pytest.approx(CE(out, y).item(), rel=1e-12)
    assert logs["acc"] == nn.accuracy(out, y)
    assert model.training and out.shape == (50, 3)
    assert nn.predict(model, x[:0]).shape == (0, 3)
    with pytest.raises(ValueError, match="x has 50 examples but y has 49"):
        nn.evaluate(model, x, y[:-1], loss=CE)


# ============================================================== fit


def test_fit_is_the_hand_written_loop() -> None:
    x, y = blobs(100)
    a, b = mlp(1), mlp(1)
    opt_a, opt_b = optim.Adam(a.parameters(), lr=0.01), optim.Adam(b.parameters(), lr=0.01)
    history = nn.fit(
        a, x, y, loss=CE, optimizer=opt_a, epochs=3, batch_size=16, seed=np.random.default_rng(5), verbose=0
    )
    rng = np.random.default_rng(5)
    means = []
    for _ in range(3):
        order = rng.permutation(len(x))
        total = 0.0
        for i in range(0, len(x), 16):
            idx = order[i : i + 16]
            total += opt_b.minimize(lambda idx=idx: CE(b(x[idx]), y[idx])) * len(idx)
        means.append(total / len(x))
    assert same_weights(weights(a), weights(b))
    assert history.history == {"loss": means} and history.epoch == [0, 1, 2]
    assert means[-1] < means[0]


def test_fit_metrics_validation_and_history() -> None:
    x, y = blobs(150)
    model = mlp()
    history = nn.fit(model, x, y, loss=CE, optimizer=optim.Adam(model.parameters(), lr=0.02), epochs=4,
                     batch_size=32, validation_data=(x[:30], y[:30]), metrics=["accuracy"], seed=0,
                     verbose=0)  # fmt: skip
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 4 for v in history.history.values())
    assert (
        history.history["val_accuracy"][-1]
        == nn.evaluate(model, x[:30], y[:30], loss=CE, metrics=["accuracy"])["accuracy"]
    )
    assert history.history["accuracy"][-1] > 0.8
    assert history.params["steps"] == 5 and history.params["samples"] == 150
    frame = history.to_pandas()
    assert frame.shape == (4, 4) and frame.index.name == "epoch"
    assert frame["val_loss"].tolist() == history.history["val_loss"]
    assert "4 epochs" in repr(history)


def test_validation_split_holds_out_a_seeded_random_subset() -> None:
    n = 100
    x = np.random.default_rng(0).normal(size=(n, 4))
    y = np.arange(n)  # each target names its example

    def held_out(seed: int) -> tuple[list[int], set[int]]:
        val, train = [], set()

        def ids(outputs: np.ndarray, targets: np.ndarray) -> float:
            if len(targets) == 20:  # the validation set, in one piece at the end of the epoch
                val.append(targets.tolist())
            else:  # a training batch of 8
                train.update(targets.tolist())
            return 0.0

        model = nn.Sequential(nn.Dense(4, n, rng=0))
        nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.01), epochs=1, batch_size=8,
               validation_split=0.2, metrics={"ids": ids}, seed=seed, verbose=0)  # fmt: skip
        return val[0], train

    val, train = held_out(seed=0)
    assert len(val) == 20 and val == sorted(val)
    assert val != list(range(80, 100))  # not the tail
    assert train == set(range(n)) - set(val)
    assert held_out(seed=0)[0] == val
    assert held_out(seed=1)[0] != val


def test_a_last_batch_of_one_is_merged_so_batchnorm_trains() -> None:
    x, y = blobs(65)
    sizes = []

    def size(outputs: np.ndarray, targets: np.ndarray) -> float:
        sizes.append(len(targets))
        return 0.0

    model = mlp(batchnorm=True)
    nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=32,
           metrics={"size": size}, verbose=0)  # fmt: skip
    assert sizes == [32, 33]


def test_fit_bad_input() -> None:
    x, y = blobs(20)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = weights(model)
    with pytest.raises(ValueError, match="x has 20 examples but y has 19"):
        nn.fit(model, x, y[:-1], loss=CE, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="not both"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, validation_data=(x, y), validation_split=0.1, verbose=0)
    with pytest.raises(ValueError, match="validation_split must be in"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, metrics=["acuracy"], verbose=0)
    with pytest.raises(ValueError, match="verbose must be"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, verbose=3)
    with pytest.raises(TypeError, match="loss must return a scalar Tensor"):
        nn.fit(model, x, y, loss=lambda out, t: 0.0, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not logged by this fit \(validation values need"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, callbacks=[nn.EarlyStopping()], verbose=0)
    with pytest.raises(ValueError, match="monitor 'val_acc' is not logged"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, validation_split=0.25, verbose=0,
               callbacks=[nn.ModelCheckpoint("m.npz", monitor="val_acc", save_best_only=True)])  # fmt: skip
    assert same_weights(weights(model), before)


# ============================================================== callbacks


class Recorder(nn.Callback):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.weights: dict[int, dict[str, np.ndarray]] = {}

    def on_train_begin(self, logs):
        self.calls.append(f"train_begin {self.params['metrics']}")

    def on_epoch_begin(self, epoch, logs):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs):
        self.calls.append(f"batch {batch} {sorted(logs)}")

    def on_epoch_end(self, epoch, logs):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")
        self.weights[epoch] = self.model.state_dict()

    def on_train_end(self, logs):
        self.calls.append("train_end")


def test_hooks_run_at_their_named_points() -> None:
    x, y = blobs(40)
    model = mlp()
    rec = Recorder()
    nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2, batch_size=20,
           validation_split=0.5, callbacks=[rec], seed=0, verbose=0)  # fmt: skip
    assert rec.calls == [
        "train_begin ['loss', 'val_loss']",
        "epoch_begin 0", "batch 0 ['loss']", "epoch_end 0 ['loss', 'val_loss']",
        "epoch_begin 1", "batch 0 ['loss']", "epoch_end 1 ['loss', 'val_loss']",
        "train_end",
    ]  # fmt: skip
    assert rec.model is model and rec.stop_training is False


class Scripted:
    """A validation metric whose value per epoch is given (called on the validation set only)."""

    def __init__(self, values: list[float], n_val: int) -> None:
        self.values, self.n_val, self.epoch = values, n_val, 0

    def __call__(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        if len(targets) != self.n_val:
            return 0.0
        self.epoch += 1
        return self.values[self.epoch - 1]


def test_early_stopping_restores_the_best_weights_when_training_runs_to_epochs() -> None:
    x, y = blobs(60)
    model = mlp()
    rec = Recorder()
    stop = nn.EarlyStopping(monitor="val_score", patience=10, restore_best_weights=True)
    score = Scripted([3.0, 1.0, 2.0, 2.5], n_val=20)
    history = nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=4,
                     batch_size=8, validation_data=(x[:20], y[:20]), metrics={"score": score},
                     callbacks=[rec, stop], verbose=0)  # fmt: skip
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch is None
    assert stop.best_epoch == 1 and stop.best == 1.0
    assert same_weights(weights(model), rec.weights[1])
    assert not same_weights(rec.weights[3], rec.weights[1])


def test_early_stopping_stops_after_patience_epochs_without_improvement() -> None:
    x, y = blobs(60)
    model = mlp()
    rec = Recorder()
    stop = nn.EarlyStopping(monitor="val_score", patience=2, mode="min", restore_best_weights=True)
    score = Scripted([1.0, 1.5, 0.99, 2.0, 3.0, 0.1, 0.1], n_val=20)
    out = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, out
    try:
        history = nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=7,
                         validation_data=(x[:20], y[:20]), metrics={"score": score}, callbacks=[rec, stop],
                         verbose=2)  # fmt: skip
    finally:
        sys.stdout = sys_stdout
    assert history.epoch == [0, 1, 2, 3, 4] and stop.stopped_epoch == 4 and stop.best_epoch == 2
    assert same_weights(weights(model), rec.weights[2])
    assert "Epoch 5: training stopped by EarlyStopping" in out.getvalue()
    # min_delta: 0.99 is not better than 1.0 by 0.05, so the best stays epoch 0 and it stops at epoch 2
    stop = nn.EarlyStopping(monitor="val_score", patience=2, min_delta=0.05)
    score = Scripted([1.0, 1.5, 0.99, 2.0], n_val=20)
    nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=4,
           validation_data=(x[:20], y[:20]), metrics={"score": score}, callbacks=[stop], verbose=0)  # fmt: skip
    assert (stop.best_epoch, stop.stopped_epoch) == (0, 2)
    assert nn.EarlyStopping(monitor="val_accuracy").mode == "max"
    with pytest.raises(ValueError, match="patience"):
        nn.EarlyStopping(patience=-1)


def nan_after(batches: int):
    """softmax_cross_entropy that turns NaN from the given batch on (counted over the whole run)."""
    count = [0]

    def loss(out, targets):
        count[0] += 1
        value = CE(out, targets)
        return value * np.nan if count[0] > batches else value

    return loss


def test_terminate_on_nan_keeps_the_last_good_checkpoint(tmp_path) -> None:
    x, y = blobs(40)
    model = mlp()
    path = tmp_path / "run.npz"
    best = tmp_path / "best.npz"
    stop = nn.TerminateOnNaN()
    rec = Recorder()
    history = nn.fit(model, x, y, loss=nan_after(9), optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=5,
                     batch_size=8, callbacks=[rec, stop, nn.ModelCheckpoint(best, monitor="loss")],
                     checkpoint=path, verbose=0)  # fmt: skip
    assert stop.stopped_at == (1, 4)  # epoch 1 (from 0), its 5th batch: the 10th of the run
    assert history.epoch == [0] and not np.isnan(history.history["loss"]).any()
    saved = ckpt.load_run(path)
    assert saved["epoch"] == 1
    assert all(np.array_equal(saved["model"][k], v) for k, v in rec.weights[0].items())
    assert same_weights(nn.load(mlp(3), best).state_dict(), rec.weights[0])


def test_a_nan_epoch_is_not_checkpointed_even_without_terminate_on_nan(tmp_path, capsys) -> None:
    x, y = blobs(40)
    model = mlp()
    path = tmp_path / "run.npz"
    history = nn.fit(model, x, y, loss=nan_after(10), optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=3,
                     batch_size=10, checkpoint=path, verbose=2)  # fmt: skip
    assert np.isnan(history.history["loss"][2])
    assert ckpt.load_run(path)["epoch"] == 2
    assert "Epoch 3: the loss is nan; " in capsys.readouterr().out


def test_model_checkpoint_best_only_and_path_format(tmp_path) -> None:
    x, y = blobs(60)
    model = mlp()
    rec = Recorder()
    score = Scripted([3.0, 1.0, 2.0], n_val=20)
    best = nn.ModelCheckpoint(tmp_path / "best.npz", monitor="val_score", save_best_only=True)
    every = nn.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_score:.1f}.npz"))
    nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=3,
           validation_data=(x[:20], y[:20]), metrics={"score": score}, callbacks=[rec, best, every],
           verbose=0)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "m-01-3.0.npz", "m-02-1.0.npz", "m-03-2.0.npz"]
    assert same_weights(nn.load(mlp(), tmp_path / "best.npz").state_dict(), rec.weights[1])
    assert same_weights(nn.load(mlp(), tmp_path / "m-03-2.0.npz").state_dict(), rec.weights[2])


# ============================================================== checkpoints: the panda


def panda_run(tmp_path, epochs: int, *, resume=None, init_seed=0, nn_seed=1, lr=None, schedule=True):
    """Dense, BatchNorm, Dropout (nn's generator), Adam, a schedule, a validation split and metrics."""
    x, y = blobs(90)
    nn.seed(nn_seed)
    model = mlp(init_seed, batchnorm=True, dropout=True)
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.ExponentialDecay(opt, rate=0.9) if schedule else None
    history = nn.fit(model, x, y, loss=CE, optimizer=opt, schedule=sched, epochs=epochs, batch_size=16,
                     validation_split=0.2, seed=7, metrics=["accuracy"], checkpoint=tmp_path / "run.npz",
                     resume=resume, lr=lr, verbose=0)  # fmt: skip
    return model, opt, sched, history


def test_resume_is_bit_for_bit_the_uninterrupted_run(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    straight, opt_a, _, h_straight = panda_run(tmp_path / "a", 6)
    panda_run(tmp_path / "b", 3)
    # a fresh model with other initial weights, a fresh optimizer and schedule, nn's generator elsewhere
    resumed, opt_b, sched, h_resumed = panda_run(tmp_path / "b", 6, resume=tmp_path / "b" / "run.npz",
                                                 init_seed=5, nn_seed=99)  # fmt: skip
    assert same_weights(weights(resumed), weights(straight))
    assert h_resumed.history == h_straight.history and h_resumed.epoch == h_straight.epoch == list(range(6))
    assert all(np.array_equal(a, b) for a, b in zip(opt_a.state_dict().values(), opt_b.state_dict().values()))
    assert sched.epoch == 7 and opt_b.lr == opt_a.lr
    final_a = ckpt.load_run(tmp_path / "a" / "run.npz")
    final_b = ckpt.load_run(tmp_path / "b" / "run.npz")
    assert final_a["epoch"] == final_b["epoch"] == 6
    np.testing.assert_array_equal(final_a["val_index"], final_b["val_index"])


def test_resume_with_a_lower_learning_rate(tmp_path) -> None:
    panda_run(tmp_path, 2, schedule=False)
    _, opt, _, history = panda_run(tmp_path, 4, resume=tmp_path / "run.npz", lr=0.001, schedule=False)
    assert opt.lr == 0.001 and history.epoch == [0, 1, 2, 3]
    panda_run(tmp_path, 2)
    _, opt, sched, _ = panda_run(tmp_path, 3, resume=tmp_path / "run.npz", lr=0.001)
    assert sched.base_lr == 0.001 and opt.lr == pytest.approx(0.001 * 0.9**4)  # decay goes on from epoch 4


def test_resume_from_another_architecture_changes_nothing(tmp_path) -> None:
    x, y = blobs(90)
    panda_run(tmp_path, 1)
    wider = nn.Sequential(nn.Dense(4, 16, bias=False), nn.BatchNorm(16), nn.ReLU(), nn.Dense(16, 3))
    opt = optim.Adam(wider.parameters(), lr=0.02)
    before, opt_before = weights(wider), opt.state_dict()
    with pytest.raises(
        ValueError,
        match=r"(?s)another architecture:\n.*0.weight: shape \(4, 8\) in the checkpoint, \(4, 16\) in the model",
    ):
        nn.fit(wider, x, y, loss=CE, optimizer=opt, epochs=2, resume=tmp_path / "run.npz", validation_split=0.2,
               metrics=["accuracy"], verbose=0)  # fmt: skip
    assert same_weights(weights(wider), before)
    assert all(np.array_equal(a, b) for a, b in zip(opt.state_dict().values(), opt_before.values()))
    model = mlp(batchnorm=True, dropout=True)
    with pytest.raises(ValueError, match="holds the state of optimizer Adam, not GradientDescent"):
        nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2,
               resume=tmp_path / "run.npz", verbose=0)  # fmt: skip
    with pytest.raises(ValueError, match="used a learning-rate schedule"):
        nn.fit(model, x, y, loss=CE, optimizer=optim.Adam(model.parameters()), epochs=2,
               resume=tmp_path / "run.npz", verbose=0)  # fmt: skip
    opt = optim.Adam(model.parameters())
    with pytest.raises(ValueError, match=r"history has \['accuracy', 'loss', 'val_accuracy', 'val_loss'\]"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, schedule=optim.ExponentialDecay(opt), epochs=2,
               resume=tmp_path / "run.npz", verbose=0)  # fmt: skip
    nn.save(model, tmp_path / "weights.npz")
    with pytest.raises(ValueError, match="not a checkpoint written by nn.fit"):
        nn.fit(model, x, y, loss=CE, optimizer=opt, resume=tmp_path / "weights.npz", verbose=0)


@pytest.mark.parametrize("kind", [np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64])
def test_generator_states_are_stored_exactly(tmp_path, kind) -> None:
    gen = np.random.Generator(kind(12345))
    gen.random(7)
    arrays = ckpt.encode_state("shuffle", gen.bit_generator.state)
    assert all(a.dtype.kind in "Uiuf" for a in arrays.values())  # no object arrays: no pickle
    from autograd_core.serialization import load_arrays, save_arrays

    save_arrays(tmp_path / "g.npz", arrays)
    other = np.random.Generator(kind(0))
    other.bit_generator.state = ckpt.decode_state("shuffle", load_arrays(tmp_path / "g.npz"))
    np.testing.assert_array_equal(other.random(5), gen.random(5))


# ============================================================== what is printed


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fit_printing(monkeypatch, verbose, tty: bool) -> tuple[str, str]:
    out, err = io.StringIO(), FakeTerminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    x, y = blobs(64)
    model = mlp()
    nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=3, batch_size=8,
           metrics=["accuracy"], verbose=verbose)  # fmt: skip
    return out.getvalue(), err.getvalue()


def test_not_a_terminal_prints_one_line_per_epoch(monkeypatch) -> None:
    for verbose in (1, "auto", 2):
        out, err = fit_printing(monkeypatch, verbose, tty=False)
        lines = out.splitlines()
        assert len(lines) == 3 and err == ""
        assert lines[0].startswith("Epoch 1/3: loss ") and ", accuracy " in lines[0]


def test_a_terminal_gets_a_tqdm_bar_per_epoch(monkeypatch) -> None:
    pytest.importorskip("tqdm")
    out, err = fit_printing(monkeypatch, "auto", tty=True)
    assert out == ""
    assert err.count("Epoch 1/3") >= 1 and "Epoch 3/3" in err and "8/8" in err and "batch" in err
    assert "accuracy" in err and "\r" in err
    assert len(err.strip().split("\n")) == 3  # one finished bar per epoch, not a line per batch
    out, err = fit_printing(monkeypatch, 2, tty=True)
    assert len(out.splitlines()) == 3 and err == ""


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    out, err = fit_printing(monkeypatch, 1, tty=True)
    assert len(out.splitlines()) == 3 and err == ""


def test_verbose_0_prints_nothing(monkeypatch) -> None:
    assert fit_printing(monkeypatch, 0, tty=True) == ("", "")


def test_notebooks_get_tqdm_auto(monkeypatch) -> None:
    pytest.importorskip("tqdm")
    shell = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a notebook's stderr is no terminal
    assert progress.in_notebook()
    assert isinstance(progress.make_progress("auto", 2, 5), progress.Bars)


# ============================================================== learning curves and extras


def test_history_plot_draws_train_and_validation(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    x, y = blobs(60)
    model = mlp()
    history = nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=3,
                     validation_split=0.25, metrics=["accuracy"], seed=0, verbose=0)  # fmt: skip
    fig = history.plot()
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["train", "validation"]
    np.testing.assert_array_equal(lines[1].get_ydata(), history.history["val_loss"])
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    history.plot(axes=fig.axes, label="again")
    assert len(fig.axes[1].get_lines()) == 4
    fig.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="unknown name"):
        history.plot(["los"])


@pytest.mark.parametrize("notebook", [True, False])
def test_plots_show_once_in_a_notebook_and_through_pyplot_in_a_script(monkeypatch, notebook: bool) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autograd_core import _figures

    monkeypatch.setattr(_figures, "in_notebook", lambda: notebook)
    history = nn.History()
    for epoch in range(3):
        history.append(epoch, {"loss": 1.0 / (epoch + 1)})
    before = set(plt.get_fignums())
    fig = history.plot()
    try:
        made_by_pyplot = set(plt.get_fignums()) - before
        # In a notebook the figure is the cell's value only: pyplot does not hold it (it would show it a
        # second time at the end of the cell) and it renders itself; in a script plt.show() shows it.
        assert bool(made_by_pyplot) is not notebook
        if notebook:
            png = fig._repr_png_()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    finally:
        plt.close("all")


def test_missing_extras_name_the_pip_install(monkeypatch) -> None:
    history = nn.History()
    history.append(0, {"loss": 1.0})
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "autograd-core\[plot\]"'):
        history.plot()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'pip install "autograd-core\[plot\]"'):
        history.to_pandas()
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")] + ["sklearn"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if scikit-learn were not installed
    monkeypatch.delitem(sys.modules, "nn.sklearn", raising=False)
    monkeypatch.delattr(nn, "sklearn", raising=False)
    with pytest.raises(ImportError, match=r'pip install "autograd-core\[sklearn\]"'):
        nn.NeuralNetClassifier  # noqa: B018


def test_import_nn_needs_no_extra() -> None:
    code = "import nn, sys; print(sorted(m for m in ('sklearn', 'tqdm', 'matplotlib', 'pandas') if m in sys.modules))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_early_stopping_resumes_with_its_state_and_best_weights(tmp_path) -> None:
    # Before callbacks' state went into the checkpoint, EarlyStopping replayed the resumed history and
    # warned that the best epoch's weights were lost; now they come back from the checkpoint.
    x, y = blobs(60)
    path = tmp_path / "run.npz"

    def run(epochs: int, scores: list[float], resume=None) -> tuple[nn.EarlyStopping, nn.Module, Recorder]:
        model = mlp()
        stop = nn.EarlyStopping(monitor="val_score", patience=2, restore_best_weights=True)
        rec = Recorder()
        nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=epochs,
               validation_data=(x[:20], y[:20]), metrics={"score": Scripted(scores, n_val=20)}, callbacks=[rec, stop],
               checkpoint=path, resume=resume, verbose=0)  # fmt: skip
        return stop, model, rec

    first, _, rec = run(2, [1.0, 2.0])
    assert (first.best_epoch, first.wait) == (0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "weights not in memory" any more
        second, model, _ = run(6, [3.0, 0.5, 0.4], resume=path)
    assert (second.best_epoch, second.stopped_epoch) == (0, 2)  # 2.0 then 3.0: two epochs without improvement
    assert same_weights(weights(model), rec.weights[0])


# ============================================================== Keras's strings


class OptimizerSpy(nn.Callback):
    def on_train_begin(self, logs):
        self.seen = self.optimizer


def test_losses_and_optimizers_by_name_train_as_the_objects_do() -> None:
    x, y = blobs(60)
    by_name, by_object = mlp(2), mlp(2)
    spy = OptimizerSpy()
    h1 = nn.fit(by_name, x, y, loss="cross_entropy", optimizer="adam", lr=0.01, epochs=2, batch_size=16, seed=0,
                callbacks=[spy], verbose=0)  # fmt: skip
    h2 = nn.fit(by_object, x, y, loss=CE, optimizer=optim.Adam(by_object.parameters(), lr=0.01), epochs=2,
                batch_size=16, seed=0, verbose=0)  # fmt: skip
    assert same_weights(weights(by_name), weights(by_object)) and h1.history == h2.history
    assert type(spy.seen) is optim.Adam and spy.seen.lr == 0.01
    assert {id(p) for p in spy.seen.params} == {id(p) for p in by_name.parameters()}
    assert nn.evaluate(by_name, x, y, loss="cross_entropy") == nn.evaluate(by_name, x, y, loss=CE)


@pytest.mark.parametrize(
    "name, kind, lr",
    [("adam", optim.Adam, 0.001), ("sgd", optim.GradientDescent, 0.01), ("momentum", optim.Momentum, 0.01),
     ("rmsprop", optim.RMSprop, 0.001)],
)  # fmt: skip
def test_an_optimizer_by_name_without_lr_gets_its_default_rate(name, kind, lr) -> None:
    x, y = blobs(20)
    spy = OptimizerSpy()
    nn.fit(mlp(), x, y, loss="cross_entropy", optimizer=name, callbacks=[spy], verbose=0)
    assert type(spy.seen) is kind and spy.seen.lr == lr


def test_mse_and_bce_by_name() -> None:
    x = np.random.default_rng(0).normal(size=(20, 4))
    model = nn.Dense(4, 1, rng=0)
    t = (x[:, :1] > 0).astype(float)
    assert nn.evaluate(model, x, t, loss="mse") == nn.evaluate(model, x, t, loss=nn.mse)
    assert nn.evaluate(model, x, t, loss="bce") == nn.evaluate(model, x, t, loss=nn.binary_cross_entropy)


def test_unknown_names_list_the_known_ones() -> None:
    x, y = blobs(20)
    model = mlp()
    with pytest.raises(ValueError, match=r"nn.fit: unknown loss 'crossentropy'; the known names are 'cross_entropy'"):
        nn.fit(model, x, y, loss="crossentropy", optimizer="adam", verbose=0)
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamw'; the known names are 'adam', 'sgd', 'momentum'"):
        nn.fit(model, x, y, loss="mse", optimizer="adamw", verbose=0)
    with pytest.raises(ValueError, match=r"nn.evaluate: unknown loss 'l2'"):
        nn.evaluate(model, x, y, loss="l2")
    with pytest.raises(TypeError, match="optimizer must be an optim optimizer .* or one of the names 'adam'"):
        nn.fit(model, x, y, loss="mse", optimizer=None, verbose=0)


def test_a_schedule_of_another_optimizer_is_refused() -> None:
    x, y = blobs(20)
    model = mlp()
    other = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="the schedule steps another optimizer than the one fit trains with"):
        nn.fit(model, x, y, loss=CE, optimizer="sgd", schedule=optim.ExponentialDecay(other), verbose=0)


# ============================================================== one numbering of epochs


def test_to_pandas_counts_epochs_as_the_log_and_the_plot_do(capsys) -> None:
    pytest.importorskip("pandas")
    x, y = blobs(40)
    model = mlp()
    history = nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=3, verbose=2)
    assert history.to_pandas().index.tolist() == [1, 2, 3] and history.epoch == [0, 1, 2]
    logged = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert logged == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]


def test_max_points_torch_users_to_argmax() -> None:
    import autograd_core as ag

    assert "argmax" in ag.Tensor.max.__doc__ and "argmax" in ag.max.__doc__
