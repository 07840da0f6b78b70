"""The atlas's examples and class links on the real default model: a cat photo drives the cat classes, and the
classifier's pooled layer is found (with norms folded, as a run prepares the model)."""

from __future__ import annotations

import pytest
from PIL import Image

from dreamengine.atlas.classes import class_links
from dreamengine.atlas.examples import collect_examples
from dreamengine_builtins.models import efficientnet_lite

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (a test extra) holds the photographs")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    return efficientnet_lite("efficientnet-lite0").freeze().fold_norms()


def test_the_cat_photo_is_the_best_example_of_the_cat_classes(model, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea", "coffee", "rocket", "astronaut"):
        Image.fromarray(getattr(skimage_data, name)()).save(photos / f"{name}.jpg")
    cats = [index for index, name in enumerate(model.class_names) if name.split(",")[0].endswith("tabby")]
    layers = [
        {"name": "blocks.2", "slug": "blocks.2", "units": [0, 1]},
        {"name": "logits", "slug": "logits", "units": cats},
    ]
    result = collect_examples(model, layers, photos, tmp_path / "atlas", k=2, size=(128, 128))
    for unit in cats:
        assert result["images"][result["layers"]["logits"][str(unit)][0]["image"]] == "chelsea.jpg"
    record = result["layers"]["blocks.2"]["0"][0]
    left, top, right, bottom = record["box"]
    assert 8 < right - left < 128 and 8 < bottom - top < 128  # a stage in the middle sees part of the picture


def test_the_classes_come_from_the_pooled_head(model, tmp_path):
    links = class_links(model, tmp_path)
    assert links["layer"] == "bn2"  # timm's EfficientNet: conv_head, then bn2 (norm and activation), then the pool
    assert len(links["classes"]) == 1000 and len(links["units"]) == 1280
    assert links["classes"][130]["name"] == "flamingo" and len(links["classes"][130]["units"]) == 8
