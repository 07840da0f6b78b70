"""The radial and checkerboard initializers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dreamengine_extras.colours import colour
from dreamengine_extras.initializers import Checkerboard, Radial

GEN = torch.Generator()


def test_radial_runs_from_inner_at_the_centre_to_outer_at_the_corners():
    image = Radial(inner="white", outer="#ff0000")(1, 9, 9, GEN)
    torch.testing.assert_close(image[0, :, 4, 4], torch.ones(3))
    for y, x in [(0, 0), (0, 8), (8, 0), (8, 8)]:
        torch.testing.assert_close(image[0, :, y, x], torch.tensor([1.0, 0.0, 0.0]))


@given(st.integers(1, 30), st.integers(1, 30), st.floats(0.1, 5))
def test_radial_is_symmetric_and_in_range(height, width, power):
    image = Radial(power=power)(2, height, width, GEN)
    assert image.shape == (2, 3, height, width) and image.dtype == torch.float32
    assert image.min() >= 0 and image.max() <= 1
    torch.testing.assert_close(image, image.flip(-1))
    torch.testing.assert_close(image, image.flip(-2))


def test_a_higher_power_widens_the_inner_colour():
    assert Radial(power=3.0)(1, 21, 21, GEN).mean() > Radial(power=1.0)(1, 21, 21, GEN).mean()


@given(st.integers(1, 8), st.integers(1, 30), st.integers(1, 30))
def test_checkerboard_alternates_every_size_pixels(size, height, width):
    image = Checkerboard(size=size, first="black", second="white")(1, height, width, GEN)[0, 0]
    for y in range(height):
        for x in range(width):
            assert image[y, x] == (y // size + x // size) % 2


def test_checkerboard_uses_its_colours():
    image = Checkerboard(size=2, first="blue", second="yellow")(1, 4, 4, GEN)
    torch.testing.assert_close(image[0, :, 0, 0], colour("blue"))
    torch.testing.assert_close(image[0, :, 0, 2], colour("yellow"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Radial(power=0),
        lambda: Radial(inner="not-a-colour"),
        lambda: Checkerboard(size=0),
        lambda: Checkerboard(second="#12"),
    ],
)
def test_invalid_options_are_refused(make):
    with pytest.raises(ValueError):
        make()
