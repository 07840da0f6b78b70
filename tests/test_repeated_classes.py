"""A batch that dreams the same class several times (e.g. with a diversity objective) keeps every dream."""

from __future__ import annotations

from dreamengine import RunConfig, hookimpl
from dreamengine.run.execute import dream
from dreamengine.run.imaging import read_manifest
from dreamengine.testing import plugin_host, tiny_model


class TinyModels:
    @hookimpl
    def dreamengine_register_models(self, register):
        register("tiny-net", lambda pretrained=False: tiny_model())


def test_each_repeat_of_a_class_gets_its_own_file(tmp_path):
    config = RunConfig(
        model="tiny-net",
        classes=["class1", "class1", "class2", "class1"],
        size=16,
        steps=1,
        init="noise",
        device="cpu",
        output=str(tmp_path),
    )
    with plugin_host(TinyModels()) as host:
        outcome = dream(host, config)
    assert [p.name for p in outcome.paths] == [
        "class1-seed0.png",
        "class1-2-seed0.png",
        "class2-seed0.png",
        "class1-3-seed0.png",
    ]
    assert [read_manifest(p)["target"]["item"] for p in outcome.paths] == [0, 1, 2, 3]
