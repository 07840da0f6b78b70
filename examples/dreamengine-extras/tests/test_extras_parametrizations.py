"""The pyramid parametrization: a Laplacian pyramid summed into the image."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dreamengine_extras.parametrizations import Pyramid, level_sizes

sizes = st.integers(1, 24)


def image(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


@given(sizes, sizes, st.integers(1, 6))
def test_each_level_halves_the_last_rounded_up(height, width, levels):
    found = level_sizes(height, width, levels)
    assert len(found) == levels and found[0] == (height, width)
    for (h, w), (smaller_h, smaller_w) in zip(found, found[1:]):
        assert smaller_h == max(1, (h + 1) // 2) and smaller_w == max(1, (w + 1) // 2)


@given(st.integers(1, 3), sizes, sizes, st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_it_renders_its_start_and_assign_is_exact_whatever_the_coarse_levels(batch, height, width, levels, seed):
    start, other = image(batch, height, width, seed), image(batch, height, width, seed + 1)
    param = Pyramid(levels=levels)
    leaves = param.setup(start)
    assert [tuple(t.shape[-2:]) for t in leaves] == level_sizes(height, width, levels)
    torch.testing.assert_close(param.image(), start)
    with torch.no_grad():
        for level in leaves[1:]:
            level.add_(torch.randn(level.shape, generator=torch.Generator().manual_seed(seed)))
        param.assign(other)
    torch.testing.assert_close(param.image(), other, atol=1e-5, rtol=0)


def test_a_coarse_value_moves_a_block_of_pixels():
    param = Pyramid(levels=3)
    leaves = param.setup(torch.zeros(1, 3, 8, 8))
    param.image()[..., :4, :4].sum().backward()
    fine, middle, coarse = (leaf.grad[0, 0] for leaf in leaves)
    assert fine.sum() == pytest.approx(16 / 3) and fine.abs().max() == pytest.approx(1 / 3)  # each level counts 1/3
    assert middle.sum() == pytest.approx(16 / 3) and coarse.sum() == pytest.approx(16 / 3)
    assert coarse.abs().max() > middle.abs().max() > fine.abs().max()  # each coarse value stands for more pixels


def test_one_level_is_plain_pixels():
    start = image(1, 5, 7)
    param = Pyramid(levels=1)
    (pixels,) = param.setup(start)
    assert pixels is not start and torch.equal(param.image(), pixels)


@pytest.mark.parametrize("levels", [0, 9, -1])
def test_a_level_count_out_of_range_is_refused(levels):
    with pytest.raises(ValueError, match="levels must be from 1 to 8"):
        Pyramid(levels=levels)
