"""How far a job has got, for managers, and which jobs wait for a worker, for the worker."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session

from truthloop.core.types import Source
from truthloop.labeling.jobs import JobItemStatus, JobStatus, TaskStatus, TaskType, db_time, get_job
from truthloop.labeling.slots import free_slot, live_leases
from truthloop.storage.tables import (
    AnnotationRow,
    JobItemRow,
    JobRow,
    SubmissionRow,
    TaskRow,
    TeamMemberRow,
    UserRow,
)


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Items: `total_items`, `done`. Slots (item × worker): `leased` under a running lease,
    `waiting` for a worker, `submitted`, and `expired` (nobody took them in the task lifetime).
    Items labeled, each once by where its label (its newest, as the output manifest gives it)
    came from: `human_labels` by people, `machine_labels` by the model; an item a second person
    labeled counts once. `cost` = submitted slots × price."""

    total_items: int
    done: int
    leased: int
    waiting: int
    human_labels: int
    machine_labels: int
    cost: float
    median_seconds: float | None
    status: str
    submitted: int
    expired: int


@dataclass(frozen=True, slots=True)
class WorkerJobView:
    """A job as a worker sees it: how many of its items they could take now (counted up to
    WAITING_COUNTED; `waiting_more` says there are more), and how many tasks they hold."""

    job_id: int
    name: str
    task_type: TaskType
    waiting: int
    mine_in_progress: int
    waiting_more: bool = False


# Counting every item a worker could take walks the whole of a large job on each visit to
# "my jobs"; past this many, the page says "1000+".
WAITING_COUNTED = 1000


def job_progress(session: Session, job_id: int, *, now: datetime | None = None) -> JobProgress:
    job = get_job(session, job_id)
    moment = db_time(now)
    items = dict(
        session.execute(
            select(JobItemRow.status, func.count())
            .where(JobItemRow.job_id == job.id)
            .group_by(JobItemRow.status)
        )
        .all()
    )
    live = and_(TaskRow.status == TaskStatus.LEASED, TaskRow.lease_expires_at > moment)
    open_slot = and_(TaskRow.status != TaskStatus.SUBMITTED, not_(live))
    submitted, leased, waiting, expired = session.execute(
        select(
            func.count().filter(TaskRow.status == TaskStatus.SUBMITTED),
            func.count().filter(live),
            func.count().filter(open_slot, TaskRow.available_until > moment),
            func.count().filter(open_slot, TaskRow.available_until <= moment),
        ).where(TaskRow.job_id == job.id)
    ).one()
    newest = (
        select(func.max(AnnotationRow.id))
        .where(AnnotationRow.job_name == job.name, AnnotationRow.attribute == job.label_attribute)
        .group_by(AnnotationRow.item_id)
    )
    sources = dict(
        session.execute(
            select(AnnotationRow.source, func.count())
            .where(AnnotationRow.id.in_(newest))
            .group_by(AnnotationRow.source)
        )
        .all()
    )
    seconds = session.scalars(
        select(SubmissionRow.seconds).where(SubmissionRow.job_id == job.id)
    ).all()
    return JobProgress(
        total_items=sum(items.values()),
        done=items.get(JobItemStatus.DONE.value, 0),
        leased=leased,
        waiting=waiting,
        human_labels=sources.get(Source.HUMAN.value, 0) + sources.get(Source.CONSOLIDATED.value, 0),
        machine_labels=sources.get(Source.MODEL.value, 0),
        cost=round(submitted * job.price_per_task, 6),
        median_seconds=statistics.median(seconds) if seconds else None,
        status=job.status,
        submitted=submitted,
        expired=expired,
    )


def jobs_for_worker(
    session: Session, user_id: int, *, now: datetime | None = None
) -> list[WorkerJobView]:
    """The running jobs of the worker's teams, oldest first."""
    user = session.get(UserRow, user_id)
    if user is None or not user.active:
        return []
    moment = db_time(now)
    teams = select(TeamMemberRow.team_id).where(TeamMemberRow.user_id == user_id)
    jobs = session.scalars(
        select(JobRow)
        .where(JobRow.team_id.in_(teams), JobRow.status == JobStatus.IN_PROGRESS)
        .order_by(JobRow.id)
    ).all()
    views = []
    for job in jobs:
        free_items = (
            select(TaskRow.item_id)
            .where(free_slot(job.id, user_id, moment))
            .distinct()
            .limit(WAITING_COUNTED + 1)
            .subquery()
        )
        waiting = session.scalar(select(func.count()).select_from(free_items)) or 0
        mine = session.scalar(
            select(func.count()).select_from(TaskRow).where(live_leases(job.id, user_id, moment))
        )
        views.append(
            WorkerJobView(
                job.id, job.name, TaskType(job.task_type), min(waiting, WAITING_COUNTED),
                mine or 0, waiting_more=waiting > WAITING_COUNTED,
            )
        )
    return views
