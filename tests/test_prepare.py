"""Preparing a run: the settings a job is refused for (each in one line), and the job :func:`build_job` and
:func:`prepare` make, field by field, on the device asked for."""

from __future__ import annotations

import warnings

import pytest
import torch
from PIL import Image

from dreamengine import DreamError, RunConfig, hookimpl
from dreamengine.engine.checkpoint import save_checkpoint
from dreamengine.run import prepare as preparing
from dreamengine.run.prepare import (
    apply_preset,
    build_job,
    dream_model,
    dream_size,
    load_architecture,
    load_model,
    prepare,
)
from dreamengine.testing import make_host, tiny_model
from dreamengine_builtins.initializers import Noise
from dreamengine_builtins.parametrizations import Fourier, Pixel

# The meta device holds no data, but keeps every tensor's device: a job built for it shows what went where.
META = torch.device("meta")
CPU = torch.device("cpu")


def job_for(device=CPU, model=None, **settings):
    config = RunConfig(**{"size": 16, "steps": 1, "classes": ["1"], **settings})
    return build_job(make_host(), config, model or tiny_model(), device)


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"optimizer": "adamx"},
            "unknown optimizer 'adamx'. Did you mean 'adam' or 'adamw'? Available: adam, adamw, sgd.",
        ),
        ({"steps": 0}, "--steps must be at least 1, got 0."),
        ({"lr": 0.0}, "--lr must be above 0 and finite, got 0.0."),
        ({"lr": -0.5}, "--lr must be above 0 and finite, got -0.5."),
        ({"lr": float("inf")}, "--lr must be above 0 and finite, got inf."),
        ({"save_every": -1}, "--save-every must be 0 (off) or more, got -1."),
    ],
)
def test_a_setting_no_dream_can_run_with_is_refused_in_one_line(settings, message):
    with pytest.raises(DreamError) as error:
        job_for(**settings)
    assert str(error.value) == message


@pytest.mark.parametrize("settings", [{"steps": 1}, {"lr": 1e-6}, {"lr": 1e6}, {"save_every": 0}, {"save_every": 1}])
def test_the_least_and_the_largest_settings_allowed_make_a_job(settings):
    job, _ = job_for(**settings)
    name, value = next(iter(settings.items()))
    assert getattr(job, name) == value


def test_an_objective_of_class_logits_on_a_feature_extractor_says_what_it_can_dream():
    model = tiny_model()
    model.has_logits = False
    with pytest.raises(DreamError) as error:
        job_for(model=model, objective="logit")
    assert str(error.value) == (
        "objective 'logit' reads class logits, and tiny gives features, not logits: dream a layer, a channel or "
        "a neuron (layer:NAME, layer:NAME:CHANNEL, neuron:NAME:CHANNEL; `dreamengine layers` lists them)."
    )
    job, indices = job_for(model=model, objective="layer:relu1")  # what it can dream
    assert list(job.objective.layers) == ["relu1"]


def test_an_objective_of_a_layer_the_network_lacks_is_refused_before_the_dream():
    with pytest.raises(DreamError, match="unknown layer of tiny 'relu9'"):
        job_for(objective="layer:relu9")


def test_the_job_holds_every_setting_and_component_of_the_config():
    settings = {
        "classes": ["2", "class3", "0"],
        "steps": 7,
        "lr": 0.125,
        "optimizer": "sgd",
        "seed": 11,
        "save_every": 3,
        "size": "24x20",
        "init": "noise",
        "param": "pixel",
        "reg": ["clamp", "flip"],
        "strategy": ["octaves:count=2", "tile"],
        "objective": "logit + 0.5*l2",
    }
    model = tiny_model()
    job, indices = job_for(model=model, **settings)
    assert indices == [2, 3, 0] and job.targets.tolist() == [2, 3, 0]
    assert (job.steps, job.lr, job.optimizer, job.save_every) == (7, 0.125, "sgd", 3)
    assert job.model is model and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert type(job.parametrization) is Pixel
    assert [type(s).__name__ for s in job.strategies] == ["Octaves", "Tile"]
    # the regularizers as named, then the objective's penalty (its l2)
    assert [type(r).__name__ for r in job.regularizers] == ["Clamp", "Flip", "WeightedPenalty"]
    # the start: the initializer's, drawn from the job's generator seeded with --seed, the size as given
    expected = Noise()(3, 20, 24, torch.Generator().manual_seed(11))
    assert job.image.shape == (3, 3, 20, 24) and torch.equal(job.image, expected)
    assert job.generator.initial_seed() == 11
    # the generator the start was drawn from goes on from there: its next draw is not the start's first
    again = torch.Generator().manual_seed(11)
    Noise()(3, 20, 24, again)
    assert torch.equal(torch.rand(5, generator=job.generator), torch.rand(5, generator=again))


def test_the_defaults_make_fft_octaves_and_the_models_input_size():
    job, _ = job_for(size=None, steps=5)
    assert type(job.parametrization) is Fourier
    assert [type(s).__name__ for s in job.strategies] == ["Octaves"]
    assert job.image.shape == (1, 3, 16, 16)
    assert [type(r).__name__ for r in job.regularizers] == ["Clamp", "Blur", "Flip", "Jitter", "Scale", "Rotate"]


def test_the_job_lives_on_the_device_asked_for():
    job, _ = job_for(device=META, classes=["1", "2"])
    assert job.image.device == META and job.targets.device == META
    assert {p.device for p in job.model.parameters()} == {META}


def test_prepare_puts_the_job_on_the_configs_device_with_the_model_given():
    model = tiny_model()
    run = prepare(make_host(), RunConfig(size=16, steps=2, classes=["1"], device="meta"), model)
    assert run.job.model is model and run.job.image.device == META and run.job.targets.device == META
    assert run.indices == [1] and run.start_file is None


@pytest.mark.parametrize("threads, calls", [(None, []), (2, [2])])
def test_prepare_sets_the_thread_count_only_when_one_is_given(monkeypatch, threads, calls):
    seen = []
    monkeypatch.setattr(preparing, "apply_threads", seen.append)
    prepare(make_host(), RunConfig(size=16, steps=1, classes=["1"], threads=threads, device="cpu"), tiny_model())
    assert seen == calls


def test_prepare_names_the_photo_the_options_give_over_the_specs(tmp_path):
    for name, colour in (("a.png", "red"), ("c.png", "blue")):
        Image.new("RGB", (20, 16), colour).save(tmp_path / name)
    config = RunConfig(
        size=16,
        steps=1,
        classes=["1"],
        device="cpu",
        init=f"photo:path={tmp_path / 'a.png'}",
        options={"photo": {"path": str(tmp_path / "c.png")}},
    )
    run = prepare(make_host(), config, tiny_model())
    assert run.start_file == tmp_path / "c.png"
    assert run.job.image[0, 2].mean() > 0.9 > run.job.image[0, 0].mean()  # blue: the options' photo


@pytest.mark.parametrize("aspect, expected", [(0.1, (4, 1)), (10.0, (1, 4)), (1.0, (4, 4))])
def test_a_photo_far_from_square_keeps_at_least_one_pixel_a_side(aspect, expected):
    assert dream_size(4, (16, 16), aspect) == expected


def test_a_job_of_another_model_than_a_dream_model_is_refused_by_its_type():
    job, _ = job_for()
    job.model = job.model.net
    with pytest.raises(TypeError) as error:
        dream_model(job)
    assert str(error.value) == "a prepared job holds a DreamModel, not Sequential"


class Presets:
    @hookimpl
    def dreamengine_register_presets(self, register):
        register("misspelt", {"stepz": 2}, summary="A preset with a setting no run has.")


def test_a_preset_with_an_unknown_setting_is_named_in_the_error():
    with pytest.raises(DreamError) as error:
        apply_preset(make_host(Presets()), RunConfig(), "misspelt")
    assert str(error.value).startswith("preset 'misspelt': unknown setting 'stepz'. Did you mean 'steps'?")


class TinyLoader:
    """Loads ``tinynet`` (warning, as timm does, that its weights are random) and registers ``tiny-registered``;
    declines every other name; keeps each call's arguments."""

    def __init__(self, note=None):
        self.calls, self.note = [], note

    @hookimpl
    def dreamengine_load_model(self, name, pretrained, num_classes, in_chans):
        self.calls.append((name, pretrained, num_classes, in_chans))
        if name != "tinynet":
            return None
        warnings.warn(f"{name} has random weights: give --pretrained or --weights.", UserWarning, stacklevel=2)
        if self.note:
            warnings.warn(self.note, UserWarning, stacklevel=2)
        return tiny_model(num_classes or 4)

    @hookimpl
    def dreamengine_register_models(self, register):
        register("tiny-registered", self.registered, summary="A registered tiny model.")

    def registered(self, pretrained):
        self.calls.append(("tiny-registered", pretrained))
        return tiny_model()


def test_an_architecture_is_asked_of_the_loaders_with_the_defaults_or_what_is_given():
    loader = TinyLoader()
    host = make_host(loader, builtins=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_architecture(host, "tinynet").num_classes == 4
        assert load_architecture(host, "tinynet", pretrained=True, num_classes=2, in_chans=1).num_classes == 2
    assert loader.calls == [("tinynet", False, None, 3), ("tinynet", True, 2, 1)]


def test_an_architecture_no_loader_knows_is_an_unknown_model_naming_the_registered_ones():
    host = make_host(TinyLoader(), builtins=False)
    with pytest.raises(DreamError) as error:
        load_architecture(host, "tiny-registerd")
    assert (
        str(error.value)
        == "unknown model 'tiny-registerd'. Did you mean 'tiny-registered'? Available: tiny-registered."
    )


@pytest.mark.parametrize("pretrained", [False, True])
def test_a_registered_model_and_an_architecture_are_loaded_pretrained_as_asked(pretrained):
    loader = TinyLoader()
    host = make_host(loader, builtins=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_model(host, RunConfig(model="tiny-registered", pretrained=pretrained))
        load_model(host, RunConfig(model="tinynet", pretrained=pretrained))
    assert loader.calls == [("tiny-registered", pretrained), ("tinynet", pretrained, None, 3)]


def test_the_configs_input_size_and_class_names_override_the_loaded_models(tmp_path):
    (tmp_path / "names.txt").write_text("a\nb\nc\nd\n")
    host = make_host(TinyLoader(), builtins=False)
    config = RunConfig(model="tiny-registered", input_size="24x20", class_names=str(tmp_path / "names.txt"))
    model = load_model(host, config)
    assert model.input_size == (20, 24) and model.class_names == ["a", "b", "c", "d"]


def test_a_checkpoint_is_loaded_into_its_architecture_with_no_random_weights_warning(tmp_path):
    saved = tiny_model(3)
    with torch.no_grad():
        saved.net.head.bias.fill_(0.25)
    path = save_checkpoint(saved, tmp_path / "tiny.pt", architecture="tinynet")
    loader = TinyLoader(note="tinynet is for tests only.")
    # --model is not read with --checkpoint: not even as a saved model's folder, which this one would be refused as
    config = RunConfig(checkpoint=str(path), model=str(tmp_path), input_size=20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_model(make_host(loader, builtins=False), config)
    assert [str(w.message) for w in caught] == ["tinynet is for tests only."]  # every warning but the silenced one
    assert loader.calls == [("tinynet", False, 3, 3)]
    assert model.weights.path == path and torch.equal(model.net.head.bias, torch.full((3,), 0.25))
    assert model.input_size == (20, 20)  # the config's setting over the checkpoint's


def test_weights_are_loaded_into_the_architecture_the_model_names(tmp_path):
    saved = tiny_model(3)
    with torch.no_grad():
        saved.net.head.bias.fill_(0.5)
    torch.save(saved.net.state_dict(), tmp_path / "tiny.pth")
    loader = TinyLoader()
    model = load_model(
        make_host(loader, builtins=False), RunConfig(model="tinynet", weights=str(tmp_path / "tiny.pth"))
    )
    assert model.num_classes == 3 and torch.equal(model.net.head.bias, torch.full((3,), 0.5))
    assert model.weights.path == tmp_path / "tiny.pth"


def test_a_checkpoint_and_a_weights_file_at_once_are_refused():
    with pytest.raises(DreamError) as error:
        load_model(make_host(), RunConfig(checkpoint="a.pt", weights="b.pth"))
    assert str(error.value) == "give --checkpoint or --weights, not both: each holds the weights to dream with."


def test_the_options_set_for_each_component_reach_it():
    options = {"jitter": {"pixels": 3}, "noise": {"mean": 0.25, "std": 0.0}, "fft": {"decay": 2.0}}
    options["octaves"] = {"count": 2}
    job, _ = job_for(reg=["clamp", "jitter"], init="noise", param="fft", strategy=["octaves"], options=options)
    assert vars(job.regularizers[1]) == {"pixels": 3}
    assert torch.equal(job.image, torch.full((1, 3, 16, 16), 0.25))  # noise of std 0 around the mean given
    assert job.parametrization.decay == 2.0
    assert job.strategies[0].count == 2


def test_options_for_a_component_the_run_does_not_use_are_refused_naming_those_it_does():
    with pytest.raises(DreamError) as error:
        job_for(reg=["clamp", "jitter"], strategy=["tile"], options={"tv": {"weight": 1.0}})
    assert str(error.value) == (
        "options were set for 'tv', which this run does not use (it uses logit, clamp, jitter, gray, fft, tile)."
    )
