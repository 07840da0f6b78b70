"""Properties of the tv and affine regularizers, checked with hypothesis."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamengine import compose_transforms, resample
from dreamengine.warping import compose
from dreamengine_extras.regularizers import RandomAffine, TotalVariation, rotate_scale, total_variation

settings.register_profile("extras", max_examples=40, deadline=None)
settings.load_profile("extras")


@st.composite
def images(draw, low=0.0, high=1.0, min_side=1):
    shape = (draw(st.integers(1, 3)), 3, draw(st.integers(min_side, 20)), draw(st.integers(min_side, 20)))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return low + (high - low) * torch.rand(shape, generator=generator)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@given(images(), st.booleans())
def test_tv_is_a_finite_per_item_value_within_its_bounds(image, squared):
    tv = total_variation(image, squared=squared)
    assert tv.shape == (image.shape[0],)
    assert torch.isfinite(tv).all() and (tv >= 0).all() and (tv <= 2).all()


@given(st.floats(0, 1), st.integers(1, 20), st.integers(1, 20))
def test_tv_of_a_constant_image_is_zero(value, height, width):
    assert torch.equal(total_variation(torch.full((2, 3, height, width), value)), torch.zeros(2))


@given(images(min_side=2))
def test_tv_is_blind_to_brightness_and_mirroring(image):
    tv = total_variation(image)
    torch.testing.assert_close(total_variation(image + 0.25), tv)
    torch.testing.assert_close(total_variation(image.flip(-1)), tv)


def test_tv_penalises_noise_more_than_a_smooth_ramp():
    ramp = torch.linspace(0, 1, 16).expand(1, 3, 16, 16)
    noise = torch.rand(1, 3, 16, 16, generator=gen())
    assert total_variation(noise) > 5 * total_variation(ramp)


@given(images(min_side=2), st.floats(0, 100))
def test_tv_penalty_is_the_weighted_tv_and_its_gradient_smooths(image, weight):
    regularizer = TotalVariation(weight=weight)
    torch.testing.assert_close(regularizer.penalty(image), weight * total_variation(image))
    image = image.clone().requires_grad_(True)
    TotalVariation(weight=1.0).penalty(image).sum().backward()
    smoothed = (image - 0.01 * image.grad.sign()).detach()
    assert (total_variation(smoothed) <= total_variation(image.detach()) + 1e-6).all()


@given(images(), st.floats(0, 180), st.floats(0, 0.9), st.integers(0, 1000))
def test_affine_keeps_shape_and_the_input_range(image, degrees, scale, seed):
    out = RandomAffine(degrees=degrees, scale=scale).transform(image, gen(seed))
    assert out.shape == image.shape and out.dtype == image.dtype
    assert out.min() >= image.min() - 1e-5 and out.max() <= image.max() + 1e-5


@given(images(), st.floats(0, 180), st.floats(0, 0.9), st.integers(0, 1000))
def test_affine_repeats_exactly_with_the_same_seed(image, degrees, scale, seed):
    make = lambda: RandomAffine(degrees=degrees, scale=scale)  # noqa: E731
    assert torch.equal(make().transform(image, gen(seed)), make().transform(image, gen(seed)))


@given(images())
def test_affine_with_nothing_to_do_is_the_identity(image):
    assert torch.equal(RandomAffine(degrees=0, scale=0).transform(image, gen()), image)
    torch.testing.assert_close(rotate_scale(image, 0.0, 1.0), image)


@given(st.floats(0, 1), st.floats(0, 180), st.floats(0.5, 1.5), st.integers(1, 20), st.integers(1, 20))
def test_rotating_a_constant_image_changes_nothing(value, degrees, factor, height, width):
    image = torch.full((1, 3, height, width), value)
    torch.testing.assert_close(rotate_scale(image, degrees, factor), image)


def test_a_quarter_turn_of_a_square_image_turns_its_pixels():
    image = torch.rand(1, 3, 8, 8, generator=gen())
    torch.testing.assert_close(rotate_scale(image, 90.0, 1.0), image.rot90(1, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_affine_draws_a_new_angle_every_step():
    image = torch.rand(1, 3, 12, 12, generator=gen())
    affine, generator = RandomAffine(degrees=30, scale=0.2), gen(3)
    first, second = affine.transform(image, generator), affine.transform(image, generator)
    assert not torch.equal(first, second)


def test_affine_is_a_warp_that_the_engine_composes_with_its_neighbours():
    image = torch.rand(1, 3, 12, 16, generator=gen())
    first, second = RandomAffine(degrees=30, scale=0.2), RandomAffine(degrees=10, scale=0.1)
    assert first.warps() and first.phases() == {"transform"}
    draws = gen(4)
    warp = compose(first.warp(draws, 12, 16), second.warp(draws, 12, 16))
    # One resample through the composed map, drawn in the same order: not two resamples in a row.
    assert torch.equal(compose_transforms([first, second])(image, gen(4)), resample(image, warp))
    one_by_one = gen(4)
    twice = second.transform(first.transform(image, one_by_one), one_by_one)  # same draws, interpolated twice
    assert not torch.allclose(twice, resample(image, warp))


def test_affine_is_differentiable():
    image = torch.rand(1, 3, 10, 14, generator=gen()).requires_grad_(True)
    RandomAffine(degrees=20).transform(image, gen(1)).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: TotalVariation(weight=-1),
        lambda: TotalVariation(weight=float("inf")),
        lambda: RandomAffine(degrees=-1),
        lambda: RandomAffine(degrees=181),
        lambda: RandomAffine(scale=1.0),
    ],
)
def test_invalid_options_are_refused(make):
    with pytest.raises(ValueError):
        make()
