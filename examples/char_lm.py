"""A character-level language model
==================================

A character-level language model of Python's own help texts.

The corpus ships with Python itself: ``pydoc_data.topics``, the text ``help()`` prints about
the language (about 465,000 characters; no download). The model reads a character at a
time and predicts the next one::

    Embedding(characters → 48) → LSTM(48 → 256, 2 layers, dropout 0.1) → Dense(256 → characters)

trained with ``nn.fit`` on sequences of 64 characters (the loss of every step, mean over the
batch and the steps), Adam with the gradients' norm clipped to 0.5 before each step
(``optim.Adam(..., clip_grad_norm=0.5)``), and the learning rate decayed by a schedule after
every epoch. Text is sampled at several temperatures before and after training; the loss
curve goes to ``docs/char_lm_loss.png`` (or the folder given).

    .venv/bin/pip install -e ".[examples]" && .venv/bin/python examples/char_lm.py [output directory]

The full run (the default: 10 epochs over the whole text, 1,080 steps) takes about 9 minutes on
two cores; its figures are in the documentation's sequence-models tutorial. A short run trains
``--steps N`` steps in all, over ``--epochs E`` epochs (10 by default) that each read the first
``N / E`` mini-batches of the text, the held-out text unchanged. The documentation's gallery runs
``--steps 20 --epochs 2`` (seconds, so the text it writes is still noise).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import nn
import optim
from autograd_core import Tensor

F32 = np.float32


def corpus() -> str:
    """The help texts of the language, one topic after another (in a fixed order)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


class Vocabulary:
    """The characters of the text, each with an index."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=np.intp)

    def decode(self, indices: Any) -> str:
        return "".join(self.chars[int(i)] for i in indices)


def sequences(codes: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows of ``steps`` characters and, for each, the next character of each
    position (the window shifted by one): ``x`` and ``y`` of shape ``(windows, steps)``."""
    n = (len(codes) - 1) // steps
    x = codes[: n * steps].reshape(n, steps)
    y = codes[1 : n * steps + 1].reshape(n, steps)
    return x, y


class CharLM(nn.Module):
    """Embedding → stacked LSTM → Dense, applied at every step: logits ``(batch, time, characters)``."""

    def __init__(self, characters: int, hidden: int = 256, embedding: int = 48, layers: int = 2, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.embed = nn.Embedding(characters, embedding, rng=rng, dtype=F32)
        self.lstm = nn.LSTM(embedding, hidden, num_layers=layers, dropout=0.1, rng=rng, dtype=F32)
        self.head = nn.Dense(hidden, characters, init="xavier", rng=rng, dtype=F32)

    def step(self, x: Any, state: Any = None) -> tuple[Tensor, Any]:
        """Logits for every position of ``x`` (character indices, ``(batch, time)``), starting from
        ``state`` (``(h, c)``; None: zeros), and the state after the last position."""
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state

    def forward(self, x: Any) -> Tensor:
        return self.step(x)[0]


class GradNorms(nn.Callback):
    """The gradients' joint norm before clipping, at every step (the optimizer's ``grad_norm``)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self.norms.append(self.optimizer.grad_norm)


def sample(
    model: CharLM, vocab: Vocabulary, prompt: str, length: int, temperature: float, rng: np.random.Generator
) -> str:
    """``length`` characters after ``prompt``, each drawn from ``softmax(logits / temperature)``
    (temperature 0: the most likely character every time)."""
    with model.evaluating():  # eval mode (no dropout) and no graph
        logits, state = model.step(vocab.encode(prompt)[None])
        chosen = []
        for _ in range(length):
            z = logits.numpy()[0, -1].astype(np.float64)
            if temperature == 0:
                nxt = int(np.argmax(z))
            else:
                p = np.exp((z - z.max()) / temperature)
                nxt = int(rng.choice(len(p), p=p / p.sum()))
            chosen.append(nxt)
            logits, state = model.step(np.array([[nxt]]), state)  # one step, carrying the state
    return vocab.decode(chosen)


def train(
    text: str | None = None,
    epochs: int = 10,
    hidden: int = 256,
    steps: int = 64,
    batch_size: int = 64,
    lr: float = 0.003,
    max_norm: float = 0.5,
    seed: int = 0,
    verbose: int = 0,
    batches_per_epoch: int | None = None,
) -> dict[str, Any]:
    """Train on ``text`` (the corpus by default; its last 5 % held out); returns the model, the
    vocabulary, the history, the optimizer, the gradients' norm at every step and the seconds
    it took. The gradients' joint norm is clipped to ``max_norm`` before every step.
    ``batches_per_epoch``: each epoch reads only that many mini-batches, from the start of the
    training text (a short run); None reads all of it."""
    text = corpus() if text is None else text
    vocab = Vocabulary(text)
    codes = vocab.encode(text)
    cut = int(len(codes) * 0.95)
    x_train, y_train = sequences(codes[:cut], steps)
    if batches_per_epoch is not None:
        x_train, y_train = x_train[: batches_per_epoch * batch_size], y_train[: batches_per_epoch * batch_size]
    x_val, y_val = sequences(codes[cut:], steps)
    model = CharLM(len(vocab), hidden=hidden, seed=seed)
    opt = optim.Adam(model.parameters(), lr=lr, clip_grad_norm=max_norm)  # clipped before every step
    norms = GradNorms()
    schedule = optim.ExponentialDecay(opt, rate=0.85)  # lr = α₀ · 0.85^epoch, epoch 1, 2, ...
    start = time.perf_counter()
    history = nn.fit(
        model,
        x_train,
        y_train,
        loss=nn.softmax_cross_entropy,  # (batch, time, characters) logits against (batch, time) targets
        optimizer=opt,
        schedule=schedule,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=(x_val, y_val),
        seed=seed,
        verbose=verbose,
        callbacks=[norms],
    )
    return {
        "model": model,
        "vocab": vocab,
        "history": history,
        "optimizer": opt,
        "norms": norms.norms,
        "seconds": time.perf_counter() - start,
        "sizes": (len(x_train), len(x_val)),
    }


TEMPERATURES = (0.0, 0.5, 0.8, 1.0)
PROMPT = "The "


def show_samples(model: CharLM, vocab: Vocabulary, seed: int, length: int = 240) -> None:
    for temperature in TEMPERATURES:
        text = sample(model, vocab, PROMPT, length, temperature, np.random.default_rng(seed))
        print(f"--- temperature {temperature}:\n{PROMPT}{text}\n")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: an output folder, and the length of the run."""
    parser = argparse.ArgumentParser(description="A character-level LSTM language model of Python's help texts.")
    parser.add_argument("out_dir", nargs="?", type=Path, help="where the loss curve goes (default: docs/)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps in all, a short run (default: every epoch reads the whole text)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.steps is not None and args.steps < args.epochs:
        parser.error(f"--steps must be at least --epochs ({args.epochs}): one step per epoch or more, got {args.steps}")
    if args.out_dir is None:
        args.out_dir = Path(__file__).resolve().parent.parent / "docs"
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    out_dir = args.out_dir
    text = corpus()
    vocab = Vocabulary(text)
    print(f"corpus: {len(text):,} characters, {len(vocab)} distinct")
    print("=== before training")
    show_samples(CharLM(len(vocab), seed=0), vocab, seed=1)
    per_epoch = None if args.steps is None else args.steps // args.epochs
    run = train(text, epochs=args.epochs, verbose=2, batches_per_epoch=per_epoch)
    model, history = run["model"], run["history"]
    print(model)
    loss, val = history.history["loss"], history.history["val_loss"]
    norms, max_norm = np.array(run["norms"]), run["optimizer"].clip_grad_norm
    print(
        f"trained on {run['sizes'][0]:,} sequences of 64 characters in {run['seconds'] / 60:.1f} min: "
        f"loss {loss[0]:.3f} → {loss[-1]:.3f} nats per character, validation {val[0]:.3f} → {val[-1]:.3f} "
        f"({val[-1] / np.log(2):.2f} bits); the gradients' norm (median {np.median(norms):.2f}) was clipped to "
        f"{max_norm} at {np.sum(norms > max_norm)} of the {len(norms):,} steps"
    )
    print("=== after training")
    show_samples(model, vocab, seed=1)
    fig = history.plot()
    fig.axes[0].set_title("char_lm.py: loss (nats per character)", fontsize=10)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / "char_lm_loss.png", dpi=100)
    print(f"wrote {out_dir / 'char_lm_loss.png'}")


if __name__ == "__main__":
    main()
