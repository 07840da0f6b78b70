"""Checkpoints: saved with their metadata, loaded safely, refused clearly when they do not fit."""

from __future__ import annotations

import os

import pytest
import torch

from dreamengine.cli import cli
from dreamengine.engine.checkpoint import load_checkpoint_model, read_checkpoint, save_checkpoint
from dreamengine.errors import DreamError
from dreamengine.run.imaging import read_manifest
from dreamengine_builtins.models import timm_model

NAMES = ["red square", "green stripes", "blue circle"]


@pytest.fixture
def checkpoint(tmp_path, resnet10t_quiet):
    model = timm_model("resnet10t", num_classes=3)
    model.class_names = NAMES
    model.input_size = (32, 32)
    return save_checkpoint(model, tmp_path / "epoch-001.pt", architecture="resnet10t", extra={"epochs": 1})


def create(name, num_classes):
    return timm_model(name, num_classes=num_classes)


def test_a_checkpoint_round_trips_weights_and_metadata(checkpoint, resnet10t_quiet):
    model = load_checkpoint_model(checkpoint, create)
    stored = read_checkpoint(checkpoint)
    assert model.class_names == NAMES and model.input_size == (32, 32)
    assert all(torch.equal(v, stored["state_dict"][k]) for k, v in model.net.state_dict().items())
    assert stored["extra"] == {"epochs": 1}


def test_run_with_a_checkpoint_uses_its_class_names(checkpoint, runner, tmp_path, builtins_only_cli):
    out = tmp_path / "dream.png"
    result = runner.invoke(
        cli, ["run", "--checkpoint", str(checkpoint), "--class", "Blue Circle", "--steps", "2", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    stored = read_manifest(out)
    assert stored["target"]["name"] == "blue circle" and stored["target"]["index"] == 2
    assert stored["model"]["input_size"] == [32, 32]
    result = runner.invoke(cli, ["run", "--checkpoint", str(checkpoint), "--class", "flamingo"])
    assert result.exit_code == 1 and "unknown class 'flamingo'" in result.output


def test_a_checkpoint_that_does_not_fit_the_architecture_is_explained(checkpoint, resnet10t_quiet):
    payload = read_checkpoint(checkpoint)
    payload["architecture"] = "resnet14t"
    torch.save(payload, checkpoint)
    with pytest.raises(DreamError, match="does not fit the architecture 'resnet14t'.*missing"):
        load_checkpoint_model(checkpoint, create)


def test_wrong_shapes_are_named(checkpoint, resnet10t_quiet):
    payload = read_checkpoint(checkpoint)
    payload["num_classes"], payload["class_names"] = 5, []
    torch.save(payload, checkpoint)
    with pytest.raises(DreamError, match=r"wrong shape \(e.g. fc.weight"):
        load_checkpoint_model(checkpoint, create)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"class_names": ["a", "b"]}, "names 2 classes for its 3 outputs (num_classes): it needs one name per output."),
        ({"class_names": "abc"}, "has class_names that are not a list of names: 'abc'."),
        ({"num_classes": 0}, "has num_classes 0: it must be a whole number of outputs, 1 or more."),
        ({"num_classes": "3"}, "has num_classes '3'"),
        ({"mean": [0.5, 0.5]}, "has mean [0.5, 0.5]: it needs 3 numbers, one per colour (red, green, blue)."),
        ({"std": [0.2, 0.2, 0.2, 0.2]}, "has std [0.2, 0.2, 0.2, 0.2]: it needs 3 numbers"),
        ({"std": [0.2, 0.0, 0.2]}, "has std [0.2, 0.0, 0.2]: each must be above 0."),
    ],
)
def test_metadata_the_engine_cannot_dream_with_is_refused_in_one_line(checkpoint, changes, message):
    payload = read_checkpoint(checkpoint)
    torch.save({**payload, **changes}, checkpoint)
    with pytest.raises(DreamError) as error:
        load_checkpoint_model(checkpoint, create)
    assert message in str(error.value) and "\n" not in str(error.value)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_checkpoint_never_executes_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.pt"
    torch.save({"format": "dreamengine-checkpoint", "payload": Exploit()}, bad)
    with pytest.raises(DreamError, match=r"weights_only=True and never runs code .*posix.system"):
        read_checkpoint(bad)
    assert not (tmp_path / "pwned.txt").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"garbage", "not a complete file saved with torch.save"),
        (b"hello\n", "not a complete file saved with torch.save"),  # torch.load raises a KeyError for it
        (b"\x80\x02garbage", "not a complete file saved with torch.save"),  # a pickle's first bytes, then nothing
        (None, "does not exist"),
    ],
)
def test_unreadable_checkpoints_are_explained(tmp_path, content, message):
    path = tmp_path / "x.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DreamError, match=message):
        read_checkpoint(path)


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_a_checkpoint_in_either_format_that_needs_more_than_tensors_says_what(tmp_path, zipped):
    path = tmp_path / "x.pt"
    torch.save({"format": "dreamengine-checkpoint", "payload": Harmless()}, path, _use_new_zipfile_serialization=zipped)
    with pytest.raises(
        DreamError,
        match=r"never runs code from them, and this one needs more \(Unsupported global: "
        r"GLOBAL \S*print was not an allowed global by default\)\.$",
    ):
        read_checkpoint(path)


class Harmless:
    def __reduce__(self):
        return (print, ("loaded",))


def test_a_plain_state_dict_is_not_mistaken_for_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(DreamError, match="not a dreamengine checkpoint"):
        read_checkpoint(path)


def test_a_truncated_checkpoint_is_called_incomplete(tmp_path):
    whole, cut = tmp_path / "whole.pt", tmp_path / "cut.pt"
    torch.save({"w": torch.zeros(10_000)}, whole)
    cut.write_bytes(whole.read_bytes()[:20_000])
    with pytest.raises(DreamError, match="not a complete file saved with torch.save"):
        read_checkpoint(cut)
