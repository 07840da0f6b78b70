"""Properties of every built-in regularizer, checked with hypothesis."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dreamengine import gaussian_blur
from dreamengine_builtins.projections import RGB_TO_YCC, Blur, ChromaBlur, Clamp
from dreamengine_builtins.transforms import Flip, Jitter


@st.composite
def images(draw, low=0.0, high=1.0):
    batch = draw(st.integers(1, 3))
    height = draw(st.integers(2, 24))
    width = draw(st.integers(2, 24))
    seed = draw(st.integers(0, 2**31 - 1))
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand((batch, 3, height, width), generator=generator)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


ALL = [Clamp(), Blur(), Blur(sigma=0.1, sigma_max=1.0), ChromaBlur(), ChromaBlur(sigma=3), Flip(), Jitter(pixels=3)]


def apply_all_phases(regularizer, image, generator):
    out = regularizer.transform(image, generator)
    return regularizer.project(out, generator)


@given(images(), st.integers(0, 1000))
def test_every_regularizer_keeps_shape_dtype_and_unit_range(image, seed):
    for regularizer in ALL:
        out = apply_all_phases(regularizer, image, gen(seed))
        assert out.shape == image.shape and out.dtype == image.dtype
        assert out.min() >= 0 and out.max() <= 1, regularizer


@given(images(), st.integers(0, 1000))
def test_every_regularizer_repeats_exactly_with_the_same_seed(image, seed):
    for make in (Clamp, Blur, lambda: Blur(sigma=0.1, sigma_max=1.0), ChromaBlur, Flip, lambda: Jitter(pixels=3)):
        first = apply_all_phases(make(), image, gen(seed))
        second = apply_all_phases(make(), image, gen(seed))
        assert torch.equal(first, second)


@given(images(low=-3, high=3), st.floats(-1, 0.5), st.floats(0.5, 2))
def test_clamp_bounds_and_keeps_values_inside(image, low, high):
    out = Clamp(low, high).project(image, gen())
    assert out.min() >= low and out.max() <= high
    inside = (image >= low) & (image <= high)
    assert torch.equal(out[inside], image[inside])


@given(images())
def test_flip_twice_is_the_identity(image):
    flip = Flip(p=1.0)
    assert torch.equal(flip.transform(flip.transform(image, gen()), gen()), image)
    assert torch.equal(flip.transform(image, gen()), image.flip(-1))


@given(images())
def test_flip_with_p_zero_never_flips(image):
    assert torch.equal(Flip(p=0.0).transform(image, gen()), image)


@given(st.floats(0, 1), st.floats(0.05, 3), st.integers(2, 20), st.integers(2, 20))
def test_blur_keeps_a_constant_image(value, sigma, height, width):
    image = torch.full((1, 3, height, width), value)
    assert torch.equal(gaussian_blur(image, sigma), image)


@given(st.floats(0, 1), st.floats(0.05, 3), images())
def test_blur_treats_each_batch_item_alone(value, sigma, others):
    """A constant item stays constant beside any other: batched dreams do not leak into each other."""
    constant = torch.full((1, 3, *others.shape[-2:]), value)
    out = gaussian_blur(torch.cat((constant, others)), sigma)
    assert torch.equal(out[:1], constant)
    assert torch.equal(out[1:], gaussian_blur(others, sigma))


@given(images(low=-2, high=2), st.floats(0.05, 3))
def test_blur_stays_within_the_input_range_and_smooths(image, sigma):
    out = gaussian_blur(image, sigma)
    assert out.min() >= image.min() and out.max() <= image.max()
    assert out.var() <= image.var() + 1e-6


def ycc(image):
    return torch.einsum("dc,bchw->bdhw", RGB_TO_YCC, image)


@given(images(), st.floats(0.05, 3))
def test_chromablur_leaves_a_gray_picture_as_it_is(image, sigma):
    gray = image[:, :1].expand_as(image)  # any detail in brightness, no colour
    assert torch.allclose(ChromaBlur(sigma).project(gray, gen()), gray, atol=1e-6)


@given(images(low=0.4, high=0.6), st.floats(0.05, 3))
def test_chromablur_keeps_the_brightness_and_smooths_the_colour(image, sigma):
    """Inside [0.4, 0.6] no colour leaves the RGB cube (nothing is clipped), so the luma is kept exactly."""
    out = ChromaBlur(sigma).project(image, gen())
    assert torch.allclose(ycc(out)[:, 0], ycc(image)[:, 0], atol=1e-6)
    assert torch.allclose(ycc(out)[:, 1:], gaussian_blur(ycc(image)[:, 1:], sigma), atol=1e-6)


def test_chromablur_takes_the_speckle_out_of_the_colour():
    image = torch.rand(1, 3, 32, 32, generator=gen(3))
    out = ChromaBlur(sigma=1.0).project(image, gen())
    assert ycc(out)[:, 1:].var() < ycc(image)[:, 1:].var() / 4
    assert ycc(out)[:, 0].var() > ycc(image)[:, 0].var() / 2  # the brightness's detail stays


def test_chromablur_every_k_steps():
    image = torch.rand(1, 3, 8, 8, generator=gen(2))
    chroma = ChromaBlur(sigma=1.0, every=2)
    assert torch.equal(chroma.project(image, gen()), image)
    assert not torch.equal(chroma.project(image, gen()), image)


def test_blur_sigma_range_is_drawn_per_step():
    image = torch.rand(1, 3, 16, 16, generator=gen(1))
    blur = Blur(sigma=0.1, sigma_max=1.0)
    outs = [blur.project(image, generator) for generator in (gen(1), gen(2), gen(3))]
    assert not torch.equal(outs[0], outs[1]) or not torch.equal(outs[1], outs[2])


@given(images(), st.floats(0.2, 2.0), st.integers(0, 1000))
def test_blur_draws_sigma_within_its_range_so_a_range_of_one_value_is_a_fixed_blur(image, sigma, seed):
    expected = gaussian_blur(image, sigma)
    torch.testing.assert_close(Blur(sigma=sigma, sigma_max=sigma).project(image, gen(seed)), expected)


def test_blur_every_k_steps():
    image = torch.rand(1, 3, 8, 8, generator=gen())
    blur = Blur(sigma=1.0, every=2)
    assert torch.equal(blur.project(image, gen()), image)
    assert not torch.equal(blur.project(image, gen()), image)


@given(images(), st.integers(0, 6), st.integers(0, 1000))
def test_jitter_keeps_the_pixels(image, pixels, seed):
    out = Jitter(pixels=pixels).transform(image, gen(seed))
    assert torch.equal(out.flatten(1).sort(dim=1).values, image.flatten(1).sort(dim=1).values)


def test_jitter_shift_is_undone_for_the_stored_image():
    # The shift is inside the graph: the gradient lands on the unshifted pixels.
    image = torch.zeros(1, 3, 8, 8, requires_grad=True)
    weights = torch.zeros(1, 3, 8, 8)
    weights[..., 0, 0] = 1
    (Jitter(pixels=3).transform(image, gen(5)) * weights).sum().backward()
    dy, dx = torch.randint(-3, 4, (2,), generator=gen(5)).tolist()
    expected = torch.roll(weights, shifts=(-dy, -dx), dims=(-2, -1))
    assert torch.equal(image.grad, expected)


def test_invalid_options_are_refused():
    for make in (
        lambda: Clamp(1, 0),
        lambda: Blur(sigma=-1),
        lambda: Blur(0.5, 0.1),
        lambda: ChromaBlur(sigma=-1),
        lambda: ChromaBlur(every=0),
        lambda: Flip(p=2),
        lambda: Jitter(pixels=-1),
    ):
        try:
            make()
        except ValueError:
            continue
        raise AssertionError("accepted an invalid option")


def test_chromablur_blurs_by_one_pixel_by_default_sigma_zero_is_none_and_refusals_are_in_words():
    image = torch.rand(1, 3, 8, 8, generator=gen(4))
    assert torch.equal(ChromaBlur().project(image, gen()), ChromaBlur(sigma=1.0).project(image, gen()))
    assert torch.equal(ChromaBlur(sigma=0).project(image, gen()), image)
    with pytest.raises(ValueError, match=r"^sigma must be at least 0, got -1$"):
        ChromaBlur(sigma=-1)
    with pytest.raises(ValueError, match=r"^every must be at least 1, got 0$"):
        ChromaBlur(every=0)


@given(images(), st.integers(0, 1000))
def test_a_blur_range_draws_its_sigma_uniformly_from_the_generator(image, seed):
    draw = torch.rand((), generator=gen(seed)).item()
    expected = gaussian_blur(image, 0.1 + (1.0 - 0.1) * draw)
    assert torch.equal(Blur(sigma=0.1, sigma_max=1.0).project(image, gen(seed)), expected)


@given(images(), st.integers(0, 1000))
def test_a_jitter_of_one_pixel_shifts_by_at_most_one_drawn_from_the_generator(image, seed):
    dy, dx = torch.randint(-1, 2, (2,), generator=gen(seed)).tolist()
    assert torch.equal(Jitter(pixels=1).transform(image, gen(seed)), torch.roll(image, (dy, dx), dims=(-2, -1)))


def test_refusals_say_what_was_wrong_word_for_word():
    from dreamengine_builtins.octaves import Octaves
    from dreamengine_builtins.parametrizations import Fourier

    for make, message in (
        (lambda: Clamp(1, 0), r"^min \(1\) is above max \(0\)$"),
        (lambda: Blur(0.5, 0.1), r"^need 0 <= sigma <= sigma_max, got sigma=0.5, sigma_max=0.1$"),
        (lambda: Blur(every=0), r"^every must be at least 1, got 0$"),
        (lambda: Flip(p=2), r"^p must be in \[0, 1\], got 2$"),
        (lambda: Jitter(pixels=-1), r"^pixels must be >= 0, got -1$"),
        (lambda: Fourier(decay=-1), r"^decay must be >= 0, got -1$"),
        (lambda: Octaves(scale=0.5), r"^scale must be at least 1, got 0.5$"),
    ):
        with pytest.raises(ValueError, match=message):
            make()


def test_the_default_blur_and_jitter_and_a_blur_of_sigma_zero():
    image = torch.rand(1, 3, 24, 24, generator=gen(5))
    assert torch.equal(Blur().project(image, gen()), gaussian_blur(image, 0.5))
    assert torch.equal(Blur(sigma=0).project(image, gen()), image)
    dy, dx = torch.randint(-8, 9, (2,), generator=gen(7)).tolist()
    assert torch.equal(Jitter().transform(image, gen(7)), torch.roll(image, (dy, dx), dims=(-2, -1)))
