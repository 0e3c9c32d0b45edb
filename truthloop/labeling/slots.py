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
    literal_column,
    or_,
    select,
    update,
)

from truthloop.labeling.jobs import JobItemStatus, JobStatus, TaskStatus, TaskType
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


def _status_is(status: TaskStatus) -> ColumnElement[bool]:
    """The condition on tasks that a slot is in `status`, with the status written into the
    statement rather than bound. The partial indexes on tasks (tables.py) each hold the slots of
    one status, and a planner uses one only for a statement that names the same constant:
    PostgreSQL plans a statement that psycopg has prepared (it prepares one run often) for any
    value of its parameters, and SQLite matches the terms of the statement with the index's."""
    return TASKS.c.status == literal_column(f"'{status.value}'")


def _never_held(job_id: Param, user_id: Param) -> ColumnElement[bool]:
    """The condition on tasks of a slot of an item the worker never held in the job.

    Their lease of the item is looked for by a subquery run for each slot looked at, one probe
    of uq_task_leases_job_item_worker. OFFSET 0 keeps PostgreSQL from making NOT EXISTS an
    anti-join (its planner keeps OFFSET 0 as the fence it is known as): the join's method and
    row count came from estimates, and where those said few of the job's slots were left (no
    statistics yet, or an annotator who had seen many items) the plan joined every waiting slot
    of the job and sorted them, 0.1 to 2 s a claim on a job of 100,000 items (issue 18). The
    planner counts half the slots as passing the subquery, so that walking the job's waiting
    slots in claim order stays its cheapest plan.
    """
    task, lease = TASKS.c, LEASES.c
    leased_before = (
        select(lease.id)
        .where(lease.job_id == job_id, lease.item_id == task.item_id, lease.worker_id == user_id)
        .offset(literal_column("0"))
    )
    return ~exists(leased_before)


def lease_ran_out(now: Param) -> ColumnElement[bool]:
    return and_(_status_is(TaskStatus.LEASED), TASKS.c.lease_expires_at <= now)


def free_slot(job_id: Param, user_id: Param, now: Param) -> ColumnElement[bool]:
    """The condition on tasks of a slot `user_id` may lease now: of an item they never held,
    within its availability lifetime, waiting or under a lease that ran out."""
    return and_(
        TASKS.c.job_id == job_id,
        TASKS.c.available_until > now,
        _never_held(job_id, user_id),
        or_(_status_is(TaskStatus.WAITING), lease_ran_out(now)),
    )


def live_leases(job_id: Param, user_id: Param, now: Param) -> ColumnElement[bool]:
    """The condition on tasks of the slots `user_id` holds under a lease still running."""
    task = TASKS.c
    return and_(
        task.job_id == job_id,
        task.worker_id == user_id,
        _status_is(TaskStatus.LEASED),
        task.lease_expires_at > now,
    )


def _first_free(in_job: ColumnElement[bool], state: ColumnElement[bool]) -> ScalarSelect[int]:
    """The first slot of the job (`in_job`) by id in `state` that the worker may lease, locked,
    unless they already hold `max_held` leases. Their live leases are counted from
    ix_tasks_leased alone."""
    task = TASKS.c
    held = select(func.count()).select_from(TASKS).where(live_leases(JOB, WORKER, NOW))
    return (
        select(task.id)
        .where(
            in_job,
            state,
            task.available_until > NOW,
            _never_held(JOB, WORKER),
            held.scalar_subquery() < bindparam("max_held"),
        )
        # The order of ix_tasks_waiting; by id within the one job.
        .order_by(task.job_id, task.id)
        # A constant, not a bound limit: a plan made for any parameters (a prepared statement's)
        # would cost the walk as if it read a tenth of the job, and pay for JIT compilation.
        .limit(literal_column("1"))
        # PostgreSQL: concurrent claims lock different rows. SQLite has no row locks; a claim
        # runs under the database's write lock instead.
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


# The job of a waiting slot to claim, named by a range of one value rather than by equality.
# PostgreSQL drops a column held equal to a value from the order asked for, and then walking
# the primary key in id order is as good a plan in its eyes as walking ix_tasks_waiting while
# its statistics say the job's slots are all waiting, as they do for a job created since its
# last ANALYZE: that walk read every slot answered since then, on every claim. Only the index
# in (job, id) order gives the order (job, id) when the job is a range.
_IN_JOB_IN_CLAIM_ORDER = TASKS.c.job_id.between(JOB, JOB)

# Whether the task has a lease not ended yet: at a claim, one that ran out (a submit or a
# release ends a lease, and only a release makes a slot wait again). The task is named with its
# table: in a RETURNING clause SQLAlchemy writes SQLite's columns bare, and a bare `id` in this
# subquery is task_leases.id, which made it a scan of every lease, true or false by chance.
_OPEN_LEASE = exists().where(
    LEASES.c.task_id == literal_column(f"{TASKS.name}.id"), LEASES.c.ended_at.is_(None)
)

# Lease a free slot to the worker until `expires`: the first whose lease ran out, else the
# first waiting one. Two subqueries rather than one with OR, so that each reads its own index:
# the slots whose lease ran out are the first entries of their job in ix_tasks_leased (few, and
# sorted by id), and the waiting ones are walked in claim order in ix_tasks_waiting up to the
# first row that can be locked, however large the job (tests/labeling/test_claim_at_scale.py
# holds both plans). COALESCE runs the second only when the first finds nothing. The claim also
# says whether it took the slot back from a lease that ran out, so that only those claims pay
# for END_RAN_OUT_LEASE.
CLAIM = (
    update(TASKS)
    .where(
        TASKS.c.id
        == func.coalesce(
            _first_free(TASKS.c.job_id == JOB, lease_ran_out(NOW)),
            _first_free(_IN_JOB_IN_CLAIM_ORDER, _status_is(TaskStatus.WAITING)),
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
    .values(status=TaskStatus.WAITING.value, worker_id=None, leased_at=None, lease_expires_at=None)
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
        # A custom-template job is a review flow's: it stays open for the loops still to come.
        JOBS.c.task_type != TaskType.CUSTOM.value,
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
