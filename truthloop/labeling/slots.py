"""Which task slots a worker may take, and the statements that lease, answer and give them back.

Every worker request runs a few of these. Building a statement of this size takes more CPU than
the database takes to run it (and SQLAlchemy derives its cache key from it again each time), so
the statements of the request path are built once, here, with bound parameters that each call
fills in: `job`, `worker`, `now` and the ones named beside each statement. They are Core
statements over the tables, which SQLAlchemy runs without the ORM's per-statement bookkeeping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ScalarSelect,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from truthloop.labeling.jobs import JobItemStatus, JobStatus, TaskStatus
from truthloop.storage.tables import (
    AnnotationRow,
    ItemRow,
    JobItemRow,
    JobRow,
    SubmissionRow,
    TaskLeaseRow,
    TaskRow,
)

TASKS: Table = TaskRow.__table__  # type: ignore[assignment]
LEASES: Table = TaskLeaseRow.__table__  # type: ignore[assignment]
ITEMS: Table = ItemRow.__table__  # type: ignore[assignment]
JOB_ITEMS: Table = JobItemRow.__table__  # type: ignore[assignment]
JOBS: Table = JobRow.__table__  # type: ignore[assignment]
SUBMISSIONS: Table = SubmissionRow.__table__  # type: ignore[assignment]
ANNOTATIONS: Table = AnnotationRow.__table__  # type: ignore[assignment]

# A job id, user id or time, or the bound parameter that stands for one in a prepared statement.
Param = Any

JOB: BindParameter[int] = bindparam("job")
WORKER: BindParameter[int] = bindparam("worker")
NOW: BindParameter[datetime] = bindparam("now")


def unseen_and_available(job_id: Param, user_id: Param, now: Param) -> ColumnElement[bool]:
    """The condition on tasks of a slot of an item the worker never held, still within its
    availability lifetime."""
    task, lease = TASKS.c, LEASES.c
    seen = exists().where(
        lease.job_id == job_id, lease.item_id == task.item_id, lease.worker_id == user_id
    )
    return and_(task.job_id == job_id, task.available_until > now, ~seen)


def lease_ran_out(now: Param) -> ColumnElement[bool]:
    return and_(TASKS.c.status == TaskStatus.LEASED, TASKS.c.lease_expires_at <= now)


def free_slot(job_id: Param, user_id: Param, now: Param) -> ColumnElement[bool]:
    """The condition on tasks of a slot `user_id` may lease now."""
    return and_(
        unseen_and_available(job_id, user_id, now),
        or_(TASKS.c.status == TaskStatus.WAITING, lease_ran_out(now)),
    )


def live_leases(job_id: Param, user_id: Param, now: Param) -> ColumnElement[bool]:
    """The condition on tasks of the slots `user_id` holds under a lease still running."""
    task = TASKS.c
    return and_(
        task.job_id == job_id,
        task.worker_id == user_id,
        task.status == TaskStatus.LEASED,
        task.lease_expires_at > now,
    )


def _first_free(state: ColumnElement[bool]) -> ScalarSelect[int]:
    """The first slot by id in `state` that the worker may lease, locked, unless they already
    hold `max_held` leases."""
    task = TASKS.c
    held = select(func.count()).select_from(TASKS).where(live_leases(JOB, WORKER, NOW))
    return (
        select(task.id)
        .where(
            unseen_and_available(JOB, WORKER, NOW),
            state,
            held.scalar_subquery() < bindparam("max_held"),
        )
        .order_by(task.id)
        .limit(1)
        # PostgreSQL: concurrent claims lock different rows. SQLite has no row locks; a claim
        # runs under the database's write lock instead.
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


# Whether the task has a lease not ended yet: at a claim, one that ran out (a submit or a
# release ends a lease, and only a release makes a slot wait again).
_OPEN_LEASE = exists().where(LEASES.c.task_id == TASKS.c.id, LEASES.c.ended_at.is_(None))

# Lease a free slot to the worker until `expires`: the first whose lease ran out, else the
# first waiting one. Two subqueries rather than one with OR, so that each walks an index in id
# order and stops at the first row it can lock; COALESCE runs the second only when the first
# finds nothing. It also says whether it took the slot back from a lease that ran out, so that
# only those claims pay for END_RAN_OUT_LEASE.
CLAIM = (
    update(TASKS)
    .where(
        TASKS.c.id
        == func.coalesce(
            _first_free(lease_ran_out(NOW)), _first_free(TASKS.c.status == TaskStatus.WAITING)
        )
    )
    .values(
        status=TaskStatus.LEASED.value,
        worker_id=WORKER,
        leased_at=NOW,
        lease_expires_at=bindparam("expires"),
    )
    .returning(TASKS.c.id, TASKS.c.item_id, _OPEN_LEASE.label("took_back"))
)

RECORD_LEASE = insert(LEASES)

# The leases of `task` that ran out end when they ran out, with outcome "expired". A late
# submit may still be kept (see tasks.py), and then ends its lease again as "submitted".
END_RAN_OUT_LEASE = (
    update(LEASES)
    .where(
        LEASES.c.task_id == bindparam("task"),
        LEASES.c.ended_at.is_(None),
        LEASES.c.expires_at <= NOW,
    )
    .values(ended_at=LEASES.c.expires_at, outcome="expired")
)

# The same for every slot still leased under a lease that ran out, whoever may take it back
# later: the background worker's sweep, which also ends the leases of a server that was killed.
# It walks the tasks (the slots leased now), not the ever-growing lease history.
END_RAN_OUT_LEASES = (
    update(LEASES)
    .where(
        LEASES.c.ended_at.is_(None),
        LEASES.c.expires_at <= NOW,
        LEASES.c.task_id.in_(select(TASKS.c.id).where(lease_ran_out(NOW))),
    )
    .values(ended_at=LEASES.c.expires_at, outcome="expired")
)

# What the worker's screen shows of `item`.
ITEM_IMAGE = select(ITEMS.c.uri, ITEMS.c.width, ITEMS.c.height).where(
    ITEMS.c.id == bindparam("item")
)

# `task`, locked for the transaction, with the worker's lease of it (lease_id is None when they
# never held it) and the size of its image.
LOCKED_TASK = (
    select(
        TASKS.c.job_id,
        TASKS.c.item_id,
        TASKS.c.status,
        TASKS.c.worker_id,
        TASKS.c.lease_expires_at,
        LEASES.c.id.label("lease_id"),
        LEASES.c.leased_at,
        LEASES.c.expires_at,
        ITEMS.c.width,
        ITEMS.c.height,
        ITEMS.c.depth,
    )
    .join(ITEMS, ITEMS.c.id == TASKS.c.item_id)
    .outerjoin(LEASES, and_(LEASES.c.task_id == TASKS.c.id, LEASES.c.worker_id == WORKER))
    .where(TASKS.c.id == bindparam("task"))
    .with_for_update(of=TASKS)
)

# The task of the worker's submission that carries `client_id`, if there is one.
FIRST_COPY = select(SUBMISSIONS.c.task_id).where(
    SUBMISSIONS.c.worker_id == WORKER, SUBMISSIONS.c.client_id == bindparam("client_id")
)

RECORD_SUBMISSION = insert(SUBMISSIONS)

MARK_SUBMITTED = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("task"))
    .values(status=TaskStatus.SUBMITTED.value, worker_id=WORKER, submitted_at=NOW)
)

MARK_WAITING = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("task"))
    .values(
        status=TaskStatus.WAITING.value, worker_id=None, leased_at=None, lease_expires_at=None
    )
)

# `lease` ends now, with `outcome` "submitted" or "released".
END_LEASE = (
    update(LEASES)
    .where(LEASES.c.id == bindparam("lease"))
    .values(ended_at=NOW, outcome=bindparam("outcome"))
)

# Whether the job's `item` is done.
ITEM_DONE = select(JOB_ITEMS.c.status == JobItemStatus.DONE).where(
    JOB_ITEMS.c.job_id == JOB, JOB_ITEMS.c.item_id == bindparam("item")
)

# The job's open `item` is done now (no row when it was done already).
CLOSE_ITEM = (
    update(JOB_ITEMS)
    .where(
        JOB_ITEMS.c.job_id == JOB,
        JOB_ITEMS.c.item_id == bindparam("item"),
        JOB_ITEMS.c.status == JobItemStatus.OPEN,
    )
    .values(status=JobItemStatus.DONE.value, done_at=NOW)
)

# The job's first open item, if any is left. Ordered by item so that PostgreSQL reads the first
# entry of ix_job_items_job_status_item instead of scanning past the items already done.
# The job is complete once no item is open: one statement, so that its check and its change
# see the same data.
COMPLETE_JOB = (
    update(JOBS)
    .where(
        JOBS.c.id == JOB,
        JOBS.c.status == JobStatus.IN_PROGRESS,
        ~exists().where(JOB_ITEMS.c.job_id == JOB, JOB_ITEMS.c.status == JobItemStatus.OPEN),
    )
    .values(status=JobStatus.COMPLETED.value, completed_at=NOW)
)

RECORD_ANNOTATION = insert(ANNOTATIONS)

# The newest annotation of `item` under `attribute`: the proposal a worker checks or adjusts.
PROPOSAL = (
    select(ANNOTATIONS.c.kind, ANNOTATIONS.c.value)
    .where(
        ANNOTATIONS.c.item_id == bindparam("item"),
        ANNOTATIONS.c.attribute == bindparam("attribute"),
    )
    .order_by(ANNOTATIONS.c.id.desc())
    .limit(1)
)
