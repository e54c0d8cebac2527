"""nn.summary(model, example): output shapes and parameter counts from one forward pass, and print(model)."""

from __future__ import annotations

import numpy as np
import pytest

import nn
from autograd_core import Tensor


def lenet() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1, rng=0),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, kernel_size=3, padding=1, rng=1),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(64, 10, rng=2),
    )


def test_a_conv_stack_gives_each_layers_shape_and_its_parameters_only() -> None:
    model = lenet()
    x = np.random.default_rng(0).normal(size=(32, 1, 8, 8))
    table = nn.summary(model, x)
    assert [(r.name, r.type, r.output_shape, r.params) for r in table.rows] == [
        ("0", "Conv2d", "(32, 8, 8, 8)", 8 * 9 + 8),
        ("1", "BatchNorm2d", "(32, 8, 8, 8)", 16),  # gamma and beta; the running statistics are not parameters
        ("2", "ReLU", "(32, 8, 8, 8)", 0),
        ("3", "MaxPool2d", "(32, 8, 4, 4)", 0),
        ("4", "Conv2d", "(32, 16, 4, 4)", 16 * 8 * 9 + 16),
        ("5", "ReLU", "(32, 16, 4, 4)", 0),
        ("6", "Dropout", "(32, 16, 4, 4)", 0),
        ("7", "MaxPool2d", "(32, 16, 2, 2)", 0),
        ("8", "Flatten", "(32, 64)", 0),  # what Dense(64, ...) must take
        ("9", "Dense", "(32, 10)", 64 * 10 + 10),
    ]
    total = sum(p.data.size for p in model.parameters())
    assert table.total_params == table.trainable_params == total == sum(r.params for r in table.rows) == 1914
    assert table.param_bytes == total * 8 and table.output_shape == "(32, 10)"
    text = str(table)
    assert text.splitlines()[0] == "Sequential: input (32, 1, 8, 8) float64, output (32, 10)"
    assert "8 (Flatten)" in text and "Total params: 1,914 (15.0 KB)" in text and "Non-trainable params: 0" in text
    assert repr(table) == text


def test_the_pass_runs_in_eval_mode_without_a_graph_and_restores_every_mode() -> None:
    model = lenet()
    model[6].eval()  # a mixture of modes comes back as it was
    modes = [m.training for m in model.modules()]
    running = model[1].running_mean.copy()
    x = np.random.default_rng(0).normal(size=(4, 1, 8, 8))
    nn.summary(model, Tensor(x, requires_grad=True))
    assert [m.training for m in model.modules()] == modes
    np.testing.assert_array_equal(model[1].running_mean, running)  # eval mode: statistics untouched
    assert all(p.grad is None for p in model.parameters())  # nothing recorded: no_grad
    assert all("forward" not in vars(m) for m in model.modules())  # the recording is gone


def test_print_model_shows_the_shapes_once_known() -> None:
    model = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 2, rng=1))
    assert "out (" not in repr(model)
    nn.summary(model, np.zeros((5, 4)))
    assert repr(model).splitlines() == [
        "Sequential(",
        "  (0): Dense(in_features=4, out_features=8)  # out (5, 8), 40 params",
        "  (1): ReLU()  # out (5, 8)",
        "  (2): Dense(in_features=8, out_features=2)  # out (5, 2), 18 params",
        ")  # out (5, 2), 58 params, training mode",
    ]


class Block(nn.Module):
    """Own parameters beside its parts, a part called twice, and two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(np.ones(3))
        self.body = nn.Sequential(nn.Dense(3, 3, rng=0), nn.Tanh())
        self.head = nn.Dense(3, 1, rng=1)
        self.unused = nn.Dense(3, 7, rng=2)

    def forward(self, x):
        h = self.body(x)
        return self.head(self.body(h) * self.scale), h


def test_nested_modules_repeated_calls_several_outputs_and_unused_parts() -> None:
    table = nn.summary(Block(), np.zeros((5, 3), dtype=np.float32))
    assert [(r.name, r.depth, r.output_shape, r.calls, r.params) for r in table.rows] == [
        ("Block", 0, "[(5, 1), (5, 3)]", 1, 3),  # the model's own parameter
        ("body", 0, "(5, 3)", 2, None),  # its parameters are its parts': shown as --
        ("body.0", 1, "(5, 3)", 2, 12),
        ("body.1", 1, "(5, 3)", 2, 0),
        ("head", 0, "(5, 1)", 1, 4),
        ("unused", 0, "-", 0, 28),
    ]
    assert table.total_params == 3 + 12 + 4 + 28
    text = str(table)
    assert "body (Sequential)" in text and "  body.0 (Dense)" in text and "(5, 3) x2" in text
    assert "input (5, 3) float32" in text


def test_a_tuple_is_several_inputs() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Dense(2, 3, rng=0)

        def forward(self, x, y):
            return self.a(x) + y

    table = nn.summary(Two(), (np.zeros((4, 2)), np.ones((4, 3))))
    assert table.inputs == [((4, 2), "float64"), ((4, 3), "float64")] and table.output_shape == "(4, 3)"


def test_bad_input_is_the_layers_error_and_leaves_nothing_behind() -> None:
    with pytest.raises(TypeError, match="nn.summary: model must be an nn.Module, got function"):
        nn.summary(lambda x: x, np.zeros(3))
    model = lenet()
    with pytest.raises(ValueError, match="Conv2d"):
        nn.summary(model, np.zeros((2, 3, 8, 8)))  # three channels where the first layer takes one
    assert all(m.training for m in model.modules())
    assert all("forward" not in vars(m) for m in model.modules())


def test_the_documentation_shows_what_summary_prints() -> None:
    """The table as Keras and torchinfo lay it out, to the character; the how-to page that shows it
    computes it in an executed cell, so the page shows what this version prints."""
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "how-to" / "training.md").read_text(encoding="utf-8")
    first_cell = page.split("```{code-cell} ipython3\n", 1)[1].split("```", 1)[0]
    assert "model = nn.Sequential(nn.Dense(20, 32), nn.ReLU(), nn.Dense(32, 2))" in first_cell
    assert "print(nn.summary(model, x[:32]))" in first_cell
    x = np.random.default_rng(0).normal(size=(600, 20))
    model = nn.Sequential(nn.Dense(20, 32), nn.ReLU(), nn.Dense(32, 2))
    assert str(nn.summary(model, x[:32])) + "\n" == (
        "Sequential: input (32, 20) float64, output (32, 2)\n"
        "=============================================\n"
        "Layer (type)        Output shape      Param #\n"
        "=============================================\n"
        "0 (Dense)           (32, 32)              672\n"
        "1 (ReLU)            (32, 32)                0\n"
        "2 (Dense)           (32, 2)                66\n"
        "=============================================\n"
        "Total params: 738 (5.8 KB)\n"
        "Trainable params: 738\n"
        "Non-trainable params: 0\n"
    )
