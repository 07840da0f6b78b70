"""Built-in presets: named sets of run settings."""

from __future__ import annotations

from dreamengine import hookimpl

#: The setup of the seed report: timm Inception-v4 at 128x128 from a (128,128,128) gray start,
#: maximising the class logit, with clamp + blur(sigma 0.5) + random flip after every step,
#: shown raw | rescaled. The report left the optimizer open; Adam at 0.01 is our choice.
#: The report compared 200, 500, 1000 and 2000 steps: ``--steps N`` overrides the 500 here, and
#: ``dreamengine study`` dreams all four by default. docs/report.md maps every setting.
REPORT = {
    "model": "inception_v4",
    "size": 128,
    "init": "gray:value=128",
    "param": "pixel",
    "objective": "logit",
    "reg": ["clamp", "blur:sigma=0.5", "flip"],
    "strategy": [],
    "steps": 500,
    "optimizer": "adam",
    "lr": 0.01,
    "side_by_side": True,
}


#: Classic DeepDream: amplify what an intermediate layer of the default model sees in the user's photo,
#: over four octaves, with pixel steps of normalised gradient (mean |g| = 1, as in the original notebook),
#: a random roll each step, and clamping. The photo is the user's: ``--init photo:path=me.jpg``.
DEEPDREAM = {
    "model": "efficientnet-lite0",
    "init": "photo",
    "param": "pixel",
    "objective": "layer:blocks.4",
    "reg": ["roll", "gradnorm:mode=mean-abs", "clamp"],
    "strategy": ["octaves:count=4:scale=1.4"],
    "optimizer": "sgd",
    "lr": 0.01,
    "steps": 40,
}


#: Feature accentuation (Hamblin et al., 2024): the user's photo changed in small pixel steps, only as much as
#: the objective needs; with ``near`` in the objective (docs/guide.md, "Feature accentuation") it stays nearer.
ACCENTUATE = {
    "init": "photo",
    "param": "pixel",
    "reg": ["clamp", "jitter:pixels=2"],
    "strategy": [],
    "optimizer": "adam",
    "lr": 0.01,
    "steps": 60,
}


#: MACO (Fel et al., 2023) at the network's input size: only the spectrum's phase is optimised, its magnitude a
#: natural photograph's, so the dream has a photograph's sharpness by construction; the transforms and no clamp or
#: blur (they have nothing to do on it), and the attribution map beside each dream. docs/quality.md measures it.
MACO = {
    "param": "maco",
    "reg": ["flip", "jitter:pixels=8", "scale", "rotate"],
    "attribution": True,
}


#: The defaults with the blur every 8th step instead of every step: the sharpest of the Fourier settings measured
#: over docs/quality.md's broad set (sharpness 0.068, in a photograph's range), with richer colour and contrast,
#: at the same time per dream; the judges name its thumbnails less often than the defaults'.
SHARP = {
    "param": "fft:decay=1.25",
    "reg": ["clamp", "blur:sigma=0.5:every=8", "flip", "jitter:pixels=8", "scale", "rotate"],
}


@hookimpl
def dreamengine_register_presets(register):
    """Register ``report``, the seed report's dream setup (use with --checkpoint), ``deepdream``, ``accentuate``,
    ``maco`` and ``sharp``."""
    register(
        "report",
        REPORT,
        summary="The seed report's setup: inception_v4, 128x128, gray start, "
        "logit, clamp+blur 0.5+flip, raw|rescaled (use with --checkpoint).",
    )
    register(
        "deepdream",
        DEEPDREAM,
        summary="Classic DeepDream of your photo (--init photo:path=FILE): "
        "amplify layer blocks.4 over 4 octaves, normalised gradient, roll.",
    )
    register(
        "accentuate",
        ACCENTUATE,
        summary="Feature accentuation of your photo (--init photo:path=FILE): small pixel steps from it, "
        "clamp, jitter 2; add near:LAYER:path=FILE to the objective to stay nearer.",
    )
    register(
        "maco",
        MACO,
        summary="MACO: only the spectrum's phase optimised, a photograph's magnitude, so a photograph's "
        "sharpness; transforms, no clamp or blur; writes the attribution map.",
    )
    register(
        "sharp",
        SHARP,
        summary="The defaults with the blur every 8th step: a photograph's sharpness and richer colour, "
        "recognised less often as a thumbnail.",
    )
