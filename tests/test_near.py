"""The ``near`` objective, and feature accentuation with it: a photograph changed just enough to drive a class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dreamengine import DreamError, DreamJob, DreamOutputs, objective
from dreamengine.engine.loop import run_job
from dreamengine_builtins.pictures import Near
from dreamengine_builtins.projections import Clamp


@pytest.fixture
def photo(tmp_path):
    """Red and blue vertical stripes, 16x16: the tiny model's input size."""
    pixels = Image.new("RGB", (16, 16), (200, 30, 30))
    for x in range(0, 16, 4):
        pixels.paste((30, 30, 200), (x, 0, x + 2, 16))
    path = tmp_path / "stripes.png"
    pixels.save(path)
    return str(path)


def _features(model, image):
    return model.layer_output("1", image)


def _value(near, model, image):
    return near(DreamOutputs(None, torch.zeros(len(image), dtype=torch.long), {"1": _features(model, image)}))


def test_near_is_zero_at_the_picture_and_falls_away_from_it(tiny_model, photo):
    near = Near("1", photo)
    near.prepare(tiny_model)
    picture = torch.from_numpy(np.asarray(Image.open(photo), dtype="float32") / 255)
    picture = picture.permute(2, 0, 1)[None]
    gray = torch.full_like(picture, 0.5)
    values = _value(near, tiny_model, torch.cat([picture, 0.9 * picture + 0.1 * gray, gray]))
    assert values[0].abs() < 1e-6
    assert 0 > values[1] > values[2]  # the further from the picture, the lower


def test_near_compares_at_the_dreams_size_and_needs_a_feature_map(tiny_model, photo):
    near = Near("1", photo)
    near._kept = torch.ones(1, 2, 4, 4)
    value = near(DreamOutputs(None, torch.tensor([0]), {"1": torch.ones(1, 2, 8, 8)}))
    assert value.item() == pytest.approx(0.0, abs=1e-6)  # the kept map resized to the dream's 8x8
    with pytest.raises(DreamError, match=r"layer '5' has no feature map .* a near needs"):
        Near("5", photo).prepare(tiny_model)


def test_a_feature_accentuation_drives_the_class_and_stays_near_the_photo(tiny_model, photo):
    start = torch.from_numpy(np.asarray(Image.open(photo), dtype="float32") / 255)
    start = start.permute(2, 0, 1)[None]

    def dream(text):
        built = objective(text)
        built.prepare(tiny_model)
        job = DreamJob(
            model=tiny_model,
            objective=built,
            regularizers=[Clamp()],
            targets=torch.tensor([2]),
            image=start.clone(),
            steps=30,
            lr=0.02,
            optimizer="adam",
            generator=torch.Generator().manual_seed(0),
        )
        return run_job(job).image

    free, accentuated = dream("logit"), dream(f"logit + 20*near:1:path={photo}")
    near = Near("1", photo)
    near.prepare(tiny_model)
    with torch.no_grad():
        logits = tiny_model(torch.cat([start, accentuated, free]))[:, 2]
    assert logits[1] > logits[0]  # the class rises ...
    assert _value(near, tiny_model, accentuated) > _value(near, tiny_model, free)  # ... nearer the photo


def test_near_is_relative_to_the_pictures_own_size_and_resizes_it_with_antialiasing():
    generator = torch.Generator().manual_seed(2)
    kept, activation = torch.rand((1, 3, 8, 8), generator=generator), torch.rand((2, 3, 4, 4), generator=generator)

    def value(kept, activation):
        near = Near("l", "unused.png")
        near._kept = kept
        return near(DreamOutputs(None, torch.zeros(2, dtype=torch.long), {"l": activation}))

    resized = torch.nn.functional.interpolate(kept, size=(4, 4), mode="bilinear", antialias=True)
    expected = -(activation - resized).square().mean(dim=(1, 2, 3)) / resized.square().mean()
    torch.testing.assert_close(value(kept, activation), expected)
    torch.testing.assert_close(value(0.1 * kept, 0.1 * activation), expected)  # the same at any scale


def test_a_layer_without_a_feature_map_is_refused_word_for_word(tiny_model, photo):
    with pytest.raises(DreamError) as refused:
        Near("5", photo).prepare(tiny_model)
    assert str(refused.value) == (
        "layer '5' has no feature map (its output is (16,)): a near needs a (channels, height, width) output; "
        "`dreamengine layers` lists them."
    )
