"""`truthloop pipeline submit|run|intake|tick`: what a pipeline does, on demand: detect images
(and send the unsure ones to review), check now whether to train (and deploy), watch an
intake location, and run one tick of the schedule.

A thin layer over `truthloop.pipeline`, added to the `truthloop pipeline` app by `register`;
with `--json` every command prints the service's answer as plain JSON. The schedule itself
runs in `truthloop serve` / `truthloop background`; these commands do the same work at once.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from truthloop.cli.context import open_project
from truthloop.cli.output import (
    JsonOption,
    console,
    err_console,
    errors_as_messages,
    print_json,
    progress_bar,
)
from truthloop.pipeline.intake import Detected, Incoming, set_intake, submit
from truthloop.pipeline.schedule import tick
from truthloop.pipeline.training import check_training


def _read(paths: list[Path], limit: int) -> list[Incoming]:
    """The files as given; one that cannot be read becomes an image the service refuses with
    the reason (an empty body), so the others still go on."""
    images = []
    for path in paths:
        try:
            with path.open("rb") as handle:
                images.append(Incoming(str(path), handle.read(limit + 1)))
        except OSError as error:
            err_console.print(Text(f"{path}: cannot be read ({error.strerror or error})"))
            images.append(Incoming(str(path), b""))
    return images


def _top(detected: Detected) -> str:
    if not detected.labels:
        return ""
    top = detected.labels[0]
    return f"{top['Name']} {top['Confidence']:.1f}"


def submit_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline to detect with.")],
    images: Annotated[list[Path], typer.Argument(help="Image files.")],
    json_output: JsonOption = False,
) -> None:
    """Detect IMAGEs with the pipeline's deployed version; the unsure ones go to review."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        given = _read(images, project.settings.max_image_bytes)
        with progress_bar("detecting", len(given), quiet=json_output or len(given) < 2) as update:
            done: list[Detected] = []

            def each(detected: Detected) -> None:
                done.append(detected)
                update(len(done))

            results = submit(project, name, given, on_each=each)
    if json_output:
        print_json([asdict(r) for r in results])
    else:
        table = Table("image", "version", "top label", "review loop", "error")
        for r in results:
            table.add_row(
                Text(r.name), Text(r.version or ""), Text(_top(r)), Text(r.loop or ""),
                Text(r.error or "", style="red"),
            )
        console.print(table)
    if any(r.error for r in results):
        raise typer.Exit(1)


def run_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline to check.")],
    json_output: JsonOption = False,
) -> None:
    """Check now whether a new version trains (enough new labeled images, none training), and
    train, gate and deploy it; even with automatic training off."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        if not json_output:
            console.print(Text(f"checking pipeline {name} (a training may take a while)..."))
        check = check_training(project, name, on_demand=True)
    if json_output:
        print_json(asdict(check))
        return
    style = {"succeeded": "green", "failed": "red"}.get(check.status, "")
    f1 = f", F1 {check.f1:.3f}" if check.f1 is not None else ""
    version = f" {check.version}{f1}:" if check.version else ""
    console.print(Text(f"run {check.run_id} {check.status}:{version} {check.reason}", style=style))
    if check.status == "failed":
        raise typer.Exit(1)


def intake_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline whose intake to set.")],
    location: Annotated[
        str | None,
        typer.Argument(help="Folder (in the home or allowed roots) or s3:// prefix to watch."),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop watching.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Watch LOCATION for new images: each tick detects those not seen before."""
    with errors_as_messages(json_output):
        if (location is None) == (not off):
            raise typer.BadParameter("give a LOCATION to watch, or --off")
        pipeline = set_intake(open_project(ctx), name, None if off else location)
    if json_output:
        print_json({"pipeline": name, "intake": pipeline.intake_uri})
        return
    watched = pipeline.intake_uri
    console.print(Text(f"pipeline {name}: " + (f"watching {watched}" if watched else "no intake")))


def tick_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline to tick.")],
    json_output: JsonOption = False,
) -> None:
    """One tick of the schedule now: detect the intake's new images, take completed reviews
    into the training set, and sample or check training where their schedules are due."""
    with errors_as_messages(json_output):
        done = tick(open_project(ctx), name)
    info: dict[str, Any] = asdict(done)
    if json_output:
        print_json(info)
        return
    if done.skipped:
        console.print(Text(done.skipped))
        return
    training = done.training
    console.print(
        Text(
            f"pipeline {name}: {done.detected} detected, {done.accrued.added} images added from"
            f" {done.accrued.loops} reviews, {len(done.audits)} audits started"
            + (f"; training check: {training.status}, {training.reason}" if training else "")
        )
    )


def register(app: typer.Typer) -> None:
    app.command("submit")(submit_command)
    app.command("run")(run_command)
    app.command("intake")(intake_command)
    app.command("tick")(tick_command)
