"""REST API: labeling jobs, their live progress, worker quality and output manifests."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from truthloop import labeling
from truthloop.web.deps import CurrentUser, RequireManager, SessionDep
from truthloop.web.job_schemas import (
    JobCreate,
    JobProgressPublic,
    JobPublic,
    WorkerJobPublic,
    WorkerQualityPublic,
)

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/jobs")
def list_jobs(session: SessionDep, _: RequireManager) -> list[JobPublic]:
    return [JobPublic.of(job) for job in labeling.list_jobs(session)]


@router.get("/my-jobs")
def my_jobs(session: SessionDep, user: CurrentUser) -> list[WorkerJobPublic]:
    """The jobs of the caller's teams, with how many tasks wait."""
    return [WorkerJobPublic.model_validate(j) for j in labeling.jobs_for_worker(session, user.id)]


@router.post("/jobs", status_code=201)
def create_job(session: SessionDep, user: RequireManager, body: JobCreate) -> JobPublic:
    return JobPublic.of(labeling.create_job(session, body.to_spec(), created_by=user.id))


@router.get("/jobs/{job_id}")
def job(session: SessionDep, _: RequireManager, job_id: int) -> JobPublic:
    return JobPublic.of(labeling.get_job(session, job_id))


@router.get("/jobs/{job_id}/progress")
def progress(session: SessionDep, _: RequireManager, job_id: int) -> JobProgressPublic:
    return JobProgressPublic.of(labeling.job_progress(session, job_id))


@router.post("/jobs/{job_id}/cancel")
def cancel(session: SessionDep, _: RequireManager, job_id: int) -> JobPublic:
    labeling.cancel_job(session, job_id)
    return JobPublic.of(labeling.get_job(session, job_id))


@router.get("/jobs/{job_id}/quality")
def job_quality(session: SessionDep, _: RequireManager, job_id: int) -> list[WorkerQualityPublic]:
    labeling.get_job(session, job_id)
    return [WorkerQualityPublic.model_validate(q) for q in labeling.worker_quality(session, job_id)]


@router.get("/quality")
def quality(session: SessionDep, _: RequireManager) -> list[WorkerQualityPublic]:
    """Every worker's running quality over all jobs."""
    return [WorkerQualityPublic.model_validate(q) for q in labeling.worker_quality(session, None)]


@router.get("/jobs/{job_id}/manifest", response_class=FileResponse)
def manifest(session: SessionDep, _: RequireManager, job_id: int) -> FileResponse:
    """The job's Ground Truth output manifest (JSON Lines)."""
    job = labeling.get_job(session, job_id)
    folder = Path(tempfile.mkdtemp(prefix="truthloop-manifest-"))
    dest = folder / "output.manifest"
    labeling.export_manifest(session, job.id, dest)
    return FileResponse(
        dest,
        media_type="application/jsonl",
        filename=f"{job.name}.manifest",
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


