"""Units and classes, read from a classifier's weights, with the pooled layer found from the model's structure."""

from __future__ import annotations

import json

import pytest
import timm
import torch
from torch import nn

from dreamengine import DreamModel
from dreamengine.atlas.classes import CLASS_UNITS, UNIT_CLASSES, class_links, pooled_layer
from dreamengine.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


def known(weight: torch.Tensor) -> DreamModel:
    """A CNN whose 'features.relu' map is pooled into a linear classifier of the given weights; the module
    names say nothing about which is which."""
    classes, units = weight.shape
    torch.manual_seed(0)
    features = nn.Sequential()
    features.add_module("conv", nn.Conv2d(3, units, 3, padding=1))
    features.add_module("relu", nn.ReLU())
    net = nn.Sequential()
    net.add_module("features", features)
    net.add_module("squash", nn.AdaptiveAvgPool2d(1))
    net.add_module("flat", nn.Flatten())
    net.add_module("out", nn.Linear(units, classes))
    with torch.no_grad():
        net.out.weight.copy_(weight)
    names = ["tench, Tinca tinca", "<script>alert(1)</script>", "", "naïve 'cat'", "e", "f", "g", "h", "i", "j"]
    return DreamModel(net, name="known", input_size=(12, 12), class_names=names[:classes]).freeze()


def test_each_class_lists_its_strongest_units_and_each_unit_its_classes(tmp_path):
    weight = torch.arange(10 * 12, dtype=torch.float32).reshape(10, 12).remainder(17) - 8
    links = class_links(known(weight), tmp_path)
    assert links["layer"] == "features"  # the stage ends where the pooled map is made (after its ReLU)
    assert [c["name"] for c in links["classes"][:4]] == ["tench", "<script>alert(1)</script>", "class-2", "naïve 'cat'"]
    assert links["classes"][0]["description"] == "tench, Tinca tinca"
    for index, entry in enumerate(links["classes"]):
        expected = torch.topk(weight[index], CLASS_UNITS)
        assert entry["index"] == index
        assert [unit for unit, _ in entry["units"]] == expected.indices.tolist()
        assert [w for _, w in entry["units"]] == expected.values.tolist()
    assert set(links["units"]) == {str(u) for u in range(12)}
    for unit, pairs in links["units"].items():
        assert [c for c, _ in pairs] == torch.topk(weight[:, int(unit)], UNIT_CLASSES).indices.tolist()
    assert json.loads((tmp_path / "classes.json").read_text(encoding="utf-8")) == links


def test_timm_models_are_read_through_their_classifier():
    model = timm.create_model("resnet10t", pretrained=False, num_classes=7)
    found = pooled_layer(DreamModel(model, name="resnet10t", input_size=(64, 64)).freeze())
    assert found is not None and found[0] == "layer4" and torch.equal(found[1], model.fc.weight)
    assert pooled_layer(tiny_model())[0] == "relu2"


def test_a_model_whose_classifier_reads_no_pooled_map_gets_no_links(tmp_path):
    normed = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(4), nn.Linear(4, 3))
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 3))
    for net in (normed, flat, nn.Sequential(nn.Conv2d(3, 4, 3))):
        model = DreamModel(net, name="odd", input_size=(8, 8)).freeze()
        assert class_links(model, tmp_path) is None
    assert not (tmp_path / "classes.json").exists()
