"""A reviewer's side of human review in the portal: the review page, the task frame rendered
from the flow's template, the images its `grant_read_access` links open, and the answer.

The frame is served to the reviewer holding the task only, under its own CSP (see
web/middleware.py, TASK_FRAME_CSP) and shown in a sandboxed iframe, so a template's scripts
run but cannot reach the reviewer's session, the API or another host. The answer comes back
to the portal page by postMessage (static/crowd/crowd-html-elements.js says the protocol),
which submits it here with the reviewer's session.

Image links carry no session: the sandboxed frame's requests are cross-site and send no
cookie. A link's signed token is what lets it through, for the one image, the one loop and
a quarter of an hour (review/grants.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from truthloop import labeling
from truthloop.core.job_terms import MAX_CLIENT_ID_CHARS
from truthloop.errors import NotFound
from truthloop.labeling.jobs import TaskType, job_for_worker
from truthloop.review.work import granted_target, review_page, review_task, submit_review
from truthloop.web.auth import secret_key
from truthloop.web.deps import CurrentUser, ProjectDep, SessionDep
from truthloop.web.images import image_response
from truthloop.web.job_schemas import SubmitResultPublic
from truthloop.web.templating import render

router = APIRouter()


@router.get("/review/work/{job_id}", include_in_schema=False)
def review_work(request: Request, session: SessionDep, user: CurrentUser, job_id: int) -> Response:
    """The reviewer's page for a flow's tasks: the task frame, and the loop's title."""
    job, _ = job_for_worker(session, job_id, user.id)
    if job.task_type != TaskType.CUSTOM:
        raise NotFound(f"job {job_id} is a labeling job: open it at /work/{job_id}")
    return render(request, "review_work.html", user, job_id=job.id, job_name=job.name)


@router.get("/review/tasks/{task_id}/frame", include_in_schema=False)
def task_frame(
    project: ProjectDep, session: SessionDep, user: CurrentUser, task_id: int
) -> HTMLResponse:
    """The task's page rendered from the flow's template, for the reviewer holding it."""
    view = labeling.get_task(session, task_id, user.id)
    html = review_page(project, view, user.id, secret=secret_key(project))
    return HTMLResponse(html, headers={"cache-control": "no-store"})


@router.get("/review/media/{token}", include_in_schema=False)
def media(project: ProjectDep, token: str) -> Response:
    """The one image a `grant_read_access` link opens, while it is valid."""
    grant = granted_target(project, secret_key(project), token)
    response = image_response(project, grant.target, name=f"the image of human loop {grant.loop}")
    response.headers["cache-control"] = "private, no-store"
    return response


class ReviewSubmit(BaseModel):
    client_id: str = Field(min_length=1, max_length=MAX_CLIENT_ID_CHARS)
    answer: dict[str, Any] = Field(
        description="The task form's output, keyed by element name (A2I's answerContent)."
    )
    seconds: float = Field(ge=0, description="Seconds the reviewer spent on the task.")


class ReviewTaskPublic(BaseModel):
    task_id: int
    loop: str
    flow: str
    title: str
    description: str
    frame_url: str


@router.get("/api/review/tasks/{task_id}", tags=["review"])
def review_task_info(
    project: ProjectDep, session: SessionDep, user: CurrentUser, task_id: int
) -> ReviewTaskPublic:
    """The loop a review task belongs to, and where its page is."""
    view = labeling.get_task(session, task_id, user.id)
    page = review_task(project, view)
    return ReviewTaskPublic(
        task_id=task_id,
        loop=page.loop,
        flow=page.flow,
        title=page.title,
        description=page.description,
        frame_url=f"/review/tasks/{task_id}/frame",
    )


@router.post("/api/review/tasks/{task_id}/submit", tags=["review"])
async def submit(
    project: ProjectDep, user: CurrentUser, task_id: int, body: ReviewSubmit
) -> SubmitResultPublic:
    """A reviewer's answer: stored as given (retries with the same client id are no-ops);
    the loop's output.json is written when it was the last answer the loop waited for."""
    result = await run_in_threadpool(
        submit_review,
        project,
        task_id,
        user.id,
        client_id=body.client_id,
        answer=body.answer,
        seconds=body.seconds,
    )
    return SubmitResultPublic.of(result)
