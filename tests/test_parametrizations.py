"""Image parametrizations: they render what they were assigned, and the loop can optimise them."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dreamengine import DreamJob
from dreamengine.engine.loop import run_job
from dreamengine_builtins.objectives import Logit
from dreamengine_builtins.parametrizations import Fourier, Pixel
from dreamengine_builtins.projections import Blur, Clamp
from dreamengine_builtins.transforms import Jitter


@given(st.integers(2, 20), st.integers(2, 20), st.integers(0, 1000), st.booleans(), st.floats(0, 2))
def test_fourier_renders_the_image_it_starts_from(height, width, seed, decorrelate, decay):
    image = 0.05 + 0.9 * torch.rand((2, 3, height, width), generator=torch.Generator().manual_seed(seed))
    param = Fourier(decay=decay, decorrelate=decorrelate)
    (spectrum,) = param.setup(image)
    assert spectrum.requires_grad
    rendered = param.image()
    assert rendered.shape == image.shape and torch.allclose(rendered, image, atol=1e-3)


def test_pixel_is_the_image_itself():
    image = torch.rand(1, 3, 5, 5)
    param = Pixel()
    (pixels,) = param.setup(image)
    assert param.image() is pixels and torch.equal(pixels, image)
    with torch.no_grad():
        param.assign(torch.zeros_like(image))
    assert param.image().abs().sum() == 0


def test_the_loop_optimises_a_fourier_image_within_range_and_repeatably(tiny_model):
    def run(seed):
        job = DreamJob(
            model=tiny_model,
            objective=Logit(),
            regularizers=[Jitter(2), Blur(0.5), Clamp()],
            image=torch.full((1, 3, 16, 16), 0.5),
            targets=torch.tensor([1]),
            steps=15,
            lr=0.05,
            optimizer="adam",
            generator=torch.Generator().manual_seed(seed),
            parametrization=Fourier(),
        )
        return job, run_job(job)

    job, result = run(0)
    with torch.no_grad():
        assert tiny_model(result.image)[0, 1] > tiny_model(job.image)[0, 1]
    assert 0 < result.image.min() and result.image.max() < 1
    assert torch.equal(result.image, run(0)[1].image)


@given(st.integers(2, 12), st.integers(2, 12), st.integers(0, 1000), st.booleans(), st.floats(0, 2))
def test_the_image_after_assign_backpropagates_exactly_as_a_fresh_render(height, width, seed, decorrelate, decay):
    generator = torch.Generator().manual_seed(seed)
    image = 0.05 + 0.9 * torch.rand((2, 3, height, width), generator=generator)
    grad = torch.randn((2, 3, height, width), generator=generator)
    param = Fourier(decay=decay, decorrelate=decorrelate)
    (spectrum,) = param.setup(image)
    assigned = param.image()  # just assigned: the known image, no render
    assert assigned.grad_fn is not None and "Assigned" in type(assigned.grad_fn).__name__
    assigned.backward(grad)
    from_assign, spectrum.grad = spectrum.grad, None
    rendered = param.image()  # only the first call after assign skips the render
    assert "Sigmoid" in type(rendered.grad_fn).__name__
    torch.testing.assert_close(assigned, rendered, atol=1e-5, rtol=0)
    rendered.backward(grad)
    torch.testing.assert_close(from_assign, spectrum.grad, atol=1e-5, rtol=1e-4)


def test_a_spectrum_changed_after_assign_is_rendered_again():
    param = Fourier()
    (spectrum,) = param.setup(torch.full((1, 3, 8, 8), 0.5))
    with torch.no_grad():
        spectrum[0, 0, 0, 0, 0] += 4.0  # brighter
    assert param.image().mean() > 0.51


def test_a_fused_optimizer_step_after_assign_is_seen_by_the_next_step():
    """A fused Adam step changes the spectrum without bumping its version: the cached image must not outlive it."""
    param = Fourier()
    (spectrum,) = param.setup(torch.full((1, 3, 8, 8), 0.5))
    optimizer = torch.optim.Adam([spectrum], lr=0.5, fused=True)
    before = param.image()
    (-before.mean()).backward()
    optimizer.step()
    assert param.image().mean() > before.mean() + 0.01


@pytest.mark.parametrize("decorrelate", [False, True])
def test_decorrelated_colour_mixes_the_channels_and_plain_colour_keeps_them_apart(decorrelate):
    fourier = Fourier(decorrelate=decorrelate)
    (spectrum,) = fourier.setup(torch.rand((1, 3, 6, 8), generator=torch.Generator().manual_seed(0)))
    fourier.image()[:, 0].sum().backward()  # a loss on the red channel alone
    reached = spectrum.grad.abs().flatten(2).sum(2)[0]  # how much of the gradient each channel's spectrum got
    assert reached[0] > 0 and (reached[1:] > 0).all() == decorrelate


def test_the_default_fourier_decay_is_one_with_decorrelated_colour():
    grads = []
    for fourier in (Fourier(), Fourier(decay=1.0, decorrelate=True)):
        (spectrum,) = fourier.setup(torch.rand((1, 3, 6, 8), generator=torch.Generator().manual_seed(0)))
        fourier.image().square().sum().backward()
        grads.append(spectrum.grad)
    assert torch.equal(*grads)
