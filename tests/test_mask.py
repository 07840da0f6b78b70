"""The mask regularizer: dream only where a mask picture is light; and --reg +SPEC, which adds one to the defaults."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from dreamengine import DreamError, DreamJob, Regularizer
from dreamengine.cli import cli
from dreamengine.engine.loop import run_job
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest
from dreamengine_builtins.mask import Mask
from dreamengine_builtins.objectives import Logit
from dreamengine_builtins.octaves import Octaves


def mask_file(tmp_path, levels, name="mask.png"):
    """A mask picture from a 2-D array of gray levels (0-255)."""
    path = tmp_path / name
    Image.fromarray(np.asarray(levels, dtype=np.uint8), "L").save(path)
    return str(path)


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("masks")
    half = np.zeros((8, 8))
    half[:, :4] = 255  # the left half dreams
    return {
        "white": mask_file(folder, np.full((8, 8), 255), "white.png"),
        "black": mask_file(folder, np.zeros((8, 8)), "black.png"),
        "gray": mask_file(folder, np.full((8, 8), 128), "gray.png"),
        "half": mask_file(folder, half, "half.png"),
    }


@st.composite
def start_and_step(draw):
    """A start image and the image after a step, both in [0, 1] and of one shape (batch, 3, 8k, 8k)."""
    batch, side = draw(st.integers(1, 3)), 8 * draw(st.integers(1, 3))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return tuple(torch.rand((batch, 3, side, side), generator=generator) for _ in range(2))


def projected(mask, start, image):
    mask.begin(start)
    return mask.project(image, torch.Generator().manual_seed(0))


@given(start_and_step())
def test_a_mask_keeps_shape_dtype_range_and_mixes_start_and_step_by_its_gray_levels(masks, images):
    start, image = images
    for name in ("white", "black", "gray", "half"):
        out = projected(Mask(masks[name]), start, image)
        assert out.shape == image.shape and out.dtype == image.dtype and 0 <= out.min() <= out.max() <= 1
    assert torch.equal(projected(Mask(masks["white"]), start, image), image)  # white dreams
    assert torch.equal(projected(Mask(masks["black"]), start, image), start)  # black keeps the start
    assert torch.equal(projected(Mask(masks["white"], invert=True), start, image), start)
    gray = projected(Mask(masks["gray"]), start, image)
    assert torch.allclose(gray, start + 128 / 255 * (image - start), atol=1e-6)
    half = projected(Mask(masks["half"]), start, image)
    left, right = image.shape[-1] // 2 - image.shape[-1] // 8, image.shape[-1] // 2 + image.shape[-1] // 8
    assert torch.equal(half[..., :left], image[..., :left])  # away from the edge, which an enlarged mask blends
    assert torch.equal(half[..., right:], start[..., right:])


def test_a_mask_is_fitted_to_each_loops_size_and_needs_to_see_its_start_first(masks):
    mask = Mask(masks["half"])
    with pytest.raises(DreamError, match="call begin"):
        mask.project(torch.rand(1, 3, 8, 8), torch.Generator())
    for side in (8, 16):
        start, image = torch.zeros(1, 3, side, side), torch.ones(1, 3, side, side)
        out = projected(mask, start, image)
        assert out[..., : side // 2 - 1].eq(1).all() and out[..., side // 2 + 1 :].eq(0).all()
    with pytest.raises(DreamError, match="did not begin with"):
        mask.project(torch.rand(1, 3, 8, 8), torch.Generator())  # it began at 16x16


def test_an_enlarged_mask_blends_its_edges_linearly_never_past_its_own_gray_levels(tmp_path):
    """Bilinear: the weights between two gray levels stay between them (a bicubic resize would overshoot)."""
    levels = np.full((8, 8), 64)
    levels[:, 4:] = 192
    mask = Mask(mask_file(tmp_path, levels))
    start, image = torch.zeros(1, 3, 20, 20), torch.ones(1, 3, 20, 20)  # the weight itself, everywhere
    weight = projected(mask, start, image)
    assert weight.min() == pytest.approx(64 / 255) and weight.max() == pytest.approx(192 / 255)
    row = weight[0, 0, 0]
    assert (row.diff() >= 0).all() and len(row.unique()) > 3  # a ramp from dark to light, not a step


class Starts(Regularizer):
    """Remembers the size of every start image it is shown."""

    def __init__(self):
        self.sizes = []

    def begin(self, image):
        self.sizes.append(tuple(image.shape[-2:]))

    def project(self, image, generator):
        return image


def test_every_loop_shows_the_regularizers_its_start_first_each_octave_too(tiny_model):
    starts = Starts()
    job = DreamJob(
        model=tiny_model,
        objective=Logit(),
        regularizers=[starts],
        image=torch.full((1, 3, 32, 32), 0.5),
        targets=torch.tensor([0]),
        steps=6,
        lr=0.05,
        optimizer="adam",
        generator=torch.Generator().manual_seed(0),
    )
    Octaves(count=3, scale=2.0).run(job, run_job)
    assert starts.sizes == [(8, 8), (16, 16), (32, 32)]


def test_specs_that_start_with_plus_are_added_to_the_list_there_was_wherever_they_come_from():
    preset = RunConfig().updated({"reg": ["roll", "clamp"]}, "a preset")
    assert preset.updated({"reg": ["+mask:path=m.png"]}, "a file").reg == ["roll", "clamp", "mask:path=m.png"]
    assert preset.updated({"reg": "+mask:path=m.png,+tv"}, "a file").reg == ["roll", "clamp", "mask:path=m.png", "tv"]
    with pytest.raises(DreamError, match=r"a '\+' with nothing after it \(setting 'reg' in a file\)"):
        preset.updated({"reg": "+mask:path=m.png,+"}, "a file")
    assert preset.updated({"reg": ["flip", "+tv"]}, "cli").reg == ["flip", "tv"]  # a list without + replaces
    assert preset.updated({"reg": []}, "a file").reg == []  # an empty list is no regularizer, as 'none' is
    assert RunConfig().updated({"strategy": ["+tile"]}, "cli").strategy == [*RunConfig().strategy, "tile"]


@pytest.mark.usefixtures("builtins_only_cli")
def test_plus_adds_a_mask_to_the_default_regularizers_and_the_dark_part_keeps_the_photo(runner, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(photo)
    half = np.zeros((32, 32))
    half[:, :16] = 255
    out = tmp_path / "d.png"
    result = runner.invoke(
        cli,
        [
            "run",
            "--model",
            "resnet10t",
            "--size",
            "32",
            "--steps",
            "3",
            "--param",
            "pixel",
            "--init",
            f"photo:path={photo}",
            "--strategy",
            "none",
            "--reg",
            f"+mask:path={mask_file(tmp_path, half)}",
            "-o",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert read_manifest(out)["config"]["reg"] == [*RunConfig().reg, f"mask:path={tmp_path / 'mask.png'}"]
    dream, start = np.asarray(Image.open(out)), np.asarray(Image.open(photo))
    assert np.array_equal(dream[:, 16:], start[:, 16:]) and not np.array_equal(dream[:, :16], start[:, :16])


@pytest.mark.usefixtures("builtins_only_cli")
def test_a_missing_or_unreadable_mask_is_one_line_before_the_run_starts(runner, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    for path, message in ((tmp_path / "nope.png", "does not exist"), (bad, "not a readable image")):
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
                "--reg",
                f"+mask:path={path}",
                "-o",
                str(tmp_path / "d.png"),
            ],
        )
        assert result.exit_code == 1 and message in result.output and "dreaming" not in result.output
