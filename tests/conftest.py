"""Shared fixtures: a fresh plugin host without entry points, tiny models, a CLI runner, tiny checkpoints."""

from __future__ import annotations

import os
import sys
import textwrap
import warnings

import pytest
import torch
from click.testing import CliRunner
from hypothesis import settings

from dreamengine import DreamModel
from dreamengine.plugins import load_plugins
from dreamengine.training.demo_data import write_demo_data
from dreamengine.training.fine_tune import TrainSettings, train

# Timings on a shared 2-core machine vary: no per-example deadline, a modest number of examples.
settings.register_profile("dreamengine", max_examples=40, deadline=None)
settings.load_profile("dreamengine")


@pytest.fixture(autouse=True, scope="session")
def threads_as_set():
    """Commands keep torch's thread count, as under ``OMP_NUM_THREADS``, instead of choosing one from how busy the
    machine is: the same test makes the same files however busy the machine is (tests/test_threads.py unsets it)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))


@pytest.fixture
def host():
    """A fresh plugin host with the built-ins only."""
    return load_plugins(entry_points=False, blocked=(), trace=False)


def make_tiny_model(num_classes: int = 4, names=None) -> DreamModel:
    """A small random-weight CNN with named classes, fast enough for every test."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, num_classes),
    )
    net.num_classes = num_classes
    names = names or ["red", "green", "blue", "gray"][:num_classes]
    return DreamModel(net, name="tiny", input_size=(16, 16), class_names=names).freeze()


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and far faster than on two when other work shares the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fresh_cli(monkeypatch):
    """The CLI loads its plugin host afresh (from the test's environment) and prints wide tables."""
    monkeypatch.setattr("dreamengine.cli.group._HOST", None)
    monkeypatch.setattr("dreamengine.cli.output.console.width", 200)


@pytest.fixture
def builtins_only_cli(monkeypatch, fresh_cli):
    """The CLI with the built-in plugins only."""
    monkeypatch.setenv("DREAMENGINE_NO_ENTRYPOINTS", "1")


@pytest.fixture
def tiny_model():
    return make_tiny_model()


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def resnet10t_quiet():
    """Silence the expected 'random weights' warning of timm models in tests."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*random weights.*")
        yield


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """Install a fake distribution with an entry point in group ``dreamengine``.

    Call it with ``(dist_name, module_name, source)``; the module's source is
    written to a temporary folder on ``sys.path`` beside a ``.dist-info``.
    """

    def install(dist_name: str, module_name: str, source: str, entry_name: str | None = None):
        (tmp_path / f"{module_name}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist_name.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[dreamengine]\n{entry_name or module_name} = {module_name}\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        return info

    yield install
    for name in [n for n in sys.modules if n.startswith("fake_")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A training run of one epoch on tiny demo data: epoch-000.pt and epoch-001.pt."""
    root = tmp_path_factory.mktemp("study")
    write_demo_data(root / "data", per_class=4, size=16)
    train(
        load_plugins(entry_points=False, blocked=(), trace=False),
        TrainSettings(
            data=str(root / "data"),
            model="test_resnet",
            size=16,
            batch_size=8,
            lr=0.05,
            epochs=1,
            device="cpu",
            output=str(root / "full"),
        ),
    )
    return root / "full"
