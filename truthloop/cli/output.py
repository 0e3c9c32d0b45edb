"""What every command shares: JSON or human output, progress bars, and errors as messages."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from truthloop.errors import TruthloopError
from truthloop.ml.backbones import BACKBONES, VARIANTS

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
BACKBONE_HELP = (
    f"What the model is built on: {', '.join(BACKBONES)} (default: {next(iter(VARIANTS))},"
    " pretrained on ImageNet, where installed; TRUTHLOOP_BACKBONE sets another)."
)
BackboneOption = Annotated[str | None, typer.Option(help=BACKBONE_HELP)]


def shown_time(iso: str | None, *, seconds: bool = False) -> str:
    """An ISO time as a table shows it: `2026-12-04 03:38`, or with `seconds` `03:38:05`."""
    return "" if not iso else iso[: 19 if seconds else 16].replace("T", " ")


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


@contextmanager
def progress_bar(
    description: str, total: int | None, *, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (so `--json` output stays clean); yields `update(done)`."""
    if quiet:
        yield lambda done: None
        return
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)


@contextmanager
def errors_as_messages(json_output: bool) -> Iterator[None]:
    """A TruthloopError ends the command with its message and exit code 1, not a traceback."""
    try:
        yield
    except TruthloopError as error:
        if json_output:
            print_json({"error": type(error).__name__, "message": str(error)})
        else:
            # User text (names, labels, paths) must never be read as rich markup.
            err_console.print(Text.assemble(("error: ", "red"), str(error)), highlight=False)
        raise typer.Exit(1) from error
