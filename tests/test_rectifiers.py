"""Redirected rectifiers: a unit that is off everywhere still gets a gradient, and nothing else changes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dreamengine.engine.loop import run_job
from dreamengine.engine.rectifiers import RedirectedClamp, output_rectifiers, redirected
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import build_job, resolve_device
from dreamengine.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(("low", "high"), [(0.0, None), (0.0, 6.0), (-1.0, 1.0)])
def test_where_the_gradient_flows_it_is_the_rectifiers_own_to_the_bit(low, high):
    x = (torch.randn(3, 4, 5, 5, generator=torch.Generator().manual_seed(0)) * 4).requires_grad_(True)
    weights = torch.randn(3, 4, 5, 5, generator=torch.Generator().manual_seed(1))
    ours = RedirectedClamp.apply(x, low, high)
    (ours * weights).sum().backward()
    redirected_grad = x.grad.clone()
    x.grad = None
    theirs = torch.relu(x) if high is None else nn.functional.hardtanh(x, low, high)
    (theirs * weights).sum().backward()
    assert torch.equal(ours, theirs)
    assert torch.equal(redirected_grad, x.grad)


def test_an_item_that_gets_no_gradient_gets_the_redirected_one_and_the_others_keep_theirs():
    x = torch.tensor([[-2.0, -1.0, -3.0], [-1.0, 2.0, 7.0]]).requires_grad_(True)
    y = RedirectedClamp.apply(x, 0.0, 6.0)
    # maximise the first unit of item 0 (off) and of item 1 (off too, but item 1's second unit passes a gradient)
    (-(y[:, 0].sum() + 0.5 * y[1, 1] - y[0, 2])).backward()
    # item 0: nothing passes the clamp, so the gradient flows where it raises x (unit 0), not where it lowers it
    assert x.grad[0].tolist() == [-1.0, 0.0, 0.0]
    # item 1: its true gradient flows (unit 1), so unit 0, off, gets none
    assert x.grad[1].tolist() == [0.0, -0.5, 0.0]


def test_at_the_floor_a_gradient_that_would_lower_the_input_is_not_redirected():
    x = torch.tensor([[-2.0, -1.0, -3.0]]).requires_grad_(True)
    y = RedirectedClamp.apply(x, 0.0, None)
    (0.5 * y[0, 1] + 2.0 * y[0, 2] - y[0, 0]).backward()  # the loss falls as x[0] rises, and as x[1], x[2] fall
    assert x.grad.tolist() == [[-1.0, 0.0, 0.0]]


def test_above_the_ceiling_the_redirected_gradient_only_brings_it_down():
    x = torch.tensor([[7.0, 8.0]]).requires_grad_(True)
    y = RedirectedClamp.apply(x, 0.0, 6.0)
    (y[0, 0] - y[0, 1]).backward()  # the loss falls as x[0] falls: allowed; as x[1] rises: not
    assert x.grad.tolist() == [[1.0, 0.0]]


def _net():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU6(inplace=True)),  # ends in a rectifier, in place
        nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 1)),  # has one inside, not at its end
    )


def test_the_rectifier_making_a_layers_output_is_found_and_only_that_one():
    net = _net()
    image = torch.rand(1, 3, 8, 8)
    assert output_rectifiers(net, net[1], image) == [net[1][1]]
    assert output_rectifiers(net, net[1][1], image) == [net[1][1]]
    assert output_rectifiers(net, net[2], image) == []
    assert output_rectifiers(net, net[0], image) == []
    wrapper = nn.ModuleDict({"net": net, "unused": nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())})
    wrapper.forward = lambda x: wrapper["net"](x)  # the forward never runs "unused"
    assert output_rectifiers(wrapper, wrapper["unused"], image) == []


def test_redirected_is_undone_after_the_block():
    relu = nn.ReLU()
    with redirected([relu]):
        assert "forward" in vars(relu)
        assert torch.equal(relu(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))
    assert "forward" not in vars(relu)


@pytest.mark.parametrize("make", [nn.ReLU, nn.ReLU6, lambda: nn.Hardtanh(-0.5, 0.5)])
def test_a_redirected_rectifier_computes_as_its_module_where_the_gradient_flows(make):
    x = torch.linspace(-8, 8, 41).view(1, 41).requires_grad_(True)  # below, inside and above each range
    weights = torch.rand(1, 41, generator=torch.Generator().manual_seed(0)) - 0.3
    rectifier = make()
    (rectifier(x) * weights).sum().backward()
    theirs, their_grad = rectifier(x).detach(), x.grad.clone()
    x.grad = None
    with redirected([rectifier]):
        ours = rectifier(x)
        (ours * weights).sum().backward()
    assert torch.equal(ours, theirs) and torch.equal(x.grad, their_grad)


def _dead_unit_model():
    """The tiny model with relu2's unit 0 just off everywhere on a gray image (its bias lowered)."""
    model = tiny_model()
    with torch.no_grad():
        highest = model.layer_output("conv2", torch.full((1, 3, 16, 16), 0.5))[0, 0].max()
        model.net.conv2.bias[0] -= highest + 0.05
    return model


def test_a_dream_of_a_unit_off_everywhere_turns_it_on():
    model = _dead_unit_model()
    gray = torch.full((1, 3, 16, 16), 0.5)
    with torch.no_grad():
        assert float(model.layer_output("relu2", gray)[0, 0].max()) == 0.0
    host = load_plugins(entry_points=False)
    config = RunConfig(objective="layer:relu2:0", reg=["clamp"], param="pixel", strategy=[], steps=40, lr=0.05, size=16)
    job, _ = build_job(host, config, model, resolve_device("cpu"))
    result = run_job(job)
    with torch.no_grad():
        assert float(model.layer_output("relu2", result.image)[0, 0].mean()) > 0.0
    assert "forward" not in vars(model.net.relu2)  # the capture is over: a plain ReLU again
