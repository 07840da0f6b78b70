"""Networks that take one input size only (vision transformers): the forward resizes every dream to it."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dreamengine.analysis.directions import mean_features
from dreamengine.cli import cli
from dreamengine.run.prepare import load_architecture

pytestmark = pytest.mark.usefixtures("resnet10t_quiet", "one_thread")


def seen_sizes(model) -> list[tuple[int, int]]:
    """Record the size of every picture the network itself is given."""
    sizes = []
    model.net.register_forward_pre_hook(lambda _module, args: sizes.append(tuple(args[0].shape[-2:])))
    return sizes


def test_a_fixed_size_network_sees_its_own_size_whatever_the_dream_size(host):
    model = load_architecture(host, "test_vit").freeze()  # timm's: fixed_input_size, 160x160
    assert model.fixed_size and model.input_size == (160, 160)
    sizes = seen_sizes(model)
    image = torch.rand(2, 3, 48, 72, requires_grad=True)
    model(image)[:, 0].sum().backward()
    assert sizes == [(160, 160)] and image.grad.shape == image.shape and image.grad.abs().sum() > 0


def test_any_other_network_sees_the_dream_as_it_is(host):
    model = load_architecture(host, "resnet10t").freeze()
    assert not model.fixed_size
    sizes = seen_sizes(model)
    model(torch.rand(1, 3, 48, 72))
    assert sizes == [(48, 72)]


def test_octaves_and_a_photo_of_another_shape_dream_with_a_vision_transformer(runner, tmp_path):
    """Both failed at their first step: 'Input height (34) doesn't match model (160)'."""
    photo = tmp_path / "wide.png"
    Image.new("RGB", (60, 40), "orange").save(photo)
    result = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "test_vit",
            "--init",
            f"photo:path={photo}",
            "--size",
            "48",
            "--strategy",
            "octaves:count=2",
            "--steps",
            "2",
            "-o",
            str(tmp_path / "d.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "d.png").size == (48, 32)


def test_a_transformers_channels_are_its_features_not_its_tokens(host, tmp_path):
    """A ViT block's output is (batch, tokens, features): layer:NAME:C, directions and `layers` read feature C."""
    from dreamengine.engine.layers import model_layers

    model = load_architecture(host, "test_vit").freeze()  # 100 patches + 1 class token, 64 features
    image = torch.rand(1, 3, 160, 160)
    tokens = []
    model.layer("blocks.1").register_forward_hook(lambda _module, _inputs, output: tokens.append(output))
    with model.capture(["blocks.1"]) as seen:
        model(image)
    assert tokens[0].shape == (1, 101, 64) and seen["blocks.1"].shape == (1, 64, 101)
    assert torch.equal(seen["blocks.1"][:, 5], tokens[0][:, :, 5])
    shapes = {layer.name: layer.shape for layer in model_layers(model)}
    assert shapes["blocks.1"] == (64, 101)
    Image.new("RGB", (40, 40), "teal").save(tmp_path / "teal.png")
    assert mean_features(model, "blocks.1", [tmp_path / "teal.png"]).mean.shape == (64,)
