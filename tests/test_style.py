"""The style objective: the Gram matrix of a layer's features, matched to a picture's."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from dreamengine import DreamError, DreamJob, DreamOutputs
from dreamengine.engine.loop import run_job
from dreamengine_builtins.objectives import gram_matrix
from dreamengine_builtins.pictures import Style
from dreamengine_builtins.projections import Clamp


def with_gram(gram):
    style = Style("l", "unused.png")
    style._kept = gram
    return style


def outputs(activation):
    return DreamOutputs(None, torch.zeros(len(activation), dtype=torch.long), {"l": activation})


@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31 - 1), st.floats(0.1, 10))
def test_the_style_ignores_where_features_are_and_how_large_they_are(batch, channels, positions, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    activation = torch.randn(batch, channels, 2, positions, generator=generator)
    style = with_gram(torch.randn(channels, channels, generator=generator))
    value = style(outputs(activation))
    shuffled = activation.flatten(2)[..., torch.randperm(2 * positions, generator=generator)].view_as(activation)
    assert value.shape == (batch,) and (value.abs() <= 1 + 1e-5).all()
    assert torch.allclose(style(outputs(shuffled)), value, atol=1e-5)  # the layout does not matter
    assert torch.allclose(style(outputs(scale * activation)), value, atol=1e-5)  # nor the features' size


def test_the_value_is_the_cosine_similarity_of_the_gram_matrices_and_1_for_the_pictures_own_features():
    activation = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    target = gram_matrix(activation[1:])[0]
    value = with_gram(target)(outputs(activation))
    features = activation.flatten(2)
    expected = F.cosine_similarity((features @ features.transpose(1, 2) / 9).flatten(1), target.flatten()[None])
    assert torch.allclose(value, expected) and value[1] == pytest.approx(1.0)


@pytest.fixture
def pictures(tmp_path):
    """Vertical stripes and a checkerboard, 16x16."""
    stripes, checks = Image.new("RGB", (16, 16), "white"), Image.new("RGB", (16, 16), "white")
    for x in range(16):
        for y in range(16):
            if x % 4 < 2:
                stripes.putpixel((x, y), (0, 0, 0))
            if (x // 4 + y // 4) % 2:
                checks.putpixel((x, y), (200, 0, 0))
    stripes.save(tmp_path / "stripes.png")
    checks.save(tmp_path / "checks.png")
    return {"stripes": str(tmp_path / "stripes.png"), "checks": str(tmp_path / "checks.png")}


def test_a_style_dream_grows_toward_its_own_picture_not_toward_another(tiny_model, pictures):
    styles = {name: Style("1", path) for name, path in pictures.items()}
    dreams = {}
    for name, style in styles.items():
        style.prepare(tiny_model)
        job = DreamJob(
            model=tiny_model,
            objective=style,
            regularizers=[Clamp()],
            targets=torch.tensor([0]),
            image=torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)),
            steps=40,
            lr=0.05,
            optimizer="adam",
            generator=torch.Generator().manual_seed(0),
        )
        dreams[name] = run_job(job).image

    def score(style, image):
        return float(style(DreamOutputs(None, torch.tensor([0]), {"1": tiny_model.layer_output("1", image)})))

    for own, other in (("stripes", "checks"), ("checks", "stripes")):
        assert score(styles[own], dreams[own]) > score(styles[own], dreams[other])


def test_a_style_needs_a_readable_picture_a_feature_map_and_to_be_prepared(tiny_model, tmp_path, pictures):
    with pytest.raises(DreamError, match=r"layer '5' has no feature map \(its output is \(16,\)\): a style needs"):
        Style("5", pictures["stripes"]).prepare(tiny_model)  # the flattened features
    with pytest.raises(DreamError, match="does not exist"):
        Style("1", str(tmp_path / "missing.png")).prepare(tiny_model)
    with pytest.raises(DreamError, match="was not shown to a model"):
        Style("1", "x.png")(outputs(torch.ones(1, 8, 4, 4)))
