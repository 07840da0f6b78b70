"""What type checkers see of the public API: the facade lists each name once, in its stub, which both type checkers
and the lazy facade read; the marker ships."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import dreamengine

FACADE = Path(dreamengine.__file__)
STUB = FACADE.with_suffix(".pyi")


def stub_imports() -> list[tuple[str, str, str | None]]:
    """Each ``(module, name, alias)`` the stub imports, the module absolute, as type checkers read it."""
    found = []
    for node in ast.parse(STUB.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found += [(alias.name, alias.name, alias.asname) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = ".".join(["dreamengine", *([node.module] if node.module else [])]) if node.level == 1 else None
            found += [(module or f"level {node.level}", alias.name, alias.asname) for alias in node.names]
    return found


def test_the_stub_reexports_each_name_explicitly_from_within_the_package():
    # ``X as X``: a re-export under mypy's no_implicit_reexport; relative: the facade imports it from its own parts
    assert all(alias == name and module.startswith("dreamengine") for module, name, alias in stub_imports())


def test_each_public_name_is_listed_once():
    names = [name for _, name, _ in stub_imports()]
    assert len(names) == len(set(names)) > 30


def test_the_facade_reads_the_stub_as_type_checkers_do():
    expected = {}
    for module, name, _ in stub_imports():
        expected[name] = f"{module}.{name}" if module == "dreamengine" else module  # from . import atlas
    assert dreamengine._PUBLIC == expected
    assert dreamengine._PUBLIC["atlas"] == "dreamengine.atlas"  # the callable sub-package


def test_all_is_the_listed_names_and_the_version():
    assert dreamengine.__all__ == [*dreamengine._PUBLIC, "__version__"]
    assert "__version__: str" in STUB.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("name", sorted(dreamengine._PUBLIC))
def test_each_listed_name_lives_where_the_stub_says(name):
    module = dreamengine._PUBLIC[name]
    if module == f"dreamengine.{name}":
        assert getattr(dreamengine, name) is importlib.import_module(module)
    else:
        assert getattr(dreamengine, name) is getattr(importlib.import_module(module), name)


def test_a_line_the_facade_cannot_read_is_refused(tmp_path, monkeypatch):
    stub = tmp_path / "__init__.pyi"
    stub.write_text("from .errors import DreamError, unknown_name\n")
    monkeypatch.setitem(dreamengine._read_stub.__globals__, "__file__", str(tmp_path / "__init__.py"))
    with pytest.raises(ImportError, match="line 1"):
        dreamengine._read_stub()


def test_the_package_is_marked_as_typed():
    assert (FACADE.parent / "py.typed").is_file()


PROBE = """
from dreamengine.atlas.contents import Atlas, AtlasClass, AtlasUnit, Example
from dreamengine.atlas.folder import AtlasLayer
from dreamengine.components import Loop
from dreamengine.engine.loop import DreamLoop
from dreamengine.engine.model import DreamModel
from dreamengine.protocols import AtlasView, ClassView, ExampleView, LayerView, Model, Settings, UnitView
from dreamengine.run.config import RunConfig


def views(a: Atlas, u: AtlasUnit, l: AtlasLayer, c: AtlasClass, e: Example) -> object:
    checked: tuple[AtlasView, UnitView, LayerView, ClassView, ExampleView] = (a, u, l, c, e)
    return checked


def parts(m: DreamModel, c: RunConfig, loop: DreamLoop) -> object:
    checked: tuple[Model, Settings, Loop] = (m, c, loop)
    return checked
"""


def test_the_parts_classes_match_the_contracts_protocols(tmp_path):
    api = pytest.importorskip("mypy.api")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    # the project's cache (``.mypy_cache`` where the tests run): torch's types are read once, not per run
    out, err, status = api.run([str(probe), "--config-file", str(FACADE.parents[1] / "pyproject.toml")])
    assert status == 0, out + err
