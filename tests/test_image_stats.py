"""dreamengine.analysis.image_stats: colourfulness, contrast and sharpness on pictures whose values are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import data

from dreamengine.analysis.image_stats import SHARPNESS_SIZE, colourfulness, contrast, measure, sharpness

SIZE = SHARPNESS_SIZE  # no resampling: the Laplacian is exactly known


def solid(red: float, green: float, blue: float, size: int = SIZE) -> np.ndarray:
    return np.broadcast_to(np.array([red, green, blue]), (size, size, 3)).copy()


def checkerboard(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    rows, cols = np.indices((SIZE, SIZE))
    return np.where(((rows + cols) % 2 == 1)[..., None], high, low)


def test_a_gray_picture_has_no_colour_contrast_or_detail():
    for image in (solid(0.5, 0.5, 0.5), solid(0.5, 0.5, 0.5, size=97)):
        assert measure(image) == pytest.approx({"colourfulness": 0, "contrast": 0, "sharpness": 0}, abs=1e-9)


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [
        ((1, 0, 0), 0.3 * math.hypot(255, 127.5)),  # rg = 255, yb = 127.5, no spread
        ((0, 1, 0), 0.3 * math.hypot(255, 127.5)),
        ((0, 0, 1), 0.3 * 255),  # rg = 0, yb = -255
        ((1, 1, 0), 0.3 * 255),  # yellow: rg = 0, yb = 255
    ],
)
def test_a_pure_colour_scores_only_its_mean_opponent_term(rgb, expected):
    image = solid(*rgb)
    assert colourfulness(image) == pytest.approx(expected)
    assert contrast(image) == pytest.approx(0, abs=1e-12) and sharpness(image) == pytest.approx(0, abs=1e-12)


def test_uint8_and_float_pictures_measure_the_same():
    image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert measure(image) == pytest.approx(measure(image / 255.0))


def test_a_red_green_checkerboard_is_all_opponent_spread():
    image = checkerboard(np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    assert colourfulness(image) == pytest.approx(255 + 0.3 * 127.5)  # std(rg) = 255; mean yb = 127.5


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (0.25, 0.75), (0.4, 0.5)])
def test_a_two_level_checkerboard_has_known_contrast_and_laplacian(low, high):
    image = checkerboard(np.full(3, low), np.full(3, high))
    assert colourfulness(image) == pytest.approx(0, abs=1e-9)
    assert contrast(image) == pytest.approx((high - low) / 2)
    assert sharpness(image) == pytest.approx(4 * (high - low))  # every interior pixel: ±4 (high - low)


def test_half_black_half_white_has_the_highest_contrast_and_one_edge():
    image = np.zeros((SIZE, SIZE, 3))
    image[:, SIZE // 2 :] = 1.0
    assert contrast(image) == pytest.approx(0.5)
    # of the 222 interior columns, one is +1 and one -1 on the edge: std = sqrt(2 / 222)
    assert sharpness(image) == pytest.approx(math.sqrt(2 / (SIZE - 2)))


def test_sharpness_is_measured_at_224_so_a_picture_scores_alike_at_any_size():
    rows, cols = np.indices((448, 448))
    waves = 0.5 + 0.25 * np.sin(cols / 9.0) * np.cos(rows / 13.0)
    large = np.repeat(waves[..., None], 3, axis=2)
    small = large[::2, ::2]
    assert sharpness(large) == pytest.approx(sharpness(small), rel=0.05)
    assert sharpness(large) > 0.001


def test_only_rgb_pictures_are_measured():
    with pytest.raises(ValueError, match="RGB"):
        contrast(np.zeros((8, 8)))


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_photographs_land_in_the_ranges_issue_20_quotes(name):
    values = measure(getattr(data, name)())
    assert 37.5 <= values["colourfulness"] <= 77.5
    assert 0.11 <= values["contrast"] <= 0.30
    assert 0.05 <= values["sharpness"] <= 0.15  # "about 0.10"
