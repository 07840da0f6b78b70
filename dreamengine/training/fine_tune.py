"""Fine-tuning a classifier on an image-folder dataset, with a checkpoint after every epoch.

Training is "standard": SGD with momentum 0.9 and weight decay 5e-4, cross-entropy,
a seeded shuffle each epoch. ``epoch-000.pt`` is the starting point (the report's
"before training" model); ``epoch-NNN.pt`` follows every epoch. Each epoch is
seeded on its own, so a resumed run ends with the same weights as an
uninterrupted one.

With ``freeze_backbone`` (the report's "fc-only" experiment) only the classifier
learns: the backbone's pooled features are computed once, without autograd, and
every epoch trains the classifier on those stored features.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dreamengine.engine.checkpoint import checkpoints_in, read_checkpoint, save_checkpoint
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError, check_options
from dreamengine.plugins import PluginHost
from dreamengine.run.config import MAX_SEED
from dreamengine.run.prepare import load_architecture, resolve_device
from dreamengine.training.imagefolder import LoadedImages, load_images, scan_dataset

__all__ = ["TrainSettings", "EpochReport", "TrainCallbacks", "train", "create_model"]


@dataclass
class TrainSettings:
    """The settings of ``dreamengine train``."""

    data: str
    model: str = "efficientnet-lite0"
    pretrained: bool = False
    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 32
    size: int = 128
    freeze_backbone: bool = False
    device: str = "auto"
    output: str = "checkpoints"
    resume: bool = False
    seed: int = 0
    val_fraction: float = 0.2


@dataclass
class EpochReport:
    """How one epoch went, and where its checkpoint is."""

    epoch: int
    train_loss: float | None
    train_accuracy: float | None
    val_accuracy: float | None
    seconds: float
    path: Path


@dataclass
class TrainCallbacks:
    """Optional progress callbacks (the CLI draws rich progress bars with them)."""

    #: called once the images are read, with ``classes``, ``split`` (how train and validation were told apart),
    #: the counts ``train``, ``val`` and ``skipped``, and ``skipped_files`` (the paths of the unreadable files)
    on_data: Callable[[dict[str, Any]], None] | None = None
    on_image: Callable[[int, int], None] | None = None
    on_batch: Callable[[int, int, int, float, float], None] | None = None
    on_epoch: Callable[[EpochReport], None] | None = None


@dataclass
class _Split:
    inputs: torch.Tensor
    labels: torch.Tensor
    skipped: list[Path] = field(default_factory=list)


def create_model(host: PluginHost, name: str, pretrained: bool, num_classes: int) -> DreamModel:
    """A model with a fresh ``num_classes``-way classifier: a registered model or any loader's."""
    entry = host.registry.entries["models"].get(name)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*random weights.*")
        if entry is None:
            return load_architecture(host, name, pretrained=pretrained, num_classes=num_classes)
        model = entry.target(pretrained=pretrained)
    if not hasattr(model.net, "reset_classifier"):
        raise DreamError(f"model {name!r} has no reset_classifier(), so it cannot get a {num_classes}-class head.")
    model.net.reset_classifier(num_classes)
    return model


def train(host: PluginHost, settings: TrainSettings, callbacks: TrainCallbacks | None = None) -> list[EpochReport]:
    """Fine-tune ``settings.model`` on ``settings.data``; returns a report per checkpoint written now (on a fresh
    start the first is epoch 0, the untrained starting point)."""
    callbacks = callbacks or TrainCallbacks()
    _check(settings)
    device = resolve_device(settings.device)
    data = scan_dataset(settings.data, val_fraction=settings.val_fraction, seed=settings.seed)
    if len(data.classes) < 2:
        raise DreamError(
            f"a classifier needs at least 2 classes, but {str(data.root)!r} has one sub-folder "
            f"({data.classes[0]!r}): add a folder of images for each other class."
        )
    # The model and the checkpoints come before the images: a wrong --model or --resume fails in a second,
    # not after minutes of reading a large dataset.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = create_model(host, settings.model, settings.pretrained, len(data.classes))
    model.class_names, model.input_size = list(data.classes), (settings.size, settings.size)
    start, optimizer_state = _resume(model, settings) if settings.resume else (_fresh_start(settings), None)
    train_set = _load(load_images(data.train, settings.size, callbacks.on_image), data.classes, "training")
    val_set = _load(load_images(data.val, settings.size, callbacks.on_image), data.classes, None)
    skipped = train_set.skipped + val_set.skipped
    if callbacks.on_data:
        callbacks.on_data(
            {
                "classes": data.classes,
                "split": data.split,
                "train": len(train_set.labels),
                "val": len(val_set.labels),
                "skipped": len(skipped),
                "skipped_files": skipped,
            }
        )
    model.to(device)
    trainer = _Trainer(model, settings, device, train_set, val_set)
    if optimizer_state:
        trainer.optimizer.load_state_dict(optimizer_state)
    meta = {
        "dataset": data.root.name,
        "split": data.split,
        "images": {"train": len(train_set.labels), "val": len(val_set.labels), "skipped": len(skipped)},
    }
    reports = []
    if start == 0:
        report = EpochReport(0, None, None, trainer.accuracy(trainer.val), 0.0, Path())
        report.path = trainer.save(report, meta)
        reports.append(report)
        _call(callbacks.on_epoch, report)
    for epoch in range(start + 1, settings.epochs + 1):
        report = trainer.epoch(epoch, callbacks.on_batch)
        report.path = trainer.save(report, meta)
        reports.append(report)
        _call(callbacks.on_epoch, report)
    return reports


def _call(callback, *args) -> None:
    if callback is not None:
        callback(*args)


def _check(settings: TrainSettings) -> None:
    """Refuse settings no training can run with, naming the option and its value."""
    check_options(
        ("--epochs", settings.epochs, settings.epochs >= 0, "0 or more"),
        ("--lr", settings.lr, 0 < settings.lr < float("inf"), "above 0 and finite"),
        ("--batch-size", settings.batch_size, settings.batch_size >= 1, "at least 1"),
        ("--size", settings.size, settings.size >= 8, "at least 8"),
        ("--val-fraction", settings.val_fraction, 0 <= settings.val_fraction < 1, "0 or more and below 1"),
        ("--seed", settings.seed, 0 <= settings.seed <= MAX_SEED, f"0 to {MAX_SEED}"),
    )


def _load(loaded: LoadedImages, classes: list[str], split: str | None) -> _Split:
    if split is not None:
        empty = [name for index, name in enumerate(classes) if not (loaded.labels == index).any()]
        if empty:
            raise DreamError(
                f"class {empty[0]!r} has no readable {split} images "
                f"({len(loaded.skipped)} unreadable file(s) were skipped)."
            )
    return _Split(loaded.images, loaded.labels, loaded.skipped)


class _Trainer:
    """The model, its optimizer and the data it learns from (images, or stored features)."""

    def __init__(
        self, model: DreamModel, settings: TrainSettings, device: torch.device, train_set: _Split, val_set: _Split
    ) -> None:
        self.model, self.settings, self.device = model, settings, device
        if settings.freeze_backbone:
            self.head = _classifier(model)
            self.train, self.val = (self._features(s) for s in (train_set, val_set))
        else:
            self.head = model
            self.train, self.val = train_set, val_set
        model.requires_grad_(False)
        self.head.requires_grad_(True)
        self.optimizer = torch.optim.SGD(self.head.parameters(), lr=settings.lr, momentum=0.9, weight_decay=5e-4)

    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        inputs = inputs.to(self.device)
        return self.head(inputs if self.settings.freeze_backbone else inputs.float().div_(255))

    @torch.no_grad()
    def _features(self, split: _Split) -> _Split:
        """Pooled backbone features of every image, computed once (eval mode, no autograd)."""
        net = self.model.net.eval()
        chunks = []
        for start in range(0, len(split.labels), self.settings.batch_size):
            images = split.inputs[start : start + self.settings.batch_size].to(self.device).float().div_(255)
            images = (images - self.model.mean) / self.model.std
            unpooled = net.forward_features(images)
            features = net.forward_head(unpooled, pre_logits=True)
            if start == 0 and not torch.allclose(self.head(features), net.forward_head(unpooled), atol=1e-4, rtol=1e-3):
                raise DreamError(
                    f"{self.settings.model}'s classifier is not a function of its pooled features; "
                    "train it without --freeze-backbone."
                )
            chunks.append(features)
        width = chunks[0].shape[1] if chunks else 0
        return _Split(torch.cat(chunks) if chunks else torch.empty(0, width), split.labels)

    def epoch(self, epoch: int, on_batch) -> EpochReport:
        """One pass over the training set, in a seeded order; then the validation accuracy."""
        started = time.perf_counter()
        torch.manual_seed(self.settings.seed * 1_000_003 + epoch)
        if self.settings.freeze_backbone:
            self.model.eval()  # batch-norm statistics belong to the frozen backbone
        self.head.train()
        order = torch.randperm(
            len(self.train.labels), generator=torch.Generator().manual_seed(self.settings.seed * 1_000_003 + epoch)
        )
        batches = [order[i : i + self.settings.batch_size] for i in range(0, len(order), self.settings.batch_size)]
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches.pop()  # a batch of one breaks batch norm in training mode
        total_loss, correct, seen = 0.0, 0, 0
        for number, batch in enumerate(batches, 1):
            labels = self.train.labels[batch].to(self.device)
            logits = self._forward(self.train.inputs[batch])
            loss = F.cross_entropy(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total_loss += float(loss.detach()) * len(batch)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(batch)
            _call(on_batch, epoch, number, len(batches), total_loss / seen, correct / seen)
        if not torch.isfinite(torch.tensor(total_loss)):
            raise DreamError(
                f"training diverged in epoch {epoch} (the loss is not finite) at learning rate "
                f"{self.settings.lr:g}; try a lower --lr."
            )
        return EpochReport(
            epoch,
            total_loss / max(seen, 1),
            correct / max(seen, 1),
            self.accuracy(self.val),
            time.perf_counter() - started,
            Path(),
        )

    @torch.no_grad()
    def accuracy(self, split: _Split) -> float | None:
        """Top-1 accuracy on ``split`` in eval mode (None when it is empty)."""
        if not len(split.labels):
            return None
        self.model.eval()
        correct = 0
        for start in range(0, len(split.labels), self.settings.batch_size):
            logits = self._forward(split.inputs[start : start + self.settings.batch_size])
            correct += int((logits.argmax(1).cpu() == split.labels[start : start + self.settings.batch_size]).sum())
        return correct / len(split.labels)

    def save(self, report: EpochReport, meta: dict[str, Any]) -> Path:
        """Write ``epoch-NNN.pt`` with the metadata the engine needs and the optimizer state."""
        settings = self.settings
        extra = {
            **meta,
            "epoch": report.epoch,
            "train_loss": report.train_loss,
            "train_accuracy": report.train_accuracy,
            "val_accuracy": report.val_accuracy,
            "seconds": report.seconds,
            "settings": {k: v for k, v in asdict(settings).items() if k not in ("data", "output", "resume", "device")},
        }
        path = Path(settings.output) / f"epoch-{report.epoch:03d}.pt"
        try:
            return save_checkpoint(
                self.model,
                path,
                architecture=settings.model,
                extra=extra,
                training_state={"optimizer": self.optimizer.state_dict()},
            )
        except OSError as error:
            raise DreamError(f"cannot write checkpoint {str(path)!r}: {error.strerror or error}.") from None


def _classifier(model: DreamModel) -> torch.nn.Module:
    net = model.net
    if not all(hasattr(net, a) for a in ("forward_features", "forward_head", "get_classifier")):
        raise DreamError(
            f"--freeze-backbone needs a timm model (forward_features, forward_head, get_classifier); "
            f"{model.name!r} is not one."
        )
    return net.get_classifier()


def _fresh_start(settings: TrainSettings) -> int:
    """Refuse to overwrite earlier checkpoints; training starts at epoch 0."""
    if checkpoints_in(settings.output):
        raise DreamError(
            f"{settings.output!r} already holds checkpoints; pass --resume to continue "
            "training them, or choose another --output."
        )
    return 0


def _resume(model: DreamModel, settings: TrainSettings) -> tuple[int, dict | None]:
    """Load the latest checkpoint of the output folder into ``model``; returns its epoch and optimizer state."""
    found = checkpoints_in(settings.output)
    if not found:
        return _fresh_start(settings), None
    payload = read_checkpoint(found[-1])
    stored = payload.get("extra", {}).get("settings", {})
    for key, value in (("architecture", settings.model), ("class_names", model.class_names)):
        if payload.get(key) != value:
            raise DreamError(
                f"cannot resume from {str(found[-1])!r}: its {key} is {payload.get(key)!r}, this run's is {value!r}."
            )
    for key in ("freeze_backbone", "size"):
        if stored.get(key) != getattr(settings, key):
            raise DreamError(
                f"cannot resume from {str(found[-1])!r}: it was trained with {key} = "
                f"{stored.get(key)!r}, this run asks for {getattr(settings, key)!r}."
            )
    model.load_weights(payload["state_dict"], f"checkpoint {str(found[-1])!r}")
    return int(payload["extra"]["epoch"]), payload.get("training_state", {}).get("optimizer")
