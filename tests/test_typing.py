"""What type checkers see of the public API: the facade's names, spelt out three times, agree; the marker ships."""

from __future__ import annotations

import ast
from pathlib import Path

import dreamengine

FACADE = Path(dreamengine.__file__)


def type_checking_imports() -> dict[str, str]:
    """The names the facade imports under ``if TYPE_CHECKING:`` (what type checkers read), by module."""
    block = next(node for node in ast.parse(FACADE.read_text()).body if isinstance(node, ast.If))
    assert ast.unparse(block.test) == "TYPE_CHECKING"
    return {alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_type_checkers_see_each_public_name_where_it_is_loaded_from():
    # a sub-package that is itself the public name (dreamengine.atlas, callable) needs no import to be seen
    packages = {name for name, module in dreamengine._PUBLIC.items() if module == f"dreamengine.{name}"}
    assert packages == {"atlas"}
    assert type_checking_imports() == {k: v for k, v in dreamengine._PUBLIC.items() if k not in packages}


def test_the_spelt_out_all_lists_exactly_the_public_names():
    assert sorted(dreamengine.__all__) == sorted([*dreamengine._PUBLIC, "__version__"])
    assert len(set(dreamengine.__all__)) == len(dreamengine.__all__)


def test_the_package_is_marked_as_typed():
    assert (FACADE.parent / "py.typed").is_file()
