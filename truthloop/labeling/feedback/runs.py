"""Starting a feedback run: the model's proposals for every image of a dataset, stored per batch,
and a labeling job per batch for the team (the package's docstring tells the whole workflow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from truthloop.core import job_terms as terms
from truthloop.core.names import name_problem
from truthloop.core.types import Annotation, Source, Value
from truthloop.errors import AlreadyExists, InputError, InvalidName, ModelNotRunning, NotFound
from truthloop.labeling.feedback.counts import FeedbackCounts, above
from truthloop.labeling.jobs import JobSpec, TaskType, create_job, get_job
from truthloop.labeling.progress import job_progress
from truthloop.ml.backend import Task
from truthloop.ml.registry import get_version, predict_dataset
from truthloop.ml.versions import ModelVersion, VersionStatus
from truthloop.people import get_team
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    AnnotationRow,
    DatasetRow,
    FeedbackBatchRow,
    FeedbackRunRow,
    ItemRow,
    TeamRow,
    utcnow,
)

INSTRUCTIONS = {
    "verify": (
        "The boxes or labels shown were proposed by a model. Choose **correct** only if every"
        " proposal is right and nothing is missing; otherwise choose **incorrect** and say why."
    ),
    "adjust": (
        "The boxes shown were proposed by a model. Keep the right ones, move or resize the ones"
        " that are off, delete the wrong ones and draw any that are missing."
    ),
}


class FeedbackMode(StrEnum):
    VERIFY = "verify"  # label verification jobs: approve or reject each image's proposal
    ADJUST = "adjust"  # box adjustment jobs: the proposals are editable starting boxes

    @property
    def task_type(self) -> TaskType:
        return TaskType.VERIFICATION if self is FeedbackMode.VERIFY else TaskType.ADJUSTMENT


class RunStatus(StrEnum):
    LABELING = "labeling"
    PARTIAL = "partial"  # some of it collected; the jobs may still be going
    COLLECTED = "collected"


@dataclass(frozen=True, slots=True)
class FeedbackBatch:
    number: int
    job: str
    job_id: int
    images: int
    done: int
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "job": self.job,
            "job_id": self.job_id,
            "images": self.images,
            "done": self.done,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class FeedbackRun:
    """A feedback run and how far its batches have got. `counts` and `human_seconds` are
    known once it is collected."""

    id: int
    name: str
    model: str
    dataset: str
    mode: FeedbackMode
    batch_size: int
    min_confidence: float
    team: str
    status: RunStatus
    batches: tuple[FeedbackBatch, ...]
    verified_dataset: str | None
    counts: FeedbackCounts | None
    human_seconds: float | None
    next_version: str | None
    created_at: datetime

    @property
    def images(self) -> int:
        return sum(b.images for b in self.batches)

    @property
    def done(self) -> int:
        return sum(b.done for b in self.batches)

    @property
    def collect_command(self) -> str:
        return f"truthloop feedback collect {self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "dataset": self.dataset,
            "mode": self.mode.value,
            "batch_size": self.batch_size,
            "min_confidence": self.min_confidence,
            "team": self.team,
            "status": self.status.value,
            "images": self.images,
            "done": self.done,
            "batches": [b.to_json() for b in self.batches],
            "verified_dataset": self.verified_dataset,
            "counts": self.counts.to_json() if self.counts else None,
            "human_seconds": self.human_seconds,
            "next_version": self.next_version,
            "created_at": self.created_at.isoformat(),
            "collect_command": self.collect_command,
        }


def start_feedback(
    project: Project,
    *,
    model: str,
    dataset: str,
    team: str,
    mode: FeedbackMode | str = FeedbackMode.VERIFY,
    batch_size: int = terms.FEEDBACK_BATCH_SIZE,
    min_confidence: float = terms.FEEDBACK_MIN_CONFIDENCE,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FeedbackRun:
    """Have `model` (RUNNING) propose labels for every image of `dataset`, and create the jobs
    in which `team` checks them, `batch_size` images per job. Proposals under
    `min_confidence` are left out (a box), or leave the image unproposed (an image label).
    `progress(images predicted, images)` follows the batch prediction."""
    mode = _mode(mode)
    _check_numbers(batch_size, min_confidence)
    if name is not None and (problem := name_problem("feedback run", name)):
        raise InvalidName(problem)
    version = get_version(project, model)
    _check_model(version, mode)
    with project.session() as session:
        source = store.get_dataset(session, dataset)
        source_id = source.id
        images = store.count_items(session, source_id)
        if images == 0:
            raise InputError(
                f"dataset {dataset!r} has no images: import the images to annotate first"
                " (truthloop dataset import)"
            )
        get_team(session, team)
        if name is not None and _find(session, name) is not None:
            raise AlreadyExists(f"a feedback run named {name!r} already exists")
        if version.task is Task.DETECTION:
            _check_sizes(session, source)
    proposals, unreadable = _predict(project, version, dataset, min_confidence, images, progress)
    if not proposals:
        why = f"{len(unreadable)} images could not be read" if unreadable else "none reached"
        raise InputError(
            f"{model} proposed nothing for dataset {dataset!r} ({why} min confidence"
            f" {min_confidence}): lower --min-confidence or check the images"
        )
    with project.session() as session:
        row = _create_run(session, name, version, source_id=source_id, team=team, mode=mode,
                          batch_size=batch_size, min_confidence=min_confidence)
        _create_batches(session, row, version, dataset, team, mode, proposals)
        session.flush()
        return _run_view(session, row)


def _mode(mode: FeedbackMode | str) -> FeedbackMode:
    try:
        return FeedbackMode(mode)
    except ValueError:
        raise InputError(f"mode must be 'verify' or 'adjust', not {mode!r}") from None


def _check_numbers(batch_size: int, min_confidence: float) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch size must be a whole number >= 1, not {batch_size!r}")
    if (
        isinstance(min_confidence, bool)
        or not isinstance(min_confidence, int | float)
        or not 0.0 <= min_confidence <= 1.0
    ):
        raise InputError(f"min confidence must be a number from 0 to 1, not {min_confidence!r}")


def _check_model(version: ModelVersion, mode: FeedbackMode) -> None:
    name = version.name
    match version.status:
        case VersionStatus.RUNNING:
            pass
        case VersionStatus.STOPPED | VersionStatus.TRAINING_COMPLETED:
            raise ModelNotRunning(
                f"model {name} is {version.status.value}: start it first"
                f" (truthloop model start {name})"
            )
        case VersionStatus.TRAINING_FAILED:
            raise ModelNotRunning(
                f"model {name} failed to train ({version.failure_reason or 'no reason recorded'})"
                ": it cannot propose labels; train a new version (truthloop model train)"
            )
        case _:
            raise ModelNotRunning(
                f"model {name} is still training: wait until it is TRAINING_COMPLETED, then"
                f" start it (truthloop model start {name})"
            )
    if mode is FeedbackMode.ADJUST and version.task is not Task.DETECTION:
        raise InputError(
            f"model {name} is a {version.task.value} model and proposes no boxes, so it cannot"
            " serve a box adjustment job: use --mode verify, or a detection model"
        )


def _check_sizes(session: Session, dataset: DatasetRow) -> None:
    unsized = session.scalar(
        select(ItemRow.uri)
        .where(ItemRow.dataset_id == dataset.id, ItemRow.width.is_(None))
        .limit(1)
    )
    if unsized is not None:
        raise InputError(
            f"images of dataset {dataset.name!r} have no known size (first: {unsized}), and"
            " boxes are checked against it: import them again with --verify-images"
        )


def _predict(
    project: Project,
    version: ModelVersion,
    dataset: str,
    min_confidence: float,
    images: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[tuple[int, Value]], list[str]]:
    """(item id, proposal) for the images the model proposed something for; unreadable URIs."""
    proposals: list[tuple[int, Value]] = []
    unreadable: list[str] = []
    for prediction in predict_dataset(
        project, version.name, dataset, (lambda done: progress(done, images)) if progress else None
    ):
        if prediction.value is None:
            unreadable.append(prediction.uri)
            continue
        kept = above(prediction.value, min_confidence)
        if kept is not None:
            proposals.append((prediction.item_id, kept))
    return proposals, unreadable


def _free_name(session: Session) -> str:
    number = (session.scalar(select(func.max(FeedbackRunRow.id))) or 0) + 1
    while _find(session, f"feedback-{number}") is not None:
        number += 1
    return f"feedback-{number}"


def _create_run(
    session: Session,
    name: str | None,
    version: ModelVersion,
    *,
    source_id: int,
    team: str,
    mode: FeedbackMode,
    batch_size: int,
    min_confidence: float,
) -> FeedbackRunRow:
    row = FeedbackRunRow(
        name=name or _free_name(session),
        model_version=version.name,
        dataset_id=source_id,
        mode=mode.value,
        batch_size=batch_size,
        min_confidence=float(min_confidence),
        team_id=get_team(session, team).id,
        status=RunStatus.LABELING.value,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def _create_batches(
    session: Session,
    run: FeedbackRunRow,
    version: ModelVersion,
    dataset: str,
    team: str,
    mode: FeedbackMode,
    proposals: list[tuple[int, Value]],
) -> None:
    now = utcnow()
    for start in range(0, len(proposals), run.batch_size):
        number = start // run.batch_size + 1
        batch = proposals[start : start + run.batch_size]
        attribute = f"{run.name}-proposals-{number:03d}"
        session.execute(
            insert(AnnotationRow),
            [
                store.annotation_row(
                    item_id,
                    Annotation(value, Source.MODEL, attribute, job_name=version.name,
                               created_at=now),
                )
                for item_id, value in batch
            ],
        )
        job = create_job(
            session,
            JobSpec(
                name=f"{run.name}-batch-{number:03d}",
                dataset=dataset,
                task_type=mode.task_type,
                team=team,
                labels=tuple(version.labels),
                instructions=INSTRUCTIONS[mode.value],
                proposals=attribute,
            ),
        )
        session.add(
            FeedbackBatchRow(
                run_id=run.id, number=number, job_id=job.id, proposals=attribute, size=len(batch)
            )
        )


def _find(session: Session, name: str) -> FeedbackRunRow | None:
    return session.scalar(select(FeedbackRunRow).where(FeedbackRunRow.name == name))


def run_row(session: Session, name: str) -> FeedbackRunRow:
    """The run's row; NotFound names the runs that exist."""
    row = _find(session, name)
    if row is None:
        known = session.scalars(
            select(FeedbackRunRow.name).order_by(FeedbackRunRow.id.desc()).limit(20)
        ).all()
        raise NotFound(f"no feedback run {name!r} (runs: {', '.join(known) or 'none'})")
    return row


def batch_rows(session: Session, run: FeedbackRunRow) -> list[FeedbackBatchRow]:
    return list(
        session.scalars(
            select(FeedbackBatchRow)
            .where(FeedbackBatchRow.run_id == run.id)
            .order_by(FeedbackBatchRow.number)
        )
    )


def _run_view(session: Session, row: FeedbackRunRow) -> FeedbackRun:
    batches = []
    for batch in batch_rows(session, row):
        progress = job_progress(session, batch.job_id)
        batches.append(
            FeedbackBatch(
                batch.number,
                get_job(session, batch.job_id).name,
                batch.job_id,
                progress.total_items,
                progress.done,
                progress.status,
            )
        )
    dataset = session.get(DatasetRow, row.dataset_id)
    team = session.get(TeamRow, row.team_id)
    assert dataset is not None and team is not None  # foreign keys guarantee them
    return FeedbackRun(
        id=row.id,
        name=row.name,
        model=row.model_version,
        dataset=dataset.name,
        mode=FeedbackMode(row.mode),
        batch_size=row.batch_size,
        min_confidence=row.min_confidence,
        team=team.name,
        status=RunStatus(row.status),
        batches=tuple(batches),
        verified_dataset=row.verified_dataset,
        counts=FeedbackCounts(**row.counts) if row.counts else None,
        human_seconds=row.human_seconds,
        next_version=row.next_version,
        created_at=row.created_at,
    )


def get_feedback(project: Project, name: str) -> FeedbackRun:
    with project.session() as session:
        return _run_view(session, run_row(session, name))


def list_feedback(project: Project) -> list[FeedbackRun]:
    """Every feedback run, newest first."""
    with project.session() as session:
        rows = session.scalars(select(FeedbackRunRow).order_by(FeedbackRunRow.id.desc())).all()
        return [_run_view(session, row) for row in rows]
