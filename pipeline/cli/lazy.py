"""The command groups of the CLI: :class:`Group` suggests the command a typo meant
(``somlier confg`` → ``config``), :class:`LazyGroup` imports its commands when used, so
``somlier --version`` and each command pay only for their own imports (click's documented
lazy-loading pattern)."""

from __future__ import annotations

import importlib
from typing import Any

import click


class Group(click.Group):
    """A group whose "No such command" names the closest commands it has."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if args and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib  # only on this error path: start-up pays nothing for it

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if close:
                choices = " or ".join(repr(c) for c in close)
                ctx.fail(f"No such command {name!r}. Did you mean {choices}?")
        return super().resolve_command(ctx, args)


class LazyGroup(Group):
    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})  # name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command
