"""Judging dreams: does another ImageNet network see the target class, even in a thumbnail?

A dream that fools only the network that made it is adversarial noise. A
*judge* is any registered model other than the dreaming one; it scores each
dream (scaled, with antialiasing, to cover its own input size, and cropped about
the centre where the shapes differ: a photo-shaped dream is not stretched) in
two views:

* ``full``: the dream at the judge's input size;
* ``thumb``: the dream shrunk to a thumbnail (``thumb`` pixels on its longer
  side) and scaled back up, as a person sees it in a contact sheet. Fine
  adversarial texture does not survive this; shapes and colours do.

For each judge, view and group of dreams the report gives the top-1 and top-5
recognition rates and the mean probability of the target class. It also gives
how each dream looks, judged by no network: its colourfulness, contrast and
sharpness (:mod:`dreamengine.analysis.image_stats`), and their median, mean,
minimum and maximum per group.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dreamengine.analysis.defaults import DEFAULT_JUDGES, DEFAULT_THUMB, GROUPING_NAMES
from dreamengine.analysis.image_stats import measure
from dreamengine.analysis.montage import MONTAGE_KEY
from dreamengine.engine.classes import display_name
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError, WeightsUnavailable, unknown_name
from dreamengine.plugins import PluginHost
from dreamengine.run.acceleration import accelerate
from dreamengine.run.config import RunConfig, parse_size
from dreamengine.run.imaging import ATTRIBUTION_KEY, MANIFEST_KEY, SHEET_KEY, SIDE_BY_SIDE_GAP, open_image, to_tensor
from dreamengine.run.own_model import saved_folder
from dreamengine.run.prepare import load_model

__all__ = [
    "DEFAULT_JUDGES",
    "DEFAULT_THUMB",
    "GROUPINGS",
    "Dream",
    "Skipped",
    "Report",
    "collect_dreams",
    "choose_judges",
    "judge_views",
    "score_dreams",
    "summarise",
    "measure_dream",
    "summarise_measures",
    "evaluate_folder",
    "check_report_path",
]

_BATCH = 16


@dataclass(frozen=True)
class Dream:
    """One dream PNG: where it is, its group, its target and the model that dreamed it."""

    path: Path
    group: str
    target: int
    target_name: str
    model: str
    image: torch.Tensor  # (3, H, W) in [0, 1]


_GROUPS: dict[str, Callable[[Dream], str]] = {
    "folder": lambda dream: dream.group,
    "class": lambda dream: dream.target_name,
    "all": lambda dream: "all",
}
#: How dreams are grouped in the summary, by :data:`~dreamengine.analysis.defaults.GROUPING_NAMES`: by folder
#: (relative to the one evaluated), by target class, or all together.
GROUPINGS: dict[str, Callable[[Dream], str]] = {name: _GROUPS[name] for name in GROUPING_NAMES}


@dataclass(frozen=True)
class Skipped:
    """A PNG that is not scored, and why; ``companion`` if dreamengine writes it beside its dreams (a side-by-side
    picture, a study's contact sheet), which is no surprise."""

    path: Path
    reason: str
    companion: bool = False


class _Companion(DreamError):
    """A picture dreamengine writes beside dreams, not a dream."""


@dataclass
class Report:
    """Scores of a folder of dreams: per group and judge (``summary``) and per image (``images``).

    ``summary[group]["judges"][judge][view]`` holds ``top1``, ``top5`` and
    ``p_target`` (and ``summary[group]["count"]`` the number of dreams);
    ``images[i]["judges"][judge][view]`` holds the target's ``rank`` (0 is
    top-1), ``p_target`` and the judge's own ``top1`` class name.
    ``images[i]["measures"]`` holds the dream's ``colourfulness``, ``contrast``
    and ``sharpness``, and ``summary[group]["measures"][name]`` their
    ``median``, ``mean``, ``min`` and ``max`` over the group.
    """

    folder: str
    judges: list[str]
    views: dict[str, int | None]
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return {
            "folder": self.folder,
            "judges": self.judges,
            "views": self.views,
            "groups": self.summary,
            "images": self.images,
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
        }


def check_report_path(path: str | os.PathLike) -> None:
    """Refuse, before any judging, a ``--json`` path that a report cannot replace: a folder, or a file that is
    not an earlier report (``evaluate --json holiday.png`` would have overwritten the photo)."""
    path = Path(path)
    if path.is_dir():
        raise DreamError(f"--json {str(path)!r} is a folder: name a file, as in scores.json.")
    if path.exists() and not _is_report(path):
        raise DreamError(f"{str(path)!r} is there and is not an evaluate report: name another file with --json.")


def _is_report(path: Path) -> bool:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and {"folder", "judges", "views"} <= set(report)


def collect_dreams(folder: str | os.PathLike) -> tuple[list[Dream], list[Skipped]]:
    """Every dream PNG under ``folder`` (recursively, sorted), and the PNGs skipped with a reason.

    A dream's ``group`` is its folder relative to ``folder`` (``.`` at the top).
    PNGs without dreamengine settings, unreadable ones, the wide
    ``*-side.png`` pictures and the attribution maps are skipped.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DreamError(f"{str(root)!r} is not a folder of dreams.")
    dreams, skipped = [], []
    for path in sorted(root.rglob("*.png")):
        try:
            dreams.append(_read_dream(root, path))
        except DreamError as error:
            skipped.append(Skipped(path, str(error), companion=isinstance(error, _Companion)))
    return dreams, skipped


def _read_dream(root: Path, path: Path) -> Dream:
    picture = open_image(path)
    text = getattr(picture, "text", {}).get(MANIFEST_KEY)
    if text is None:
        raise DreamError("not a dreamengine dream (no settings in its metadata)")
    try:
        manifest = json.loads(text)
        if SHEET_KEY in manifest:
            raise _Companion("a study's contact sheet")
        if MONTAGE_KEY in manifest:
            raise _Companion("a montage of dreams")
        if ATTRIBUTION_KEY in manifest:
            raise _Companion("a dream's attribution map")
        target, model = manifest["target"], manifest["model"]["name"]
        width, height = manifest.get("size") or _asked_size(manifest)
    except (ValueError, KeyError, TypeError) as error:
        raise DreamError(f"its dreamengine settings are corrupt ({type(error).__name__}: {error})") from None
    if path.stem.endswith("-side") and picture.size == (2 * width + SIDE_BY_SIDE_GAP, height):
        raise _Companion("a side-by-side picture")
    if picture.size != (width, height):
        raise DreamError(f"{picture.width}x{picture.height}, not the dream's {width}x{height} (resized since?)")
    if target is None:
        raise DreamError(
            f"dreamed toward no class (its objective, {manifest['config'].get('objective')!r}, reads "
            "no --class): there is no target to judge"
        )
    return Dream(
        path,
        path.parent.relative_to(root).as_posix(),
        int(target["index"]),
        str(target["name"]),
        str(model),
        to_tensor(picture.convert("RGB")),
    )


def _asked_size(manifest: dict[str, Any]) -> tuple[int, int]:
    """``(width, height)`` of a dream whose settings do not store its size (made before they did): as asked."""
    height, width = parse_size(manifest["config"].get("size")) or manifest["model"]["input_size"]
    return width, height


def choose_judges(dreams: Sequence[Dream], judges: Sequence[str] | None) -> list[str]:
    """The judges to use: those named, or :data:`DEFAULT_JUDGES` minus any model that made a dream.

    A named judge that made one of the dreams is refused: a network recognises
    its own dreams whether or not a person could.
    """
    dreamers = sorted({d.model for d in dreams})
    if judges:
        own = [j for j in judges if j in dreamers]
        if own:
            raise DreamError(
                f"judge {own[0]!r} made some of these dreams; judge them with another model "
                f"(they were made by {', '.join(dreamers)})."
            )
        return list(dict.fromkeys(judges))
    chosen = [j for j in DEFAULT_JUDGES if j not in dreamers]
    if not chosen:
        raise DreamError(
            f"every default judge ({', '.join(DEFAULT_JUDGES)}) made some of these dreams; name another with --judge."
        )
    return chosen


def judge_views(thumb: int) -> dict[str, Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]]:
    """The views a judge scores, by name: each maps a ``(3, H, W)`` dream to a ``(3, *size)`` input."""
    views = {"full": _cover}
    if thumb:
        views["thumb"] = lambda image, size: _cover(_resize(image, _thumb_size(image, thumb)), size)
    return views


def _cover(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``image`` scaled to cover ``size`` and cropped about its centre: of another shape, it is not stretched."""
    height, width = image.shape[-2:]
    scale = max(size[0] / height, size[1] / width)
    scaled = _resize(image, (max(size[0], round(height * scale)), max(size[1], round(width * scale))))
    top, left = (scaled.shape[-2] - size[0]) // 2, (scaled.shape[-1] - size[1]) // 2
    return scaled[..., top : top + size[0], left : left + size[1]]


def _thumb_size(image: torch.Tensor, thumb: int) -> tuple[int, int]:
    """The thumbnail's ``(height, width)``: ``thumb`` on the longer side, but never larger than the dream."""
    height, width = image.shape[-2:]
    scale = min(1.0, thumb / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def score_dreams(
    judge: DreamModel,
    dreams: Sequence[Dream],
    thumb: int = DEFAULT_THUMB,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, list[dict]]:
    """Score every dream with ``judge`` in every view: per view, one ``{rank, p_target, top1}`` per dream.

    The judge is frozen and prepared as a dream's network is (norms folded, channels-last on the CPU), in place.
    ``on_batch`` is called with the number of dreams in each batch once it is scored.
    """
    _check_classes(judge, dreams)
    judge = accelerate(judge.freeze(), RunConfig())
    device = judge.mean.device
    scores = {}
    for view, make in judge_views(thumb).items():
        probabilities = []
        with torch.inference_mode():
            for start in range(0, len(dreams), _BATCH):
                batch = torch.stack([make(d.image, judge.input_size) for d in dreams[start : start + _BATCH]])
                probabilities.append(judge(batch.to(device)).float().softmax(-1).cpu())
                if on_batch:
                    on_batch(len(batch))
        scores[view] = [_item(judge, p, d.target) for p, d in zip(torch.cat(probabilities), dreams)]
    return scores


def _check_classes(judge: DreamModel, dreams: Sequence[Dream]) -> None:
    """Refuse dreams whose target the judge does not know by the same index and name."""
    classes = _class_count(judge)
    for dream in dreams:
        if dream.target >= classes:
            raise DreamError(
                f"judge {judge.name!r} has {classes} classes, but {str(dream.path)!r} targets class "
                f"{dream.target}; judge with a model of the same classes."
            )
        known_as = display_name(judge.class_names, dream.target)
        if known_as.lower() != dream.target_name.lower():
            raise DreamError(
                f"judge {judge.name!r} does not know the class of {str(dream.path)!r}: it targets "
                f"{dream.target_name!r} (class {dream.target} of {dream.model!r}), which is "
                f"{known_as!r} to the judge. Judge with a model of the same classes (--judge NAME)."
            )


def _class_count(model: DreamModel) -> int:
    return int(getattr(model.net, "num_classes", None) or len(model.class_names))


def _item(judge: DreamModel, probabilities: torch.Tensor, target: int) -> dict[str, Any]:
    best = int(probabilities.argmax())
    rank = int((probabilities > probabilities[target]).sum())
    name = judge.class_names[best] if best < len(judge.class_names) else str(best)
    return {"rank": rank, "p_target": round(float(probabilities[target]), 6), "top1": name}


def summarise(items: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Top-1 and top-5 rates and the mean target probability of per-dream scores."""
    items = list(items)
    count = max(len(items), 1)
    return {
        "top1": sum(i["rank"] == 0 for i in items) / count,
        "top5": sum(i["rank"] < 5 for i in items) / count,
        "p_target": sum(i["p_target"] for i in items) / count,
    }


def measure_dream(image: torch.Tensor) -> dict[str, float]:
    """Colourfulness, contrast and sharpness (see :mod:`~dreamengine.analysis.image_stats`) of a ``(3, H, W)``
    dream in [0, 1], rounded to four decimals."""
    values = measure(image.permute(1, 2, 0).numpy())
    return {name: round(value, 4) for name, value in values.items()}


def summarise_measures(measures: Iterable[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per measure, the ``median``, ``mean``, ``min`` and ``max`` of per-dream measures (from :func:`measure_dream`)."""
    measures = list(measures)
    summary = {}
    for name in measures[0] if measures else ():
        values = np.array([m[name] for m in measures])
        summary[name] = {
            key: round(float(reduce(values)), 4)
            for key, reduce in (("median", np.median), ("mean", np.mean), ("min", np.min), ("max", np.max))
        }
    return summary


def evaluate_folder(
    host: PluginHost,
    folder: str | os.PathLike,
    judges: Sequence[str] | None = None,
    *,
    thumb: int = DEFAULT_THUMB,
    group_by: str = "folder",
    device: str = "cpu",
    on_scored: Callable[[str, int, int], None] | None = None,
    judge_settings: Mapping[str, Any] | None = None,
) -> Report:
    """Score every dream under ``folder`` with each judge (loaded once); see :class:`Report`.

    Args:
        host: the plugin host whose registry names the judges.
        folder: searched recursively; each sub-folder is a group.
        judges: model names; ``None`` for :data:`DEFAULT_JUDGES` minus the dreaming models.
        thumb: longer side of the thumbnail view in pixels; 0 for the full view only.
        group_by: a key of :data:`GROUPINGS`: ``folder`` (each sub-folder a group), ``class`` or ``all``.
        device: where the judges run.
        on_scored: called as ``on_scored(judge, done, total)``: with ``done`` 0 before each judge is
            loaded, then after each batch; ``total`` counts every dream in every view.
        judge_settings: model settings (``weights``, ``class_names``, ``mean``, ...) for the one judge named.
    """
    if judge_settings and len(judges or ()) != 1:
        raise DreamError(
            f"the --judge-* options ({', '.join(sorted(judge_settings))}) are for one judge: name it once with --judge."
        )
    if group_by not in GROUPINGS:
        raise unknown_name("grouping", group_by, GROUPINGS)
    if thumb < 0:
        raise DreamError(f"the thumbnail size must be 0 (off) or positive, got {thumb}.")
    dreams, skipped = collect_dreams(folder)
    if not dreams:
        reasons = [f"{s.path.name}: {s.reason}" for s in skipped if not s.companion][:1]
        raise DreamError(
            f"found no dreams to judge in {str(folder)!r} ({len(skipped)} other PNG(s)"
            + (f", e.g. {reasons[0]}" if reasons else "")
            + ")."
        )
    names = choose_judges(dreams, judges)
    report = Report(str(folder), names, {"full": None, **({"thumb": thumb} if thumb else {})}, skipped=skipped)
    report.images = [
        {
            "path": d.path.relative_to(Path(folder)).as_posix(),
            "group": GROUPINGS[group_by](d),
            "model": d.model,
            "target": {"index": d.target, "name": d.target_name},
            "measures": measure_dream(d.image),
            "judges": {},
        }
        for d in dreams
    ]
    total = len(dreams) * len(report.views)
    for name in names:
        done = 0

        def scored(count: int) -> None:  # used within this iteration only, so ``name`` is this judge's
            nonlocal done
            done += count
            if on_scored:
                on_scored(name, done, total)  # noqa: B023 (called within the loop's own iteration)

        scored(0)
        judge = _load_judge(host, name, judge_settings).to(device)
        for view, items in score_dreams(judge, dreams, thumb, on_batch=scored).items():
            for image, item in zip(report.images, items):
                image["judges"].setdefault(name, {})[view] = item
    report.summary = _group_summary(report)
    return report


def _load_judge(host: PluginHost, name: str, settings: Mapping[str, Any] | None = None) -> DreamModel:
    """A judge with trained weights: a registered model as it comes (the offline ones ship theirs), one with its
    own weights (``settings``' weights file or checkpoint, or a saved model's folder), any other (a timm
    architecture) with its pretrained weights, downloaded; random weights would judge nothing. ``settings`` holds
    the model settings of ``evaluate``'s ``--judge-*`` options (weights, class names, normalisation, input size)."""
    registered = host.registry.names("models")
    config = RunConfig(model=name).updated(settings or {}, "the judge's options")
    if name in registered or config.weights or config.checkpoint or saved_folder(name) is not None:
        return load_model(host, config)
    try:
        return load_model(host, config.updated({"pretrained": True}, "a judge"))
    except WeightsUnavailable as error:
        raise DreamError(
            f"cannot judge with {name!r}: a judge needs trained weights, and {error.reason}. Judge "
            f"with a registered model instead: {', '.join(registered)}."
        ) from None


def _group_summary(report: Report) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict]] = {}
    for image in report.images:
        groups.setdefault(image["group"], []).append(image)
    return {
        group: {
            "count": len(images),
            "measures": summarise_measures(i["measures"] for i in images),
            "judges": {
                judge: {view: summarise(i["judges"][judge][view] for i in images) for view in report.views}
                for judge in report.judges
            },
        }
        for group, images in sorted(groups.items())
    }
