"""The direction objective: a vector in a layer's channel space, read from a file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dreamengine import DreamError, DreamJob, DreamOutputs
from dreamengine.cli import cli
from dreamengine.engine import run_job
from dreamengine_builtins.direction import Direction, read_vector
from dreamengine_builtins.objectives import Layer
from dreamengine_builtins.regularizers import Clamp, Jitter


def saved(vector, tmp_path):
    path = tmp_path / "direction.pt"
    torch.save(torch.as_tensor(vector, dtype=torch.float32), path)
    return str(path)


def read(layer, vector, tmp_path, **options):
    """A direction with its vector read, as prepare reads it, for a layer that is no model's."""
    objective = Direction(layer, saved(vector, tmp_path), **options)
    objective._vector = read_vector(objective.path)
    return objective


def test_a_vector_reads_the_same_from_pt_npy_and_text(tmp_path):
    vector = torch.tensor([0.5, -1.0, 2.0, 0.0])
    torch.save(vector, tmp_path / "v.pt")
    np.save(tmp_path / "v.npy", vector.double().numpy())
    (tmp_path / "v.txt").write_text("0.5, -1\n2 0\n")
    for name in ("v.pt", "v.npy", "v.txt"):
        read = read_vector(tmp_path / name)
        assert read.dtype == torch.float32 and torch.equal(read, vector), name


@pytest.mark.parametrize("name, content, message", [
    ("missing.pt", None, "does not exist"),
    ("matrix.pt", torch.ones(2, 3), "one vector of channel weights; it holds (2, 3)"),
    ("dict.pt", {"a": torch.ones(3)}, "one vector of channel weights; it holds dict"),
    ("zeros.pt", torch.zeros(3), "finite and not all zeros"),
    ("nan.pt", torch.tensor([1.0, float("nan")]), "finite and not all zeros"),
    ("words.txt", "north east", "cannot read a direction"),
    ("corrupt.pt", b"not a tensor", "cannot read a direction"),
])
def test_a_file_that_holds_no_usable_vector_is_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(DreamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_vector(path)


def test_the_value_is_the_mean_dot_product_and_cossim_pow_weights_it_as_lucid_does(tmp_path):
    activation = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    vector = torch.tensor([1.0, -2.0, 0.5])
    outputs = DreamOutputs(None, torch.tensor([0, 0]), {"l": activation})
    dot = torch.einsum("bchw,c->bhw", activation, vector)
    assert torch.allclose(read("l", vector, tmp_path)(outputs), dot.mean((1, 2)))
    cossim = dot / (1e-4 + activation.norm(dim=1)) / (1e-4 + vector.norm())
    expected = (dot * cossim.clamp_min(0.1) ** 2).mean((1, 2))
    assert torch.allclose(read("l", vector, tmp_path, cossim_pow=2.0)(outputs), expected)
    flat = DreamOutputs(None, torch.tensor([0, 0]), {"l": activation[:, :, 0, 0]})  # a layer without a feature map
    assert torch.allclose(read("l", vector, tmp_path)(flat), dot[:, 0, 0])


def test_a_one_hot_direction_dreams_exactly_what_its_channel_does(tiny_model, tmp_path):
    def dream(objective):
        job = DreamJob(model=tiny_model, objective=objective, regularizers=[Jitter(2), Clamp()],
                       image=torch.full((1, 3, 16, 16), 0.5), targets=torch.tensor([0]), steps=10, lr=0.05,
                       optimizer="adam", generator=torch.Generator().manual_seed(0))
        return run_job(job).image

    def direction(vector):
        objective = Direction("3", saved(vector, tmp_path))
        objective.prepare(tiny_model)
        return objective

    channel = dream(Layer("3", channel=5))
    assert torch.equal(dream(direction(torch.eye(16)[5])), channel)
    assert not torch.equal(dream(direction(torch.eye(16)[6])), channel)


def test_a_direction_of_the_wrong_length_names_both_lengths_before_the_run(tiny_model, tmp_path):
    with pytest.raises(DreamError, match="has 3 weights, but layer '1' has 8 channels"):
        Direction("1", saved([1.0, 2.0, 3.0], tmp_path)).prepare(tiny_model)
    outputs = DreamOutputs(None, torch.tensor([0]), {"l": torch.ones(1, 8, 2, 2)})
    with pytest.raises(DreamError, match="has 3 weights, but layer 'l' has 8 channels"):
        read("l", [1.0, 2.0, 3.0], tmp_path)(outputs)
    with pytest.raises(ValueError, match="cossim_pow must be >= 0"):
        Direction("l", "v.pt", cossim_pow=-1)


@pytest.mark.usefixtures("builtins_only_cli")
def test_a_direction_from_the_cli(runner, tmp_path):
    np.save(tmp_path / "dir.npy", np.linspace(-1, 1, 128))  # resnet10t's layer2 has 128 channels
    args = ["run", "--model", "resnet10t", "--size", "32", "--steps", "3", "-o", str(tmp_path / "out")]
    result = runner.invoke(cli, [*args, "--objective", f"direction:layer2:path={tmp_path / 'dir.npy'}"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["direction-layer2-path-dir-npy-seed0.png"]
    result = runner.invoke(cli, [*args, "--objective", f"direction:layer3:path={tmp_path / 'dir.npy'}"])
    assert result.exit_code == 1 and "has 128 weights, but layer 'layer3' has 256 channels" in result.output
    assert "dreaming" not in result.output  # refused before the run starts
