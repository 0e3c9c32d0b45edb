"""Labeling jobs: what to label, how, by whom and on what terms; creating, finding and stopping
them.

A job covers the items of a dataset (or of a subset: a split, a label, a URI substring) that do
not yet carry its label attribute, as Ground Truth does when a chained job reuses an attribute
name (FORMATS.md §1.3). Each item gets `workers_per_item` task slots, created with the job.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from truthloop.core import job_terms as terms
from truthloop.core.names import name_problem
from truthloop.core.serialize import value_from_json
from truthloop.core.text import label_problem, normal_label
from truthloop.core.types import AnnotationKind, LabelSet, Split, label_names
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound
from truthloop.formats.gt_annotations import check_attribute
from truthloop.people import get_team
from truthloop.storage import datasets as store
from truthloop.storage.tables import (
    AnnotationRow,
    AutoLabelJobRow,
    DatasetRow,
    ItemRow,
    JobItemRow,
    JobRow,
    TaskRow,
    TeamMemberRow,
    UserRow,
    utcnow,
)


class TaskType(StrEnum):
    CLASSIFICATION = "classification"
    MULTILABEL = "multilabel"
    BOUNDING_BOX = "bounding-box"
    VERIFICATION = "label-verification"
    ADJUSTMENT = "box-adjustment"
    # A task page made from a template (A2I's human task UI): the answer is the form's output,
    # kept as given and never consolidated, as A2I keeps every reviewer's answer. Such jobs are
    # made by review flows (truthloop/review), not by `create_job`, and stay open for new items.
    CUSTOM = "custom"

    @property
    def needs_proposals(self) -> bool:
        return self in (TaskType.VERIFICATION, TaskType.ADJUSTMENT)

    @property
    def draws_boxes(self) -> bool:
        return self in (TaskType.BOUNDING_BOX, TaskType.ADJUSTMENT)


class JobStatus(StrEnum):
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    STOPPED = "stopped"


class JobItemStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class TaskStatus(StrEnum):
    WAITING = "waiting"
    LEASED = "leased"
    SUBMITTED = "submitted"


@dataclass(frozen=True, slots=True)
class Subset:
    """Which items of the dataset a job covers; every given filter must hold."""

    split: Split | None = None
    label: str | None = None
    query: str | None = None  # a substring of the item's URI

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class JobSpec:
    name: str
    dataset: str
    task_type: TaskType
    team: str
    labels: tuple[str, ...] | None = None
    instructions: str = ""
    workers_per_item: int = terms.WORKERS_PER_ITEM.default
    task_time_limit_s: int = terms.TASK_TIME_LIMIT_S.default
    task_lifetime_s: int = terms.TASK_LIFETIME_S.default
    max_concurrent_tasks: int = terms.MAX_CONCURRENT_TASKS.default
    price_per_task: float = terms.PRICE_PER_TASK
    proposals: str | None = None
    subset: Subset | None = None
    verification_categories: tuple[str, ...] = terms.VERIFICATION_CATEGORIES
    label_attribute: str | None = None  # default: the job name, as the Ground Truth console does


def create_job(session: Session, spec: JobSpec, *, created_by: int | None = None) -> JobRow:
    """Create the job, its items and their task slots; InputError says what is wrong with
    `spec` (nothing is stored then)."""
    if problem := name_problem("job", spec.name):
        raise InvalidName(problem)
    if session.scalar(select(JobRow.id).where(JobRow.name == spec.name)) is not None:
        raise AlreadyExists(f"a job named {spec.name!r} already exists")
    task_type = TaskType(spec.task_type)
    if task_type is TaskType.CUSTOM:
        raise InputError(
            "custom task pages are worked through human review flows:"
            " create one with `truthloop review flow create`"
        )
    _check_terms(spec, task_type)
    dataset = store.get_dataset(session, spec.dataset)
    team = get_team(session, spec.team)
    attribute = _label_attribute(spec)
    _check_attribute_free(session, dataset, attribute)
    labels = _labels(session, dataset, spec, task_type)
    item_ids = _select_items(session, dataset, spec, task_type, attribute)
    now = utcnow()
    job = JobRow(
        name=spec.name,
        dataset_id=dataset.id,
        team_id=team.id,
        task_type=task_type.value,
        label_attribute=attribute,
        labels=list(labels),
        verification_categories=list(spec.verification_categories),
        instructions=spec.instructions,
        workers_per_item=spec.workers_per_item,
        task_time_limit_s=spec.task_time_limit_s,
        task_lifetime_s=spec.task_lifetime_s,
        max_concurrent_tasks=spec.max_concurrent_tasks,
        price_per_task=spec.price_per_task,
        proposals=spec.proposals,
        subset=spec.subset.to_json() if spec.subset else None,
        status=JobStatus.IN_PROGRESS.value,
        created_by=created_by,
        created_at=now,
    )
    session.add(job)
    session.flush()
    _insert_slots(session, job, item_ids, now)
    return job


def _check_terms(spec: JobSpec, task_type: TaskType) -> None:
    whole_numbers = (
        (terms.WORKERS_PER_ITEM, spec.workers_per_item),
        (terms.TASK_TIME_LIMIT_S, spec.task_time_limit_s),
        (terms.TASK_LIFETIME_S, spec.task_lifetime_s),
        (terms.MAX_CONCURRENT_TASKS, spec.max_concurrent_tasks),
    )
    for term, value in whole_numbers:
        if problem := term.problem(value):
            raise InputError(problem)
    price = spec.price_per_task
    if (
        isinstance(price, bool)
        or not isinstance(price, int | float)
        or not (math.isfinite(price) and price >= 0)
    ):
        raise InputError(f"price per task must be a number >= 0, not {price!r}")
    if task_type.needs_proposals and not spec.proposals:
        raise InputError(
            f"a {task_type} job needs proposals: name the label attribute whose annotations"
            " workers will check (--proposals ATTR)"
        )
    categories = spec.verification_categories
    if task_type is TaskType.VERIFICATION and (
        len(categories) < 2
        or len(set(categories)) != len(categories)
        or not all(isinstance(c, str) and c.strip() for c in categories)
    ):
        raise InputError(
            f"verification categories must be at least two different names, not {categories!r}"
        )


def _label_attribute(spec: JobSpec) -> str:
    attribute = spec.label_attribute or spec.name
    check_attribute(attribute)
    if spec.proposals is not None and attribute == spec.proposals:
        raise InputError(
            f"the job writes its labels under {attribute!r}, which is also where its proposals"
            " come from: give the job (or its --label-attribute) another name"
        )
    return attribute


def _check_attribute_free(session: Session, dataset: DatasetRow, attribute: str) -> None:
    """Two running jobs writing one attribute of one dataset would label an item twice."""
    other = session.scalar(
        select(JobRow.name).where(
            JobRow.dataset_id == dataset.id,
            JobRow.label_attribute == attribute,
            JobRow.status == JobStatus.IN_PROGRESS,
        )
    )
    if other is not None:
        raise InputError(
            f"job {other!r} is still writing labels under {attribute!r} in dataset"
            f" {dataset.name!r}: give this job another --label-attribute, or wait for it"
        )


def _labels(
    session: Session, dataset: DatasetRow, spec: JobSpec, task_type: TaskType
) -> tuple[str, ...]:
    """The job's classes; new ones join the dataset's label set so their ids stay stable."""
    known = store.label_set_of(session, dataset)
    if spec.labels is None:
        labels = known.names
    else:
        bad = [x for x in spec.labels if not isinstance(x, str) or not x.strip() or x != x.strip()]
        if bad:
            raise InputError(f"labels must be non-empty names without outer spaces, not {bad!r}")
        if problem := next(filter(None, map(label_problem, spec.labels)), None):
            raise InputError(problem)
        labels = tuple(map(normal_label, spec.labels))
        if len(set(labels)) != len(labels):
            twice = sorted({x for x in labels if labels.count(x) > 1})
            raise InputError(f"labels are given twice: {twice}")
    if not labels and task_type is not TaskType.VERIFICATION:
        raise InputError(
            f"dataset {dataset.name!r} has no labels yet: give the job its labels (--labels a,b)"
        )
    missing = [x for x in labels if x not in known]
    if missing:
        store.save_label_set(session, dataset, LabelSet.from_names([*known.names, *missing]))
    return labels


def _items_with_attribute(session: Session, dataset_id: int, attribute: str) -> dict[int, str]:
    """item id -> annotation kind, for the items that carry `attribute`."""
    rows = session.execute(
        select(AnnotationRow.item_id, AnnotationRow.kind)
        .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
        .where(ItemRow.dataset_id == dataset_id, AnnotationRow.attribute == attribute)
    )
    return dict(rows.all())


def _items_with_label(session: Session, dataset_id: int, label: str) -> set[int]:
    rows = session.execute(
        select(AnnotationRow.item_id, AnnotationRow.kind, AnnotationRow.value)
        .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
        .where(ItemRow.dataset_id == dataset_id)
    )
    return {i for i, kind, value in rows if label in label_names(value_from_json(kind, value))}


def _select_items(
    session: Session, dataset: DatasetRow, spec: JobSpec, task_type: TaskType, attribute: str
) -> list[int]:
    query = select(ItemRow.id, ItemRow.uri, ItemRow.width, ItemRow.height).where(
        ItemRow.dataset_id == dataset.id
    )
    subset = spec.subset or Subset()
    if subset.split is not None:
        query = query.where(ItemRow.split == Split(subset.split).value)
    if subset.query:
        query = query.where(ItemRow.uri.contains(subset.query, autoescape=True))
    rows = session.execute(query.order_by(ItemRow.id)).all()
    labelled = _items_with_attribute(session, dataset.id, attribute)
    wanted = [r for r in rows if r[0] not in labelled]
    if subset.label is not None:
        having = _items_with_label(session, dataset.id, subset.label)
        wanted = [r for r in wanted if r[0] in having]
    if spec.proposals is not None:
        proposed = _items_with_attribute(session, dataset.id, spec.proposals)
        if task_type.needs_proposals:
            wanted = [r for r in wanted if r[0] in proposed]
        if task_type is TaskType.ADJUSTMENT:
            _check_proposal_kinds(proposed, spec.proposals)
    if not wanted:
        raise InputError(_nothing_to_label(dataset.name, spec, attribute, len(rows)))
    if task_type.draws_boxes:
        unsized = [uri for _, uri, width, height in wanted if width is None or height is None]
        if unsized:
            raise InputError(
                f"{len(unsized)} images of dataset {dataset.name!r} have no known size (first:"
                f" {unsized[0]}), and boxes are checked against it: import them again with"
                " --verify-images"
            )
    return [r[0] for r in wanted]


def _check_proposal_kinds(proposed: dict[int, str], attribute: str) -> None:
    kinds = set(proposed.values())
    if kinds - {AnnotationKind.BOXES.value}:
        raise InputError(
            f"a box-adjustment job needs box proposals, but {attribute!r} holds"
            f" {', '.join(sorted(kinds))} annotations"
        )


def _nothing_to_label(dataset: str, spec: JobSpec, attribute: str, in_subset: int) -> str:
    if in_subset == 0:
        return f"no images of dataset {dataset!r} match the job's subset"
    if spec.proposals is not None and TaskType(spec.task_type).needs_proposals:
        return (
            f"no image of dataset {dataset!r} has proposals under {spec.proposals!r} that are not"
            f" labeled under {attribute!r} yet"
        )
    return f"every matching image of dataset {dataset!r} is already labeled under {attribute!r}"


def create_custom_job(
    session: Session,
    *,
    name: str,
    dataset_id: int,
    team_id: int,
    instructions: str,
    workers_per_item: int,
    task_time_limit_s: int,
    task_lifetime_s: int,
    created_by: int | None = None,
) -> JobRow:
    """An open-ended custom-template job with no items yet: the caller (a review flow) adds
    each of its items with `add_items` as they come. The terms are checked by the caller."""
    job = JobRow(
        name=name,
        dataset_id=dataset_id,
        team_id=team_id,
        task_type=TaskType.CUSTOM.value,
        label_attribute=name,
        labels=[],
        verification_categories=[],
        instructions=instructions,
        workers_per_item=workers_per_item,
        task_time_limit_s=task_time_limit_s,
        task_lifetime_s=task_lifetime_s,
        max_concurrent_tasks=terms.MAX_CONCURRENT_TASKS.default,
        price_per_task=0.0,
        status=JobStatus.IN_PROGRESS.value,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def add_items(session: Session, job: JobRow, item_ids: list[int], now: datetime) -> None:
    """Give items added to a running job their slots, available for the job's task lifetime
    from `now`."""
    _insert_slots(session, job, item_ids, now)


def withdraw_item(session: Session, job_id: int, item_id: int, now: datetime) -> None:
    """Hand out no more slots of the item: the ones nobody took end now; a slot under a lease
    that runs can still be answered, and is not handed out again once the lease runs out."""
    session.execute(
        update(TaskRow)
        .where(
            TaskRow.job_id == job_id,
            TaskRow.item_id == item_id,
            TaskRow.status != TaskStatus.SUBMITTED,
            TaskRow.available_until > now,
        )
        .values(available_until=now)
    )


def _insert_slots(session: Session, job: JobRow, item_ids: list[int], now: datetime) -> None:
    available_until = now + timedelta(seconds=job.task_lifetime_s)
    chunk = 2000
    for start in range(0, len(item_ids), chunk):
        part = item_ids[start : start + chunk]
        session.execute(
            insert(JobItemRow),
            [
                {"job_id": job.id, "item_id": i, "batch": 0, "status": JobItemStatus.OPEN.value}
                for i in part
            ],
        )
        session.execute(
            insert(TaskRow),
            [
                {
                    "job_id": job.id,
                    "item_id": i,
                    "slot": slot,
                    "status": TaskStatus.WAITING.value,
                    "available_until": available_until,
                }
                for i in part
                for slot in range(job.workers_per_item)
            ],
        )
    if session.get_bind().dialect.name == "postgresql":
        # Until autovacuum comes by, a minute or so later, PostgreSQL's statistics know nothing
        # of these slots, and its planner could take a job of a million for one of a few slots
        # and plan a claim as a sort of all of them (issue 18). ANALYZE reads a sample of fixed
        # size, a fraction of a second however large the table, and sees this transaction's rows.
        session.execute(text("ANALYZE tasks"))


def get_job(session: Session, name_or_id: str | int) -> JobRow:
    """A job by name or id; NotFound names the jobs that exist."""
    if isinstance(name_or_id, int):
        job = session.get(JobRow, name_or_id)
    else:
        job = session.scalar(select(JobRow).where(JobRow.name == name_or_id))
    if job is None:
        known = session.scalars(select(JobRow.name).order_by(JobRow.name).limit(20)).all()
        raise NotFound(f"no job {name_or_id!r} (jobs: {', '.join(known) or 'none'})")
    return job


def list_jobs(session: Session) -> list[JobRow]:
    """Every job, newest first."""
    return list(session.scalars(select(JobRow).order_by(JobRow.id.desc())))


def cancel_job(session: Session, job_id: int) -> None:
    """Stop handing out the job's tasks. Leases already given may still be submitted, and the
    items completed so far keep their labels (as a stopped Ground Truth job does)."""
    job = get_job(session, job_id)
    if job.status == JobStatus.COMPLETED:
        raise InputError(f"job {job.name!r} is already completed")
    if job.status == JobStatus.IN_PROGRESS:
        job.status = JobStatus.STOPPED.value
        job.completed_at = utcnow()


def db_time(now: datetime | None) -> datetime:
    """The database keeps naive UTC times."""
    if now is None:
        return utcnow()
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def close_expired_jobs(session: Session, now: datetime | None = None) -> list[str]:
    """Complete the jobs nobody can work on any more: every slot of every open item was left
    untaken past its availability lifetime (and no lease of one still runs). Their open items
    stay unlabeled, as in a Ground Truth job whose tasks expired; the names of the jobs closed.

    Automated-labeling jobs are left to their iterations (their unreleased slots wait on
    purpose), and custom-template jobs to their review flows (new items keep coming). Cheap
    to call often: a job's slots all become available when it is created, so only a job older
    than its task lifetime has its slots looked at."""
    now = db_time(now)
    automated = select(AutoLabelJobRow.job_id).where(AutoLabelJobRow.job_id == JobRow.id).exists()
    running = session.scalars(
        select(JobRow).where(
            JobRow.status == JobStatus.IN_PROGRESS,
            JobRow.task_type != TaskType.CUSTOM,
            ~automated,
        )
    ).all()
    expired = [
        job
        for job in running
        if job.created_at + timedelta(seconds=job.task_lifetime_s) <= now
        and not _workable(session, job.id, now)
    ]
    for job in expired:
        job.status = JobStatus.COMPLETED.value
        job.completed_at = now
    return [job.name for job in expired]


def workable_slot(now: datetime) -> ColumnElement[bool]:
    """A task slot someone can still answer: not answered yet, and still available or under a
    lease that runs."""
    task = TaskRow
    return (task.status != TaskStatus.SUBMITTED) & (
        (task.available_until > now)
        | ((task.status == TaskStatus.LEASED) & (task.lease_expires_at > now))
    )


def _workable(session: Session, job_id: int, now: datetime) -> bool:
    """Whether some slot of an open item of the job is still available, or under a lease."""
    task, job_item = TaskRow, JobItemRow
    return (
        session.scalar(
            select(task.id)
            .join(job_item, (job_item.job_id == task.job_id) & (job_item.item_id == task.item_id))
            .where(task.job_id == job_id, job_item.status == JobItemStatus.OPEN, workable_slot(now))
            .limit(1)
        )
        is not None
    )


def _job_for_worker_query(lock_worker: bool) -> Select[JobRow, str | None]:
    job_id: BindParameter[int] = bindparam("job")
    user_id: BindParameter[int] = bindparam("worker")
    member = (
        select(UserRow.username)
        .join(TeamMemberRow, TeamMemberRow.user_id == UserRow.id)
        .where(
            UserRow.id == user_id, UserRow.active.is_(True), TeamMemberRow.team_id == JobRow.team_id
        )
        .scalar_subquery()
    )
    query = select(JobRow, member).where(JobRow.id == job_id)
    if lock_worker:
        query = query.add_columns(func.pg_advisory_xact_lock(job_id, user_id))
    return query


# Built once: every lease and submit starts here (see slots.py for why that matters).
_JOB_FOR_WORKER = {lock: _job_for_worker_query(lock) for lock in (False, True)}


def job_for_worker(
    session: Session,
    job_id: int,
    user_id: int,
    *,
    lock_worker: bool = False,
    asked: str | None = None,
) -> tuple[JobRow, str]:
    """The job and the worker's name, when they are an active member of its team: one
    statement, since every lease and submit starts here.

    Otherwise NotFound, the same for a job of another team as for no job at all, so that a
    worker learns neither the name nor the existence of other teams' jobs; its message is
    `asked` ("no task 7") when the caller came by way of something else than the job id.
    `lock_worker` takes, on PostgreSQL, the transaction's advisory lock of this (job, worker),
    which serialises one worker's own concurrent requests (SQLite's write lock already does).
    """
    lock = lock_worker and session.get_bind().dialect.name == "postgresql"
    row = session.execute(_JOB_FOR_WORKER[lock], {"job": job_id, "worker": user_id}).first()
    if row is None or row[1] is None:
        raise NotFound(asked or f"no job {job_id}")
    return row[0], row[1]
