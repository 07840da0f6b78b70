"""The guide objective: dream toward a guide picture's features (DeepDream's "controlling dreams")."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dreamengine import DreamError, DreamJob, DreamOutputs
from dreamengine.cli import cli
from dreamengine.engine.loop import run_job
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import read_manifest
from dreamengine.run.prepare import build_job, load_model
from dreamengine_builtins import pictures
from dreamengine_builtins.pictures import Guide, best_matches
from dreamengine_builtins.projections import Clamp


@pytest.fixture
def stripes(tmp_path):
    """A guide picture: red and blue vertical stripes, 32x16 (wider than the tiny model's 16x16 input)."""
    path = tmp_path / "stripes.png"
    picture = Image.new("RGB", (32, 16), "red")
    for x in range(0, 32, 4):
        picture.paste((0, 0, 255), (x, 0, x + 2, 16))
    picture.save(path)
    return path


def test_best_matches_is_the_argmax_of_every_dot_product_in_chunks_or_not(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    dream, guide = torch.randn(2, 5, 30, generator=generator), torch.randn(5, 7, generator=generator)
    expected = torch.einsum("bcn,cm->bnm", dream, guide).argmax(2)
    assert torch.equal(best_matches(dream, guide), expected)
    monkeypatch.setattr(pictures, "_CHUNK", 4)
    assert torch.equal(best_matches(dream, guide), expected)


def test_the_gradient_at_each_position_is_the_guide_feature_that_matches_it_best():
    """As in Google's notebook: the gradient of the dream's features is the guide's best match at each position."""
    guide = Guide("l", "unused.png")
    guide._kept = torch.randn(6, 9, generator=torch.Generator().manual_seed(1))
    activation = torch.randn(2, 6, 3, 4, generator=torch.Generator().manual_seed(2), requires_grad=True)
    score = guide(DreamOutputs(None, torch.tensor([0, 0]), {"l": activation}))
    score.sum().backward()
    best = torch.einsum("bcn,cm->bnm", activation.detach().flatten(2), guide._kept).argmax(2)
    expected = guide._kept[:, best].transpose(0, 1).reshape(2, 6, 3, 4) / 12  # the mean over 12 positions
    assert score.shape == (2,)
    assert torch.allclose(activation.grad, expected)


def test_prepare_shows_the_guide_to_the_model_at_its_input_size_keeping_its_shape(tiny_model, stripes):
    guide = Guide("1", str(stripes))
    guide.prepare(tiny_model)
    with tiny_model.capture(["1"]) as seen:
        tiny_model(torch.tensor([1.0, 0.0, 0.0])[None, :, None, None].expand(1, 3, 8, 16))
    assert guide._kept.shape == (8, 8 * 16)  # 32x16 shown at 16x8, the features of every position
    assert not torch.equal(guide._kept, seen["1"].flatten(2)[0])  # the stripes, not a red picture


def test_a_guided_dream_grows_toward_its_guide_not_toward_another(tiny_model, tmp_path, stripes):
    """Two dreams from the same gray start, each guided by one picture: each ends more like its own guide."""
    plain = tmp_path / "plain.png"
    Image.new("RGB", (16, 16), (0, 200, 0)).save(plain)
    guides = {name: Guide("1", str(path)) for name, path in (("stripes", stripes), ("plain", plain))}
    dreams = {}
    for name, guide in guides.items():
        guide.prepare(tiny_model)
        job = DreamJob(
            model=tiny_model,
            objective=guide,
            regularizers=[Clamp()],
            image=torch.full((1, 3, 16, 16), 0.5),
            targets=torch.tensor([0]),
            steps=30,
            lr=0.05,
            optimizer="adam",
            generator=torch.Generator().manual_seed(0),
        )
        dreams[name] = run_job(job).image

    def score(guide, image):
        with tiny_model.capture(["1"]) as seen:
            tiny_model(image)
        return float(guide(DreamOutputs(None, torch.tensor([0]), dict(seen))))

    for own, other in (("stripes", "plain"), ("plain", "stripes")):
        assert score(guides[own], dreams[own]) > score(guides[own], dreams[other])


def test_a_guide_needs_a_feature_map_and_a_readable_picture(tiny_model, tmp_path, stripes):
    with pytest.raises(DreamError, match="layer '5' has no feature map"):
        Guide("5", str(stripes)).prepare(tiny_model)  # the flattened features
    with pytest.raises(DreamError, match="does not exist"):
        Guide("1", str(tmp_path / "missing.png")).prepare(tiny_model)
    with pytest.raises(DreamError, match="was not shown to a model"):
        Guide("1", str(stripes))(DreamOutputs(None, torch.tensor([0]), {"1": torch.ones(1, 8, 4, 4)}))


@pytest.mark.usefixtures("builtins_only_cli")
def test_a_guided_dream_from_the_cli_is_named_after_its_guide_and_a_bad_guide_is_one_line(runner, tmp_path, stripes):
    out = tmp_path / "dreams"
    args = ["run", "--model", "resnet10t", "--size", "32", "--steps", "3", "-o", str(out)]
    result = runner.invoke(cli, [*args, "--objective", f"guide:layer2:path={stripes}"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (path,) = out.iterdir()
    assert path.name == "guide-layer2-path-stripes-png-seed0.png"  # the guide's file name, not its folders
    assert read_manifest(path)["config"]["objective"] == f"guide:layer2:path={stripes}"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    result = runner.invoke(cli, [*args, "--objective", f"guide:layer2:path={bad}"])
    assert result.exit_code == 1 and "not a readable image" in result.output and "Traceback" not in result.output


@pytest.mark.usefixtures("resnet10t_quiet")
def test_a_guided_dream_is_the_same_on_a_fresh_model_and_on_one_that_dreamed_before(host, stripes):
    """A study's cells share a model, whose norms the first cell folds: the guide's features must not see that."""
    config = RunConfig(
        model="resnet10t", size=32, steps=3, objective=f"guide:layer2:path={stripes}", reg=["clamp"], strategy=[]
    )
    model = load_model(host, config)
    first, again = (run_job(build_job(host, config, model, torch.device("cpu"))[0]).image for _ in range(2))
    assert torch.equal(first, again)
