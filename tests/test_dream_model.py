"""DreamModel on its own: what a grayscale network sees, its class count, its layers, weights that do not fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dreamengine import DreamError, DreamModel
from dreamengine.engine.model import channels_first
from dreamengine.testing import tiny_model

IMAGE = torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(0))


def _gray(net: nn.Module | None = None) -> DreamModel:
    return DreamModel(net or nn.Conv2d(1, 2, 1), name="gray", mean=(0.5,), std=(0.25,), input_size=(4, 5))


def test_a_grayscale_network_sees_an_images_luminance_in_every_channel_and_an_rgb_one_the_image():
    luma = 0.299 * IMAGE[:, 0] + 0.587 * IMAGE[:, 1] + 0.114 * IMAGE[:, 2]
    for image, expected in ((IMAGE, luma[:, None]), (IMAGE[1], luma[1][None])):  # a batch, and one picture
        seen = _gray().seen(image)
        assert seen.shape == image.shape and seen.is_contiguous()
        torch.testing.assert_close(seen, expected.expand_as(image))
    assert tiny_model().seen(IMAGE) is IMAGE
    assert _gray().seen(IMAGE.half()).dtype == torch.float16
    torch.testing.assert_close(_gray().normalise(IMAGE), (luma[:, None] - 0.5) / 0.25)


def test_a_network_that_does_not_say_how_many_classes_it_has_is_measured_once():
    net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 5))
    model = DreamModel(net, name="plain", input_size=(4, 4))
    forwards = []
    model.register_forward_pre_hook(lambda module, inputs: forwards.append(inputs[0].shape))
    assert model.num_classes == 5 and model.num_classes == 5 and model.class_index("4") == 4
    assert forwards == [(1, 3, 4, 4)]
    features = DreamModel(nn.Conv2d(3, 5, 1), name="features", input_size=(4, 4))  # its output is no logits
    with pytest.raises(DreamError, match="^cannot tell how many classes model 'features' has.$"):
        _ = features.num_classes


def test_an_unknown_layer_is_refused_with_the_closest_names_and_the_command_that_lists_them():
    model = tiny_model()
    with pytest.raises(DreamError) as error:
        model.layer("conv3")
    assert str(error.value) == (
        "unknown layer of tiny 'conv3'. Did you mean 'conv2' or 'conv1'? "
        "Available: conv1, conv2, flatten, head, pool, relu1, relu2. "
        "`dreamengine layers` lists them with their outputs."
    )
    with pytest.raises(DreamError, match="^unknown layer of tiny ''"):
        model.layer("")  # the network itself is no layer


def test_a_layers_output_is_for_one_gray_picture_unless_given_a_picture():
    model = tiny_model()
    output = model.layer_output("conv2")
    assert output.shape == (1, 16, 8, 8)
    assert torch.equal(output, model.layer_output("conv2", torch.full((1, 3, 16, 16), 0.5)))
    assert not torch.equal(output, model.layer_output("conv2", torch.full((1, 3, 16, 16), 0.9)))


class _Tokens(nn.Module):
    """A transformer's layout: ``(batch, tokens, channels)``."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


def test_a_layer_of_tokens_is_captured_channels_first():
    net = nn.Sequential(nn.Conv2d(3, 4, 2, stride=2), _Tokens(), nn.Flatten(), nn.Linear(4 * 6, 2))
    model = DreamModel(net, name="tokens", input_size=(4, 6))
    grid = model.layer_output("0")  # (1, 4 channels, 2, 3)
    tokens = model.layer_output("1")
    assert tokens.shape == (1, 4, 6) and torch.equal(tokens, grid.flatten(2))
    other = torch.rand(1, 6, 4)
    assert torch.equal(channels_first(other), other.transpose(1, 2)) and channels_first(IMAGE) is IMAGE


def test_weights_that_do_not_fit_are_refused_with_the_tensors_that_do_not():
    model = tiny_model()
    good = {key: torch.full_like(value, 0.5) for key, value in model.net.state_dict().items()}
    bad = dict(good, **{"conv2.weight": torch.zeros(2, 8, 3, 3), "head.weight": torch.zeros(5, 16), "extra": 0})
    del bad["conv1.bias"]
    with pytest.raises(DreamError) as error:
        model.load_weights(bad, "weights.pt")
    assert str(error.value) == (
        "weights.pt does not fit the architecture 'tiny': 2 tensors have the wrong shape (e.g. conv2.weight: "
        "(2, 8, 3, 3) in the file, (16, 8, 3, 3) in the model); 1 missing (conv1.bias); 1 unexpected (extra)."
    )
    with pytest.raises(DreamError) as error:
        model.load_weights({f"layer{n}": torch.zeros(1) for n in range(7)}, "other.pt")
    assert str(error.value) == (
        "other.pt does not fit the architecture 'tiny': 6 missing (conv1.weight, conv1.bias, conv2.weight, "
        "conv2.bias, head.weight and 1 more); 7 unexpected (layer0, layer1, layer2, layer3, layer4 and 2 more)."
    )
    for fewer, text in (
        (
            {key: good[key] for key in ("conv1.weight",)},
            "5 missing (conv1.bias, conv2.weight, conv2.bias, head.weight, head.bias)",
        ),
        (dict(good, extra=0), "1 unexpected (extra)"),
    ):  # one kind of misfit alone
        with pytest.raises(DreamError) as error:
            model.load_weights(fewer, "some.pt")
        assert str(error.value) == f"some.pt does not fit the architecture 'tiny': {text}."
    model.load_weights(good, "good.pt")
    assert all(torch.equal(value, good[key]) for key, value in model.net.state_dict().items())


def test_a_frozen_model_is_in_eval_mode_with_no_parameter_learning():
    model = DreamModel(nn.Sequential(nn.Conv2d(3, 2, 1), nn.Dropout()), name="net").train().freeze()
    assert not model.training and not model.net[1].training
    assert not any(parameter.requires_grad for parameter in model.parameters())


class _Sees(nn.Module):
    """Remembers what it was given."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x)
        return self.conv(x).mean((2, 3))


def test_a_fixed_size_network_sees_any_picture_resized_to_its_size_smoothly_and_its_size_as_it_is():
    net = _Sees()
    model = DreamModel(net, name="fixed", input_size=(8, 6), fixed_size=True)
    picture = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    model(picture)
    resized = nn.functional.interpolate(picture, size=(8, 6), mode="bilinear", align_corners=False, antialias=True)
    assert torch.equal(net.inputs[-1], model.normalise(resized))
    model(resized)
    assert torch.equal(net.inputs[-1], model.normalise(resized))
    DreamModel(net, name="any", input_size=(8, 6))(picture)
    assert net.inputs[-1].shape == (1, 3, 16, 16)


def test_autocast_runs_the_network_in_the_dtype_asked_for_and_returns_float32_logits():
    model = DreamModel(_Sees(), name="half", input_size=(4, 4))
    model.autocast = torch.float16
    with torch.autocast("cpu", dtype=torch.float16), torch.no_grad():
        expected = model.net(model.normalise(IMAGE)).float()
    with torch.no_grad():
        logits = model(IMAGE)
    assert logits.dtype == torch.float32 and torch.equal(logits, expected)


def test_whole_numbers_for_mean_and_std_make_float_buffers_that_follow_the_models_dtype():
    model = DreamModel(nn.Conv2d(3, 2, 1), name="raw", mean=(0, 0, 0), std=(1, 1, 1))
    assert model.mean.dtype == model.std.dtype == torch.float32
    model.double()
    assert model.mean.dtype == model.std.dtype == torch.float64


class _TwoOutputs(nn.Module):
    def forward(self, x):
        return x, x.argmax(1)


def test_a_layer_whose_output_is_not_one_float_tensor_is_captured_as_it_is():
    model = DreamModel(nn.Sequential(nn.Conv2d(3, 2, 1), _TwoOutputs()), name="two", input_size=(4, 4))
    with torch.no_grad(), model.capture(["1"]) as captured:
        model(IMAGE)
    features, indices = captured["1"]
    assert features.dtype == torch.float32 and indices.dtype == torch.int64 and indices.shape == (2, 4, 5)
