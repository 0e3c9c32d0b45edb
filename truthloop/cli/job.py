"""`truthloop job ...`: create labeling jobs, follow them, export their manifest, stop them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from truthloop import labeling
from truthloop.cli.context import open_project
from truthloop.cli.iterations import iteration_table
from truthloop.cli.output import (
    BACKBONE_HELP,
    JsonOption,
    console,
    errors_as_messages,
    print_json,
    progress_bar,
    shown_time,
)
from truthloop.core import job_terms as terms
from truthloop.core.text import TEXT, refusal
from truthloop.core.types import Split
from truthloop.errors import InputError
from truthloop.labeling import JobSpec, Subset, TaskType
from truthloop.labeling.autolabel import AutoLabelSpec, Sampling, iterations
from truthloop.labeling.start import start_job
from truthloop.storage.tables import JobRow

app = typer.Typer(help="Labeling jobs: create, follow, export, cancel.", no_args_is_help=True)
AUTO = "Automated labeling"



def _names(text: str | None) -> tuple[str, ...] | None:
    return tuple(x.strip() for x in text.split(",") if x.strip()) if text else None


def _read_instructions(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the instructions file {path}: {error}") from None
    if problem := refusal(text, TEXT):
        raise InputError(f"instructions {problem}", path=str(path))
    return text


def _job_json(job: JobRow) -> dict[str, Any]:
    return {
        "id": job.id, "name": job.name, "task_type": job.task_type, "status": job.status,
        "label_attribute": job.label_attribute, "labels": job.labels,
        "workers_per_item": job.workers_per_item, "task_time_limit_s": job.task_time_limit_s,
        "task_lifetime_s": job.task_lifetime_s, "max_concurrent_tasks": job.max_concurrent_tasks,
        "price_per_task": job.price_per_task, "proposals": job.proposals, "subset": job.subset,
        "created_at": job.created_at.isoformat(),
    }


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Job name (also its label attribute by default).")],
    dataset: Annotated[str, typer.Option(help="Dataset whose images are labeled.")],
    task_type: Annotated[TaskType, typer.Option("--type", help="What workers do.")],
    team: Annotated[str, typer.Option(help="The private team that works on it.")],
    labels: Annotated[
        str | None, typer.Option(help="Labels, comma-separated (default: the dataset's).")
    ] = None,
    instructions: Annotated[
        Path | None, typer.Option(help="Markdown file shown to workers.")
    ] = None,
    workers_per_item: Annotated[
        int, typer.Option(help="Workers who label each image.")
    ] = terms.WORKERS_PER_ITEM.default,
    time_limit: Annotated[
        int, typer.Option(help="Seconds a worker has for a task.")
    ] = terms.TASK_TIME_LIMIT_S.default,
    lifetime: Annotated[
        int, typer.Option(help="Seconds a task waits to be picked up.")
    ] = terms.TASK_LIFETIME_S.default,
    max_concurrent: Annotated[
        int, typer.Option(help="Tasks one worker may hold at once.")
    ] = terms.MAX_CONCURRENT_TASKS.default,
    price: Annotated[
        float, typer.Option(help="Price per task, for the cost shown.")
    ] = terms.PRICE_PER_TASK,
    proposals: Annotated[
        str | None,
        typer.Option(help="Label attribute whose annotations workers see (needed to verify or"
                          " adjust)."),
    ] = None,
    split: Annotated[Split | None, typer.Option(help="Only images of this split.")] = None,
    label_attribute: Annotated[
        str | None, typer.Option(help="Attribute the labels are stored under (default: NAME).")
    ] = None,
    categories: Annotated[
        str, typer.Option(help="Verdicts of a label-verification job, comma-separated.")
    ] = ",".join(terms.VERIFICATION_CATEGORIES),
    auto_label: Annotated[
        bool,
        typer.Option(
            "--auto-label", help="Automated labeling: a model labels what it is sure of, people"
            " the rest (classification and bounding-box jobs; the background worker of"
            " `truthloop serve` runs its iterations).", rich_help_panel=AUTO,
        ),
    ] = False,
    target_accuracy: Annotated[
        float, typer.Option(help="Accuracy the machine labels must meet.", rich_help_panel=AUTO)
    ] = terms.TARGET_ACCURACY,
    initial_model: Annotated[
        str | None,
        typer.Option(help="Model version to start from (job chaining), e.g. logos.v1.",
                     rich_help_panel=AUTO),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Items per people's batch.", rich_help_panel=AUTO)
    ] = None,
    validation_size: Annotated[
        int | None,
        typer.Option(help="People-labeled items held out to choose the threshold (default: an"
                     " eighth of the items, growing up to --validation-max).",
                     rich_help_panel=AUTO),
    ] = None,
    validation_max: Annotated[
        int | None,
        typer.Option(help="Most the validation set grows to when the bound holds the threshold"
                     " back (default: a sixth of the items; --validation-size alone: fixed).",
                     rich_help_panel=AUTO),
    ] = None,
    sampling: Annotated[
        Sampling, typer.Option(help="How people's next batch is chosen.", rich_help_panel=AUTO)
    ] = Sampling.UNCERTAINTY,
    budget: Annotated[
        float | None,
        typer.Option(help="Stop releasing work once the cost reaches this.", rich_help_panel=AUTO),
    ] = None,
    compute_price: Annotated[
        float, typer.Option(help="Compute price per hour, for the cost.", rich_help_panel=AUTO)
    ] = terms.COMPUTE_PRICE_PER_HOUR,
    pre_annotate: Annotated[
        bool,
        typer.Option(help="Show people the model's labels of what they label for training, to"
                     " accept or correct (never on validation items).", rich_help_panel=AUTO),
    ] = True,
    backbone: Annotated[
        str | None, typer.Option(help=BACKBONE_HELP, rich_help_panel=AUTO)
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create job NAME: one task per image and worker, waiting for the team (with
    --auto-label, people get a first batch and a model labels what it can after each)."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        spec = JobSpec(
            name=name, dataset=dataset, task_type=task_type, team=team, labels=_names(labels),
            instructions=_read_instructions(instructions), workers_per_item=workers_per_item,
            task_time_limit_s=time_limit, task_lifetime_s=lifetime,
            max_concurrent_tasks=max_concurrent, price_per_task=price, proposals=proposals,
            subset=Subset(split=split) if split else None,
            verification_categories=_names(categories) or (), label_attribute=label_attribute,
        )
        auto = AutoLabelSpec(
            target_accuracy=target_accuracy, initial_model=initial_model,
            batch_size=batch_size, validation_size=validation_size,
            validation_max=validation_max, sampling=sampling,
            budget=budget, compute_price_per_hour=compute_price,
            pre_annotate=pre_annotate, backbone=backbone,
        ) if auto_label else None
        if auto is None and any(
            x is not None
            for x in (initial_model, batch_size, validation_size, validation_max, budget, backbone)
        ):
            raise InputError(
                "--initial-model, --batch-size, --validation-size, --validation-max, --budget and"
                " --backbone are terms of automated labeling: add --auto-label"
            )
        job_id = start_job(project, spec, auto)
        with project.session() as session:
            job = labeling.get_job(session, job_id)
            info = _job_json(job) | {
                "items": labeling.job_progress(session, job.id).total_items,
                "auto_label": auto_label,
            }
    if json_output:
        print_json(info)
    else:
        console.print(Text(f"created job {info['name']}: {info['items']} images,"
                           f" {info['workers_per_item']} worker(s) each, for team {team}"))
        if auto_label:
            console.print(Text("automated labeling: people get a first batch; the background"
                               " worker (`truthloop serve`) runs each iteration after it"))


@app.command("status")
def status(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Job to report on.")],
    show_iterations: Annotated[
        bool, typer.Option("--iterations", help="Also each automated-labeling iteration.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Progress of job NAME, and how each worker's answers agree with the consolidated labels."""
    with (
        errors_as_messages(json_output),
        open_project(ctx).session() as session,
    ):
        job = labeling.get_job(session, name)
        progress = labeling.job_progress(session, job.id)
        workers = labeling.worker_quality(session, job.id)
        rounds = iterations(session, job.id) if show_iterations else []
    if json_output:
        extra = {"iterations": [i.to_json() for i in rounds]} if show_iterations else {}
        print_json(
            {"name": name, **asdict(progress), "workers": [asdict(w) for w in workers], **extra}
        )
        return
    table = Table("", "count", title=f"job {name} ({progress.status})")
    rows = {
        "images done": f"{progress.done} / {progress.total_items}",
        "tasks submitted": progress.submitted, "tasks leased": progress.leased,
        "tasks waiting": progress.waiting, "tasks expired": progress.expired,
        "human labels": progress.human_labels, "machine labels": progress.machine_labels,
        "cost": f"{progress.cost:.3f}",
        "median seconds": "-" if progress.median_seconds is None
        else f"{progress.median_seconds:.1f}",
    }
    for key, value in rows.items():
        table.add_row(key, str(value))
    console.print(table)
    if workers:
        quality = Table("worker", "tasks", "compared", "agreement", "median s", title="workers")
        for w in workers:
            agreement = "-" if w.agreement is None else f"{w.agreement:.2f}"
            seconds = "-" if w.median_seconds is None else f"{w.median_seconds:.1f}"
            quality.add_row(Text(w.username), str(w.submitted), str(w.compared), agreement, seconds)
        console.print(quality)
    if show_iterations:
        console.print(iteration_table(rounds) if rounds else Text("no iterations yet"))


@app.command("export")
def export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Job to export.")],
    dest: Annotated[Path, typer.Argument(help="Output manifest file to write.")],
    json_output: JsonOption = False,
) -> None:
    """Write the job's Ground Truth output manifest to DEST."""
    dest = dest.expanduser().resolve()
    with (
        errors_as_messages(json_output),
        open_project(ctx).session() as session,
    ):
        job = labeling.get_job(session, name)
        total = labeling.job_progress(session, job.id).total_items
        with progress_bar(f"exporting {name}", total, quiet=json_output) as update:
            lines = labeling.export_manifest(session, job.id, dest, progress=update)
    if json_output:
        print_json({"job": name, "dest": str(dest), "lines": lines})
    else:
        console.print(Text(f"wrote {lines} lines of job {name} to {dest}"))


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Job to stop.")],
    json_output: JsonOption = False,
) -> None:
    """Stop handing out the job's tasks; labels made so far are kept."""
    with (
        errors_as_messages(json_output),
        open_project(ctx).session() as session,
    ):
        job = labeling.get_job(session, name)
        labeling.cancel_job(session, job.id)
        state = job.status
    if json_output:
        print_json({"job": name, "status": state})
    else:
        console.print(Text(f"job {name} is {state}"))


@app.command("list")
def list_(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The project's labeling jobs, newest first."""
    with (
        errors_as_messages(json_output),
        open_project(ctx).session() as session,
    ):
        jobs = [
            (_job_json(job), labeling.job_progress(session, job.id))
            for job in labeling.list_jobs(session)
        ]
    if json_output:
        print_json([info | {"total_items": p.total_items, "done": p.done} for info, p in jobs])
        return
    table = Table("job", "type", "status", "images done", "workers/image", "created")
    for info, p in jobs:
        table.add_row(Text(info["name"]), info["task_type"], info["status"],
                      f"{p.done}/{p.total_items}", str(info["workers_per_item"]),
                      shown_time(info["created_at"]))
    console.print(table)
