"""The atlas's units: planning layers, units and batches; dreaming a batch of units; records, resume and refusal."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace

import pytest
import torch
from PIL import Image

from dreamengine.atlas.classes import pooled_layer
from dreamengine.atlas.contents import read_atlas
from dreamengine.atlas.folder import LOGITS, THUMB_SIDE, read_atlas_json
from dreamengine.atlas.plan import DEFAULT_BATCH, atlas_slug, atlas_slugs, parse_units, plan_atlas, select_layers
from dreamengine.atlas.runner import open_folder, pending_units, run_atlas
from dreamengine.atlas.units import dream_batch, unit_config, unit_paths, variants_config
from dreamengine.errors import DreamError
from dreamengine.run.config import RunConfig
from dreamengine.run.imaging import picture_manifest, read_manifest, to_tensor
from dreamengine.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

#: a tiny atlas's settings: few steps, no octaves (the tiny model's 16 pixels have no room for them)
TINY = RunConfig(model="tiny", size=16, steps=12, strategy=[], device="cpu")


def _plan(tmp_path, **options):
    settings = {"layers": ["conv2", "logits"], "units": "3", "batch": 2} | options
    return plan_atlas(tiny_model(), TINY, tmp_path / "atlas", **settings)


@pytest.mark.parametrize(
    "spec, expected",
    [("all", list(range(8))), ("3", [0, 1, 2]), ("20", list(range(8))), ("2-4", [2, 3, 4]), (" 5 - 7 ", [5, 6, 7])],
)
def test_units_pick_all_the_first_n_or_a_range(spec, expected):
    assert parse_units(spec, 8, "conv1") == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("2-8", "layer 'conv1' has 8 units \\(0-7\\); there is no unit 8"),
        ("5-2", "runs backwards"),
        ("0", "picks no unit"),
        ("some", "must be all, N .* or A-B"),
        ("-3", "must be all, N .* or A-B"),
    ],
)
def test_a_bad_unit_spec_says_why(spec, message):
    with pytest.raises(DreamError, match=message):
        parse_units(spec, 8, "conv1")


def test_slugs_are_file_safe_and_unique():
    assert atlas_slug("blocks.3") == "blocks.3"
    assert atlas_slug("../x/<script>") == "x-script"
    assert atlas_slug("..") == "layer"
    slugs = atlas_slugs(["a/b", "a b", "A-B", "logits"])
    assert slugs == {"a/b": "a-b", "a b": "a-b-2", "A-B": "A-B-3", "logits": "logits"}


def test_the_default_layers_are_the_stage_outputs_and_the_logits(tmp_path, resnet10t_quiet, host):
    from dreamengine.run.prepare import load_model

    plan = plan_atlas(tiny_model(), TINY, tmp_path)
    assert [layer.name for layer in plan.layers] == ["relu1", "relu2", LOGITS]  # each block's last, then classes
    assert [layer.shape for layer in plan.layers] == [(8, 16, 16), (16, 8, 8), (4,)]
    assert plan.layers[-1].kind == "logits" and plan.layers[-1].units == (0, 1, 2, 3)
    timm = load_model(host, RunConfig(model="test_efficientnet"))
    names = [layer.name for layer in plan_atlas(timm, RunConfig(size=32), tmp_path).layers]
    assert names == ["blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "bn2", LOGITS]
    resnet, _ = select_layers(load_model(host, RunConfig(model="resnet10t")))
    assert [layer.name for layer in resnet] == ["act1", "layer1", "layer2", "layer3", "layer4"]  # not layer4.0 again


def test_the_layer_the_classifier_pools_is_a_default_layer_for_the_class_pages(tmp_path, monkeypatch):
    from dreamengine.atlas import plan as planning

    model = tiny_model()
    assert pooled_layer(model)[0] == "relu2"  # the layer classes.json links to the classes
    first_only = planning.stage_layers
    monkeypatch.setattr(planning, "stage_layers", lambda model, listed: first_only(model, listed)[:1])
    assert [layer.name for layer in plan_atlas(model, TINY, tmp_path).layers] == ["relu1", "relu2", LOGITS]


def test_the_atlas_size_is_height_then_width_as_the_site_reads_it(tmp_path):
    plan = open_folder(plan_atlas(tiny_model(), TINY.updated({"size": "24x16"}, "test"), tmp_path, layers=["logits"]))
    assert plan.size == (16, 24) and read_atlas_json(tmp_path)["size"] == [16, 24]
    assert read_atlas(tmp_path).size == (16, 24)


def test_the_site_reads_the_layers_the_plan_wrote(tmp_path):
    plan = open_folder(plan_atlas(tiny_model(), TINY, tmp_path, layers=["conv*", "logits"], units="2"))
    read = read_atlas(tmp_path).layers
    assert read == tuple(replace(layer, cost=round(layer.cost, 4)) for layer in plan.layers)
    assert [layer.page for layer in read] == [f"layers/{layer.slug}.html" for layer in plan.layers]


@pytest.mark.parametrize(
    ("input_size", "expected"), [((16, 16), (16, 16)), ((224, 224), (128, 128)), ((256, 192), (128, 96))]
)
def test_without_a_size_the_atlas_dreams_at_the_input_size_at_most_128_pixels_a_side(tmp_path, input_size, expected):
    model = tiny_model()
    model.input_size = input_size
    assert plan_atlas(model, RunConfig(), tmp_path, layers=["logits"]).size == expected
    assert plan_atlas(model, RunConfig(size=200), tmp_path, layers=["logits"]).size == (200, 200)


def test_layer_patterns_pick_layers_and_a_wrong_one_is_refused(tmp_path):
    plan = plan_atlas(tiny_model(), TINY, tmp_path, layers=["relu*"], units="2")
    assert [(layer.name, layer.units) for layer in plan.layers] == [("relu1", (0, 1)), ("relu2", (0, 1))]
    with pytest.raises(DreamError, match="matches no layer of tiny"):
        plan_atlas(tiny_model(), TINY, tmp_path, layers=["blocks.*"])
    with pytest.raises(DreamError, match="layer 'conv2' has 16 units"):
        plan_atlas(tiny_model(), TINY, tmp_path, layers=["conv2"], units="10-16")


def test_a_layer_whose_name_an_objective_cannot_carry_is_refused(tmp_path):
    model = tiny_model()
    model.net.add_module("odd:name;x", torch.nn.Identity())
    model.net.add_module("head two", torch.nn.ReLU())
    with pytest.raises(DreamError, match="layer 'head two' of tiny has a name an objective cannot carry"):
        plan_atlas(model, TINY, tmp_path, layers=["head*"])


def test_batches_hold_the_units_to_dream_of_one_layer_each(tmp_path):
    plan = _plan(tmp_path, units="all", batch=5)
    batches = plan.batches({"conv2": [0, 1, 2, 3, 4, 5, 9], "logits": [1, 3]})
    assert [(batch.layer.name, batch.units) for batch in batches] == [
        ("conv2", (0, 1, 2, 3, 4)),
        ("conv2", (5, 9)),
        ("logits", (1, 3)),
    ]
    assert _plan(tmp_path, batch=None).batch == DEFAULT_BATCH
    with pytest.raises(DreamError, match="--batch must be at least 1"):
        _plan(tmp_path, batch=0)


def test_each_item_of_a_batch_dreams_its_own_channel(tmp_path, host):
    plan = _plan(tmp_path, units="all", batch=3)
    model = tiny_model()
    batch = plan.batches({"conv2": [3, 7, 11]})[0]
    config = unit_config(plan, batch.layer, batch.units)
    assert config.objective == "layer:conv2:3; layer:conv2:7; layer:conv2:11"
    output = dream_batch(host, plan, batch, model)
    images = torch.stack([to_tensor(Image.open(_bytes_io(png)).convert("RGB")) for png in output.units.pngs])
    gray = model.layer_output("conv2", torch.full((1, 3, 16, 16), 0.5)).flatten(2).mean(2)[0]
    seen = model.layer_output("conv2", images).flatten(2).mean(2)
    for item, unit in enumerate(batch.units):
        assert seen[item, unit] > gray[unit]  # the dream drives its unit above a gray image's
        others = [seen[other, unit] for other in range(len(batch.units)) if other != item]
        assert seen[item, unit] > max(others)  # and more than the dreams of the other units do
        assert output.activations[item] == pytest.approx(float(seen[item, unit]), rel=1e-5)


def _bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def test_a_units_variants_are_its_objective_and_the_diversity_term(tmp_path):
    plan = _plan(tmp_path, units="all", variants=2)
    assert variants_config(plan, plan.layer("conv2"), 5).objective == "layer:conv2:5 + 1*diversity:conv2"
    logits = variants_config(plan, plan.layer(LOGITS), 1)
    assert logits.objective == f"logit + 1*diversity:{plan.diversity_layer}" and logits.init == "noise"


def test_a_batch_of_classes_dreams_each_its_logit(tmp_path, host):
    plan = _plan(tmp_path, layers=["logits"], units="all")
    batch = plan.batches({LOGITS: [0, 2]})[0]
    assert unit_config(plan, batch.layer, batch.units).classes == ["class0", "class2"]
    output = dream_batch(host, plan, batch, tiny_model())
    targets = [picture_manifest(Image.open(_bytes_io(png)))["target"]["index"] for png in output.units.pngs]
    assert targets == [0, 2]


def test_an_atlas_writes_each_units_dream_thumbnail_variants_and_record(tmp_path, host):
    plan = open_folder(_plan(tmp_path, variants=2))
    model = tiny_model()
    batches = plan.batches(pending_units(plan))
    assert run_atlas(host, plan, batches, model=model) == 6
    stored = read_atlas_json(plan.output)
    assert [layer["slug"] for layer in stored["layers"]] == ["conv2", "logits"]
    assert stored["size"] == [16, 16] and stored["variants"] == 2 and stored["classes"] == model.class_names
    record = json.loads((plan.output / "units/conv2/1.json").read_text())
    assert record == {
        "layer": "conv2",
        "unit": 1,
        "dream": "units/conv2/1.png",
        "thumb": "thumbs/conv2/1.jpg",
        "variants": ["units/conv2/1-v1.png", "units/conv2/1-v2.png"],
        "activation": record["activation"],
        "files": {
            path: {"bytes": len(data := (plan.output / path).read_bytes()), "sha256": hashlib.sha256(data).hexdigest()}
            for path in ("units/conv2/1.png", "units/conv2/1-v1.png", "units/conv2/1-v2.png", "thumbs/conv2/1.jpg")
        },
    }
    thumb = Image.open(plan.output / record["thumb"])
    assert thumb.format == "JPEG" and max(thumb.size) == THUMB_SIDE
    first, second = (Image.open(plan.output / path) for path in record["variants"])
    assert first.tobytes() != second.tobytes()  # two dreams, kept apart
    assert "diversity:conv2" in read_manifest(plan.output / record["variants"][0])["config"]["objective"]
    assert read_manifest(plan.output / "units/logits/0-v1.png")["config"]["objective"].startswith("logit + ")
    assert pending_units(plan) == {"conv2": [], "logits": []}


def test_a_resumed_atlas_dreams_only_what_is_missing(tmp_path, host):
    plan = open_folder(_plan(tmp_path))
    model = tiny_model()
    run_atlas(host, plan, plan.batches(pending_units(plan)), model=model)
    (plan.output / "units/conv2/1.json").unlink()  # stopped before its record was written: half done
    (plan.output / "thumbs/logits/2.jpg").unlink()
    thumb = plan.output / "thumbs/conv2/0.jpg"
    thumb.write_bytes(thumb.read_bytes()[:-40])  # damaged after it was written
    dream = plan.output / "units/logits/1.png"
    Image.new("RGB", (16, 16), "white").save(dream, pnginfo=_same_manifest(dream))  # replaced, settings and all
    before = (plan.output / "units/conv2/2.png").stat().st_mtime_ns
    todo = pending_units(plan)
    assert todo == {"conv2": [0, 1], "logits": [1, 2]}
    assert run_atlas(host, plan, plan.batches(todo), model=model) == 4
    assert pending_units(plan) == {"conv2": [], "logits": []}
    assert (plan.output / "units/conv2/2.png").stat().st_mtime_ns == before
    assert Image.open(thumb).load() is not None and Image.open(dream).getextrema() != ((255, 255),) * 3


def _same_manifest(path):
    """The PNG text chunks of ``path`` (its stored settings), to save another picture with them."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in Image.open(path).text.items():
        info.add_text(key, value)
    return info


def test_an_atlas_folder_of_other_settings_is_refused_or_started_over(tmp_path, host):
    plan = open_folder(_plan(tmp_path))
    run_atlas(host, plan, plan.batches({"conv2": [0]}), model=tiny_model())
    other = plan_atlas(tiny_model(), TINY.updated({"steps": 5}, "test"), plan.output, layers=["conv2"], units="2")
    with pytest.raises(DreamError, match="other settings \\(steps: 12 then, 5 now\\).*--restart"):
        open_folder(other)
    assert (plan.output / "units/conv2/0.json").is_file()
    open_folder(other, restart=True)
    assert not (plan.output / "units").exists()
    assert read_atlas_json(plan.output)["settings"]["steps"] == 5


def test_an_atlas_grows_layer_by_layer(tmp_path):
    open_folder(_plan(tmp_path, layers=["conv2"], units="2"))
    grown = open_folder(_plan(tmp_path, layers=["relu1", "conv2"], units="3-4"))
    assert [(layer.name, layer.units) for layer in grown.layers] == [("conv2", (0, 1, 3, 4)), ("relu1", (3, 4))]
    assert [layer["name"] for layer in read_atlas_json(grown.output)["layers"]] == ["conv2", "relu1"]


def test_unit_paths_are_relative_with_slashes(tmp_path):
    plan = _plan(tmp_path, variants=1)
    assert unit_paths(plan, plan.layers[0], 5) == {
        "dream": "units/conv2/5.png",
        "thumb": "thumbs/conv2/5.jpg",
        "variants": ["units/conv2/5-v1.png"],
        "record": "units/conv2/5.json",
    }


def test_the_estimate_counts_a_steps_cost_not_what_every_run_pays_once(tmp_path, host, monkeypatch):
    from types import SimpleNamespace

    from dreamengine.atlas import runner
    from dreamengine.run.execute import total_steps

    clock = [0.0]

    def run(_host, job):  # a run pays 5 s once (building, each octave's first step), then 0.25 s a step
        clock[0] += 5.0 + 0.25 * total_steps(job)

    monkeypatch.setattr(runner, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(runner, "run_through_hooks", run)
    plan = _plan(tmp_path)
    guess = runner.estimate(host, plan, plan.batches(pending_units(plan)), tiny_model())
    assert guess.step_seconds == {"conv2": pytest.approx(0.25), "logits": pytest.approx(0.25)}
    # 3 units of each layer in batches of 2: each batch counted for its share of a full batch, at 12 steps
    assert guess.seconds == pytest.approx(0.25 * 12 * 6 / 2)


def test_the_run_end_hook_sees_each_batch_and_each_units_variants(tmp_path, host):
    from dreamengine import hookimpl

    seen = []

    class Watcher:
        @hookimpl
        def dreamengine_run_end(self, config, result, paths):
            seen.append(
                (config.objective, len(result.image), [p.relative_to(tmp_path / "atlas").as_posix() for p in paths])
            )

    host.pm.register(Watcher(), name="watcher")
    plan = open_folder(_plan(tmp_path, variants=1, layers=["conv2"], units="2"))
    run_atlas(host, plan, plan.batches(pending_units(plan)), model=tiny_model())
    assert seen == [
        ("layer:conv2:0; layer:conv2:1", 2, ["units/conv2/0.png", "units/conv2/1.png"]),
        ("layer:conv2:0 + 1*diversity:conv2", 1, ["units/conv2/0-v1.png"]),
        ("layer:conv2:1 + 1*diversity:conv2", 1, ["units/conv2/1-v1.png"]),
    ]
