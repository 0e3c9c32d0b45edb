"""`truthloop bench loop`: a whole labeling job run by simulated workers on a dataset whose
labels are the hidden truth, with automated labeling or by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from truthloop.cli.context import open_project
from truthloop.cli.iterations import iteration_table
from truthloop.cli.output import BackboneOption, console, errors_as_messages, print_json
from truthloop.core import job_terms
from truthloop.labeling.autolabel import AutoLabelSpec, Sampling
from truthloop.sim.loop_bench import DEFAULT_PRICE_PER_TASK, LoopResult, run_loop

app = typer.Typer(help="Benchmarks with simulated workers.", no_args_is_help=True)


class BenchTask(StrEnum):
    CLASSIFICATION = "classification"
    DETECTION = "detection"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def summary_table(result: LoopResult, title: str) -> Table:
    data: dict[str, Any] = result.to_json()
    table = Table("", "this job", "all by hand", title=title)
    table.add_row("items", str(result.items), str(result.items))
    table.add_row("machine-labeled", _share(result.machine_labeled_share), "0.0%")
    table.add_row("machine-label accuracy", _share(result.machine_label_accuracy), "-")
    table.add_row("human-label accuracy", _share(data["human_label_accuracy"]), "-")
    table.add_row(
        "human seconds", f"{result.human_seconds:.0f}", f"{result.manual_human_seconds:.0f}"
    )
    table.add_row("cost", f"{result.cost:.2f}", f"{result.manual_cost:.2f}")
    if result.mean_iou is not None:
        table.add_row("mean IoU of machine boxes", f"{result.mean_iou:.3f}", "-")
    table.add_row("iterations", str(len(result.iterations)), "-")
    return table


@app.command("loop")
def loop(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="Dataset whose labels are the hidden truth.")],
    task: Annotated[BenchTask, typer.Option(help="What people and the model label.")],
    auto_label: Annotated[bool, typer.Option("--auto-label", help="Automated labeling on.")] = (
        False
    ),
    initial_model: Annotated[
        str | None, typer.Option(help="Model version to start from (job chaining).")
    ] = None,
    target_accuracy: Annotated[
        float, typer.Option(help="Machine labels' target.")
    ] = job_terms.TARGET_ACCURACY,
    confidence: Annotated[
        float, typer.Option(help="Confidence of the accuracy bound.")
    ] = job_terms.BOUND_CONFIDENCE,
    sampling: Annotated[Sampling, typer.Option(help="How people's batches are chosen.")] = (
        Sampling.UNCERTAINTY
    ),
    batch_size: Annotated[int | None, typer.Option(min=1, help="Items per human batch.")] = None,
    validation_size: Annotated[
        int | None, typer.Option(min=1, help="Items held out to choose thresholds.")
    ] = None,
    validation_max: Annotated[
        int | None, typer.Option(min=1, help="Most the held-out items may grow to.")
    ] = None,
    train_passes: Annotated[
        int, typer.Option(min=1, help="Images seen per training (about epochs x images).")
    ] = 2000,
    price_per_task: Annotated[float, typer.Option(min=0)] = DEFAULT_PRICE_PER_TASK,
    compute_price_per_hour: Annotated[float, typer.Option(min=0)] = 1.0,
    budget: Annotated[float | None, typer.Option(help="Most the job may cost.")] = None,
    pre_annotate: Annotated[
        bool, typer.Option(help="People start from the model's labels (training items).")
    ] = True,
    job: Annotated[str | None, typer.Option(help="Job name (default: from the dataset).")] = None,
    backbone: BackboneOption = None,
    seed: Annotated[int, typer.Option()] = 0,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run a whole job on DATASET with simulated workers and compare it with labeling by hand."""
    name = job or f"{dataset}-{'auto' if auto_label else 'manual'}-{datetime.now(UTC):%H%M%S}"
    terms = (
        AutoLabelSpec(
            target_accuracy=target_accuracy,
            confidence=confidence,
            batch_size=batch_size,
            validation_size=validation_size,
            validation_max=validation_max,
            budget=budget,
            compute_price_per_hour=compute_price_per_hour,
            sampling=sampling,
            initial_model=initial_model,
            train_passes=train_passes,
            seed=seed,
            pre_annotate=pre_annotate,
            backbone=backbone,
        )
        if auto_label
        else None
    )
    with errors_as_messages(json_output):
        project = open_project(ctx)
        result = run_loop(
            project,
            dataset,
            task.value,
            job_name=name,
            auto=terms,
            price_per_task=price_per_task,
            seed=seed,
        )
    if json_output:
        print_json(result.to_json())
        return
    if result.iterations:
        console.print(iteration_table(result.iterations, f"job {result.job}"))
    console.print(summary_table(result, f"job {result.job} with simulated workers"))
    if result.model:
        console.print(Text(f"final model: {result.model} (chain a job with --initial-model)"))
