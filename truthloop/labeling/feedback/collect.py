"""Collecting a feedback run: the verified labels become a Ground Truth manifest and a dataset
ready for training, and the run records how much the model's proposals helped.

An approved proposal is kept as a person's label; a rejected one is dropped with its image
(nobody drew what it should have been, and an image without its objects would teach the next
model to miss them); in adjust mode the person's boxes replace the proposal. Nothing is
written until every task is answered, unless `partial=True`, which writes the answered images
only and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from truthloop import formats
from truthloop.core.types import Annotation, Boxes, ImageRecord, Source, Verification
from truthloop.datasets.importing import check_dataset_name, import_dataset
from truthloop.errors import AlreadyExists, InputError, JobsNotDone
from truthloop.formats.paths import is_remote
from truthloop.labeling.feedback.counts import (
    FeedbackCounts,
    adjustment_counts,
    total,
    verdict_counts,
    without_confidence,
)
from truthloop.labeling.feedback.runs import (
    FeedbackMode,
    RunStatus,
    batch_rows,
    run_row,
)
from truthloop.labeling.jobs import get_job
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    AnnotationRow,
    DatasetRow,
    FeedbackBatchRow,
    ItemRow,
    JobItemRow,
    SubmissionRow,
    utcnow,
)

# How many missing tasks an error lists by name; the count is always complete.
LISTED_MISSING = 10


@dataclass(frozen=True, slots=True)
class CollectResult:
    """What a collect wrote: `images` lines in `manifest`, imported as `dataset`."""

    run: str
    dataset: str
    manifest: Path
    images: int
    counts: FeedbackCounts
    human_seconds: float
    partial: bool
    missing: int  # tasks not answered yet (only a partial collect leaves any)

    @property
    def train_command(self) -> str:
        return f"truthloop feedback report {self.run} --test-dataset TEST"

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "dataset": self.dataset,
            "manifest": str(self.manifest),
            "images": self.images,
            "counts": self.counts.to_json(),
            "human_seconds": self.human_seconds,
            "partial": self.partial,
            "missing": self.missing,
        }


@dataclass(frozen=True, slots=True)
class _Verified:
    records: list[ImageRecord]
    counts: FeedbackCounts
    missing: list[str]  # "job: image" of each unanswered task


def collect_feedback(
    project: Project, run: str, *, partial: bool = False, dataset: str | None = None
) -> CollectResult:
    """Write the verified labels of `run` as a Ground Truth manifest and import it as the
    dataset `dataset` (default `<run>-verified`, or `<run>-partial` for a partial collect).

    JobsNotDone (listing the missing tasks) when a task is unanswered and `partial` is False;
    nothing is written then."""
    with project.session() as session:
        row = run_row(session, run)
        target = check_dataset_name(dataset or f"{run}-{'partial' if partial else 'verified'}")
        if store.find_dataset(session, target) is not None:
            raise AlreadyExists(
                f"dataset {target!r} already exists: collect into another one (--dataset NAME)"
            )
        mode = FeedbackMode(row.mode)
        source = session.get(DatasetRow, row.dataset_id)
        assert source is not None  # the foreign key guarantees it
        label_set = store.label_set_of(session, source)
        verified = _verified(session, batch_rows(session, row), mode, run)
        seconds = _human_seconds(session, row.id)
    if verified.missing and not partial:
        listed = "; ".join(verified.missing[:LISTED_MISSING])
        more = len(verified.missing) - LISTED_MISSING
        raise JobsNotDone(
            f"feedback run {run!r} has {len(verified.missing)} tasks not answered yet"
            f" ({listed}{f'; and {more} more' if more > 0 else ''}): nothing was written."
            f" Wait for the team, or collect what is done with --partial",
            missing=verified.missing,
        )
    if not verified.records:
        raise InputError(
            f"feedback run {run!r} has no verified image to write: every answered proposal was"
            " rejected (a run in --mode adjust keeps people's corrections)"
            if not verified.missing
            else f"feedback run {run!r} has no answered task yet: nothing to collect"
        )
    manifest = project.home / "feedback" / run / f"{target}.manifest"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    formats.write(
        "groundtruth", verified.records, manifest, label_set=label_set, label_attribute=run
    )
    import_dataset(
        project,
        target,
        manifest,
        fmt="groundtruth",
        label_attribute=run,
        labels=label_set.names,
        allowed_roots=_image_folders(verified.records),
    )
    with project.session() as session:
        row = run_row(session, run)
        row.status = (RunStatus.PARTIAL if partial else RunStatus.COLLECTED).value
        row.verified_dataset = target
        row.counts = verified.counts.to_json()
        row.human_seconds = seconds
        row.collected_at = utcnow()
    return CollectResult(
        run, target, manifest, len(verified.records), verified.counts, seconds, partial,
        len(verified.missing),
    )


def answered_counts(project: Project, run: str) -> tuple[FeedbackCounts, int]:
    """The counts over the tasks answered so far, and how many are not; writes nothing."""
    with project.session() as session:
        row = run_row(session, run)
        verified = _verified(session, batch_rows(session, row), FeedbackMode(row.mode), run)
    return verified.counts, len(verified.missing)


def _verified(
    session: Session, batches: list[FeedbackBatchRow], mode: FeedbackMode, run: str
) -> _Verified:
    records: list[ImageRecord] = []
    counts: list[FeedbackCounts] = []
    missing: list[str] = []
    for batch in batches:
        job = get_job(session, batch.job_id)
        items = session.scalars(
            select(ItemRow)
            .join(JobItemRow, JobItemRow.item_id == ItemRow.id)
            .where(JobItemRow.job_id == job.id)
            .order_by(ItemRow.id)
        ).all()
        proposals = _latest(session, [i.id for i in items], batch.proposals, None)
        labels = _latest(session, [i.id for i in items], job.label_attribute, job.name)
        for item in items:
            label = labels.get(item.id)
            if label is None:
                missing.append(f"{job.name}: {item.uri}")
                continue
            proposal = proposals[item.id].value
            if mode is FeedbackMode.VERIFY:
                assert isinstance(label.value, Verification)  # what a verification job stores
                approved = label.value.verdict == job.verification_categories[0]
                counts.append(verdict_counts(proposal, approved))
                final = without_confidence(proposal) if approved else None
            else:
                assert isinstance(label.value, Boxes) and isinstance(proposal, Boxes)
                counts.append(adjustment_counts(proposal, label.value))
                final = label.value
            if final is not None:
                annotation = Annotation(
                    final, Source.HUMAN, run, job_name=job.name, created_at=label.created_at,
                    worker=label.worker, seconds=label.seconds,
                )
                records.append(store.item_record(item, (annotation,)))
    return _Verified(records, total(counts), missing)


def _latest(
    session: Session, item_ids: list[int], attribute: str, job_name: str | None
) -> dict[int, Annotation]:
    """Per item, its newest annotation under `attribute` (made in `job_name`, when given)."""
    query = select(AnnotationRow).where(
        AnnotationRow.item_id.in_(item_ids), AnnotationRow.attribute == attribute
    )
    if job_name is not None:
        query = query.where(AnnotationRow.job_name == job_name)
    return {
        row.item_id: store.annotation_from_row(row)
        for row in session.scalars(query.order_by(AnnotationRow.id))
    }


def _human_seconds(session: Session, run_id: int) -> float:
    """Every second people spent on the run's tasks, answers later outvoted included."""
    spent = session.scalar(
        select(func.sum(SubmissionRow.seconds))
        .join(FeedbackBatchRow, FeedbackBatchRow.job_id == SubmissionRow.job_id)
        .where(FeedbackBatchRow.run_id == run_id)
    )
    return float(spent or 0.0)


def _image_folders(records: list[ImageRecord]) -> list[Path]:
    """The folders of the images: they are in the project already, so the manifest that
    names them again may reach them (the import refuses paths outside its allowed roots)."""
    return sorted({Path(r.uri).parent for r in records if not is_remote(r.uri)})

