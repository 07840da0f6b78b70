"""The ``crops`` strategy: a canvas larger than the network's input, dreamt through random crops at its input size."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamengine import DreamJob
from dreamengine.run.execute import run_through_hooks
from dreamengine.testing import plugin_host
from dreamengine.testing.models import tiny_model as make_tiny_model
from dreamengine_builtins.crops import CroppedLoop, Crops
from dreamengine_builtins.objectives import Logit
from dreamengine_builtins.parametrizations import Maco
from dreamengine_builtins.transforms import Jitter

MODEL = make_tiny_model()  # its input is 16 x 16; only read


def _job(model, size=64, seed=0, steps=6, **kwargs):
    return DreamJob(
        model=model,
        objective=Logit(),
        regularizers=[Jitter(1)],
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
