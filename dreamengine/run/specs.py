"""A run's component settings parsed once, into typed values: what every consumer reads instead of their text.

:class:`~dreamengine.run.config.RunConfig` keeps its component settings as the
text typed (``"blur:sigma=0.5"``), the form stored in each dream's PNG and
written in TOML files; :attr:`RunConfig.specs <dreamengine.run.config.RunConfig.specs>`
is their parsed view, made here. Parsing is cached by the settings' text, so a
view is never stale when a setting changes, and the same text is parsed once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from dreamengine.options import ComponentSpec, parse_spec, parse_spec_list
from dreamengine.run.expression_syntax import ObjectiveSpec, parse_objective

__all__ = ["RunSpecs", "parse_run_specs"]


@dataclass(frozen=True)
class RunSpecs:
    """The component settings of a run, parsed.

    Attributes:
        objective: the objective setting's expressions and their terms.
        reg: the regularizers, in order (``none`` is none).
        init: the initializer.
        param: the image parametrization.
        strategy: the strategies, the first outermost (``none`` is none).
    """

    objective: ObjectiveSpec
    reg: tuple[ComponentSpec, ...]
    init: ComponentSpec
    param: ComponentSpec
    strategy: tuple[ComponentSpec, ...]

    def components(self) -> Iterator[tuple[tuple[str, ...], ComponentSpec]]:
        """Each spec with the kinds of component it may name (a term of the objective names an objective, or a
        regularizer with a penalty)."""
        yield ("initializers",), self.init
        yield ("parametrizations",), self.param
        yield from ((("regularizers",), spec) for spec in self.reg)
        yield from ((("strategies",), spec) for spec in self.strategy)
        yield from ((("objectives", "regularizers"), term.spec) for term in self.objective.terms)


@functools.lru_cache(maxsize=256)
def parse_run_specs(objective: str, reg: tuple[str, ...], init: str, param: str, strategy: tuple[str, ...]) -> RunSpecs:
    """Parse a run's component settings: ``reg`` and ``strategy`` hold one spec each (as
    :class:`~dreamengine.run.config.RunConfig` keeps them)."""
    return RunSpecs(
        objective=parse_objective(objective),
        reg=tuple(parse_spec_list(reg)),
        init=parse_spec(init),
        param=parse_spec(param),
        strategy=tuple(parse_spec_list(strategy)),
    )
