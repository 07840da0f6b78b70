"""A dream from a photo keeps the photo's shape (never stretched, --size N its longer side); where the photo is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dreamengine import RunConfig
from dreamengine.cli import cli
from dreamengine.run.prepare import dream_size, start_file
from dreamengine.testing import make_host
from dreamengine_builtins.initializers import Photo

pytestmark = pytest.mark.usefixtures("builtins_only_cli")


@pytest.mark.parametrize(
    "size, aspect, expected",
    [
        (None, None, (224, 224)),  # no photo: the model's input size, as before
        (64, None, (64, 64)),
        ("64x32", None, (32, 64)),
        (None, 1.5, (149, 224)),  # a 3:2 photo: the input size is its longer side
        (100, 0.5, (100, 50)),  # a portrait photo
        ("100", 1.0, (100, 100)),
        ("90x30", 1.5, (30, 90)),  # WIDTHxHEIGHT is kept as given
    ],
)
def test_the_dream_size_follows_the_photos_shape_unless_given_in_full(size, aspect, expected):
    assert dream_size(size, (224, 224), aspect) == expected


def _stripes(path):
    """60x30: green, then red in the middle 30 columns, then blue."""
    picture = np.zeros((30, 60, 3), np.uint8)
    picture[:, :15] = (0, 255, 0)
    picture[:, 15:45] = (255, 0, 0)
    picture[:, 45:] = (0, 0, 255)
    Image.fromarray(picture).save(path)
    return path


def test_a_photo_of_another_shape_is_cropped_about_its_centre_never_stretched(tmp_path):
    photo = Photo(str(_stripes(tmp_path / "stripes.png")))
    assert photo.aspect() == 2.0
    square = photo(1, 20, 20, torch.Generator())[0]
    assert square.shape == (3, 20, 20)
    assert torch.allclose(square.mean(dim=(1, 2)), torch.tensor([1.0, 0.0, 0.0]), atol=0.02)  # only the red middle
    kept = photo(2, 15, 30, torch.Generator())
    assert kept.shape == (2, 3, 15, 30) and kept[0, 1, :, :5].mean() > 0.9 and kept[0, 2, :, -5:].mean() > 0.9


def test_run_from_a_photo_writes_a_dream_of_its_shape(runner, tmp_path):
    out = tmp_path / "dream.png"
    result = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "resnet10t",
            "--size",
            "32",
            "--steps",
            "1",
            "--strategy",
            "none",
            "--init",
            f"photo:path={_stripes(tmp_path / 's.png')}",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (32, 16)


def test_a_photos_dream_toward_no_class_is_named_after_the_photo_and_the_objective(runner, tmp_path):
    photo = _stripes(tmp_path / "holiday.png")
    result = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "resnet10t",
            "--size",
            "32",
            "--steps",
            "1",
            "--strategy",
            "none",
            "--init",
            f"photo:path={photo}",
            "--objective",
            "layer:layer2",
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["holiday-layer-layer2-seed0.png"]


@pytest.mark.parametrize(
    "init, options, expected",
    [
        ("gray", {}, None),
        ("photo:path=a.jpg:blur=2", {}, "a.jpg"),
        ("photo:b.jpg", {}, "b.jpg"),
        ("photo:path=a.jpg", {"photo": {"path": "c.jpg"}}, "c.jpg"),
    ],
)
def test_the_start_file_is_what_the_initializer_says_from_the_spec_or_the_options(init, options, expected):
    config = RunConfig(init=init, options=options)
    found = start_file(make_host().registry, config.specs.init, config.options.get(config.specs.init.name))
    assert found == (None if expected is None else Path(expected))
