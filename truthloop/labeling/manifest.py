"""The job's output: a Ground Truth output manifest (FORMATS.md §1.2), written from the labels
stored in `annotations`, so the file and the training data always agree.

Every item of the job is a line, as in Ground Truth, where objects not labeled (yet) appear
without the job's attribute. A line carries the item's extra keys, the proposals the workers
saw (under their own attribute, as the input line of a verification or adjustment job would),
and the job's label attribute with its `-metadata`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from truthloop import formats
from truthloop.core.types import Annotation, ImageRecord
from truthloop.labeling.jobs import get_job
from truthloop.storage import datasets as store
from truthloop.storage.tables import AnnotationRow, DatasetRow, ItemRow, JobItemRow, JobRow

BATCH = 2000


def export_manifest(
    session: Session,
    job_id: int,
    dest: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the job's output manifest to `dest` (atomically); the number of lines.
    `progress(lines so far)` is called after every batch of items."""
    job = get_job(session, job_id)
    dataset = session.get(DatasetRow, job.dataset_id)
    assert dataset is not None  # the foreign key guarantees it
    return formats.write(
        "groundtruth",
        _records(session, job, progress),
        Path(dest),
        label_set=store.label_set_of(session, dataset),
        label_attribute=job.label_attribute,
        # Each annotation names its own job: the proposals keep theirs (or none).
        job_name=None,
    )


def _records(
    session: Session, job: JobRow, progress: Callable[[int], None] | None
) -> Iterator[ImageRecord]:
    last, done = 0, 0
    while True:
        items = session.scalars(
            select(ItemRow)
            .join(JobItemRow, JobItemRow.item_id == ItemRow.id)
            .where(JobItemRow.job_id == job.id, ItemRow.id > last)
            .order_by(ItemRow.id)
            .limit(BATCH)
        ).all()
        if not items:
            return
        annotations = _annotations(session, job, [item.id for item in items])
        for item in items:
            yield store.item_record(item, annotations.get(item.id, ()))
        last, done = items[-1].id, done + len(items)
        if progress:
            progress(done)


def _annotations(session: Session, job: JobRow, item_ids: list[int]) -> dict[int, list[Annotation]]:
    """Per item: the newest proposal, then the job's label."""
    wanted: list[ColumnElement[bool]] = [
        (AnnotationRow.attribute == job.label_attribute) & (AnnotationRow.job_name == job.name)
    ]
    if job.proposals is not None:
        wanted.append(AnnotationRow.attribute == job.proposals)
    rows = session.scalars(
        select(AnnotationRow)
        .where(AnnotationRow.item_id.in_(item_ids), or_(*wanted))
        .order_by(AnnotationRow.id)
    )
    proposal: dict[int, Annotation] = {}
    label: dict[int, Annotation] = {}
    for row in rows:
        target = label if row.attribute == job.label_attribute else proposal
        target[row.item_id] = store.annotation_from_row(row)
    found: dict[int, list[Annotation]] = defaultdict(list)
    for source in (proposal, label):
        for item_id, annotation in source.items():
            found[item_id].append(annotation)
    return found
