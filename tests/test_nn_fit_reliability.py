"""nn.fit when things go wrong: interrupted runs with stateful callbacks, non-finite weights, damaged
checkpoints, writers killed mid-write, a first monitored value that is not a number, and bad arguments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import nn
import optim
from autograd_core.serialization import load_arrays, save_arrays
from nn import checkpoint as ckpt

CE = nn.softmax_cross_entropy


def blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(n, 4)) * 0.5
    x[np.arange(n), y] += 2.0
    return x, y


def mlp(seed: int = 0) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Dense(4, 8, bias=False, rng=rng), nn.BatchNorm(8), nn.ReLU(), nn.Dropout(0.2), nn.Dense(8, 3, rng=rng)
    )


def same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# ============================================================== a resumed run ends as the uninterrupted one

# The monitored score of each epoch: the best is epoch 3, then three epochs without improvement
# stop the run (patience 3) at epoch 6, and the weights of epoch 3 come back.
SCORES = [3.0, 2.0, 2.5, 1.0, 1.5, 1.2, 1.1, 0.5, 0.4, 0.3]


class EpochClock(nn.Callback):
    """Tells the scripted score which epoch is being validated."""

    epoch = 0

    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch


class LossSum(nn.Callback):
    """A user's callback with state: resets at train begin (Keras's habit), saves with state_dict."""

    def __init__(self) -> None:
        self.total, self.seen = 0.0, 0

    def on_train_begin(self, logs):
        self.total, self.seen = 0.0, 0

    def on_epoch_end(self, epoch, logs):
        self.total += logs["loss"]
        self.seen += 1

    def state_dict(self):
        return {"total": self.total, "seen": self.seen}

    def load_state_dict(self, d):
        self.total, self.seen = float(d["total"]), int(d["seen"])


class Interrupt(nn.Callback):
    """Ctrl-C at the start of epoch ``at`` (the checkpoint then holds ``at`` epochs)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_epoch_begin(self, epoch, logs):
        if epoch == self.at:
            raise KeyboardInterrupt


def babysat(folder, epochs: int, *, resume=None, interrupt_at=None, init_seed=0):
    x, y = blobs()
    nn.seed(init_seed + 1)
    model = mlp(init_seed)
    opt = optim.Adam(model.parameters(), lr=0.05)
    clock = EpochClock()

    def score(outputs, targets):
        return SCORES[clock.epoch] if len(targets) == 20 else 0.0  # training batches have 16 or 12 examples

    stop = nn.EarlyStopping(monitor="val_score", patience=3, restore_best_weights=True)
    best = nn.ModelCheckpoint(folder / "best.npz", monitor="val_loss", save_best_only=True)
    total = LossSum()
    callbacks = [clock, stop, best, total] + ([] if interrupt_at is None else [Interrupt(interrupt_at)])
    history = nn.fit(model, x[20:], y[20:], loss=CE, optimizer=opt, epochs=epochs, batch_size=16,
                     validation_data=(x[:20], y[:20]), metrics={"score": score}, callbacks=callbacks,
                     seed=3, checkpoint=folder / "run.npz", resume=resume, verbose=0)  # fmt: skip
    return model, history, stop, best, total


@pytest.mark.parametrize("at", [1, 3, 4, 6])
@pytest.mark.parametrize("how", ["ctrl-c", "epochs"])
def test_a_resumed_run_with_stateful_callbacks_ends_as_the_uninterrupted_one(tmp_path, at, how) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    straight, h_straight, stop_a, best_a, total_a = babysat(a, 10)
    assert (stop_a.best_epoch, stop_a.stopped_epoch, h_straight.epoch[-1]) == (3, 6, 6)  # the scenario holds

    if how == "ctrl-c":
        with pytest.raises(KeyboardInterrupt):
            babysat(b, 10, interrupt_at=at)
    else:
        babysat(b, at)
    assert ckpt.load_run(b / "run.npz")["epoch"] == at
    resumed, h_resumed, stop_b, best_b, total_b = babysat(b, 10, resume=b / "run.npz", init_seed=5)

    assert same_weights(resumed.state_dict(), straight.state_dict())  # the best epoch's, restored
    assert h_resumed.history == h_straight.history and h_resumed.epoch == h_straight.epoch
    assert (stop_b.best, stop_b.best_epoch, stop_b.stopped_epoch, stop_b.wait) == (
        stop_a.best, stop_a.best_epoch, stop_a.stopped_epoch, stop_a.wait)  # fmt: skip
    assert best_b.best == best_a.best
    assert same_weights(load_arrays(b / "best.npz"), load_arrays(a / "best.npz"))
    assert (total_b.total, total_b.seen) == (total_a.total, total_a.seen) == (sum(h_straight.history["loss"]), 7)


def test_callbacks_missing_from_either_side_of_a_resume_are_named(tmp_path) -> None:
    x, y = blobs()
    model = mlp()
    nn.fit(model, x, y, loss=CE, optimizer=optim.Adam(model.parameters()), epochs=1, validation_split=0.25,
           seed=0, callbacks=[nn.EarlyStopping()], checkpoint=tmp_path / "run.npz", verbose=0)  # fmt: skip
    with pytest.warns(UserWarning) as record:
        nn.fit(model, x, y, loss=CE, optimizer=optim.Adam(model.parameters()), epochs=2, validation_split=0.25,
               seed=0, callbacks=[nn.ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)],
               resume=tmp_path / "run.npz", verbose=0)  # fmt: skip
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2 and str(tmp_path / "run.npz") in messages[0]
    assert "ModelCheckpoint starts afresh: the checkpoint holds no state for it" in messages[0]
    assert "holds the state of EarlyStopping, but this fit has no such callback; that state is not used" in messages[1]
    assert all(w.filename == __file__ for w in record)  # pointing at the fit call


# ============================================================== never a checkpoint of non-finite weights


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_an_epoch_with_a_finite_loss_but_infinite_weights_is_not_checkpointed(tmp_path, capsys) -> None:
    # The loss is computed before the step: an epoch's last step can overflow the weights of an epoch
    # whose loss was finite.
    x = np.full((4, 1), 1e3)
    y = np.zeros((4, 1))
    path = tmp_path / "run.npz"
    model = nn.Dense(1, 1, rng=0)
    nn.fit(model, x, y, loss=nn.mse, optimizer=optim.SGD(model.parameters(), lr=1e-9), epochs=1, batch_size=4,
           checkpoint=path, verbose=0)  # fmt: skip
    good = load_arrays(path)
    model = nn.Dense(1, 1, rng=0)
    history = nn.fit(model, x, y, loss=nn.mse, optimizer=optim.SGD(model.parameters(), lr=1e-9), epochs=2,
                     batch_size=4, checkpoint=path, resume=path, lr=1e305, verbose=2)  # fmt: skip
    assert np.isfinite(history.history["loss"]).all() and not np.isfinite(model.weight.data).all()
    assert same_weights(load_arrays(path), good)  # the last good epoch's file stays
    assert f"Epoch 2: weight is not finite; {path} not updated" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_first_epoch_with_infinite_weights_writes_no_checkpoint(tmp_path) -> None:
    x = np.full((4, 1), 1e3)
    y = np.zeros((4, 1))
    path = tmp_path / "run.npz"
    model = nn.Dense(1, 1, bias=False, rng=0)
    history = nn.fit(model, x, y, loss=nn.mse, optimizer=optim.SGD(model.parameters(), lr=1e305), epochs=1,
                     batch_size=4, checkpoint=path, verbose=0)  # fmt: skip
    assert np.isfinite(history.history["loss"]).all() and not path.exists()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_model_checkpoint_never_saves_infinite_weights(tmp_path) -> None:
    x = np.full((4, 1), 1e3)
    y = np.zeros((4, 1))
    model = nn.Dense(1, 1, rng=0)
    nn.fit(model, x, y, loss=nn.mse, optimizer=optim.SGD(model.parameters(), lr=1e305), epochs=1, batch_size=4,
           callbacks=[nn.ModelCheckpoint(tmp_path / "m.npz", monitor="loss")], verbose=0)  # fmt: skip
    assert not (tmp_path / "m.npz").exists()


def panda(folder, epochs: int, resume=None):
    x, y = blobs(90)
    nn.seed(1)
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.ExponentialDecay(opt, rate=0.9)
    history = nn.fit(model, x, y, loss=CE, optimizer=opt, schedule=sched, epochs=epochs, batch_size=16,
                     validation_split=0.2, seed=7, metrics=["accuracy"], checkpoint=folder / "run.npz",
                     callbacks=[nn.EarlyStopping(patience=5, restore_best_weights=True)],
                     resume=resume, verbose=0)  # fmt: skip
    return model, opt, sched, history


def fresh_state():
    """A fresh model, optimizer and schedule, and a snapshot of everything resume could change."""
    nn.seed(1)
    model = mlp(5)
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.ExponentialDecay(opt, rate=0.9)
    snapshot = (model.state_dict(), opt.state_dict(), sched.state_dict(), nn.init.default_rng().bit_generator.state)
    return model, opt, sched, snapshot


def unchanged(model, opt, sched, snapshot) -> bool:
    now = (model.state_dict(), opt.state_dict(), sched.state_dict(), nn.init.default_rng().bit_generator.state)
    return (
        same_weights(now[0], snapshot[0])
        and same_weights(now[1], snapshot[1])
        and same_weights(now[2], snapshot[2])
        and now[3] == snapshot[3]
    )


def resume_into(model, opt, sched, path, epochs: int = 4):
    x, y = blobs(90)
    return nn.fit(model, x, y, loss=CE, optimizer=opt, schedule=sched, epochs=epochs, batch_size=16,
                  validation_split=0.2, seed=7, metrics=["accuracy"], resume=path,
                  callbacks=[nn.EarlyStopping(patience=5, restore_best_weights=True)], verbose=0)  # fmt: skip


def damaged(tmp_path, **changes) -> str:
    """A copy of a two-epoch checkpoint with entries replaced (None: removed)."""
    if not (tmp_path / "good" / "run.npz").exists():
        (tmp_path / "good").mkdir()
        panda(tmp_path / "good", 2)
    arrays = load_arrays(tmp_path / "good" / "run.npz")
    for key, value in changes.items():
        key = key.replace("__", "/")
        matches = [k for k in arrays if k == key or k.startswith(key + "/")] if value is None else [key]
        for k in matches:
            if value is None:
                del arrays[k]
            else:
                arrays[k] = value(arrays[k]) if callable(value) else value
    path = tmp_path / "damaged.npz"
    save_arrays(path, arrays)
    return str(path)


def test_resume_refuses_non_finite_weights_before_changing_anything(tmp_path) -> None:
    def inf_weight(w):
        w = w.copy()
        w.flat[0] = np.inf
        return w

    path = damaged(tmp_path, **{"model/4.weight": inf_weight})
    model, opt, sched, snapshot = fresh_state()
    with pytest.raises(ValueError, match=r"(?s)damaged\.npz.*'4\.weight' holds NaN or infinity.*nothing was changed"):
        resume_into(model, opt, sched, path)
    assert unchanged(model, opt, sched, snapshot)  # not the learning rate, not the schedule's epoch


# ============================================================== damaged checkpoints are named


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"split/val_index": lambda v: np.concatenate([[-1], v[1:]])}, r"'split/val_index'.*negative"),
        ({"split/val_index": lambda v: np.concatenate([v[:1], v[:-1]])}, r"'split/val_index'.*twice"),
        ({"split/val_index": lambda v: v.astype(float)}, r"'split/val_index'.*integers"),
        ({"epoch": None}, r"'epoch' is missing"),
        ({"epoch": np.array(-2)}, r"'epoch' must be a non-negative whole number"),
        ({"epoch": np.array([1, 2])}, r"'epoch' must be a non-negative whole number"),
        ({"history.epoch": None}, r"'history.epoch' is missing"),
        ({"history/loss": lambda v: v[:1]}, r"'history/loss' has 1 values? for 2 epochs"),
        ({"history.epoch": np.array([0, 5])}, r"'history.epoch'"),
        ({"rng/shuffle/state/state#int": np.array("12x")}, r"'rng/shuffle/state/state#int'"),
        ({"rng/shuffle/bit_generator#str": np.array("MT19937")}, r"shuffle generator was a MT19937"),
        ({"optimizer/state.0.s": lambda v: -np.abs(v) - 1}, r"'state.0.s' holds negative values"),
        ({"schedule/epoch": np.array(2.5)}, r"'epoch' must be a whole number"),
        ({"callback/0/EarlyStopping/wait": None}, r"EarlyStopping.*'wait' is missing"),
        ({"optimizer/optimizer": None}, r"'optimizer/optimizer' is missing"),
        ({"split/val_index": lambda v: v + 80}, r"'split/val_index': 18 examples, numbers up to \d+\) does not fit"),
    ],
)
def test_a_damaged_checkpoint_is_refused_naming_the_file_and_the_entry(tmp_path, changes, message) -> None:
    path = damaged(tmp_path, **{k.replace("/", "__"): v for k, v in changes.items()})
    model, opt, sched, snapshot = fresh_state()
    with pytest.raises(ValueError, match=message) as err:
        resume_into(model, opt, sched, path)
    assert str(path) in str(err.value)
    assert unchanged(model, opt, sched, snapshot)


def test_an_unsupported_compression_method_is_refused_naming_the_file(tmp_path) -> None:
    path = damaged(tmp_path)
    data = bytearray(open(path, "rb").read())
    header = data.index(b"PK\x01\x02")  # the central directory's first entry
    data[header + 10] = 99  # its compression method: none zipfile knows
    open(path, "wb").write(bytes(data))
    model, opt, sched, snapshot = fresh_state()
    with pytest.raises(ValueError, match="damaged.npz") as err:
        resume_into(model, opt, sched, path)
    assert "compression" in str(err.value)
    assert unchanged(model, opt, sched, snapshot)


def test_every_byte_level_corruption_is_refused_naming_the_file_or_resumes_exactly(tmp_path) -> None:
    path = damaged(tmp_path)
    original = open(path, "rb").read()
    straight = None
    rng = np.random.default_rng(0)
    positions = rng.choice(len(original), size=200, replace=False)
    outcomes = {"refused": 0, "resumed": 0}
    for pos in positions:
        data = bytearray(original)
        data[pos] ^= 1 << int(rng.integers(8))
        open(path, "wb").write(bytes(data))
        model, opt, sched, snapshot = fresh_state()
        try:
            history = resume_into(model, opt, sched, path, epochs=2)
        except ValueError as err:
            assert str(path) in str(err), f"byte {pos}: {err}"
            assert unchanged(model, opt, sched, snapshot), f"byte {pos}"
            outcomes["refused"] += 1
        else:  # a bit nothing reads (a timestamp): the run is the intact one
            if straight is None:
                open(path, "wb").write(original)
                m2, o2, s2, _ = fresh_state()
                straight = (resume_into(m2, o2, s2, path, epochs=2).history, m2.state_dict())
            assert history.history == straight[0] and same_weights(model.state_dict(), straight[1]), f"byte {pos}"
            outcomes["resumed"] += 1
    assert outcomes["refused"] > 100, outcomes  # most bytes matter: about 80 % are refused


# ============================================================== temporary files of killed writers


WRITER = textwrap.dedent(
    """
    import sys, time
    from autograd_core.serialization import atomic_write

    def write(f):
        f.write(b"x" * 100_000)
        f.flush()
        print("writing", flush=True)
        time.sleep(float(sys.argv[2]))
        f.write(b"end")

    atomic_write(sys.argv[1], write)
    print("done", flush=True)
    """
)


def start_writer(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def temporaries(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if ".tmp-" in name)


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path) -> None:
    path = tmp_path / "model.npz"
    save_arrays(path, {"x": np.zeros(3)})
    proc = start_writer(path, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(temporaries(tmp_path)) == 1  # what a SIGKILL leaves
    (tmp_path / ".other.npz.tmp-0-1234abcd").write_bytes(b"another file's")  # not ours to remove
    save_arrays(path, {"x": np.ones(3)})
    assert temporaries(tmp_path) == [".other.npz.tmp-0-1234abcd"]
    np.testing.assert_array_equal(load_arrays(path)["x"], np.ones(3))


def test_the_temporary_file_of_a_live_writer_is_left_alone(tmp_path) -> None:
    path = tmp_path / "model.npz"
    proc = start_writer(path, 1.5)
    try:
        save_arrays(path, {"x": np.ones(3)})
        assert len(temporaries(tmp_path)) == 1  # the other writer's, still being written
    finally:
        out, _ = proc.communicate(timeout=30)
    assert out.strip() == "done" and proc.returncode == 0 and temporaries(tmp_path) == []
    assert open(path, "rb").read().endswith(b"end")  # the other writer replaced it last


def test_an_old_style_temporary_is_removed_once_it_is_old(tmp_path) -> None:
    path = tmp_path / "model.npz"
    old = tmp_path / ".model.npz.tmp-0123abcd"  # the naming of earlier versions: no process id
    old.write_bytes(b"half")
    save_arrays(path, {"x": np.ones(3)})
    assert old.exists()  # it could still be a writer's
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    save_arrays(path, {"x": np.ones(3)})
    assert not old.exists()


# ============================================================== EarlyStopping's first value


class Scripted:
    def __init__(self, values: list[float]) -> None:
        self.values, self.calls = values, 0

    def __call__(self, outputs, targets) -> float:
        if len(targets) != 20:
            return 0.0
        self.calls += 1
        return self.values[self.calls - 1]


@pytest.mark.parametrize("first", [np.inf, np.nan])
def test_early_stopping_does_not_stop_at_the_first_epoch_when_its_value_is_not_a_number(first) -> None:
    x, y = blobs()
    model = mlp()
    stop = nn.EarlyStopping(monitor="val_score", patience=0, mode="min", restore_best_weights=True)
    score = Scripted([first, 2.0, 1.0, 3.0])
    history = nn.fit(model, x[20:], y[20:], loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=4,
                     batch_size=16, validation_data=(x[:20], y[:20]), metrics={"score": score}, callbacks=[stop],
                     verbose=0)  # fmt: skip
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 2


def test_early_stopping_docs_say_keras_restores_at_the_end_too() -> None:
    doc = " ".join(nn.EarlyStopping.__doc__.split())
    assert "Keras restores only" not in doc and "as Keras 3 does" in doc


# ============================================================== clear errors


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"y": None}, ValueError, r"nn.fit: y is None; fit needs a target for every example"),
        ({"validation_split": "0.2"}, TypeError, r"nn.fit: validation_split must be a number, got '0.2'"),
        ({"seed": -1}, ValueError, r"nn.fit: seed must be a non-negative integer.*got -1"),
        ({"shuffle": "no"}, TypeError, r"nn.fit: shuffle must be True or False, got 'no'"),
        ({"metrics": {"hits": lambda out, t: out.argmax(1) == t}}, ValueError,
         r"nn.fit: metric 'hits' returned an array of shape \(16,\); a metric returns one number"),
    ],
)  # fmt: skip
def test_fit_names_the_argument_at_fault(kwargs, error, message) -> None:
    x, y = blobs()
    kwargs = dict(kwargs)
    y = kwargs.pop("y", y)
    model = mlp()
    before = model.state_dict()
    with pytest.raises(error, match=message):
        nn.fit(model, x, y, loss=CE, optimizer=optim.SGD(model.parameters(), lr=0.1), batch_size=16, verbose=0,
               **kwargs)  # fmt: skip
    if "metrics" not in kwargs:
        assert same_weights(model.state_dict(), before)


def test_evaluate_names_a_metric_that_returns_an_array() -> None:
    x, y = blobs()
    with pytest.raises(ValueError, match=r"nn.evaluate: metric 'hits' returned an array of shape \(60,\)"):
        nn.evaluate(mlp(), x, y, loss=CE, metrics={"hits": lambda out, t: out.argmax(1) == t})
