"""An item labeled twice (a person after the model, or a second person on a disputed validation
item) counts once, by its newest label: the parts "by model" and "by human" add up to the
images labeled, in the dataset's counts (`dataset show`, the demo, the portal's dataset page)
and in the job's own counts alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from tests.labeling.conftest import ITEMS, Lab
from truthloop.cli.dataset import label_tables
from truthloop.core.types import Annotation, Classification, Source
from truthloop.labeling import get_job, job_progress
from truthloop.storage import datasets as store
from truthloop.storage.tables import AnnotationRow, JobItemRow

# Per item of the job, its labels in the order they were made: (label, source, worker).
MODEL, HUMAN = Source.MODEL, Source.HUMAN
LABELS = (
    (("cat", MODEL, None), ("dog", HUMAN, "alice")),  # a person labeled it after the model
    (("cat", HUMAN, "alice"), ("dog", HUMAN, "bob")),  # a second opinion
    (("cat", MODEL, None),),
    (("dog", MODEL, None),),
    (("dog", HUMAN, "alice"),),
    (("cat", HUMAN, "carol"),),
)


def _label(lab: Lab, job_id: int) -> str:
    """Stores LABELS under the job's attribute as the job would; returns that attribute."""
    moment = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rows = []
    with lab.project.session() as session:
        job = get_job(session, job_id)
        item_ids = session.scalars(
            select(JobItemRow.item_id).where(JobItemRow.job_id == job_id)
            .order_by(JobItemRow.item_id)
        ).all()
        assert len(item_ids) == len(LABELS) == ITEMS
        for item_id, labels in zip(item_ids, LABELS, strict=True):
            for label, source, worker in labels:
                moment += timedelta(minutes=1)
                rows.append(store.annotation_row(item_id, Annotation(
                    Classification(label), source, job.label_attribute, job_name=job.name,
                    created_at=moment, worker=worker,
                )))
        session.execute(insert(AnnotationRow), rows)
        return job.label_attribute


def test_an_item_labeled_twice_counts_once_by_its_newest_label(lab: Lab) -> None:
    job = lab.job()
    attribute = _label(lab, job)
    with lab.project.session() as session:
        summary = store.summarize(session, store.get_dataset(session, "pets"))
        progress = job_progress(session, job)
    (counts,) = [c for c in summary.attributes if c.attribute == attribute]
    assert counts.images == ITEMS
    assert counts.sources == {"human": 4, "model": 2}
    assert sum(counts.sources.values()) == counts.images
    # The labels too: each image under the label it ended with.
    assert counts.images_per_label == {"dog": 4, "cat": 2}
    assert sum(counts.images_per_label.values()) == counts.images
    # Where the dataset counts annotations, each still counts: the job's 5 people's and 3
    # model's, and the 5 people's the dataset was seeded with.
    assert summary.sources == {"human": 10, "model": 3}
    (table,) = [t for t in label_tables(summary) if str(t.title).startswith(attribute)]
    assert str(table.title) == f"{attribute}: 6 images labeled (4 by human, 2 by model)"
    assert (progress.human_labels, progress.machine_labels) == (4, 2)
