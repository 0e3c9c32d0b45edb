"""`truthloop pipeline ...`: continuous model improvement (workflow 4): pipelines, their
parameters with the history of every change, and their run history.

A thin layer over `truthloop.pipeline`: every command parses, calls the service and prints;
with `--json` it prints the service's answer as plain JSON.

The command line has no signed-in user: what it creates and changes is recorded with no one
as its author (`created_by`, `changed_by`: null), as `truthloop job create` records its jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from truthloop.cli.context import CLI_USER, open_project
from truthloop.cli.output import (
    JsonOption,
    console,
    errors_as_messages,
    print_json,
    shown_time,
)
from truthloop.core.pipeline_params import PARAMETERS
from truthloop.pipeline import (
    TASKS,
    PipelineSpec,
    RunKind,
    RunStatus,
    get_param,
    get_pipeline,
    get_run,
    list_pipelines,
    list_runs,
    param_history,
    set_param,
)
from truthloop.pipeline.overview import change_json as _change_json
from truthloop.pipeline.overview import params_json as _params_json
from truthloop.pipeline.overview import pipeline_json as _pipeline_json
from truthloop.pipeline.overview import run_json as _run_json
from truthloop.pipeline.overview import step_json as _step_json
from truthloop.pipeline.overview import when
from truthloop.pipeline.params import MOST_CHANGES
from truthloop.pipeline.runs import MOST_RUNS
from truthloop.pipeline.setup import set_up_pipeline
from truthloop.storage.tables import (
    PipelineRow,
    UserRow,
)

app = typer.Typer(
    help="Continuous model improvement: pipelines, their parameters and their runs.",
    no_args_is_help=True,
)
param_app = typer.Typer(
    help="A pipeline's parameters (the seed's parameter store): read, change, history.",
    no_args_is_help=True,
)
app.add_typer(param_app, name="param")

def _short(value: datetime | None) -> str:
    return shown_time(when(value), seconds=True)


def _clock(started: datetime, ended: datetime | None) -> str:
    """When a step ended: its time of day when it ended the day it started, else date too."""
    if ended is None:
        return ""
    return ended.strftime("%H:%M:%S") if ended.date() == started.date() else _short(ended)


def _who(session: Session, user_id: int | None) -> str:
    user = session.get(UserRow, user_id) if user_id is not None else None
    return user.username if user is not None else "-"


def _params_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    # Names and values whole, never wrapped: they are what `param set` is typed with.
    table.add_column("parameter", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("allowed")
    table.add_column("meaning")
    for row in rows:
        table.add_row(Text(row["name"]), row["text"], row["allowed"], Text(row["meaning"]))
    return table


def _shown_seconds(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}"


# --- pipelines --------------------------------------------------------------------------------


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Pipeline name: the model project's (logos trains logos.v1...).")
    ],
    task: Annotated[
        str, typer.Option(metavar="|".join(TASKS), help="What the pipeline's model does.")
    ],
    dataset: Annotated[str, typer.Option(help="Training dataset reviewed images go to.")],
    flow: Annotated[
        str | None,
        typer.Option(help="Review flow low-confidence detections go to (default: none)."),
    ] = None,
    review_team: Annotated[
        str | None,
        typer.Option(
            help="Make the pipeline its own review flow for this team (pick the class or None"
            " of the Above; or correct the boxes), instead of naming a --flow.",
        ),
    ] = None,
    intake: Annotated[
        str | None,
        typer.Option(help="Folder or s3:// prefix to watch for new images (default: none)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create pipeline NAME with every parameter at its default."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        spec = PipelineSpec(name=name, task=task, dataset=dataset, flow=flow)
        set_up_pipeline(
            project, spec, review_team=review_team, intake=intake, created_by=CLI_USER
        )
        with project.session() as session:
            info = _pipeline_json(session, get_pipeline(session, name))
    if json_output:
        print_json(info)
        return
    review = f", review flow {flow}" if flow else ", no review flow"
    console.print(
        Text(
            f"created pipeline {name}: {task} on dataset {dataset}{review};"
            f" {len(PARAMETERS)} parameters at their defaults"
        )
    )


@app.command("list")
def list_(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The pipelines, by name."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        rows = [_pipeline_json(session, p) for p in list_pipelines(session)]
    if json_output:
        print_json(rows)
        return
    table = Table("pipeline", "task", "dataset", "flow", "deployed", "trained images", "created")
    for row in rows:
        table.add_row(
            Text(row["name"]),
            row["task"],
            Text(row["dataset"]),
            Text(row["flow"] or ""),
            Text(row["deployed_version"] or ""),
            str(row["trained_images"]),
            shown_time(row["created_at"]),
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline to describe.")],
    json_output: JsonOption = False,
) -> None:
    """A pipeline's terms, the version it serves and the parameters in force."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        pipeline = get_pipeline(session, name)
        info = _pipeline_json(session, pipeline) | {"parameters": _params_json(session, pipeline)}
        creator = _who(session, pipeline.created_by)
    if json_output:
        print_json(info)
        return
    terms = Table(title=f"pipeline {name}", show_header=False)
    terms.add_column(no_wrap=True)
    terms.add_column(overflow="fold")
    fields = {
        "task": info["task"],
        "dataset": info["dataset"],
        "review flow": info["flow"] or "none",
        "deployed version": info["deployed_version"] or "none",
        "trained images": str(info["trained_images"]),
        "created": f"{_short(pipeline.created_at)} by {creator}",
    }
    for key, value in fields.items():
        terms.add_row(key, Text(value))
    console.print(terms)
    console.print(_params_table("parameters in force", info["parameters"]))


# --- param ------------------------------------------------------------------------------------


@param_app.command("get")
def param_get(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline.")],
    parameter: Annotated[
        str | None,
        typer.Argument(help="Parameter, spelled as the seed does (default: every one)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """The value in force of one parameter, or of every one."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        pipeline = get_pipeline(session, name)
        value = get_param(session, pipeline, parameter) if parameter is not None else None
        rows = _params_json(session, pipeline) if parameter is None else None
    if json_output:
        if rows is None:
            print_json({"pipeline": name, "parameter": parameter, "value": value})
        else:
            print_json({"pipeline": name, "parameters": {r["name"]: r["value"] for r in rows}})
        return
    if rows is None:
        shown = ("true" if value else "false") if isinstance(value, bool) else repr(value)
        typer.echo(shown)
    else:
        console.print(_params_table(f"pipeline {name}", rows))


@param_app.command("set")
def param_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline.")],
    parameter: Annotated[str, typer.Argument(help="Parameter, spelled as the seed does.")],
    value: Annotated[
        str, typer.Argument(help='The value as the seed stores it: "true", "720", "0.8".')
    ],
    json_output: JsonOption = False,
) -> None:
    """Change a parameter; the change is recorded with its old and new value, and as a run.

    A value out of the parameter's range is refused (exit code 1) and nothing changes.
    """
    with errors_as_messages(json_output):
        project = open_project(ctx)
        # The write lock first: two changes at once are taken one after the other.
        with project.db.session(immediate=True) as session:
            pipeline = get_pipeline(session, name)
            change = set_param(session, pipeline, parameter, value, changed_by=CLI_USER)
    if json_output:
        print_json(
            {
                "pipeline": name,
                "parameter": change.name,
                "old": change.old,
                "new": change.new,
                "value": change.value,
                "changed": change.changed,
                "change_id": change.change_id,
                "run_id": change.run_id,
                "message": change.message,
            }
        )
    else:
        console.print(Text(change.message))


@param_app.command("history")
def param_history_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline.")],
    parameter: Annotated[
        str | None, typer.Option(help="Only the changes of this parameter.")
    ] = None,
    limit: Annotated[
        int, typer.Option(help=f"Most changes shown, newest first (at most {MOST_CHANGES}).")
    ] = 100,
    json_output: JsonOption = False,
) -> None:
    """The parameter changes of a pipeline, newest first: who, when, old and new."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        pipeline = get_pipeline(session, name)
        changes = param_history(session, pipeline, name=parameter, limit=limit)
        rows = [_change_json(c) | {"who": _who(session, c.changed_by)} for c in changes]
    if json_output:
        print_json([{k: v for k, v in row.items() if k != "who"} for row in rows])
        return
    table = Table("when", "parameter", "old", "new", "by", title=f"pipeline {name}: changes")
    for row in rows:
        table.add_row(
            shown_time(row["changed_at"], seconds=True),
            Text(row["parameter"]),
            Text(row["old"] if row["old"] is not None else "(default)"),
            Text(row["new"]),
            Text(row["who"]),
        )
    console.print(table)


# --- runs -------------------------------------------------------------------------------------


@app.command("runs")
def runs(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline whose runs are listed.")],
    kind: Annotated[RunKind | None, typer.Option(help="Only runs of this kind.")] = None,
    status: Annotated[RunStatus | None, typer.Option(help="Only runs in this status.")] = None,
    limit: Annotated[
        int, typer.Option(help=f"Runs a page, newest first (at most {MOST_RUNS}).")
    ] = 50,
    before: Annotated[
        int | None,
        typer.Option(metavar="RUN_ID", help="The next page: runs older than this one."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """A pipeline's runs, newest first, a page at a time."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        pipeline = get_pipeline(session, name)
        found = list_runs(
            session,
            pipeline,
            kind=kind.value if kind else None,
            status=status.value if status else None,
            limit=limit,
            before_id=before,
        )
        rows = [_run_json(run) for run in found]
    if json_output:
        print_json(rows)
        return
    table = Table("run", "kind", "status", "started", "seconds", "error", title=f"pipeline {name}")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["kind"],
            row["status"],
            shown_time(row["started_at"], seconds=True),
            _shown_seconds(row["seconds"]),
            Text(row["error"] or ""),
        )
    console.print(table)
    if len(rows) == limit:
        console.print(Text(f"more: --before {rows[-1]['id']}"), soft_wrap=True)


@app.command("run-show")
def run_show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="RUN_ID", help="Run to describe.")],
    json_output: JsonOption = False,
) -> None:
    """A run and its steps, as a timeline."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        run, steps = get_run(session, run_id)
        pipeline = session.get_one(PipelineRow, run.pipeline_id).name
        info = _run_json(run) | {"pipeline": pipeline, "steps": [_step_json(s) for s in steps]}
    if json_output:
        print_json(info)
        return
    ended = f", ended {_short(run.ended_at)}" if run.ended_at else ""
    console.print(
        Text(
            f"run {run_id} of pipeline {pipeline}: {info['kind']}, {info['status']},"
            f" started {_short(run.started_at)}{ended}"
        )
    )
    if info["error"]:
        console.print(Text(f"error: {info['error']}", style="red"))
    table = Table(title="steps")
    for column in ("step", "status", "started", "ended", "seconds"):
        table.add_column(column, no_wrap=True)
    table.add_column("error", overflow="fold", min_width=5)
    for s, row in zip(steps, info["steps"], strict=True):
        table.add_row(
            Text(s.name),
            s.status,
            _short(s.started_at),
            _clock(s.started_at, s.ended_at),
            _shown_seconds(row["seconds"]),
            Text(s.error or ""),
        )
    console.print(table)


from truthloop.cli.pipeline_notify import register  # noqa: E402 — the notification commands
from truthloop.cli.pipeline_work import register as register_work  # noqa: E402

register(app)
register_work(app)
