"""Build two atlases: of a model trained on the offline demo data, and of the default model on photographs.

    python examples/build_atlas.py                  # both, a few units of each layer (see the defaults below)
    python examples/build_atlas.py demo             # only the demo data's model
    python examples/build_atlas.py default --units 16 --steps 300

Each step is one dreamengine command, printed as it runs; run the script again and each resumes where it
stopped (the units and dataset examples already made are kept, the site is written again).

``demo``: ``dreamengine demo-data`` (four classes of coloured shapes), ``dreamengine train`` (resnet10t at 64
pixels), then ``dreamengine atlas --checkpoint`` of its last epoch with the demo data's validation images as the
dataset examples, into OUTPUT/demo-atlas.

``default``: scikit-image's sample photographs (``skimage.data``: a cat, an astronaut, coffee, a rocket, ...)
written as JPEG files, then ``dreamengine atlas`` of the default model (efficientnet-lite0, its ImageNet
weights, offline) with them as the dataset examples, into OUTPUT/default-atlas. Its default layers are every
stage, ``bn2`` (the layer the classifier pools) and the logits; ``--layer`` picks others.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from dreamengine.cli import cli

#: scikit-image's sample pictures that are photographs (its drawings and masks are left out); all ship with it
PHOTOGRAPHS = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def dreamengine(*args: object) -> None:
    """Run one dreamengine command in this process; stop with its message if it fails."""
    print("$ dreamengine " + " ".join(map(str, args)), flush=True)
    try:
        cli.main([str(a) for a in args], prog_name="dreamengine", standalone_mode=False)
    except click.ClickException as error:
        sys.exit(f"Error: {error.format_message()}")


def write_photographs(folder: Path) -> Path:
    """:data:`PHOTOGRAPHS` as RGB JPEG files in ``folder`` (kept when they are there); returns it."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOGRAPHS:
        path = folder / f"{name}.jpg"
        if not path.is_file():
            Image.fromarray(getattr(data, name)()).convert("RGB").save(path, quality=92)
    return folder


def dream_settings(args: argparse.Namespace, size: int) -> list[object]:
    """The atlas options both atlases share: units, variants, steps, size and device."""
    steps = ["--steps", args.steps] if args.steps else []
    return ["--units", args.units, "--variants", args.variants, *steps, "--size", size, "--device", args.device]


def demo_atlas(args: argparse.Namespace, out: Path) -> Path:
    """The demo data, a model trained on it, and its atlas with the validation images as examples."""
    data = out / "demo-data"
    if not data.exists():
        dreamengine("demo-data", data, "--size", args.demo_size, "--per-class", args.per_class)
    run = out / "demo-run"
    model = ["--model", args.demo_model, "--size", args.demo_size, "--epochs", args.epochs, "--device", args.device]
    dreamengine("train", data, *model, "--output", run, "--resume")
    checkpoint = run / f"epoch-{args.epochs:03d}.pt"
    atlas = out / "demo-atlas"
    settings = dream_settings(args, args.demo_size)
    dreamengine("atlas", "--checkpoint", checkpoint, "--images", data / "val", *settings, "--output", atlas)
    return atlas


def default_atlas(args: argparse.Namespace, out: Path) -> Path:
    """scikit-image's photographs, and the default model's atlas with them as examples."""
    photographs = write_photographs(out / "photographs")
    atlas = out / "default-atlas"
    layers = [option for layer in args.layer for option in ("--layer", layer)]
    settings = dream_settings(args, args.size)
    dreamengine("atlas", "--images", photographs, *layers, *settings, "--output", atlas)
    return atlas


def parser() -> argparse.ArgumentParser:
    """The script's options."""
    found = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    found.add_argument("which", nargs="?", choices=("both", "demo", "default"), default="both")
    found.add_argument("--output", default="atlases", help="folder for everything (default: atlases)")
    found.add_argument("--units", default="8", help="units of each layer: all, N or A-B (default: 8, the first 8)")
    found.add_argument("--variants", type=int, default=1, help="diverse dreams per unit besides its own (default: 1)")
    found.add_argument("--steps", type=int, help="dream steps (default: the engine's)")
    found.add_argument("--size", type=int, default=128, help="the default model's dreams (default: 128)")
    found.add_argument("--layer", action="append", default=[], help="the default model's layers (default: its own)")
    found.add_argument("--demo-model", default="resnet10t", help="the demo's architecture (default: resnet10t)")
    found.add_argument("--demo-size", type=int, default=64, help="the demo's images and dreams (default: 64)")
    found.add_argument("--epochs", type=int, default=5, help="the demo model's training epochs (default: 5)")
    found.add_argument("--per-class", type=int, default=60, help="demo images per class (default: 60)")
    found.add_argument("--device", default="auto")
    return found


def main(argv: Sequence[str] | None = None) -> None:
    """Build the atlases the arguments ask for and say where to open them."""
    args = parser().parse_args(argv)
    out = Path(args.output)
    built = []
    if args.which in ("both", "demo"):
        built.append(demo_atlas(args, out))
    if args.which in ("both", "default"):
        built.append(default_atlas(args, out))
    for atlas in built:
        print(f"open {atlas / 'index.html'}")


if __name__ == "__main__":
    main()
