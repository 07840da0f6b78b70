"""The ``maco`` parametrization: only the phase moves, the magnitude stays the shipped natural spectrum, and the
spectrum can be made again from the photographs it was made from."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamengine import DreamJob
from dreamengine.analysis.image_stats import sharpness
from dreamengine.engine.loop import run_job
from dreamengine_builtins.objectives import Logit
from dreamengine_builtins.parametrizations import SPECTRUM, Fourier, Maco, natural_magnitude
from dreamengine_builtins.transforms import Jitter

ROOT = Path(__file__).resolve().parent.parent


def _spectrum_before_sigmoid(param: Maco, image: torch.Tensor, columns: slice) -> torch.Tensor:
    """The magnitude of the decorrelated picture behind ``image`` (what maco keeps fixed) in ``columns``, each
    picture's of mean 1."""
    logits = torch.logit(image.clamp(1e-6, 1 - 1e-6))
    spatial = (param._uncolour @ logits.flatten(2)).view_as(logits)
    magnitude = torch.fft.rfft2(spatial, norm="ortho").abs()
    magnitude = magnitude[..., columns]
    return magnitude / magnitude.mean(dim=(1, 2, 3), keepdim=True)


def test_the_shipped_spectrum_is_what_the_script_makes(tmp_path):
    pytest.importorskip("skimage.data", reason="scikit-image (a test extra) holds the photographs")
    script = runpy.run_path(str(ROOT / "examples" / "natural_spectrum.py"))
    made = script["magnitude"](script["photographs"]())
    shipped = np.load(SPECTRUM)
    assert shipped.shape == (3, script["SIZE"], script["SIZE"] // 2 + 1) == tuple(made.shape)
    np.testing.assert_allclose(shipped, made.numpy(), rtol=1e-4, atol=1e-6)


def test_the_natural_spectrum_falls_with_frequency_as_photographs_do():
    magnitude = natural_magnitude(64, 64)
    assert magnitude.shape == (3, 64, 33)
    assert magnitude.mean().item() == pytest.approx(1.0, rel=1e-5)
    low, middle, high = magnitude[:, 1, 1].mean(), magnitude[:, 8, 8].mean(), magnitude[:, 30, 30].mean()
    assert low > 3 * middle > 9 * high  # about 1/f: photographs have far more coarse structure than fine


@settings(max_examples=20, deadline=None)
@given(st.integers(4, 24), st.integers(4, 24), st.integers(0, 1000))
def test_a_step_moves_the_phase_and_keeps_the_magnitude(height, width, seed):
    generator = torch.Generator().manual_seed(seed)
    param = Maco()
    (phase,) = param.setup(torch.rand((2, 3, height, width), generator=generator))
    before = param.image()
    assert before.shape == (2, 3, height, width) and 0 < before.min() and before.max() < 1
    before.mul(torch.randn(before.shape, generator=generator)).sum().backward()
    with torch.no_grad():
        phase -= 0.1 * phase.grad
    after = param.image().detach()
    assert not torch.allclose(after, before)
    # columns 0 and (even widths) width / 2 hold frequencies paired within the column, whose phases the inverse
    # transform makes agree; the others are free
    free = slice(1, (width + 1) // 2)
    torch.testing.assert_close(
        _spectrum_before_sigmoid(param, after, free),
        _spectrum_before_sigmoid(param, before.detach(), free),
        atol=2e-3,
        rtol=1e-2,
    )


def test_assign_keeps_the_phase_of_a_photograph_and_so_its_shapes():
    generator = torch.Generator().manual_seed(0)
    edge = torch.zeros(1, 3, 32, 32)
    edge[..., :, 16:] = 1  # a vertical edge: the picture after assign keeps it where it was
    param = Maco()
    param.setup(0.1 + 0.8 * edge + 0.01 * torch.rand(edge.shape, generator=generator))
    gray = param.image().detach().mean(dim=1)[0]
    assert gray[:, 18:30].mean() > gray[:, 2:14].mean() + 0.1


def test_a_flat_start_draws_the_same_random_phase_every_time():
    first, second = Maco(), Maco()
    first.setup(torch.full((2, 3, 16, 16), 0.5))
    second.setup(torch.full((2, 3, 16, 16), 0.5))
    image = first.image().detach()
    assert torch.equal(image, second.image().detach())
    assert image.std() > 0.05  # not flat: a random phase on the natural magnitude
    assert not torch.allclose(image[0], image[1])  # each item its own


def test_options_are_checked():
    with pytest.raises(ValueError, match="contrast"):
        Maco(contrast=0)
    with pytest.raises(ValueError, match="rate"):
        Maco(rate=-1)


def test_a_maco_dream_rises_repeats_and_is_sharper_than_a_fourier_one(tiny_model):
    def dream(param, seed=0):
        job = DreamJob(
            model=tiny_model,
            objective=Logit(),
            regularizers=[Jitter(2)],
            image=torch.full((1, 3, 48, 48), 0.5),
            targets=torch.tensor([1]),
            steps=20,
            lr=0.05,
            optimizer="adam",
            generator=torch.Generator().manual_seed(seed),
            parametrization=param,
        )
        return job, run_job(job)

    job, result = dream(Maco())
    with torch.no_grad():
        assert tiny_model(result.image)[0, 1] > tiny_model(_start_picture(job.image))[0, 1]
    assert torch.equal(result.image, dream(Maco())[1].image)
    fourier = dream(Fourier())[1].image
    as_array = [image[0].permute(1, 2, 0).numpy() for image in (result.image, fourier)]
    assert sharpness(as_array[0]) > 2 * sharpness(as_array[1])


def _start_picture(image: torch.Tensor) -> torch.Tensor:
    """What maco draws from ``image`` before any step."""
    param = Maco()
    param.setup(image)
    return param.image().detach()


def test_options_are_refused_word_for_word_and_small_ones_allowed():
    with pytest.raises(ValueError, match=r"^contrast must be > 0, got 0$"):
        Maco(contrast=0)
    with pytest.raises(ValueError, match=r"^rate must be > 0, got 0$"):
        Maco(rate=0)
    assert (Maco(contrast=0.5, rate=0.5).contrast, Maco(contrast=0.5, rate=0.5).rate) == (0.5, 0.5)


def test_the_render_is_horamas_each_picture_standardised_on_its_own():
    generator = torch.Generator().manual_seed(3)
    start = torch.rand((2, 3, 12, 10), generator=generator)
    start[1] = 0.5 + 0.01 * (start[1] - 0.5)  # a faint second picture: standardised on its own, as loud as the first
    param = Maco(contrast=1.5, rate=4.0)
    (phase,) = param.setup(start)
    spatial = torch.fft.irfft2(torch.polar(natural_magnitude(12, 10), phase.detach() * 4.0), s=(12, 10), norm="ortho")
    spatial = spatial - spatial.mean(dim=(1, 2, 3), keepdim=True)
    spatial = spatial / (spatial.std(dim=(1, 2, 3), keepdim=True) + 1e-4)
    expected = torch.sigmoid(1.5 * (param._colour @ spatial.flatten(2)).view_as(spatial))
    torch.testing.assert_close(param.image().detach(), expected, atol=1e-6, rtol=0)


def test_the_natural_magnitude_is_the_shipped_one_resized_with_antialiasing():
    shipped = torch.from_numpy(np.load(SPECTRUM))
    torch.testing.assert_close(natural_magnitude(256, 256), shipped / shipped.mean(), atol=0, rtol=0)
    torch.testing.assert_close(natural_magnitude(256, 257), shipped / shipped.mean(), atol=0, rtol=0)
    resized = torch.nn.functional.interpolate(shipped[None], size=(40, 21), mode="bilinear", antialias=True)[0]
    torch.testing.assert_close(natural_magnitude(40, 40), resized / resized.mean(), atol=1e-6, rtol=1e-5)


def test_assign_keeps_the_phase_of_every_frequency_of_the_image():
    generator = torch.Generator().manual_seed(5)
    image = 0.1 + 0.8 * torch.rand((2, 3, 10, 12), generator=generator)
    param = Maco(rate=3.0)
    param.setup(torch.full_like(image, 0.5))
    with torch.no_grad():
        param.assign(image)
    logits = torch.logit(image)
    spectrum = torch.fft.rfft2((param._uncolour @ logits.flatten(2)).view_as(logits))
    kept = torch.polar(torch.ones_like(param.phase), param.phase * 3.0)
    wanted = spectrum / spectrum.abs()
    wanted[..., 0, 0] = kept[..., 0, 0]  # the mean, which the render takes away: any phase
    torch.testing.assert_close(kept, wanted, atol=1e-4, rtol=0)


def test_assign_takes_pictures_with_pure_black_and_white():
    image = torch.zeros(1, 3, 8, 8)
    image[..., 4:] = 1.0
    param = Maco()
    param.setup(image)
    assert torch.isfinite(param.phase).all() and torch.isfinite(param.image()).all()


def test_a_flat_starts_phases_spread_over_the_whole_circle():
    param = Maco(rate=2.0)
    param.setup(torch.full((1, 3, 32, 32), 0.5))
    radians = param.phase.detach() * 2.0
    assert radians.min() >= -torch.pi and radians.max() <= torch.pi
    assert radians.min() < -3.0 and radians.max() > 3.0 and abs(radians.mean()) < 0.1


def test_a_faint_picture_keeps_its_phase_beside_a_loud_one():
    generator = torch.Generator().manual_seed(0)
    faint = torch.full((3, 32, 32), 0.5)
    faint[..., 16:] += 0.002  # a faint vertical edge
    loud = torch.rand((3, 32, 32), generator=generator)
    param = Maco()
    param.setup(torch.stack([faint, loud]))
    gray = param.image().detach()[0].mean(dim=0)
    assert gray[:, 18:30].mean() > gray[:, 2:14].mean() + 0.1


def test_the_defaults_are_contrast_2_and_10_radians_a_unit():
    assert (Maco().contrast, Maco().rate) == (2.0, 10.0)
