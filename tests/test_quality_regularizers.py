"""Properties of the roll, scale, rotate, tv, l2, gradnorm and gradblur regularizers, checked with hypothesis."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dreamengine import DreamError, DreamJob, Objective, gaussian_blur
from dreamengine.engine.loop import run_job
from dreamengine.testing import tiny_model
from dreamengine.warping import compose, resample, rotation, zoom
from dreamengine_builtins.gradients import GradBlur, GradNorm, normalise_gradient
from dreamengine_builtins.penalties import L2, TotalVariation, l2_norm, total_variation
from dreamengine_builtins.transforms import Roll, Rotate, Scale


@st.composite
def images(draw, low=0.0, high=1.0):
    shape = (draw(st.integers(1, 3)), 3, draw(st.integers(2, 24)), draw(st.integers(2, 24)))
    return low + (high - low) * torch.rand(shape, generator=gen(draw(st.integers(0, 2**31 - 1))))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@given(images(), st.integers(0, 1000))
def test_roll_is_a_circular_shift_that_keeps_every_pixel(image, seed):
    out = Roll().transform(image, gen(seed))
    assert out.shape == image.shape
    assert torch.equal(out.flatten(2).sort(-1).values, image.flatten(2).sort(-1).values)


@given(images(), st.integers(0, 1000), st.integers(0, 3))
def test_capped_roll_is_one_of_the_allowed_shifts(image, seed, pixels):
    out = Roll(pixels=pixels).transform(image, gen(seed))
    shifts = [(dy, dx) for dy in range(-pixels, pixels + 1) for dx in range(-pixels, pixels + 1)]
    assert any(torch.equal(out, torch.roll(image, s, dims=(-2, -1))) for s in shifts)


@given(st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_capped_roll_draws_shifts_of_both_signs_on_each_axis(pixels, seed):
    """64 draws on a 16x16 image: a roll capped at ``pixels`` shifts both ways, not only down and right."""
    image = torch.arange(16 * 16, dtype=torch.float32).view(1, 1, 16, 16)
    generator, shifts = gen(seed), []
    for _ in range(64):
        y, x = (Roll(pixels=pixels).transform(image, generator)[0, 0] == 0).nonzero()[0].tolist()
        shifts.append((y if y < 8 else y - 16, x if x < 8 else x - 16))  # where pixel (0, 0) went
    for axis in (0, 1):
        drawn = [shift[axis] for shift in shifts]
        assert min(drawn) < 0 < max(drawn) and max(map(abs, drawn)) <= pixels


@given(images(), st.integers(0, 1000))
def test_scale_and_rotate_keep_the_frame_and_the_range(image, seed):
    for transform in (Scale(0.5, 2.0), Rotate(180.0)):
        out = transform.transform(image, gen(seed))
        assert out.shape == image.shape
        assert out.min() >= image.min() - 1e-5 and out.max() <= image.max() + 1e-5


@given(st.floats(0, 1), st.floats(-180, 180), st.floats(0.5, 2))
def test_scale_and_rotate_leave_a_constant_image_constant(value, degrees, factor):
    image = torch.full((1, 3, 9, 13), value)
    torch.testing.assert_close(resample(image, compose(rotation(degrees, 9, 13), zoom(factor))), image)


def drawn_angles(rotate: Rotate, seed: int, count: int = 64) -> list[float]:
    """The angles, in degrees, of ``count`` warps ``rotate`` draws for a square image from one seeded generator."""
    generator = gen(seed)
    warps = [rotate.warp(generator, 8, 8) for _ in range(count)]
    return [math.degrees(math.atan2(warp[1][0], warp[0][0])) for warp in warps]


@given(st.floats(0.5, 179.0), st.integers(0, 2**31 - 1))
def test_rotate_draws_angles_of_both_signs_within_its_degrees(degrees, seed):
    """64 draws, uniform in [-degrees, degrees]: all of one sign has probability 2**-63."""
    angles = drawn_angles(Rotate(degrees), seed)
    assert all(abs(angle) <= degrees * (1 + 1e-9) for angle in angles)
    assert min(angles) < 0 < max(angles)
    assert max(angles) - min(angles) > degrees  # spread over the range, not bunched at one end


@given(st.floats(0.2, 1.0), st.floats(1.0, 3.0), st.integers(0, 2**31 - 1))
def test_scale_draws_factors_across_its_range(low, high, seed):
    generator = gen(seed)
    factors = [1 / Scale(low, high).warp(generator, 8, 8)[0][0] for _ in range(64)]
    assert all(low * (1 - 1e-9) <= factor <= high * (1 + 1e-9) for factor in factors)
    if high - low > 1e-3:
        middle = (low + high) / 2
        assert min(factors) < middle < max(factors)


def test_a_quarter_turn_of_a_square_image_is_rot90():
    image = torch.rand((1, 3, 8, 8), generator=gen())
    torch.testing.assert_close(resample(image, rotation(90.0, 8, 8)), image.rot90(1, dims=(-2, -1)), atol=1e-5, rtol=0)


@given(images(), st.floats(0, 100))
def test_penalties_are_non_negative_per_item_and_scale_with_weight(image, weight):
    for make in (TotalVariation, L2):
        unit, weighted = make(1.0).penalty(image), make(weight).penalty(image)
        assert unit.shape == (image.shape[0],) and (unit >= 0).all()
        torch.testing.assert_close(weighted, weight * unit)


@given(st.floats(0, 1), st.integers(1, 12), st.integers(1, 12))
def test_tv_of_a_constant_image_is_zero_and_l2_of_mid_gray_is_zero(value, height, width):
    image = torch.full((2, 3, height, width), value)
    assert torch.equal(total_variation(image), torch.zeros(2))
    assert L2(center=value).penalty(image).abs().max() < 1e-5


def test_tv_penalises_noise_more_than_a_smooth_ramp():
    ramp = torch.linspace(0, 1, 16).expand(1, 3, 16, 16)
    assert total_variation(torch.rand((1, 3, 16, 16), generator=gen())) > 5 * total_variation(ramp)


@given(images(low=-5, high=5))
def test_gradnorm_gives_each_item_unit_std_or_unit_mean_abs(grad):
    std = GradNorm("std").gradient(grad).flatten(1).std(1, correction=0)
    mean_abs = GradNorm("mean-abs").gradient(grad).flatten(1).abs().mean(1)
    nonzero = grad.flatten(1).std(1, correction=0) > 1e-3
    torch.testing.assert_close(std[nonzero], torch.ones_like(std[nonzero]))
    torch.testing.assert_close(mean_abs[nonzero], torch.ones_like(mean_abs[nonzero]))


@given(st.integers(1, 3), st.integers(1, 9))
def test_gradient_filters_keep_a_zero_gradient_zero_and_finite(batch, size):
    zero = torch.zeros((batch, 3, size, size))
    for regularizer in (GradNorm("std"), GradNorm("mean-abs"), GradBlur(1.0)):
        assert torch.equal(regularizer.gradient(zero), zero)


@given(images(low=-1, high=1), st.floats(0.1, 3))
def test_gradblur_keeps_the_shape_and_lowers_the_variation(grad, sigma):
    out = GradBlur(sigma).gradient(grad)
    assert out.shape == grad.shape
    assert (total_variation(out) <= total_variation(grad) + 1e-5).all()


def test_unknown_gradnorm_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of std, mean-abs"):
        GradNorm("max")


class _Recorder(GradNorm):
    def __init__(self):
        super().__init__("std")
        self.seen = []

    def gradient(self, grad):
        out = super().gradient(grad)
        self.seen.append(out.flatten(1).std(1, correction=0))
        return out


@pytest.mark.parametrize("param", [None, "fft"])
def test_the_engine_runs_the_gradient_phase_every_step_for_every_parametrization(param):
    from dreamengine_builtins.parametrizations import Fourier, Pixel

    recorder = _Recorder()
    job = DreamJob(
        model=tiny_model(),
        objective=_Logit(),
        regularizers=[recorder],
        image=torch.full((1, 3, 16, 16), 0.5),
        targets=torch.tensor([1]),
        steps=3,
        lr=0.05,
        optimizer="adam",
        generator=gen(),
        parametrization=Fourier() if param else Pixel(),
    )
    result = run_job(job)
    assert result.steps_done == 3 and len(recorder.seen) == 3
    torch.testing.assert_close(torch.stack(recorder.seen), torch.ones(3, 1))


def test_the_gradient_phase_changes_the_step():
    """With SGD the step is lr times the filtered gradient: normalised, the largest change is predictable."""

    def step(regularizers):
        job = DreamJob(
            model=tiny_model(),
            objective=_Logit(),
            regularizers=regularizers,
            image=torch.full((1, 3, 16, 16), 0.5),
            targets=torch.tensor([1]),
            steps=1,
            lr=0.01,
            optimizer="sgd",
            generator=gen(),
        )
        return run_job(job).image - 0.5

    plain, normalised = step([]), step([GradNorm("mean-abs")])
    torch.testing.assert_close(normalised.abs().mean(), torch.tensor(0.01))
    assert not torch.allclose(plain.abs().mean(), torch.tensor(0.01))


class _Logit(Objective):
    """The target logit."""

    def __call__(self, outputs):
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


def test_bad_options_are_one_line_errors():
    from dreamengine.options import parse_spec
    from dreamengine.testing import make_host

    with pytest.raises(DreamError, match="regularizer 'tv': weight must be"):
        make_host().registry.create("regularizers", parse_spec("tv:weight=-1"))


@given(images(), st.integers(0, 1000), st.integers(0, 40))
def test_roll_draws_each_shift_from_the_generator_up_to_its_cap_or_the_image_size(image, seed, pixels):
    """An uncapped roll draws each axis's shift in [-(size - 1), size - 1], a capped one in [-cap, cap] (the cap at
    most size - 1), both from the generator passed in: the same seed, the same shifts."""
    height, width = image.shape[-2:]
    for roll, (cap_y, cap_x) in (
        (Roll(), (height - 1, width - 1)),
        (Roll(pixels=pixels), (min(pixels, height - 1), min(pixels, width - 1))),
    ):
        expected_generator = gen(seed)
        dy = int(torch.randint(-cap_y, cap_y + 1, (), generator=expected_generator))
        dx = int(torch.randint(-cap_x, cap_x + 1, (), generator=expected_generator))
        assert torch.equal(roll.transform(image, gen(seed)), torch.roll(image, (dy, dx), dims=(-2, -1)))


def test_a_negative_roll_is_refused_in_words():
    with pytest.raises(ValueError, match="pixels must be >= 0, got -1"):
        Roll(pixels=-1)


def test_tv_is_the_mean_vertical_plus_the_mean_horizontal_difference_of_each_item_alone():
    stripes = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]).expand(1, 3, 2, 3)  # differs across, not down
    bands = stripes.transpose(-2, -1)  # differs down, not across
    channels = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4)  # each channel flat
    assert torch.equal(total_variation(stripes), torch.tensor([1.0]))
    assert torch.equal(total_variation(bands), torch.tensor([1.0]))
    assert torch.equal(total_variation(channels), torch.tensor([0.0]))  # a colour is no variation
    batch = torch.cat((torch.full((1, 3, 2, 3), 0.5), stripes))
    assert torch.equal(total_variation(batch), torch.tensor([0.0, 1.0]))  # each item its own
    assert torch.equal(TotalVariation().penalty(batch), total_variation(batch))  # weight 1 by default


@given(images())
def test_l2_measures_from_mid_gray_with_weight_one_by_default(image):
    expected = (image - 0.5).square().flatten(1).mean(1).add(1e-12).sqrt()
    torch.testing.assert_close(l2_norm(image), expected)
    torch.testing.assert_close(L2().penalty(image), expected)


@given(images(low=-5, high=5))
def test_gradnorm_and_normalise_gradient_divide_by_the_std_by_default(grad):
    expected = grad / grad.flatten(1).std(1, correction=0).clamp_min(1e-8).view(-1, 1, 1, 1)
    torch.testing.assert_close(normalise_gradient(grad), expected)
    torch.testing.assert_close(GradNorm().gradient(grad), expected)


@given(images(low=-1, high=1))
def test_gradblur_blurs_by_one_pixel_by_default_and_sigma_zero_leaves_the_gradient(grad):
    assert torch.equal(GradBlur().gradient(grad), gaussian_blur(grad, 1.0))
    assert torch.equal(GradBlur(0).gradient(grad), grad)


def test_a_negative_gradblur_is_refused_in_words():
    with pytest.raises(ValueError, match="sigma must be >= 0, got -0.5"):
        GradBlur(-0.5)


@given(st.integers(0, 2**31 - 1))
def test_the_default_scale_and_rotate_draw_within_10_percent_and_5_degrees(seed):
    generator = gen(seed)
    factors = [1 / Scale().warp(generator, 8, 8)[0][0] for _ in range(64)]
    assert all(0.9 * (1 - 1e-9) <= factor <= 1.1 * (1 + 1e-9) for factor in factors)
    assert max(factors) > 1.05 and min(factors) < 0.95
    angles = drawn_angles(Rotate(), seed)
    assert all(abs(angle) <= 5 * (1 + 1e-9) for angle in angles) and max(map(abs, angles)) > 4


def test_scale_and_rotate_bounds_and_refusals_in_words():
    assert torch.equal(Rotate(0).transform(torch.eye(4).expand(1, 3, 4, 4), gen()), torch.eye(4).expand(1, 3, 4, 4))
    Rotate(180)
    for make, message in (
        (lambda: Scale(0, 1), r"^need 0 < min <= max, got min=0, max=1$"),
        (lambda: Rotate(180.5), r"^degrees must be in \[0, 180\], got 180.5$"),
    ):
        with pytest.raises(ValueError, match=message):
            make()
