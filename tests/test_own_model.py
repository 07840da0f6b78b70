"""Your own model: weights files in every format, saved folders, hf-hub from the cache, any module from Python."""

from __future__ import annotations

import json
import warnings

import pytest
import timm
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file
from torch import nn

import dreamengine
from dreamengine import DreamError, RunConfig
from dreamengine.cli import cli
from dreamengine.engine.weights import file_sha256
from dreamengine.run.imaging import read_manifest
from dreamengine.run.prepare import load_model

pytestmark = pytest.mark.usefixtures("one_thread", "resnet10t_quiet")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A resnet10t of 5 classes, its state dict, and a folder to save it in each format."""
    torch.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = timm.create_model("resnet10t", num_classes=5)
    return net, net.state_dict(), tmp_path_factory.mktemp("weights")


def _same_weights(model, state):
    own = model.net.state_dict()
    return all(torch.equal(own[name], tensor) for name, tensor in state.items())


@pytest.mark.parametrize(
    "name, wrap",
    [
        ("plain.safetensors", None),
        ("plain.pth", lambda sd: sd),
        ("ddp.pt", lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}),
        ("compiled.bin", lambda sd: {f"_orig_mod.{k}": v for k, v in sd.items()}),
        ("ema.pth", lambda sd: {"model": {}, "model_ema": {f"module._orig_mod.{k}": v for k, v in sd.items()}}),
    ],
)
def test_a_weights_file_in_every_format_makes_the_model_with_its_classes(host, trained, name, wrap):
    net, state, folder = trained
    path = folder / name
    if wrap is None:
        save_file(state, path)
    else:
        torch.save(wrap(state), path)
    model = load_model(host, RunConfig(model="resnet10t", weights=str(path)))
    assert model.num_classes == 5 and model.class_names == []  # a 5-class head, classes numbered
    assert _same_weights(model, state)
    assert model.weights.path == path and model.weights.sha256 == file_sha256(path)
    assert model.input_size == tuple(net.pretrained_cfg["input_size"][1:])  # the architecture's own config


def test_class_names_normalisation_and_size_are_given_or_taken_from_a_dataset_folder(host, trained, tmp_path):
    _, state, folder = trained
    save_file(state, folder / "m.safetensors")
    (tmp_path / "names.json").write_text(json.dumps(["a", "b", "c", "d", "e"]))
    for name in "vwxyz":
        (tmp_path / "data" / name).mkdir(parents=True)
    config = RunConfig(model="resnet10t", weights=str(folder / "m.safetensors"), mean="0.5,0.5,0.5", input_size=64)
    model = load_model(host, config.updated({"class_names": str(tmp_path / "names.json")}, "test"))
    assert model.class_names == list("abcde") and model.input_size == (64, 64)
    assert model.mean.flatten().tolist() == [0.5, 0.5, 0.5]
    assert load_model(host, config.updated({"class_names": str(tmp_path / "data")}, "test")).class_names == list(
        "vwxyz"
    )
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    with pytest.raises(DreamError, match="names 3 classes, and resnet10t has 5 outputs"):
        load_model(host, config.updated({"class_names": str(tmp_path / "three.txt")}, "test"))


def test_weights_that_do_not_fit_say_which_tensors_in_one_line(host, trained, tmp_path):
    _, state, _ = trained
    torch.save(state, tmp_path / "m.pth")
    with pytest.raises(DreamError) as error:
        load_model(host, RunConfig(model="resnet18", weights=str(tmp_path / "m.pth")))
    text = str(error.value)
    assert "\n" not in text and "does not fit the architecture 'resnet18'" in text
    assert "missing (conv1.weight," in text and "unexpected (conv1.0.weight," in text
    folder = tmp_path / "saved"  # a head that does not fit the classes its config names
    folder.mkdir()
    save_file(state, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"architecture": "resnet10t", "num_classes": 7}))
    with pytest.raises(DreamError, match=r"fc.weight: \(5, 512\) in the file, \(7, 512\) in the model"):
        load_model(host, RunConfig(model=str(folder)))


def test_a_pickled_module_and_a_broken_file_are_refused_without_running_code(host, trained, tmp_path):
    net, _, _ = trained
    torch.save(net, tmp_path / "whole.pt")
    with pytest.raises(DreamError, match=r"torch.save\(model.state_dict\(\), 'model.pth'\)"):
        load_model(host, RunConfig(model="resnet10t", weights=str(tmp_path / "whole.pt")))
    (tmp_path / "bad.safetensors").write_bytes(b"not weights")
    with pytest.raises(DreamError, match="is not a readable safetensors file"):
        load_model(host, RunConfig(model="resnet10t", weights=str(tmp_path / "bad.safetensors")))
    with pytest.raises(DreamError, match="does not exist"):
        load_model(host, RunConfig(model="resnet10t", weights=str(tmp_path / "none.pth")))


def test_a_backbone_without_its_head_is_a_feature_extractor(host, trained, tmp_path):
    _, state, _ = trained
    save_file({k: v for k, v in state.items() if not k.startswith("fc.")}, tmp_path / "backbone.safetensors")
    model = load_model(host, RunConfig(model="resnet10t", weights=str(tmp_path / "backbone.safetensors")))
    assert not model.has_logits
    with pytest.raises(DreamError, match="gives features, not logits"):
        dreamengine.dream(model, steps=1, size=32)
    assert dreamengine.dream(model, "layer4:3", steps=1, size=32).manifest["config"]["objective"] == "layer:layer4:3"


def test_a_torchvision_architecture_takes_its_weights_and_metadata(host, tmp_path):
    net = torchvision.models.resnet18(num_classes=3)
    torch.save(net.state_dict(), tmp_path / "tv.pth")
    model = load_model(host, RunConfig(model="torchvision:resnet18", weights=str(tmp_path / "tv.pth")))
    assert model.name == "torchvision:resnet18" and model.num_classes == 3 and model.input_size == (224, 224)
    assert _same_weights(model, net.state_dict())
    with pytest.raises(DreamError, match="Did you mean 'resnet18'"):
        load_model(host, RunConfig(model="torchvision:resnet1"))


def _save_for_hf(net, folder, safe):
    from timm.models import save_for_hf

    save_for_hf(net, str(folder), model_config={"label_names": list("pqrst")}, safe_serialization=safe)


@pytest.mark.parametrize("safe", [True, False])
def test_a_saved_timm_folder_loads_offline_with_its_labels_and_config(host, trained, tmp_path, safe):
    net, state, _ = trained
    _save_for_hf(net, tmp_path / "saved", safe)
    model = load_model(host, RunConfig(model=str(tmp_path / "saved")))
    assert model.class_names == list("pqrst") and _same_weights(model, state)
    assert model.weights.path.name == ("model.safetensors" if safe else "pytorch_model.bin")


def test_an_hf_hub_name_resolves_from_the_cache_or_says_it_is_missing(host, trained, tmp_path, monkeypatch):
    from huggingface_hub import constants

    net, state, _ = trained
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--me--tiny"
    _save_for_hf(net, repo / "snapshots" / "abc123", True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert _same_weights(load_model(host, RunConfig(model="hf-hub:me/tiny")), state)
    with pytest.raises(
        DreamError, match=r"hf-hub:me/other is not in the local Hugging Face cache .* downloads nothing"
    ):
        load_model(host, RunConfig(model="hf-hub:me/other"))


def test_a_dream_stores_its_weights_and_from_names_the_file_it_needs(runner, builtins_only_cli, trained, tmp_path):
    _, state, _ = trained
    weights = tmp_path / "mine.safetensors"
    save_file(state, weights)
    (tmp_path / "names.txt").write_text("cat\ndog\nowl\nfox\nemu\n")
    common = ["--steps", "2", "--size", "32", "--threads", "1", "-o", str(tmp_path / "out")]
    options = ["--model", "resnet10t", "--weights", str(weights), "--class-names", str(tmp_path / "names.txt")]
    result = runner.invoke(cli, ["run", *options, "-c", "owl", *common])
    assert result.exit_code == 0, result.output
    stored = read_manifest(tmp_path / "out" / "owl-seed0.png")
    assert stored["model"]["weights"] == {"file": "mine.safetensors", "sha256": file_sha256(weights)}
    assert stored["config"]["weights"] == str(weights)
    weights.rename(tmp_path / "moved.safetensors")
    result = runner.invoke(cli, ["run", "--from", str(tmp_path / "out" / "owl-seed0.png")])
    assert result.exit_code != 0
    assert f"weights file {str(weights)!r} (sha256 {stored['model']['weights']['sha256']})" in result.output
    options[3] = str(tmp_path / "moved.safetensors")
    for command in (["classes", "owl"], ["layers", "layer4*"]):
        result = runner.invoke(cli, [*command, *options])
        assert result.exit_code == 0, result.output


def test_the_atlas_names_the_model_it_shows(runner, builtins_only_cli, checkpoints, tmp_path):
    checkpoint = checkpoints / "epoch-001.pt"  # a test_resnet's; the default model is efficientnet-lite0
    args = ["atlas", "--checkpoint", str(checkpoint), "--layer", "logits", "--units", "1", "--steps", "1"]
    result = runner.invoke(cli, [*args, "--size", "32", "-o", str(tmp_path / "atlas")])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "atlas" / "atlas.json").read_text())
    assert plan["model"] == "test_resnet" and plan["weights"]["file"] == checkpoint.name
    assert "efficientnet" not in (tmp_path / "atlas" / "index.html").read_text()


class Gray(nn.Module):
    """A 1-channel classifier of 3 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))

    def forward(self, x):
        return self.head(self.features(x))


def test_any_module_dreams_in_one_call_and_the_picture_shows_and_saves_itself(tmp_path):
    torch.manual_seed(0)
    picture = dreamengine.dream(Gray(), 2, steps=3, size=24, class_names=["a", "b", "c"])
    assert picture.manifest["target"]["name"] == "c" and picture.config.steps == 3
    assert torch.equal(picture.image[0], picture.image[1])  # a grayscale network dreams in its own colours
    assert picture._repr_png_().startswith(b"\x89PNG")
    assert Image.open(picture.save(tmp_path / "x.png")).size == (24, 24)
    assert read_manifest(tmp_path / "x.png")["config"]["classes"] == ["2"]
    layer = dreamengine.dream(Gray(), "features.0:4", steps=2, size=24)
    assert layer.manifest["config"]["objective"] == "layer:features.0:4"
    with pytest.raises(DreamError, match="takes 4 input channels"):
        dreamengine.dream(nn.Conv2d(4, 3, 3), steps=1)


def test_a_preset_given_from_python_is_applied_as_the_command_lines_is():
    picture = dreamengine.dream(Gray(), 1, preset="report", steps=2, size=16, strategy="none")
    config = picture.config
    assert (config.preset, config.lr, config.side_by_side, config.steps) == ("report", 0.01, True, 2)


def test_objectives_compose_and_print_as_the_text_a_dream_stores():
    both = dreamengine.objective("layer:features.0:1") - 0.5 * dreamengine.objective("neuron:features.0:2")
    assert str(both) == "layer:features.0:1 - 0.5*neuron:features.0:2"
    assert str(2 * dreamengine.objective("logit") + dreamengine.objective("logit:1")) == "2*logit + logit:1"
    picture = dreamengine.dream(Gray(), both, steps=2, size=24)
    assert picture.manifest["config"]["objective"] == str(both)


def test_the_atlas_of_a_feature_extractor_has_no_class_pages(tmp_path):
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU())
    index = dreamengine.atlas(features, output=tmp_path / "atlas", units="2", steps=1, size=24)
    plan = json.loads((tmp_path / "atlas" / "atlas.json").read_text())
    assert index.is_file() and plan["model"] == "Sequential" and plan["classes"] is None
    assert "logits" not in [layer["name"] for layer in plan["layers"]]


def test_a_grayscale_networks_weights_make_a_one_channel_model_that_dreams_in_gray(host, runner, tmp_path, monkeypatch):
    torch.manual_seed(2)
    for channels in (1, 4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = timm.create_model("resnet10t", num_classes=3, in_chans=channels)
        save_file(net.state_dict(), tmp_path / f"c{channels}.safetensors")
    model = load_model(host, RunConfig(model="resnet10t", weights=str(tmp_path / "c1.safetensors")))
    assert model.mean.shape[1] == 1 and model.num_classes == 3
    assert model.net.conv1[0].in_channels == 1
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
    monkeypatch.setattr("dreamengine.cli.group._HOST", None)
    args = ["run", "--model", "resnet10t", "--steps", "2", "--size", "24", "--threads", "1", "-c", "2"]
    result = runner.invoke(cli, [*args, "--weights", str(tmp_path / "c1.safetensors"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    picture = Image.open(tmp_path / "out" / "class-2-seed0.png").convert("RGB")
    pixels = torchvision.transforms.functional.pil_to_tensor(picture).flatten(1).T
    assert torch.equal(pixels[:, 0], pixels[:, 1]) and torch.equal(pixels[:, 1], pixels[:, 2])  # gray
    assert pixels.float().std() > 0
    result = runner.invoke(cli, [*args, "--weights", str(tmp_path / "c4.safetensors"), "-o", str(tmp_path / "o4")])
    assert result.exit_code != 0
    assert "take 4 input channels (conv1.0.weight is (24, 4, 3, 3)): dreamengine dreams RGB" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_loader_that_builds_rgb_only_refuses_grayscale_weights_in_one_line(host, tmp_path):
    net = torchvision.models.resnet18(num_classes=3)
    net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    save_file(net.state_dict(), tmp_path / "gray18.safetensors")
    with pytest.raises(DreamError, match=r"take 1 input channels, and the loader of 'torchvision:resnet18' builds"):
        load_model(host, RunConfig(model="torchvision:resnet18", weights=str(tmp_path / "gray18.safetensors")))
