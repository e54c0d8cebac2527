"""draw_graph shows a model's parameters by their names in the model (0.weight, 1.gamma, ...)."""

from __future__ import annotations

import re

import numpy as np

import autograd_core as ag
import nn
from autograd_core.viz import _short_name


def labels(t) -> list[str]:
    return [label.split("\\n")[0] for label in re.findall(r'label="([^"]*)"', ag.draw_graph(t).source)]


def test_parameters_are_drawn_by_their_names_without_names_given() -> None:
    model = nn.Sequential(nn.Dense(3, 4, bias=False), nn.BatchNorm(4), nn.ReLU(), nn.Dense(4, 2))
    loss = nn.softmax_cross_entropy(model(np.ones((2, 3))), np.array([0, 1]))  # first call: no parameters() yet
    drawn = labels(loss)
    for name in ("0.weight", "1.gamma", "1.beta", "3.weight", "3.bias"):
        assert name in drawn
    assert [name for name, _ in model.named_parameters()] == [p.module_name for p in model.parameters()]


def test_a_name_set_by_the_user_wins_and_a_sub_module_called_first_is_renamed_by_its_model() -> None:
    inner = nn.Dense(3, 2)
    inner(np.ones((1, 3)))
    assert inner.weight.module_name == "weight"
    model = nn.Sequential(nn.ReLU(), inner)
    model[1].bias.name = "b_out"
    drawn = labels(model(np.ones((1, 3))).sum())
    assert "1.weight" in drawn and "b_out" in drawn and "1.bias" not in drawn
    inner(np.ones((1, 3)))
    assert inner.weight.module_name == "1.weight"  # the larger model's name stays


class Block(nn.Module):
    def __init__(self) -> None:
        self.attention = nn.Dense(2, 2)

    def forward(self, x):
        return self.attention(x)


class Encoder(nn.Module):
    def __init__(self) -> None:
        self.layers = [Block() for _ in range(4)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_long_nested_names_are_shortened_readably() -> None:
    model = nn.Sequential(Encoder())
    drawn = labels(model(np.ones((1, 2))).sum())
    assert model.layers[0].layers[3].attention.weight.module_name == "0.layers.3.attention.weight"
    assert "0.l.3.attention.weight" in drawn and "0.l.0.attention.bias" in drawn
    assert _short_name("encoder.layers.3.attention.weight") == "e.l.3.attention.weight"
    assert _short_name("0.weight") == "0.weight"
    assert len(_short_name("a" * 30 + ".b" * 20)) == 24
