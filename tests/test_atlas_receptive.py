"""Receptive fields, measured from the gradient, on networks whose fields are known exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dreamengine import DreamModel
from dreamengine.atlas.receptive import ReceptiveField, mass_extent, receptive_field
from dreamengine.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


def convs(stride: int = 1, ones: bool = True) -> DreamModel:
    """Two 3x3 convolutions (padding 1) then a classifier: a cell of the second sees 5x5 pixels at stride 1,
    7x7 at stride 2 (both convolutions strided)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=stride, padding=1),
        nn.Conv2d(4, 4, 3, stride=stride, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )
    if ones:  # a box filter twice: the gradient is a pyramid, 1 2 3 2 1 along each axis
        with torch.no_grad():
            for layer in net[:2]:
                layer.weight.fill_(1.0)
                layer.bias.zero_()
    return DreamModel(net, name="convs", input_size=(16, 16)).freeze()


@pytest.mark.parametrize("ones", [True, False])
def test_the_whole_gradient_of_two_3x3_convolutions_is_5x5(ones):
    field = receptive_field(convs(ones=ones), "1", mass=1.0)
    assert field.size == (5, 5) and field.stride == (1.0, 1.0)
    assert field.offset == pytest.approx((0, 0), abs=0 if ones else 0.5)  # the gradient's centroid: exact if symmetric
    assert receptive_field(convs(ones=ones), "0", mass=1.0).size == (3, 3)


def test_the_effective_field_holds_the_share_of_the_gradient_asked_for():
    model = convs()
    assert receptive_field(model, "1", mass=0.9).size == (5, 5)  # the 3x3 centre holds 49/81 of the pyramid
    assert receptive_field(model, "1", mass=0.6).size == (3, 3)
    assert receptive_field(model, "1", mass=0.01).size == (1, 1)


def test_strided_layers_map_cells_to_the_pixels_they_see():
    model = convs(stride=2)
    field = receptive_field(model, "1", (32, 32), mass=1.0)
    # cell j of the second convolution is centred on pixel 4j (padding 1 each time): 1.5 px before (j + 0.5) * 4
    assert field == ReceptiveField((7, 7), (4.0, 4.0), (-1.5, -1.5))
    assert field.box(2, 3, 32, 32) == (9, 5, 16, 12)  # pixels 9..15 about 12, 5..11 about 8
    assert field.box(0, 0, 32, 32) == (0, 0, 4, 4)  # clipped to the picture
    assert field.box(7, 7, 32, 32) == (25, 25, 32, 32)


def test_the_gradients_centre_and_extent_of_a_gaussian():
    ys, xs = torch.meshgrid(torch.arange(41.0) + 0.5, torch.arange(61.0) + 0.5, indexing="ij")
    weight = torch.exp(-((ys - 20.5) ** 2 + (xs - 30.5) ** 2) / (2 * 4.0**2)).double()
    (cy, cx), (height, width) = mass_extent(weight, 0.8)
    assert (cy, cx) == pytest.approx((20.5, 30.5))
    assert height == width and 9 <= height <= 13  # about 2.6 standard deviations
    with pytest.raises(ValueError):
        mass_extent(weight, 0)


def test_a_layer_without_a_map_has_no_field_and_the_model_keeps_its_mode():
    model = tiny_model()
    assert receptive_field(model, "head") is None
    model.train()
    assert receptive_field(model, "conv2", (32, 32)).stride == (2.0, 2.0)
    assert model.training


def test_a_cell_that_nothing_reaches_sees_the_whole_picture():
    model = convs()
    with torch.no_grad():
        model.net[1].weight.zero_()
    assert receptive_field(model, "1").size == (16, 16)
