"""The engine's loop as one public object: strategies reuse its step and go through the run_dream hook; the names it
replaces still work, with a DeprecationWarning."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import dreamengine
from dreamengine import DreamJob, DreamLoop, DreamResult, Objective, Regularizer, Strategy, hookimpl
from dreamengine.engine.loop import run_job
from dreamengine.run.execute import run_through_hooks
from dreamengine.testing import make_host, tiny_model
from dreamengine_builtins.octaves import Octaves
from dreamengine_builtins.projections import Clamp
from dreamengine_builtins.tiling import Tile, TiledLoop

pytestmark = pytest.mark.usefixtures("one_thread")


class TargetLogit(Objective):
    """The target's logit."""

    def __call__(self, outputs):
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


def job(size=(16, 16), steps=2, regularizers=(), optimizer="adam", **extra) -> DreamJob:
    return DreamJob(
        model=tiny_model(),
        objective=TargetLogit(),
        regularizers=list(regularizers),
        image=torch.full((1, 3, *size), 0.5),
        targets=torch.ones(1, dtype=torch.long),
        steps=steps,
        lr=0.05,
        optimizer=optimizer,
        generator=torch.Generator().manual_seed(0),
        **extra,
    )


class Watcher:
    """A run_dream wrapper that records each job it sees and the loop the default implementation will make."""

    def __init__(self):
        self.seen = []

    @hookimpl(wrapper=True)
    def dreamengine_run_dream(self, job):
        self.seen.append((tuple(job.image.shape[-2:]), job.steps, type((job.make_loop or DreamLoop)(job))))
        return (yield)


def test_a_run_dream_wrapper_sees_a_tiled_dream():
    watcher = Watcher()
    result = run_through_hooks(make_host(watcher), job(size=(24, 40), steps=3, strategies=[Tile(size=16)]))
    assert watcher.seen == [((24, 40), 3, TiledLoop)]
    assert result.image.shape == (1, 3, 24, 40) and result.steps_done == 3


def test_tile_inside_octaves_and_octaves_inside_tile_both_tile_every_octave():
    for strategies in ([Octaves(count=2, scale=2.0), Tile(size=16)], [Tile(size=16), Octaves(count=2, scale=2.0)]):
        watcher = Watcher()
        run_through_hooks(make_host(watcher), job(size=(32, 32), steps=2, strategies=strategies))
        assert watcher.seen == [((16, 16), 1, TiledLoop), ((32, 32), 1, TiledLoop)]


def test_tile_climbs_with_the_engines_step_once_per_tile(monkeypatch):
    calls = []
    climb = DreamLoop.climb

    def counting(self, image, activations):
        calls.append(tuple(image.shape[-2:]))
        return climb(self, image, activations)

    monkeypatch.setattr(DreamLoop, "climb", counting)
    Tile(size=16).run(job(size=(20, 30), steps=2), run_job)
    assert calls == [(16, 16)] * 2 * 4  # 2 steps of 2 x 2 tiles


class Gradients(Regularizer):
    """A gradient-phase regularizer that zeroes the gradient: the dream must not move at all."""

    def gradient(self, grad):
        return torch.zeros_like(grad)


def test_a_gradient_phase_regularizer_acts_under_tile():
    result = Tile(size=16).run(job(size=(20, 30), steps=2, regularizers=[Gradients()]), run_job)
    assert torch.equal(result.image, torch.full((1, 3, 20, 30), 0.5))


class Doubled(DreamLoop):
    """A loop of its own: each step climbs twice before the optimizer steps."""

    def climb(self, image, activations):
        first = super().climb(image, activations)
        super().climb(self.param.image(), activations)
        return first


class TwiceAsSteep(Strategy):
    """A third party's strategy built on DreamLoop."""

    def run(self, job, loop):
        return loop(dataclasses.replace(job, make_loop=Doubled))


def test_a_strategy_of_its_own_reuses_the_loop_and_goes_through_the_hook():
    watcher = Watcher()
    doubled = run_through_hooks(make_host(watcher), job(strategies=[TwiceAsSteep()], optimizer="sgd"))
    plain = run_job(job(optimizer="sgd"))
    assert watcher.seen == [((16, 16), 2, Doubled)]
    assert doubled.steps_done == 2 and not torch.equal(doubled.image, plain.image)


def test_dream_loop_is_public_and_runs_what_run_job_runs():
    assert dreamengine.DreamLoop is DreamLoop and "DreamLoop" in dreamengine.__all__
    loop = DreamLoop(job(regularizers=[Clamp()]))
    assert loop.phases["project"] == loop.job.regularizers and repr(loop) == "DreamLoop(steps=2, optimizer='adam')"
    assert torch.equal(loop.run().image, run_job(job(regularizers=[Clamp()])).image)


def test_a_replacement_loop_ignores_make_loop_and_is_still_used():
    class Keep:
        @hookimpl
        def dreamengine_run_dream(self, job):
            return DreamResult(job.image.cpu(), torch.zeros(1), job.steps)

    result = run_through_hooks(make_host(Keep()), job(size=(20, 20), strategies=[Tile(size=16)]))
    assert torch.equal(result.image, torch.full((1, 3, 20, 20), 0.5))
