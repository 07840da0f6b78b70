"""The ``zoom`` strategy: the classic DeepDream zoom, dreaming ever further into the image.

Frame 1 dreams the start image; every later frame zooms into the centre of
the last one's dream by ``scale``, turning it by ``rotate`` degrees if asked (a
bilinear resample, the size unchanged), and dreams on from there, so the
network keeps painting what it sees into the detail the zoom brings close. Each frame is a dream of
``--steps`` steps. The
animation written beside the dream (the last frame) is the zoom as a film: one
picture per frame, the start first, or with ``--save-every`` a picture every
that many steps of each frame.
"""

from __future__ import annotations

import dataclasses

from dreamengine import DreamLoop, DreamResult, Strategy, Warp, hookimpl, resample, rotation

__all__ = ["Zoom"]


class Zoom(Strategy):
    """Dream ``frames`` times, each time zoomed into the centre of the last dream by ``scale`` (DeepDream's zoom).

    Args:
        frames: how many dreams, the first from the start image.
        scale: how much each frame zooms into the last (1.05: 5% closer).
        rotate: degrees each frame turns from the last, counter-clockwise (a spiral into the image).

    Each frame is a dream of ``--steps`` steps, so a zoom takes ``frames`` times the steps of one dream.

    Example:
        ``dreamengine run --preset deepdream --init photo:path=me.jpg --strategy zoom:frames=30`` writes the
        last frame, and beside it the zoom as an animation of 31 pictures (the photo first).
    """

    def __init__(self, frames: int = 30, scale: float = 1.05, rotate: float = 0.0) -> None:
        if frames < 1:
            raise ValueError(f"frames must be at least 1, got {frames}")
        if scale < 1:
            raise ValueError(f"scale must be at least 1 (1 does not zoom), got {scale}")
        self.frames = frames
        self.scale = scale
        self.rotate = rotate

    def total_steps(self, steps):
        return steps * self.frames

    def closer(self, height: int, width: int) -> Warp:
        """The warp from one frame's dream to the next frame's start: turned by ``rotate``, zoomed by ``scale``."""
        (a, b, c), (d, e, f) = rotation(self.rotate, height, width)
        return ((a / self.scale, b / self.scale, c), (d / self.scale, e / self.scale, f))

    def run(self, job, loop):
        closer = self.closer(*job.image.shape[-2:])
        image, done, result = job.image, 0, None
        frames = [] if job.save_every else [job.image.cpu()]  # with --save-every, the loops' own snapshots
        for _ in range(self.frames):
            if result is not None:
                image = resample(result.image.to(job.image.device), closer)
            on_step = counted_from(done, job.on_step)
            result = loop(dataclasses.replace(job, image=image, on_step=on_step))
            if job.save_every:
                frames += result.frames[1:] if frames else result.frames  # a frame starts where the last one ended
            else:
                frames.append(result.image)
            if result.diverged:  # name the step counted over all frames, as the user asked for them
                return DreamResult(
                    result.image,
                    result.scores,
                    done + result.steps_done,
                    frames,
                    DreamLoop.divergence_message(job, done + result.steps_done + 1),
                    attribution=result.attribution,
                )
            done += result.steps_done
        return DreamResult(result.image, result.scores, done, frames, attribution=result.attribution)


def counted_from(done: int, on_step):
    """``on_step`` for a frame that starts after ``done`` steps: it sees the steps counted over the whole run."""
    if on_step is None:
        return None
    return lambda step, scores: on_step(done + step, scores)


@hookimpl
def dreamengine_register_strategies(register):
    """Register ``zoom``."""
    register("zoom", Zoom)
