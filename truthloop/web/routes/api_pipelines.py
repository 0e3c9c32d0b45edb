"""REST API: continuous-improvement pipelines (workflow 4): create and list them, their
overview, parameters with their history, images given to them, the detection log, runs with
their steps, and who is told of their events.

Any signed-in user reads what a pipeline did (as the model API's reads); only managers and
admins change it: create, set a parameter, upload images (each starts a detection and maybe
a review loop), and (un)subscribe. Subscribers are listed to managers only: their targets are
people's addresses. Errors are the API's own: NotFound 404, InputError 422 (a bad parameter
value names the parameter and its range).

`POST /api/pipelines/{name}/images` is multipart, one or more files in the field `images`,
held to TRUTHLOOP_MAX_REQUEST_BYTES as a whole (as a detect call is) and each image to the
project's image limits; an image that cannot be read is refused on its own, the others go on.
The on-demand run (`POST /api/pipelines/{name}/run`) goes through the task queue and lives
with it, not here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from truthloop.errors import InputError
from truthloop.pipeline import (
    PipelineSpec,
    RunKind,
    RunStatus,
    get_pipeline,
    get_run,
    list_notifications,
    list_pipelines,
    list_runs,
    list_subscribers,
    param_history,
    set_param,
    subscribe,
    unsubscribe,
)
from truthloop.pipeline.intake import Detected, Incoming, submit
from truthloop.pipeline.overview import (
    change_json,
    list_detections,
    params_json,
    pipeline_counters,
    pipeline_json,
    pipeline_overview,
    run_json,
    step_json,
)
from truthloop.pipeline.setup import set_up_pipeline
from truthloop.runtime.queue import request_training
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineRow
from truthloop.web.deps import CurrentUser, ProjectDep, RequireManager, SessionDep
from truthloop.web.pipeline_schemas import (
    PARAMETERS_TABLE,
    ChangePublic,
    Counters,
    DetectedPublic,
    DetectionPublic,
    NotificationPublic,
    ParamChangePublic,
    ParamPublic,
    ParamValue,
    PipelineCreate,
    PipelineOverview,
    PipelinePublic,
    RunDetail,
    RunPublic,
    RunQueued,
    SubscriberCreate,
    SubscriberCreated,
    SubscriberPublic,
)

router = APIRouter(prefix="/api", tags=["pipelines"])

IMAGES_FIELD = "images"
MOST_IMAGES = 100
"""The most images one upload takes: each is detected during the request, so a larger batch
belongs in the watched intake, which the worker drains a scan at a time."""

Limit = Annotated[int | None, Query(ge=1, description="At most this many (the service caps it).")]
Before = Annotated[int | None, Query(description="The next page: those older than this id.")]


def _limit(limit: int | None) -> dict[str, int]:
    """The service's own default and cap apply when no limit is given."""
    return {} if limit is None else {"limit": limit}


# Pipelines ------------------------------------------------------------------------------------


@router.get("/pipelines")
def pipelines(session: SessionDep, _: CurrentUser) -> list[PipelinePublic]:
    """Every pipeline, by name."""
    return [
        PipelinePublic.model_validate(pipeline_json(session, p)) for p in list_pipelines(session)
    ]


@router.post("/pipelines", status_code=201)
def create(project: ProjectDep, user: RequireManager, body: PipelineCreate) -> PipelinePublic:
    """A pipeline with every parameter at its default. With `review_team` (instead of
    `flow`) its own review flow is made for that team first; with `intake` it watches that
    location for new images."""
    spec = PipelineSpec(name=body.name, task=body.task, dataset=body.dataset, flow=body.flow)
    set_up_pipeline(
        project, spec, review_team=body.review_team, intake=body.intake, created_by=user.id
    )
    with project.session() as session:
        return PipelinePublic.model_validate(
            pipeline_json(session, get_pipeline(session, body.name))
        )


@router.get("/pipelines/{name}")
def overview(project: ProjectDep, _: CurrentUser, name: str) -> PipelineOverview:
    """The pipeline's terms, its versions with their F1, intake counts, review backlog, the
    audited accuracy of the deployed version, labeled against trained images, recent runs."""
    return PipelineOverview.model_validate(pipeline_overview(project, name))


@router.get("/pipelines/{name}/counters")
def counters(project: ProjectDep, _: CurrentUser, name: str) -> Counters:
    """The overview's moving numbers alone, cheap to poll: what a pipeline's page refreshes."""
    return Counters.model_validate(pipeline_counters(project, name))


@router.post("/pipelines/{name}/run", status_code=202)
def run_now(session: SessionDep, project: ProjectDep, _: RequireManager, name: str) -> RunQueued:
    """Check now whether a new version trains, and train, gate and deploy it (even with
    automatic training off), as `truthloop pipeline run` does; the background worker runs
    it, and the check shows among the pipeline's runs (kind training-check)."""
    get_pipeline(session, name)
    request_training(project, name)
    return RunQueued(pipeline=name, queued=True)


# Parameters -----------------------------------------------------------------------------------


@router.get(
    "/pipelines/{name}/params", description=f"The parameters in force.\n\n{PARAMETERS_TABLE}"
)
def params(session: SessionDep, _: CurrentUser, name: str) -> list[ParamPublic]:
    pipeline = get_pipeline(session, name)
    return [ParamPublic.model_validate(row) for row in params_json(session, pipeline)]


@router.put(
    "/pipelines/{name}/params/{param}",
    description="Change one parameter; the change is recorded (who, when, old, new) and as a"
    " run. A value the parameter does not allow is a 422 naming it and its range, and nothing"
    f" changes.\n\n{PARAMETERS_TABLE}",
)
def change_param(
    project: ProjectDep, user: RequireManager, name: str, param: str, body: ParamValue
) -> ParamChangePublic:
    # The write lock first (SQLite): two changes at once are taken one after the other.
    with project.db.session(immediate=True) as session:
        pipeline = get_pipeline(session, name)
        change = set_param(session, pipeline, param, body.value, changed_by=user.id)
    return ParamChangePublic(
        parameter=change.name,
        old=change.old,
        new=change.new,
        value=change.value,
        changed=change.changed,
        change_id=change.change_id,
        run_id=change.run_id,
        message=change.message,
    )


@router.get("/pipelines/{name}/params/history")
def params_history(
    session: SessionDep,
    _: CurrentUser,
    name: str,
    parameter: Annotated[str | None, Query(description="Only this parameter's changes.")] = None,
    limit: Limit = None,
) -> list[ChangePublic]:
    """The parameter changes, newest first."""
    pipeline = get_pipeline(session, name)
    changes = param_history(session, pipeline, name=parameter, **_limit(limit))
    return [ChangePublic.model_validate(change_json(c)) for c in changes]


# Images and detections ------------------------------------------------------------------------


@router.post(
    "/pipelines/{name}/images",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [IMAGES_FIELD],
                        "properties": {
                            IMAGES_FIELD: {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                    }
                }
            },
        }
    },
)
async def upload_images(
    request: Request, project: ProjectDep, user: RequireManager, name: str
) -> list[DetectedPublic]:
    """Detect each image with the deployed version (the seed's intake), log it, and send the
    unsure ones to review; one answer per image, in order: its request id, the version, the
    labels, the top confidence, the loop it started, or the error that refused it alone."""
    images = await _uploaded(request)
    # Decoding and inference are CPU work: off the event loop, so other requests go on.
    found = await run_in_threadpool(_submit, project, name, images, user.id)
    return [DetectedPublic.of(f) for f in found]


def _submit(project: Project, name: str, images: list[Incoming], user_id: int) -> list[Detected]:
    return submit(project, name, images, source="upload", created_by=user_id)


async def _uploaded(request: Request) -> list[Incoming]:
    """The files of the multipart field `images`, read; InputError when there are none or
    more than MOST_IMAGES."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InputError(f"send the images as multipart/form-data, in the field {IMAGES_FIELD!r}")
    form = await request.form()
    files = [f for f in form.getlist(IMAGES_FIELD) if isinstance(f, UploadFile)]
    if not files:
        raise InputError(f"send one or more image files in the multipart field {IMAGES_FIELD!r}")
    if len(files) > MOST_IMAGES:
        raise InputError(
            f"{len(files)} images in one upload; send at most {MOST_IMAGES} a request, or drop"
            " them into the pipeline's watched intake"
        )
    return [
        Incoming(f.filename or f"{IMAGES_FIELD}[{i}]", await f.read()) for i, f in enumerate(files)
    ]


@router.get("/pipelines/{name}/detections")
def detections(
    session: SessionDep, _: CurrentUser, name: str, limit: Limit = None, before: Before = None
) -> list[DetectionPublic]:
    """The detection log, newest first, a page at a time."""
    pipeline = get_pipeline(session, name)
    rows = list_detections(session, pipeline, before_id=before, **_limit(limit))
    return [DetectionPublic.of(row) for row in rows]


# Runs -----------------------------------------------------------------------------------------


@router.get("/pipelines/{name}/runs")
def runs(
    session: SessionDep,
    _: CurrentUser,
    name: str,
    kind: RunKind | None = None,
    status: RunStatus | None = None,
    limit: Limit = None,
    before: Before = None,
) -> list[RunPublic]:
    """The pipeline's runs, newest first, of one kind and one status when given."""
    pipeline = get_pipeline(session, name)
    found = list_runs(
        session,
        pipeline,
        kind=kind.value if kind else None,
        status=status.value if status else None,
        before_id=before,
        **_limit(limit),
    )
    return [RunPublic.model_validate(run_json(r)) for r in found]


@router.get("/pipeline-runs/{run_id}")
def run(session: SessionDep, _: CurrentUser, run_id: int) -> RunDetail:
    """A run with its steps, in the order they started."""
    found, steps = get_run(session, run_id)
    pipeline = session.get_one(PipelineRow, found.pipeline_id)
    return RunDetail.model_validate(
        run_json(found) | {"pipeline": pipeline.name, "steps": [step_json(s) for s in steps]}
    )


# Subscribers and notifications ----------------------------------------------------------------


@router.get("/pipelines/{name}/subscribers")
def subscribers(session: SessionDep, _: RequireManager, name: str) -> list[SubscriberPublic]:
    """Who is told of the pipeline's events, unsubscribed ones too (`active` false); never a
    webhook's secret."""
    pipeline = get_pipeline(session, name)
    return [SubscriberPublic.of(row) for row in list_subscribers(session, pipeline)]


@router.post("/pipelines/{name}/subscribers", status_code=201)
def add_subscriber(
    session: SessionDep, user: RequireManager, name: str, body: SubscriberCreate
) -> SubscriberCreated:
    """Tell an e-mail address or a webhook of the pipeline's events (none listed: all). A
    webhook's `secret` signs each request and is shown in this answer only."""
    pipeline = get_pipeline(session, name)
    row = subscribe(
        session,
        pipeline,
        body.kind,
        body.target,
        events=body.events,
        secret=body.secret,
        created_by=user.id,
    )
    return SubscriberCreated(**SubscriberPublic.of(row).model_dump(), secret=row.secret)


@router.delete(
    "/pipelines/{name}/subscribers/{subscriber_id}", status_code=204, response_class=Response
)
def remove_subscriber(
    session: SessionDep, _: RequireManager, name: str, subscriber_id: int
) -> Response:
    """Stop telling a subscriber; its pending deliveries are given up, its log is kept."""
    unsubscribe(session, get_pipeline(session, name), subscriber_id)
    return Response(status_code=204)


@router.get("/pipelines/{name}/notifications")
def notifications(
    session: SessionDep, _: CurrentUser, name: str, limit: Limit = None
) -> list[NotificationPublic]:
    """What the pipeline told its subscribers, newest first: its event log."""
    pipeline = get_pipeline(session, name)
    rows = list_notifications(session, pipeline, **_limit(limit))
    return [NotificationPublic.of(row) for row in rows]
