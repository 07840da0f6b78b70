"""`dreamengine demo-data` and `dreamengine train`: datasets, checkpoints, resuming, the fc-only path, refusals."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dreamengine import DreamError
from dreamengine.cli import cli
from dreamengine.engine.checkpoint import checkpoints_in, read_checkpoint
from dreamengine.run.imaging import read_manifest
from dreamengine.training.demo_data import DEMO_CLASSES, write_demo_data
from dreamengine.training.fine_tune import TrainSettings, train
from dreamengine.training.imagefolder import scan_dataset

FAST = ["--model", "test_resnet", "--size", "16", "--batch-size", "8", "--lr", "0.05", "--device", "cpu"]


def fast(*args: str) -> list[str]:
    """``FAST`` with ``args`` in place of its own values of those options (an option is given once)."""
    given = set(args[::2])
    kept = [part for pair in zip(FAST[::2], FAST[1::2]) if pair[0] not in given for part in pair]
    return [*kept, *args]


pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "data"
    write_demo_data(root, per_class=5, size=16, seed=1)
    return root


def invoke(runner, *args):
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_demo_data_writes_train_and_val_folders_and_refuses_a_used_folder(runner, tmp_path):
    result = invoke(runner, "demo-data", tmp_path / "d", "--per-class", "5", "--size", "16")
    assert result.exit_code == 0, result.output
    data = scan_dataset(tmp_path / "d")
    assert data.classes == list(DEMO_CLASSES) and data.split == "train/ and val/ folders"
    assert (len(data.train), len(data.val)) == (16, 4)
    assert Image.open(data.train[0][0]).size == (16, 16)
    again = runner.invoke(cli, ["demo-data", str(tmp_path / "d")])
    assert again.exit_code == 1 and "not an empty folder" in again.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--per-class", "1"], "--per-class must be at least 2, got 1."),
        (["--val-fraction", "1"], "--val-fraction must be above 0 and below 1, got 1.0."),
        (["--val-fraction", "nan"], "--val-fraction must be above 0 and below 1, got nan."),
        (["--size", "4"], "--size must be 8 to 1024, got 4."),
        (["--size", "100000"], "--size must be 8 to 1024, got 100000."),
    ],
)
def test_bad_demo_data_settings_name_the_option_and_its_value_and_write_nothing(runner, tmp_path, args, message):
    result = runner.invoke(cli, ["demo-data", str(tmp_path / "d"), *args])
    assert result.exit_code == 1 and message in result.output and not (tmp_path / "d").exists()


def test_train_writes_a_checkpoint_per_epoch_that_run_can_dream_with(runner, demo, tmp_path):
    out = tmp_path / "ck"
    result = invoke(runner, "train", demo, *FAST, "--epochs", "2", "-o", out)
    assert result.exit_code == 0, result.output
    assert "4 classes, 16 training and 4 validation images" in result.output
    assert [p.name for p in checkpoints_in(out)] == ["epoch-000.pt", "epoch-001.pt", "epoch-002.pt"]
    assert f"wrote 3 checkpoints (epochs 0-2); the last is {out / 'epoch-002.pt'}" in " ".join(result.output.split())
    payload = read_checkpoint(out / "epoch-002.pt")
    assert payload["architecture"] == "test_resnet" and payload["class_names"] == list(DEMO_CLASSES)
    assert payload["input_size"] == [16, 16] and len(payload["mean"]) == 3
    extra = payload["extra"]
    assert extra["epoch"] == 2 and 0 <= extra["val_accuracy"] <= 1 and extra["train_loss"] > 0
    assert extra["settings"]["freeze_backbone"] is False and extra["images"] == {"train": 16, "val": 4, "skipped": 0}
    dream = invoke(
        runner,
        "run",
        "--preset",
        "report",
        "--checkpoint",
        out / "epoch-002.pt",
        "--class",
        "2",
        "--size",
        "16",
        "--steps",
        "2",
        "-o",
        tmp_path / "d.png",
    )
    assert dream.exit_code == 0, dream.output
    assert "random weights" not in dream.output and Image.open(tmp_path / "d.png").size == (16, 16)
    stored = read_manifest(tmp_path / "d.png")
    assert stored["target"]["name"] == "red-vertical" and stored["config"]["preset"] == "report"
    assert stored["config"]["reg"] == ["clamp", "blur:sigma=0.5", "flip"] and (tmp_path / "d-side.png").exists()


def test_resuming_gives_the_same_weights_as_training_straight_through(host, demo, tmp_path):
    settings = dict(data=str(demo), model="test_resnet", size=16, batch_size=8, lr=0.05, device="cpu")
    train(host, TrainSettings(**settings, epochs=3, output=str(tmp_path / "straight")))
    train(host, TrainSettings(**settings, epochs=1, output=str(tmp_path / "resumed")))
    reports = train(host, TrainSettings(**settings, epochs=3, output=str(tmp_path / "resumed"), resume=True))
    assert [r.epoch for r in reports] == [2, 3]
    straight = read_checkpoint(tmp_path / "straight" / "epoch-003.pt")["state_dict"]
    resumed = read_checkpoint(tmp_path / "resumed" / "epoch-003.pt")["state_dict"]
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_freeze_backbone_trains_only_the_classifier_from_features_computed_once(host, demo, tmp_path, monkeypatch):
    import timm.models.resnet as resnet

    calls = []
    original = resnet.ResNet.forward_features
    monkeypatch.setattr(resnet.ResNet, "forward_features", lambda self, x: calls.append(len(x)) or original(self, x))
    train(
        host,
        TrainSettings(
            data=str(demo),
            model="test_resnet",
            size=16,
            batch_size=8,
            lr=0.1,
            epochs=3,
            freeze_backbone=True,
            device="cpu",
            output=str(tmp_path),
        ),
    )
    assert sum(calls) == 16 + 4  # each training and validation image once, not once per epoch
    first, last = (read_checkpoint(tmp_path / f"epoch-00{n}.pt")["state_dict"] for n in (0, 3))
    changed = {k for k in first if not torch.equal(first[k], last[k])}
    assert changed == {"fc.weight", "fc.bias"}


def test_the_offline_imagenet_model_is_fine_tuned_from_its_real_weights_with_a_new_head(host, runner, demo, tmp_path):
    train(
        host,
        TrainSettings(
            data=str(demo),
            model="efficientnet-lite0",
            size=32,
            batch_size=8,
            lr=0.1,
            epochs=1,
            freeze_backbone=True,
            device="cpu",
            output=str(tmp_path),
        ),
    )
    payload = read_checkpoint(tmp_path / "epoch-001.pt")
    imagenet = host.registry.get("models", "efficientnet-lite0").target().net.state_dict()
    tuned = payload["state_dict"]
    assert payload["architecture"] == "efficientnet-lite0" and tuned["classifier.weight"].shape == (4, 1280)
    assert all(torch.equal(tuned[k], imagenet[k]) for k in imagenet if not k.startswith("classifier."))
    dream = invoke(
        runner,
        "run",
        "--checkpoint",
        tmp_path / "epoch-001.pt",
        "-c",
        "blue-discs",
        "--size",
        "32",
        "--steps",
        "2",
        "-o",
        tmp_path / "d.png",
    )
    assert dream.exit_code == 0, dream.output
    assert "random weights" not in dream.output
    assert read_manifest(tmp_path / "d.png")["target"]["index"] == list(DEMO_CLASSES).index("blue-discs")


def test_a_seeded_split_when_there_is_no_train_and_val(tmp_path, demo):
    for name in DEMO_CLASSES:
        (tmp_path / name).mkdir()
        for path in sorted((demo / "train" / name).iterdir()):
            (tmp_path / name / path.name).write_bytes(path.read_bytes())
    first, again = scan_dataset(tmp_path, val_fraction=0.25, seed=3), scan_dataset(tmp_path, val_fraction=0.25, seed=3)
    assert first.val == again.val and len(first.val) == 4 and len(first.train) == 12
    assert sorted({label for _, label in first.val}) == [0, 1, 2, 3]


def test_unreadable_images_are_skipped_and_counted(runner, demo, tmp_path):
    data = tmp_path / "data"
    for split in ("train", "val"):
        for name in DEMO_CLASSES:
            (data / split / name).mkdir(parents=True)
            for path in (demo / split / name).iterdir():
                (data / split / name / path.name).write_bytes(path.read_bytes())
    (data / "train" / "red-vertical" / "broken.png").write_bytes(b"not a png")
    result = invoke(runner, "train", data, *FAST, "--epochs", "1", "-o", tmp_path / "ck")
    assert result.exit_code == 0, result.output
    assert "; skipped 1 unreadable file: train/red-vertical/broken.png" in " ".join(result.output.split())
    assert read_checkpoint(tmp_path / "ck" / "epoch-001.pt")["extra"]["images"]["skipped"] == 1


def _layout(root, files):
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "is empty"),
        ({"a.png": b"x"}, "is not an image-folder dataset"),
        ({"cat/.keep/": b""}, "has no images"),
        ({"cat/a.png": b"x", "dog/b.png": b"y"}, "has no readable training images"),
        ({"train/cat/a.png": b"x", "val/dog/b.png": b"y"}, "that the train/ folder lacks"),
        ({"cat/a.png": b"x", "cat/b.png": b"y"}, "a classifier needs at least 2 classes, but"),
    ],
)
def test_bad_datasets_are_refused_in_one_line(runner, tmp_path, files, message):
    root = tmp_path / "data"
    root.mkdir()
    for relative, content in files.items():
        if relative.endswith("/"):
            (root / relative).mkdir(parents=True)
        else:
            _layout(root, {relative: content})
    result = runner.invoke(cli, ["train", str(root), *FAST, "-o", str(tmp_path / "ck")])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "-1"], "--epochs must be 0 or more, got -1."),
        (["--lr", "0"], "--lr must be above 0 and finite, got 0.0."),
        (["--lr", "inf"], "--lr must be above 0 and finite, got inf."),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0."),
        (["--size", "4"], "--size must be at least 8, got 4."),
        (["--val-fraction", "2"], "--val-fraction must be 0 or more and below 1, got 2.0."),
    ],
)
def test_bad_training_settings_name_the_option_and_its_value(runner, demo, tmp_path, args, message):
    result = runner.invoke(cli, ["train", str(demo), *fast(*args), "-o", str(tmp_path)])
    assert result.exit_code == 1 and message in result.output


def test_a_seed_out_of_range_is_a_usage_error(runner, demo, tmp_path):
    result = runner.invoke(cli, ["train", str(demo), *FAST, "--seed", "-1", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is not in the range 0<=x<=4294967295" in result.output


def test_a_scripts_seed_out_of_range_is_refused_before_anything_is_read(host, demo, tmp_path):
    with pytest.raises(DreamError, match="--seed must be 0 to 4294967295, got 4294967296."):
        train(host, TrainSettings(data=str(demo), model="test_resnet", seed=2**32, output=str(tmp_path)))


def test_a_wrong_model_or_resume_fails_before_the_images_are_read(runner, demo, tmp_path, monkeypatch):
    invoke(runner, "train", demo, *FAST, "--epochs", "0", "-o", tmp_path / "ck")
    monkeypatch.setattr("dreamengine.training.fine_tune.load_images", lambda *a: pytest.fail("the images were read"))
    unknown = runner.invoke(cli, ["train", str(demo), *fast("--model", "nosuchnet"), "-o", str(tmp_path / "new")])
    assert unknown.exit_code == 1 and "unknown model 'nosuchnet'" in unknown.output
    resized = runner.invoke(cli, ["train", str(demo), *fast("--size", "24"), "--resume", "-o", str(tmp_path / "ck")])
    assert resized.exit_code == 1 and "it was trained with size = 16" in " ".join(resized.output.split())


def test_existing_checkpoints_are_not_overwritten_without_resume(runner, demo, tmp_path):
    result = invoke(runner, "train", demo, *FAST, "--epochs", "0", "-o", tmp_path)
    assert result.exit_code == 0 and "wrote 1 checkpoint (epoch 0)" in result.output  # the untrained start
    result = runner.invoke(cli, ["train", str(demo), *FAST, "--epochs", "1", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "pass --resume" in result.output
    result = runner.invoke(
        cli, ["train", str(demo), *FAST, "--epochs", "1", "--freeze-backbone", "--resume", "-o", str(tmp_path)]
    )
    assert result.exit_code == 1 and "freeze_backbone" in result.output
    result = runner.invoke(cli, ["train", str(tmp_path / "missing"), *FAST])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_ctrl_c_keeps_the_saved_epochs_and_says_how_to_resume(runner, demo, tmp_path, monkeypatch):
    from dreamengine.training.fine_tune import _Trainer

    epoch = _Trainer.epoch

    def stopped_in_epoch_2(self, number, on_batch):
        if number == 2:
            raise KeyboardInterrupt
        return epoch(self, number, on_batch)

    monkeypatch.setattr(_Trainer, "epoch", stopped_in_epoch_2)
    result = runner.invoke(cli, ["train", str(demo), *FAST, "--epochs", "3", "-o", str(tmp_path)])
    assert result.exit_code == 130 and "Traceback" not in result.output
    said = " ".join(result.output.split())  # a long path may wrap anywhere: check the words around it
    assert "Interrupted: epoch 1 is the last saved, in" in said and "run the same command with --resume" in said
    monkeypatch.setattr(_Trainer, "epoch", epoch)
    resumed = invoke(runner, "train", demo, *FAST, "--epochs", "3", "--resume", "-o", tmp_path)
    assert resumed.exit_code == 0 and [p.name for p in checkpoints_in(tmp_path)][-1] == "epoch-003.pt"


def test_ctrl_c_before_any_epoch_is_saved_says_to_start_again(runner, demo, tmp_path, monkeypatch):
    def stopped_while_reading(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dreamengine.training.fine_tune.load_images", stopped_while_reading)
    result = runner.invoke(cli, ["train", str(demo), *FAST, "--epochs", "3", "-o", str(tmp_path / "ck")])
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert "Interrupted: no epoch was saved; run the same command to start again." in result.output
    assert not checkpoints_in(tmp_path / "ck")
