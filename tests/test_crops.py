"""The ``crops`` strategy: a canvas larger than the network's input, dreamt through random crops at its input size."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamengine import DreamJob, DreamOutputs
from dreamengine.run.execute import run_through_hooks
from dreamengine.testing import plugin_host
from dreamengine.testing.models import tiny_model as make_tiny_model
from dreamengine_builtins.crops import CroppedLoop, Crops
from dreamengine_builtins.objectives import Logit
from dreamengine_builtins.parametrizations import Maco
from dreamengine_builtins.transforms import Jitter

MODEL = make_tiny_model()  # its input is 16 x 16; only read


def _job(model, size=64, seed=0, steps=6, objective=None, regularizers=None, **kwargs):
    return DreamJob(
        model=model,
        objective=objective or Logit(),
        regularizers=[Jitter(1)] if regularizers is None else regularizers,
        image=torch.full((2, 3, size, size), 0.5),
        targets=torch.tensor([1, 2]),
        steps=steps,
        lr=0.05,
        optimizer="adam",
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(8, 80), st.integers(8, 80), st.floats(0.1, 3.0), st.integers(0, 1000))
def test_a_crop_lies_in_the_canvas_and_is_no_smaller_than_asked(height, width, smallest, seed):
    loop = CroppedLoop(_job(MODEL, seed=seed), smallest=smallest)  # the model's input: 16 x 16
    for _ in range(5):
        top, left, side = loop.crop(height, width)
        assert 0 <= top <= height - side and 0 <= left <= width - side
        assert min(height, width, round(smallest * 16)) <= side <= min(height, width)


def test_crops_reach_every_scale_from_the_input_size_to_the_whole_canvas(tiny_model):
    loop = CroppedLoop(_job(tiny_model), smallest=1.0)
    sides = [loop.crop(256, 256)[2] for _ in range(400)]
    assert min(sides) < 20 and max(sides) > 230  # 16 .. 256, log-uniform: as many below 64 as above
    assert 150 < sum(side < 64 for side in sides) < 250


def test_a_cropped_dream_rises_everywhere_and_repeats(tiny_model):
    with plugin_host() as host:
        job = _job(tiny_model, steps=12, strategies=[Crops(count=3)], parametrization=Maco())
        result = run_through_hooks(host, job)
        again = run_through_hooks(host, _job(tiny_model, steps=12, strategies=[Crops(count=3)], parametrization=Maco()))
    assert result.image.shape == (2, 3, 64, 64) and result.steps_done == 12
    assert torch.equal(result.image, again.image)
    with torch.no_grad():
        start = Maco()
        start.setup(job.image)
        before = tiny_model(torch.nn.functional.interpolate(start.image(), size=16, antialias=True, mode="bilinear"))
        after = tiny_model(torch.nn.functional.interpolate(result.image, size=16, antialias=True, mode="bilinear"))
    assert (after[[0, 1], [1, 2]] > before[[0, 1], [1, 2]]).all()


def test_each_crop_is_shown_at_the_input_size_and_its_gradient_reaches_only_its_window(tiny_model):
    shapes = []
    model = tiny_model

    class Recording(CroppedLoop):
        def crop(self, height, width):
            self.window = super().crop(height, width)
            return self.window

    job = _job(model, size=48, steps=1)
    loop = Recording(job, count=1, smallest=0.5)
    original = model.forward
    model.forward = lambda image: shapes.append(tuple(image.shape[-2:])) or original(image)
    try:
        canvas = torch.full((2, 3, 48, 48), 0.5, requires_grad=True)
        with model.capture(job.objective.layers, stop_early=False) as activations:
            loop.climb(canvas * 1, activations)
    finally:
        del model.forward
    assert shapes == [(16, 16)]
    top, left, side = loop.window
    inside = torch.zeros(48, 48, dtype=torch.bool)
    inside[top : top + side, left : left + side] = True
    grad = canvas.grad.abs().sum(dim=(0, 1))
    assert grad[inside].sum() > 0 and grad[~inside].sum() == 0


def test_options_are_checked():
    with pytest.raises(ValueError, match="count"):
        Crops(count=0)
    with pytest.raises(ValueError, match="smallest"):
        Crops(smallest=0)
    assert Crops.bounds_memory


def test_options_are_refused_word_for_word_and_one_crop_is_enough():
    with pytest.raises(ValueError, match=r"^count must be at least 1, got 0$"):
        Crops(count=0)
    with pytest.raises(ValueError, match=r"^smallest must be > 0, got 0$"):
        Crops(smallest=0)
    assert Crops(count=1).count == 1


def test_the_strategy_hands_its_loop_the_count_and_the_smallest_crop():
    job = _job(MODEL)
    seen = []
    Crops(count=3, smallest=0.5).run(job, lambda inner: seen.append(inner.make_loop(inner)))
    (loop,) = seen
    assert isinstance(loop, CroppedLoop) and (loop.count, loop.smallest) == (3, 0.5)


def test_a_crop_may_be_a_single_pixel_when_asked():
    loop = CroppedLoop(_job(MODEL), smallest=0.01)  # 0.16 pixels: one
    assert min(loop.crop(8, 8)[2] for _ in range(200)) == 1


def test_a_step_is_the_mean_over_its_crops_each_an_antialiased_view_of_the_canvas():
    import dreamengine

    objective = dreamengine.objective("layer:relu2")  # reads the captured activations, not the logits
    objective.prepare(MODEL)
    job = _job(MODEL, size=40, seed=3, objective=objective, regularizers=[])
    windows = []

    class Recording(CroppedLoop):
        def crop(self, height, width):
            windows.append(super().crop(height, width))
            return windows[-1]

    loop = Recording(job, count=3, smallest=0.5)
    canvas = torch.rand((2, 3, 40, 40), generator=torch.Generator().manual_seed(1), requires_grad=True)
    with MODEL.capture(objective.layers, stop_early=True) as activations:
        score = loop.climb(canvas * 1, activations)
    expected_grad, scores = torch.zeros_like(canvas), []
    for top, left, side in windows:
        image = canvas.detach().clone().requires_grad_(True)
        window = image[..., top : top + side, left : left + side]
        view = torch.nn.functional.interpolate(window, size=(16, 16), mode="bilinear", antialias=True)
        with MODEL.capture(objective.layers, stop_early=True) as seen:
            value = objective(DreamOutputs(MODEL(view), job.targets, seen))
        (-value.sum()).backward()
        expected_grad += image.grad / 3
        scores.append(value.detach())
    torch.testing.assert_close(score, torch.stack(scores).mean(dim=0))
    torch.testing.assert_close(canvas.grad, expected_grad)


def test_the_defaults_are_four_crops_from_four_fifths_of_the_input_size():
    assert (Crops().count, Crops().smallest) == (4, 0.8)
    loop = CroppedLoop(_job(MODEL))
    assert (loop.count, loop.smallest) == (4, 0.8)
