"""An objective that needs no logits stops the forward after the last layer it reads."""

from __future__ import annotations

import torch
from torch import nn

from dreamengine import DreamJob, DreamModel
from dreamengine.engine.loop import run_job
from dreamengine_builtins.objectives import Layer
from dreamengine_builtins.projections import Clamp
from dreamengine_builtins.transforms import Jitter


class WithLogits(Layer):
    """The same layer objective, but asking for logits: the forward runs to the end."""

    needs_logits = True


class OutOfOrder(nn.Module):
    """Registered as (late, early, head) but run as early -> late -> head."""

    def __init__(self) -> None:
        super().__init__()
        self.late = nn.Conv2d(4, 4, 3, padding=1)
        self.early = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
        self.num_classes = 2

    def forward(self, x):
        return self.head(self.late(self.early(x)))


def calls(module: nn.Module) -> list[int]:
    count = [0]
    module.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    return count


def dream(model, objective, steps=8):
    job = DreamJob(
        model=model,
        objective=objective,
        regularizers=[Jitter(2), Clamp()],
        image=torch.full((2, 3, 16, 16), 0.5),
        targets=torch.tensor([0, 1]),
        steps=steps,
        lr=0.05,
        optimizer="adam",
        generator=torch.Generator().manual_seed(1),
    )
    return run_job(job)


def test_the_stopped_forward_dreams_exactly_as_the_full_one(tiny_model):
    stopped = dream(tiny_model, Layer(layer="2", channel=3))
    full = dream(tiny_model, WithLogits(layer="2", channel=3))
    assert torch.equal(stopped.image, full.image) and torch.equal(stopped.scores, full.scores)
    assert not torch.equal(stopped.image, torch.full_like(stopped.image, 0.5))


def test_layers_after_the_objectives_layer_never_run(tiny_model):
    head, pool = calls(tiny_model.layer("6")), calls(tiny_model.layer("4"))
    dream(tiny_model, Layer(layer="1"), steps=3)
    assert head[0] == 0 and pool[0] == 0
    dream(tiny_model, WithLogits(layer="1"), steps=3)
    assert head[0] == 3 and pool[0] == 3


def test_a_logit_objective_gets_logits_and_a_stopped_forward_returns_none(tiny_model):
    image = torch.rand(1, 3, 16, 16)
    with tiny_model.capture(["1"], stop_early=True) as captured:
        assert tiny_model(image) is None
        assert captured["1"].shape == (1, 8, 16, 16)
    assert tiny_model(image).shape == (1, 4)


def test_the_stop_waits_for_the_last_layer_in_execution_order_not_name_order():
    torch.manual_seed(0)
    model = DreamModel(OutOfOrder(), name="out-of-order", input_size=(16, 16)).freeze()
    head = calls(model.layer("head"))

    class Both(Layer):
        def __init__(self):
            super().__init__(layer="late")
            self.layers = ("late", "early")

        def __call__(self, outputs):
            return outputs.activations["late"].mean((1, 2, 3)) + outputs.activations["early"].mean((1, 2, 3))

    with model.capture(Both().layers, stop_early=True) as captured:
        assert model(torch.rand(1, 3, 16, 16)) is None
        assert set(captured) == {"late", "early"}
    assert head[0] == 0
    assert dream(model, Both(), steps=2).steps_done == 2


def test_layer_output_runs_the_forward_only_as_far_as_the_layer_in_eval_mode():
    model = DreamModel(OutOfOrder(), name="out-of-order", input_size=(8, 8)).freeze()
    late, head = calls(model.net.late), calls(model.net.head)
    model.train(True)
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    output = model.layer_output("late", image)
    assert not model.training and not output.requires_grad
    assert late == [1] and head == [0]
    with torch.no_grad():
        expected = model.net.late(model.net.early((image - model.mean) / model.std))
    assert torch.equal(output, expected)
