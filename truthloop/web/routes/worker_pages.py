"""The worker's pages: my jobs, and the annotator for a job or for one task."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from truthloop import labeling, people
from truthloop.labeling.jobs import job_for_worker
from truthloop.web.deps import CurrentUser, SessionDep
from truthloop.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(user: CurrentUser) -> Response:
    return RedirectResponse("/overview" if people.is_manager(user) else "/my-jobs", 303)


@router.get("/my-jobs")
def my_jobs(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    jobs = labeling.jobs_for_worker(session, user.id)
    teams = people.teams_of(session, user.id)
    return render(request, "my_jobs.html", user, jobs=jobs, teams=teams)


@router.get("/work/{job_id}")
def work(request: Request, session: SessionDep, user: CurrentUser, job_id: int) -> Response:
    job, _ = job_for_worker(session, job_id, user.id)
    return render(request, "work.html", user, job_id=job.id, job_name=job.name, task_id=None)


@router.get("/tasks/{task_id}")
def task(request: Request, session: SessionDep, user: CurrentUser, task_id: int) -> Response:
    view = labeling.get_task(session, task_id, user.id)
    job = labeling.get_job(session, view.job_id)
    return render(request, "work.html", user, job_id=job.id, job_name=job.name, task_id=task_id)
