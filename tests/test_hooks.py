"""Every run-time and registration hook, implemented by a temporary plugin and seen to take effect."""

from __future__ import annotations

import torch

from dreamengine import DreamResult, PixelParametrization, RunConfig, hookimpl
from dreamengine.run.execute import dream
from dreamengine.run.imaging import read_manifest
from dreamengine.run.prepare import apply_preset, load_model
from dreamengine.testing import plugin_host, tiny_model


class TinyModels:
    """Registers the tiny model by name: what every run below dreams with."""

    @hookimpl
    def dreamengine_register_models(self, register):
        register("tiny-net", lambda pretrained=False: tiny_model())


def config(tmp_path, **settings) -> RunConfig:
    base = {
        "model": "tiny-net",
        "classes": ["class1", "class2"],
        "size": 16,
        "steps": 3,
        "reg": ["clamp"],
        "strategy": [],
        "device": "cpu",
        "output": str(tmp_path),
    }
    return RunConfig(**{**base, **settings})


def test_register_models_names_a_model_for_runs(tmp_path):
    with plugin_host(TinyModels()) as host:
        assert "tiny-net" in host.registry.names("models")
        outcome = dream(host, config(tmp_path))
    assert outcome.targets == ["class1", "class2"]
    assert read_manifest(outcome.paths[0])["model"] == {"name": "tiny", "input_size": [16, 16]}


class Loader:
    def __init__(self):
        self.calls = []

    @hookimpl
    def dreamengine_load_model(self, name, pretrained, num_classes):
        self.calls.append((name, pretrained, num_classes))
        return tiny_model() if name == "resnet10t" else None


def test_load_model_runs_before_the_timm_loader_and_may_decline(resnet10t_quiet):
    loader = Loader()
    with plugin_host(loader) as host:
        assert load_model(host, RunConfig(model="resnet10t")).name == "tiny"
        assert load_model(host, RunConfig(model="resnet14t")).name == "resnet14t"  # declined: timm loads it
    assert loader.calls == [("resnet10t", False, None), ("resnet14t", False, None)]


class Presets:
    @hookimpl
    def dreamengine_register_presets(self, register):
        register("quick", {"steps": 2, "reg": ["clamp", "blur:sigma=1"]}, summary="Two steps, blurred.")


def test_register_presets_adds_settings_a_run_can_apply():
    with plugin_host(Presets()) as host:
        entry = host.registry.get("presets", "quick")
        applied = apply_preset(host, RunConfig(), "quick")
    assert entry.summary == "Two steps, blurred."
    assert (applied.steps, applied.reg, applied.preset) == (2, ["clamp", "blur:sigma=1"], "quick")


class Observer:
    def __init__(self):
        self.steps, self.ends = [], []

    @hookimpl
    def dreamengine_step_end(self, job, step, scores):
        self.steps.append((step, tuple(scores.shape), job.steps))

    @hookimpl
    def dreamengine_run_end(self, config, result, paths):
        self.ends.append((config.steps, result.steps_done, [path.exists() for path in paths]))


def test_step_end_and_run_end_observe_a_run(tmp_path):
    observer, seen = Observer(), []
    with plugin_host(TinyModels(), observer) as host:
        dream(host, config(tmp_path), on_step=lambda step, scores: seen.append(step))
    assert observer.steps == [(1, (2,), 3), (2, (2,), 3), (3, (2,), 3)]
    assert seen == [1, 2, 3]  # the command line's own progress callback still runs
    assert observer.ends == [(3, 3, [True, True])]


class Wrapper:
    def __init__(self):
        self.seen = []

    @hookimpl(wrapper=True)
    def dreamengine_run_dream(self, job):
        self.seen.append(job.steps)
        result = yield
        self.seen.append(result.steps_done)
        return result


def test_run_dream_can_be_wrapped(tmp_path):
    wrapper = Wrapper()
    with plugin_host(TinyModels(), wrapper) as host:
        outcome = dream(host, config(tmp_path))
    assert wrapper.seen == [3, 3] and outcome.result.steps_done == 3


class Replacement:
    @hookimpl
    def dreamengine_run_dream(self, job):
        """A loop that keeps the start image: runs first, so the default loop never runs."""
        return DreamResult(job.image.cpu(), torch.zeros(job.image.shape[0]), job.steps)


def test_run_dream_can_be_replaced(tmp_path):
    with plugin_host(TinyModels(), Replacement()) as host:
        outcome = dream(host, config(tmp_path, init="gray:value=51"))
    assert torch.equal(outcome.result.image, torch.full((2, 3, 16, 16), 0.2))
    assert outcome.result.scores.tolist() == [0.0, 0.0]


class Commands:
    @hookimpl
    def dreamengine_register_commands(self, cli):
        @cli.command("hello")
        def hello():
            """Say hello."""


def test_register_commands_receives_the_group():
    import click

    from dreamengine.cli.group import add_plugin_commands

    group = click.Group("dreamengine")
    with plugin_host(Commands()) as host:
        add_plugin_commands(host, group)
    assert list(group.commands) == ["hello"]


class Halves(PixelParametrization):
    """Renders every pixel halfway to gray: a parametrization whose effect a run shows."""

    def image(self):
        return 0.5 + 0.5 * (self.pixels - 0.5)


class Parametrizations:
    @hookimpl
    def dreamengine_register_parametrizations(self, register):
        register("halves", Halves)


def test_register_parametrizations_adds_one_a_run_can_use(tmp_path):
    with plugin_host(TinyModels(), Parametrizations()) as host:
        assert host.registry.get("parametrizations", "halves").summary.startswith("Renders every pixel halfway")
        outcome = dream(host, config(tmp_path, init="gray:value=0", param="halves", steps=1, reg=[]))
    # black pixels, moved by one Adam step of 0.05, rendered halfway to gray: 0.25 +- 0.025 (pixel would give 0 +- 0.05)
    assert (outcome.result.image - 0.25).abs().max() <= 0.025 + 1e-6
