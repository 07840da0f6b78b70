"""The map in docs/architecture.md holds: parts, one-way imports, no circles, no hidden imports, public API only.

Every import counts: at module level (what runs on import), under ``if TYPE_CHECKING:`` (what type checkers read)
and inside functions (what runs later). The last two may reach past the layers only where ``ALLOWED_IMPORTS``
names the site and says why.

Everything here reads source with :mod:`ast`; nothing is imported, so the checks are fast and need no torch.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dreamengine"
BUILTINS = ROOT / "plugins" / "dreamengine_builtins"
MAP = ROOT / "docs" / "architecture.md"

#: Each part's height: a module may import from its own part and from parts strictly below it.
#: The top-level modules (the contract) are part "" at the bottom.
LAYERS = {"": 0, "engine": 1, "run": 2, "study": 3, "atlas": 3, "analysis": 3, "training": 3, "testing": 3, "cli": 4}

#: Modules (glob patterns, relative to the repository) allowed to import inside a function, and why.
LAZY_IMPORTS = {
    "dreamengine/cli/*": "start-up: --help imports no torch",
    "dreamengine/__main__.py": "start-up: Ctrl-C is held before the command line's modules load",
    "dreamengine/run/ray_cluster.py": "ray is an optional dependency, imported only when a Ray executor is made",
    "dreamengine/plugins.py": "start-up: the host loads plugins for their commands before the registry (torch)",
}


#: Imports under ``TYPE_CHECKING`` or inside functions allowed to reach up or sideways past the layers, and why:
#: ``"importer path (glob) -> imported module (glob)"``. A module-level import never may.
ALLOWED_IMPORTS = {
    "dreamengine/__init__.pyi -> dreamengine.*": "the facade: its stub gives type checkers each public name's type, "
    "from the part it lives in, while the facade imports each name on first use",
}


def module_name(path: Path) -> str:
    """The dotted name of the module at ``path`` in dreamengine/ (a package's ``__init__.py`` names the package)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, Path]:
    """Every module of dreamengine/ by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def stubs() -> dict[str, Path]:
    """Every stub (``.pyi``) in dreamengine/, by the dotted name of the module it types."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.pyi"))}


@cache
def tree(path: Path) -> ast.Module:
    """The parsed source of ``path``."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def is_type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(module: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The import statements run when the module is imported: not in functions, classes' methods or TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                found.append(statement)
            elif isinstance(statement, ast.If) and not is_type_checking(statement):
                visit(statement.body)
                visit(statement.orelse)
            elif isinstance(statement, ast.Try):
                for block in (
                    statement.body,
                    statement.orelse,
                    statement.finalbody,
                    *(h.body for h in statement.handlers),
                ):
                    visit(block)
            elif isinstance(statement, ast.With | ast.ClassDef):
                visit(statement.body)

    visit(module.body)
    return found


def imports_by_kind(module: ast.Module) -> list[tuple[str, ast.Import | ast.ImportFrom]]:
    """Every import statement in ``module``, each with its kind: ``runtime`` (run on import), ``type-only`` (under
    ``if TYPE_CHECKING:``) or ``lazy`` (inside a function, run when it is called)."""
    runtime = {id(node) for node in module_level_imports(module)}
    lazy: set[int] = set()
    for function in ast.walk(module):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            lazy.update(id(n) for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom))
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.Import | ast.ImportFrom):
            kind = "runtime" if id(node) in runtime else "lazy" if id(node) in lazy else "type-only"
            found.append((kind, node))
    return found


def absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module name ``from ... import`` reads from, resolving a relative import."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def facade_homes() -> dict[str, str]:
    """The facade's public names, each with the module it lives in, as its stub ``__init__.pyi`` lists them."""
    homes = {}
    for node in tree(PACKAGE / "__init__.pyi").body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                homes[alias.name] = f"dreamengine.{node.module or alias.name}"
    assert homes, "dreamengine/__init__.pyi lists no public names"
    return homes


def imported_modules(name: str, path: Path, known: dict[str, Path], kinds: tuple[str, ...] = ("runtime",)) -> set[str]:
    """The modules of ``known`` that module ``name`` imports with an import of one of ``kinds`` (by default those
    run when it is imported; ``runtime``, ``type-only``, ``lazy``: every import).

    ``from dreamengine import X`` counts as importing X's home module (the facade itself is lazy and imports
    nothing), and ``from package import module`` as importing that module.
    """
    found = set()
    for kind, node in imports_by_kind(tree(path)):
        if kind not in kinds:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        source = absolute(node, name, path.stem == "__init__")
        for alias in node.names:
            if source == "dreamengine" and alias.name in facade_homes():
                found.add(facade_homes()[alias.name])
            elif f"{source}.{alias.name}" in known:
                found.add(f"{source}.{alias.name}")
            else:
                found.add(source)
    return {module for module in found if module in known and module != "dreamengine"}


ALL_KINDS = ("runtime", "type-only", "lazy")


@cache
def import_graph() -> dict[str, set[str]]:
    """Each module of dreamengine/ and the modules of dreamengine/ it imports at runtime."""
    known = sources()
    return {name: imported_modules(name, path, known) for name, path in known.items()}


@cache
def import_sites() -> dict[tuple[str, str], set[str]]:
    """Each ``(importer, imported)`` pair of modules of dreamengine/, counting every import (type-only, inside
    functions and the stubs' too), with the files (relative to the repository) whose imports make it."""
    known = sources()
    sites: dict[tuple[str, str], set[str]] = {}
    for name, path in [*known.items(), *stubs().items()]:
        for target in imported_modules(name, path, known, ALL_KINDS):
            sites.setdefault((name, target), set()).add(path.relative_to(ROOT).as_posix())
    return sites


def full_import_graph() -> dict[str, set[str]]:
    """Each module of dreamengine/ and the modules of dreamengine/ it imports, type-only and lazy imports included."""
    graph: dict[str, set[str]] = {name: set() for name in sources()}
    for importer, target in import_sites():
        graph[importer].add(target)
    return graph


def allowed(site: str, target: str) -> str | None:
    """The reason ``ALLOWED_IMPORTS`` gives for the file ``site`` importing the module ``target``, if any."""
    for key, reason in ALLOWED_IMPORTS.items():
        where, what = key.split(" -> ")
        if fnmatch.fnmatch(site, where) and fnmatch.fnmatch(target, what):
            return reason
    return None


def part(module: str) -> str:
    """The part a module of dreamengine/ belongs to: its sub-package, or "" for a top-level module."""
    pieces = module.split(".")
    if len(pieces) == 2 and (PACKAGE / f"{pieces[1]}.py").exists():
        return "cli" if pieces[1] == "__main__" else ""
    return pieces[1] if len(pieces) > 1 else ""


def sub_packages() -> list[str]:
    """The names of dreamengine/'s sub-packages."""
    return sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph`` (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_map_names_every_sub_package_and_every_top_level_module():
    text = MAP.read_text(encoding="utf-8")
    missing = [f"{name}/" for name in sub_packages() if f"`{name}/`" not in text]
    missing += [path.name for path in PACKAGE.glob("*.py") if f"`{path.name}`" not in text]
    assert not missing, f"docs/architecture.md does not describe: {', '.join(missing)}"


def test_every_part_has_a_layer():
    assert set(sub_packages()) <= set(LAYERS), "give the new sub-package a layer in LAYERS and a line in the map"


def test_the_graph_sees_real_edges():
    graph = import_graph()
    assert sum(map(len, graph.values())) > 50 and "dreamengine.errors" in set().union(*graph.values())
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_facade_counts_as_the_home_of_each_name_and_type_checking_imports_do_not_count(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nimport torch\nfrom dreamengine import DreamModel, hookimpl\n"
        "from dreamengine.run import config\nfrom .plugins import load_plugins\n"
        "if TYPE_CHECKING:\n    from dreamengine.study import plan\n"
        "def later():\n    from dreamengine.cli import group\n"
    )
    found = imported_modules("dreamengine.example", module, sources())
    assert found == {
        "dreamengine.engine.model",
        "dreamengine.hookspecs",
        "dreamengine.run.config",
        "dreamengine.plugins",
    }
    assert imports_in_functions(module) == [9]


def test_dreamengine_has_no_import_circles():
    assert cycle(import_graph()) is None, " -> ".join(cycle(import_graph()) or ())


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for each import that reaches up or sideways into another part."""
    found = []
    for importer, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = part(importer), part(target)
            if mine != theirs and LAYERS[theirs] >= LAYERS[mine]:
                found.append(f"{importer} -> {target}")
    return found


def test_imports_flow_down_the_layers_only():
    assert layering_violations(import_graph()) == []


def type_only_and_lazy_violations() -> list[str]:
    """``file: importer -> imported`` for each import, at any place, that reaches past the layers unless
    ``ALLOWED_IMPORTS`` allows it."""
    found = []
    sites = import_sites()
    for violation in layering_violations(full_import_graph()):
        importer, target = violation.split(" -> ")
        found += [f"{site}: {violation}" for site in sorted(sites[importer, target]) if not allowed(site, target)]
    return found


def test_type_only_and_lazy_imports_flow_down_the_layers_too():
    assert type_only_and_lazy_violations() == []


def test_the_contract_imports_only_the_contract_type_only_imports_included():
    contract = [name for name in sources() if part(name) == "" and name != "dreamengine"]
    reaching = sorted(
        f"{importer} -> {target}" for importer, target in import_sites() if importer in contract and part(target) != ""
    )
    assert reaching == []


def test_dreamengine_has_no_import_circles_counting_type_only_and_lazy_imports():
    graph = full_import_graph()
    assert cycle(graph) is None, " -> ".join(cycle(graph) or ())


def test_a_type_only_import_from_the_contract_to_the_engine_is_caught(tmp_path):
    module = tmp_path / "components.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from dreamengine.engine.model import DreamModel\n"
        "def later():\n    from dreamengine.run import config\n"
    )
    known = sources()
    assert imported_modules("dreamengine.components", module, known) == set()
    found = imported_modules("dreamengine.components", module, known, ALL_KINDS)
    assert found == {"dreamengine.engine.model", "dreamengine.run.config"}
    assert layering_violations({"dreamengine.components": found}) == [
        "dreamengine.components -> dreamengine.engine.model",
        "dreamengine.components -> dreamengine.run.config",
    ]
    assert allowed("dreamengine/components.py", "dreamengine.engine.model") is None
    assert cycle({**full_import_graph(), "dreamengine.components": found}) is not None  # the engine uses components


def test_every_allowed_import_excuses_a_real_one_and_gives_a_reason():
    sites = import_sites()
    excused = set()
    for violation in layering_violations(full_import_graph()):
        importer, target = violation.split(" -> ")
        excused |= {allowed(site, target) for site in sites[importer, target]}
    for key, reason in ALLOWED_IMPORTS.items():
        assert reason in excused, f"{key}: nothing past the layers needs it; remove it"
        assert len(reason.split()) >= 6, key


def test_a_reaching_up_import_is_caught():
    graph = {"dreamengine.engine.loop": {"dreamengine.run.config"}, "dreamengine.errors": {"dreamengine.engine.model"}}
    assert layering_violations(graph) == [
        "dreamengine.engine.loop -> dreamengine.run.config",
        "dreamengine.errors -> dreamengine.engine.model",
    ]
    assert layering_violations({"dreamengine.study.plan": {"dreamengine.analysis.montage"}})  # sideways


def imports_in_functions(path: Path) -> list[int]:
    """The line of each import statement inside a function body in ``path``."""
    lines = []
    for function in ast.walk(tree(path)):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            lines += [n.lineno for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)]
    return sorted(set(lines))


def test_no_imports_hide_inside_functions_except_the_listed_lazy_ones():
    found = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in LAZY_IMPORTS):
            found += [f"{relative}:{line}" for line in imports_in_functions(path)]
    assert sorted(found) == []


def test_every_lazy_import_allowance_matches_a_module_and_gives_a_reason():
    files = [path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*.py")]
    for pattern, reason in LAZY_IMPORTS.items():
        assert any(fnmatch.fnmatch(name, pattern) for name in files), pattern
        assert len(reason.split()) >= 4, pattern


def builtin_import_problems(path: Path) -> list[str]:
    """What a built-in module imports beyond ``dreamengine``'s facade, the standard library and third parties."""
    problems = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            problems += [f"import {a.name}" for a in node.names if a.name.startswith(("dreamengine.", "dreamengine_"))]
        elif isinstance(node, ast.ImportFrom):
            source = "." * node.level + (node.module or "")
            if node.level or source.startswith("dreamengine_builtins"):
                problems.append(f"from {source} import ... (another built-in: ask the facade)")
            elif source.startswith("dreamengine.") or (source == "dreamengine" and _privates(node)):
                problems.append(f"from {source} import {', '.join(a.name for a in node.names)} (not the public API)")
    return problems


def _privates(node: ast.ImportFrom) -> list[str]:
    return [alias.name for alias in node.names if alias.name.startswith("_")]


@pytest.mark.parametrize("path", sorted(BUILTINS.glob("*.py")), ids=lambda path: path.name)
def test_builtins_import_only_the_public_api(path):
    assert builtin_import_problems(path) == []


def test_builtins_import_only_names_the_facade_exports():
    public = set(facade_homes())
    for path in BUILTINS.glob("*.py"):
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module == "dreamengine" and not node.level:
                assert {alias.name for alias in node.names} <= public, path.name


def test_a_built_in_reaching_past_the_facade_is_caught(tmp_path):
    module = tmp_path / "sneaky.py"
    module.write_text(
        "import dreamengine\nimport dreamengine.engine.loop\nfrom dreamengine.engine.loop import run_job\n"
        "from dreamengine import _PUBLIC\nfrom .regularizers import x\nfrom dreamengine_builtins.octaves import y\n"
    )
    assert len(builtin_import_problems(module)) == 5


def test_the_map_gives_the_import_direction():
    text = MAP.read_text(encoding="utf-8")
    assert re.search(r"cli\S* -> study\S*/analysis\S*/training\S* -> run\S* -> engine\S* -> contract", text)
