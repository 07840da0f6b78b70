"""The command line starts at once: no torch for --help, plugin commands without the built-ins, a status line
while torch loads, one line after Ctrl-C at start-up."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest
from rich.console import Console

from dreamengine.cli import cli, output
from dreamengine.plugins import load_plugins

HEAVY = ("torch", "timm", "numpy", "PIL", "ray")

#: Runs `dreamengine --help`, then `dreamengine COMMAND --help` for every command, in one process, and prints
#: the commands and the heavy modules imported, as JSON.
HELP_EVERYWHERE = """
import json, sys
from dreamengine.cli import cli, main
sys.argv = ["dreamengine", "--help"]
try:
    main()
except SystemExit:
    pass
for name in sorted(cli.commands):
    try:
        cli.main([name, "--help"], prog_name="dreamengine")
    except SystemExit as stop:
        assert stop.code == 0, name
print(json.dumps({"commands": sorted(cli.commands), "heavy": sorted(m for m in HEAVY if m in sys.modules)}))
"""

ADDS_HELLO = '''
    import click
    from dreamengine import hookimpl

    @hookimpl
    def dreamengine_register_commands(cli):
        @cli.command()
        def hello():
            """Say hello."""
'''


def test_help_of_the_group_and_of_every_command_imports_no_torch(tmp_path, fake_distribution):
    fake_distribution("dreamengine-hello", "fake_hello", ADDS_HELLO)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "DREAMENGINE_NO_ENTRYPOINTS": "0",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
    }
    code = f"HEAVY = {HEAVY!r}\n" + HELP_EVERYWHERE
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["heavy"] == []
    assert {"hello", "run", "study", "list", "plugins"} <= set(found["commands"])  # the plugin's command is listed
    if any(ep.name == "extras" for ep in importlib.metadata.entry_points(group="dreamengine")):
        assert "tv" in found["commands"]  # dreamengine-extras, installed beside dreamengine, is light too


@pytest.fixture
def main(monkeypatch, capsys, fresh_cli):
    """Run ``dreamengine ARGS`` through the script's entry point, leaving the global group as it was."""
    from dreamengine.cli import group

    monkeypatch.setattr(group.cli, "commands", dict(group.cli.commands))
    monkeypatch.setattr(output.err_console, "width", 300)
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "0")

    def invoke(*args):
        monkeypatch.setattr("sys.argv", ["dreamengine", *args])
        with pytest.raises(SystemExit) as exit_info:
            group.main()
        captured = capsys.readouterr()
        return exit_info.value.code, captured.out, captured.err

    return invoke


def test_no_plugins_is_passed_to_the_loader_not_written_to_the_environment(main, fake_distribution, monkeypatch):
    fake_distribution("dreamengine-hello", "fake_hello", ADDS_HELLO)
    code, out, _ = main("--no-plugins", "plugins")
    assert code == 0 and "fake_hello" not in out and "dreamengine_builtins.objectives" in out
    assert os.environ["DREAMENGINE_NO_ENTRYPOINTS"] == "0"
    monkeypatch.setattr("dreamengine.cli.group._HOST", None)
    code, out, _ = main("plugins")
    assert code == 0 and "fake_hello" in out  # the same process, without the flag: the plugin is back


def test_the_environment_switch_still_keeps_plugin_commands_out(main, fake_distribution, monkeypatch):
    fake_distribution("dreamengine-hello", "fake_hello", ADDS_HELLO)
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
    code, _, err = main("hello")
    assert code == 2 and "No such command 'hello'" in err


def test_a_broken_plugin_is_warned_about_once(main, fake_distribution):
    fake_distribution("dreamengine-broken", "fake_broken", "import not_a_module_anywhere\n")
    code, _, err = main("list", "presets")  # loads the plugins for their commands, then all of them
    assert code == 0 and err.count("plugin 'fake_broken'") == 1


def test_ctrl_c_while_the_plugins_load_for_their_commands_is_one_line(main, monkeypatch):
    def interrupted(**options):
        raise KeyboardInterrupt

    monkeypatch.setattr("dreamengine.cli.group.load_plugins", interrupted)
    assert main("--help") == (130, "", "Interrupted.\n")


@pytest.mark.parametrize("where", ["dreamengine.cli.group.importlib.import_module", "dreamengine.run.prepare.prepare"])
def test_ctrl_c_while_torch_imports_or_the_model_loads_is_one_line_and_exit_130(
    runner, monkeypatch, builtins_only_cli, where
):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupted)
    result = runner.invoke(cli, ["run", "--model", "resnet10t", "--steps", "1"])
    assert (result.exit_code, result.output) == (130, "Interrupted.\n")


@pytest.fixture
def terminal(monkeypatch):
    """Standard error as a terminal, its text kept."""
    screen = io.StringIO()
    monkeypatch.setattr(output, "err_console", Console(file=screen, force_terminal=True, width=80))
    return screen


def test_a_status_line_says_what_loads_and_a_nested_one_takes_its_place(terminal):
    with output.loading("torch"):
        with output.loading("plugins"):
            output.err_console.print("inside")  # printing redraws the status line below
        output.err_console.print("after")
    text = terminal.getvalue()
    inside, after = text.index("inside"), text.index("after")
    assert "loading plugins..." in text[inside:after] and "loading torch..." in text[after:]


def test_no_status_line_where_standard_error_is_not_a_terminal(monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(output, "err_console", Console(file=screen, force_terminal=False))
    with output.loading("torch"):
        pass
    assert screen.getvalue() == ""


def test_a_command_that_needs_torch_says_so_before_it_runs(runner, terminal, monkeypatch, fake_distribution):
    source = textwrap.dedent(
        '''
        import click
        from dreamengine import hookimpl
        from dreamengine.cli.group import TorchCommand

        @hookimpl
        def dreamengine_register_commands(cli):
            @cli.command(cls=TorchCommand)
            def heavy():
                """Needs torch."""
                click.echo("ran")
        '''
    )
    fake_distribution("dreamengine-heavy", "fake_heavy", source)
    group = type(cli)(commands=dict(cli.commands))
    from dreamengine.cli.group import add_plugin_commands

    add_plugin_commands(load_plugins(builtins=False, entry_points=True, blocked=(), trace=False), group)
    result = runner.invoke(group, ["heavy"])
    assert result.output == "ran\n" and "loading torch..." in terminal.getvalue()


def test_no_builtin_adds_commands_so_the_command_line_may_load_the_entry_points_alone(host):
    assert host.hook.dreamengine_register_commands.get_hookimpls() == []


def test_a_host_keeps_the_choices_it_was_loaded_with_for_other_processes(fake_distribution, monkeypatch):
    fake_distribution("dreamengine-hello", "fake_hello", ADDS_HELLO)
    monkeypatch.setenv("DREAMENGINE_BLOCK_PLUGINS", " fake_other, ")
    host = load_plugins(entry_points=False, trace=False)
    assert (host.entry_points, host.blocked) == (False, ("fake_other",))
    again = load_plugins(entry_points=host.entry_points, blocked=host.blocked, trace=False)
    assert [info.name for info in again.infos] == [info.name for info in host.infos]
