"""The built-in initializers' pictures: gray, a colour gradient along an angle, seeded noise."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dreamengine_builtins.initializers import Gradient, Gray, Noise


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rgb(text: str) -> torch.Tensor:
    """``#rrggbb`` as a ``(3, 1, 1)`` colour in [0, 1]."""
    return torch.tensor([int(text[i : i + 2], 16) for i in (1, 3, 5)], dtype=torch.float32).view(3, 1, 1) / 255


sizes = st.tuples(st.integers(1, 3), st.integers(2, 12), st.integers(2, 12))


@given(sizes)
def test_a_gradient_runs_from_its_start_colour_to_its_end_colour_along_its_angle(size):
    batch, height, width = size
    start, end = rgb("#102030"), rgb("#f0e0d0")
    across = torch.linspace(0, 1, width).view(1, -1)  # 0 at the left, 1 at the right
    down = torch.linspace(0, 1, height).view(-1, 1)  # 0 at the top, 1 at the bottom
    for angle, position in ((0, across), (90, down), (180, 1 - across), (270, 1 - down), (45, (across + down) / 2)):
        image = Gradient("#102030", "#f0e0d0", angle=angle)(batch, height, width, gen())
        expected = (start + (end - start) * position).expand(batch, 3, height, width)
        torch.testing.assert_close(image, expected, atol=1e-5, rtol=0, msg=f"angle {angle}")


def test_the_default_gradient_runs_from_deep_blue_on_the_left_to_gold_on_the_right():
    image = Gradient()(1, 4, 6, gen())
    torch.testing.assert_close(image[0, :, :, :1], rgb("#1a2a6c").expand(3, 4, 1))
    torch.testing.assert_close(image[0, :, :, -1:], rgb("#fdbb2d").expand(3, 4, 1))


def test_a_gradient_one_pixel_across_its_direction_is_its_start_colour():
    """Along a line no wider than a pixel there is no distance to spread the colours over: the start colour."""
    image = Gradient("#102030", "#f0e0d0")(2, 5, 1, gen())
    torch.testing.assert_close(image, rgb("#102030").expand(2, 3, 5, 1))


def test_gradient_colours_are_names_or_hex_and_a_hex_alpha_is_dropped():
    image = Gradient("red", "#0000ff80")(1, 1, 2, gen())
    torch.testing.assert_close(image[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(image[0, :, 0, 1], torch.tensor([0.0, 0.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"^'nocolour' is not a colour \(use a name like 'pink' or hex like '#ff8800'\)$"
    ):
        Gradient(end="nocolour")


def test_every_item_of_a_start_is_its_own_picture():
    """The items share no memory: a dream that writes one in place leaves the others as they were."""
    for initializer in (Gray(), Gradient(), Noise()):
        image = initializer(2, 4, 4, gen())
        before = image.clone()
        image[0] += 0.25
        assert torch.equal(image[1], before[1])


@given(st.integers(0, 1000), st.floats(0, 1), st.floats(0, 3))
def test_noise_is_the_mean_plus_std_times_the_generators_normal_draws_clipped_to_the_unit_range(seed, mean, std):
    expected = (mean + std * torch.randn((2, 3, 5, 7), generator=gen(seed))).clamp(0, 1)
    assert torch.equal(Noise(mean, std)(2, 5, 7, gen(seed)), expected)


def test_the_default_noise_is_mid_gray_with_a_tenth_of_std_and_wide_noise_is_clipped():
    expected = (0.5 + 0.1 * torch.randn((1, 3, 8, 8), generator=gen(3))).clamp(0, 1)
    assert torch.equal(Noise()(1, 8, 8, gen(3)), expected)
    wide = Noise(0.5, 2.0)(1, 16, 16, gen())
    assert wide.min() == 0 and wide.max() == 1  # clipped on both sides
    assert torch.equal(Noise(0.25, 0)(1, 2, 2, gen()), torch.full((1, 3, 2, 2), 0.25))  # no noise: the mean


def test_a_negative_noise_std_is_refused_in_words():
    with pytest.raises(ValueError, match=r"^std must be >= 0, got -0.1$"):
        Noise(std=-0.1)


def test_gray_is_its_value_over_255_mid_gray_by_default_from_black_to_white():
    assert torch.equal(Gray()(1, 2, 3, gen()), torch.full((1, 3, 2, 3), 128 / 255))
    assert torch.equal(Gray(0)(1, 1, 1, gen()), torch.zeros(1, 3, 1, 1))
    assert torch.equal(Gray(255)(1, 1, 1, gen()), torch.ones(1, 3, 1, 1))
    with pytest.raises(ValueError, match=r"^value must be in 0..255, got 256$"):
        Gray(256)


def test_a_negative_photo_blur_is_refused_in_words():
    from dreamengine_builtins.initializers import Photo

    with pytest.raises(ValueError, match=r"^blur must be >= 0, got -1$"):
        Photo("any.png", blur=-1)


def test_a_gradient_one_pixel_wide_at_an_angle_still_runs_from_start_to_end():
    image = Gradient("#102030", "#f0e0d0", angle=30)(1, 5, 1, gen())
    torch.testing.assert_close(image[0, :, :1, 0], rgb("#102030")[:, :, 0])
    torch.testing.assert_close(image[0, :, -1:, 0], rgb("#f0e0d0")[:, :, 0])
