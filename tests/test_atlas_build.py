"""`dreamengine atlas --images` end to end, as a user runs it: a checkpoint trained on class folders (one of them
named like an injection), its units dreamt, its dataset examples collected from the same folders, its classes
linked, and the static site written; run again, nothing is dreamt or collected again and the site is rewritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner
from PIL import Image

from dreamengine.cli import cli
from dreamengine.plugins import load_plugins
from dreamengine.training.fine_tune import TrainSettings, train
from test_atlas_site import parse

pytestmark = pytest.mark.usefixtures("one_thread")

#: a class folder's name that would be markup if a page took it as it is (a folder name holds no "/")
HOSTILE = "<img src=x onerror=alert(1)>"
CLASSES = [HOSTILE, "blue", "red"]  # in the order training sorts the folders: "<" first
#: two units of each default layer and of the logits, each with a variant, two examples and two negatives;
#: 2 steps at 64 pixels (test_resnet's layer4: 2 x 2)
SETTINGS = ["--size", "64", "--steps", "2", "--units", "2", "--batch", "2", "--variants", "1"]
SETTINGS += ["--examples", "2", "--negatives"]


def _class_folders(root: Path) -> Path:
    """Four 72-pixel pictures of each class, each class its own colour, and a file that is no picture."""
    for number, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for index in range(4):
            colour = tuple(min(255, 60 * number + 40 * index + 30 * channel) for channel in range(3))
            Image.new("RGB", (72, 72), colour).save(root / name / f"{index}.png")
    (root / "notes.txt").write_text("not a picture")
    return root


def _build(checkpoint: Path, data: Path, output: Path):
    """``dreamengine atlas`` as a user types it, in a fresh CLI with the built-in plugins only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("dreamengine.cli.group._HOST", None)
        patch.setattr("dreamengine.cli.output.console.width", 200)
        patch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
        args = ["atlas", "--checkpoint", str(checkpoint), "--images", str(data), "-o", str(output), *SETTINGS]
        return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The class folders, the checkpoint trained on them, and the atlas built from both (with the command's output)."""
    root = tmp_path_factory.mktemp("atlas-build")
    data = _class_folders(root / "data")
    settings = TrainSettings(
        data=str(data), model="test_resnet", size=64, batch_size=8, epochs=1, device="cpu", output=str(root / "run")
    )
    train(load_plugins(entry_points=False, blocked=(), trace=False), settings)
    checkpoint = root / "run" / "epoch-001.pt"
    result = _build(checkpoint, data, root / "atlas")
    assert result.exit_code == 0, result.output
    return root / "atlas", checkpoint, data, " ".join(result.output.split())


def test_one_command_writes_dreams_examples_classes_and_the_site(built):
    atlas, _, _, output = built
    plan = json.loads((atlas / "atlas.json").read_text())
    layers = [layer["name"] for layer in plan["layers"]]
    assert layers == ["act1", "layer1", "layer2", "layer3", "layer4", "logits"] and plan["classes"] == CLASSES
    assert "12 units in" in output and "12 dreamt now" in output and "dataset examples from 12 images" in output
    assert "skipped 1 file(s)" in output and "notes.txt" in output  # said once, as a warning
    examples = json.loads((atlas / "examples.json").read_text())
    assert set(examples["layers"]) == set(layers) and len(examples["layers"]["layer1"]["0"]) == 2
    assert set(examples["negative"]) == set(layers)
    assert json.loads((atlas / "classes.json").read_text())["layer"] == "layer4"  # a default layer: linked
    assert (atlas / "index.html").is_file() and f"open {atlas / 'index.html'}" in output


def test_every_link_of_the_site_is_a_file_of_the_atlas(built):
    atlas = built[0]
    pages = list(atlas.rglob("*.html"))
    assert len(pages) == 1 + 6 + 12 + 1 + 3  # index, layers, units, the classes' index, a page per class
    for page in pages:
        for link in parse(page).links:
            target = (page.parent / unquote(urlsplit(link).path)).resolve()
            assert target.is_file() and atlas.resolve() in target.parents, (page, link)


def test_the_pages_link_a_layer_its_units_and_a_unit_its_dream_and_examples(built):
    atlas = built[0]
    assert "layers/layer1.html" in parse(atlas / "index.html").links
    assert "../units/layer1/0.html" in parse(atlas / "layers" / "layer1.html").links
    unit = parse(atlas / "units" / "layer1" / "0.html")
    assert unit.sections == ["dream", "variants", "examples"]  # no classes: layer1 does not feed the classifier
    sources = [image["src"] for image in unit.images]
    assert sources[:2] == ["0.png", "0-v1.png"]
    assert sources[2:4] == ["../../examples/layer1/0-0.jpg", "../../examples/layer1/0-1.jpg"]
    assert sources[4:] == []  # layer1 ends in a ReLU: no image drives it below 0, so no negatives are shown
    examples = json.loads((atlas / "examples.json").read_text())
    logit = parse(atlas / "units" / "logits" / "0.html")
    kept = [(group, record) for group in ("layers", "negative") for record in examples[group]["logits"]["0"]]
    shown = [
        f"../../{r['crop']}" for group, r in kept if (r["activation"] > 0 if group == "layers" else r["activation"] < 0)
    ]
    assert any(r["activation"] < 0 for group, r in kept if group == "negative")  # a logit can be negative ...
    assert [image["src"] for image in logit.images][2:] == shown  # ... and its most negative images are shown
    logits = parse(atlas / "units" / "logits" / "0.html")
    assert "../../classes/0-img-src-x-onerror-alert-1.html" in logits.links


def test_a_dream_among_the_images_is_measured_as_its_record_says(built, tmp_path, host):
    """The check compares a dream's activation with its examples': the dream read as a dataset image gets the
    activation its record holds, for a unit of a layer and for a class."""
    from dreamengine.atlas.examples import collect_examples
    from dreamengine.run.config import RunConfig
    from dreamengine.run.prepare import load_model

    atlas, checkpoint, _, _ = built
    model = load_model(host, RunConfig(checkpoint=str(checkpoint), size=64))
    for layer, unit in (("layer1", 1), ("logits", 0)):
        record = json.loads((atlas / "units" / layer / f"{unit}.json").read_text())
        (tmp_path / layer).mkdir()
        shutil.copy(atlas / record["dream"], tmp_path / layer / "dream.png")
        found = collect_examples(
            model,
            [{"name": layer, "units": [unit]}],
            tmp_path / layer,
            tmp_path / f"{layer}-examples",
            k=1,
            size=(64, 64),
        )
        measured = found["layers"][layer][str(unit)][0]["activation"]
        assert measured == pytest.approx(record["activation"], rel=1e-4, abs=1e-5), layer


def test_hostile_class_folder_names_are_escaped_in_every_page(built):
    atlas = built[0]
    shown = 0
    for page in atlas.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert HOSTILE not in text and "onerror=alert(1)>" not in text, page
        assert all(Path(image["src"]).suffix in (".png", ".jpg") for image in parse(page).images), page
        shown += "&lt;img src=x onerror=alert(1)&gt;" in text
    assert shown >= 3  # the class's page, its logit's page, the examples' image names


def test_a_second_run_dreams_and_collects_nothing_and_writes_the_site_again(built, tmp_path):
    built_atlas, checkpoint, data, _ = built
    atlas = shutil.copytree(built_atlas, tmp_path / "atlas")  # copy2: the same times
    kept = [*atlas.glob("units/*/*.png"), *atlas.glob("units/*/*.json"), atlas / "examples.json"]
    times = {path: path.stat().st_mtime_ns for path in kept}
    (atlas / "index.html").unlink()
    result = _build(checkpoint, data, atlas)
    assert result.exit_code == 0, result.output
    assert "0 dreamt now, 12 done before" in " ".join(result.output.split())
    assert {path: path.stat().st_mtime_ns for path in kept} == times
    assert (atlas / "index.html").is_file()
