"""The items of an automated-labeling job as the loop sees them: held back from people until
released in a batch, labeled by people (some held out for validation), or labeled by the
machine.

Every item of the job gets its task slots when the job is created, as any job's do; an item not
yet released has its slots' availability set in the past (`HELD`), so `next_task` never hands
them out. Releasing a batch makes its slots available for the job's task lifetime and records
the round in `job_items.batch`. An item the machine labels has its slots removed (no one ever
leased them) and is done. A validation item can be reopened once for a second person's label
(`ask_second_opinion`): a new slot, which the person who labeled it first is never handed, as
a worker holds an item of a job once at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from truthloop.core.serialize import value_from_json
from truthloop.core.types import Annotation, ImageRecord, ImageSize, Source, Value
from truthloop.labeling import slots
from truthloop.labeling.jobs import JobItemStatus, TaskStatus, workable_slot
from truthloop.storage.datasets import annotation_row
from truthloop.storage.tables import (
    AnnotationRow,
    AutoLabelValidationRow,
    ItemRow,
    JobItemRow,
    JobRow,
    SubmissionRow,
    TaskRow,
)

HELD = datetime(1970, 1, 1)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class LabeledItem:
    """An item people labeled in the job, with the label they gave."""

    item_id: int
    uri: str
    size: ImageSize | None
    value: Value

    def record(self) -> ImageRecord:
        return ImageRecord(self.uri, self.size, (Annotation(self.value),))


def hold_all(session: Session, job: JobRow) -> None:
    session.execute(update(TaskRow).where(TaskRow.job_id == job.id).values(available_until=HELD))


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def release(
    session: Session,
    job: JobRow,
    item_ids: Sequence[int],
    validation: Sequence[int],
    batch: int,
    now: datetime,
) -> None:
    """Hand `item_ids` to people as round `batch`; `validation` (among them) is held out."""
    until = now + timedelta(seconds=job.task_lifetime_s)
    for part in _chunks(list(item_ids)):
        session.execute(
            update(JobItemRow)
            .where(JobItemRow.job_id == job.id, JobItemRow.item_id.in_(part))
            .values(batch=batch)
        )
        session.execute(
            update(TaskRow)
            .where(TaskRow.job_id == job.id, TaskRow.item_id.in_(part))
            .values(available_until=until)
        )
    if validation:
        session.execute(
            insert(AutoLabelValidationRow),
            [{"job_id": job.id, "item_id": i} for i in validation],
        )


def open_released(session: Session, job: JobRow) -> int:
    """Items released to people and not labeled yet."""
    return session.scalar(
        select(func.count()).where(
            JobItemRow.job_id == job.id,
            JobItemRow.status == JobItemStatus.OPEN,
            JobItemRow.batch > 0,
        )
    ) or 0


def return_expired(session: Session, job: JobRow, now: datetime) -> None:
    """Take back the released items nobody can label any more (every slot not yet answered
    has passed its availability lifetime, with no lease running), so that the loop goes on
    without them: an item people had labeled before (asked for a second opinion) is done with
    that label; any other goes back to the pool, out of the validation set and without the
    proposals it was shown (drawn later for validation, it must show none), for the model or a
    later batch."""
    live = select(TaskRow.item_id).where(TaskRow.job_id == job.id, workable_slot(now))
    stale = list(
        session.scalars(
            select(JobItemRow.item_id).where(
                JobItemRow.job_id == job.id,
                JobItemRow.status == JobItemStatus.OPEN,
                JobItemRow.batch > 0,
                JobItemRow.item_id.not_in(live),
            )
        )
    )
    labeled = {x.item_id for x in human_labeled(session, job)}
    _close(session, job, [i for i in stale if i in labeled], now)
    for part in _chunks([i for i in stale if i not in labeled]):
        session.execute(
            update(JobItemRow)
            .where(JobItemRow.job_id == job.id, JobItemRow.item_id.in_(part))
            .values(batch=0)
        )
        session.execute(
            update(TaskRow)
            .where(
                TaskRow.job_id == job.id,
                TaskRow.item_id.in_(part),
                TaskRow.status != TaskStatus.SUBMITTED,
            )
            .values(available_until=HELD)
        )
        session.execute(
            delete(AutoLabelValidationRow).where(
                AutoLabelValidationRow.job_id == job.id,
                AutoLabelValidationRow.item_id.in_(part),
            )
        )
        if shows_own_proposals(job):
            session.execute(
                delete(AnnotationRow).where(
                    AnnotationRow.item_id.in_(part), AnnotationRow.attribute == job.proposals
                )
            )


def unreleased(session: Session, job: JobRow) -> list[tuple[int, str]]:
    """(item id, uri) of the items neither people nor the machine have labeled, by id."""
    rows = session.execute(
        select(ItemRow.id, ItemRow.uri)
        .join(JobItemRow, JobItemRow.item_id == ItemRow.id)
        .where(
            JobItemRow.job_id == job.id,
            JobItemRow.status == JobItemStatus.OPEN,
            JobItemRow.batch == 0,
        )
        .order_by(ItemRow.id)
    )
    return [(i, uri) for i, uri in rows]


def batch_items(session: Session, job: JobRow, batch: int) -> set[int]:
    return set(
        session.scalars(
            select(JobItemRow.item_id).where(
                JobItemRow.job_id == job.id, JobItemRow.batch == batch
            )
        )
    )


def ask_second_opinion(
    session: Session, job: JobRow, item_ids: Sequence[int], now: datetime
) -> None:
    """Reopen `item_ids` (labeled by people already) for one more person's label."""
    until = now + timedelta(seconds=job.task_lifetime_s)
    for part in _chunks(list(item_ids)):
        slots_now = dict(
            session.execute(
                select(TaskRow.item_id, func.max(TaskRow.slot))
                .where(TaskRow.job_id == job.id, TaskRow.item_id.in_(part))
                .group_by(TaskRow.item_id)
            ).all()
        )
        session.execute(
            insert(TaskRow),
            [
                {
                    "job_id": job.id,
                    "item_id": i,
                    "slot": slots_now.get(i, -1) + 1,
                    "status": TaskStatus.WAITING.value,
                    "available_until": until,
                }
                for i in part
            ],
        )
        session.execute(
            update(JobItemRow)
            .where(JobItemRow.job_id == job.id, JobItemRow.item_id.in_(part))
            .values(status=JobItemStatus.OPEN.value, done_at=None)
        )


def validation_ids(session: Session, job: JobRow) -> set[int]:
    return set(
        session.scalars(
            select(AutoLabelValidationRow.item_id).where(AutoLabelValidationRow.job_id == job.id)
        )
    )


def human_labeled(session: Session, job: JobRow) -> list[LabeledItem]:
    """Every item people have labeled in the job, by id."""
    rows = session.execute(
        select(
            ItemRow.id, ItemRow.uri, ItemRow.width, ItemRow.height, AnnotationRow.kind,
            AnnotationRow.value,
        )
        .join(AnnotationRow, AnnotationRow.item_id == ItemRow.id)
        .where(
            AnnotationRow.job_name == job.name,
            AnnotationRow.attribute == job.label_attribute,
            AnnotationRow.source != Source.MODEL,
        )
        .order_by(ItemRow.id)
    )
    return [
        LabeledItem(
            i,
            uri,
            ImageSize(w, h) if w is not None and h is not None else None,
            value_from_json(kind, data),
        )
        for i, uri, w, h, kind, data in rows
    ]


def batch_work(
    session: Session, job: JobRow, batch: int, since: datetime
) -> tuple[int, int, float]:
    """Round `batch`'s items, and the tasks people submitted in the round (released at
    `since`: its batch and any second opinions) with their seconds."""
    items = session.scalar(
        select(func.count()).where(JobItemRow.job_id == job.id, JobItemRow.batch == batch)
    )
    tasks, seconds = session.execute(
        select(func.count(), func.coalesce(func.sum(SubmissionRow.seconds), 0.0)).where(
            SubmissionRow.job_id == job.id, SubmissionRow.submitted_at >= since
        )
    ).one()
    return items or 0, tasks, float(seconds)


def _record_model_labels(
    session: Session,
    labels: Sequence[tuple[int, Value]],
    attribute: str,
    made_by: str,
    now: datetime,
) -> None:
    for item_id, value in labels:
        annotation = Annotation(
            value, source=Source.MODEL, attribute=attribute, job_name=made_by, created_at=now
        )
        session.execute(slots.RECORD_ANNOTATION, annotation_row(item_id, annotation))


def proposals_attribute(job_name: str) -> str:
    """Where a job's model proposals are stored: the job's own attribute, so that no other
    job's proposals, or stale ones, are ever shown in its tasks."""
    return f"{job_name}-proposals"


def shows_own_proposals(job: JobRow) -> bool:
    """Whether the job shows its model's proposals (rather than none, or a user's)."""
    return job.proposals == proposals_attribute(job.name)


def propose(
    session: Session,
    job: JobRow,
    proposals: Sequence[tuple[int, Value]],
    version: str,
    now: datetime,
) -> None:
    """Store a model version's labels under the job's proposals attribute, where the items'
    tasks show them to people as a start."""
    _record_model_labels(session, proposals, proposals_attribute(job.name), version, now)


def proposed(session: Session, job: JobRow) -> bool:
    """Whether any item of the job's dataset has annotations under its proposals attribute."""
    return (
        session.scalar(
            select(AnnotationRow.id)
            .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
            .where(ItemRow.dataset_id == job.dataset_id, AnnotationRow.attribute == job.proposals)
            .limit(1)
        )
        is not None
    )


def machine_label(
    session: Session, job: JobRow, labels: Sequence[tuple[int, Value]], now: datetime
) -> None:
    """Store the machine's labels (source MODEL, with their confidences) and close the items."""
    _record_model_labels(session, labels, job.label_attribute, job.name, now)
    ids = [item_id for item_id, _ in labels]
    for part in _chunks(ids):
        session.execute(
            delete(TaskRow).where(
                TaskRow.job_id == job.id,
                TaskRow.item_id.in_(part),
                TaskRow.status == TaskStatus.WAITING,
            )
        )
    _close(session, job, ids, now)


def _close(session: Session, job: JobRow, item_ids: Sequence[int], now: datetime) -> None:
    for part in _chunks(item_ids):
        session.execute(
            update(JobItemRow)
            .where(JobItemRow.job_id == job.id, JobItemRow.item_id.in_(part))
            .values(status=JobItemStatus.DONE.value, done_at=now)
        )
