"""Options that take one value and refuse a second: ``--seed 1 --seed 2`` is an error, where click keeps the last."""

from __future__ import annotations

import functools
from typing import Any

import click

__all__ = ["OnceOption", "once"]


class OnceOption(click.Option):
    """An option that takes one value and is refused when given twice (click would keep the last one unsaid)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["multiple"] = True  # every value collected, to be counted
        if kwargs.get("default") is not None and not callable(kwargs["default"]):
            kwargs["default"] = (kwargs["default"],)  # a multiple option's default is a sequence
        super().__init__(*args, **kwargs)

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        """The one value given, or ``None``; a second is an error that names both."""
        values = super().process_value(ctx, value)
        if len(values) > 1:
            shown = ", ".join(map(str, values))
            raise click.BadParameter(f"given {len(values)} times ({shown}); give it once.", ctx=ctx, param=self)
        return values[0] if values else None


#: ``@once("--seed", type=int)``: ``click.option`` for an option that takes one value, given at most once.
once = functools.partial(click.option, cls=OnceOption)
