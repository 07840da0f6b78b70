"""Warps: affine maps composed in order, and a run of warping regularizers resampled once."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from dreamengine import Regularizer, compose_transforms, resample
from dreamengine.warping import IDENTITY, compose, rotation, zoom
from dreamengine_builtins.transforms import Flip, Rotate, Scale

angles = st.floats(-180, 180)
factors = st.floats(0.5, 2)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def smooth(height: int = 32, width: int = 32) -> torch.Tensor:
    """A smooth test image: bilinear resampling of it is accurate, so two resamples nearly equal one."""
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    return torch.stack([x, y, x * y])[None]


def close(a, b, tol):
    (a0, a1), (b0, b1) = a, b
    return all(math.isclose(p, q, abs_tol=tol) for p, q in zip(a0 + a1, b0 + b1, strict=True))


@given(angles, angles)
def test_composed_rotations_add_their_angles(first, then):
    assert close(compose(rotation(first, 16, 16), rotation(then, 16, 16)), rotation(first + then, 16, 16), 1e-9)


@given(angles, factors)
def test_the_identity_is_neutral_and_a_warp_undoes_its_inverse(degrees, factor):
    warp = compose(rotation(degrees, 12, 20), zoom(factor))
    assert close(compose(IDENTITY, warp), warp, 1e-12) and close(compose(warp, IDENTITY), warp, 1e-12)
    inverse = compose(zoom(1 / factor), rotation(-degrees, 12, 20))
    assert close(compose(warp, inverse), IDENTITY, 1e-9)


@given(angles, factors)
def test_resample_matches_affine_grid_and_grid_sample(degrees, factor):
    image = torch.rand((2, 3, 10, 14), generator=gen())
    warp = compose(rotation(degrees, 10, 14), zoom(factor))
    theta = torch.tensor(warp).expand(2, 2, 3)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    expected = F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    torch.testing.assert_close(resample(image, warp), expected, atol=1e-5, rtol=0)


def test_the_identity_warp_returns_the_image_itself():
    image = torch.rand((1, 3, 5, 5))
    assert resample(image, IDENTITY) is image


def test_a_run_of_warps_is_one_resample_of_the_composed_map_with_the_same_draws():
    image = smooth().requires_grad_(True)
    fused = compose_transforms([Scale(1.0, 1.2), Rotate(20.0)])(image, gen(3))
    generator = gen(3)
    warp = compose(Scale(1.0, 1.2).warp(generator, 32, 32), Rotate(20.0).warp(generator, 32, 32))
    assert torch.equal(fused, resample(image, warp))
    # One resample (bilinear, once) is close to the two that applying them one by one would make.
    sequential_generator = gen(3)
    scaled = Scale(1.0, 1.2).transform(image, sequential_generator)
    one_by_one = Rotate(20.0).transform(scaled, sequential_generator)
    assert (fused - one_by_one)[..., 8:-8, 8:-8].abs().max() < 1e-3  # the centre, away from the reflected borders
    fused.sum().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()


def test_a_transform_between_warps_splits_the_run():
    image = torch.rand((1, 3, 12, 12), generator=gen())
    generator = gen(5)
    scale_warp = Scale().warp(generator, 12, 12)
    flipped = Flip(p=1.0).transform(resample(image, scale_warp), generator)
    expected = resample(flipped, Rotate().warp(generator, 12, 12))
    assert torch.equal(compose_transforms([Scale(), Flip(p=1.0), Rotate()])(image, gen(5)), expected)


class _Shear(Regularizer):
    """A third party's warp: a fixed horizontal shear."""

    def warp(self, generator, height, width):
        return ((1.0, 0.3, 0.0), (0.0, 1.0, 0.0))


class _Turn(Regularizer):
    """A fixed rotation by 30 degrees."""

    def warp(self, generator, height, width):
        return rotation(30.0, height, width)


def test_a_regularizer_that_only_warps_has_a_transform_phase_and_fuses_with_the_built_ins():
    shear = _Shear()
    assert shear.warps() and shear.phases() == {"transform"}
    assert not Flip().warps()
    image = torch.rand((1, 3, 9, 9), generator=gen())
    assert torch.equal(shear.transform(image, gen()), resample(image, ((1.0, 0.3, 0.0), (0.0, 1.0, 0.0))))
    generator = gen(1)
    expected = resample(image, compose(Scale().warp(generator, 9, 9), shear.warp(generator, 9, 9)))
    assert torch.equal(compose_transforms([Scale(), shear])(image, gen(1)), expected)


def test_warps_compose_in_the_order_they_are_listed():
    """Rotation and shear do not commute: the fused run must equal applying them one by one, in order."""
    image = smooth()
    fused = compose_transforms([_Turn(), _Shear()])(image, gen())
    one_by_one = _Shear().transform(_Turn().transform(image, gen()), gen())
    reversed_order = _Turn().transform(_Shear().transform(image, gen()), gen())
    centre = (..., slice(8, -8), slice(8, -8))
    assert (fused - one_by_one)[centre].abs().max() < 1e-3
    assert (fused - reversed_order)[centre].abs().max() > 1e-2
