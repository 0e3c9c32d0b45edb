"""The text rule of `truthloop.core.text` for the command line, checked once for every command.

Every name, label, description and path a command takes arrives as a word of the command line,
so the root command checks all of them before any subcommand runs: a label with a
bidirectional override or an escape character is refused with a usage error naming the option
it was given to, and never reaches the project. (A NUL cannot be passed in an argument at all;
files a command reads are checked by their own readers.)
"""

from __future__ import annotations

import typer
from typer._click import Context  # Typer's own (vendored) click
from typer.core import TyperGroup

from truthloop.core.text import LINE, text_problem


def argument_problem(args: list[str]) -> str | None:
    """Why one of `args` is refused, naming the option it was given to (`--labels`); or None."""
    for position, arg in enumerate(args, 1):
        option, equals, value = arg.partition("=")
        if arg.startswith("--") and equals:
            field = option
        else:
            value = arg
            before = args[position - 2] if position > 1 else ""
            # A word after an option is usually its value (a flag's neighbour is misnamed so).
            field = before if before.startswith("-") else "argument"
        if problem := text_problem(field, value, LINE):
            return problem
    return None


class CheckedGroup(TyperGroup):
    """The root command: refuses the whole command line when a word of it breaks the rule."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if problem := argument_problem(args):
            # Typer's own (vendored) click error, so it ends as a usage message with exit 2.
            raise typer.BadParameter(problem, ctx)
        return super().parse_args(ctx, args)
