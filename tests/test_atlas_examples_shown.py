"""A unit page's dataset examples: the images that turn the unit on, and those that drive it below 0, never one
that leaves it at 0, and so never one image in both lists (issue 27's examples that mean something)."""

from __future__ import annotations

from dreamengine.atlas.check import unit_check
from dreamengine.atlas.contents import AtlasUnit, Example
from dreamengine.atlas.folder import AtlasLayer
from dreamengine_builtins.panels import NONE_ACTIVATE, ExamplesPanel

LAYER = AtlasLayer("bn2", "bn2", "features", (4, 2, 2), (0,))


def _example(name: str, activation: float) -> Example:
    return Example(image=name, activation=activation, crop=f"examples/bn2/{name}.jpg")


def _shown(unit: AtlasUnit) -> list[str]:
    html = ExamplesPanel().render(unit, atlas=None)
    return [part.split(".jpg")[0] for part in html.split('src="../../examples/bn2/')[1:]]


def test_only_images_that_turn_the_unit_on_are_its_examples_and_only_those_below_0_its_negatives():
    unit = AtlasUnit(
        LAYER,
        0,
        examples=(_example("a", 2.5), _example("b", 0.25), _example("zero", 0.0), _example("also-zero", 0.0)),
        negatives=(_example("zero", 0.0), _example("c", -0.5)),
    )
    assert [e.image for e in unit.activating] == ["a", "b"] and [e.image for e in unit.opposing] == ["c"]
    assert _shown(unit) == ["a", "b", "c"]  # "zero" stood in both lists: it is in neither
    html = ExamplesPanel().render(unit, atlas=None)
    assert "<h3>Most negative</h3>" in html and NONE_ACTIVATE not in html


def test_a_rectified_unit_has_no_negatives_and_one_the_dataset_never_turns_on_says_so():
    after_relu = AtlasUnit(LAYER, 0, examples=(_example("a", 1.0),), negatives=(_example("zero", 0.0),))
    assert _shown(after_relu) == ["a"] and "Most negative" not in ExamplesPanel().render(after_relu, atlas=None)
    dead = AtlasUnit(LAYER, 0, examples=(_example("zero", 0.0), _example("less", -1.0)))
    html = ExamplesPanel().render(dead, atlas=None)
    assert _shown(dead) == [] and f"<p>{NONE_ACTIVATE}</p>" in html
    assert ExamplesPanel().render(AtlasUnit(LAYER, 0), atlas=None) == ""  # no examples collected: nothing to say


def test_the_check_still_reads_every_collected_example():
    dead = AtlasUnit(LAYER, 0, activation=0.5, examples=(_example("zero", 0.0), _example("less", -1.0)))
    assert dead.check == unit_check(0.5, [{"activation": 0.0}, {"activation": -1.0}])
    assert dead.check["passed"] is True  # a dream that turns on a unit the dataset never does beats it
