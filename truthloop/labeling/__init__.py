"""Labeling jobs: task slots handed out under leases, answers consolidated into labels, and the
job's output manifest. The portal and the CLI call these; see docs/briefs/labeling-interface.md.

    create_job(session, JobSpec(...)) -> JobRow         get_job, list_jobs, cancel_job
    close_expired_jobs(session) -> [name]                end jobs whose tasks all expired
    next_task(db, job_id, user_id) -> TaskView | None    lease a slot (own transaction)
    submit(db, task_id, user_id, client_id=..., answer=..., seconds=...) -> SubmitResult
    release(db, task_id, user_id)                        give a task back
    get_task(session, task_id, user_id) -> TaskView      a task the worker holds
    job_progress(session, job_id) -> JobProgress         jobs_for_worker(session, user_id)
    export_manifest(session, job_id, dest) -> int        worker_quality(session, job_id)
"""

from truthloop.labeling.jobs import (
    JobSpec,
    JobStatus,
    Subset,
    TaskType,
    cancel_job,
    close_expired_jobs,
    create_job,
    get_job,
    list_jobs,
)
from truthloop.labeling.manifest import export_manifest
from truthloop.labeling.progress import JobProgress, WorkerJobView, job_progress, jobs_for_worker
from truthloop.labeling.results import WorkerQuality, worker_quality
from truthloop.labeling.tasks import SubmitResult, TaskView, get_task, next_task, release, submit

__all__ = [
    "JobProgress",
    "JobSpec",
    "JobStatus",
    "SubmitResult",
    "Subset",
    "TaskType",
    "TaskView",
    "WorkerJobView",
    "WorkerQuality",
    "cancel_job",
    "close_expired_jobs",
    "create_job",
    "export_manifest",
    "get_job",
    "get_task",
    "job_progress",
    "jobs_for_worker",
    "list_jobs",
    "next_task",
    "release",
    "submit",
    "worker_quality",
]
