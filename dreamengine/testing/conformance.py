"""The conformance check: generic invariants over every registered component.

See :mod:`dreamengine.testing` for the list of invariants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from dreamengine.components import DreamJob, DreamOutputs, Initializer, Objective, Parametrization, Regularizer
from dreamengine.engine.loop import run_job
from dreamengine.errors import DreamError
from dreamengine.options import ComponentSpec
from dreamengine.registry import Entry, Registry, singular
from dreamengine.testing.models import tiny_model

__all__ = ["Problem", "check_conformance", "assert_conformance"]

_KINDS = ("initializers", "regularizers", "objectives", "parametrizations")
_BATCH, _HEIGHT, _WIDTH = 2, 17, 23  # odd, non-square sizes catch transposed or off-by-one shapes
_TOLERANCE = 1e-6
_ROUND_TRIP = 1e-3  # how closely a parametrization must render the image it was given


@dataclass(frozen=True)
class Problem:
    """One broken invariant of one component."""

    kind: str
    name: str
    options: Mapping[str, Any]
    message: str

    def __str__(self) -> str:
        shown = ":".join([self.name, *(f"{k}={v}" for k, v in self.options.items())])
        return f"{singular(self.kind)} {shown!r}: {self.message}"


class _Violation(Exception):
    """An invariant does not hold (internal: becomes a :class:`Problem`)."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _Violation(message)


OptionSets = Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]]


def check_conformance(
    registry: Registry,
    *,
    plugin: str | None = None,
    options: OptionSets | None = None,
    kinds: Sequence[str] = _KINDS,
    device: str | torch.device = "cpu",
) -> list[Problem]:
    """Run the generic invariants over every registered component; return what is broken.

    Args:
        registry: usually ``host.registry`` of :func:`plugin_host`.
        plugin: only check components registered by the plugin of this name.
        options: option sets by component name: one mapping, or a list of them
            to check several; components with required options need one here.
            Names of layers must be layers of :func:`tiny_model`.
        kinds: which of ``initializers``, ``regularizers``, ``objectives``,
            ``parametrizations``.
        device: where the images and the model live during the checks.

    Returns:
        One :class:`Problem` per broken invariant (empty when all hold).
    """
    options = options or {}
    problems = []
    for entry in _entries(registry, plugin, kinds):
        given = options.get(entry.name, {})
        for option_set in [given] if isinstance(given, Mapping) else given:
            problems.extend(_check_entry(registry, entry, dict(option_set), torch.device(device)))
    return problems


def assert_conformance(
    registry: Registry,
    *,
    plugin: str | None = None,
    options: OptionSets | None = None,
    kinds: Sequence[str] = _KINDS,
    device: str | torch.device = "cpu",
) -> None:
    """:func:`check_conformance`, raising ``AssertionError`` that lists every problem.

    Also fails when nothing was checked (a misspelt ``plugin`` name, say).
    """
    if not _entries(registry, plugin, kinds):
        raise AssertionError(f"no {' or '.join(kinds)} of plugin {plugin!r} are registered")
    problems = check_conformance(registry, plugin=plugin, options=options, kinds=kinds, device=device)
    if problems:
        raise AssertionError(f"{len(problems)} conformance problem(s):\n" + "\n".join(f"  {p}" for p in problems))


def _entries(registry: Registry, plugin: str | None, kinds: Sequence[str]) -> list[Entry]:
    return [e for kind in kinds for e in registry.find(kind) if plugin is None or e.plugin == plugin]


def _check_entry(registry: Registry, entry: Entry, options: dict[str, Any], device: torch.device) -> list[Problem]:
    def make() -> Any:
        return registry.create(entry.kind, ComponentSpec(entry.name, options))

    def problem(message: str) -> Problem:
        return Problem(entry.kind, entry.name, options, message)

    try:
        make()
    except DreamError as error:
        return [problem(f"cannot be built: {error} Give the check its options: options={{{entry.name!r}: {{...}}}}.")]
    problems = []
    for check in (_check_summary, _CHECKS[entry.kind], _check_dream):
        try:
            check(entry, make, device)
        except _Violation as error:
            problems.append(problem(str(error)))
        except Exception as error:  # a crash in a component is a problem to report, not to raise
            problems.append(problem(f"{check.__name__[1:].replace('_', ' ')}: raised {type(error).__name__}: {error}"))
    return problems


def _check_summary(entry: Entry, make: Callable[[], Any], device: torch.device) -> None:
    _require(bool(entry.summary.strip()), "has no summary: give the factory a docstring or register(summary=...)")


def _image(device: torch.device, *, requires_grad: bool = False, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand((_BATCH, 3, _HEIGHT, _WIDTH), generator=generator).to(device)
    return image.requires_grad_(requires_grad)


def _repeatable(call: Callable[[torch.Generator], torch.Tensor], what: str) -> torch.Tensor:
    """Call twice with equally seeded generators and different global random states."""
    outputs = []
    for global_seed in (1, 2):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(global_seed)
            outputs.append(call(torch.Generator().manual_seed(1234)))
    _require(isinstance(outputs[0], torch.Tensor), f"{what} returned {type(outputs[0]).__name__}, not a tensor")
    _require(
        torch.equal(outputs[0].detach(), outputs[1].detach()),
        f"{what} differs between two calls with equally seeded generators "
        "(draw every random number from the generator passed in)",
    )
    return outputs[0]


def _check_tensor(
    out: Any, what: str, shape: tuple[int, ...] | None, device: torch.device, *, unit_range: bool
) -> None:
    _require(isinstance(out, torch.Tensor), f"{what} returned {type(out).__name__}, not a tensor")
    if shape is not None:
        _require(tuple(out.shape) == shape, f"{what} returned shape {tuple(out.shape)}, expected {shape}")
    _require(out.dtype == torch.float32, f"{what} returned dtype {out.dtype}, expected torch.float32")
    _require(out.device == device, f"{what} returned a tensor on {out.device}, expected {device}")
    _require(bool(torch.isfinite(out).all()), f"{what} returned values that are not finite")
    if unit_range:
        low, high = float(out.detach().min()), float(out.detach().max())
        _require(
            low >= -_TOLERANCE and high <= 1 + _TOLERANCE, f"{what} left [0, 1] (values from {low:.4g} to {high:.4g})"
        )


def _has_gradient(tensor: torch.Tensor) -> bool:
    grad = tensor.grad
    return grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.any())


def _check_initializer(entry: Entry, make: Callable[[], Initializer], device: torch.device) -> None:
    out = _repeatable(lambda generator: make()(_BATCH, _HEIGHT, _WIDTH, generator), "the image")
    _check_tensor(out, "the initializer", (_BATCH, 3, _HEIGHT, _WIDTH), torch.device("cpu"), unit_range=True)
    aspect = make().aspect()
    _require(
        aspect is None or (isinstance(aspect, (int, float)) and math.isfinite(aspect) and aspect > 0),
        f"aspect() returned {aspect!r}, expected None or a width / height ratio above 0",
    )


def _check_regularizer(entry: Entry, make: Callable[[], Regularizer], device: torch.device) -> None:
    phases = make().phases()
    _require(bool(phases), "overrides none of transform, penalty, gradient and project")
    make = _begun(make, device)
    if "transform" in phases:
        _check_transform(make, device)
    if "penalty" in phases:
        _check_penalty(make, device)
    if "gradient" in phases:
        _check_gradient(make, device)
    if "project" in phases:
        with torch.no_grad():
            out = _repeatable(lambda generator: make().project(_image(device), generator), "project")
        _check_tensor(out, "project", (_BATCH, 3, _HEIGHT, _WIDTH), device, unit_range=True)


def _begun(make: Callable[[], Regularizer], device: torch.device) -> Callable[[], Regularizer]:
    """``make``, each regularizer it makes shown a start image, as every loop shows them before its first step."""

    def begun() -> Regularizer:
        regularizer = make()
        with torch.no_grad():
            regularizer.begin(_image(device, seed=1))
        return regularizer

    return begun


def _check_transform(make: Callable[[], Regularizer], device: torch.device) -> None:
    out = _repeatable(lambda generator: make().transform(_image(device), generator), "transform")
    _check_tensor(out, "transform", None, device, unit_range=True)
    _require(
        out.dim() == 4 and tuple(out.shape[:2]) == (_BATCH, 3),
        f"transform returned shape {tuple(out.shape)}; it must keep batch and channels ({_BATCH}, 3, ...)",
    )
    image = _image(device, requires_grad=True)
    out = make().transform(image, torch.Generator().manual_seed(1234))
    _require(out.requires_grad, "transform does not let a finite gradient through to the image (detached?)")
    out.square().sum().backward()
    _require(_has_gradient(image), "transform does not let a finite gradient through to the image (detached?)")


def _check_penalty(make: Callable[[], Regularizer], device: torch.device) -> None:
    image = _image(device, requires_grad=True)
    out = make().penalty(image)
    _check_tensor(out, "penalty", (_BATCH,), device, unit_range=False)
    _require(torch.equal(out.detach(), make().penalty(image).detach()), "penalty differs for the same image")
    _require(out.requires_grad, "penalty is not differentiable w.r.t. the image (detached?)")
    out.sum().backward()
    _require(
        image.grad is not None and bool(torch.isfinite(image.grad).all()), "penalty has a gradient that is not finite"
    )


def _check_gradient(make: Callable[[], Regularizer], device: torch.device) -> None:
    grad = _image(device) - 0.5
    out = make().gradient(grad.clone())
    _check_tensor(out, "gradient", (_BATCH, 3, _HEIGHT, _WIDTH), device, unit_range=False)
    _require(torch.equal(out, make().gradient(grad.clone())), "gradient differs for the same input")
    zero = make().gradient(torch.zeros_like(grad))
    _check_tensor(zero, "gradient of a zero gradient", (_BATCH, 3, _HEIGHT, _WIDTH), device, unit_range=False)


def _check_objective(entry: Entry, make: Callable[[], Objective], device: torch.device) -> None:
    model = tiny_model().to(device)
    objective = make()
    objective.prepare(model)
    targets = torch.arange(_BATCH, device=device) % len(model.class_names)
    images = [_image(device, requires_grad=True) for _ in range(2)]
    values = []
    for image in images:
        with model.capture(objective.layers) as activations:
            values.append(objective(DreamOutputs(model(image), targets, activations)))
    _check_tensor(values[0], "the objective", (_BATCH,), device, unit_range=False)
    _require(torch.equal(values[0].detach(), values[1].detach()), "the objective differs for the same image")
    _require(values[0].requires_grad, "the objective is not differentiable w.r.t. the image (detached?)")
    values[0].sum().backward()
    _require(_has_gradient(images[0]), "the objective has no finite, non-zero gradient w.r.t. the image")


def _check_parametrization(entry: Entry, make: Callable[[], Parametrization], device: torch.device) -> None:
    start, other = _image(device), _image(device, seed=1)
    param = make()
    leaves = param.setup(start)
    _require(
        isinstance(leaves, list)
        and bool(leaves)
        and all(isinstance(t, torch.Tensor) and t.is_leaf and t.requires_grad for t in leaves),
        "setup must return a non-empty list of leaf tensors that require grad",
    )
    rendered = param.image()
    _check_tensor(rendered, "image()", (_BATCH, 3, _HEIGHT, _WIDTH), device, unit_range=True)
    first = rendered.detach().clone()  # pixel-like parametrizations render their parameter itself
    _require(
        not param.exact or torch.allclose(rendered, start, atol=_ROUND_TRIP),
        "image() right after setup(image) renders another image",
    )
    rendered.square().sum().backward()
    _require(all(_has_gradient(t) for t in leaves), "image() does not let a finite gradient through to every parameter")
    with torch.no_grad():
        param.assign(other)
        assigned = param.image()
        _require(
            not param.exact or torch.allclose(assigned, other, atol=_ROUND_TRIP),
            "image() after assign(image) renders another image",
        )
        param.assign(assigned)
        _require(
            torch.allclose(param.image(), assigned, atol=_ROUND_TRIP),
            "assigning the image it renders changes what it renders",
        )
    again = make()
    again.setup(start)
    _require(torch.equal(again.image().detach(), first), "two instances set up alike render differently")


def _check_dream(entry: Entry, make: Callable[[], Any], device: torch.device) -> None:
    """Two real steps on :func:`tiny_model` with the component in its place."""
    component = make()
    model = tiny_model().to(device)
    if entry.kind == "objectives":
        component.prepare(model)
    generator = torch.Generator().manual_seed(0)
    if entry.kind == "initializers":
        image = component(1, 16, 16, generator)
    else:
        image = torch.full((1, 3, 16, 16), 0.5)
    job = DreamJob(
        model=model,
        regularizers=[component] if entry.kind == "regularizers" else [],
        objective=component if entry.kind == "objectives" else _TargetLogit(),
        image=image.to(device),
        targets=torch.tensor([1], device=device),
        steps=2,
        lr=0.05,
        optimizer="adam",
        generator=generator,
        parametrization=component if entry.kind == "parametrizations" else None,
    )
    result = run_job(job)
    _require(result.diverged is None, f"a two-step dream on the tiny model diverged: {result.diverged}")


class _TargetLogit(Objective):
    """The target's logit: what the dream maximises while a regularizer or initializer is checked."""

    def __call__(self, outputs: DreamOutputs) -> torch.Tensor:
        return outputs.logits.gather(1, outputs.targets[:, None])[:, 0]


_CHECKS = {
    "initializers": _check_initializer,
    "regularizers": _check_regularizer,
    "objectives": _check_objective,
    "parametrizations": _check_parametrization,
}
