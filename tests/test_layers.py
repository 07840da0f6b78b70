"""`dreamengine layers`: a model's layers, their output shapes and the share of the forward that makes them."""

from __future__ import annotations

import pytest
from torch import nn

from dreamengine import DreamError, DreamModel
from dreamengine.cli import cli
from dreamengine.engine.layers import Layer, model_layers
from dreamengine.options import parse_spec
from dreamengine.testing import TINY_LAYERS, tiny_model

pytestmark = pytest.mark.usefixtures("builtins_only_cli")


def test_each_layer_has_its_output_shape_and_the_share_of_the_forward_done_when_it_is_ready():
    conv1 = 16 * 16 * 8 * 3 * 9  # multiply-adds: output elements x inputs per output
    conv2 = 8 * 8 * 16 * 8 * 9
    head = 4 * 16
    total = conv1 + conv2 + head
    assert model_layers(tiny_model()) == [
        Layer("conv1", "Conv2d", (8, 16, 16), conv1 / total),
        Layer("relu1", "ReLU", (8, 16, 16), conv1 / total),
        Layer("conv2", "Conv2d", (16, 8, 8), (conv1 + conv2) / total),
        Layer("relu2", "ReLU", (16, 8, 8), (conv1 + conv2) / total),
        Layer("pool", "AdaptiveAvgPool2d", (16, 1, 1), (conv1 + conv2) / total),
        Layer("flatten", "Flatten", (16,), (conv1 + conv2) / total),
        Layer("head", "Linear", (4,), 1.0),
    ]
    assert [layer.name for layer in model_layers(tiny_model())] == list(TINY_LAYERS)


class _Nested(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Identity(), nn.ReLU())
        self.unused = nn.Conv2d(4, 4, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))

    def forward(self, x):
        return self.head(self.stem(x))


def test_nesting_levels_patterns_identities_and_layers_a_forward_never_runs():
    model = DreamModel(_Nested(), name="nested", input_size=(8, 8))
    assert [layer.name for layer in model_layers(model, levels=1)] == ["stem", "head", "unused"]
    assert model_layers(model, levels=1)[-1] == Layer("unused", "Conv2d", None, None)
    assert [layer.name for layer in model_layers(model)] == [
        "stem.0",
        "stem.2",
        "stem",
        "head.0",
        "head.1",
        "head.2",
        "head",
        "unused",
    ]  # no Identity
    assert [layer.name for layer in model_layers(model, "head.*")] == ["head.0", "head.1", "head.2"]


@pytest.mark.parametrize("training", [True, False])
def test_listing_leaves_the_model_in_its_mode(training):
    model = DreamModel(_Nested(), name="nested", input_size=(8, 8))
    model.train(training)
    model_layers(model)
    assert model.training is training and model.net.head.training is training


def test_the_command_lists_layers_that_the_layer_objective_accepts(runner, tmp_path):
    result = runner.invoke(cli, ["layers", "--model", "resnet10t", "layer?"])
    assert result.exit_code == 0, result.output
    rows = [
        [cell.strip() for cell in line.split("│")[1:5]] for line in result.output.splitlines() if line.startswith("│")
    ]
    assert [row[0] for row in rows] == ["layer1", "layer2", "layer3", "layer4"]
    assert [row[2] for row in rows] == ["64 x 44 x 44", "128 x 22 x 22", "256 x 11 x 11", "512 x 6 x 6"]
    costs = [int(row[3].rstrip("%")) for row in rows]
    assert costs == sorted(costs) and costs[0] < 60 and costs[-1] == 100
    hint = " ".join(result.output.split())
    assert all(
        objective in hint
        for objective in (
            "layer:NAME",
            "neuron:NAME:CHANNEL",
            "guide:NAME:path=PICTURE",
            "style:NAME:path=PICTURE",
            "direction:NAME:path=FILE",
            "`dreamengine direction`",
        )
    )
    dreamed = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "resnet10t",
            "--size",
            "32",
            "--steps",
            "1",
            "--objective",
            "layer:layer2",
            "-o",
            str(tmp_path / "d.png"),
            "--strategy",
            "none",
        ],
    )
    assert dreamed.exit_code == 0, dreamed.output


def test_a_pattern_that_matches_nothing_is_an_error(runner):
    result = runner.invoke(cli, ["layers", "--model", "resnet10t", "blocks.*"])
    assert result.exit_code == 1 and "no layer of resnet10t matches 'blocks.*'" in result.output
    assert "Layers of" not in result.output  # no empty table before the error


def test_a_checkpoints_network_is_listed_at_its_training_size(runner, checkpoints):
    result = runner.invoke(cli, ["layers", "--checkpoint", str(checkpoints / "epoch-001.pt"), "--levels", "1"])
    assert result.exit_code == 0, result.output
    assert "at 16x16" in result.output
    assert any(line.split("│")[3].strip() == "4" for line in result.output.splitlines() if "│ fc " in line)


def test_a_layers_shape_is_measured_once_for_all_its_components(host):
    model = tiny_model()
    forwards = []
    model.register_forward_pre_hook(lambda module, inputs: forwards.append(1))
    assert model.layer_shape("conv2") == (16, 8, 8) and model.layer_shape("conv2") == (16, 8, 8)
    assert model.layer_shape("relu1") == (8, 16, 16)
    assert len(forwards) == 2  # one per layer
    channels = [host.registry.create("objectives", parse_spec(f"layer:conv2:{channel}")) for channel in range(16)]
    for objective in channels:
        objective.prepare(model)
    assert len(forwards) == 2
    with pytest.raises(DreamError, match="layer 'conv2' has 16 channels \\(0-15\\); there is no channel 16"):
        host.registry.create("objectives", parse_spec("layer:conv2:16")).prepare(model)


class _Pair(nn.Module):
    """A layer whose output is two tensors, not one."""

    def forward(self, x):
        return x, x


class _Tupled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.pair = _Pair()
        self.head = nn.Sequential(nn.Sequential(nn.Conv2d(2, 2, 1)))

    def forward(self, x):
        return self.head(self.pair(self.conv(x))[0])


def test_a_layer_of_several_outputs_has_no_shape_and_adds_no_work():
    model = DreamModel(_Tupled(), name="tupled", input_size=(4, 4))
    work = 4 * 4 * 2 * 3  # each convolution: 16 positions x 2 outputs x 3 (then 2) inputs
    total = work + 4 * 4 * 2 * 2
    assert model_layers(model) == [
        Layer("conv", "Conv2d", (2, 4, 4), work / total),
        Layer("pair", "_Pair", None, work / total),
        Layer("head.0", "Sequential", (2, 4, 4), 1.0),
        Layer("head", "Sequential", (2, 4, 4), 1.0),
    ]  # names of two dotted parts at most: not head.0.0
    assert [layer.name for layer in model_layers(model, levels=3)][2] == "head.0.0"


def test_a_network_of_one_multiply_add_does_it_all_in_its_one_layer():
    net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(1, 1, 1, bias=False))
    model = DreamModel(net, name="one", mean=(0.5,), std=(0.5,), input_size=(4, 4))  # grayscale: one channel in
    assert [layer.cost for layer in model_layers(model)] == [0.0, 1.0]
