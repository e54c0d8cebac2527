"""The sequence examples: examples/sequence_digits.py (an LSTM classifier of the digits read row by
row) and examples/char_lm.py (a character-level language model of Python's help texts), each in a
short run; their full runs' figures are in the documentation (docs/tutorials/sequences.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_example

import nn


def test_sequence_digits_learns_to_read_the_rows():
    pytest.importorskip("sklearn", reason="the digits need scikit-learn (pip install -e '.[dev]')")
    example = load_example("sequence_digits")
    model, figures = example.train(epochs=5, seed=0)  # the example runs 30 (0.97 on the test set)
    history = figures["history"].history
    assert figures["test"] >= 0.85 and history["val_accuracy"][-1] >= 0.8
    assert history["loss"][-1] < history["loss"][0] and not model.training
    x_test, y_test = figures["split"]
    assert x_test.shape[1:] == (8, 8)
    batch = nn.predict(model, x_test)
    np.testing.assert_allclose(nn.predict(model, x_test[3:4]), batch[3:4], atol=1e-12)  # one sequence
    assert nn.accuracy(batch, y_test) == figures["test"]


def test_char_lm_trains_clips_and_samples():
    example = load_example("char_lm")
    text = example.corpus()
    assert len(text) > 400_000 and "def" in text  # Python's own help texts
    vocab = example.Vocabulary(text[:30_000])
    codes = vocab.encode("The class")
    assert vocab.decode(codes) == "The class"
    x, y = example.sequences(np.arange(11), 3)
    np.testing.assert_array_equal(x, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(y, x + 1)  # the next character of every position

    run = example.train(text[:30_000], epochs=2, hidden=32, steps=32, lr=0.01, max_norm=0.3, seed=0)
    history, model, vocab = run["history"].history, run["model"], run["vocab"]
    assert history["val_loss"][1] < history["val_loss"][0] < np.log(len(vocab))  # better than uniform guessing
    norms = run["norms"]  # the norm before clipping at every step (the optimizer's grad_norm)
    steps_per_epoch = -(-run["sizes"][0] // 64)
    assert len(norms) == 2 * steps_per_epoch and min(norms) < 0.3 < max(norms)  # clipped where above 0.3
    assert run["optimizer"].lr == pytest.approx(0.01 * 0.85**3)  # 0.85^epoch, stepped after each epoch

    rng = np.random.default_rng
    greedy = example.sample(model, vocab, "The ", 30, 0.0, rng(0))
    assert greedy == example.sample(model, vocab, "The ", 30, 0.0, rng(1))  # temperature 0: the argmax
    warm = example.sample(model, vocab, "The ", 30, 1.0, rng(2))
    assert len(warm) == 30 and set(warm) <= set(vocab.chars)
    assert warm == example.sample(model, vocab, "The ", 30, 1.0, rng(2)) and model.training  # mode restored


def test_char_lm_runs_short_when_asked_and_in_full_by_default(tmp_path):
    example = load_example("char_lm")
    full = example.arguments([])
    assert (full.steps, full.epochs) == (None, 10)  # by hand: the full run
    assert full.out_dir.name == "docs"
    short = example.arguments([str(tmp_path), "--steps", "20", "--epochs", "2"])  # the documentation's gallery
    assert (short.out_dir, short.steps, short.epochs) == (tmp_path, 20, 2)
    with pytest.raises(SystemExit):
        example.arguments(["--steps", "1", "--epochs", "2"])  # fewer steps than epochs
    script = Path(example.__file__).read_text(encoding="utf-8")
    gallery: dict = {"__name__": "gallery"}  # sphinx-gallery runs a script without __file__
    exec(compile(script, "char_lm.py", "exec"), gallery)
    assert gallery["arguments"]([str(tmp_path), "--steps", "20", "--epochs", "2"]).out_dir == tmp_path

    text = example.corpus()[:60_000]
    run = example.train(text, epochs=2, hidden=16, steps=32, batch_size=8, batches_per_epoch=3, seed=0)
    assert run["sizes"][0] == 3 * 8  # the first three mini-batches of the text
    assert len(run["norms"]) == 2 * 3 and len(run["history"].history["loss"]) == 2
    held_out = example.sequences(example.Vocabulary(text).encode(text)[int(len(text) * 0.95) :], 32)[0]
    assert run["sizes"][1] == len(held_out)  # the held-out text is the full run's
