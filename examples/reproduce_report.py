"""Reproduce the report's study end to end: train, train fc-only, dream the grid, write the page.

    python examples/reproduce_report.py                  # on the offline demo data
    python examples/reproduce_report.py birds --model inception_v4 --pretrained --size 128
    python examples/reproduce_report.py --quick          # a few minutes on a laptop CPU

Steps, each one dreamengine command (run again, it resumes where it stopped):

1. ``dreamengine demo-data`` when no dataset folder is given;
2. ``dreamengine train`` twice: full fine-tuning and ``--freeze-backbone`` (the report's fc-only run);
3. ``dreamengine study`` over both runs: epochs x dream steps x classes x objective (logit,
   cross-entropy) x blur (fixed sigma 0.5, and sigma drawn from 0.1-1.0), written as contact
   sheets and OUTPUT/study/index.html.

On the demo data it ends by measuring how much each final dream carries its own class's colour
(1 = exactly its class's hue), for the fully trained and the fc-only model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click

from dreamengine.cli import cli

QUICK = {"epochs": 3, "study_epochs": "0,3", "steps": "25,50,100"}


def dreamengine(*args: object) -> None:
    """Run one dreamengine command in this process; stop with its message if it fails."""
    print("$ dreamengine " + " ".join(map(str, args)), flush=True)
    try:
        cli.main([str(a) for a in args], prog_name="dreamengine", standalone_mode=False)
    except click.ClickException as error:
        sys.exit(f"Error: {error.format_message()}")


def resemblance(study_folder: Path, runs: list[str], epoch: int, steps: int) -> None:
    """Print each demo class's own-colour signature in its final dream, per training run."""
    import numpy as np
    import torch
    from PIL import Image

    from dreamengine.engine.classes import slug
    from dreamengine.training.demo_data import DEMO_CLASSES, signatures

    print(f"\nown-colour signature of each dream (epoch {epoch}, {steps} steps, logit, blur 0.5):")
    for run in runs:
        values = []
        for index, name in enumerate(DEMO_CLASSES):
            path = (
                study_folder
                / "cells"
                / slug(run)
                / name
                / "logit_blur-0-5_seed0"
                / f"epoch-{epoch:03d}_steps-{steps:05d}.png"
            )
            image = torch.from_numpy(np.array(Image.open(path), dtype=np.float32) / 255).permute(2, 0, 1)
            values.append(f"{name} {float(signatures(image)[index]):+.2f}")
        print(f"  {run:8s} " + "  ".join(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="image-folder dataset (default: generate the demo data)")
    parser.add_argument("--output", default="report-study", help="folder for everything (default: report-study)")
    parser.add_argument("--model", default="resnet10t", help="timm architecture (the report: inception_v4)")
    parser.add_argument("--pretrained", action="store_true", help="start from timm's pretrained weights")
    parser.add_argument("--size", type=int, default=64, help="image and dream size (the report: 128)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (the report: 10 and 20)")
    parser.add_argument("--lr", type=float, default=0.01, help="training learning rate (the report: 0.01)")
    parser.add_argument("--study-epochs", default="0,1,2,5,10", help="epochs shown in the study (rows)")
    parser.add_argument("--steps", default="200,500,1000,2000", help="dream steps (columns; the report's)")
    parser.add_argument("--dream-lr", type=float, default=None, help="dream learning rate (default: the preset's)")
    parser.add_argument("--quick", action="store_true", help=f"a short run: {QUICK}")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    out = Path(args.output)
    data = Path(args.data) if args.data else out / "demo-data"
    if not args.data and not data.exists():
        dreamengine("demo-data", data, "--size", args.size)
    common = [
        "--model",
        args.model,
        "--size",
        args.size,
        "--epochs",
        args.epochs,
        "--lr",
        args.lr,
        "--device",
        args.device,
        "--resume",
    ] + (["--pretrained"] if args.pretrained else [])
    dreamengine("train", data, *common, "--output", out / "full")
    dreamengine("train", data, *common, "--freeze-backbone", "--output", out / "fc-only")
    dream_lr = ["--lr", args.dream_lr] if args.dream_lr else []
    dreamengine(
        "study",
        out / "full",
        out / "fc-only",
        "--epochs",
        args.study_epochs,
        "--steps",
        args.steps,
        "--objective",
        "logit",
        "--objective",
        "cross-entropy",
        "--blur",
        "0.5",
        "--blur",
        "0.1-1.0",
        "--size",
        args.size,
        "--device",
        args.device,
        *dream_lr,
        "--output",
        out / "study",
        "--title",
        f"{args.model} on {data.name}: epochs x dream steps",
    )
    if not args.data:
        last_epoch = int(args.study_epochs.split(",")[-1])
        resemblance(out / "study", ["full", "fc-only"], last_epoch, int(args.steps.split(",")[-1]))
    print(f"\nopen {out / 'study' / 'index.html'}")


if __name__ == "__main__":
    main()
