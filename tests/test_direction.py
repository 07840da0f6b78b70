"""Directions: the objective (a vector in a layer's channel space, read from a file) and the command that makes one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dreamengine import DreamError, DreamJob, DreamOutputs
from dreamengine.analysis.directions import example_files, mean_features, read_vector, save_direction
from dreamengine.cli import cli
from dreamengine.engine.loop import run_job
from dreamengine_builtins.direction import Direction
from dreamengine_builtins.objectives import Layer
from dreamengine_builtins.projections import Clamp
from dreamengine_builtins.transforms import Jitter


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


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.pt", None, "does not exist"),
        ("matrix.pt", torch.ones(2, 3), "one vector of channel weights; it holds (2, 3)"),
        ("dict.pt", {"a": torch.ones(3)}, "one vector of channel weights; it holds dict"),
        ("zeros.pt", torch.zeros(3), "finite and not all zeros"),
        ("nan.pt", torch.tensor([1.0, float("nan")]), "finite and not all zeros"),
        ("words.txt", "north east", "cannot read a direction"),
        ("corrupt.pt", b"not a tensor", "cannot read a direction"),
        ("cat.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", "it is not text, and only a .pt, .pth or .npy file"),
    ],
)
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
        job = DreamJob(
            model=tiny_model,
            objective=objective,
            regularizers=[Jitter(2), Clamp()],
            image=torch.full((1, 3, 16, 16), 0.5),
            targets=torch.tensor([0]),
            steps=10,
            lr=0.05,
            optimizer="adam",
            generator=torch.Generator().manual_seed(0),
        )
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
    result = runner.invoke(
        cli, [*args, "--objective", f"direction:layer2:path={tmp_path / 'dir.npy'}"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["direction-layer2-path-dir-npy-seed0.png"]
    result = runner.invoke(cli, [*args, "--objective", f"direction:layer3:path={tmp_path / 'dir.npy'}"])
    assert result.exit_code == 1 and "has 128 weights, but layer 'layer3' has 256 channels" in result.output
    assert "dreaming" not in result.output  # refused before the run starts


@pytest.fixture
def examples(tmp_path):
    """Two folders of 16x16 pictures, red ones and green ones, and a file in one that is not a picture."""
    for name, colour in (("red", (220, 20, 20)), ("green", (20, 200, 20))):
        folder = tmp_path / name
        folder.mkdir()
        for shade in range(3):
            Image.new("RGB", (24, 16), tuple(max(0, c - 30 * shade) for c in colour)).save(folder / f"{shade}.png")
    (tmp_path / "red" / "notes.png").write_text("not a picture")
    return tmp_path


def test_mean_features_average_over_pictures_and_positions_and_skip_what_is_unreadable(tiny_model, examples):
    files = example_files([examples / "red"])
    assert [f.name for f in files] == ["0.png", "1.png", "2.png", "notes.png"]
    found = mean_features(tiny_model, "3", files)
    assert found.count == 3 and [f.name for f in found.skipped] == ["notes.png"]
    expected = torch.stack(
        [
            tiny_model.layer_output(
                "3", torch.tensor(c, dtype=torch.float32)[None, :, None, None].expand(1, 3, 16, 16) / 255
            ).mean((2, 3))[0]
            for c in ((220, 20, 20), (190, 0, 0), (160, 0, 0))
        ]
    ).mean(0)  # each cropped to 16x16: one colour still
    assert torch.allclose(found.mean, expected, atol=1e-6)


def test_a_folder_without_pictures_and_files_none_of_which_is_a_picture_are_errors(tiny_model, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DreamError, match="holds no pictures"):
        example_files([tmp_path / "empty"])
    (tmp_path / "a.txt").write_text("words")
    with pytest.raises(DreamError, match="none of the 1 files is a readable picture"):
        mean_features(tiny_model, "3", [tmp_path / "a.txt"])


@pytest.mark.parametrize("name", ["d.pt", "d.pth", "d.npy", "d.txt", "d"])
def test_a_saved_direction_reads_back_exactly_in_the_format_its_name_says(tmp_path, name):
    """``dreamengine direction -o d.txt`` wrote torch.save's bytes, which the objective then read as text."""
    vector = torch.randn(37, generator=torch.Generator().manual_seed(0)) * 1e3
    save_direction(vector, tmp_path / name)
    assert torch.equal(read_vector(tmp_path / name), vector)
    assert (tmp_path / name).read_bytes().startswith(b"\x93NUMPY") == name.endswith(".npy")


def test_save_direction_replaces_a_direction_but_never_another_file(tmp_path):
    path = tmp_path / "d.pt"
    save_direction(torch.ones(3), path)
    save_direction(torch.arange(4.0), path)
    assert torch.equal(read_vector(path), torch.arange(4.0))
    other = tmp_path / "weights.pt"
    torch.save({"state": torch.ones(2)}, other)
    with pytest.raises(DreamError, match="is there and is not a direction"):
        save_direction(torch.ones(3), other)
    assert isinstance(torch.load(other, weights_only=True), dict)


@pytest.mark.usefixtures("builtins_only_cli", "resnet10t_quiet")
def test_the_direction_command_writes_what_sets_two_groups_apart_and_run_dreams_it(runner, examples, tmp_path):
    out = tmp_path / "red-vs-green.pt"
    result = runner.invoke(
        cli,
        [
            "direction",
            "layer1",
            "--toward",
            str(examples / "red"),
            "--away",
            str(examples / "green"),
            "--model",
            "resnet10t",
            "-o",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "3 pictures toward and 3 pictures away" in result.output and "skipped 1 files" in result.output
    assert "random weights" in result.output  # a direction of a network that learned nothing is said to be so
    assert f"--objective direction:layer1:path={out}" in result.output
    vector = read_vector(out)
    assert len(vector) == 64  # resnet10t's layer1
    result = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "resnet10t",
            "--size",
            "32",
            "--steps",
            "2",
            "-o",
            str(tmp_path / "dreams"),
            "--objective",
            f"direction:layer1:path={out}",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["direction", "nosuch", "--toward", str(examples / "red"), "--model", "resnet10t"])
    assert result.exit_code == 1 and "unknown layer" in result.output


@pytest.mark.usefixtures("builtins_only_cli", "resnet10t_quiet")
def test_pictures_toward_and_away_that_look_alike_give_no_direction(runner, examples):
    result = runner.invoke(
        cli,
        [
            "direction",
            "layer1",
            "--toward",
            str(examples / "red"),
            "--away",
            str(examples / "red"),
            "--model",
            "resnet10t",
        ],
    )
    assert result.exit_code == 1 and "have the same mean features: there is no direction" in result.output


def test_an_unprepared_direction_and_layers_of_one_or_two_dimensions_are_refused_word_for_word(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.ones(3, dtype=np.float32))
    direction = Direction("l", str(path))
    with pytest.raises(DreamError) as unprepared:
        direction(DreamOutputs(None, torch.tensor([0]), {"l": torch.ones(1, 3, 2, 2)}))
    assert str(unprepared.value) == "direction:l was not prepared (call prepare(model))."
    direction._vector = torch.ones(3)
    for activation, channels in ((torch.ones(2, 5), 5), (torch.ones(2), 1)):
        with pytest.raises(DreamError) as refused:
            direction(DreamOutputs(None, torch.tensor([0, 0]), {"l": activation}))
        assert (
            str(refused.value)
            == f"the direction in {str(path)!r} has 3 weights, but layer 'l' has {channels} channels."
        )
