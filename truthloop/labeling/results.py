"""What happens when every slot of an item is answered: the answers are consolidated and the
label is stored in `annotations`, ready for training and for the job's output manifest. Also how
each worker's answers compare with the consolidated labels.

Dawid–Skene learns how reliable each worker is from the other items they answered, so an item
is consolidated together with the job's most recently finished items (at most `DS_WINDOW`),
which keeps a submit fast however large the job grows. Labels already stored are not revised.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from truthloop.core.consolidation import (
    Vote,
    agreement,
    consolidate_boxes,
    consolidate_classes,
    consolidate_multilabel,
    verification_of,
)
from truthloop.core.serialize import value_from_json
from truthloop.core.types import (
    Annotation,
    Boxes,
    Classification,
    MultiLabel,
    Source,
    Value,
    Verification,
)
from truthloop.labeling import slots
from truthloop.labeling.jobs import JobItemStatus, TaskStatus, TaskType
from truthloop.storage.datasets import annotation_row
from truthloop.storage.tables import (
    AnnotationRow,
    JobItemRow,
    JobRow,
    SubmissionRow,
    TaskRow,
    UserRow,
)

DS_WINDOW = 1000


@dataclass(frozen=True, slots=True)
class Answer:
    item_id: int
    worker_id: int
    value: Value
    seconds: float


@dataclass(frozen=True, slots=True)
class WorkerQuality:
    """A worker's running quality: of the answers to items several workers answered
    (`compared`), the mean agreement with the consolidated label (1.0 = always agreed)."""

    user_id: int
    username: str
    job_id: int | None
    submitted: int
    compared: int
    agreement: float | None
    median_seconds: float | None


def _answers(
    session: Session, job_id: int, item_ids: Iterable[int] | Select[int] | None
) -> list[Answer]:
    query = select(
        SubmissionRow.item_id,
        SubmissionRow.worker_id,
        SubmissionRow.kind,
        SubmissionRow.answer,
        SubmissionRow.seconds,
    ).where(SubmissionRow.job_id == job_id)
    if item_ids is not None:
        query = query.where(SubmissionRow.item_id.in_(item_ids))
    rows = session.execute(query.order_by(SubmissionRow.id))
    return [Answer(i, w, value_from_json(kind, data), s) for i, w, kind, data, s in rows]


def finish_item(session: Session, job: JobRow, latest: Answer, worker: str, now: datetime) -> bool:
    """Consolidate and store the item's label when all its slots are answered (`latest` is
    the answer just stored, by `worker`); whether the item is done. The caller completes the
    job once no item is open (`slots.COMPLETE_JOB`)."""
    item_id = latest.item_id
    if job.workers_per_item == 1:
        # The item's only slot (a job makes `workers_per_item` per item) is the one just
        # answered, unless the item was closed another way (labeled by the machine).
        if not _close(session, job, item_id, now):
            return True
        value = _consolidate(session, job, item_id, [latest])
        _store(session, job, item_id, [latest], value, worker, now)
    else:
        closed, answered = _item_state(session, job, item_id)
        if closed:
            return True
        if not answered:
            return False
        answers = _answers(session, job.id, [item_id])
        value = _consolidate(session, job, item_id, answers)
        _store(session, job, item_id, answers, value, None, now)
        _close(session, job, item_id, now)
    return True


# What a custom task page's answer is stored as (`submissions.kind`): the form's output.
FORM_KIND = "form"


def finish_form_item(session: Session, job: JobRow, item_id: int, now: datetime) -> bool:
    """Close the item of a custom task page once every slot is answered; whether it is done.
    Nothing is consolidated: each reviewer's answer is kept as given, as A2I keeps them."""
    if job.workers_per_item > 1 and not _item_state(session, job, item_id)[1]:
        return False
    _close(session, job, item_id, now)
    return True


def _item_state(session: Session, job: JobRow, item_id: int) -> tuple[bool, bool]:
    """Whether the item is closed already, and whether every slot of it is answered, read
    under the item's row lock: two slots of one item submitted at once must not both see the
    other still open (the second waits, then reads the first's committed answer)."""
    status = session.scalar(
        select(JobItemRow.status)
        .where(JobItemRow.job_id == job.id, JobItemRow.item_id == item_id)
        .with_for_update()
    )
    statuses = session.scalars(
        select(TaskRow.status).where(TaskRow.job_id == job.id, TaskRow.item_id == item_id)
    ).all()
    return status == JobItemStatus.DONE, all(s == TaskStatus.SUBMITTED for s in statuses)


def _close(session: Session, job: JobRow, item_id: int, now: datetime) -> bool:
    """Mark the item done; False when it already was."""
    closed = session.execute(slots.CLOSE_ITEM, {"job": job.id, "item": item_id, "now": now})
    return bool(closed.rowcount)  # type: ignore[attr-defined]


def _class_of(value: Value) -> str:
    match value:
        case Classification(label=label):
            return label
        case Verification(verdict=verdict):
            return verdict
    raise TypeError(f"not a class answer: {value!r}")


def _consolidate(session: Session, job: JobRow, item_id: int, answers: list[Answer]) -> Value:
    values = [a.value for a in answers]
    match TaskType(job.task_type):
        case TaskType.MULTILABEL:
            chosen = [v for v in values if isinstance(v, MultiLabel)]
            return consolidate_multilabel(chosen, job.labels)
        case TaskType.BOUNDING_BOX | TaskType.ADJUSTMENT:
            return consolidate_boxes([v for v in values if isinstance(v, Boxes)])
    votes = [Vote(a.item_id, a.worker_id, _class_of(a.value)) for a in answers]
    if len(answers) > 1:
        recent = (
            select(JobItemRow.item_id)
            .where(JobItemRow.job_id == job.id, JobItemRow.status == JobItemStatus.DONE)
            .order_by(JobItemRow.done_at.desc())
            .limit(DS_WINDOW)
        )
        votes += [
            Vote(a.item_id, a.worker_id, _class_of(a.value))
            for a in _answers(session, job.id, recent)
        ]
    if job.task_type == TaskType.VERIFICATION:
        categories = job.verification_categories
        estimate = consolidate_classes(votes, categories)[item_id]
        verdicts = [v for v in values if isinstance(v, Verification)]
        return verification_of(estimate, categories, verdicts)
    estimate = consolidate_classes(votes, job.labels)[item_id]
    return Classification(estimate.label, estimate.confidence)


def _store(
    session: Session,
    job: JobRow,
    item_id: int,
    answers: Sequence[Answer],
    value: Value,
    worker: str | None,
    now: datetime,
) -> None:
    """The item's label: a person's own answer (`worker`), or several consolidated."""
    annotation = Annotation(
        value,
        source=Source.HUMAN if worker else Source.CONSOLIDATED,
        attribute=job.label_attribute,
        job_name=job.name,
        created_at=now,
        worker=worker,
        seconds=sum(a.seconds for a in answers),
    )
    session.execute(slots.RECORD_ANNOTATION, annotation_row(item_id, annotation))


def worker_quality(session: Session, job_id: int | None = None) -> list[WorkerQuality]:
    """Every worker who answered in the job (or in any job, when `job_id` is None), by name."""
    query = select(JobRow)
    if job_id is not None:
        query = query.where(JobRow.id == job_id)
    jobs = {job.id: job for job in session.scalars(query)}
    consolidated = _consolidated_labels(session, jobs.values())
    answers: dict[int, list[Answer]] = defaultdict(list)
    scores: dict[int, list[float]] = defaultdict(list)
    for jid in jobs:
        for answer in _answers(session, jid, None):
            answers[answer.worker_id].append(answer)
            label = consolidated.get((jid, answer.item_id))
            if label is not None:
                scores[answer.worker_id].append(agreement(answer.value, label))
    names = dict(
        session.execute(select(UserRow.id, UserRow.username).where(UserRow.id.in_(answers))).all()
    )
    return sorted(
        (
            WorkerQuality(
                user_id=worker,
                username=names.get(worker, str(worker)),
                job_id=job_id,
                submitted=len(given),
                compared=len(scores[worker]),
                agreement=statistics.fmean(scores[worker]) if scores[worker] else None,
                median_seconds=statistics.median(a.seconds for a in given),
            )
            for worker, given in answers.items()
        ),
        key=lambda q: q.username,
    )


def _consolidated_labels(session: Session, jobs: Iterable[JobRow]) -> dict[tuple[int, int], Value]:
    """(job id, item id) -> label, for the items several workers answered."""
    by_name = {job.name: job for job in jobs}
    if not by_name:
        return {}
    rows = session.execute(
        select(
            AnnotationRow.item_id,
            AnnotationRow.job_name,
            AnnotationRow.attribute,
            AnnotationRow.kind,
            AnnotationRow.value,
        ).where(AnnotationRow.job_name.in_(by_name), AnnotationRow.source == Source.CONSOLIDATED)
    )
    return {
        (by_name[name].id, item_id): value_from_json(kind, value)
        for item_id, name, attribute, kind, value in rows
        if attribute == by_name[name].label_attribute
    }
