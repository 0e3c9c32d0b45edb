"""The `truthloop` command."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from typer._click import Command, Context  # Typer's own (vendored) click

from truthloop.cli.arguments import CheckedGroup
from truthloop.cli.output import console, errors_as_messages, print_json
from truthloop.storage.project import Project

# Each command's module is imported only when that command runs (or `--help` lists it), so
# `truthloop dataset list` never pays for the model stack that `truthloop model train` needs.
# Name -> "module:attribute", in the order `--help` lists them (`init` comes between).
LAZY_COMMANDS = {
    "serve": "truthloop.cli.serve:serve",
    "background": "truthloop.cli.serve:background",
    "demo": "truthloop.cli.demo:demo",
}
LAZY_GROUPS = {
    "dataset": "truthloop.cli.dataset:app",
    "job": "truthloop.cli.job:app",
    "model": "truthloop.cli.model:app",
    "feedback": "truthloop.cli.feedback:app",
    "sim": "truthloop.cli.sim:app",
    "bench": "truthloop.cli.bench:app",
    "user": "truthloop.cli.people:user_app",
    "team": "truthloop.cli.people:team_app",
    "review": "truthloop.cli.review:app",
    "pipeline": "truthloop.cli.pipeline:app",
}


class Root(CheckedGroup):
    """The `truthloop` command: its subcommands load on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        own = [name for name in super().list_commands(ctx) if _lazy(name) is None]
        return [*LAZY_COMMANDS, *own, *LAZY_GROUPS]

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and self.get_command(ctx, args[0]) is None:
            # A typo: load every command, so the error can suggest the nearest name.
            for name in self.list_commands(ctx):
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and (where := _lazy(cmd_name)):
            module, _, attribute = where.partition(":")
            found = getattr(importlib.import_module(module), attribute)
            # Built as `app.add_typer(found)` / `app.command()(found)` would build it.
            holder = typer.Typer()
            if isinstance(found, typer.Typer):
                holder.add_typer(found, name=cmd_name)
            else:
                holder.command(cmd_name)(found)
            self.commands[cmd_name] = typer.main.get_group(holder).commands[cmd_name]
        return super().get_command(ctx, cmd_name)


def _lazy(name: str) -> str | None:
    return LAZY_COMMANDS.get(name) or LAZY_GROUPS.get(name)


app = typer.Typer(
    cls=Root,  # every word of the command line passes the text rule (core.text)
    help="truthloop: label images with a model in the loop, offline.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(envvar="TRUTHLOOP_HOME", help="Project home folder.", show_default=False),
    ] = None,
) -> None:
    ctx.obj = {"home": home}


@app.command()
def init(
    home: Annotated[Path, typer.Argument(help="Folder for the new project.")],
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a project: a folder with a SQLite database and a blob store."""
    with errors_as_messages(json_output):
        project = Project.init(home)
        info = {
            "home": str(project.home),
            "database": project.db.url,
            "blobs": project.blobs.url,
            "schema": project.db.current_revision(),
        }
        project.close()
    if json_output:
        print_json(info)
    else:
        console.print(Text(f"truthloop project ready in {info['home']}"))
        console.print(Text(f"  use it with: export TRUTHLOOP_HOME={info['home']}"))
