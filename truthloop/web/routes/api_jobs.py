"""REST API: labeling jobs, their live progress, worker quality and output manifests."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from truthloop import labeling
from truthloop.labeling.autolabel import Iteration, iterations
from truthloop.labeling.start import start_job
from truthloop.web.deps import CurrentUser, ProjectDep, RequireManager, SessionDep
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
def create_job(project: ProjectDep, user: RequireManager, body: JobCreate) -> JobPublic:
    """A job whose tasks wait for its team; with `auto_label`, people get a first batch and
    the background worker runs each iteration after it."""
    job_id = start_job(project, body.to_spec(), body.auto_label_spec(), created_by=user.id)
    with project.session() as session:
        return JobPublic.of(labeling.get_job(session, job_id))


@router.get("/jobs/{job_id}/iterations")
def job_iterations(session: SessionDep, _: RequireManager, job_id: int) -> list[Iteration]:
    """The automated-labeling iterations so far (none for a job without it)."""
    labeling.get_job(session, job_id)
    return iterations(session, job_id)


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
    try:
        labeling.export_manifest(session, job.id, dest)
    except BaseException:
        _remove(folder)  # the answer is an error; nothing is left to send later
        raise
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


