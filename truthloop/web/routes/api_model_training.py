"""REST API: train a model version in the background (`POST /api/models`, managers), follow
the request (`GET /api/model-trainings/{request}`), and a version's progress.

(`POST /api/models/{version}/start` takes the inference units: api_models.py.)

A request is checked before it is queued (a bad name, backbone or epoch count, an unknown
dataset or parent, data without labels: 4xx with the reason); the worker then trains it, and
runtime/model_training.py tells which version it became.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from truthloop.ml import registry, training_runs
from truthloop.runtime import model_training
from truthloop.runtime.queue import request_model_training, work_queue
from truthloop.web.deps import CurrentUser, ProjectDep, RequireManager
from truthloop.web.training_schemas import (
    TrainingState,
    TrainQueued,
    TrainRequest,
    VersionProgress,
)

router = APIRouter(prefix="/api", tags=["models"])


def state_url(request: str) -> str:
    return f"/api/model-trainings/{request}"


@router.post("/models", status_code=202)
async def train(project: ProjectDep, _: RequireManager, body: TrainRequest) -> TrainQueued:
    """Queue a training of the next version of `project`; 202 with the request's id."""
    spec = body.spec()
    # The checks read the dataset: off the event loop.
    request = await run_in_threadpool(request_model_training, project, spec)
    return TrainQueued(request=request, project=spec.project, state_url=state_url(request))


@router.get("/model-trainings/{request}")
def training(project: ProjectDep, _: CurrentUser, request: str) -> TrainingState:
    state = model_training.training_state(project, work_queue(project).huey, request)
    return TrainingState.model_validate(state)


@router.get("/models/{version}/progress")
def progress(project: ProjectDep, _: CurrentUser, version: str) -> VersionProgress:
    found = registry.get_version(project, version)
    state = training_runs.serving_state(project, version)
    return VersionProgress(
        version=found.name,
        status=found.status.value,
        progress=state.progress,
        failure_reason=found.failure_reason,
        inference_units=state.inference_units,
    )
