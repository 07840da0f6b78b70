"""Checkpoints and weights files, function by function: what each writes, reads, strips and refuses, word for word."""

from __future__ import annotations

import hashlib
import zipfile

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from dreamengine.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    checkpoints_in,
    is_checkpoint,
    load_checkpoint_model,
    read_checkpoint,
    save_checkpoint,
)
from dreamengine.engine.model import DreamModel
from dreamengine.engine.weights import (
    NESTED_KEYS,
    WeightsFile,
    file_sha256,
    head_classes,
    input_channels,
    read_state_dict,
    unloadable,
)
from dreamengine.errors import DreamError
from dreamengine.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


def create(name, num_classes):
    assert name == "tiny"
    return tiny_model(num_classes)


@pytest.fixture
def saved(tmp_path):
    model = tiny_model(3)
    model.class_names = ["a", "b", "c"]
    model.input_size = (20, 24)
    model.mean.copy_(torch.tensor([0.25, 0.5, 0.75]).view(1, -1, 1, 1))
    model.std.copy_(torch.tensor([0.5, 1.0, 2.0]).view(1, -1, 1, 1))
    return save_checkpoint(model, tmp_path / "epoch-001.pt", architecture="tiny")


def _rewrite(path, **changes):
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is _DROP:
            del payload[key]
        else:
            payload[key] = value
    torch.save(payload, path)
    return path


_DROP = object()


# save_checkpoint


def test_a_checkpoint_holds_exactly_the_models_metadata_and_weights(tmp_path):
    model = tiny_model(3)
    model.class_names, model.input_size = ["a", "b", "c"], (20, 24)
    path = tmp_path / "deep" / "er" / "x.pt"
    assert save_checkpoint(model, str(path), architecture="tiny", extra={"epochs": 2}) == path
    payload = torch.load(path, weights_only=True)
    weights = payload.pop("state_dict")
    assert payload == {
        "format": "dreamengine-checkpoint",
        "version": 1,
        "architecture": "tiny",
        "num_classes": 3,
        "class_names": ["a", "b", "c"],
        "input_size": [20, 24],
        "mean": pytest.approx([0.485, 0.456, 0.406]),
        "std": pytest.approx([0.229, 0.224, 0.225]),
        "extra": {"epochs": 2},
    }
    assert weights.keys() == model.net.state_dict().keys()
    assert all(torch.equal(weights[k], v) for k, v in model.net.state_dict().items())
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.pt"]  # no temporary file left beside it


def test_a_checkpoint_without_class_names_counts_the_networks_outputs_and_keeps_training_state(tmp_path):
    model = tiny_model(5)
    model.class_names = []
    path = save_checkpoint(model, tmp_path / "x.pt", architecture="tiny", training_state={"step": 7})
    payload = torch.load(path, weights_only=True)
    assert payload["num_classes"] == 5 and payload["class_names"] == []
    assert payload["extra"] == {} and payload["training_state"] == {"step": 7}
    save_checkpoint(model, path, architecture="tiny")  # over the old one, without training state
    assert "training_state" not in torch.load(path, weights_only=True)


def test_a_network_without_class_names_or_num_classes_is_refused_before_anything_is_written(tmp_path):
    model = DreamModel(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Flatten()), name="bare", input_size=(8, 8))
    with pytest.raises(DreamError) as refused:
        save_checkpoint(model, tmp_path / "new" / "x.pt", architecture="bare")
    assert str(refused.value) == (
        "cannot save 'bare' as a checkpoint: it has no class names and its network no num_classes, "
        "so the checkpoint could not say how many outputs to build."
    )
    assert list(tmp_path.iterdir()) == []
    model.net.num_classes = 0
    with pytest.raises(DreamError, match="cannot save 'bare'"):
        save_checkpoint(model, tmp_path / "x.pt", architecture="bare")
    model.net.num_classes = 1  # one output is a model too (a single score)
    saved = save_checkpoint(model, tmp_path / "x.pt", architecture="bare")
    assert torch.load(saved, weights_only=True)["num_classes"] == 1
    model.class_names = ["a", "b"]
    assert (
        torch.load(save_checkpoint(model, tmp_path / "x.pt", architecture="bare"), weights_only=True)["num_classes"]
        == 2
    )


def test_a_checkpoint_saves_the_network_as_built_even_while_a_dream_folds_it(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)
    )
    net.num_classes = 2
    net[1].running_mean.uniform_()
    net[1].running_var.uniform_(1, 2)
    own = {k: v.clone() for k, v in net.state_dict().items()}
    model = DreamModel(net, name="n", input_size=(16, 16)).freeze().fold_norms()
    assert "1.running_mean" not in model.net.state_dict()  # folded
    path = save_checkpoint(model, tmp_path / "x.pt", architecture="n")
    weights = torch.load(path, weights_only=True)["state_dict"]
    assert weights.keys() == own.keys() and all(torch.equal(weights[k], v) for k, v in own.items())
    assert "1.running_mean" not in model.net.state_dict()  # and folded again after


def test_an_interrupted_save_leaves_the_old_checkpoint_and_only_a_hidden_temporary_file(tmp_path, monkeypatch):
    model = tiny_model(3)
    path = save_checkpoint(model, tmp_path / "epoch-001.pt", architecture="tiny")
    before = path.read_bytes()
    save = torch.save

    def interrupted(payload, file):
        save(payload, file)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(model, path, architecture="other")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".epoch-001.pt.tmp", "epoch-001.pt"]
    assert checkpoints_in(tmp_path) == [path]


# read_checkpoint and load_checkpoint_model


def test_a_checkpoint_loads_into_the_architecture_with_its_metadata(saved):
    model = load_checkpoint_model(str(saved), create)
    assert model.class_names == ["a", "b", "c"] and model.input_size == (20, 24)
    assert model.mean.flatten().tolist() == [0.25, 0.5, 0.75] and model.std.flatten().tolist() == [0.5, 1.0, 2.0]
    assert model.mean.shape == (1, 3, 1, 1) and model.mean.dtype == torch.float32
    assert model.weights == WeightsFile(saved, hashlib.sha256(saved.read_bytes()).hexdigest())
    assert isinstance(model.weights.path, type(saved))
    assert model.weights.to_json() == {"file": "epoch-001.pt", "sha256": model.weights.sha256}
    stored = torch.load(saved, weights_only=True)["state_dict"]
    assert all(torch.equal(v, stored[k]) for k, v in model.net.state_dict().items())


def test_metadata_left_out_leaves_the_architectures_own(saved):
    _rewrite(saved, class_names=_DROP, input_size=[], mean=None, std=())
    model = load_checkpoint_model(saved, create)
    assert model.class_names == ["class0", "class1", "class2"] and model.input_size == (16, 16)
    assert model.mean.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406])
    assert model.std.flatten().tolist() == pytest.approx([0.229, 0.224, 0.225])


def test_tuples_are_as_good_as_lists(saved):
    _rewrite(saved, class_names=("x", "y", "z"), input_size=(8, 12), mean=(0, 0, 1), std=(1, 2, 3))
    model = load_checkpoint_model(saved, create)
    assert model.class_names == ["x", "y", "z"] and model.input_size == (8, 12)
    assert model.mean.flatten().tolist() == [0, 0, 1] and model.std.flatten().tolist() == [1, 2, 3]


def test_weights_that_do_not_fit_name_the_checkpoint(saved):
    _rewrite(saved, num_classes=4, class_names=[])
    with pytest.raises(DreamError) as error:
        load_checkpoint_model(saved, create)
    assert str(error.value).startswith(
        f"checkpoint {str(saved)!r} does not fit the architecture 'tiny': 2 tensors have the wrong shape (e.g. "
        "head.weight: (3, 16) in the file, (4, 16) in the model)."
    )


def test_the_architecture_is_built_with_the_checkpoints_name_and_class_count(saved):
    calls = []

    def recording(name, classes):
        calls.append((name, classes))
        return tiny_model(classes)

    load_checkpoint_model(saved, recording)
    assert calls == [("tiny", 3)] and type(calls[0][1]) is int


def test_a_checkpoint_read_is_all_of_it(saved):
    payload = read_checkpoint(str(saved))
    assert payload["format"] == CHECKPOINT_FORMAT and payload["extra"] == {} and payload["num_classes"] == 3


def test_a_missing_checkpoint_or_a_folder_is_named(tmp_path):
    for path in (tmp_path / "none.pt", tmp_path):
        with pytest.raises(DreamError) as error:
            read_checkpoint(path)
        assert str(error.value) == f"checkpoint {str(path)!r} does not exist."


@pytest.mark.parametrize(
    "payload", [[1, 2], {"format": "something-else"}, {"state_dict": {}}, {"format": CHECKPOINT_FORMAT.upper()}]
)
def test_a_file_that_is_not_a_checkpoint_says_how_to_make_one(tmp_path, payload):
    path = tmp_path / "x.pt"
    torch.save(payload, path)
    with pytest.raises(DreamError) as error:
        read_checkpoint(path)
    assert str(error.value) == (
        f"{str(path)!r} is not a dreamengine checkpoint (no 'format': 'dreamengine-checkpoint'); "
        "save one with dreamengine train or dreamengine.engine.checkpoint.save_checkpoint."
    )


@pytest.mark.parametrize(
    "dropped, named",
    [
        (["architecture"], "architecture"),
        (["num_classes"], "num_classes"),
        (["state_dict"], "state_dict"),
        (["architecture", "state_dict"], "architecture, state_dict"),
    ],
)
def test_a_checkpoint_lacking_what_the_engine_needs_names_all_of_it(saved, dropped, named):
    _rewrite(saved, **dict.fromkeys(dropped, _DROP))
    with pytest.raises(DreamError) as error:
        read_checkpoint(saved)
    assert str(error.value) == f"checkpoint {str(saved)!r} lacks {named}."


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"architecture": ""}, "has architecture '': it must be a model's name."),
        ({"architecture": 3}, "has architecture 3: it must be a model's name."),
        ({"state_dict": [1, 2]}, "has a state_dict that is not a mapping of names to tensors."),
        ({"num_classes": True}, "has num_classes True: it must be a whole number of outputs, 1 or more."),
        ({"num_classes": 3.0}, "has num_classes 3.0: it must be a whole number of outputs, 1 or more."),
        ({"num_classes": -1}, "has num_classes -1: it must be a whole number of outputs, 1 or more."),
        ({"num_classes": 0}, "has num_classes 0: it must be a whole number of outputs, 1 or more."),
        ({"class_names": ["a", 2, "c"]}, "has class_names that are not a list of names: ['a', 2, 'c']."),
        ({"class_names": {"a": 1}}, "has class_names that are not a list of names: {'a': 1}."),
        (
            {"class_names": ["a", "b", "c", "d"]},
            "names 4 classes for its 3 outputs (num_classes): it needs one name per output.",
        ),
        ({"input_size": [32]}, "has input_size [32]: it needs 2 whole numbers of pixels, (height, width)."),
        (
            {"input_size": [32, 32, 32]},
            "has input_size [32, 32, 32]: it needs 2 whole numbers of pixels, (height, width).",
        ),
        ({"input_size": [32, 0]}, "has input_size [32, 0]: it needs 2 whole numbers of pixels, (height, width)."),
        ({"input_size": [0, 32]}, "has input_size [0, 32]: it needs 2 whole numbers of pixels, (height, width)."),
        ({"input_size": [32.0, 32]}, "has input_size [32.0, 32]: it needs 2 whole numbers of pixels, (height, width)."),
        ({"input_size": [True, 32]}, "has input_size [True, 32]: it needs 2 whole numbers of pixels, (height, width)."),
        ({"input_size": "32x32"}, "has input_size '32x32': it needs 2 whole numbers of pixels, (height, width)."),
        (
            {"mean": [0.5, float("nan"), 0.5]},
            "has mean [0.5, nan, 0.5]: it needs 3 numbers, one per colour (red, green, blue).",
        ),
        ({"mean": [0.5, 0.5, float("inf")]}, "has mean [0.5, 0.5, inf]: it needs 3 numbers"),
        ({"mean": [0.5, True, 0.5]}, "has mean [0.5, True, 0.5]: it needs 3 numbers"),
        ({"mean": [0.5, "0.5", 0.5]}, "has mean [0.5, '0.5', 0.5]: it needs 3 numbers"),
        ({"mean": "0.5,0.5,0.5"}, "has mean '0.5,0.5,0.5': it needs 3 numbers"),
        ({"std": [0.2, 0.2]}, "has std [0.2, 0.2]: it needs 3 numbers, one per colour (red, green, blue)."),
        ({"std": [0.2, 0.2, float("nan")]}, "has std [0.2, 0.2, nan]: it needs 3 numbers"),
        ({"std": [0.2, -0.1, 0.2]}, "has std [0.2, -0.1, 0.2]: each must be above 0."),
        ({"std": (0.2, 0.2, 0)}, "has std (0.2, 0.2, 0): each must be above 0."),
    ],
)
def test_each_metadata_check_refuses_in_its_own_words(saved, changes, message):
    _rewrite(saved, **changes)
    with pytest.raises(DreamError) as error:
        read_checkpoint(saved)
    expected = f"checkpoint {str(saved)!r} {message}"
    assert str(error.value) == expected if message.endswith(".") else str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


def test_a_tensor_for_a_list_is_refused_not_read_as_empty(saved):
    _rewrite(saved, mean=torch.tensor([0.5, 0.5, 0.5]))
    with pytest.raises(DreamError, match=r"has mean tensor\(\[0.5000, 0.5000, 0.5000\]\): it needs 3 numbers"):
        read_checkpoint(saved)


@pytest.mark.parametrize(
    "changes",
    [
        {"num_classes": 1, "class_names": ["only"]},
        {"class_names": []},
        {"class_names": None},
        {"input_size": [1, 1]},
        {"mean": [0, -1, 2.5]},
        {"std": [1e-9, 1, 2]},
        {"input_size": None, "mean": (), "std": []},
    ],
)
def test_metadata_at_the_edges_is_accepted(saved, changes):
    _rewrite(saved, **changes)
    assert read_checkpoint(saved)["architecture"] == "tiny"


# is_checkpoint


def test_only_a_checkpoint_is_a_checkpoint(tmp_path, saved):
    assert is_checkpoint(saved) is True and is_checkpoint(str(saved)) is True
    renamed = saved.rename(tmp_path / "x.safetensors")
    assert is_checkpoint(renamed) is False  # a .safetensors file never is, whatever it holds
    others = {
        "missing.pt": None,
        "garbage.pt": b"garbage",
        "text.pt": b"hello\n",
    }
    for name, content in others.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        assert is_checkpoint(tmp_path / name) is False, name
    assert is_checkpoint(tmp_path) is False
    for name, payload in {
        "state.pt": {"w": torch.zeros(2)},
        "list.pt": [CHECKPOINT_FORMAT],
        "other.pt": {"format": "x"},
    }.items():
        torch.save(payload, tmp_path / name)
        assert is_checkpoint(tmp_path / name) is False, name
    torch.save({"format": CHECKPOINT_FORMAT, "payload": print}, tmp_path / "unsafe.pt")
    assert is_checkpoint(tmp_path / "unsafe.pt") is False


def test_a_safetensors_file_is_not_even_opened_to_ask(tmp_path, monkeypatch):
    path = tmp_path / "x.safetensors"
    save_file({"w": torch.zeros(1)}, path)
    opened = []
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: opened.append(args) or {"format": CHECKPOINT_FORMAT})
    assert is_checkpoint(path) is False and opened == []
    assert is_checkpoint(tmp_path / "missing.pt") is False and opened == []
    (tmp_path / "x.pt").write_bytes(b"")
    assert is_checkpoint(tmp_path / "x.pt") is True and len(opened) == 1  # what torch.load says, for other files


# checkpoints_in


def test_the_checkpoints_in_a_folder_come_in_epoch_order(tmp_path):
    for name in [
        "epoch-010.pt",
        "epoch-002.pt",
        "epoch-1000.pt",
        "epoch-999.pt",
        "epoch-01.pt",
        "epoch-001.pth",
        "xepoch-001.pt",
        "epoch-001.pt.tmp",
        ".epoch-003.pt.tmp",
        "epoch-abc.pt",
        "last.pt",
    ]:
        (tmp_path / name).write_bytes(b"")
    assert [path.name for path in checkpoints_in(str(tmp_path))] == [
        "epoch-002.pt",
        "epoch-010.pt",
        "epoch-999.pt",
        "epoch-1000.pt",
    ]
    assert all(path.parent == tmp_path for path in checkpoints_in(tmp_path))
    assert checkpoints_in(tmp_path / "none") == [] and checkpoints_in(tmp_path / "last.pt") == []


# file_sha256


def test_a_files_sha256_is_of_all_its_bytes(tmp_path):
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 12_000  # over two blocks of a MiB
    path.write_bytes(data)
    assert file_sha256(path) == file_sha256(str(path)) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


# read_state_dict


def _tensors(*names):
    return {name: torch.full((2,), float(i)) for i, name in enumerate(names)}


def test_a_state_dict_is_found_where_training_loops_nest_it_an_ema_first(tmp_path):
    assert NESTED_KEYS == ("state_dict_ema", "model_ema", "state_dict", "model")
    cases = {
        "all.pt": ({k: _tensors(f"{k}.w") for k in NESTED_KEYS}, ["state_dict_ema.w"]),
        "model_ema.pt": ({k: _tensors(f"{k}.w") for k in NESTED_KEYS[1:]}, ["model_ema.w"]),
        "state_dict.pt": ({"model": _tensors("model.w"), "state_dict": _tensors("sd.w"), "epoch": 3}, ["sd.w"]),
        "model.pt": ({"model": _tensors("m.w"), "optimizer": {"lr": 1}}, ["m.w"]),
        "top.pt": (_tensors("model", "state_dict"), ["model", "state_dict"]),  # tensors named like the keys
        "not-a-mapping.pt": ({"state_dict": [1], "model": _tensors("m.w")}, ["m.w"]),
        "empty-ema.pt": ({"state_dict_ema": {}, "state_dict": _tensors("sd.w")}, ["sd.w"]),
        "optimizer-only.pt": ({"model_ema": {"lr": torch.tensor(1.0), "x": 1}, "model": _tensors("m.w")}, ["m.w"]),
        "two-deep.pt": ({"model": {"state_dict": _tensors("deep.w")}}, ["deep.w"]),
    }
    for name, (payload, names) in cases.items():
        torch.save(payload, tmp_path / name)
        assert list(read_state_dict(tmp_path / name)) == names, name


def test_a_state_dict_is_read_whole_with_its_tensors(tmp_path):
    state = {"a.weight": torch.arange(6.0).view(2, 3), "b": torch.tensor([1, 2])}
    torch.save(state, tmp_path / "x.pth")
    save_file(state, tmp_path / "x.safetensors")
    for path in (tmp_path / "x.pth", str(tmp_path / "x.safetensors")):
        read = read_state_dict(path)
        assert read.keys() == state.keys() and all(torch.equal(read[k], v) for k, v in state.items())


def test_the_prefixes_ddp_and_torch_compile_leave_are_dropped_however_they_nest(tmp_path):
    names = {
        "module.a": "a",
        "_orig_mod.b": "b",
        "module._orig_mod.c": "c",
        "_orig_mod.module.d": "d",
        "module.module.e": "e",
        "x.module.f": "x.module.f",
        "modulex.g": "modulex.g",
        "module": "module",
        "_orig_mod_h": "_orig_mod_h",
    }
    torch.save(_tensors(*names), tmp_path / "x.pt")
    assert list(read_state_dict(tmp_path / "x.pt")) == list(names.values())


@pytest.mark.parametrize(
    "payload",
    [
        [torch.zeros(1)],
        {},
        {"w": torch.zeros(1), "epoch": 3},
        {"state_dict": {}},
        {"model": {"w": 1}},
        {"model": {"model": {"state_dict": {"w": torch.zeros(1)}}}},  # three levels down: too deep
    ],
)
def test_a_file_with_no_state_dict_says_where_it_looked(tmp_path, payload):
    path = tmp_path / "x.pt"
    torch.save(payload, path)
    with pytest.raises(DreamError) as error:
        read_state_dict(path)
    assert str(error.value) == (
        f"{str(path)!r} holds no state dict: it needs names mapped to tensors, at the top or under one of "
        "state_dict_ema, model_ema, state_dict, model."
    )


def test_a_missing_weights_file_is_named(tmp_path):
    for path in (tmp_path / "none.safetensors", tmp_path):
        with pytest.raises(DreamError) as error:
            read_state_dict(path)
        assert str(error.value) == f"weights file {str(path)!r} does not exist."


@pytest.mark.parametrize(
    "content, detail",
    [
        (b"", "Error while deserializing header: header too small"),
        (b"garbage!garbage", "Error while deserializing header: header too large"),
    ],
)
def test_a_broken_safetensors_file_says_what_is_wrong_in_one_line(tmp_path, content, detail):
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    with pytest.raises(DreamError) as error:
        read_state_dict(path)
    assert str(error.value) == f"{str(path)!r} is not a readable safetensors file ({detail})."


def test_names_that_are_not_text_are_read_as_text(tmp_path):
    torch.save({0: torch.zeros(1), "module.1": torch.ones(1)}, tmp_path / "x.pt")
    assert list(read_state_dict(tmp_path / "x.pt")) == ["0", "1"]


@pytest.mark.parametrize(
    "error, detail",
    [(OSError(), "OSError"), (ValueError("  \n "), "ValueError"), (OSError("  first\nsecond "), "first")],
)
def test_a_safetensors_failure_gives_its_first_line_or_its_kind(tmp_path, monkeypatch, error, detail):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"")

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr("dreamengine.engine.weights.load_file", failing)
    with pytest.raises(DreamError) as raised:
        read_state_dict(path)
    assert str(raised.value) == f"{str(path)!r} is not a readable safetensors file ({detail})."


def test_a_torch_file_named_safetensors_is_read_as_safetensors(tmp_path):
    path = tmp_path / "x.safetensors"
    torch.save(_tensors("w"), path)
    with pytest.raises(DreamError, match=r"is not a readable safetensors file \(.+\)\.$"):
        read_state_dict(path)


def test_a_pickled_module_is_refused_with_the_line_that_saves_its_weights(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(DreamError) as error:
        read_state_dict(path)
    assert str(error.value) == (
        f"{str(path)!r} is a whole pickled model (torch.save(model, ...)), which loading would have to run code "
        "for: save its weights instead, torch.save(model.state_dict(), 'model.pth'), and give --model ARCHITECTURE "
        "--weights model.pth."
    )


def _zip_with(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "members",
    [
        {"x/data.pkl": b"_modules only"},
        {"x/data.pkl": b"_parameters only"},
        {"x/other.pkl": b"_modules _parameters"},
        {},
    ],
)
def test_a_zip_that_is_no_pickled_module_is_called_unloadable(tmp_path, members):
    path = _zip_with(tmp_path / "x.pt", members)
    with pytest.raises(DreamError) as error:
        read_state_dict(path)
    assert str(error.value).startswith(f"{str(path)!r} is not a loadable checkpoint")
    assert "whole pickled model" not in str(error.value)


def test_only_the_pickle_of_a_zip_is_searched_for_a_module(tmp_path):
    path = _zip_with(tmp_path / "x.pt", {"x/data.pkl": b"_modules _parameters", "x/version": b"3"})
    with pytest.raises(DreamError, match="is a whole pickled model"):
        read_state_dict(path)


def test_a_legacy_pickled_module_is_refused_without_running_code(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save(nn.Linear(2, 2), path, _use_new_zipfile_serialization=False)
    with pytest.raises(DreamError, match=r"weights_only=True and never runs code from them, and this one needs more"):
        read_state_dict(path)


# unloadable


_ADVICE = (
    "Weights only load failed. This file can still be loaded, to do so you have two options.\n"
    "\t(1) In PyTorch 2.6, we changed the default value of the `weights_only` argument.\n"
    "\t(2) Alternatively, to load with `weights_only=True` please check the recommended steps.\n"
)


@pytest.fixture
def zipped(tmp_path):
    path = tmp_path / "z.pt"
    torch.save({"w": torch.zeros(1)}, path)
    return path


@pytest.fixture
def legacy(tmp_path):
    path = tmp_path / "l.pt"
    torch.save({"w": torch.zeros(1)}, path, _use_new_zipfile_serialization=False)
    return path


@pytest.mark.parametrize(
    "text, reason",
    [
        (
            _ADVICE + "\tWeightsUnpickler error: Unsupported global: GLOBAL x.Y was not an allowed global by default. "
            "Please use `torch.serialization.add_safe_globals([Y])`.\n\nCheck the documentation of torch.load.",
            "Unsupported global: GLOBAL x.Y was not an allowed global by default",
        ),
        (
            _ADVICE + "\n  \nCheck the documentation of torch.load.\nPlease file an issue.",
            "it holds Python objects other than tensors and plain values",
        ),
        ("Weights only load failed", "it holds Python objects other than tensors and plain values"),
        ("Weights only load failed.\n  Unpickler saw something odd  \nsecond line", "Unpickler saw something odd"),
        ("Weights only load failed.\nWeightsUnpickler error:  Bad thing  . Please use x. Please use y", "Bad thing"),
    ],
)
def test_a_weights_only_refusal_says_what_the_file_needs(zipped, legacy, text, reason):
    for path in (zipped, legacy):
        assert str(unloadable(path, RuntimeError(text))) == (
            f"{str(path)!r} is not a loadable checkpoint: dreamengine loads checkpoints with weights_only=True and "
            f"never runs code from them, and this one needs more ({reason})."
        )


def test_an_unsupported_operand_or_a_file_torch_did_not_write_is_incomplete(zipped, tmp_path):
    other = tmp_path / "other.pt"
    other.write_bytes(b"\x81not a pickle")
    incomplete = (
        "is not a loadable checkpoint: it is not a complete file saved with torch.save (a different kind of file, "
        "or a truncated download?)."
    )
    operand = RuntimeError("Weights only load failed.\nWeightsUnpickler error: Unsupported operand 149")
    assert str(unloadable(zipped, operand)) == f"{str(zipped)!r} {incomplete}"
    for error in (operand, RuntimeError("boom"), RuntimeError(_ADVICE + "Unsupported global: x")):
        assert str(unloadable(other, error)) == f"{str(other)!r} {incomplete}"


def test_any_other_failure_gives_its_first_line_or_its_kind(zipped, legacy):
    for path in (zipped, legacy):
        assert str(unloadable(path, RuntimeError("  first line\nsecond line"))) == (
            f"{str(path)!r} is not a loadable checkpoint (first line)."
        )
        assert str(unloadable(path, KeyError())) == f"{str(path)!r} is not a loadable checkpoint (KeyError)."
        assert str(unloadable(path, ValueError("  \n "))) == f"{str(path)!r} is not a loadable checkpoint (ValueError)."
        assert str(unloadable(path, RuntimeError("weights only load failed\nx"))) == (
            f"{str(path)!r} is not a loadable checkpoint (weights only load failed)."
        )


# head_classes


def test_the_head_in_given_weights_is_counted_by_the_tensors_that_differ_from_own():
    own = {"body.w": torch.zeros(3, 8), "fc.weight": torch.zeros(4, 8), "fc.bias": torch.zeros(4), "n": torch.tensor(4)}
    given = {
        "body.w": torch.zeros(3, 8),
        "fc.weight": torch.zeros(7, 8),
        "fc.bias": torch.zeros(7),
        "n": torch.tensor(9),
    }
    assert head_classes(own, given, 4) == 7
    assert head_classes(own, {**given, "fc.bias": torch.zeros(4)}, 4) == 7  # the bias fits; the weight says
    assert head_classes(own, own, 4) is None  # fits as it is
    assert head_classes(own, {**given, "fc.bias": torch.zeros(6)}, 4) is None  # disagree
    assert head_classes(own, {"body.w": torch.zeros(3, 8)}, 4) is None  # no head given
    assert head_classes(own, {**given, "fc.weight": torch.zeros(7, 9), "fc.bias": torch.zeros(4)}, 4) is None
    assert head_classes(own, {**given, "fc.weight": torch.zeros(7, 8, 1), "fc.bias": torch.zeros(4)}, 4) is None
    assert head_classes(own, {**given, "fc.weight": torch.zeros(7), "fc.bias": torch.zeros(4)}, 4) is None
    # a tensor of own that does not have ``classes`` rows is no head, whatever given holds for it
    assert head_classes(own, {**given, "body.w": torch.zeros(5, 8)}, 4) == 7
    assert head_classes({"w": torch.zeros(3, 8)}, {"w": torch.zeros(5, 8)}, 3) == 5
    assert head_classes({"w": torch.zeros(3)}, {"w": torch.zeros(1)}, 3) == 1


# input_channels


def _net(*layers):
    return nn.Sequential(*layers)


def test_the_first_convolutions_input_channels_are_those_the_weights_hold():
    net = _net(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 1))
    assert input_channels(net, {"0.weight": torch.zeros(8, 1, 3, 3)}) == ("0.weight", 1)
    assert input_channels(net, {"0.weight": torch.zeros(8, 4, 3, 3)}) == ("0.weight", 4)
    assert input_channels(net, {"0.weight": torch.zeros(8, 3, 3, 3)}) is None  # fits
    assert input_channels(net, {"2.weight": torch.zeros(4, 1, 1, 1)}) is None  # only the first convolution counts
    assert input_channels(net, {}) is None
    assert input_channels(net, {"0.weight": torch.zeros(9, 1, 3, 3)}) is None  # other outputs
    assert input_channels(net, {"0.weight": torch.zeros(8, 1, 5, 5)}) is None  # another kernel
    assert input_channels(net, {"0.weight": torch.zeros(8, 1, 5, 3)}) is None  # another kernel height
    assert input_channels(net, {"0.weight": torch.zeros(8, 1, 3)}) is None  # another kind of convolution
    assert input_channels(_net(nn.Conv2d(4, 8, 3, groups=2)), {"0.weight": torch.zeros(8, 1, 3, 3)}) is None
    assert input_channels(_net(nn.Linear(3, 2)), {"0.weight": torch.zeros(2, 1)}) is None  # no convolution
    named = nn.Sequential()
    named.add_module("stem", _net(nn.Identity(), nn.Conv1d(3, 2, 5)))
    assert input_channels(named, {"stem.1.weight": torch.zeros(2, 1, 5)}) == ("stem.1.weight", 1)
    assert type(input_channels(named, {"stem.1.weight": torch.zeros(2, 1, 5)})[1]) is int


# weights_only=True, whatever the environment says


class _Code:
    def __reduce__(self):
        return (print, ("code ran",))


def test_code_is_refused_even_where_the_environment_lets_torch_run_it_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # torch.load's default becomes weights_only=False
    path = tmp_path / "x.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "architecture": "tiny", "w": _Code()}, path)
    with pytest.raises(DreamError, match="never runs code from them"):
        read_checkpoint(path)
    with pytest.raises(DreamError, match="never runs code from them"):
        read_state_dict(path)
    assert is_checkpoint(path) is False
    assert "code ran" not in capsys.readouterr().out
