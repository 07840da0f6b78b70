"""The quality study behind `dreamengine run`'s defaults (docs/quality.md).

Dreams the same ImageNet bird classes under each named setting, one folder per
setting, then scores every folder with `dreamengine evaluate` (judges other than
the dreaming model) and draws a contact sheet (settings down, classes across).
With `--classes broad` it dreams 48 classes over ImageNet's kinds instead (the
birds, mammals, dogs, ..., scenes: BROAD), one sub-folder per group in each
setting's folder, so that `evaluate` reports each group of each setting.

    python examples/quality_study.py dream  OUT [--setting NAME ...] [--device auto] [--classes broad]
    python examples/quality_study.py dream  OUT --setting horama-maco --setting horama-fourier   # the anchors
    python examples/quality_study.py time   OUT [--setting NAME ...]   # seconds per single dream, here
    python examples/quality_study.py sheet  OUT SHEET.png [--setting NAME ...] [--seed N ...]
    dreamengine evaluate OUT --json OUT/scores.json
    python examples/quality_study.py table  OUT              # docs/quality.md's table, from the two files
    python examples/quality_study.py groups OUT --setting A --setting B   # the broad set's table, per group
    python examples/quality_study.py composite OUT --setting maco-attr-on-gray   # dreams laid on gray by their maps

Every
setting is a set of `dreamengine run` options on top of the defaults, so any
row can be repeated by hand: `dreamengine run --class flamingo <options>`.

The anchors (issue 28; ``ANCHORS``) are another library's feature visualisation instead: Horama's ``maco`` and
``fourier`` (``pip install horama``), dreaming the same classes with the same model, seeds and steps, one dream
at a time, written as the settings' dreams are so that `dreamengine evaluate` scores them alike. They are dreamed
only when named with --setting.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import shlex
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from dreamengine.engine.classes import display_name
from dreamengine.engine.model import DreamModel
from dreamengine.errors import DreamError
from dreamengine.plugins import load_plugins
from dreamengine.run.acceleration import accelerate
from dreamengine.run.config import RunConfig
from dreamengine.run.execute import dream
from dreamengine.run.imaging import ATTRIBUTION_KEY, read_manifest, save_png, to_pil
from dreamengine.run.outputs import output_path
from dreamengine.run.prepare import load_model, resolve_device
from dreamengine_builtins.parametrizations import SPECTRUM

#: ImageNet classes over its kinds, by group: each ``(index, name)``, the name being the first of the class's
#: names as timm's ``ImageNetInfo`` spells them (what `dreamengine run --class` takes and a dream records).
BROAD: dict[str, tuple[tuple[int, str], ...]] = {
    # ten-plus birds of different shapes and colours: the study that chose today's defaults
    "birds": (
        (130, "flamingo"),
        (11, "goldfinch"),
        (14, "indigo bunting"),
        (15, "robin"),
        (18, "magpie"),
        (22, "bald eagle"),
        (24, "great grey owl"),
        (84, "peacock"),
        (88, "macaw"),
        (96, "toucan"),
        (144, "pelican"),
        (145, "king penguin"),
    ),
    "mammals": ((291, "lion"), (340, "zebra"), (388, "giant panda"), (386, "African elephant")),
    "dogs": ((207, "golden retriever"), (251, "dalmatian"), (254, "pug"), (250, "Siberian husky")),
    "reptiles-amphibians": ((47, "African chameleon"), (31, "tree frog"), (33, "loggerhead"), (48, "Komodo dragon")),
    "sea-life": ((1, "goldfish"), (2, "great white shark"), (107, "jellyfish"), (327, "starfish")),
    "insects": ((323, "monarch"), (301, "ladybug"), (309, "bee"), (319, "dragonfly")),
    "vehicles": ((779, "school bus"), (817, "sports car"), (555, "fire engine"), (820, "steam locomotive")),
    "food": ((963, "pizza"), (954, "banana"), (949, "strawberry"), (933, "cheeseburger")),
    "objects": ((849, "teapot"), (402, "acoustic guitar"), (879, "umbrella"), (889, "violin")),
    "scenes": ((980, "volcano"), (975, "lakeside"), (970, "alp"), (973, "coral reef")),
}

#: The birds alone, in the order of the documented study.
BIRDS = [name for _, name in BROAD["birds"]]

#: The measures of how a dream looks, as `dreamengine evaluate` reports them, and how a table prints each.
LOOKS = (("colourfulness", ".1f"), ("contrast", ".3f"), ("sharpness", ".3f"))

#: The ten classes of issue 20's first screen (one or two from each group), to try a setting in minutes.
SCREEN = ["flamingo", "lion", "golden retriever", "tree frog", "goldfish", "monarch", "school bus", "pizza"]
SCREEN += ["teapot", "volcano"]

#: ``--classes``: each set as ``{group: class names}``; the group is a sub-folder, "" none (the documented layout).
CLASS_SETS: dict[str, dict[str, list[str]]] = {
    "birds": {"": BIRDS},
    "broad": {group: [name for _, name in classes] for group, classes in BROAD.items()},
    "screen": {"": SCREEN},
}

#: The defaults chosen by the birds' study (``fft-octaves-300``), spelt out so that its variants below keep
#: their meaning whatever the defaults of the checkout.
BIRDS_DEFAULT = (
    "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate "
    "--strategy octaves:count=3:scale=1.4 --steps 300 --lr 0.05"
)
BLUR_EVERY = "--reg clamp,blur:sigma=0.5:every={},flip,jitter:pixels=8,scale,rotate"

#: name -> `dreamengine run` options, on top of the defaults of this checkout (a later option wins).
SETTINGS: dict[str, str] = {
    "report": "--param pixel --init gray:value=128 --reg clamp,blur:sigma=0.5,flip --steps 500 --lr 0.01 "
    "--strategy none",
    "pixel": "--param pixel --reg clamp,blur:sigma=0.5,flip --steps 200 --lr 0.05 --strategy none",
    "pixel-octaves": "--param pixel --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,roll,gradnorm "
    "--strategy octaves:count=3:scale=1.4 --optimizer sgd --lr 0.02 --steps 200",
    "fft": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8 --steps 200 --lr 0.05 --strategy none",
    "fft-noblur": "--param fft --reg clamp,flip,jitter:pixels=8 --steps 200 --lr 0.05 --strategy none",
    "fft-transforms": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate --steps 200 --lr 0.05 "
    "--strategy none",
    "fft-transforms-tv": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate,tv:weight=10 "
    "--steps 200 --lr 0.05 --strategy none",
    "fft-octaves": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate "
    "--strategy octaves:count=3:scale=1.4 --steps 200 --lr 0.05",
    "fft-transforms-400": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate "
    "--steps 400 --lr 0.05 --strategy none",
    "fft-octaves-4": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate "
    "--strategy octaves:count=4:scale=1.4 --steps 200 --lr 0.05",
    "fft-octaves-wide": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate "
    "--strategy octaves:count=3:scale=1.7 --steps 200 --lr 0.05",
    "fft-octaves-tv": "--param fft --reg clamp,blur:sigma=0.5,flip,jitter:pixels=8,scale,rotate,tv:weight=10 "
    "--strategy octaves:count=3:scale=1.4 --steps 200 --lr 0.05",
    "fft-octaves-300": BIRDS_DEFAULT,
    # issue 20 (docs/quality.md, "Vivid and sharp"): what washes the dreams out, one change to fft-octaves-300 at
    # a time (the blur's schedule, the step size, the spectrum's decay), then together
    "noblur": f"{BIRDS_DEFAULT} --reg clamp,flip,jitter:pixels=8,scale,rotate",
    "blur4": f"{BIRDS_DEFAULT} {BLUR_EVERY.format(4)}",
    "lr10": f"{BIRDS_DEFAULT} --lr 0.1",
    "lr20": f"{BIRDS_DEFAULT} --lr 0.2",
    "decay75": f"{BIRDS_DEFAULT} --param fft:decay=0.75",
    "decay125": f"{BIRDS_DEFAULT} --param fft:decay=1.25",
    "decay150": f"{BIRDS_DEFAULT} --param fft:decay=1.5",
    "decay125-blur2": f"{BIRDS_DEFAULT} --param fft:decay=1.25 {BLUR_EVERY.format(2)}",
    "decay125-blur4": f"{BIRDS_DEFAULT} --param fft:decay=1.25 {BLUR_EVERY.format(4)}",
    "decay125-blur8": f"{BIRDS_DEFAULT} --param fft:decay=1.25 {BLUR_EVERY.format(8)}",
    "decay125-noblur": f"{BIRDS_DEFAULT} --param fft:decay=1.25 --reg clamp,flip,jitter:pixels=8,scale,rotate",
    "noblur-lr10": f"{BIRDS_DEFAULT} --reg clamp,flip,jitter:pixels=8,scale,rotate --lr 0.1",
    "lr10-blur4": f"{BIRDS_DEFAULT} {BLUR_EVERY.format(4)} --lr 0.1",
    "lr15-blur4": f"{BIRDS_DEFAULT} {BLUR_EVERY.format(4)} --lr 0.15",
    "lr20-blur4": f"{BIRDS_DEFAULT} {BLUR_EVERY.format(4)} --lr 0.2",
    "lr10-blur2": f"{BIRDS_DEFAULT} {BLUR_EVERY.format(2)} --lr 0.1",
    "lr20-blur2": f"{BIRDS_DEFAULT} {BLUR_EVERY.format(2)} --lr 0.2",
    # ... and on top of decay125 (the new default): the colour basis, the start, one more octave, a larger step
    "decay125-nodecorrelate": f"{BIRDS_DEFAULT} --param fft:decay=1.25:decorrelate=false",
    "decay125-noise": f"{BIRDS_DEFAULT} --param fft:decay=1.25 --init noise",
    "decay125-octaves4": f"{BIRDS_DEFAULT} --param fft:decay=1.25 --strategy octaves:count=4:scale=1.4",
    "decay125-lr10": f"{BIRDS_DEFAULT} --param fft:decay=1.25 --lr 0.1",
    # ... and the colour blurred alone every step, the brightness every fourth (chromablur)
    "lr15-blur4-chroma": f"{BIRDS_DEFAULT} --lr 0.15 --reg clamp,blur:sigma=0.5:every=4,chromablur:sigma=1,flip,"
    "jitter:pixels=8,scale,rotate",
    # issue 28 (docs/quality.md, "A photograph's detail"): MACO's phase-only spectrum, with the transforms and no blur
    # or clamp (they have nothing to do on it), in octaves as the defaults, or through random crops; the feature
    # contrast raised
    "maco": f"{BIRDS_DEFAULT} --param maco --reg flip,jitter:pixels=8,scale,rotate",
    "maco-c3": f"{BIRDS_DEFAULT} --param maco:contrast=3 --reg flip,jitter:pixels=8,scale,rotate",
    "maco-crops": f"{BIRDS_DEFAULT} --param maco --reg flip,jitter:pixels=8,scale,rotate --strategy crops",
    # ... and a steeper spectrum without the blur: the decay, not a blur, holding the fine detail down
    "decay150-noblur": f"{BIRDS_DEFAULT} --param fft:decay=1.5 --reg clamp,flip,jitter:pixels=8,scale,rotate",
    "decay175-noblur": f"{BIRDS_DEFAULT} --param fft:decay=1.75 --reg clamp,flip,jitter:pixels=8,scale,rotate",
    "decay150-blur4": f"{BIRDS_DEFAULT} --param fft:decay=1.5 {BLUR_EVERY.format(4)}",
    # ... with MACO's attribution map beside each dream (`composite` lays each on a plain ground to be judged)
    "maco-attr": f"{BIRDS_DEFAULT} --param maco --reg flip,jitter:pixels=8,scale,rotate --attribution true",
    "maco-crops-attr": f"{BIRDS_DEFAULT} --param maco --reg flip,jitter:pixels=8,scale,rotate --strategy crops "
    "--attribution true",
    # the defaults of this checkout, in float32 and under bfloat16 autocast
    "default": "",
    "default-bf16": "--precision bf16",
}


#: The settings whose dreams have an attribution map beside them (MACO's), each laid on a plain ground by
#: ``composite`` into a folder of its own named here: the picture MACO shows, judged as a dream.
ON_GRAY = {f"{name}-on-gray": name for name, options in SETTINGS.items() if "--attribution" in options}
#: The ground: mid-gray, which neither judge's ImageNet classes favour.
GROUND = (128, 128, 128)


def config_for(setting: str, classes: list[str], output: Path, device: str, seed: int = 0) -> RunConfig:
    """The RunConfig of ``setting`` dreaming ``classes`` in one batch into ``output``."""
    settings: dict = {"classes": classes, "output": str(output), "device": device, "seed": seed}
    words = shlex.split(SETTINGS[setting])
    for flag, value in zip(words[::2], words[1::2]):
        key = flag.lstrip("-").replace("-", "_")
        settings[key] = value
    for key, kind in (("steps", int), ("lr", float), ("seed", int), ("size", int)):
        if key in settings:
            settings[key] = kind(settings[key])
    if "attribution" in settings:
        settings["attribution"] = settings["attribution"] == "true"
    return RunConfig().updated(settings, f"setting {setting!r}")


#: The anchors' canvas, in pixels a side: Horama's crops are 25-30 % of it (its boxes, as it draws them from the
#: default ``box_size``), about the default model's 224-pixel input, so a crop is neither blown up nor shrunk much.
ANCHOR_CANVAS = 768


def horama_maco(horama: ModuleType, model: DreamModel, index: int, steps: int, canvas: int) -> torch.Tensor:
    """Horama's ``maco`` (the phase of a fixed natural magnitude spectrum, optimised through random crops) with
    its defaults but ``steps``, ``canvas`` and the model's value range; the magnitude is dreamengine's
    ``natural_spectrum.npy``, given as the file Horama would otherwise download into its working folder."""
    with _spectrum_folder():
        return _horama(horama.maco, model, index, steps, canvas)


def horama_fourier(horama: ModuleType, model: DreamModel, index: int, steps: int, canvas: int) -> torch.Tensor:
    """Horama's ``fourier`` (Lucid's scaled Fourier spectrum, decay 1.5, optimised through random crops) with its
    defaults but ``steps``, ``canvas`` and the model's value range."""
    return _horama(horama.fourier, model, index, steps, canvas)


def _horama(visualise: Callable, model: DreamModel, index: int, steps: int, canvas: int) -> torch.Tensor:
    """One of Horama's feature visualisations of the class ``index``'s logit, back in [0, 1] pixels."""
    image, _ = visualise(
        _logit(model, index),
        total_steps=steps,
        image_size=canvas,
        model_input_size=model.input_size[0],
        values_range=_values_range(model),
        device=model.mean.device,
    )
    return _pixels(model, image)


#: name -> (package, anchor): ``(package's module, model, class index, steps, canvas)`` to the canvas dreamed,
#: ``(3, canvas, canvas)`` in [0, 1]. torch-dreams has none: its MACO-style parametrisation is not in its release.
ANCHORS: dict[str, tuple[str, Callable[[ModuleType, DreamModel, int, int, int], torch.Tensor]]] = {
    "horama-maco": ("horama", horama_maco),
    "horama-fourier": ("horama", horama_fourier),
}


def _package(name: str) -> ModuleType:
    """An anchor's package, or a DreamError saying how to install it (the study does not need it otherwise)."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise DreamError(f"this anchor needs the {name} package ({error}): pip install {name}") from None


@contextlib.contextmanager
def _spectrum_folder() -> Iterator[None]:
    """Work in a temporary folder holding dreamengine's magnitude spectrum under the name Horama's ``maco`` reads
    (else it downloads its own there); the working folder is restored after."""
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(SPECTRUM, Path(folder) / "spectrum_decorrelated.npy")
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(here)


def _logit(model: DreamModel, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The objective dreamengine's default ``logit`` maximises, on a batch of crops in the network's normalised
    input space: the class's logit, averaged over the crops."""
    return lambda crops: model(crops * model.std + model.mean)[:, index].mean()


def _values_range(model: DreamModel) -> tuple[float, float]:
    """The network's normalised values of pixels in [0, 1]: (-1, 1) for the default model (mean = std = 0.5)."""
    return float((-model.mean / model.std).min()), float(((1 - model.mean) / model.std).max())


def _pixels(model: DreamModel, image: torch.Tensor) -> torch.Tensor:
    """A ``(3, H, W)`` picture in the network's normalised input space back in [0, 1] pixels."""
    return (image.detach()[None] * model.std + model.mean)[0].clamp(0, 1)


def dream_anchor(host, name: str, classes: list[str], output: Path, device: str, seed: int, steps: int = 300) -> None:
    """Dream each class with the anchor ``name`` on the default model (loaded as `dreamengine run` loads it), one
    at a time from torch's random state seeded with ``seed``, and write it where the study writes a setting's dream,
    at the model's input size, as a PNG whose manifest `dreamengine evaluate` reads (the target, the model)."""
    package, anchor = ANCHORS[name]
    module = _package(package)
    config = RunConfig(classes=classes, output=str(output), device=device, seed=seed, steps=steps)
    model = accelerate(load_model(host, config).freeze().to(resolve_device(device)), config)
    for klass in classes:
        index = model.class_index(klass)
        began = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            canvas = anchor(module, model, index, steps, ANCHOR_CANVAS)
        seconds = time.perf_counter() - began
        image = F.interpolate(canvas[None], size=model.input_size, mode="bilinear", antialias=True)[0]
        with torch.no_grad():
            score = float(model(image[None])[0, index])
        target = display_name(model.class_names, index)
        manifest = {
            "anchor": {"name": name, "package": package, "version": importlib.metadata.version(package)},
            "config": {"model": config.model, "classes": [target], "seed": seed, "steps": steps, "objective": "logit"},
            "target": {"index": index, "name": target, "item": 0},
            "model": {"name": model.name, "input_size": list(model.input_size)},
            "size": [image.shape[-1], image.shape[-2]],
            "canvas": [canvas.shape[-1], canvas.shape[-2]],
            "score": score,
            "threads": torch.get_num_threads(),
        }
        output.mkdir(parents=True, exist_ok=True)
        save_png(to_pil(image), output_path(config, target, 1), manifest)
        print(f"{name} seed {seed}: {target} in {seconds:.1f} s", flush=True)


def dream_all(
    out: Path, names: list[str], groups: dict[str, list[str]], device: str, batch: int, seeds: list[int]
) -> None:
    """Dream each group's classes under each setting and seed into ``OUT/SETTING/GROUP``, ``batch`` at a time;
    dreams already made are kept, so a re-run (with any --batch) only makes the missing ones and never writes a
    second copy."""
    host = load_plugins()
    for name in names:
        for seed in seeds:
            for group, classes in groups.items():
                folder, label = out / name / group, f"{name}/{group}".rstrip("/")
                todo = [klass for klass in classes if not finished(folder, klass, seed)]
                if len(todo) < len(classes):
                    print(f"{label} seed {seed}: kept {len(classes) - len(todo)} dreams already made", flush=True)
                for start in range(0, len(todo), batch):
                    chunk = todo[start : start + batch]
                    began = time.perf_counter()
                    dream_setting(host, name, chunk, folder, device, seed)
                    print(
                        f"{label} seed {seed}: {len(chunk)} dreams in {time.perf_counter() - began:.1f} s", flush=True
                    )


def dream_setting(host, name: str, classes: list[str], output: Path, device: str, seed: int) -> None:
    """Dream ``classes`` under the setting or anchor ``name`` into the folder ``output``."""
    if name in ANCHORS:
        dream_anchor(host, name, classes, output, device, seed)
    else:
        dream(host, config_for(name, classes, output, device, seed))


def finished(folder: Path, klass: str, seed: int) -> bool:
    """Whether ``folder`` holds the finished (not interrupted) dream of ``klass`` at ``seed``."""
    path = output_path(RunConfig(output=str(folder), seed=seed), klass, 1)
    try:
        return not read_manifest(path).get("interrupted", False)
    except DreamError:  # missing, or not a dream
        return False


def time_all(out: Path, names: list[str], klass: str) -> None:
    host = load_plugins()
    times = {}
    for name in names:
        began = time.perf_counter()
        dream_setting(host, name, [klass], out / "timing" / name, "cpu", 0)
        times[name] = round(time.perf_counter() - began, 1)
        print(f"{name}: {times[name]} s per dream", flush=True)
    (out / "timing").mkdir(parents=True, exist_ok=True)
    (out / "timing" / "seconds.json").write_text(json.dumps(times, indent=2))


def sheet(
    out: Path,
    target: Path,
    names: list[str],
    groups: dict[str, list[str]],
    seeds: Sequence[int] = (0,),
    tile: int = 112,
    across: int = 16,
) -> None:
    """Settings (and seeds) down the side, classes across group by group, ``across`` classes a band: one picture
    to check the numbers by eye."""
    label, header = 110, 28
    classes = [(group, klass) for group, members in groups.items() for klass in members]
    bands = [classes[start : start + across] for start in range(0, len(classes), across)]
    rows = [(name, seed) for name in names for seed in seeds]
    band_height = header + tile * len(rows)
    width = label + tile * min(across, len(classes))
    canvas = Image.new("RGB", (width, band_height * len(bands)), "white")
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    for band, columns in enumerate(bands):
        top = band * band_height
        for column, (_, klass) in enumerate(columns):
            draw.text((label + column * tile + 2, top + 4 + 12 * (column % 2)), klass[:18], fill="black", font=font)
        for row, (name, seed) in enumerate(rows):
            y = top + header + row * tile
            draw.text((4, y + 4), name if len(seeds) == 1 else f"{name}, seed {seed}", fill="black", font=font)
            for column, (group, klass) in enumerate(columns):
                path = output_path(RunConfig(output=str(out / name / group), seed=seed), klass, 1)
                if path.exists():
                    picture = Image.open(path).convert("RGB").resize((tile, tile), Image.Resampling.LANCZOS)
                    canvas.paste(picture, (label + column * tile, y))
    canvas.save(target, optimize=True)


def composite(out: Path, names: list[str]) -> None:
    """Lay each dream of ``OUT/SETTING`` (a setting of :data:`ON_GRAY`) on :data:`GROUND` through its attribution
    map, as its ``-attribution.png`` shows it, into ``OUT/SETTING-on-gray`` (the same sub-folders and names), each
    with the dream's own settings, so that ``dreamengine evaluate`` judges and measures it as a dream."""
    for name in names:
        if name not in ON_GRAY:
            raise SystemExit(f"{name}: composite takes a setting named in ON_GRAY ({', '.join(ON_GRAY)})")
        source = out / ON_GRAY[name]
        for attributed in sorted(source.rglob("*-attribution.png")):
            manifest = read_manifest(attributed)
            manifest.pop(ATTRIBUTION_KEY)
            with Image.open(attributed) as picture:
                laid = Image.alpha_composite(Image.new("RGBA", picture.size, (*GROUND, 255)), picture.convert("RGBA"))
            relative = attributed.relative_to(source)
            target = out / name / relative.with_name(relative.name.removesuffix("-attribution.png") + ".png")
            target.parent.mkdir(parents=True, exist_ok=True)
            save_png(laid.convert("RGB"), target, manifest)
        print(f"{name}: laid on gray from {source}", flush=True)


def table(out: Path) -> None:
    """Print the markdown table: settings x judges (thumbnail and full size), the median colourfulness (M),
    contrast and sharpness, and seconds per dream; best first."""
    groups = json.loads((out / "scores.json").read_text())["groups"]
    seconds_file = out / "timing" / "seconds.json"
    seconds = json.loads(seconds_file.read_text()) if seconds_file.exists() else {}
    judges = sorted(next(iter(groups.values()))["judges"])
    columns = (
        ("thumb", "top1", "thumb top-1"),
        ("thumb", "top5", "thumb top-5"),
        ("thumb", "p_target", "thumb p"),
        ("full", "top1", "full top-1"),
        ("full", "p_target", "full p"),
    )
    heads = [f"{j.removeprefix('efficientnet-')} {head}" for j in judges for _, _, head in columns]
    print("| setting | dreams | " + " | ".join(heads) + " | M | contrast | sharp | s / dream |")
    print("| --- | ---: |" + " ---: |" * (len(heads) + 4))
    for name in sorted(groups, key=lambda g: -_rank_score(groups[g])):
        scores = groups[name]["judges"]
        cells = [
            f"{value:.0%}" if key != "p_target" else f"{value:.2f}"
            for j in judges
            for view, key, _ in columns
            for value in [scores[j][view][key]]
        ]
        measures = groups[name].get("measures", {})
        looks = [f"{measures[key]['median']:{form}}" if key in measures else "" for key, form in LOOKS]
        print(f"| {name} | {groups[name]['count']} | " + " | ".join(cells + looks) + f" | {seconds.get(name, '')} |")


def group_table(out: Path, names: list[str]) -> None:
    """Print the markdown table of the broad set: a row per group (and all), for each setting both judges' thumbnail
    top-1 and the median colourfulness, contrast and sharpness, from the images of ``OUT/scores.json``."""
    images = json.loads((out / "scores.json").read_text())["images"]
    by_group: dict[tuple[str, str], list[dict]] = {}
    for image in images:
        setting, group = (Path(image["path"]).parts[:-1] + ("",))[:2]
        by_group.setdefault((setting, group), []).append(image)
        by_group.setdefault((setting, "all"), []).append(image)
    groups = list(dict.fromkeys(group for setting, group in by_group if setting in names and group not in ("", "all")))
    heads = [f"{name} {head}" for name in names for head in ("thumb top-1 (lite1 / lite2)", "M", "contrast", "sharp")]
    print("| group | " + " | ".join(heads) + " |")
    print("| --- |" + " ---: |" * len(heads))
    for group in [*groups, "all"]:
        cells = [cell for name in names for cell in _group_cells(by_group.get((name, group), []))]
        print(f"| {group} | " + " | ".join(cells) + " |")


def _group_cells(images: list[dict]) -> list[str]:
    """One setting's cells of a group's row: thumbnail top-1 of each judge, then the median measures."""
    if not images:
        return ["", "", "", ""]
    judges = sorted(images[0]["judges"])
    hits = [sum(image["judges"][j]["thumb"]["rank"] == 0 for image in images) / len(images) for j in judges]
    medians = [statistics.median(image["measures"][key] for image in images) for key, _ in LOOKS]
    return [" / ".join(f"{hit:.0%}" for hit in hits)] + [
        f"{median:{form}}" for median, (_, form) in zip(medians, LOOKS)
    ]


def _rank_score(group: dict) -> float:
    """Order rows by the judges' mean thumbnail p(target), the most discriminating figure."""
    judged = group["judges"].values()
    return sum(s["thumb"]["p_target"] for s in judged) / len(judged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["dream", "time", "sheet", "table", "groups", "composite"])
    parser.add_argument("out", type=Path)
    parser.add_argument("target", type=Path, nargs="?", help="the sheet's file (sheet only)")
    parser.add_argument(
        "--setting",
        action="append",
        choices=sorted([*SETTINGS, *ANCHORS, *ON_GRAY]),
        help="[default: every setting, no anchor]",
    )
    parser.add_argument("--class", dest="classes", action="append", help="dream these classes instead of a set")
    parser.add_argument(
        "--classes",
        dest="class_set",
        choices=sorted(CLASS_SETS),
        default="birds",
        help="the 12 birds (in OUT/SETTING), 48 classes over ImageNet's kinds (in OUT/SETTING/GROUP) or the 10 "
        "classes of a quick screen (in OUT/SETTING) [default: birds]",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", dest="seeds", type=int, action="append", help="repeat for several [default: 0]")
    parser.add_argument("--batch", type=int, default=len(BIRDS), help="classes dreamed in one batch")
    args = parser.parse_args()
    if args.classes and args.class_set != "birds":
        parser.error("--class names the classes itself: give it without --classes")
    names = args.setting or list(SETTINGS)
    groups = {"": args.classes} if args.classes else CLASS_SETS[args.class_set]
    if args.action in ("dream", "time") and set(names) & set(ON_GRAY):
        parser.error(f"{args.action} makes dreams: the {', '.join(ON_GRAY)} folders are made by composite")
    if args.action == "composite":
        composite(args.out, args.setting or list(ON_GRAY))
    elif args.action == "dream":
        dream_all(args.out, names, groups, args.device, args.batch, args.seeds or [0])
    elif args.action == "time":
        time_all(args.out, names, next(iter(groups.values()))[0])
    elif args.action == "sheet":
        sheet(args.out, args.target, names, groups, args.seeds or [0])
    elif args.action == "groups":
        group_table(args.out, names)
    else:
        table(args.out)


if __name__ == "__main__":
    main()
