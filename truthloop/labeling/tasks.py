"""Handing out tasks under leases, taking answers in, and giving tasks back.

`next_task`, `submit` and `release` run their own short transactions, committed before they
return, so they are safe when many workers call at once:

- PostgreSQL: the free slot is picked with `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent
  requests lock different rows; a per-(job, worker) advisory lock serialises one worker's own
  requests, which keeps their count of open leases and their items-already-seen exact.
- SQLite: the transaction begins with `BEGIN IMMEDIATE`, so it holds the only write lock from
  its first read.

A slot is free when it is waiting, or leased with the lease run out, and its availability
lifetime has not passed. A worker never gets an item of a job twice: every lease is recorded in
`task_leases`, one per (job, item, worker). A submit after the lease ran out is kept when no one
else has answered that slot yet, and refused with LeaseExpired otherwise.

Every worker request runs one of these, so each is a handful of prepared statements (see
slots.py; a test holds them to their count): the job and the worker's membership come in one,
a slot is claimed with one `UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING`, and a submit
reads its task, lease and image size together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from truthloop.core.job_terms import MAX_CLIENT_ID_CHARS
from truthloop.core.serialize import value_from_json, value_to_json
from truthloop.core.types import ImageSize, Value
from truthloop.errors import InputError, LeaseExpired, NotFound, PermissionDenied
from truthloop.labeling import slots
from truthloop.labeling.answers import check_answer, check_form_answer
from truthloop.labeling.instructions import render_instructions
from truthloop.labeling.jobs import JobStatus, TaskStatus, TaskType, db_time, job_for_worker
from truthloop.labeling.results import FORM_KIND, Answer, finish_form_item, finish_item
from truthloop.storage.db import Database
from truthloop.storage.tables import JobRow, TaskRow


@dataclass(frozen=True, slots=True)
class TaskView:
    """What a worker's screen needs for one task."""

    task_id: int
    job_id: int
    item_id: int
    image_uri: str
    width: int | None
    height: int | None
    task_type: TaskType
    labels: tuple[str, ...]
    instructions_html: str
    proposals: Value | None
    lease_expires_at: datetime
    time_limit_s: int
    verification_categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """`accepted`: the answer is stored (now, or by the first try); `duplicate`: this call was
    a retry and stored nothing new; `item_done`: the item's label is consolidated."""

    task_id: int
    job_id: int
    accepted: bool
    duplicate: bool
    item_done: bool


def next_task(
    db: Database, job_id: int, user_id: int, *, now: datetime | None = None
) -> TaskView | None:
    """Lease a free slot to the worker and return it; None when there is nothing for them
    (the job is not running, every item is taken or done by them, or they already hold
    `max_concurrent_tasks` leases). NotFound when they are not in the job's team."""
    moment = db_time(now)
    with db.session(immediate=True) as session:
        job, _ = job_for_worker(session, job_id, user_id, lock_worker=True)
        if job.status != JobStatus.IN_PROGRESS:
            return None
        expires = moment + timedelta(seconds=job.task_time_limit_s)
        params = {
            "job": job_id,
            "worker": user_id,
            "now": moment,
            "expires": expires,
            "max_held": job.max_concurrent_tasks,
        }
        claimed = session.execute(slots.CLAIM, params).first()
        if claimed is None:
            return None
        task_id, item_id, took_back = claimed
        if took_back:
            session.execute(slots.END_RAN_OUT_LEASE, {"task": task_id, "now": moment})
        session.execute(
            slots.RECORD_LEASE,
            {
                "task_id": task_id,
                "job_id": job_id,
                "item_id": item_id,
                "worker_id": user_id,
                "leased_at": moment,
                "expires_at": expires,
            },
        )
        return _view(session, job, task_id, item_id, expires)


def get_task(session: Session, task_id: int, user_id: int) -> TaskView:
    """A task the worker holds or answered; PermissionDenied for another's of their team, and
    NotFound, as for no task at all, for a task of another team's job."""
    task = session.get(TaskRow, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    job, _ = job_for_worker(session, task.job_id, user_id, asked=f"no task {task_id}")
    if task.worker_id != user_id or task.status == TaskStatus.WAITING:
        raise PermissionDenied(f"task {task_id} is not leased to you: ask for the next task")
    expires = task.lease_expires_at or task.submitted_at or task.available_until
    return _view(session, job, task.id, task.item_id, expires)


def submit(
    db: Database,
    task_id: int,
    user_id: int,
    *,
    client_id: str,
    answer: Value | Mapping[str, Any],
    seconds: float,
    now: datetime | None = None,
) -> SubmitResult:
    """Store the worker's answer, committed before this returns (see the module docstring):
    a Value, or for a custom task page the form's output (a JSON object, kept as given).

    A retry with the same `client_id` returns the first result and stores nothing new.
    """
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_CHARS:
        raise InputError(f"a submit needs a client id of 1 to {MAX_CLIENT_ID_CHARS} characters")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not (0 <= seconds < float("inf"))
    ):
        raise InputError(f"seconds spent must be a number >= 0, not {seconds!r}")
    moment = db_time(now)
    # SQLite runs one writer at a time, so a submit sees every item the others closed and can
    # complete the job in its own transaction. On PostgreSQL, submits that close a job's last
    # items at once each see the others' still open until they commit: each asks once committed.
    serial = db.dialect == "sqlite"
    given = (task_id, user_id, client_id, answer, float(seconds), moment)
    try:
        with db.session(immediate=True) as session:
            result = _submit(session, *given, complete_job=serial)
    except IntegrityError:
        # The client id is taken: by a copy of this submit that raced past the check, or by an
        # answer to another task. The full check tells which.
        with db.session(immediate=True) as session:
            result = _submit(session, *given, complete_job=serial, recheck=True)
    if result.item_done and not result.duplicate and not serial:
        with db.read_session() as session:
            session.execute(slots.COMPLETE_JOB, {"job": result.job_id, "now": moment})
    return result


def _submit(
    session: Session,
    task_id: int,
    user_id: int,
    client_id: str,
    answer: object,
    seconds: float,
    now: datetime,
    *,
    complete_job: bool,
    recheck: bool = False,
) -> SubmitResult:
    task = _locked_task(session, task_id, user_id)
    job, worker = job_for_worker(session, task.job_id, user_id, asked=f"no task {task_id}")
    # A copy of this submit that was stored first left the task submitted by this worker; any
    # other use of the client id trips its unique constraint, and comes back with `recheck`.
    if recheck or (task.status == TaskStatus.SUBMITTED and task.worker_id == user_id):
        first = session.scalar(slots.FIRST_COPY, {"worker": user_id, "client_id": client_id})
        if first is not None:
            if first != task_id:
                raise InputError(
                    f"client id {client_id!r} was already used for task {first}:"
                    " make a new one for every answer"
                )
            done = session.scalar(slots.ITEM_DONE, {"job": job.id, "item": task.item_id})
            return SubmitResult(task_id, job.id, True, True, bool(done))
    if task.lease_id is None:
        raise PermissionDenied(f"task {task_id} is not leased to you: ask for the next task")
    if task.status == TaskStatus.SUBMITTED:
        if task.worker_id == user_id:
            raise InputError(f"you have already answered task {task_id}")
        raise LeaseExpired(_lost_slot(task_id, task.expires_at, now))
    kind, stored, value = _checked(session, job, task, task_id, answer)
    on_time = (
        task.status == TaskStatus.LEASED
        and task.worker_id == user_id
        and task.lease_expires_at is not None
        and task.lease_expires_at > now
    )
    session.execute(
        slots.RECORD_SUBMISSION,
        {
            "task_id": task_id,
            "job_id": job.id,
            "item_id": task.item_id,
            "worker_id": user_id,
            "client_id": client_id,
            "kind": kind,
            "answer": stored,
            "seconds": seconds,
            "late": not on_time,
            "leased_at": task.leased_at,
            "submitted_at": now,
        },
    )
    session.execute(slots.MARK_SUBMITTED, {"task": task_id, "worker": user_id, "now": now})
    session.execute(slots.END_LEASE, {"lease": task.lease_id, "now": now, "outcome": "submitted"})
    if value is None:
        done = finish_form_item(session, job, task.item_id, now)
    else:
        done = finish_item(session, job, Answer(task.item_id, user_id, value, seconds), worker, now)
    if done and complete_job:
        session.execute(slots.COMPLETE_JOB, {"job": job.id, "now": now})
    return SubmitResult(task_id, job.id, True, False, done)


def _checked(
    session: Session, job: JobRow, task: Row[*tuple[Any, ...]], task_id: int, answer: object
) -> tuple[str, dict[str, Any], Value | None]:
    """The answer's kind, its stored JSON and, unless the task is a custom page's form, its
    value, checked against the job (labels, categories, the image size, the proposal)."""
    where = f"task {task_id}"
    if job.task_type == TaskType.CUSTOM:
        return FORM_KIND, check_form_answer(answer, where=where), None
    size = None
    if task.width is not None and task.height is not None:
        size = ImageSize(task.width, task.height, task.depth or 3)
    value = check_answer(
        answer,  # type: ignore[arg-type]  # check_answer refuses what is not a Value
        task_type=TaskType(job.task_type),
        labels=tuple(job.labels),
        categories=tuple(job.verification_categories),
        size=size,
        proposal=_proposal(session, job, task.item_id),
        where=where,
    )
    return value.kind.value, value_to_json(value), value


def _locked_task(session: Session, task_id: int, user_id: int) -> Row[*tuple[Any, ...]]:
    """The task, locked, with the worker's lease of it and its image size (slots.LOCKED_TASK)."""
    task = session.execute(slots.LOCKED_TASK, {"task": task_id, "worker": user_id}).first()
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


def _lost_slot(task_id: int, lease_expires_at: datetime, now: datetime) -> str:
    if lease_expires_at <= now:
        return (
            f"task {task_id}: your lease ran out at {lease_expires_at:%Y-%m-%d %H:%M:%S} UTC and"
            " another worker has answered the task since; your answer was not stored."
            " Ask for the next task."
        )
    return (
        f"task {task_id} was answered by another worker whose earlier lease on it had run out;"
        " your answer was not stored. Ask for the next task."
    )


def release(db: Database, task_id: int, user_id: int, *, now: datetime | None = None) -> None:
    """Give a leased task back so another worker can take it (this worker will not get the
    item again). Releasing a task no longer held is a no-op."""
    moment = db_time(now)
    with db.session(immediate=True) as session:
        task = _locked_task(session, task_id, user_id)
        job_for_worker(session, task.job_id, user_id, asked=f"no task {task_id}")
        if task.lease_id is None:
            raise PermissionDenied(f"task {task_id} is not leased to you")
        if task.status != TaskStatus.LEASED or task.worker_id != user_id:
            return
        session.execute(slots.MARK_WAITING, {"task": task_id})
        session.execute(
            slots.END_LEASE, {"lease": task.lease_id, "now": moment, "outcome": "released"}
        )


def end_ran_out_leases(session: Session, now: datetime | None = None) -> int:
    """End every lease that ran out on a slot still leased, at the time it ran out and with
    outcome "expired"; the number ended. A claim ends the lease of the slot it takes back; this
    ends the others (a worker who walked away, a server that was killed), and is cheap to run
    every round of the background worker."""
    result = session.execute(slots.END_RAN_OUT_LEASES, {"now": db_time(now)})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _view(session: Session, job: JobRow, task_id: int, item_id: int, expires: datetime) -> TaskView:
    uri, width, height = session.execute(slots.ITEM_IMAGE, {"item": item_id}).one()
    return TaskView(
        task_id=task_id,
        job_id=job.id,
        item_id=item_id,
        image_uri=uri,
        width=width,
        height=height,
        task_type=TaskType(job.task_type),
        labels=tuple(job.labels),
        instructions_html=render_instructions(job.instructions),
        proposals=_proposal(session, job, item_id),
        lease_expires_at=expires.replace(tzinfo=UTC),
        time_limit_s=job.task_time_limit_s,
        verification_categories=tuple(job.verification_categories),
    )


def _proposal(session: Session, job: JobRow, item_id: int) -> Value | None:
    """The newest annotation of the item under the job's proposals attribute."""
    if job.proposals is None:
        return None
    row = session.execute(slots.PROPOSAL, {"item": item_id, "attribute": job.proposals}).first()
    return None if row is None else value_from_json(row.kind, row.value)
