"""`truthloop feedback ...`: model-assisted annotation of a larger set. A model version
proposes labels, a team verifies or adjusts them in batches, the result trains the next version.
Every command takes `--json`; that output is a stable interface."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from truthloop.cli.context import open_project
from truthloop.cli.model import print_comparison
from truthloop.cli.output import JsonOption, console, errors_as_messages, print_json, progress_bar
from truthloop.core import job_terms as terms
from truthloop.labeling.feedback import FeedbackMode, FeedbackRun, list_feedback, start_feedback
from truthloop.labeling.feedback.collect import collect_feedback
from truthloop.labeling.feedback.report import feedback_report

app = typer.Typer(
    help="Model-assisted annotation: a model proposes, people verify or adjust, v2 trains.",
    no_args_is_help=True,
)

RunArgument = Annotated[str, typer.Argument(metavar="RUN", help="Feedback run, e.g. feedback-1.")]


def _print_run(run: FeedbackRun) -> None:
    console.print(
        Text(
            f"{run.name}  {run.mode.value}  {run.status.value}  {run.model} on {run.dataset}"
            f"  {run.done}/{run.images} images done"
        )
    )
    for batch in run.batches:
        console.print(
            Text(f"  {batch.job}  {batch.done}/{batch.images}  {batch.status}", style="dim")
        )


@app.command("start")
def start(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="Model version that proposes, e.g. logos.v1.")],
    dataset: Annotated[str, typer.Option(help="Dataset to annotate.")],
    team: Annotated[str, typer.Option(help="Team that verifies or adjusts.")],
    mode: Annotated[
        FeedbackMode, typer.Option(help="verify: approve/reject; adjust: edit the boxes.")
    ] = FeedbackMode.VERIFY,
    batch_size: Annotated[
        int, typer.Option(help="Images per labeling job.")
    ] = terms.FEEDBACK_BATCH_SIZE,
    min_confidence: Annotated[
        float, typer.Option(help="Proposals below this confidence are left out.")
    ] = terms.FEEDBACK_MIN_CONFIDENCE,
    name: Annotated[str | None, typer.Option(help="Run name (default feedback-N).")] = None,
    json_output: JsonOption = False,
) -> None:
    """MODEL proposes labels for every image of DATASET; TEAM checks them in batches."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        with progress_bar("proposing", None, quiet=json_output) as update:
            run = start_feedback(
                project,
                model=model,
                dataset=dataset,
                team=team,
                mode=mode,
                batch_size=batch_size,
                min_confidence=min_confidence,
                name=name,
                progress=lambda done, _total: update(done),
            )
    if json_output:
        print_json(run.to_json())
        return
    _print_run(run)
    console.print(Text(f"when the jobs are done: {run.collect_command}"))


@app.command("collect")
def collect(
    ctx: typer.Context,
    run: RunArgument,
    partial: Annotated[
        bool, typer.Option("--partial", help="Write what is answered, leave the rest.")
    ] = False,
    dataset: Annotated[str | None, typer.Option(help="Dataset to import into.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Write the verified labels as a Ground Truth manifest and import it as a dataset."""
    with errors_as_messages(json_output):
        result = collect_feedback(open_project(ctx), run, partial=partial, dataset=dataset)
    if json_output:
        print_json(result.to_json())
        return
    counts = result.counts
    console.print(Text(f"wrote {result.images} verified images to {result.manifest}"))
    console.print(Text(f"imported as dataset {result.dataset}"))
    if result.partial:
        console.print(
            Text(f"partial: {result.missing} tasks not answered yet are left out", style="yellow")
        )
    console.print(
        Text(
            f"proposals: {counts.accepted} accepted unchanged, {counts.adjusted} adjusted,"
            f" {counts.rejected} rejected; {counts.added} added by people"
        )
    )
    console.print(Text(f"human time: {result.human_seconds:.0f} s"))
    console.print(Text(f"next: {result.train_command}"))


@app.command("report")
def report(
    ctx: typer.Context,
    run: RunArgument,
    test_dataset: Annotated[str, typer.Option(help="Dataset both versions are tested on.")],
    from_v1_weights: Annotated[
        bool, typer.Option("--from-v1/--from-scratch", help="Start v2 from v1's weights.")
    ] = True,
    epochs: Annotated[int | None, typer.Option(min=1, help="Epochs for v2.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Train v2 on the collected dataset and compare it with v1 on TEST."""
    with errors_as_messages(json_output):
        found = feedback_report(
            open_project(ctx), run, test_dataset, from_v1_weights=from_v1_weights, epochs=epochs
        )
    if json_output:
        print_json(found.to_json())
        return
    print_comparison(found.comparison)
    share = found.human_share
    console.print(
        Text(
            f"human time: {found.human_seconds:.0f} s, against {found.scratch_seconds:.0f} s"
            " to label the same images from scratch"
            + (f" ({share:.2f}x)" if share is not None else "")
        )
    )


@app.command("list")
def list_(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every feedback run, newest first, with its batches' progress."""
    with errors_as_messages(json_output):
        runs = list_feedback(open_project(ctx))
    if json_output:
        print_json([r.to_json() for r in runs])
        return
    table = Table("run", "mode", "model", "dataset", "done", "status")
    for r in runs:
        table.add_row(
            Text(r.name), r.mode.value, Text(r.model), Text(r.dataset), f"{r.done}/{r.images}",
            r.status.value,
        )
    console.print(table)
