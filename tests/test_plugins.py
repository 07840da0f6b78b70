"""Plugin loading: built-ins, entry points of installed distributions, switches and failures."""

from __future__ import annotations

from dreamengine.plugins import BUILTIN_PLUGINS, load_plugins

GOOD = """
    import torch
    from dreamengine import Regularizer, hookimpl

    class Sharpen(Regularizer):
        '''Sharpen the image a little after each step.'''
        def __init__(self, amount: float = 0.1):
            self.amount = amount
        def project(self, image, generator):
            return image

    @hookimpl
    def dreamengine_register_regularizers(register):
        register("sharpen", Sharpen)
"""


def test_builtins_load_without_entry_points(host):
    assert [i.name for i in host.infos] == list(BUILTIN_PLUGINS)
    assert all(i.builtin and i.distribution == "dreamengine" for i in host.infos)
    hooks = {i.name: i.hooks for i in host.infos}
    assert hooks["dreamengine_builtins.projections"] == ("dreamengine_register_regularizers",)


#: The built-in modules of regularizers, each holding those of one phase (docs/architecture.md, "Where a new piece
#: belongs"), and the regularizers each registers.
PHASE_MODULES = {
    "dreamengine_builtins.transforms": ("transform", {"flip", "jitter", "roll", "scale", "rotate"}),
    "dreamengine_builtins.penalties": ("penalty", {"tv", "l2"}),
    "dreamengine_builtins.gradients": ("gradient", {"gradnorm", "gradblur"}),
    "dreamengine_builtins.projections": ("project", {"clamp", "blur", "chromablur"}),
}


def test_each_built_in_regularizer_lives_in_the_module_of_the_phase_it_acts_in(host):
    entries = host.registry.entries["regularizers"]
    for module, (phase, names) in PHASE_MODULES.items():
        assert {name for name, entry in entries.items() if entry.plugin == module} == names, module
        for name in names:
            assert entries[name].target().phases() == {phase}, name


def test_an_installed_distribution_is_picked_up(fake_distribution):
    fake_distribution("dreamengine-sharpen", "fake_sharpen", GOOD)
    host = load_plugins(entry_points=True, blocked=(), trace=False)
    info = next(i for i in host.infos if i.name == "fake_sharpen")
    assert (info.distribution, info.version, info.builtin) == ("dreamengine-sharpen", "0.1", False)
    assert host.registry.get("regularizers", "sharpen").plugin == "fake_sharpen"


def test_autoload_can_be_switched_off_by_environment(fake_distribution, monkeypatch):
    fake_distribution("dreamengine-sharpen", "fake_sharpen", GOOD)
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
    assert "sharpen" not in load_plugins().registry.names("regularizers")


def test_a_plugin_can_be_blocked_by_environment(fake_distribution, monkeypatch):
    fake_distribution("dreamengine-sharpen", "fake_sharpen", GOOD)
    monkeypatch.setenv("DREAMENGINE_BLOCK_PLUGINS", "fake_sharpen")
    monkeypatch.delenv("DREAMENGINE_NO_ENTRYPOINTS", raising=False)
    assert "sharpen" not in load_plugins().registry.names("regularizers")


def test_an_import_error_names_the_distribution_and_the_rest_loads(fake_distribution):
    fake_distribution("dreamengine-broken", "fake_broken", "import not_a_module_anywhere\n")
    host = load_plugins(entry_points=True, blocked=(), trace=False)
    (failure,) = host.failures
    assert failure.name == "fake_broken" and failure.distribution == "dreamengine-broken"
    assert "ModuleNotFoundError" in failure.message and "DREAMENGINE_BLOCK_PLUGINS=fake_broken" in failure.message
    assert "blur" in host.registry.names("regularizers")


def test_a_misspelt_hook_is_reported_with_a_suggestion(fake_distribution):
    fake_distribution(
        "dreamengine-typo",
        "fake_typo",
        """
        from dreamengine import hookimpl
        @hookimpl
        def dreamengine_register_regularizer(register):
            pass
    """,
    )
    host = load_plugins(entry_points=True, blocked=(), trace=False)
    (failure,) = host.failures
    assert "Did you mean 'dreamengine_register_regularizers'" in failure.message
    assert "fake_typo" not in [i.name for i in host.infos]


def test_a_hook_with_wrong_arguments_is_reported(fake_distribution):
    fake_distribution(
        "dreamengine-args",
        "fake_args",
        """
        from dreamengine import hookimpl
        @hookimpl
        def dreamengine_register_regularizers(register, extra):
            pass
    """,
    )
    host = load_plugins(entry_points=True, blocked=(), trace=False)
    (failure,) = host.failures
    assert failure.name == "fake_args" and "wrong arguments" in failure.message


def test_trace_prints_hook_calls(capsys):
    host = load_plugins(entry_points=False, blocked=(), trace=True)
    host.hook.dreamengine_register_commands(cli=None)
    assert "dreamengine_register_commands" in capsys.readouterr().err


def test_trace_shows_each_plugins_registration_calls(capsys):
    host = load_plugins(entry_points=False, blocked=(), trace=True)
    host.registry.names("presets")
    err = capsys.readouterr().err
    assert "dreamengine_register_presets [hook]" in err and "finish dreamengine_register_presets" in err
    assert "register: <function register[dreamengine_builtins.presets] at" in err
