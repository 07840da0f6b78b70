"""The kinds of component (the dream's, and the atlas's page panels) and the values they exchange with the engine.

Components are plain objects: the registry builds them once per run and the loop
calls them directly. The image they see is always RGB in [0, 1], shaped
``(batch, 3, height, width)``; normalisation for the model happens inside the
model's forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Protocol

import torch

from dreamengine.protocols import AtlasView, Model, UnitView
from dreamengine.warping import Warp, resample

__all__ = [
    "PHASES",
    "DreamJob",
    "DreamResult",
    "StepCallback",
    "DreamOutputs",
    "Objective",
    "WeightedObjective",
    "Regularizer",
    "Initializer",
    "Parametrization",
    "Strategy",
    "Panel",
    "Loop",
]


#: The phases of a :class:`Regularizer`, in the order a step runs them.
PHASES = ("transform", "penalty", "gradient", "project")


@dataclass
class DreamOutputs:
    """What an objective sees after one forward pass.

    Attributes:
        logits: ``(batch, classes)`` pre-softmax outputs of the model; ``None``
            when the objective does not need them (:attr:`Objective.needs_logits`)
            and the forward stopped after its layers.
        targets: ``(batch,)`` class index each batch item dreams of.
        activations: outputs of the modules named in :attr:`Objective.layers`, channels on dim 1 (a
            transformer's ``(batch, tokens, channels)`` is given as ``(batch, channels, tokens)``),
            keyed by dotted module name.
    """

    logits: torch.Tensor | None
    targets: torch.Tensor
    activations: dict[str, torch.Tensor] = field(default_factory=dict)


class _Component:
    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({options})"


class Objective(_Component):
    """What a dream maximises.

    Subclasses implement :meth:`__call__`. An objective that reads intermediate
    activations names the modules in :attr:`layers`; the engine captures them.
    An objective that reads only those sets :attr:`needs_logits` to ``False``:
    the forward then stops once the last of its layers has run (much faster
    for an early layer) and ``outputs.logits`` is ``None``.
    """

    #: dotted names of the modules whose outputs :meth:`__call__` reads.
    layers: tuple[str, ...] = ()
    #: whether :meth:`__call__` reads ``outputs.logits``; ``False`` lets the forward stop early.
    needs_logits: bool = True
    #: whether :meth:`__call__` compares the batch's items with each other (diversity): items of one class
    #: that start from the same image then get the same gradients and stay the same, and a run warns of it.
    compares_items: bool = False
    #: whether :meth:`__call__` reads ``outputs.targets``, each item's ``--class``. An objective that does not
    #: (a layer, a class of its own) does not dream those classes: its dreams are named after it, and their
    #: settings name no target class (``dreamengine evaluate`` leaves them out).
    uses_classes: bool = True

    #: the text spec it was built from (``layer:blocks.4:7``; the registry sets it), what :func:`str` gives and a
    #: dream's settings store; ``None`` for an objective made in Python only.
    spec: str | None = None

    def prepare(self, model: Model) -> None:
        """Called once before the loop with the model the loop runs (frozen, on its device, with the run's speed
        settings): resolve class names (``model.class_index``), compute what the objective needs from the network
        (``model.layer_output``)."""

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        """Return the value to maximise for each batch item, shape ``(batch,)``."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.spec if self.spec is not None else repr(self)

    def __add__(self, other: Objective) -> WeightedObjective:
        """``a + b``: both maximised, summed (the text ``a + b``)."""
        if not isinstance(other, Objective):
            return NotImplemented
        return WeightedObjective([*_weighted(self), *_weighted(other)])

    def __sub__(self, other: Objective) -> WeightedObjective:
        """``a - b``: ``a`` maximised, ``b`` minimised."""
        if not isinstance(other, Objective):
            return NotImplemented
        return WeightedObjective([*_weighted(self), *_weighted(other, -1.0)])

    def __mul__(self, coefficient: float) -> WeightedObjective:
        """``0.5 * a``: ``a`` weighted."""
        if isinstance(coefficient, bool) or not isinstance(coefficient, (int, float)):
            return NotImplemented
        return WeightedObjective(_weighted(self, float(coefficient)))

    __rmul__ = __mul__

    def __neg__(self) -> WeightedObjective:
        return self * -1.0


class WeightedObjective(Objective):
    """A weighted sum of objectives, per batch item: what ``a + 0.5 * b`` makes, and the text expression
    ``"a + 0.5*b"`` builds; :func:`str` writes it as that text."""

    def __init__(self, parts: Sequence[tuple[float, Objective]]) -> None:
        self.parts = list(parts)
        self.layers = tuple(dict.fromkeys(layer for _, objective in self.parts for layer in objective.layers))
        self.needs_logits = any(objective.needs_logits for _, objective in self.parts)
        self.compares_items = any(objective.compares_items for _, objective in self.parts)
        self.uses_classes = any(objective.uses_classes for _, objective in self.parts)
        if all(objective.spec is not None for _, objective in self.parts):
            self.spec = _expression(self.parts)

    def prepare(self, model: Model) -> None:
        for _, objective in self.parts:
            objective.prepare(model)

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        total = None
        for coefficient, objective in self.parts:
            value = coefficient * objective(outputs)
            total = value if total is None else total + value
        if total is None:
            raise ValueError("a weighted objective of no parts has no value.")
        return total


def _weighted(objective: Objective, factor: float = 1.0) -> list[tuple[float, Objective]]:
    """``objective``'s terms, each weighted by ``factor``: a sum's own parts (so sums stay flat), else itself."""
    if isinstance(objective, WeightedObjective):
        return [(factor * coefficient, part) for coefficient, part in objective.parts]
    return [(factor, objective)]


def _expression(parts: Sequence[tuple[float, Objective]]) -> str:
    """The text of a weighted sum, as ``--objective`` reads it: ``a + 0.5*b - c``."""
    text = ""
    for coefficient, objective in parts:
        sign = "-" if coefficient < 0 else "+"
        size = abs(coefficient)
        term = f"{size:g}*{objective.spec}" if size != 1 else str(objective.spec)
        text = (f"{text} {sign} " if text else ("-" if sign == "-" else "")) + term
    return text


class Regularizer(_Component):
    """Shapes the dream; acts in up to four phases of each step.

    Override any of:

    * :meth:`transform` -- on the image before the forward pass, inside the
      autograd graph (jitter, flip): the gradient flows back through it, so the
      change is undone for the stored image.
    * :meth:`warp` -- instead of :meth:`transform`, for a geometric transform
      (zoom, rotation): return the step's affine map, and the engine resamples
      a run of consecutive warps once (:func:`dreamengine.compose_transforms`).
    * :meth:`penalty` -- a per-item value subtracted from the objective.
    * :meth:`gradient` -- on the gradient of the loss with respect to the
      rendered image, before it flows back into the parametrization
      (gradient normalisation, smoothing).
    * :meth:`project` -- on the stored image after the optimizer step, without
      gradients (clamp, blur).

    :meth:`begin` sees the image each loop starts from (a run, each octave,
    each zoom frame), before its first step: what a projection needs to keep
    of it (a mask keeps the start where it is dark). Every random draw must
    use the ``generator`` passed in, so that a seed repeats a run exactly.
    """

    def begin(self, image: torch.Tensor) -> None:
        """Called under ``no_grad`` with the image ``(batch, 3, H, W)`` a loop starts from, before its first step.

        A loop is a run, or each stage of a strategy (an octave at its size, a
        zoom's frame). By default nothing is kept.
        """

    def transform(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Return a differentiable transform of ``image`` for this step's forward pass.

        By default: ``image`` resampled through :meth:`warp` (unchanged when it
        is not overridden).
        """
        warp = self.warp(generator, *image.shape[-2:])
        return image if warp is None else resample(image, warp)

    def warp(self, generator: torch.Generator, height: int, width: int) -> Warp | None:
        """Return this step's transform as an affine map of an image of ``height`` x ``width``, or ``None``.

        Override this instead of :meth:`transform` for a geometric transform:
        the map's rows ``((a, b, c), (d, e, f))`` say that the output pixel at
        ``(x, y)`` reads the input at ``(a*x + b*y + c, d*x + e*y + f)``, in
        coordinates normalised to [-1, 1] across each axis
        (:data:`dreamengine.warping.Warp`). Consecutive warping regularizers
        are composed and resampled once (bilinear, borders reflected), which is
        faster and less blurry than one resample each. Draw from
        ``generator`` in the same order every step, so a seed repeats a run.
        A class that overrides both ``warp`` and ``transform`` must keep them
        equivalent: a run of warps uses ``warp``.
        """
        return None

    def warps(self) -> bool:
        """Whether this regularizer's transform is its :meth:`warp` (it overrides ``warp``)."""
        return type(self).warp is not Regularizer.warp

    def penalty(self, image: torch.Tensor) -> torch.Tensor:
        """Return a per-item penalty, shape ``(batch,)``, subtracted from the objective."""
        return image.new_zeros(image.shape[0])

    def gradient(self, grad: torch.Tensor) -> torch.Tensor:
        """Return the gradient the step uses instead of ``grad``, same shape.

        ``grad`` is the gradient of the loss (minus the objective, plus the
        penalties) with respect to the rendered image ``(batch, 3, H, W)``.
        """
        return grad

    def project(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Return the stored image after the optimizer step (called under ``no_grad``)."""
        return image

    def phases(self) -> set[str]:
        """The names of the phases this regularizer overrides."""
        phases = {p for p in PHASES if getattr(type(self), p) is not getattr(Regularizer, p)}
        return phases | {"transform"} if self.warps() else phases


class Initializer(_Component):
    """Makes the image a dream starts from."""

    def __call__(self, batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
        """Return a float32 image ``(batch, 3, height, width)`` in [0, 1] on the CPU."""
        raise NotImplementedError

    def aspect(self) -> float | None:
        """The width / height ratio the dream should keep (a photo's), or ``None`` (the default) for any.

        With a ratio, a dream whose size is one number ``N`` (or not given: the
        model's input size) is made with ``N`` as its longer side and this
        ratio, instead of square; an explicit ``WIDTHxHEIGHT`` is kept as given.
        """
        return None

    def source(self) -> str | None:
        """The file the start is made from (a photo's path, as given), or ``None`` (the default) for none.

        A dream toward no class is named after it (``cat-layer-blocks-4-seed0.png``
        from ``cat.jpg``), and a dream re-run with ``--from`` where the file is
        missing is refused in one line that names it. Called before the start
        is made: it should not read the file.
        """
        return None


class Parametrization(_Component):
    """How the tensors the optimizer changes become the image.

    The plain pixel parametrization optimises the pixels themselves; others
    (a scaled Fourier basis with decorrelated colours, say) optimise a
    different representation and render it to pixels in :meth:`image`.
    """

    #: Whether it can draw every image: :meth:`setup` then renders the start image, and :meth:`assign` the image
    #: it is given. ``False`` for one that draws only some pictures (``maco``: those with a natural spectrum),
    #: whose :meth:`assign` keeps the nearest picture it can draw (assigning what it renders changes nothing).
    exact: bool = True

    def setup(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Start from ``image`` (in [0, 1]); return the leaf tensors to optimise (``requires_grad``)."""
        raise NotImplementedError

    def image(self) -> torch.Tensor:
        """Render the current image ``(batch, 3, H, W)``, differentiably."""
        raise NotImplementedError

    def assign(self, image: torch.Tensor) -> None:
        """Set the parameters so that :meth:`image` renders ``image`` (called under ``no_grad``)."""
        raise NotImplementedError


class Strategy(_Component):
    """How a job's steps are run: several loops at growing sizes (octaves), tile by tile (tiling), ...

    A strategy changes how the loop runs, not what one step does. Strategies
    given together nest, the first outermost: each receives the job and the
    ``loop`` that runs the rest (the next strategy, and at the end the
    ``dreamengine_run_dream`` hook).
    """

    #: Whether the network sees a bounded part of the image at a time (about its input size, as tiling does),
    #: whatever the dream's size: a run with such a strategy is not warned that a large dream needs much memory.
    bounds_memory: bool = False

    def run(self, job: DreamJob, loop: Callable[[DreamJob], DreamResult]) -> DreamResult:
        """Run ``job`` (calling ``loop`` on jobs of its own making, or not at all) and return the result.

        The result's image has the job's size; ``job.on_step`` should see steps
        counting up to :meth:`total_steps` of ``job.steps``.
        """
        raise NotImplementedError

    def total_steps(self, steps: int) -> int:
        """How many steps a job of ``steps`` steps takes under this strategy (for progress bars)."""
        return steps


class Panel(_Component):
    """A section of an atlas's unit page: the dream, its variants, its dataset examples, its classes, or a
    plugin's own (a weight histogram, a note).

    The atlas builds every registered panel once (with no options) and calls :meth:`render` for each unit; a unit's
    page shows the panels by :attr:`order`, then by name, each under its :attr:`title` in a ``<section>`` whose id
    is the panel's registered name. A panel with nothing to show for a unit returns ``""`` and is left out.

    Example::

        class Note(Panel):
            title = "Note"

            def render(self, unit, atlas):
                return f"<p>{self.escape(unit.layer.name)}, unit {unit.unit}</p>"
    """

    #: the section's heading (escaped by the page; empty: no heading).
    title: str = ""
    #: where the section goes: lower first (the built-ins use 10, 20, 30, 40; the default puts a panel after them).
    order: int = 100

    def render(self, unit: UnitView, atlas: AtlasView) -> str:
        """The section's HTML for ``unit`` of ``atlas`` (``""``: nothing to show).

        Escape every name with :meth:`escape` (layer and class names come from checkpoints and may hold any
        character); link to files of the atlas with ``unit.url(path)``, which is relative and percent-encoded.
        """
        raise NotImplementedError

    @staticmethod
    def escape(value: object) -> str:
        """``value`` as text safe in HTML, in element content and in quoted attributes (``&<>"'`` escaped)."""
        return escape(str(value), quote=True)


class Loop(Protocol):
    """The loop over one job (:class:`dreamengine.DreamLoop`, or a strategy's subclass), as ``job.make_loop`` makes
    it: the default ``dreamengine_run_dream`` runs ``job.make_loop(job).run()``."""

    def run(self) -> DreamResult:
        """Run the job's steps and return the result."""


#: ``on_step(step, scores)``: called after every step of a dream
StepCallback = Callable[[int, torch.Tensor], None]


@dataclass
class DreamJob:
    """One batch of dreams, fully resolved and ready to run.

    Attributes:
        model: the frozen model, on the device the loop runs on.
        objective: what each batch item maximises.
        regularizers: applied in order in each of their phases.
        image: the start image ``(batch, 3, H, W)`` in [0, 1], on the model's device.
        targets: ``(batch,)`` class index of each item.
        steps: number of gradient steps.
        lr: learning rate.
        optimizer: a key of :data:`dreamengine.OPTIMIZERS`.
        generator: the one random generator every draw uses.
        save_every: keep a copy of the image every this many steps, and of the last step's (0: never).
        on_step: called as ``on_step(step, scores)`` after every step.
        parametrization: how the optimised tensors become the image (``None``: plain pixels).
        strategies: how the steps are run (octaves, tiling), outermost first;
            applied by :func:`dreamengine.run.execute.run_through_hooks` around
            the ``dreamengine_run_dream`` hook.
        make_loop: what the default ``dreamengine_run_dream`` makes the job's loop with: a subclass of
            :class:`dreamengine.DreamLoop` (or a callable ``make_loop(job)`` returning one); ``None`` for
            ``DreamLoop`` itself. A strategy that changes how a step finds its gradient (``tile``) sets it.
        attribute: also sum each step's gradient magnitude at the picture into :attr:`DreamResult.attribution`
            (MACO's attribution map).
    """

    model: Model
    objective: Objective
    regularizers: Sequence[Regularizer]
    image: torch.Tensor
    targets: torch.Tensor
    steps: int
    lr: float
    optimizer: str
    generator: torch.Generator
    save_every: int = 0
    on_step: StepCallback | None = None
    parametrization: Parametrization | None = None
    strategies: Sequence[Strategy] = ()
    make_loop: Callable[[DreamJob], Loop] | None = None
    attribute: bool = False


@dataclass
class DreamResult:
    """The outcome of a job.

    Attributes:
        image: the final images ``(batch, 3, H, W)`` on the CPU, in [0, 1] unless
            the regularizers allowed otherwise.
        scores: the objective of each item at the last finite step.
        steps_done: steps completed (fewer than asked if the run diverged or was interrupted).
        frames: snapshots of the dream as it grew, the start image first: every ``save_every`` steps and the
            last step's (none when it is 0), or the pictures a strategy makes of it (``zoom``: the end of each
            frame).
        diverged: a message if the loss or the image stopped being finite.
        interrupted: the user stopped the run (Ctrl-C) after ``steps_done`` steps.
        attribution: where the job asked for it (:attr:`DreamJob.attribute`), MACO's attribution map ``(batch, 1,
            H, W)`` on the CPU: at each pixel, the magnitude of the loss's gradient at the rendered picture, summed
            over its channels and the steps (an octave's resized to the picture's size; a strategy may normalise
            it, as ``crops`` divides it by how often each pixel was seen): large where the objective looked, small
            where the picture is texture it did not ask for. ``None`` otherwise.
    """

    image: torch.Tensor
    scores: torch.Tensor
    steps_done: int
    frames: list[torch.Tensor] = field(default_factory=list)
    diverged: str | None = None
    interrupted: bool = False
    attribution: torch.Tensor | None = None
