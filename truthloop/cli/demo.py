"""`truthloop demo`: the main job, on the embedded default, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from truthloop.cli.output import console, err_console, errors_as_messages, print_json
from truthloop.demo import run_demo


def demo(
    home: Annotated[Path, typer.Option(help="Project folder for the demo.")] = Path(
        "truthloop-demo"
    ),
    images: Annotated[int, typer.Option(min=10, help="Synthetic images to generate.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 0,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Generate synthetic logos, import them into a local project and summarise them."""
    with (
        errors_as_messages(json_output),
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            disable=json_output,
        ) as bar,
    ):
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        result = run_demo(home, images=images, seed=seed, progress=progress)
    summary = result.summary
    if json_output:
        print_json(
            {
                "home": str(result.home),
                "dataset": summary.name,
                "images": summary.items,
                "annotations": summary.annotations,
                "objects_per_label": summary.objects_per_label,
                "images_per_label": summary.images_per_label,
            }
        )
        return
    table = Table("label", "images", "objects", title=f"dataset {summary.name}")
    for label in summary.labels:
        table.add_row(
            label,
            str(summary.images_per_label.get(label, 0)),
            str(summary.objects_per_label.get(label, 0)),
        )
    console.print(table)
    console.print(
        Text(
            f"{summary.items} synthetic images with {sum(summary.objects_per_label.values())} logo"
            f" boxes imported into {result.home}.\n"
            f"Look inside:  truthloop --home {result.home} dataset show {summary.name}\n"
            f"Export:       truthloop --home {result.home} dataset export {summary.name}"
            " out.json --format coco"
        )
    )
