"""REST API: human review (A2I) for managers: task UIs, flow definitions, human loops, their
output, the flow's completed loops as a manifest, events and webhooks.

Each route says which A2I operation it stands for. Bodies that are A2I documents keep A2I's
PascalCase (StartHumanLoop's request; Describe*/ListHumanLoops answers; output.json; the
EventBridge events); the rest is snake_case (truthloop/web/review_schemas.py says which).
Reviewers' own endpoints (their next task, the task frame, its images, their answer) are in
review_work.py; every route here is for managers and admins only.

A preview (`POST /api/review/task-uis/render`) signs no link: `grant_read_access` there gives
PREVIEW_GRANT_URL followed by the URI, percent-encoded, after checking the URI as a reviewer's
page would (an `s3://` object, or a file inside the project home or the allowed roots).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from truthloop import review
from truthloop.core import review_terms as terms
from truthloop.errors import InputError, NotFound
from truthloop.formats.a2i import DEFAULT_ATTRIBUTE
from truthloop.review import events, webhooks
from truthloop.review.loops import LoopStatus
from truthloop.review.work import check_grant_target
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanLoopRow,
    WebhookRow,
)
from truthloop.web.deps import ProjectDep, RequireManager, SessionDep
from truthloop.web.review_schemas import (
    DeliveryPublic,
    FlowCreate,
    FlowDescription,
    HumanLoopSummary,
    LoopDescription,
    LoopList,
    LoopStartRequest,
    ModelAttach,
    RenderPublic,
    RenderRequest,
    ReviewEventPage,
    ReviewEventPublic,
    TaskUiCreate,
    TaskUiPublic,
    TaskUiSummary,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)

router = APIRouter(prefix="/api/review", tags=["review"])
log = logging.getLogger(__name__)

PREVIEW_GRANT_URL = "about:blank#preview-of="
"""What `grant_read_access` gives in a preview, before the URI: a link that opens nothing."""

Limit = Annotated[int | None, Query(ge=1, description="At most this many (the service caps it).")]


# Task UIs -----------------------------------------------------------------------------------


@router.post("/task-uis", status_code=201)
def create_task_ui(session: SessionDep, user: RequireManager, body: TaskUiCreate) -> TaskUiPublic:
    """CreateHumanTaskUi. A template Liquid cannot parse is refused (422), naming the line."""
    return TaskUiPublic.of(
        review.create_task_ui(session, body.name, body.template, created_by=user.id)
    )


@router.get("/task-uis")
def list_task_uis(session: SessionDep, _: RequireManager) -> list[TaskUiSummary]:
    """ListHumanTaskUis, newest first."""
    return [TaskUiSummary.model_validate(row) for row in review.list_task_uis(session)]


@router.post("/task-uis/render")
def render_task_ui(project: ProjectDep, _: RequireManager, body: RenderRequest) -> RenderPublic:
    """RenderUiTemplate: the page a reviewer would see for `input`, and what is wrong in it.
    `grant_read_access` links are placeholders (PREVIEW_GRANT_URL + the URI), never signed."""
    if (body.template is None) == (body.task_ui is None):
        raise InputError("give either `template` or `task_ui` (a stored template's name)")
    source = body.template
    if source is None:
        with project.session() as session:
            source = review.get_task_ui(session, str(body.task_ui)).template
    rendered = review.preview(source, body.input, _preview_grant(project))
    return RenderPublic(rendered_content=rendered.rendered_content, errors=rendered.errors)


def _preview_grant(project: Project) -> Callable[[str], str]:
    def grant(uri: str) -> str:
        check_grant_target(project, uri)  # refused as a reviewer's page would refuse it
        return PREVIEW_GRANT_URL + quote(uri, safe="")

    return grant


@router.get("/task-uis/{name}")
def task_ui(session: SessionDep, _: RequireManager, name: str) -> TaskUiPublic:
    """DescribeHumanTaskUi, with the template itself."""
    return TaskUiPublic.of(review.get_task_ui(session, name))


@router.delete("/task-uis/{name}", status_code=204, response_class=Response)
def delete_task_ui(session: SessionDep, _: RequireManager, name: str) -> Response:
    """DeleteHumanTaskUi: refused while a flow uses it."""
    review.delete_task_ui(session, name)
    return Response(status_code=204)


# Flow definitions ---------------------------------------------------------------------------


@router.post("/flows", status_code=201)
def create_flow(project: ProjectDep, user: RequireManager, body: FlowCreate) -> FlowDescription:
    """CreateFlowDefinition: Active once a test write to its output location worked, else
    Failed with the reason (kept, so it can be read and the flow deleted)."""
    flow = review.create_flow(project, body.to_spec(), created_by=user.id)
    return FlowDescription.model_validate(review.describe_flow(flow, body.team, body.task_ui))


@router.get("/flows")
def list_flows(session: SessionDep, _: RequireManager) -> list[FlowDescription]:
    """ListFlowDefinitions, newest first, each as DescribeFlowDefinition tells it."""
    return [
        FlowDescription.model_validate(review.flow_description(session, flow))
        for flow in review.list_flows(session)
    ]


@router.get("/flows/{name}")
def flow(session: SessionDep, _: RequireManager, name: str) -> FlowDescription:
    """DescribeFlowDefinition."""
    return _described_flow(session, review.get_flow(session, name))


@router.delete("/flows/{name}", status_code=204, response_class=Response)
def delete_flow(session: SessionDep, _: RequireManager, name: str) -> Response:
    """DeleteFlowDefinition, with its loops; refused while one is in progress or stopping.
    The output files stay where they were written."""
    review.delete_flow(session, name)
    return Response(status_code=204)


@router.put("/flows/{name}/model")
def attach_model(
    session: SessionDep, _: RequireManager, name: str, body: ModelAttach
) -> FlowDescription:
    """Route a model version's detect calls through the flow (`version` null: detach)."""
    return _described_flow(session, review.attach_model(session, name, body.version))


@router.get(
    "/flows/{name}/manifest",
    response_class=FileResponse,
    responses={200: {"content": {"application/jsonl": {}}}},
)
def manifest(
    project: ProjectDep,
    _: RequireManager,
    name: str,
    attribute: Annotated[str, Query(description="The label attribute.")] = DEFAULT_ATTRIBUTE,
) -> FileResponse:
    """The flow's completed loops as a Ground Truth augmented manifest (JSON Lines), as the
    A2I notebook's convert_a2i_to_augmented_manifest makes one. Headers say how many lines,
    from how many loops, and how many answers were skipped (None of the Above, empty)."""
    folder = Path(tempfile.mkdtemp(prefix="truthloop-review-manifest-"))
    dest = folder / "output.manifest"
    try:
        written = review.export_flow(project, name, dest, attribute=attribute)
        if not dest.exists():
            dest.write_bytes(b"")  # no completed loop: an empty manifest
    except BaseException:
        _remove(folder)
        raise
    return FileResponse(
        dest,
        media_type="application/jsonl",
        filename=f"{name}.manifest",
        headers={
            "X-Truthloop-Manifest-Lines": str(written.lines),
            "X-Truthloop-Loops": str(written.loops),
            "X-Truthloop-Answers-Skipped": str(written.counts.skipped),
        },
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def _described_flow(session: Session, flow: FlowDefinitionRow) -> FlowDescription:
    return FlowDescription.model_validate(review.flow_description(session, flow))


# Human loops --------------------------------------------------------------------------------


@router.post("/loops", status_code=201, response_model_exclude_none=True)
def start_loop(
    project: ProjectDep, user: RequireManager, body: LoopStartRequest, response: Response
) -> LoopDescription:
    """StartHumanLoop: 201 and the new loop; a retry (same name, flow and input) answers 200
    with the loop as it is; the name with another input or flow is a 409."""
    flow_name = body.flow_name()
    start = review.LoopStart(
        name=body.HumanLoopName,
        flow=flow_name,
        input_content=body.HumanLoopInput.InputContent,
        data_attributes=body.data_attributes(),
    )
    loop, new = review.start_loop(project, start, created_by=user.id)
    if not new:
        response.status_code = 200
    return LoopDescription.model_validate(review.describe_loop(loop, flow_name))


@router.get("/loops")
def list_loops(
    session: SessionDep,
    _: RequireManager,
    flow: Annotated[str, Query(description="The flow definition's name.")],
    created_after: Annotated[datetime | None, Query(description="Created at or after.")] = None,
    created_before: Annotated[datetime | None, Query(description="Created before.")] = None,
    status: LoopStatus | None = None,
    sort_order: Literal["Ascending", "Descending"] = "Descending",
    max_results: Annotated[int, Query(ge=1, le=terms.MAX_RESULTS)] = terms.MAX_RESULTS,
    next_token: Annotated[str | None, Query(description="The last page's NextToken.")] = None,
) -> LoopList:
    """ListHumanLoops: a flow's loops by creation time, a page at a time."""
    page = review.list_loops(
        session,
        flow,
        created_after=created_after,
        created_before=created_before,
        status=status.value if status is not None else None,
        ascending=sort_order == "Ascending",
        max_results=max_results,
        next_token=next_token,
    )
    return LoopList(
        HumanLoopSummaries=[
            HumanLoopSummary.of(review.describe_loop(row, flow)) for row in page.loops
        ],
        NextToken=page.next_token,
    )


@router.get("/loops/{name}", response_model_exclude_none=True)
def loop(session: SessionDep, _: RequireManager, name: str) -> LoopDescription:
    """DescribeHumanLoop."""
    row = review.get_loop(session, name)
    return _described_loop(session, row)


@router.post("/loops/{name}/stop", response_model_exclude_none=True)
def stop_loop(project: ProjectDep, _: RequireManager, name: str) -> LoopDescription:
    """StopHumanLoop: Stopped, or Stopping while a reviewer still holds a task (the loop is
    Stopped once that lease ends). A completed or failed loop cannot be stopped (422)."""
    row = review.stop_loop(project, name)
    with project.session() as session:
        return _described_loop(session, row)


@router.delete("/loops/{name}", status_code=204, response_class=Response)
def delete_loop(project: ProjectDep, _: RequireManager, name: str) -> Response:
    """DeleteHumanLoop: only a Completed, Failed or Stopped loop (422 otherwise); its
    output.json stays where it was written."""
    review.delete_loop(project, name)
    return Response(status_code=204)


@router.get(
    "/loops/{name}/output",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def loop_output_document(project: ProjectDep, _: RequireManager, name: str) -> Response:
    """The loop's output.json as it was written to HumanLoopOutput.OutputS3Uri
    (flowDefinitionArn, humanLoopName, inputContent, humanAnswers); should that file be gone,
    the same document made again from the stored answers. 404 until the loop completed."""
    with project.session() as session:
        row = review.get_loop(session, name)
        if row.status != LoopStatus.COMPLETED or not row.output_uri:
            raise NotFound(
                f"human loop {name!r} is {row.status}: its output is written when it completes"
            )
        uri = row.output_uri
    try:
        data = project.read_bytes(uri)
    except OSError as error:
        # The answers are kept in the database: the same document is made from them.
        log.warning("human loop %s: its output.json cannot be read (%s)", name, error)
        with project.session() as session:
            row = review.get_loop(session, name)
            flow = session.get_one(FlowDefinitionRow, row.flow_id)
            return Response(
                orjson.dumps(review.loop_output(session, row, flow)), media_type="application/json"
            )
    return Response(data, media_type="application/json")


def _described_loop(session: Session, row: HumanLoopRow) -> LoopDescription:
    return LoopDescription.model_validate(review.loop_description(session, row))


# Events and webhooks ------------------------------------------------------------------------


@router.get("/events")
def list_events(
    session: SessionDep,
    _: RequireManager,
    flow: Annotated[str | None, Query(description="Only this flow's events.")] = None,
    after: Annotated[int, Query(ge=0, description="Events after this id (the last read).")] = 0,
    limit: Limit = None,
) -> ReviewEventPage:
    """Loops' status changes (Completed, Failed, Stopped) in the order they happened, as A2I
    sends them to EventBridge: a feed to poll, for a receiver without a webhook."""
    flow_id = review.get_flow(session, flow).id if flow is not None else None
    rows = events.list_events(session, flow_id=flow_id, after=after, **_limit(limit))
    return ReviewEventPage(
        events=[
            ReviewEventPublic(
                id=row.id,
                loop=row.loop_name,
                status=row.status,
                created_at=row.created_at,
                event=row.body,
            )
            for row in rows
        ],
        after=rows[-1].id if rows else after,
    )


@router.post("/webhooks", status_code=201)
def add_webhook(session: SessionDep, user: RequireManager, body: WebhookCreate) -> WebhookCreated:
    """A webhook for the events of one flow, or of all: its `secret` signs each request and
    is shown in this answer only."""
    flow_id = review.get_flow(session, body.flow).id if body.flow is not None else None
    hook, secret = webhooks.add_webhook(session, body.url, flow_id=flow_id, created_by=user.id)
    return WebhookCreated(**WebhookPublic.of(hook, body.flow).model_dump(), secret=secret)


@router.get("/webhooks")
def list_webhooks(session: SessionDep, _: RequireManager) -> list[WebhookPublic]:
    """Every webhook, removed ones too (`active` false), oldest first; never their secrets."""
    flows = review.flow_names(session)
    return [
        WebhookPublic.of(hook, flows.get(hook.flow_id) if hook.flow_id is not None else None)
        for hook in webhooks.list_webhooks(session)
    ]


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
def remove_webhook(session: SessionDep, _: RequireManager, webhook_id: int) -> Response:
    """Stop sending to a webhook; its pending deliveries are given up, its log is kept."""
    webhooks.remove_webhook(session, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
def webhook_deliveries(
    session: SessionDep,
    _: RequireManager,
    webhook_id: int,
    pending: bool = False,
    limit: Limit = None,
) -> list[DeliveryPublic]:
    """One webhook's deliveries, newest first (`pending`: those still to be tried)."""
    if session.get(WebhookRow, webhook_id) is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    rows = webhooks.list_deliveries(
        session, webhook_id=webhook_id, pending_only=pending, **_limit(limit)
    )
    return [DeliveryPublic.of(row) for row in rows]


@router.get("/deliveries")
def deliveries(
    session: SessionDep, _: RequireManager, pending: bool = False, limit: Limit = None
) -> list[DeliveryPublic]:
    """Every webhook's deliveries, newest first (`pending`: those still to be tried)."""
    rows = webhooks.list_deliveries(session, pending_only=pending, **_limit(limit))
    return [DeliveryPublic.of(row) for row in rows]


def _limit(limit: int | None) -> dict[str, int]:
    """The service's own default and cap apply when no limit is given."""
    return {} if limit is None else {"limit": limit}
