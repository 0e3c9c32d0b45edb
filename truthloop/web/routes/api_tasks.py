"""REST API for workers: lease the next task, open it, see its image, submit, give it back.

Leasing, submitting and giving back run in their own short transactions in the labeling
service (safe under many concurrent workers), so these routes take the database, not a session.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from truthloop import labeling
from truthloop.web.deps import CurrentUser, DbDep, ProjectDep, SessionDep
from truthloop.web.images import image_response
from truthloop.web.job_schemas import SubmitRequest, SubmitResultPublic, TaskPublic

router = APIRouter(prefix="/api", tags=["tasks"])


@router.post(
    "/jobs/{job_id}/next",
    responses={200: {"model": TaskPublic}, 204: {"description": "No task waits for you."}},
    response_model=None,
)
def next_task(db: DbDep, user: CurrentUser, job_id: int) -> TaskPublic | Response:
    task = labeling.next_task(db, job_id, user.id)
    return TaskPublic.of(task) if task is not None else Response(status_code=204)


@router.get("/tasks/{task_id}")
def task(session: SessionDep, user: CurrentUser, task_id: int) -> TaskPublic:
    return TaskPublic.of(labeling.get_task(session, task_id, user.id))


@router.get("/tasks/{task_id}/image", response_class=Response)
def task_image(
    project: ProjectDep, session: SessionDep, user: CurrentUser, task_id: int
) -> Response:
    """The task's image, for the worker who holds the task and nobody else."""
    uri = labeling.get_task(session, task_id, user.id).image_uri
    return image_response(project, uri, name=f"task {task_id}")


@router.post("/tasks/{task_id}/submit")
def submit(db: DbDep, user: CurrentUser, task_id: int, body: SubmitRequest) -> SubmitResultPublic:
    result = labeling.submit(
        db, task_id, user.id, client_id=body.client_id, answer=body.answer.value(),
        seconds=body.seconds,
    )
    return SubmitResultPublic.of(result)


@router.post("/tasks/{task_id}/release", status_code=204, response_class=Response)
def release(db: DbDep, user: CurrentUser, task_id: int) -> Response:
    labeling.release(db, task_id, user.id)
    return Response(status_code=204)
