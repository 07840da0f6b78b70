"""Dataset examples: one streaming pass keeps exactly the brute-force top-k per unit, in bounded memory, and cuts
crops about the peak, whatever the folder holds."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from dreamengine import DreamModel
from dreamengine.atlas.examples import collect_examples
from dreamengine.atlas.folder import CROP_SIDE
from dreamengine.atlas.images import fit_box, image_files
from dreamengine.atlas.receptive import receptive_field
from dreamengine.atlas.topk import TopK
from dreamengine.errors import DreamError
from dreamengine.run.imaging import fit_image, load_image
from dreamengine.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = (32, 32)
LAYERS = [
    {"name": "conv2", "slug": "conv2", "units": [0, 3, 15]},
    {"name": "relu1", "slug": "relu-1", "units": [2]},
    {"name": "logits", "slug": "logits", "units": [0, 3]},
]
HOSTILE = ["a b.png", "quote ' \" .png", "<script>alert(1)<%2Fscript>.png", "ünïcødé 猫.png", "x.jpg"]


def write_images(folder, names, seed=0):
    """Random pictures of assorted shapes (none square), one per name."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        shape = (24 + 5 * (i % 7), 40 + 3 * (i % 5), 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / name, quality=95)


@pytest.fixture
def flat(tmp_path):
    """A flat folder: hostile names, plain names and one corrupt file."""
    folder = tmp_path / "flat"
    write_images(folder, HOSTILE + [f"{i}.png" for i in range(6)])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


@pytest.fixture
def classes(tmp_path):
    """A class-folder dataset whose class folders have hostile names."""
    root = tmp_path / "dataset"
    write_images(root / "cats & <dogs>", ["1.png", "2 two.png", "3.png"], seed=1)
    write_images(root / "ünï 'quoted'", ["a.png", "b.png"], seed=2)
    return root


def brute_force(model, folder, layers, size=SIZE):
    """Every readable image's mean activation, peak and peak position of every unit, then the map's minimum and its
    position, one image at a time."""
    found = {}
    for path in image_files(folder):
        try:
            image = fit_image(load_image(path), size[1], size[0])[None]
        except DreamError:
            continue
        names = [layer["name"] for layer in layers if layer["name"] != "logits"]
        with torch.no_grad(), model.capture(names) as seen:
            logits = model(image)
            outputs = {**seen, "logits": logits}
        for layer in layers:
            for unit in layer["units"]:
                cells = outputs[layer["name"]][0, unit].flatten()
                found.setdefault((layer["name"], unit), []).append(
                    (
                        path.relative_to(folder).as_posix(),
                        cells.mean().item(),
                        cells.max().item(),
                        int(cells.argmax()),
                        cells.min().item(),
                        int(cells.argmin()),
                    )
                )
    return found


def test_the_kept_examples_are_the_brute_force_top_k_of_every_unit(flat, tmp_path):
    model = tiny_model()
    with pytest.warns(UserWarning, match="broken.jpg"):
        result = collect_examples(model, LAYERS, flat, tmp_path / "atlas", k=3, batch=4, size=SIZE)
    expected = brute_force(model, flat, LAYERS)
    for (layer, unit), seen in expected.items():
        top = sorted(seen, key=lambda row: -row[1])[:3]
        kept = result["layers"][layer][str(unit)]
        assert [result["images"][record["image"]] for record in kept] == [row[0] for row in top]
        assert [record["activation"] for record in kept] == pytest.approx([row[1] for row in top], rel=1e-4)
        assert [record["peak"] for record in kept] == pytest.approx([row[2] for row in top], rel=1e-4)
        if layer == "conv2":  # a 16x16 map at 32x32: the cell of the peak
            assert [record["y"] * 16 + record["x"] for record in kept] == [row[3] for row in top]
    assert result["count"] == len(HOSTILE) + 6 and result["skipped"] == ["broken.jpg"]
    assert json.loads((tmp_path / "atlas" / "examples.json").read_text(encoding="utf-8")) == result


def test_the_most_negative_examples_are_the_brute_force_bottom_k(flat, tmp_path):
    model = tiny_model()
    with pytest.warns(UserWarning):
        result = collect_examples(model, LAYERS[:1], flat, tmp_path / "atlas", k=2, negatives=True, size=SIZE)
    for unit in LAYERS[0]["units"]:
        seen = brute_force(model, flat, LAYERS[:1])[("conv2", unit)]
        bottom = sorted(seen, key=lambda row: row[1])[:2]
        kept = result["negative"]["conv2"][str(unit)]
        assert [result["images"][record["image"]] for record in kept] == [row[0] for row in bottom]
        assert [record["crop"] for record in kept] == [f"examples/conv2/{unit}-neg{rank}.jpg" for rank in range(2)]
        assert all((tmp_path / "atlas" / record["crop"]).is_file() for record in kept)


def test_the_most_negative_examples_record_the_minimum_of_the_map_and_where_it_is(flat, tmp_path):
    model = tiny_model()
    with pytest.warns(UserWarning):
        result = collect_examples(model, LAYERS[:1], flat, tmp_path / "atlas", k=3, negatives=True, size=SIZE)
    for unit in LAYERS[0]["units"]:
        bottom = sorted(brute_force(model, flat, LAYERS[:1])[("conv2", unit)], key=lambda row: row[1])[:3]
        kept = result["negative"]["conv2"][str(unit)]
        assert [record["peak"] for record in kept] == pytest.approx([row[4] for row in bottom], rel=1e-4, abs=1e-6)
        assert [record["y"] * 16 + record["x"] for record in kept] == [row[5] for row in bottom]


@given(
    batches=st.lists(st.integers(1, 6), min_size=1, max_size=8),
    k=st.integers(1, 5),
    largest=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_merging_batch_after_batch_keeps_the_stable_top_k_of_all(batches, k, largest, seed):
    generator = torch.Generator().manual_seed(seed)
    rows, total = 3, sum(batches)
    values = torch.randint(0, 5, (rows, total), generator=generator).float()  # ties on purpose
    top, start = TopK(rows, k, largest=largest), 0
    for size in batches:
        chunk = slice(start, start + size)
        top.update(values[:, chunk], torch.arange(start, start + size), values[:, chunk] * 2, -values[:, chunk].long())
        start += size
    order = torch.sort(values, dim=1, descending=largest, stable=True).indices[:, :k]
    assert torch.equal(top.images, order)  # ties keep the image seen first
    assert torch.equal(top.values, values.gather(1, order))
    assert torch.equal(top.peaks, top.values * 2) and torch.equal(top.where, -top.values.long())


@pytest.mark.parametrize("largest", [True, False])
def test_ties_keep_the_image_seen_first_also_when_a_batch_is_larger_than_a_small_sort(largest):
    """torch sorts more than 16 values per row unstably unless asked: a batch of 32 ties must still keep the first."""
    values = torch.randint(0, 3, (4, 96), generator=torch.Generator().manual_seed(7)).float()  # ties everywhere
    top = TopK(4, 8, largest=largest)
    for start in range(0, 96, 32):
        chunk = slice(start, start + 32)
        top.update(values[:, chunk], torch.arange(start, start + 32), values[:, chunk], torch.zeros(4, 32).long())
    order = torch.sort(values, dim=1, descending=largest, stable=True).indices[:, :8]
    assert torch.equal(top.images, order)


def test_before_any_image_every_unit_keeps_nothing_and_k_must_be_positive():
    top = TopK(4, 8, largest=False)
    assert [tuple(t.shape) for t in (top.values, top.images, top.peaks, top.where)] == [(4, 0)] * 4
    assert repr(top) == "TopK(rows=4, k=8, largest=False)" and top.nbytes == 0
    with pytest.raises(DreamError, match="examples per unit must be at least 1, got 0"):
        TopK(4, 0)


def test_the_kept_state_does_not_grow_with_the_number_of_images():
    top = TopK(40, 8)
    sizes = []
    for start in range(0, 2000, 16):
        batch = torch.rand(40, 16)
        top.update(batch, torch.arange(start, start + 16), batch, torch.zeros(40, 16, dtype=torch.long))
        sizes.append(top.nbytes)
    assert len(set(sizes)) == 1 and sizes[0] == 40 * 8 * (4 + 8 + 4 + 8)


@pytest.mark.parametrize("count", [4, 20])
def test_collecting_holds_the_same_state_for_few_images_and_many(tmp_path, monkeypatch, count):
    held = []
    update = TopK.update

    def watched(self, *args):
        update(self, *args)
        held.append(self.nbytes)

    monkeypatch.setattr(TopK, "update", watched)
    write_images(tmp_path / "many", [f"{i}.png" for i in range(count)])
    collect_examples(tiny_model(), LAYERS, tmp_path / "many", tmp_path / "atlas", k=4, batch=4, size=SIZE)
    per_layer = 3 * 4 * 24 + 1 * 4 * 24 + 2 * 4 * 24  # units x k x (value, image, peak, where)
    assert sum(held[-len(LAYERS) :]) == per_layer  # after the last batch: k per unit, as after the first


def test_a_class_folder_dataset_lists_its_images_with_their_class_folder(classes, tmp_path):
    progress = []
    result = collect_examples(
        tiny_model(),
        LAYERS,
        classes,
        tmp_path / "atlas",
        k=8,
        batch=2,
        size=SIZE,
        on_progress=lambda *a: progress.append(a),
    )
    assert progress == [(2, 5), (4, 5), (5, 5)]
    assert set(result["images"]) == {
        "cats & <dogs>/1.png",
        "cats & <dogs>/2 two.png",
        "cats & <dogs>/3.png",
        "ünï 'quoted'/a.png",
        "ünï 'quoted'/b.png",
    }
    kept = result["layers"]["relu1"]["2"]
    assert len(kept) == 5  # fewer images than k: all of them, best first
    assert [record["activation"] for record in kept] == sorted((record["activation"] for record in kept), reverse=True)
    assert kept[0]["crop"] == "examples/relu-1/2-0.jpg"  # the slug of the layer's record names the folder


def test_crops_lie_in_the_image_about_the_peak_and_show_what_the_network_saw(classes, tmp_path):
    model = tiny_model()
    result = collect_examples(model, LAYERS, classes, tmp_path / "atlas", k=2, size=SIZE)
    field = receptive_field(model, "conv2", SIZE)
    for kept in result["layers"]["conv2"].values():
        for record in kept:
            left, top, right, bottom = record["box"]
            assert 0 <= left < right <= SIZE[1] and 0 <= top < bottom <= SIZE[0]
            cy, cx = field.centre(record["y"], record["x"])
            assert left <= cx <= right and top <= cy <= bottom
            if right - left == field.size[1]:  # not clipped: centred on the peak's cell
                assert abs((left + right) / 2 - cx) <= 1
            crop = Image.open(tmp_path / "atlas" / record["crop"])
            assert crop.format == "JPEG" and max(crop.size) == CROP_SIDE
            seen = fit_image(load_image(classes / result["images"][record["image"]]), *SIZE)
            window = seen[:, top:bottom, left:right]
            shrunk = torch.from_numpy(np.asarray(crop.resize((right - left, bottom - top)), dtype=np.float32) / 255)
            assert (
                shrunk.permute(2, 0, 1) - window
            ).abs().mean() < 0.1  # the same pixels (another region: ~0.3), from the original


def test_the_logits_record_the_logit_and_crop_the_whole_image(classes, tmp_path):
    model = tiny_model()
    result = collect_examples(model, LAYERS[2:], classes, tmp_path / "atlas", k=1, size=SIZE)
    (record,) = result["layers"]["logits"]["3"]
    image = fit_image(load_image(classes / result["images"][record["image"]]), *SIZE)
    with torch.no_grad():
        assert record["activation"] == pytest.approx(model(image[None])[0, 3].item(), rel=1e-4)
    assert "box" not in record and record["peak"] == record["activation"]
    assert record["crop"] == f"examples/images/{record['image']}.jpg"  # one file per image, for every class
    crop = Image.open(tmp_path / "atlas" / record["crop"])
    assert crop.size == (CROP_SIDE, CROP_SIDE)  # the whole square the network saw


def test_records_that_crop_the_same_pixels_share_one_file(classes, tmp_path):
    layers = [{"name": "conv2", "slug": "conv2", "units": list(range(16))}, LAYERS[2]]
    result = collect_examples(tiny_model(), layers, classes, tmp_path / "atlas", k=5, negatives=True, size=SIZE)
    crops = {}
    for group in ("layers", "negative"):
        for records in result[group].values():
            for record in (record for examples in records.values() for record in examples):
                crops.setdefault(record["crop"], set()).add((record["image"], tuple(record.get("box", ()))))
    assert all(len(sources) == 1 for sources in crops.values())  # a file shows one image's one region
    regions = [region for sources in crops.values() for region in sources]
    assert len(regions) == len(set(regions))  # and no region is written twice
    files = {path.relative_to(tmp_path / "atlas").as_posix() for path in (tmp_path / "atlas").rglob("*.jpg")}
    assert files == set(crops)
    assert sum(1 for name in files if name.startswith("examples/images/")) == 5


def test_fitting_crops_the_centre_as_a_photo_start_does(tmp_path):
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8))
    assert fit_box(picture.size, (20, 20)) == (10, 0, 40, 30)
    assert fit_box(picture.size, (10, 40)) == (0, 8.75, 50, 21.25)
    ours = picture.resize((20, 10), Image.Resampling.BICUBIC, box=fit_box(picture.size, (10, 20)))
    assert ours.tobytes() == ImageOps.fit(picture, (20, 10), method=Image.Resampling.BICUBIC).tobytes()


def test_the_atlas_size_comes_from_the_plan(classes, tmp_path):
    output = tmp_path / "atlas"
    output.mkdir()
    (output / "atlas.json").write_text(json.dumps({"version": 1, "size": [24, 24]}), encoding="utf-8")
    first = collect_examples(tiny_model(), LAYERS[:1], classes, output, k=2)
    again = collect_examples(tiny_model(), LAYERS[:1], classes, output, k=2)
    assert first["size"] == [24, 24] and first["count"] == again["count"] == 5
    assert first["layers"]["conv2"]["0"][0]["box"][2] <= 24


def test_an_atlas_among_its_images_is_refused_before_anything_is_written(classes, tmp_path):
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))
    for output, why in ((classes, "is --images"), (classes / "atlas", "is inside"), (tmp_path, "holds --images")):
        with pytest.raises(DreamError, match=why):
            collect_examples(tiny_model(), LAYERS[:1], classes, output, k=2)
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == before


def test_a_folder_without_images_is_a_clear_error(tmp_path):
    model = tiny_model()
    with pytest.raises(DreamError, match="does not exist"):
        collect_examples(model, LAYERS, tmp_path / "missing", tmp_path / "atlas")
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    (tmp_path / "empty" / ".hidden" / "x.png").write_bytes(b"")
    with pytest.raises(DreamError, match="holds no files"):
        collect_examples(model, LAYERS, tmp_path / "empty", tmp_path / "atlas")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello", encoding="utf-8")
    why = f"^none of the 1 files in {re.escape(repr(str(tmp_path / 'junk')))} is a readable image\\.$"
    with pytest.warns(UserWarning, match="notes.txt"), pytest.raises(DreamError, match=why):
        collect_examples(model, LAYERS, tmp_path / "junk", tmp_path / "atlas")
    assert not (tmp_path / "atlas" / "examples.json").exists()


def test_a_unit_the_layer_lacks_is_a_clear_error(classes, tmp_path):
    with pytest.raises(DreamError, match=r"^layer 'conv2' of tiny has 16 units \(0-15\), not 16\.$"):
        collect_examples(
            tiny_model(), [{"name": "conv2", "slug": "conv2", "units": [3, 16]}], classes, tmp_path / "atlas"
        )


def test_a_finished_collection_is_not_done_again_until_something_it_depends_on_changes(classes, tmp_path, monkeypatch):
    passes = []
    update = TopK.update
    monkeypatch.setattr(TopK, "update", lambda self, *args: (passes.append(1), update(self, *args)))
    model, output = tiny_model(), tmp_path / "atlas"

    def collect(**settings):
        passes.clear()
        result = collect_examples(model, LAYERS, classes, output, size=SIZE, **{"k": 2, **settings})
        return result, bool(passes)

    first, ran = collect()
    assert ran
    again, ran = collect(on_progress=lambda *counts: passes.append(counts) or None)
    assert again == first and passes == [(5, 5)]  # no forward: only the progress, complete
    assert collect(k=3)[1]
    assert not collect(k=3)[1]
    write_images(classes / "new", ["n.png"], seed=5)  # another image
    assert collect(k=3)[1]
    (output / collect(k=3)[0]["layers"]["conv2"]["0"][0]["crop"]).unlink()  # a crop gone
    assert collect(k=3)[1]
    with torch.no_grad():
        model.net.conv1.bias += 0.1  # other weights
    assert collect(k=3)[1]


class Tokens(torch.nn.Module):
    """A patch grid as a transformer's tokens, ``(batch, tokens, channels)``."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class MeanToken(torch.nn.Module):
    def forward(self, x):
        return x.mean(1)


def test_a_layer_of_tokens_keeps_its_examples_without_a_place_in_the_picture(classes, tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 4, stride=4), Tokens(), MeanToken(), torch.nn.Linear(6, 3))
    model = DreamModel(net, name="tokens", input_size=(16, 16)).freeze()
    layers = [{"name": "1", "slug": "tokens", "units": [4]}]
    result = collect_examples(model, layers, classes, tmp_path / "atlas", size=SIZE)
    kept = result["layers"]["1"]["4"]
    assert len(kept) == 5 and all("box" not in record and "y" not in record for record in kept)
    image = fit_image(load_image(classes / result["images"][kept[0]["image"]]), *SIZE)
    with torch.no_grad(), model.capture(["1"]) as seen:
        model(image[None])
    assert kept[0]["activation"] == pytest.approx(seen["1"][0, 4].mean().item(), rel=1e-4)  # features of all tokens
    assert kept[0]["crop"].startswith("examples/images/")


class DarkIsNaN(torch.nn.Module):
    """The identity, except that a dark picture's every value is NaN."""

    def forward(self, x):
        return torch.where(x.mean((1, 2, 3), keepdim=True) < 0, torch.nan, x)


def test_a_picture_that_gives_nan_is_never_an_example_and_the_model_keeps_its_mode(tmp_path):
    net = torch.nn.Sequential(DarkIsNaN(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2))
    model = DreamModel(net, name="sick", input_size=(16, 16)).freeze().train()
    write_images(tmp_path / "images", ["a.png", "b.png"])
    Image.new("RGB", (20, 20), "black").save(tmp_path / "images" / "dark.png")  # normalised: below 0
    result = collect_examples(
        model, [{"name": "0", "units": [1]}], tmp_path / "images", tmp_path / "atlas", k=3, negatives=True
    )
    assert {result["images"][record["image"]] for record in result["layers"]["0"]["1"][:2]} == {"a.png", "b.png"}
    assert result["layers"]["0"]["1"][2]["activation"] is None  # last, and not a number
    assert result["negative"]["0"]["1"][2]["activation"] is None
    assert model.training


def test_the_skipped_files_warning_names_the_first_five_and_counts_the_rest(tmp_path):
    from dreamengine.atlas.examples import _warn_skipped

    with pytest.warns(UserWarning) as caught:
        _warn_skipped([tmp_path / "sub" / f"{i}.txt" for i in range(7)], tmp_path)
        _warn_skipped([tmp_path / "a.txt"], tmp_path)
        _warn_skipped([tmp_path / f"{i}.txt" for i in range(5)], tmp_path)
    source = repr(str(tmp_path))
    assert [str(warning.message) for warning in caught] == [
        f"skipped 7 file(s) of {source} that are not readable images: 'sub/0.txt', 'sub/1.txt', 'sub/2.txt', "
        "'sub/3.txt', 'sub/4.txt' and 2 more.",
        f"skipped 1 file(s) of {source} that are not readable images: 'a.txt'.",
        f"skipped 5 file(s) of {source} that are not readable images: '0.txt', '1.txt', '2.txt', '3.txt', '4.txt'.",
    ]


def test_the_batch_defaults_to_sixteen_images_and_may_be_one_but_not_less(tmp_path):
    write_images(tmp_path / "images", [f"{i:02}.png" for i in range(17)])
    model, progress = tiny_model(), []

    def collect(output, **settings):
        progress.clear()
        collect_examples(
            model,
            LAYERS[:1],
            tmp_path / "images",
            output,
            k=1,
            size=SIZE,
            on_progress=lambda *counts: progress.append(counts),
            **settings,
        )
        return list(progress)

    assert collect(tmp_path / "a") == [(16, 17), (17, 17)]
    assert collect(tmp_path / "b", batch=1) == [(done, 17) for done in range(1, 18)]
    with pytest.raises(DreamError, match=r"^the batch of images must be at least 1, got 0\.$"):
        collect(tmp_path / "c", batch=0)
    assert not (tmp_path / "c").exists()


def test_files_that_are_not_images_are_skipped_in_whichever_batch_they_are(tmp_path):
    write_images(tmp_path / "images", ["b.png", "c.png", "e.png", "f.png"])
    for name in ("a.txt", "d.txt", "g.txt"):  # in the first, second and last batch of three
        (tmp_path / "images" / name).write_text("not a picture", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"skipped 3 file\(s\) .*: 'a.txt', 'd.txt', 'g.txt'\.$"):
        result = collect_examples(
            tiny_model(), LAYERS[:1], tmp_path / "images", tmp_path / "atlas", k=2, batch=3, size=SIZE
        )
    assert result["skipped"] == ["a.txt", "d.txt", "g.txt"] and result["count"] == 4
    pictures = {"b.png", "c.png", "e.png", "f.png"}
    assert result["images"] == sorted(result["images"]) and set(result["images"]) <= pictures


def test_examples_json_is_what_collecting_returns_indented_with_its_version_and_k(classes, tmp_path):
    result = collect_examples(tiny_model(), LAYERS, classes, tmp_path / "atlas", k=2, size=SIZE)
    assert result["version"] == 1 and result["k"] == 2 and result["size"] == list(SIZE)
    assert result["source"] == str(classes) and result["count"] == 5 and result["skipped"] == []
    assert (tmp_path / "atlas" / "examples.json").read_bytes() == json.dumps(result, indent=1).encode()


def test_a_layer_without_a_slug_is_named_by_its_name_and_is_the_same_collection_as_one_with_it(classes, tmp_path):
    passes = []
    model, output = tiny_model(), tmp_path / "atlas"

    def collect(layers, **settings):
        passes.clear()
        with pytest.MonkeyPatch.context() as patch:
            update = TopK.update
            patch.setattr(TopK, "update", lambda self, *args: (passes.append(1), update(self, *args)))
            result = collect_examples(model, layers, classes, output, k=1, size=SIZE, **settings)
        return result, bool(passes)

    bare, ran = collect([{"name": "conv2", "units": [5]}])
    assert ran and bare["layers"]["conv2"]["5"][0]["crop"] == "examples/conv2/5-0.jpg"
    assert (output / "examples" / "conv2" / "5-0.jpg").is_file()
    assert collect([{"name": "conv2", "slug": "conv2", "units": [5]}]) == (bare, False)  # nothing changed
    renamed, ran = collect([{"name": "conv2", "slug": "second", "units": [5]}])  # another slug: other crops
    assert ran and renamed["layers"]["conv2"]["5"][0]["crop"] == "examples/second/5-0.jpg"
    assert (output / renamed["layers"]["conv2"]["5"][0]["crop"]).is_file()
    other, ran = collect([{"name": "conv1", "slug": "second", "units": [5]}])  # another layer
    assert ran and list(other["layers"]) == ["conv1"]
    other, ran = collect([{"name": "conv1", "slug": "second", "units": [6]}])  # another unit
    assert ran and list(other["layers"]["conv1"]) == ["6"]
    assert "negative" not in other
    other, ran = collect([{"name": "conv1", "slug": "second", "units": [6]}], negatives=True)  # negatives too
    assert ran and list(other["negative"]["conv1"]) == ["6"]
    assert not collect([{"name": "conv1", "slug": "second", "units": [6]}], negatives=True)[1]
    (output / other["negative"]["conv1"]["6"][0]["crop"]).unlink()  # a negative example's crop gone
    assert collect([{"name": "conv1", "slug": "second", "units": [6]}], negatives=True)[1]


def test_a_file_name_that_is_not_utf8_is_read_and_fingerprinted(tmp_path):
    write_images(tmp_path / "images", ["a.png"])
    try:
        write_images(tmp_path / "images", [os.fsdecode(b"\xff.png")], seed=3)
    except (OSError, UnicodeError):
        pytest.skip("the file system takes only UTF-8 names")
    model = tiny_model()
    first = collect_examples(model, LAYERS[:1], tmp_path / "images", tmp_path / "atlas", k=2, size=SIZE)
    assert sorted(first["images"]) == ["a.png", os.fsdecode(b"\xff.png")]
    assert collect_examples(model, LAYERS[:1], tmp_path / "images", tmp_path / "atlas", k=2, size=SIZE) == first


class Pair(torch.nn.Module):
    """A layer whose output is not one tensor."""

    def forward(self, x):
        return x, x


class Total(torch.nn.Module):
    """A layer whose output is one number per batch, without units."""

    def forward(self, x):
        return x.sum()


@pytest.mark.parametrize("layer", [Pair(), Total()])
def test_a_layer_without_units_is_a_clear_error(classes, tmp_path, layer):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), layer)
    model = DreamModel(net, name="odd", input_size=(16, 16)).freeze()
    why = r"^layer '1' of odd does not output a tensor, so it has no units\.$"
    with pytest.raises(DreamError, match=why):
        collect_examples(model, [{"name": "1", "units": [0]}], classes, tmp_path / "atlas", size=SIZE)
    assert not (tmp_path / "atlas").exists()


def test_a_layer_of_one_value_per_unit_keeps_the_same_examples_as_the_logits_it_makes(classes, tmp_path):
    model = tiny_model()
    by_name = collect_examples(model, [{"name": "head", "units": [0, 3]}], classes, tmp_path / "a", k=2, size=SIZE)
    logits = collect_examples(model, LAYERS[2:], classes, tmp_path / "b", k=2, size=SIZE)
    assert [[r["image"] for r in kept] for kept in by_name["layers"]["head"].values()] == [
        [r["image"] for r in kept] for kept in logits["layers"]["logits"].values()
    ]
    assert by_name["layers"]["head"]["3"][0]["activation"] == logits["layers"]["logits"]["3"][0]["activation"]


class Head(torch.nn.Module):
    """The first three values of whatever comes in: logits at any size."""

    def forward(self, x):
        return x[:, :3]


def test_the_units_of_a_layer_are_counted_at_the_atlas_size(classes, tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 4, stride=4), torch.nn.Flatten(), Head())
    model = DreamModel(net, name="flat", input_size=(16, 16)).freeze()  # 2 x 4 x 4 units at 16, 2 x 8 x 8 at 32
    result = collect_examples(model, [{"name": "1", "units": [100]}], classes, tmp_path / "atlas", k=1, size=SIZE)
    assert len(result["layers"]["1"]["100"]) == 1
    with pytest.raises(DreamError, match=r"has 128 units \(0-127\), not 128\.$"):
        collect_examples(model, [{"name": "1", "units": [128]}], classes, tmp_path / "atlas", k=1, size=SIZE)


def test_the_boxes_are_the_receptive_fields_at_the_atlas_size(classes, tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.AdaptiveAvgPool2d(4), Head())
    model = DreamModel(net, name="pooled", input_size=(16, 16)).freeze()  # 4 x 4 cells: 4 pixels a cell at 16, 8 at 32
    result = collect_examples(
        model, [{"name": "1", "units": [0, 1, 2, 3]}], classes, tmp_path / "atlas", k=5, size=SIZE
    )
    field = receptive_field(model, "1", SIZE)
    assert field.stride == (8, 8)
    records = [record for kept in result["layers"]["1"].values() for record in kept]
    assert len({(record["y"], record["x"]) for record in records}) > 1
    for record in records:
        assert record["box"] == list(field.box(record["y"], record["x"], *SIZE))
        left, top, right, bottom = record["box"]
        assert left <= 8 * record["x"] + 4 <= right and top <= 8 * record["y"] + 4 <= bottom


class Tripwire(torch.nn.Module):
    """Counts the pictures it sees."""

    def __init__(self):
        super().__init__()
        self.seen = 0

    def forward(self, x):
        self.seen += len(x)
        return x


def test_the_forward_stops_at_the_deepest_layer_unless_the_logits_are_wanted(classes, tmp_path):
    torch.manual_seed(0)
    tripwire = Tripwire()
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), tripwire, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2)
    )
    net.num_classes = 2
    model = DreamModel(net, name="wired", input_size=(16, 16)).freeze()
    result = collect_examples(model, [{"name": "0", "units": [1]}], classes, tmp_path / "a", k=5, size=SIZE)
    assert tripwire.seen == 0 and len(result["layers"]["0"]["1"]) == 5  # the layers after conv never ran
    layers = [{"name": "0", "units": [1]}, {"name": "logits", "units": [1]}]
    result = collect_examples(model, layers, classes, tmp_path / "b", k=5, size=SIZE)
    assert tripwire.seen == 5 and len(result["layers"]["logits"]["1"]) == 5  # each picture once
