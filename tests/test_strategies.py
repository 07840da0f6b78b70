"""The octaves, tile and zoom strategies: shape bookkeeping, detail carried between scales, seams, bounded memory,
zooming in frame by frame."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from dreamengine import (
    DreamError,
    DreamJob,
    DreamModel,
    DreamResult,
    Objective,
    Regularizer,
    RunConfig,
    Strategy,
    hookimpl,
    resample,
)
from dreamengine.engine.loop import run_job
from dreamengine.run.execute import run_through_hooks, total_steps
from dreamengine.run.prepare import prepare
from dreamengine.testing import make_host, tiny_model
from dreamengine_builtins.octaves import Octaves, octave_sizes, split_steps
from dreamengine_builtins.projections import Clamp
from dreamengine_builtins.tiling import Tile, tile_origins
from dreamengine_builtins.zoom import Zoom

pytestmark = pytest.mark.usefixtures("one_thread")


class TargetLogit(Objective):
    """The target's logit."""

    def __call__(self, outputs):
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


def job(model=None, size=(16, 16), batch=1, steps=4, optimizer="adam", lr=0.05, regularizers=(), **extra) -> DreamJob:
    return DreamJob(
        model=model or tiny_model(),
        objective=TargetLogit(),
        regularizers=list(regularizers),
        image=torch.full((batch, 3, *size), 0.5),
        targets=torch.ones(batch, dtype=torch.long),
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        generator=torch.Generator().manual_seed(0),
        **extra,
    )


def input_shapes(model: DreamModel) -> list[tuple[int, ...]]:
    """Record the shape of every input the network sees."""
    shapes = []
    model.net.register_forward_pre_hook(lambda _module, args: shapes.append(tuple(args[0].shape)))
    return shapes


@given(st.integers(8, 300), st.integers(8, 300), st.integers(1, 6), st.floats(1, 2))
def test_octave_sizes_grow_to_the_full_size(height, width, count, scale):
    sizes = octave_sizes(height, width, count, scale)
    assert len(sizes) == count and sizes[-1] == (height, width)
    assert all(8 <= h <= height and 8 <= w <= width for h, w in sizes)
    assert sizes == sorted(sizes)


@given(st.integers(8, 300), st.integers(8, 300), st.integers(1, 64), st.floats(1, 1e300))
def test_octave_sizes_stay_at_least_8_pixels_however_many_octaves_and_however_large_the_scale(
    height, width, count, scale
):
    sizes = octave_sizes(height, width, count, scale)
    assert len(sizes) == count and sizes[-1] == (height, width)
    assert all(8 <= h <= height and 8 <= w <= width for h, w in sizes)


def test_octave_count_is_bounded():
    Octaves(count=64)
    for count in (0, 65, 10**12):
        with pytest.raises(ValueError, match="count must be 1 to 64"):
            Octaves(count=count)


@given(st.integers(1, 500), st.integers(1, 8))
def test_split_steps_shares_every_step_and_favours_the_last_octaves(steps, count):
    shares = split_steps(steps, count)
    assert sum(shares) == steps and shares == sorted(shares) and shares[-1] - shares[0] <= 1


def test_octaves_dream_at_each_size_with_a_fixed_shape_and_end_at_the_full_size():
    model = tiny_model()
    shapes = input_shapes(model)
    seen = []
    octaves = Octaves(count=3, scale=2.0)
    result = octaves.run(job(model, size=(24, 40), steps=7, on_step=lambda step, _: seen.append(step)), run_job)
    assert result.image.shape == (1, 3, 24, 40) and result.steps_done == 7 and seen == list(range(1, 8))
    assert shapes == [(1, 3, 8, 10)] * 2 + [(1, 3, 12, 20)] * 2 + [(1, 3, 24, 40)] * 3


def test_octaves_carry_the_detail_up_to_the_next_scale():
    """A fake loop that adds 0.1 to its start: after three octaves the detail is 0.3 everywhere."""
    starts = []

    def brighten(inner):
        starts.append(inner.image.clone())
        return DreamResult(inner.image + 0.1, torch.zeros(1), inner.steps)

    result = Octaves(count=3, scale=1.5).run(job(size=(18, 27), steps=3), brighten)
    assert [tuple(s.shape[-2:]) for s in starts] == [(8, 12), (12, 18), (18, 27)]
    torch.testing.assert_close(starts[1], torch.full_like(starts[1], 0.6))
    torch.testing.assert_close(result.image, torch.full((1, 3, 18, 27), 0.8))


def test_per_octave_steps_count_in_the_progress_total():
    assert Octaves(count=3, per_octave=True).total_steps(10) == 30 and Octaves(count=3).total_steps(10) == 10


class MeanModel(nn.Module):
    """Logits (-mean, mean) of the image: every pixel gets the same gradient, wherever it is."""

    num_classes = 2

    def forward(self, image):
        mean = image.mean((1, 2, 3))
        return torch.stack([-mean, mean], 1)


def mean_model() -> DreamModel:
    return DreamModel(
        MeanModel(), name="mean", mean=(0, 0, 0), std=(1, 1, 1), input_size=(16, 16), class_names=["dark", "bright"]
    ).freeze()


@given(st.integers(1, 40).map(lambda n: n + 8), st.integers(9, 48))
def test_tile_origins_cover_every_pixel_with_tiles_inside(length, tile):
    origins = tile_origins(length, tile)
    covered = torch.zeros(length)
    for start in origins:
        assert 0 <= start and start + min(tile, length) <= length
        covered[start : start + min(tile, length)] = 1
    assert covered.all() and len(origins) == -(-length // min(tile, length))


@pytest.mark.parametrize("size", [(40, 37), (16, 16), (9, 50)])
def test_a_tiled_dream_on_a_constant_gradient_model_has_no_seams(size):
    """Overlapping tiles and random shifts must not make some pixels move more than others (SGD shows it)."""
    result = Tile(size=16).run(job(mean_model(), size=size, steps=3, optimizer="sgd", lr=50.0), run_job)
    image = result.image
    assert image.shape == (1, 3, *size) and result.steps_done == 3
    assert float(image.min()) > 0.5 + 1e-3  # it did brighten
    assert float(image.max() - image.min()) < 1e-5


def test_tiling_keeps_one_fixed_tile_shape_per_forward_whatever_the_image_size():
    model = tiny_model()
    shapes = input_shapes(model)
    result = Tile().run(job(model, size=(50, 33), batch=2, steps=2), run_job)
    assert result.image.shape == (2, 3, 50, 33) and torch.isfinite(result.scores).all()
    assert set(shapes) == {(2, 3, 16, 16)} and len(shapes) == 2 * 4 * 3


class CountGraph(Regularizer):
    """A transform that records how many elements reach the network per forward, and checks no bigger graph exists."""

    def __init__(self):
        self.largest = 0

    def transform(self, image, generator):
        self.largest = max(self.largest, image.numel())
        return image


def test_tiling_memory_stays_bounded_by_one_tile():
    counter = CountGraph()
    model = tiny_model()
    Tile(size=16).run(job(model, size=(96, 96), steps=1, regularizers=[counter]), run_job)
    assert counter.largest == 3 * 16 * 16


def test_tiling_runs_every_phase_and_the_gradient_filters_on_the_full_gradient():
    class Normalise(Regularizer):
        """Record the gradient's shape."""

        shapes = []

        def gradient(self, grad):
            self.shapes.append(tuple(grad.shape))
            return grad / grad.abs().mean().clamp_min(1e-8)

    result = Tile(size=16).run(job(size=(20, 30), steps=2, regularizers=[Normalise(), Clamp()]), run_job)
    assert Normalise.shapes == [(1, 3, 20, 30)] * 2
    assert result.image.min() >= 0 and result.image.max() <= 1


def test_tiling_with_the_fft_parametrization():
    from dreamengine_builtins.parametrizations import Fourier

    result = Tile(size=16).run(job(size=(24, 24), steps=2, parametrization=Fourier()), run_job)
    assert result.steps_done == 2 and not torch.equal(result.image, torch.full_like(result.image, 0.5))


def test_tiling_repeats_exactly_with_the_same_seed():
    first, second = (Tile(size=16).run(job(size=(20, 30), steps=2), run_job).image for _ in range(2))
    assert torch.equal(first, second)


def test_strategies_nest_through_the_hooks_first_outermost():
    host = make_host()
    model = tiny_model()
    shapes = input_shapes(model)
    nested = job(model, size=(32, 32), steps=4, strategies=[Octaves(count=2, scale=2.0), Tile(size=16)])
    result = run_through_hooks(host, nested)
    assert result.image.shape == (1, 3, 32, 32) and result.steps_done == 4 and total_steps(nested) == 4
    assert shapes == [(1, 3, 16, 16)] * (2 + 2 * 4)


class Watcher:
    """A plugin whose run_dream wrapper counts the loops the strategies run."""

    def __init__(self):
        self.sizes = []

    @hookimpl(wrapper=True)
    def dreamengine_run_dream(self, job):
        self.sizes.append(tuple(job.image.shape[-2:]))
        return (yield)


def test_each_octave_goes_through_the_run_dream_hook():
    watcher = Watcher()
    host = make_host(watcher)
    run_through_hooks(host, job(size=(32, 32), steps=2, strategies=[Octaves(count=2, scale=2.0)]))
    assert watcher.sizes == [(16, 16), (32, 32)]


class Twice(Strategy):
    """Run the loop twice, the second time from the first result."""

    def total_steps(self, steps):
        return 2 * steps

    def run(self, job, loop):
        first = loop(job)
        return loop(dataclasses.replace(job, image=first.image.to(job.image.device)))


class TwicePlugin:
    @hookimpl
    def dreamengine_register_strategies(self, register):
        register("twice", Twice)


def test_a_plugin_strategy_is_registered_listed_and_used_by_a_run(tmp_path, resnet10t_quiet):
    host = make_host(TwicePlugin())
    entry = host.registry.get("strategies", "twice")
    assert entry.summary == "Run the loop twice, the second time from the first result."
    config = RunConfig(model="resnet10t", size=16, steps=2, strategy=["twice"], output=str(tmp_path / "x.png"))
    run = prepare(host, config)
    assert total_steps(run.job) == 4 and isinstance(run.job.strategies[0], Twice)


def test_an_unknown_strategy_suggests_the_closest():
    with pytest.raises(DreamError, match="unknown strategy 'octave'.*Did you mean 'octaves'"):
        make_host().registry.get("strategies", "octave")


def test_the_cli_runs_octaves_and_tiles(runner, tmp_path, builtins_only_cli, resnet10t_quiet):
    from dreamengine.cli import cli
    from dreamengine.run.imaging import read_manifest

    out = tmp_path / "tiled.png"
    args = ["run", "--model", "resnet10t", "--size", "40", "--steps", "2", "--reg", "clamp", "-o", str(out)]
    result = runner.invoke(
        cli, [*args, "--strategy", "octaves:count=2", "--strategy", "tile:size=32"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert read_manifest(out)["config"]["strategy"] == ["octaves:count=2", "tile:size=32"]
    assert Image.open(out).size == (40, 40)
    result = runner.invoke(cli, [*args, "--strategy", "tile:size=4"])
    assert result.exit_code == 1 and "size must be at least 8" in result.output


def test_octaves_with_the_fft_parametrization_set_up_afresh_at_each_size():
    from dreamengine_builtins.parametrizations import Fourier

    result = Octaves(count=2, scale=2.0).run(
        job(size=(24, 32), steps=4, parametrization=Fourier(), save_every=1), run_job
    )
    assert result.image.shape == (1, 3, 24, 32) and result.steps_done == 4
    assert [tuple(f.shape) for f in result.frames] == [(1, 3, 24, 32)] * 5  # the start, then every step of both octaves


def test_the_default_dream_uses_octaves_and_none_turns_them_off():
    from dreamengine.run.settings import resolve_settings

    host = make_host()
    assert [type(s).__name__ for s in _strategies(host, resolve_settings(host))] == ["Octaves"]
    plain = resolve_settings(host, options={"strategy": ("none",)})
    assert plain.strategy == ["none"] and _strategies(host, plain) == []
    assert _strategies(host, resolve_settings(host, preset="report")) == []


def _strategies(host, config):
    from dreamengine.run.prepare import build_components

    return build_components(host, config)[-1]


def test_zoom_starts_each_frame_from_the_last_dream_zoomed_into_its_centre():
    """A fake loop that paints its start's top left corner white: every later frame starts from that, zoomed in."""
    starts = []

    def painted(image):
        image = image.clone()
        image[..., :2, :2] = 1.0
        return image

    def paint(inner):
        starts.append(inner.image.clone())
        frames = [inner.image.clone(), painted(inner.image)] if inner.save_every else []
        return DreamResult(painted(inner.image), torch.zeros(1), inner.steps, frames)

    result = Zoom(frames=3, scale=1.25).run(job(size=(20, 20), steps=7, save_every=1), paint)
    assert [s.shape for s in starts] == [(1, 3, 20, 20)] * 3 and result.steps_done == 21
    for before, after in zip(starts, starts[1:]):
        torch.testing.assert_close(after, resample(painted(before), ((0.8, 0.0, 0.0), (0.0, 0.8, 0.0))))
    assert (
        0.5 < starts[1][0, 0, 0, 0] < 1 and starts[1][0, 0, 10, 10] == 0.5
    )  # the corner came closer, the centre stayed
    assert len(result.frames) == 4 and torch.equal(result.frames[0], starts[0])  # the start, then each frame's end
    assert all(torch.equal(frame, painted(start)) for frame, start in zip(result.frames[1:], starts))
    assert torch.equal(result.image, painted(starts[-1]))
    without_snapshots = Zoom(frames=3, scale=1.25).run(job(size=(20, 20), steps=7), paint)
    assert len(without_snapshots.frames) == 4  # the film all the same: the start, then each frame's end
    assert all(torch.equal(a, b) for a, b in zip(without_snapshots.frames, result.frames))


def test_a_zoom_that_turns_starts_each_frame_from_the_last_dream_turned():
    """A quarter turn without zooming, on a square image, maps pixel centres onto pixel centres: it is rot90."""
    starts = []

    def keep(inner):
        starts.append(inner.image.clone())
        return DreamResult(inner.image, torch.zeros(1), inner.steps)

    first = torch.rand((1, 3, 12, 12), generator=torch.Generator().manual_seed(0))
    Zoom(frames=2, scale=1.0, rotate=90.0).run(dataclasses.replace(job(size=(12, 12)), image=first), keep)
    torch.testing.assert_close(starts[1], torch.rot90(first, 1, dims=(-2, -1)), atol=1e-5, rtol=0)
    (a, b, _), (d, e, _) = Zoom(scale=2.0, rotate=90.0).closer(10, 20)
    assert (round(a, 9), round(b, 9), round(d, 9), round(e, 9)) == (0.0, -0.25, 1.0, 0.0)  # aspect kept, half-way


def test_each_zoom_frame_dreams_the_steps_counted_over_the_whole_run_for_real():
    seen = []
    result = Zoom(frames=3).run(job(steps=2, save_every=1, on_step=lambda step, _: seen.append(step)), run_job)
    assert seen == list(range(1, 7)) and result.steps_done == 6 and len(result.frames) == 7
    assert Zoom(frames=3).total_steps(2) == 6


def test_a_zoom_that_diverges_stops_and_names_the_step_counted_over_the_whole_run():
    def diverges_in_frame_two(inner):
        if inner.image.max() > 0.5:  # the second frame starts from the first one's brighter end
            return DreamResult(inner.image, torch.zeros(1), 1, [], "diverged")
        return DreamResult(inner.image + 0.1, torch.zeros(1), inner.steps)

    result = Zoom(frames=3).run(job(steps=9), diverges_in_frame_two)
    assert result.steps_done == 10 and "diverged at step 11" in result.diverged


@pytest.mark.parametrize(
    ("options", "message"), [({"frames": 0}, "frames must be at least 1"), ({"scale": 0.9}, "scale must be at least 1")]
)
def test_zoom_refuses_settings_that_do_not_zoom(options, message):
    with pytest.raises(ValueError, match=message):
        Zoom(**options)


def test_the_cli_writes_a_zoom_as_an_animation_of_one_picture_per_frame_or_per_save_every_steps(
    runner, tmp_path, builtins_only_cli, resnet10t_quiet
):
    from dreamengine.cli import cli

    args = ["run", "--model", "resnet10t", "--size", "32", "--strategy", "zoom:frames=3:scale=1.1", "--steps", "2"]
    result = runner.invoke(cli, [*args, "-o", str(tmp_path / "zoom.png")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "zoom.gif").n_frames == 4  # the start, then the end of each frame
    result = runner.invoke(cli, [*args, "--save-every", "1", "-o", str(tmp_path / "steps.png")])
    assert Image.open(tmp_path / "steps.gif").n_frames == 7  # the start, then every step


def test_octaves_clip_each_start_to_the_unit_range_and_share_or_repeat_the_steps():
    """The detail carried up can push a start past black or white: each octave starts clipped to [0, 1]."""
    starts, steps = [], []

    def overshoot(inner):
        starts.append(inner.image.clone())
        steps.append(inner.steps)
        swing = torch.linspace(-2, 2, inner.image.shape[-1])  # far below 0 on the left, far above 1 on the right
        return DreamResult(inner.image + swing, torch.zeros(1), inner.steps)

    Octaves(count=3, scale=2.0).run(job(size=(32, 32), steps=7), overshoot)
    assert steps == [2, 2, 3]
    for start in starts[1:]:
        assert start.min() == 0 and start.max() == 1
    steps.clear()
    Octaves(count=3, scale=2.0, per_octave=True).run(job(size=(32, 32), steps=2), overshoot)
    assert steps == [2, 2, 2]


def test_one_octave_is_one_plain_loop():
    starts = []

    def brighten(inner):
        starts.append(inner.image.clone())
        return DreamResult(inner.image + 0.1, torch.zeros(1), inner.steps)

    result = Octaves(count=1).run(job(size=(12, 20), steps=3), brighten)
    assert len(starts) == 1 and torch.equal(starts[0], torch.full((1, 3, 12, 20), 0.5))
    torch.testing.assert_close(result.image, torch.full((1, 3, 12, 20), 0.6))
    assert result.steps_done == 3


def test_an_octave_that_diverges_ends_the_dream_at_full_size_and_names_the_step_counted_over_all_octaves():
    def diverges_in_octave_two(inner):
        frames = [inner.image, inner.image + 0.1]
        if inner.image.shape[-1] == 16:  # the second octave
            return DreamResult(inner.image + 0.1, torch.tensor([7.0]), 1, frames, "diverged")
        return DreamResult(inner.image + 0.1, torch.zeros(1), inner.steps, frames)

    result = Octaves(count=3, scale=2.0).run(job(size=(32, 32), steps=9), diverges_in_octave_two)
    assert result.image.shape == (1, 3, 32, 32) and torch.equal(result.scores, torch.tensor([7.0]))
    assert result.steps_done == 4 and result.diverged.startswith("the dream diverged at step 5 ")
    assert "The last finite image (step 4) was kept." in result.diverged
    assert [tuple(frame.shape) for frame in result.frames] == [(1, 3, 32, 32)] * 3  # the second's start is not again


def test_resize_interpolates_between_pixel_centres_and_keeps_a_lone_pixels_light_when_shrinking():
    from dreamengine_builtins.octaves import resize

    two = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    torch.testing.assert_close(resize(two, (2, 4))[0, 0, 0], torch.tensor([0.0, 0.25, 0.75, 1.0]))
    lone = torch.zeros(1, 1, 8, 8)
    lone[..., 0, 0] = 1
    assert resize(lone, (2, 2))[0, 0, 0, 0] > 0.02  # antialiased: every pixel counts, not only those sampled


class HalfSquare(nn.Module):
    """Logits of half the sum of the squared pixels: their gradient with respect to each pixel is the pixel."""

    num_classes = 2

    def forward(self, image):
        half = image.square().flatten(1).sum(1) / 2
        return torch.stack([half, half], 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_tiled_step_gives_every_pixel_its_own_gradient_and_the_mean_objective_over_the_tiles(seed):
    """Tiles of 16x12 (the model's input) over 32x24: the shift and its undoing must put each gradient back."""
    from dreamengine_builtins.tiling import TiledLoop

    model = DreamModel(HalfSquare(), name="square", mean=(0, 0, 0), std=(1, 1, 1), input_size=(16, 12)).freeze()
    tiled = dataclasses.replace(job(model, size=(32, 24), batch=2), generator=torch.Generator().manual_seed(seed))
    image = torch.rand((2, 3, 32, 24), generator=torch.Generator().manual_seed(seed)).requires_grad_(True)
    total = TiledLoop(tiled).climb(image, {})
    torch.testing.assert_close(image.grad, -image.detach())  # the loss is minus the objective
    torch.testing.assert_close(total, image.detach().square().flatten(1).sum(1) / 2 / 4)


def test_a_tile_size_may_be_as_small_as_8_and_is_the_size_of_every_forward():
    from dreamengine_builtins.objectives import Layer

    counter = CountGraph()
    layered = dataclasses.replace(job(size=(20, 20), steps=1, regularizers=[counter]), objective=Layer("relu2"))
    result = Tile(size=8).run(layered, run_job)
    assert counter.largest == 3 * 8 * 8 and torch.isfinite(result.scores).all()
    with pytest.raises(ValueError, match="size must be at least 8, got 7"):
        Tile(size=7)


def test_the_default_zoom_is_30_frames_each_5_percent_closer_and_one_frame_is_one_dream():
    assert Zoom().total_steps(2) == 60
    (a, b, _), (d, e, _) = Zoom().closer(10, 10)
    assert (a, b, d, e) == (pytest.approx(1 / 1.05), 0, 0, pytest.approx(1 / 1.05))
    result = Zoom(frames=1).run(job(steps=2), run_job)
    assert result.steps_done == 2 and len(result.frames) == 2  # the start and the one dream


def test_a_zoom_that_diverges_keeps_the_last_frames_image_scores_and_frames():
    def diverges_in_frame_two(inner):
        if inner.image.max() > 0.5:
            return DreamResult(inner.image + 0.2, torch.tensor([7.0]), 1, [], "diverged")
        return DreamResult(inner.image + 0.1, torch.zeros(1), inner.steps)

    result = Zoom(frames=3, scale=1.0).run(job(steps=9), diverges_in_frame_two)
    torch.testing.assert_close(result.image, torch.full((1, 3, 16, 16), 0.8))
    assert torch.equal(result.scores, torch.tensor([7.0])) and len(result.frames) == 3  # start, frame 1, frame 2


def test_the_default_octaves_are_four_each_1_4_times_the_last_and_a_scale_of_one_is_allowed():
    sizes = []

    def record(inner):
        sizes.append(tuple(inner.image.shape[-2:]))
        return DreamResult(inner.image, torch.zeros(1), inner.steps)

    Octaves().run(job(size=(40, 40), steps=8), record)
    assert sizes == octave_sizes(40, 40, 4, 1.4)
    sizes.clear()
    Octaves(count=2, scale=1).run(job(size=(40, 40), steps=2), record)
    assert sizes == [(40, 40), (40, 40)]
