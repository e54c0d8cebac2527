"""``nn.fit`` against the hand-written training loop of the same model (the W2 digits MLP).

Both sides train one epoch per call, from the same initial weights, shuffling with
generators of the same seed: ``nn.fit(..., epochs=1, verbose=0)`` on one side, and on
the other the loop users wrote before ``fit`` existed (permute, slice, ``minimize``).
Their losses and weights must agree exactly; the ratio is what ``fit``'s own machinery
(callbacks, progress, bookkeeping) costs per epoch. The loop runs with the BLAS threads
``fit`` runs with (its default, one, unless a count was set), so both sides compute alike.
"""

from __future__ import annotations

import numpy as np

from autograd_core.threads import blas_threads

from .workloads import TARGETS, Case, Result, Sizes, _dense_weights, _mlp_pair, _require, load_digits_data


def cases(s: Sizes) -> list[Case]:
    """nn.fit per epoch against the hand-written loop of the same model (W2's MLP)."""
    nn, optim = _require(("fit", "Sequential", "Dense", "ReLU", "softmax_cross_entropy"), ("GradientDescent",))
    x, y, note = load_digits_data(s.digits_samples)
    h, batch = s.mlp_hidden, 64
    model, dense, _ = _mlp_pair(nn, (64, h, h, 10), np.float64, batchnorm=False)
    loop_model, loop_dense, _ = _mlp_pair(nn, (64, h, h, 10), np.float64, batchnorm=False)
    loop_model.load_state_dict(model.state_dict())
    opt = optim.GradientDescent(model.parameters(), lr=0.1)
    loop_opt = optim.GradientDescent(loop_model.parameters(), lr=0.1)
    rng, loop_rng = np.random.default_rng(2), np.random.default_rng(2)
    loss = nn.softmax_cross_entropy

    def framework() -> Result:
        history = nn.fit(model, x, y, loss=loss, optimizer=opt, epochs=1, batch_size=batch, seed=rng, verbose=0)
        return {"loss": history.history["loss"][0], **_dense_weights(dense)}

    @blas_threads()
    def hand_written() -> Result:
        loop_model.train()
        order = loop_rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            xb, yb = x[idx], y[idx]
            total += loop_opt.minimize(lambda xb=xb, yb=yb: loss(loop_model(xb), yb)) * len(idx)
        return {"loss": total / len(x), **_dense_weights(loop_dense)}

    n_batches = -(-len(x) // batch)
    return [
        Case(
            key="FIT",
            title=f"nn.fit vs hand-written loop, digits MLP 64-{h}-{h}-10 (the NumPy column is the loop)",
            unit=f"epoch ({n_batches} batches)",
            target=TARGETS["FIT"],
            framework=framework,
            numpy=hand_written,
            tol=0.0,
            note=note,
        )
    ]
