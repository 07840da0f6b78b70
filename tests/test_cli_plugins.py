"""The command line with third-party plugins: listing, collisions, switching them off, their commands."""

from __future__ import annotations

import pytest

from dreamengine.cli import cli

REGISTERS_BRACKETS = '''
    from dreamengine import Regularizer, hookimpl

    class Square(Regularizer):
        """Keep pixels in [low, high] and [bold]nothing else[/bold]."""
        def project(self, image, generator):
            return image

    @hookimpl
    def dreamengine_register_regularizers(register):
        register("square", Square)
'''


@pytest.fixture(autouse=True)
def entry_points_on(monkeypatch, fresh_cli):
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "0")


def invoke(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_summaries_are_shown_as_written_not_as_markup(runner, fake_distribution):
    fake_distribution("dreamengine-square", "fake_square", REGISTERS_BRACKETS)
    output = invoke(runner, "list", "regularizers").output
    assert "Keep pixels in [low, high] and [bold]nothing else[/bold]." in output.replace("\n", " ").replace("│", "")
    assert "from [sigma, sigma_max]" in " ".join(invoke(runner, "list", "regularizers", "blur").output.split())


CLASHES = '''
    from dreamengine import Regularizer, hookimpl

    class MyBlur(Regularizer):
        """Another blur."""
        def project(self, image, generator):
            return image

    @hookimpl
    def dreamengine_register_regularizers(register):
        register("blur", MyBlur)
'''


def test_a_name_clash_is_explained_and_plugins_still_lists_everything(runner, fake_distribution):
    fake_distribution("dreamengine-clash", "fake_clash", CLASHES)
    expected = (
        "regularizer name 'blur' is registered twice: by plugin 'dreamengine_builtins.projections' "
        "(from dreamengine) and by plugin 'fake_clash' (from dreamengine-clash). Uninstall or block one "
        "of them (DREAMENGINE_BLOCK_PLUGINS=fake_clash)."
    )
    plugins = invoke(runner, "plugins")
    assert plugins.exit_code == 0
    assert "fake_clash" in plugins.output and "dreamengine_builtins.projections" in plugins.output
    assert "registry problem: " + expected in " ".join(plugins.output.split())
    for args in (["list"], ["run", "--steps", "1"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1 and expected in " ".join(result.output.split())


def test_blocking_the_clashing_plugin_fixes_it(runner, fake_distribution, monkeypatch):
    fake_distribution("dreamengine-clash", "fake_clash", CLASHES)
    monkeypatch.setenv("DREAMENGINE_BLOCK_PLUGINS", "fake_clash")
    result = invoke(runner, "list", "regularizers")
    assert result.exit_code == 0 and "fake_clash" not in result.output


def test_no_plugins_flag_loads_only_the_builtins(runner, fake_distribution, monkeypatch):
    fake_distribution("dreamengine-square", "fake_square", REGISTERS_BRACKETS)
    assert "square" in invoke(runner, "list", "regularizers").output
    monkeypatch.setattr("dreamengine.cli.group._HOST", None)
    result = invoke(runner, "--no-plugins", "list", "regularizers")
    assert result.exit_code == 0 and "square" not in result.output and "blur" in result.output


ADDS_COMMANDS = '''
    import click
    from dreamengine import hookimpl

    @hookimpl
    def dreamengine_register_commands(cli):
        @cli.command()
        @click.argument("name")
        def hello(name):
            """Say hello."""
            click.echo(f"hello {name}")
'''

FAILS_TO_ADD = """
    from dreamengine import hookimpl

    @hookimpl
    def dreamengine_register_commands(cli):
        raise RuntimeError("no commands today")
"""

REPLACES_RUN = '''
    import click
    from dreamengine import hookimpl

    @hookimpl
    def dreamengine_register_commands(cli):
        @cli.command("wave")
        def wave():
            """Would be added, if the plugin did not also replace run."""

        @cli.command("run")
        def run():
            """Hijacks dreamengine run."""
'''


@pytest.fixture
def main(monkeypatch, capsys):
    """Run ``dreamengine ARGS`` through the script's entry point, leaving the global group as it was."""
    from dreamengine import cli as cli_module
    from dreamengine.cli import output

    monkeypatch.setattr(cli_module.cli, "commands", dict(cli_module.cli.commands))
    monkeypatch.setattr(output.err_console, "width", 300)

    def run(*args):
        monkeypatch.setattr("sys.argv", ["dreamengine", *args])
        with pytest.raises(SystemExit) as exit_info:
            cli_module.main()
        captured = capsys.readouterr()
        return exit_info.value.code, captured.out, " ".join(captured.err.split())

    return run


def test_a_plugin_adds_a_command(main, fake_distribution):
    fake_distribution("dreamengine-hello", "fake_hello", ADDS_COMMANDS)
    assert main("hello", "dreamer") == (0, "hello dreamer\n", "")


def test_no_plugins_flag_keeps_plugin_commands_out(main, fake_distribution):
    fake_distribution("dreamengine-hello", "fake_hello", ADDS_COMMANDS)
    code, out, err = main("--no-plugins", "hello", "dreamer")
    assert code == 2 and "No such command 'hello'" in err


def test_a_plugin_failing_to_add_commands_is_skipped_with_a_warning(main, fake_distribution):
    fake_distribution("dreamengine-fails", "fake_fails", FAILS_TO_ADD)
    fake_distribution("dreamengine-hello", "fake_hello", ADDS_COMMANDS)
    code, out, err = main("hello", "anyway")
    assert (code, out) == (0, "hello anyway\n")
    assert (
        "plugin 'fake_fails' (dreamengine-fails) could not add its commands (RuntimeError: no commands today); "
        "fix or upgrade it, or block it with DREAMENGINE_BLOCK_PLUGINS=fake_fails."
    ) in err


def test_a_plugin_cannot_replace_a_command(main, fake_distribution):
    fake_distribution("dreamengine-hijack", "fake_hijack", REPLACES_RUN)
    code, out, err = main("run", "--help")
    assert code == 0 and "Dream: maximise an objective" in out
    assert "plugin 'fake_hijack' (dreamengine-hijack) tried to replace the command(s) run" in err
    assert main("wave")[0] == 2


def test_a_plugin_that_cannot_be_imported_is_listed_as_not_loaded(main, fake_distribution):
    fake_distribution("dreamengine-broken", "fake_broken", "import not_a_module_anywhere\n")
    code, out, err = main("plugins")
    assert code == 0 and "dreamengine_builtins.objectives" in out
    listed = " ".join(out.split())
    assert "not loaded: fake_broken (dreamengine-broken): could not be imported (ModuleNotFoundError" in listed
    assert "warning: plugin 'fake_broken' (dreamengine-broken) could not be imported" in err
