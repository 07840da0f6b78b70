"""The deepdream preset: classic DeepDream of the user's photo with the default model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dreamengine.cli import cli
from dreamengine.run.imaging import read_manifest

pytestmark = pytest.mark.usefixtures("builtins_only_cli", "one_thread")


def test_deepdream_without_a_photo_says_how_to_give_one(runner):
    result = runner.invoke(cli, ["run", "--preset", "deepdream", "--steps", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "initializer 'photo' needs option(s) path, as in 'photo:path=...'" in result.output


def test_deepdream_changes_the_photo_but_keeps_it_recognisable(runner, tmp_path):
    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, :32] = (200, 60, 40)
    picture[:, 32:] = (40, 90, 200)
    Image.fromarray(np.clip(picture + rng.integers(0, 20, picture.shape), 0, 255).astype(np.uint8)).save(photo)
    out = tmp_path / "dream.png"
    result = runner.invoke(
        cli,
        [
            "run",
            "--preset",
            "deepdream",
            "--init",
            f"photo:path={photo}",
            "--size",
            "64",
            "--steps",
            "8",
            "-o",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    config = read_manifest(out)["config"]
    assert config["strategy"] == ["octaves:count=4:scale=1.4"] and config["objective"] == "layer:blocks.4"
    dream = np.asarray(Image.open(out), dtype=np.float32)
    assert dream.shape == (48, 64, 3)  # the photo's shape, --size its longer side
    start = np.asarray(Image.open(photo), dtype=np.float32)
    change = np.abs(dream - start).mean()
    assert 2 < change < 60, change  # visibly dreamed on, yet the photo's red left and blue right remain
    assert dream[:, :24, 0].mean() > dream[:, :24, 2].mean() and dream[:, 40:, 2].mean() > dream[:, 40:, 0].mean()
