"""`truthloop review ...`: human review of a model's predictions (Amazon A2I): worker task
templates (`ui`), review workflows (`flow`), human loops (`loop`), the completed loops as
training data (`export`), and one round of what the background worker does (`advance`).

A thin layer over `truthloop.review`: every command parses, calls the service and prints; with
`--json` it prints the service's answer in A2I's shapes (DescribeFlowDefinition,
DescribeHumanLoop, ListHumanLoops, RenderUiTemplate), which is a stable interface.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from truthloop.cli.context import open_project
from truthloop.cli.output import (
    JsonOption,
    console,
    err_console,
    errors_as_messages,
    print_json,
    shown_time,
)
from truthloop.core import review_terms as terms
from truthloop.errors import InputError
from truthloop.formats.a2i import DEFAULT_ATTRIBUTE
from truthloop.review import (
    FlowSpec,
    FlowStatus,
    LoopStart,
    LoopStatus,
    advance_loops,
    attach_model,
    create_flow,
    create_task_ui,
    delete_flow,
    delete_loop,
    delete_task_ui,
    describe_loop,
    export_flow,
    flow_description,
    get_flow,
    get_loop,
    get_task_ui,
    list_flows,
    list_loops,
    list_task_uis,
    preview,
    start_loop,
    stop_loop,
)
from truthloop.review.flows import flow_resource_name
from truthloop.review.loops import loop_output, parse_input
from truthloop.storage.tables import FlowDefinitionRow, HumanLoopRow, HumanTaskUiRow

app = typer.Typer(
    help="Human review of predictions (A2I): task templates, flows, human loops.",
    no_args_is_help=True,
)
ui_app = typer.Typer(
    help="Worker task templates (A2I's human task UIs): HTML + Liquid + Crowd HTML Elements.",
    no_args_is_help=True,
)
flow_app = typer.Typer(
    help="Review workflows (A2I's flow definitions): who reviews, on which page, on what terms.",
    no_args_is_help=True,
)
loop_app = typer.Typer(
    help="Human loops: one review of one data object by the flow's team.", no_args_is_help=True
)
app.add_typer(ui_app, name="ui")
app.add_typer(flow_app, name="flow")
app.add_typer(loop_app, name="loop")

PREVIEW_GRANT = "preview:"
"""What `ui render` puts before each URI `grant_read_access` is given: a preview is not served,
so no signed link is made and no file is opened; the page shows which URI a reviewer's link
would open."""


def _preview_grant(uri: str) -> str:
    return PREVIEW_GRANT + uri


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the {what} file {path}: {error}") from None


def _one_of(
    path: Path | None, text: str | None, what: str, options: str, *, needed: bool
) -> str | None:
    """The text of `--X FILE` or `--X-json TEXT`, at most one of them (exactly one if `needed`)."""
    if path is not None and text is not None:
        raise InputError(f"give the {what} once: {options}, not both")
    if path is not None:
        return _read_text(path, what)
    if text is None and needed:
        raise InputError(f"give the {what}: {options}")
    return text


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{option} takes an ISO 8601 time (2024-05-01T12:00:00Z; no zone: UTC), not {value!r}"
        ) from None


def _print_fields(title: str, fields: dict[str, Any]) -> None:
    """A describe answer as a two-column table; nested objects give their fields as rows."""
    table = Table(title=title, show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # ARNs and paths whole, folded rather than cut
    rows = [
        row
        for key, value in fields.items()
        for row in (value.items() if isinstance(value, dict) else [(key, value)])
    ]
    for key, value in rows:
        if value is None or value == "":
            continue
        shown = value if isinstance(value, str) else orjson.dumps(value).decode()
        table.add_row(key, Text(shown))
    console.print(table)


# --- ui ---------------------------------------------------------------------------------------


def _ui_json(row: HumanTaskUiRow, *, content: bool = False) -> dict[str, Any]:
    template: dict[str, Any] = {
        "ContentSha256": hashlib.sha256(row.template.encode()).hexdigest(),
        "Characters": len(row.template),
    }
    if content:
        template["Content"] = row.template
    return {
        "HumanTaskUiName": row.name,
        "CreationTime": row.created_at.isoformat() + "Z",
        "UiTemplate": template,
    }


@ui_app.command("create")
def ui_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the task UI (a-z, 0-9, -).")],
    template_file: Annotated[
        Path, typer.Argument(metavar="TEMPLATE_FILE", help="HTML + Liquid template (UTF-8).")
    ],
    json_output: JsonOption = False,
) -> None:
    """Store a worker task template, checked first.

    A Liquid syntax error, an unknown filter or a control character is refused with its line.
    """
    with errors_as_messages(json_output):
        template = _read_text(template_file, "template")
        with open_project(ctx).session() as session:
            try:
                row = create_task_ui(session, name, template)
            except InputError as error:
                raise error.at(path=str(template_file)) from None
            info = _ui_json(row)
    if json_output:
        print_json(info)
    else:
        console.print(Text(f"created human task UI {name} ({len(template):,} characters)"))


@ui_app.command("list")
def ui_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The task UIs, newest first."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        rows = [_ui_json(row) for row in list_task_uis(session)]
    if json_output:
        print_json(rows)
        return
    table = Table("task UI", "characters", "created")
    for row in rows:
        table.add_row(
            Text(row["HumanTaskUiName"]),
            str(row["UiTemplate"]["Characters"]),
            shown_time(row["CreationTime"]),
        )
    console.print(table)


@ui_app.command("show")
def ui_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Task UI to print.")],
    json_output: JsonOption = False,
) -> None:
    """Print a task UI's template."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        info = _ui_json(get_task_ui(session, name), content=True)
    if json_output:
        print_json(info)
    else:
        # The template as stored, byte for byte: no markup, no wrapping, no highlighting.
        typer.echo(info["UiTemplate"]["Content"], nl=False)


@ui_app.command("delete")
def ui_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Task UI to delete.")],
    json_output: JsonOption = False,
) -> None:
    """Delete a task UI that no flow uses."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        delete_task_ui(session, name)
    if json_output:
        print_json({"deleted": name})
    else:
        console.print(Text(f"deleted human task UI {name}"))


@ui_app.command("render")
def ui_render(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="[NAME]", help="Stored task UI (or give --template)."),
    ] = None,
    template_file: Annotated[
        Path | None,
        typer.Option("--template", metavar="FILE", help="Render this template file instead."),
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", metavar="JSON_FILE", help="Sample input: a JSON object file."),
    ] = None,
    input_json: Annotated[
        str | None, typer.Option("--input-json", metavar="TEXT", help="Sample input as text.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the page here (default: standard output).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Preview a template for a sample input (A2I's RenderUiTemplate).

    The page goes to --out or standard output, errors and warnings to standard error. Each
    `grant_read_access` URI is shown as `preview:<uri>`: a preview is not served, so it opens
    nothing. Exit code 1 when nothing could be rendered.
    """
    with errors_as_messages(json_output):
        if (name is None) == (template_file is None):
            raise InputError("give a stored task UI NAME or --template FILE (one of them)")
        sample = parse_input(
            _one_of(
                input_file, input_json, "input", "--input FILE or --input-json TEXT", needed=True
            )
        )
        if template_file is not None:
            source, where = _read_text(template_file, "template"), str(template_file)
        else:
            with open_project(ctx).session() as session:
                source, where = get_task_ui(session, name or "").template, f"task UI {name}"
        rendered = preview(source, sample, _preview_grant)
        if out is not None and rendered.rendered_content:
            try:
                out.write_text(rendered.rendered_content, encoding="utf-8")
            except OSError as error:
                raise InputError(f"cannot write {out}: {error}") from None
    failed = not rendered.rendered_content and bool(rendered.errors)
    if json_output:
        info: dict[str, Any] = {
            "RenderedContent": rendered.rendered_content,
            "Errors": rendered.errors,
        }
        if out is not None:
            info["out"] = str(out)
        print_json(info)
    else:
        for problem in rendered.errors:
            style = "yellow" if problem.startswith("warning:") else "red"
            err_console.print(Text.assemble((f"{where}: ", style), problem), highlight=False)
        if out is not None and not failed:
            console.print(Text(f"wrote the page to {out}"))
        elif not failed:
            typer.echo(rendered.rendered_content, nl=False)
    if failed:
        raise typer.Exit(1)


# --- flow -------------------------------------------------------------------------------------


def _describe(session: Session, flow: FlowDefinitionRow) -> dict[str, Any]:
    return flow_description(session, flow)


@flow_app.command("create")
def flow_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the flow (a-z, 0-9, -).")],
    team: Annotated[str, typer.Option(help="The private team that reviews.")],
    ui: Annotated[str, typer.Option(help="Task UI reviewers see (`review ui create`).")],
    title: Annotated[
        str,
        typer.Option(
            help=f"Task title in reviewers' lists (at most {terms.TASK_TITLE_CHARS} characters)."
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            metavar="LOC",
            help="Where each loop's output.json goes: a folder (inside the project home"
            " or the allowed roots) or an s3:// prefix.",
        ),
    ],
    description: Annotated[
        str,
        typer.Option(help=f"Task description (at most {terms.TASK_DESCRIPTION_CHARS} characters)."),
    ] = "",
    task_count: Annotated[
        int,
        typer.Option(
            help=f"Reviewers who answer each loop ({terms.TASK_COUNT.low} to"
            f" {terms.TASK_COUNT.high})."
        ),
    ] = terms.TASK_COUNT.default,
    lifetime: Annotated[
        int,
        typer.Option(
            help="Seconds a loop's tasks wait to be taken before it fails Expired"
            f" ({terms.TASK_LIFETIME_S.low} to {terms.TASK_LIFETIME_S.high})."
        ),
    ] = terms.TASK_LIFETIME_S.default,
    time_limit: Annotated[
        int,
        typer.Option(
            help="Seconds a reviewer has for a task"
            f" ({terms.TASK_TIME_LIMIT_S.low} to {terms.TASK_TIME_LIMIT_S.high})."
        ),
    ] = terms.TASK_TIME_LIMIT_S.default,
    conditions_file: Annotated[
        Path | None,
        typer.Option(
            "--conditions",
            metavar="JSON_FILE",
            help="A2I activation conditions: when a model's prediction is reviewed"
            " (default: every one).",
        ),
    ] = None,
    conditions_json: Annotated[
        str | None,
        typer.Option("--conditions-json", metavar="TEXT", help="The conditions as text."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="VERSION", help="Route this model version's detect calls through the flow."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create flow NAME and check that its output location takes a write.

    The flow is then Active, or Failed with the reason (exit code 1).
    """
    with errors_as_messages(json_output):
        conditions = _one_of(
            conditions_file,
            conditions_json,
            "activation conditions",
            "--conditions FILE or --conditions-json TEXT",
            needed=False,
        )
        spec = FlowSpec(
            name=name,
            team=team,
            task_ui=ui,
            title=title,
            output=output,
            description=description,
            task_count=task_count,
            lifetime_s=lifetime,
            time_limit_s=time_limit,
            conditions=conditions,
            model_version=model,
        )
        project = open_project(ctx)
        flow = create_flow(project, spec)
        with project.session() as session:
            info = _describe(session, flow)
    failed = info["FlowDefinitionStatus"] == FlowStatus.FAILED
    if json_output:
        print_json(info)
    elif failed:
        console.print(Text(f"flow {name} is Failed: {info['FailureReason']}", style="red"))
    else:
        console.print(
            Text(
                f"flow {name} is {info['FlowDefinitionStatus']}: team {team} finds"
                f" its tasks under My jobs as {flow_resource_name(name)}"
            )
        )
    if failed:
        raise typer.Exit(1)


@flow_app.command("list")
def flow_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The flows, newest first."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        flows = [_describe(session, flow) for flow in list_flows(session)]
    if json_output:
        print_json(flows)
        return
    table = Table("flow", "status", "team", "task UI", "reviewers", "model", "created")
    for f in flows:
        config = f["HumanLoopConfig"]
        table.add_row(
            Text(f["FlowDefinitionName"]),
            f["FlowDefinitionStatus"],
            Text(config["Workteam"]),
            Text(config["HumanTaskUi"]),
            str(config["TaskCount"]),
            Text(f["ModelVersion"] or ""),
            shown_time(f["CreationTime"]),
        )
    console.print(table)


@flow_app.command("show")
def flow_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Flow to describe.")],
    json_output: JsonOption = False,
) -> None:
    """A flow as DescribeFlowDefinition reports it."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        info = _describe(session, get_flow(session, name))
    if json_output:
        print_json(info)
        return
    _print_fields(f"flow {name}", info)


@flow_app.command("delete")
def flow_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Flow to delete.")],
    json_output: JsonOption = False,
) -> None:
    """Delete a flow with its loops and their answers.

    Refused while a loop is in progress or stopping; output.json files stay where they are.
    """
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        delete_flow(session, name)
    if json_output:
        print_json({"deleted": name})
    else:
        console.print(Text(f"deleted flow {name}"))


def _attach(ctx: typer.Context, name: str, version: str | None, json_output: bool) -> None:
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        attached = attach_model(session, name, version).model_version
    if json_output:
        print_json({"FlowDefinitionName": name, "ModelVersion": attached})
    elif attached:
        console.print(Text(f"detect calls on {attached} now go through flow {name}"))
    else:
        console.print(Text(f"flow {name} has no model attached"))


@flow_app.command("attach")
def flow_attach(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Flow.")],
    version: Annotated[str, typer.Argument(help="Model version, e.g. logos.v3.")],
    json_output: JsonOption = False,
) -> None:
    """Route a model version's detect calls through the flow."""
    _attach(ctx, name, version, json_output)


@flow_app.command("detach")
def flow_detach(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Flow.")],
    json_output: JsonOption = False,
) -> None:
    """Stop routing the attached model's detect calls through the flow."""
    _attach(ctx, name, None, json_output)


# --- loop -------------------------------------------------------------------------------------


@loop_app.command("start")
def loop_start(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the loop (a-z, 0-9, -).")],
    flow: Annotated[str, typer.Option(help="Flow whose team reviews it.")],
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input",
            metavar="JSON_FILE",
            help="The loop's input: a JSON object file (task.input in the template).",
        ),
    ] = None,
    input_json: Annotated[
        str | None, typer.Option("--input-json", metavar="TEXT", help="The input as text.")
    ] = None,
    content_classifiers: Annotated[
        list[str] | None,
        typer.Option(
            "--content-classifier",
            help=f"Declare the input {' or '.join(terms.CONTENT_CLASSIFIERS)} (repeatable).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Start a human loop (StartHumanLoop).

    Starting it again with the same flow and input returns the existing loop; with another
    input it is refused.
    """
    with errors_as_messages(json_output):
        text = _one_of(
            input_file, input_json, "input", "--input FILE or --input-json TEXT", needed=True
        )
        attributes = {"ContentClassifiers": content_classifiers} if content_classifiers else None
        start = LoopStart(name, flow, text or "", data_attributes=attributes)
        loop, new = start_loop(open_project(ctx), start)
        info = describe_loop(loop, flow) | {"New": new}
    if json_output:
        print_json(info)
    elif new:
        console.print(Text(f"started human loop {name} ({loop.status}) in flow {flow}"))
    else:
        console.print(
            Text(f"human loop {name} already exists with this input: it is {loop.status}")
        )


@loop_app.command("list")
def loop_list(
    ctx: typer.Context,
    flow: Annotated[str, typer.Argument(help="Flow whose loops are listed.")],
    status: Annotated[LoopStatus | None, typer.Option(help="Only loops in this status.")] = None,
    after: Annotated[
        str | None,
        typer.Option(
            metavar="ISO",
            help="Only loops created at or after this time (UTC unless it has a zone).",
        ),
    ] = None,
    before: Annotated[
        str | None, typer.Option(metavar="ISO", help="Only loops created before this time.")
    ] = None,
    ascending: Annotated[
        bool, typer.Option("--ascending", help="Oldest first (default: newest first).")
    ] = False,
    max_results: Annotated[
        int, typer.Option(help=f"Loops a page (at most {terms.MAX_RESULTS}).")
    ] = terms.MAX_RESULTS,
    next_token: Annotated[
        str | None, typer.Option(help="Continue after the page that printed this token.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """A flow's human loops, a page at a time (ListHumanLoops)."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        page = list_loops(
            session,
            flow,
            created_after=_time(after, "--after"),
            created_before=_time(before, "--before"),
            status=status.value if status else None,
            ascending=ascending,
            max_results=max_results,
            next_token=next_token,
        )
        loops = [describe_loop(loop, flow) for loop in page.loops]
    if json_output:
        print_json({"HumanLoopSummaries": loops, "NextToken": page.next_token})
        return
    table = Table("loop", "status", "created", "failure", title=f"flow {flow}")
    for loop in loops:
        table.add_row(
            Text(loop["HumanLoopName"]),
            loop["HumanLoopStatus"],
            shown_time(loop["CreationTime"], seconds=True),
            Text(loop.get("FailureReason") or ""),
        )
    console.print(table)
    if page.next_token:
        # Never wrapped: the token must survive a copy and paste whole.
        console.print(Text(f"more: --next-token {page.next_token}"), soft_wrap=True)


def _loop_and_flow(session: Session, name: str) -> tuple[HumanLoopRow, FlowDefinitionRow]:
    loop = get_loop(session, name)
    return loop, session.get_one(FlowDefinitionRow, loop.flow_id)


@loop_app.command("show")
def loop_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Loop to describe.")],
    answers: Annotated[
        bool,
        typer.Option(
            "--answers",
            help="Also the reviewers' answers (humanAnswers of its output), once it is Completed.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """A human loop as DescribeHumanLoop reports it."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        loop, flow = _loop_and_flow(session, name)
        info = describe_loop(loop, flow.name)
        completed = loop.status == LoopStatus.COMPLETED
        given = loop_output(session, loop, flow)["humanAnswers"] if answers and completed else None
    if answers:
        info["humanAnswers"] = given
    if json_output:
        print_json(info)
        return
    info.pop("humanAnswers", None)
    _print_fields(f"human loop {name}", info)
    if not answers:
        return
    if given is None:
        console.print(Text(f"no answers yet: the loop is {loop.status}", style="dim"))
    for answer in given or ():
        who = answer.get("workerMetadata", {}).get("identityData", {}).get("sub")
        console.print(
            Text(
                f"{who or answer['workerId']} at {answer['submissionTime']}"
                f" ({answer['timeSpentInSeconds']} s):",
                style="bold",
            )
        )
        console.print(Text(orjson.dumps(answer["answerContent"]).decode()), soft_wrap=True)


@loop_app.command("stop")
def loop_stop(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Loop to stop.")],
    json_output: JsonOption = False,
) -> None:
    """Stop a loop (StopHumanLoop): Stopping while a reviewer holds a task, then Stopped."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        loop = stop_loop(project, name)
        with project.session() as session:
            info = describe_loop(loop, session.get_one(FlowDefinitionRow, loop.flow_id).name)
    if json_output:
        print_json(info)
    else:
        console.print(Text(f"human loop {name} is {loop.status}"))


@loop_app.command("delete")
def loop_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Loop to delete.")],
    json_output: JsonOption = False,
) -> None:
    """Delete a Completed, Failed or Stopped loop and its answers (its output.json stays)."""
    with errors_as_messages(json_output):
        delete_loop(open_project(ctx), name)
    if json_output:
        print_json({"deleted": name})
    else:
        console.print(Text(f"deleted human loop {name}"))


# --- export, advance --------------------------------------------------------------------------


@app.command("export")
def export(
    ctx: typer.Context,
    flow: Annotated[str, typer.Argument(help="Flow whose completed loops are exported.")],
    dest: Annotated[Path, typer.Argument(help="Output manifest file to write.")],
    attribute: Annotated[
        str, typer.Option(help="Label attribute of the manifest's lines.")
    ] = DEFAULT_ATTRIBUTE,
    json_output: JsonOption = False,
) -> None:
    """Write a flow's completed loops to DEST as a Ground Truth augmented manifest.

    Import it (`dataset import --format groundtruth`) to train the next model version on.
    """
    dest = dest.expanduser().resolve()
    with errors_as_messages(json_output):
        done = export_flow(open_project(ctx), flow, dest, attribute=attribute)
    if json_output:
        counts = asdict(done.counts) | {"skipped": done.counts.skipped}
        print_json(
            {
                "flow": flow,
                "dest": str(dest),
                "lines": done.lines,
                "loops": done.loops,
                "counts": counts,
            }
        )
    else:
        console.print(
            Text(
                f"wrote {done.lines} lines from {done.loops} completed loops of flow"
                f" {flow} to {dest}"
            )
        )
        console.print(Text(done.counts.summary(), style="dim"))


@app.command("advance")
def advance(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Move every loop on once, as the background worker does each round.

    Completes the answered loops (output.json written), fails the expired ones and stops the
    stopping ones.
    """
    with errors_as_messages(json_output):
        moved = advance_loops(open_project(ctx))
    if json_output:
        print_json({"moved": moved})
    else:
        console.print(Text(f"{moved} human loop(s) moved on"))
