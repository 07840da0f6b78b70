"""The old flat module paths of the first release still import, with a DeprecationWarning naming the new path, and
give the same objects; the facade and the packages that replaced modules import no torch."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import warnings

import pytest

import dreamengine
from dreamengine._moved import MOVED_MODULES, MOVED_NAMES, SPLIT_MODULES

MOVED_ATTRIBUTES = [
    (old, name, new)
    for table in (SPLIT_MODULES, MOVED_NAMES)
    for old, names in table.items()
    for name, new in names.items()
]


@pytest.fixture(autouse=True)
def fresh_old_paths(monkeypatch):
    """Each test imports the old paths afresh (an import warns once, then sys.modules answers)."""
    for old in [*MOVED_MODULES, *SPLIT_MODULES]:
        monkeypatch.delitem(sys.modules, old, raising=False)
        if old.rpartition(".")[2] in vars(dreamengine):  # (hasattr would import it)
            monkeypatch.delattr(dreamengine, old.rpartition(".")[2])


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_MODULES.items()))
def test_a_module_moved_whole_imports_as_the_new_module_with_a_warning(old, new):
    with pytest.warns(DeprecationWarning, match=rf"{re.escape(old)} has moved to {re.escape(new)}\b"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


@pytest.mark.parametrize(("old", "name", "new"), MOVED_ATTRIBUTES)
def test_an_old_name_of_a_split_module_or_a_package_warns_and_is_the_same_object(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(
        DeprecationWarning, match=rf"{re.escape(old)}\.{name} has moved: import it from {re.escape(new)} "
    ):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)


def test_the_old_imports_of_scripts_keep_working():
    with pytest.warns(DeprecationWarning) as caught:
        from dreamengine.config import RunConfig
        from dreamengine.dreaming import dream
        from dreamengine.engine import DreamJob, run_job
        from dreamengine.imaging import load_image
    from dreamengine.components import DreamJob as new_job
    from dreamengine.engine.loop import run_job as new_run_job
    from dreamengine.run.config import RunConfig as new_config
    from dreamengine.run.execute import dream as new_dream
    from dreamengine.run.imaging import load_image as new_load_image

    assert (dream, RunConfig, load_image, run_job, DreamJob) == (
        new_dream,
        new_config,
        new_load_image,
        new_run_job,
        new_job,
    )
    named = " ".join(str(warning.message) for warning in caught)
    for new in [
        "dreamengine.run.config",
        "dreamengine.run.execute",
        "dreamengine.engine.loop",
        "dreamengine.run.imaging",
    ]:
        assert new in named


def test_the_warning_points_at_the_line_that_imports_the_old_path():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from dreamengine.engine import run_job  # noqa: F401

        importlib.import_module("dreamengine.config")
        dreamengine.imaging  # noqa: B018 (the first release imported it with the facade, so scripts used it as an attribute)
    assert len(caught) >= 3
    assert {warning.filename for warning in caught} == {__file__}


def test_old_modules_are_reachable_as_attributes_of_the_facade():
    with pytest.warns(DeprecationWarning, match="dreamengine.run.config"):
        assert dreamengine.config is importlib.import_module("dreamengine.run.config")


def test_new_paths_do_not_warn_and_other_names_still_fail():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from dreamengine.engine import model  # a submodule of the package, not an old name
        from dreamengine.study import plan

        assert (model.__name__, plan.__name__) == ("dreamengine.engine.model", "dreamengine.study.plan")
        for module in ["dreamengine.engine", "dreamengine.study", "dreamengine.training", "dreamengine.dreaming"]:
            assert not hasattr(importlib.import_module(module), "torch")
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("dreamengine.no_such_module")


def test_the_facade_and_the_packages_that_replaced_modules_import_no_torch():
    code = (
        "import sys, dreamengine, dreamengine.engine, dreamengine.study, dreamengine.training; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_built_ins_old_regularizers_module_imports_first_thing_in_a_script():
    """``dreamengine_builtins.regularizers`` was split into ``projections`` and ``transforms``: a script that imports
    it before anything of dreamengine's still gets its names, each with a warning naming the new module."""
    code = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from dreamengine_builtins.regularizers import RGB_TO_YCC, Blur, ChromaBlur, Clamp, Flip, Jitter\n"
        "from dreamengine_builtins import projections, transforms\n"
        "assert (Blur, ChromaBlur, Clamp, RGB_TO_YCC) == (projections.Blur, projections.ChromaBlur, projections.Clamp,"
        " projections.RGB_TO_YCC)\n"
        "assert (Flip, Jitter) == (transforms.Flip, transforms.Jitter)\n"
        "moved = [str(w.message) for w in caught if w.category is DeprecationWarning]\n"
        "assert len(moved) == 6 and 'import it from dreamengine_builtins.transforms' in moved[4], moved\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
