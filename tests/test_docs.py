"""Docs meta-tests: every hook is documented with its exact arguments and has a test; the guide's example works."""

from __future__ import annotations

import inspect
import re
import tomllib
import types
from pathlib import Path

import pytest

from dreamengine import hookspecs
from dreamengine.testing import assert_conformance, plugin_host

ROOT = Path(__file__).resolve().parent.parent
HOOKS_MD = (ROOT / "docs" / "hooks.md").read_text()
PLUGINS_MD = (ROOT / "docs" / "plugins.md").read_text()
MENTION = re.compile(r"\b(dreamengine_\w+)\(([^)]*)\)")


def specs() -> dict[str, inspect.Signature]:
    """Every hook spec in dreamengine/hookspecs.py, by name."""
    return {
        name: inspect.signature(function)
        for name, function in vars(hookspecs).items()
        if callable(function) and hasattr(function, f"{hookspecs.PROJECT_NAME}_spec")
    }


def signature(name: str) -> str:
    return f"{name}({', '.join(specs()[name].parameters)})"


def sections(text: str) -> dict[str, str]:
    """``### `hook(args)` `` headings of hooks.md, mapped to the text under each."""
    parts = re.split(r"^### `([^`]+)`$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_hookspecs_are_found():
    assert len(specs()) >= 10 and "dreamengine_run_dream" in specs()


@pytest.mark.parametrize("hook", sorted(specs()))
def test_every_hook_has_a_heading_with_its_exact_arguments(hook):
    assert signature(hook) in sections(HOOKS_MD), f"docs/hooks.md needs a heading: ### `{signature(hook)}`"


def test_hooks_md_documents_no_hook_that_does_not_exist():
    assert set(sections(HOOKS_MD)) <= {signature(hook) for hook in specs()}


@pytest.mark.parametrize("hook", sorted(specs()))
def test_firstresult_hooks_say_so(hook):
    firstresult = getattr(vars(hookspecs)[hook], f"{hookspecs.PROJECT_NAME}_spec")["firstresult"]
    assert ("firstresult" in sections(HOOKS_MD)[signature(hook)]) == firstresult


@pytest.mark.parametrize("hook", sorted(specs()))
def test_the_plugin_guide_shows_every_hook_with_its_exact_arguments(hook):
    assert f"`{signature(hook)}`" in PLUGINS_MD


@pytest.mark.parametrize("path", ["docs/hooks.md", "docs/plugins.md"])
def test_every_hook_mentioned_in_the_docs_exists_and_takes_those_arguments(path):
    for name, args in MENTION.findall((ROOT / path).read_text()):
        assert name in specs(), f"{path} mentions {name}(), which is not a hook"
        given = [a.split("=")[0].strip() for a in args.split(",") if a.strip() and a.strip() != "self"]
        assert set(given) <= set(specs()[name].parameters), f"{path}: {name}({args}) has arguments the hook lacks"


def test_every_hook_has_a_test():
    tests = [p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name]
    untested = [hook for hook in specs() if not any(re.search(rf"def {hook}\(", text) for text in tests)]
    assert not untested, f"no test implements these hooks: {', '.join(untested)}"


def code_after(marker: str, language: str) -> str:
    """The first fenced ``language`` block after ``marker`` in the plugin guide."""
    rest = PLUGINS_MD[PLUGINS_MD.index(marker) :]
    return re.search(rf"```{language}\n(.*?)```", rest, flags=re.S).group(1)


def test_the_guides_quick_start_pyproject_declares_the_entry_point():
    pyproject = tomllib.loads(code_after("`pyproject.toml`:", "toml"))
    assert pyproject["project"]["entry-points"]["dreamengine"] == {"sharpen": "dreamengine_sharpen.plugin"}


def test_the_guides_quick_start_plugin_works_and_conforms():
    module = types.ModuleType("dreamengine_sharpen.plugin")
    exec(compile(code_after("`src/dreamengine_sharpen/plugin.py`:", "python"), "plugins.md", "exec"), vars(module))
    with plugin_host(module) as host:
        assert host.registry.get("regularizers", "sharpen").summary.startswith("Sharpen the image")
        assert_conformance(
            host.registry, plugin="dreamengine_sharpen.plugin", options={"sharpen": [{}, {"amount": 1.0}]}
        )


@pytest.mark.filterwarnings("ignore:model 'resnet10t' has random weights")
def test_the_user_guides_python_example_dreams_and_returns_what_it_says(tmp_path, monkeypatch):
    guide = (ROOT / "docs" / "guide.md").read_text()
    code = re.search(r"## From Python.*?```python\n(.*?)```", guide, flags=re.S).group(1)
    assert "steps=100" in code
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")
    names: dict = {}
    exec(compile(code.replace("steps=100", 'steps=2, model="resnet10t", size=32'), "guide.md", "exec"), names)
    written = [path.as_posix() for path in names["outcome"].paths]
    assert written == ["birds/toucan-seed0.png", "birds/great-grey-owl-seed0.png"]
    assert names["images"].shape == (2, 3, 32, 32) and 0 <= names["images"].min() <= names["images"].max() <= 1
    assert names["result"].image.equal(names["images"])  # the same dreams, in memory only
    files = sorted(path.name for path in tmp_path.rglob("*"))
    assert files == ["birds", "great-grey-owl-seed0.png", "toucan-seed0.png"]
    assert names["deepdream"].objective == "layer:blocks.4" and names["deepdream"].init == "photo:path=cat.png"
