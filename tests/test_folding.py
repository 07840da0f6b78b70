"""Batch norms folded into their convolutions: the same network, the same layer names, unfolded where needed."""

from __future__ import annotations

import warnings
from collections import OrderedDict

import pytest
import torch
from timm.layers import BatchNormAct2d
from torch import nn

from dreamengine import DreamError, DreamModel
from dreamengine.engine import folding
from dreamengine.engine.checkpoint import read_checkpoint, save_checkpoint
from dreamengine.engine.folding import NormRemainder, _close, fold_norms
from dreamengine.engine.loop import run_job
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import build_job

CPU = torch.device("cpu")


def with_norms(*extra: tuple[str, nn.Module], frozen: bool = True) -> DreamModel:
    """A small CNN with a timm norm+activation and a plain batch norm, their statistics far from the identity."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(
            OrderedDict(
                [
                    ("conv1", nn.Conv2d(3, 8, 3, padding=1, bias=False)),
                    ("bn1", BatchNormAct2d(8, act_layer=nn.ReLU)),
                    ("conv2", nn.Conv2d(8, 16, 3, stride=2, padding=1)),
                    ("bn2", nn.BatchNorm2d(16)),
                    ("relu2", nn.ReLU()),
                    *extra,
                    ("pool", nn.AdaptiveAvgPool2d(1)),
                    ("flatten", nn.Flatten()),
                    ("head", nn.Linear(16, 4)),
                ]
            )
        )
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.2, 3)
                module.weight.data.uniform_(-1.5, 1.5)
                module.bias.data.uniform_(-0.5, 0.5)
    net.num_classes = 4
    model = DreamModel(net, name="normed", input_size=(16, 16), class_names=["red", "green", "blue", "grey"])
    return model.freeze() if frozen else model


def logits(model: DreamModel, image: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(image)


IMAGE = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_folding_keeps_the_network_and_every_layer_name():
    model = with_norms()
    names = [name for name, _ in model.net.named_modules()]
    expected = logits(model, IMAGE)
    model.fold_norms()
    assert isinstance(model.layer("bn1"), NormRemainder) and isinstance(model.layer("bn1.act"), nn.ReLU)
    assert isinstance(model.layer("bn2"), NormRemainder) and model.layer("conv1").bias is not None
    assert {name for name, _ in model.net.named_modules()} >= set(names)
    torch.testing.assert_close(logits(model, IMAGE), expected, rtol=1e-4, atol=1e-5)
    assert model.fold_norms().layer("bn1") is model.layer("bn1")  # done once


def test_capture_of_a_folded_convolution_sees_its_own_output_then_folds_it_again():
    plain, folded = with_norms(), with_norms().fold_norms()
    seen = {}
    for name, model in (("plain", plain), ("folded", folded)):
        with model.capture(["conv1", "bn1", "conv2"]) as captured:
            model(IMAGE)
            seen[name] = dict(captured)
    for layer in ("conv1", "bn1", "conv2"):
        torch.testing.assert_close(seen["folded"][layer], seen["plain"][layer], rtol=1e-4, atol=1e-5)
    assert isinstance(folded.layer("bn1"), NormRemainder) and folded.layer("conv1").bias is not None


def test_unfolded_restores_the_network_as_built_and_nests():
    model = with_norms().fold_norms()
    with model.unfolded():
        assert isinstance(model.layer("bn1"), BatchNormAct2d) and model.layer("conv1").bias is None
        with model.unfolded(["conv1"]):
            pass
        assert isinstance(model.layer("bn2"), nn.BatchNorm2d)
    with model.unfolded(["conv2"]):
        assert isinstance(model.layer("bn1"), NormRemainder) and type(model.layer("bn2")) is nn.BatchNorm2d
    assert isinstance(model.layer("bn2"), NormRemainder)


class ConvAndNorm(nn.Module):
    """A 1x1 convolution registered just before a batch norm; the subclasses use them in other ways."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 1)
        self.bn = nn.BatchNorm2d(16)


class SharedOutput(ConvAndNorm):
    """The convolution's output feeds its norm and also a sum: folding would change the sum."""

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


class NormFirst(ConvAndNorm):
    """The norm runs first, on the input, though the convolution is registered before it."""

    def forward(self, x):
        return self.conv(self.bn(x))


def test_a_convolution_whose_output_is_used_elsewhere_leaves_the_network_unfolded():
    model = with_norms(("shared", SharedOutput()))
    expected = logits(model, IMAGE)
    with pytest.warns(
        UserWarning, match=r"batch norms of model 'normed' could not be folded .* \(--no-fold-norms skips"
    ):
        model.fold_norms()
    assert isinstance(model.layer("bn1"), BatchNormAct2d) and isinstance(model.layer("shared.bn"), nn.BatchNorm2d)
    assert torch.equal(logits(model, IMAGE), expected)


def test_a_norm_that_does_not_read_the_convolution_before_it_is_left_alone():
    model = with_norms(("first", NormFirst()))
    expected = logits(model, IMAGE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fold_norms()
    assert type(model.layer("first.bn")) is nn.BatchNorm2d and model.layer("first.conv").bias.shape == (16,)
    assert isinstance(model.layer("bn1"), NormRemainder)
    torch.testing.assert_close(logits(model, IMAGE), expected, rtol=1e-4, atol=1e-5)


def test_training_weights_and_checkpoints_see_the_network_as_built(tmp_path):
    model = with_norms().fold_norms()
    as_built = with_norms().net.state_dict()
    path = save_checkpoint(model, tmp_path / "folded.pt", architecture="normed")
    saved = read_checkpoint(path)["state_dict"]
    assert saved.keys() == as_built.keys()
    assert all(torch.equal(saved[key], as_built[key]) for key in as_built)
    assert isinstance(model.layer("bn1"), NormRemainder)  # saving did not unfold it
    model.load_weights(as_built, "a test")
    assert isinstance(model.layer("bn1"), BatchNormAct2d)
    model.fold_norms().train()
    assert isinstance(model.layer("bn1"), BatchNormAct2d) and model.layer("bn1").training


def test_folding_needs_a_frozen_model():
    with pytest.raises(DreamError, match=r"^fold_norms\(\) needs a model in eval mode \(call freeze\(\) first\)\.$"):
        with_norms(frozen=False).fold_norms()


def test_a_norms_dropout_and_a_nested_pair_keep_their_places_and_no_hook_is_left_behind():
    block = nn.Sequential(OrderedDict([("conv", nn.Conv2d(16, 16, 1)), ("bn", nn.BatchNorm2d(16))]))
    model = with_norms(("block", block))
    model.net.bn1 = BatchNormAct2d(8, act_layer=nn.ReLU, drop_layer=nn.Dropout).eval()
    plain = {}
    with model.capture(["block.conv"]) as captured:
        model(IMAGE)
        plain = dict(captured)
    model.fold_norms()
    assert isinstance(model.layer("bn1"), NormRemainder) and isinstance(model.layer("bn1.drop"), nn.Dropout)
    assert isinstance(model.layer("block.bn"), NormRemainder)
    with model.capture(["block.conv"]) as captured:
        model(IMAGE)  # the nested convolution runs unfolded: its own output, without its norm's
    torch.testing.assert_close(captured["block.conv"], plain["block.conv"], rtol=1e-4, atol=1e-5)
    assert not any(module._forward_hooks for module in model.modules())


def test_the_warning_of_an_unfoldable_network_names_it_and_points_at_its_caller():
    with pytest.warns(UserWarning) as caught:
        assert fold_norms(with_norms(("shared", SharedOutput())).net, IMAGE) == []
    assert str(caught[0].message) == (
        "the batch norms of the model could not be folded into their convolutions without changing its output; "
        "it runs unfolded (--no-fold-norms skips the attempt)."
    )
    assert caught[0].filename != folding.__file__  # the caller's line, not the folding's own


class _SizeChecked(nn.Module):
    """A convolution and its norm that take pictures of one size only (a vision transformer's patch grid)."""

    def __init__(self, size):
        super().__init__()
        self.size, self.conv, self.bn = size, nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.clone())
        assert tuple(x.shape[-2:]) == self.size, f"this network takes {self.size} pictures only"
        return self.bn(self.conv(x)).mean((2, 3))


@pytest.mark.parametrize("fixed", [True, False])
def test_the_folding_check_runs_on_one_seeded_picture_of_at_most_112_pixels_a_side_unless_the_size_is_fixed(fixed):
    net = _SizeChecked((120, 100) if fixed else (112, 100))
    model = DreamModel(net, name="sized", input_size=(120, 100), fixed_size=fixed).freeze().fold_norms()
    assert isinstance(model.layer("bn"), NormRemainder)
    example = torch.rand(1, 3, *net.size, generator=torch.Generator().manual_seed(0))
    assert torch.equal(net.seen[0], model.normalise(example))


def test_the_check_allows_float32_rounding_relative_to_the_tensors_scale_and_no_more():
    expected = torch.tensor([0.0, 1.0, -100.0])
    assert _close(expected * (1 + 5e-4), expected)  # relative to each value
    assert _close(expected + torch.tensor([5e-3, 0, 0]), expected)  # relative to the largest value
    assert not _close(expected * 1.5, expected) and not _close(expected + torch.tensor([0.5, 0, 0]), expected)
    assert not _close(expected + torch.tensor([2e-2, 0, 0]), expected)
    assert not _close(torch.tensor([float("nan"), 1.0, -100.0]), expected)


def test_both_versions_follow_the_model_to_another_dtype():
    model = with_norms().fold_norms().double()
    with torch.no_grad(), model.unfolded():
        assert model.layer("conv1").weight.dtype == model.layer("bn1").running_var.dtype == torch.float64
        model(IMAGE.double())  # a float32 module left behind would fail here
    assert model.layer("conv1").weight.dtype == torch.float64
    model(IMAGE.double())


def test_a_dream_folds_its_model_unless_told_not_to(host):
    model = with_norms()
    results = {}
    for fold in (False, True):
        job, _ = build_job(host, RunConfig(classes=["red", "blue"], steps=4, fold_norms=fold), model, CPU)
        assert isinstance(model.layer("bn1"), NormRemainder if fold else BatchNormAct2d)
        results[fold] = run_job(job).image
    torch.testing.assert_close(results[True], results[False], rtol=0, atol=1e-3)
