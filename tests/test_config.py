"""RunConfig from a script: its settings are checked and normalised as a config file's are."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamengine import DreamError, RunConfig


def test_a_scripts_settings_mean_what_they_mean_in_a_config_file():
    config = RunConfig(classes="toucan", reg="blur,flip", strategy="none", lr=1, output=Path("birds"), size="64")
    assert config.classes == ["toucan"] and config.reg == ["blur", "flip"] and config.strategy == ["none"]
    assert config.lr == 1.0 and isinstance(config.lr, float) and config.output == "birds" and config.size == 64
    assert RunConfig(classes=[130, "toucan"]).classes == ["130", "toucan"]
    assert RunConfig() == RunConfig().updated({}, "nothing")


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"steps": "10"}, "setting 'steps' in RunConfig must be int, got '10'."),
        ({"fold_norms": "yes"}, "setting 'fold_norms' in RunConfig must be bool, got 'yes'."),
        ({"size": 32.5}, "size must be N (square) or WIDTHxHEIGHT"),
        ({"options": {"blur": 0.5}}, "'options' in RunConfig must be a table of tables"),
        ({"classes": []}, "setting 'classes' in RunConfig must list one class or more, by name or index; got []."),
        (
            {"classes": [1.5]},
            "setting 'classes' in RunConfig must list one class or more, by name or index; got [1.5].",
        ),
        ({"reg": [["blur"]]}, "setting 'reg' in RunConfig must list component specs as text, as in ['clamp', "),
        ({"strategy": {"octaves": 1}}, "setting 'strategy' in RunConfig must list component specs as text"),
        ({"seed": 2**32}, "setting 'seed' in RunConfig must be 0 to 4294967295, got 4294967296."),
        ({"seed": -1}, "setting 'seed' in RunConfig must be 0 to 4294967295, got -1."),
    ],
)
def test_a_setting_of_the_wrong_kind_is_one_clear_error(settings, message):
    with pytest.raises(DreamError) as error:
        RunConfig(**settings)
    assert message in str(error.value)
