"""`truthloop demo`: the main job, on the embedded default, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.text import Text

from truthloop.cli.bench import BenchTask, summary_table
from truthloop.cli.dataset import label_tables, summary_json
from truthloop.cli.iterations import iteration_table
from truthloop.cli.output import console, err_console, errors_as_messages, print_json
from truthloop.demo import run_demo


def demo(
    home: Annotated[Path, typer.Option(help="Project folder for the demo.")] = Path(
        "truthloop-demo"
    ),
    images: Annotated[int, typer.Option(min=10, help="Synthetic images to generate.")] = 500,
    task: Annotated[BenchTask, typer.Option(help="What is labeled.")] = BenchTask.CLASSIFICATION,
    train_passes: Annotated[
        int, typer.Option(min=1, help="Images the model sees per training (epochs x images).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 0,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Generate synthetic logos, then label them with automated labeling and simulated workers,
    beside what labeling them all by hand would cost; browse the job in the portal."""
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
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        result = run_demo(
            home, images=images, seed=seed, task=task.value, train_passes=train_passes,
            progress=progress,
        )
    summary, loop = result.summary, result.loop
    url = f"http://127.0.0.1:8000/jobs/{loop.job_id}"
    if json_output:
        print_json(
            {
                "home": str(result.home),
                "dataset": summary_json(summary),
                "job": loop.to_json(),
                "portal": {"url": url, "username": result.manager, "password": result.password},
            }
        )
        return
    for table in label_tables(summary):
        console.print(table)
    console.print(iteration_table(loop.iterations, f"job {loop.job}: iterations"))
    console.print(summary_table(loop, f"job {loop.job}: automated labeling vs all by hand"))
    console.print(
        Text(
            f"{summary.items} synthetic images were labeled again from scratch by simulated"
            f" workers and the model, in {loop.wall_seconds:.0f} s.\n"
            f"Browse the job:  truthloop --home {result.home} serve   then open {url}\n"
            f"Sign in as {result.manager} with the password {result.password}\n"
            f"Iterations:      truthloop --home {result.home} job status {loop.job} --iterations"
        )
    )
