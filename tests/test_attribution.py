"""MACO's attribution map: each step's gradient magnitude at the picture, summed, and the picture that shows it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from dreamengine import DreamJob, DreamLoop, DreamResult, Objective, Regularizer
from dreamengine.analysis.evaluation import collect_dreams
from dreamengine.cli import cli
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamInterrupted
from dreamengine.run.execute import run_through_hooks
from dreamengine.run.imaging import ATTRIBUTION_KEY, attribution_picture, read_manifest
from dreamengine.testing import make_host
from dreamengine_builtins.crops import Crops
from dreamengine_builtins.octaves import Octaves
from dreamengine_builtins.parametrizations import Fourier
from dreamengine_builtins.tiling import Tile

pytestmark = pytest.mark.usefixtures("one_thread")


class FirstLogit(Objective):
    """The first logit."""

    def __call__(self, outputs):
        return outputs.logits[:, 0]


class RedLeft(torch.nn.Module):
    """A "network" whose one logit is twice the sum of the red channel's left half."""

    def forward(self, image):
        return 2 * image[:, :1, :, : image.shape[-1] // 2].sum((1, 2, 3))[:, None]


def _job(net=None, size=(8, 12), steps=2, lr=0.0, optimizer="sgd", **extra) -> DreamJob:
    model = DreamModel(net or RedLeft(), name="red-left", input_size=size, mean=(0, 0, 0), std=(1, 1, 1)).freeze()
    return DreamJob(
        model=model,
        objective=FirstLogit(),
        regularizers=[],
        image=torch.full((2, 3, *size), 0.5),
        targets=torch.zeros(2, dtype=torch.long),
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        generator=torch.Generator().manual_seed(0),
        attribute=True,
        **extra,
    )


def test_the_map_sums_each_steps_gradient_magnitude_at_the_picture_once_per_step():
    # lr 0: every step has the same gradient, 2 on the left half's red pixels and 0 elsewhere; three steps sum three
    # of them (a hook left on the plain pixels, a leaf, would count the second step twice and the third three times)
    result = DreamLoop(_job(steps=3)).run()
    assert result.attribution is not None and result.attribution.shape == (2, 1, 8, 12)
    expected = torch.zeros(2, 1, 8, 12)
    expected[..., :6] = 3 * 2.0
    assert torch.allclose(result.attribution, expected)


def test_no_map_is_kept_unless_the_job_asks():
    assert DreamLoop(dataclasses.replace(_job(), attribute=False)).run().attribution is None


def test_the_map_is_taken_before_the_gradient_filters_and_through_a_parametrization():
    class ZeroGradient(Regularizer):
        """Throws the gradient away."""

        phase = "gradient"

        def filter(self, gradient):
            return torch.zeros_like(gradient)

    job = dataclasses.replace(_job(steps=1), regularizers=[ZeroGradient()], parametrization=Fourier())
    result = DreamLoop(job).run()
    assert result.attribution is not None
    assert torch.allclose(result.attribution[..., :6], torch.tensor(2.0)) and not result.attribution[..., 6:].any()


def test_a_kept_map_comes_back_with_a_diverged_or_interrupted_run():
    def stop(step, scores):
        raise KeyboardInterrupt

    with pytest.raises(DreamInterrupted) as stopped:
        DreamLoop(dataclasses.replace(_job(steps=5), on_step=stop)).run()
    assert torch.allclose(stopped.value.result.attribution[..., :6], torch.tensor(2.0))


def test_octaves_sum_their_maps_at_the_pictures_size():
    host = make_host()
    job = _job(size=(16, 24), steps=4, strategies=[Octaves(count=2, scale=2.0)])
    result = run_through_hooks(host, job)
    assert result.attribution is not None and result.attribution.shape == (2, 1, 16, 24)
    # each octave (8 x 12, then 16 x 24) makes 2 steps of gradient 2 at its left half: resized and summed, the
    # left half's inside holds 4 + 4 and the right half's nothing
    assert torch.allclose(result.attribution[..., 2:-2, 1:10], torch.tensor(8.0))
    assert torch.allclose(result.attribution[..., 14:], torch.tensor(0.0))


@pytest.mark.parametrize("strategy", [Tile(size=8), Crops(count=2, smallest=0.5)])
def test_tiles_and_crops_attribute_the_whole_canvas(strategy):
    job = _job(size=(16, 24), steps=1, strategies=[strategy])
    result = run_through_hooks(make_host(), job)
    assert result.attribution is not None and result.attribution.shape == (2, 1, 16, 24)
    assert result.attribution.sum() > 0 and (result.attribution >= 0).all()


def test_the_picture_fades_the_dream_where_the_map_is_below_its_80th_percentile():
    image = torch.rand(3, 10, 10)
    ramp = torch.arange(100.0).view(1, 10, 10)
    picture = attribution_picture(image, ramp)
    assert picture.mode == "RGBA" and picture.size == (10, 10)
    alpha = torch.tensor(np.array(picture.getchannel("A")), dtype=torch.float32)
    ceiling = torch.quantile(ramp.flatten(), 0.8)
    assert torch.equal(alpha, (ramp[0] / ceiling).clamp(max=1).mul(255).round())
    assert (alpha == 255).sum() == 20  # the top fifth opaque: 80.. 99 (79.2 is the 80th percentile)
    assert (
        picture.convert("RGB").tobytes()
        == Image.fromarray((image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()).tobytes()
    )


@pytest.mark.parametrize("flat", [torch.zeros(1, 4, 4), torch.full((1, 4, 4), float("nan"))])
def test_a_map_with_nothing_in_it_leaves_the_dream_opaque(flat):
    alpha = attribution_picture(torch.rand(3, 4, 4), flat).getchannel("A")
    assert (np.asarray(alpha) == 255).all()


def test_run_attribution_writes_the_map_beside_the_dream_which_evaluate_and_montage_pass_over(runner, tmp_path):
    out = tmp_path / "out"
    args = ["run", "--model", "resnet10t", "--size", "32", "--steps", "3", "--attribution", "-o", str(out)]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["flamingo-seed0-attribution.png", "flamingo-seed0.png"]
    picture = Image.open(out / "flamingo-seed0-attribution.png")
    assert picture.mode == "RGBA" and picture.size == (32, 32)
    alpha = np.asarray(picture.getchannel("A"))
    assert alpha.max() == 255 and alpha.min() < 255  # a map, not an opaque copy
    assert picture.convert("RGB").tobytes() == Image.open(out / "flamingo-seed0.png").convert("RGB").tobytes()
    manifest = read_manifest(out / "flamingo-seed0-attribution.png")
    assert manifest[ATTRIBUTION_KEY] == {"percentile": 80} and manifest["config"]["attribution"] is True
    assert read_manifest(out / "flamingo-seed0.png")["config"]["attribution"] is True
    montage = runner.invoke(cli, ["montage", str(out), "-o", str(tmp_path / "m.png")])
    assert montage.exit_code == 0 and "a dream's attribution map" in montage.output
    info = runner.invoke(cli, ["info", str(out / "flamingo-seed0-attribution.png")], terminal_width=200)
    assert info.exit_code == 0 and "its attribution map: the dream, faded where the objective did not" in info.output
    assert "attribution map" not in runner.invoke(cli, ["info", str(out / "flamingo-seed0.png")]).output

    dreams, skipped = collect_dreams(out)
    assert [d.path.name for d in dreams] == ["flamingo-seed0.png"]
    assert [(s.path.name, s.reason, s.companion) for s in skipped] == [
        ("flamingo-seed0-attribution.png", "a dream's attribution map", True)
    ]


def test_a_map_in_the_way_of_a_new_dream_moves_it_to_a_free_name(runner, tmp_path):
    (tmp_path / "flamingo-seed0-attribution.png").write_bytes(b"the user's own file")
    args = ["run", "--model", "resnet10t", "--size", "32", "--steps", "1", "--attribution", "-o", str(tmp_path)]
    assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0
    assert (tmp_path / "flamingo-seed0-attribution.png").read_bytes() == b"the user's own file"
    assert (tmp_path / "flamingo-seed0-2-attribution.png").exists()


def test_a_result_carries_no_map_by_default():
    assert DreamResult(torch.zeros(1, 3, 2, 2), torch.zeros(1), 0).attribution is None


def test_beside_a_dream_named_by_the_user_their_own_files_are_never_replaced(runner, tmp_path):
    Image.new("RGB", (4, 4), "red").save(tmp_path / "mine-side.png")
    (tmp_path / "mine-attribution.png").write_bytes(b"the user's own notes")
    (tmp_path / "mine-attribution-2.png").mkdir()
    args = ["run", "--model", "resnet10t", "--size", "32", "--steps", "1", "--attribution", "--side-by-side"]
    for _ in range(2):  # the second run replaces the first one's files, and only them
        result = runner.invoke(cli, [*args, "-o", str(tmp_path / "mine.png")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "mine-side.png").size == (4, 4)
    assert (tmp_path / "mine-attribution.png").read_bytes() == b"the user's own notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mine-attribution-2.png",
        "mine-attribution-3.png",
        "mine-attribution.png",
        "mine-side-2.png",
        "mine-side.png",
        "mine.png",
    ]
    assert ATTRIBUTION_KEY in read_manifest(tmp_path / "mine-attribution-3.png")
    assert Image.open(tmp_path / "mine-side-2.png").size == (2 * 32 + 4, 32)


def test_through_crops_the_map_is_what_the_objective_saw_per_time_a_pixel_was_seen(monkeypatch):
    # a 16 x 16 canvas, the network's input 8 x 8: three steps crop the top-left quarter, one the bottom-right
    # (each crop at the input size, so nothing is resized); the red left half of each crop has gradient 2
    from dreamengine_builtins.crops import CroppedLoop

    windows = iter([(0, 0, 8), (0, 0, 8), (8, 8, 8), (0, 0, 8)])
    monkeypatch.setattr(CroppedLoop, "crop", lambda self, height, width: next(windows))
    job = _job(size=(8, 8), steps=4, strategies=[Crops(count=1)])
    job = dataclasses.replace(job, image=torch.full((2, 3, 16, 16), 0.5))
    result = run_through_hooks(make_host(), job)
    expected = torch.zeros(2, 1, 16, 16)
    expected[..., :8, :4] = 2.0  # seen 3 times, 6 in all: 2 a time
    expected[..., 8:, 8:12] = 2.0  # seen once: 2
    assert result.attribution is not None and torch.allclose(result.attribution, expected)
