"""Mutation testing (mutmut 3) of the engine, the run's preparation, the built-in components and the atlas's check,
top-k and examples: how many of the small faults mutmut plants in a module its tests catch.

Not run by CI (a module takes minutes to hours). Each module is mutated in a folder of its own,
``build/mutation/<module>``, a copy of the package, the built-in plugins and the tests with a ``[tool.mutmut]``
section added to the copy's ``pyproject.toml``: only that module's files are mutated (``only_mutate``) and only
the test files of :data:`MODULES` are run against them (``pytest_add_cli_args_test_selection``), which keeps a
run feasible. mutmut runs with one worker, one module after the other; a second run of a module only tests the
mutants whose code changed (mutmut's cache, kept in that folder; ``--fresh`` starts over). Printed per module:
mutants, killed, survived, timeouts, the kill rate (killed and timed out over the mutants tested) and each
survivor's name and diff (``--no-diffs`` leaves the diffs out).

    .venv/bin/pip install -e '.[mutation]'   # mutmut 3, from the package registry
    OMP_NUM_THREADS=1 python benchmarks/mutation.py atlas-check atlas-topk [--fresh] [--no-diffs]
    OMP_NUM_THREADS=1 python benchmarks/mutation.py all
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"

#: module -> (the files mutated, the test files run against them).
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "engine": (
        [
            "dreamengine/engine/loop.py",
            "dreamengine/engine/phases.py",
            "dreamengine/engine/folding.py",
            "dreamengine/engine/rectifiers.py",
            "dreamengine/engine/layers.py",
            "dreamengine/engine/model.py",
            "dreamengine/engine/classes.py",
        ],
        [
            "tests/test_engine.py",
            "tests/test_warping.py",
            "tests/test_strategies.py",
            "tests/test_dream_loop.py",
            "tests/test_early_stop.py",
            "tests/test_engine_result.py",
            "tests/test_layers.py",
            "tests/test_linear_layers.py",
            "tests/test_rectifiers.py",
            "tests/test_folding.py",
            "tests/test_classes.py",
            "tests/test_acceleration.py",
            "tests/test_devices.py",
            "tests/test_quality_regularizers.py",
            "tests/test_dream_model.py",
        ],
    ),
    "engine-files": (
        ["dreamengine/engine/checkpoint.py", "dreamengine/engine/weights.py"],
        [
            "tests/test_engine_files.py",
            "tests/test_checkpoint.py",
            "tests/test_own_model.py",
            "tests/test_training.py",
            "tests/test_study_models.py",
        ],
    ),
    "prepare": (
        ["dreamengine/run/prepare.py"],
        [
            "tests/test_devices.py",
            "tests/test_run_warnings.py",
            "tests/test_own_model.py",
            "tests/test_startup.py",
            "tests/test_fixed_size.py",
            "tests/test_photo_start.py",
            "tests/test_expressions.py",
            "tests/test_prepare.py",
        ],
    ),
    "builtins": (
        [  # the dream's components (models, panels and presets apart)
            f"plugins/dreamengine_builtins/{name}.py"
            for name in (
                "objectives pictures direction projections transforms penalties gradients parametrizations "
                "initializers octaves mask tiling crops zoom"
            ).split()
        ],
        [
            "tests/test_regularizers.py",
            "tests/test_initializers.py",
            "tests/test_parametrizations.py",
            "tests/test_maco.py",
            "tests/test_crops.py",
            "tests/test_near.py",
            "tests/test_mask.py",
            "tests/test_engine.py",
            "tests/test_plugins.py",
            "tests/test_quality_regularizers.py",
            "tests/test_direction.py",
            "tests/test_photo_start.py",
            "tests/test_guide.py",
            "tests/test_style.py",
            "tests/test_strategies.py",
            "tests/test_dream_loop.py",
            "tests/test_warping.py",
            "tests/test_expressions.py",
            "tests/test_early_stop.py",
            "tests/test_settings.py",
            "tests/test_own_model.py",
            "tests/test_default_model.py",
        ],
    ),
    "atlas-check": (["dreamengine/atlas/check.py"], ["tests/test_atlas_check.py", "tests/test_atlas_site.py"]),
    "atlas-topk": (["dreamengine/atlas/topk.py"], ["tests/test_atlas_examples.py"]),
    "atlas-examples": (["dreamengine/atlas/examples.py"], ["tests/test_atlas_examples.py"]),
}

#: What some tests read besides the code (the guides they check), copied beside it.
ALSO = ("docs", "examples", "README.md", "CONTRIBUTING.md")

#: mutmut's exit codes (mutmut.stats.status_by_exit_code) grouped as printed.
KILLED, SURVIVED, TIMEOUT = {1, 3}, {0}, {36, 24, -24, 152, 255}


def plugin_packages(mutate: list[str]) -> list[str]:
    """The plugin packages (``plugins/<package>/...``) among the files mutated."""
    return sorted({Path(path).parts[1] for path in mutate if Path(path).parts[0] == "plugins"})


def section(mutate: list[str], tests: list[str]) -> str:
    """The ``[tool.mutmut]`` section of a module's folder.

    mutmut names a mutant after its file's path (``plugins/dreamengine_builtins/mask.py`` would be
    ``plugins.dreamengine_builtins.mask``) but runs it only where the function's module has that name
    (``dreamengine_builtins.mask``): a plugin package is mutated in a copy at the folder's top level, first on
    the path, so that the two names agree."""
    packages = plugin_packages(mutate)
    mutate = [path.removeprefix("plugins/") for path in mutate]
    return (
        "\n[tool.mutmut]\n"
        f"source_paths = {json.dumps(['dreamengine', 'plugins', *packages])}\n"
        f"also_copy = {json.dumps(list(ALSO))}\n"
        f"only_mutate = {json.dumps(mutate)}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
    )


def prepare(name: str, fresh: bool) -> Path:
    """The module's folder, a fresh copy of the sources (mutmut's results in ``mutants/`` kept unless ``fresh``)."""
    folder = WORK / name
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("dreamengine", "plugins", "tests", *ALSO):
        if (ROOT / part).is_dir():
            shutil.rmtree(folder / part, ignore_errors=True)
            shutil.copytree(ROOT / part, folder / part, ignore=ignore)
        else:
            shutil.copy2(ROOT / part, folder / part)
    mutate, tests = MODULES[name]
    for package in plugin_packages(mutate):
        shutil.rmtree(folder / package, ignore_errors=True)
        shutil.copytree(ROOT / "plugins" / package, folder / package, ignore=ignore)
    (folder / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + section(mutate, tests))
    return folder


def mutmut(folder: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    """Run ``mutmut ARGS`` in ``folder``: the mutated copy first on the path, then its plugins."""
    mutants = folder / "mutants"
    env = dict(os.environ, PYTHONPATH=f"{mutants}{os.pathsep}{mutants / 'plugins'}", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "mutmut", *args]
    return subprocess.run(command, cwd=folder, env=env, text=True, capture_output=capture, check=False)


def results(folder: Path) -> dict[str, int | None]:
    """Every mutant's exit code, from mutmut's ``.meta`` files."""
    codes: dict[str, int | None] = {}
    for meta in sorted((folder / "mutants").rglob("*.py.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def report(name: str, folder: Path, diffs: bool) -> None:
    codes = results(folder)
    counts = Counter(
        "killed" if code in KILLED else "survived" if code in SURVIVED else "timeout" if code in TIMEOUT else "other"
        for code in codes.values()
    )
    tested = counts["killed"] + counts["survived"] + counts["timeout"]
    rate = f"{100 * (counts['killed'] + counts['timeout']) / tested:.1f} %" if tested else "-"
    print(
        f"\n== {name}: {len(codes)} mutants, {counts['killed']} killed, {counts['survived']} survived, "
        f"{counts['timeout']} timeouts, {counts['other']} other (not checked, no tests, suspicious); kill rate {rate}"
    )
    for mutant, code in codes.items():
        if code in SURVIVED or code not in KILLED | TIMEOUT:
            print(f"-- {mutant} (exit code {code})")
            if diffs:
                print(mutmut(folder, "show", mutant, capture=True).stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", choices=[*MODULES, "all"])
    parser.add_argument("--fresh", action="store_true", help="forget the earlier results of these modules")
    parser.add_argument("--no-diffs", action="store_true", help="survivors' names only")
    args = parser.parse_args()
    if find_spec("mutmut") is None:
        parser.error("mutmut is not installed: pip install -e '.[mutation]'")
    names = list(MODULES) if "all" in args.modules else list(dict.fromkeys(args.modules))
    for name in names:
        folder = prepare(name, args.fresh)
        print(f"== {name}: mutating {' '.join(MODULES[name][0])} against {' '.join(MODULES[name][1])}", flush=True)
        mutmut(folder, "run", "--max-children", "1")
        if None in results(folder).values():  # a first run in a new folder may find no test for any mutant
            mutmut(folder, "run", "--max-children", "1")
    for name in names:
        report(name, WORK / name, not args.no_diffs)


if __name__ == "__main__":
    main()
