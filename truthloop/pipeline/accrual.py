"""Training data accrual: what each completed loop of a pipeline's review flow gives it (the
seed's `Data Preparation`: reviewed images copied into a folder per label).

    accrue(project, "logos")         -> Accrued(added=3, nothing=1, audits=2, ...)
    audit_accuracy(session, pipeline) -> Audit(right, n, low, high) of the deployed version

A review loop adds its image to the pipeline's training dataset with the reviewer's label (or
boxes), as a person's annotation; "None of the Above" adds nothing. An audit loop (a sampled
detection) adds nothing to the training set: it scores the deployed version, whose running
accuracy the audits estimate with a confidence interval.

Each loop is accrued once: the accrual row (unique per pipeline and loop) and the dataset item
are written in one transaction, so a completion seen twice, by two workers or after a crash
between the two, adds one image. Answers from several reviewers (TaskCount > 1) are combined:
the label most of them gave (the first reviewer's on a tie); for boxes, the first reviewer's.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from truthloop.core.correctness import is_correct
from truthloop.core.thresholds import accuracy_interval
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    Source,
    Value,
    label_names,
)
from truthloop.errors import Conflict
from truthloop.labeling.jobs import db_time
from truthloop.pipeline.intake import NONE_OF_THE_ABOVE
from truthloop.pipeline.pipelines import get_pipeline
from truthloop.pipeline.runs import RunKind, RunStatus, finish_run, start_run, step
from truthloop.review.loops import LoopStatus, loop_answers
from truthloop.storage.datasets import NewItem, get_dataset, insert_items, known_uris, label_set_of
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanLoopRow,
    PipelineAccrualRow,
    PipelineDetectionRow,
    PipelineRow,
)

log = logging.getLogger("truthloop.pipeline")

MOST_PER_ROUND = 500
"""The most loops one accrual round takes; the rest wait for the next."""


class Outcome:
    """What a completed loop gave: the words the accrual log and the run history use."""

    ADDED = "added"
    NONE_OF_THE_ABOVE = "none-of-the-above"
    ALREADY_IN_DATASET = "already-in-dataset"
    UNKNOWN_LABEL = "unknown-label"
    NO_ANSWER = "no-answer"
    AUDIT_RIGHT = "audit-right"
    AUDIT_WRONG = "audit-wrong"


@dataclass(frozen=True, slots=True)
class Accrued:
    """One accrual round: loops taken, images added, loops that added nothing (by outcome),
    and audits scored."""

    loops: int = 0
    added: int = 0
    outcomes: Mapping[str, int] | None = None
    audits: int = 0


@dataclass(frozen=True, slots=True)
class Audit:
    """The audits of one version: how many were right of how many, and the 95 % interval of
    its accuracy (None without audits)."""

    version: str | None
    right: int
    n: int
    low: float | None
    high: float | None

    @property
    def accuracy(self) -> float | None:
        return self.right / self.n if self.n else None


def accrue(project: Project, name: str, *, now: datetime | None = None) -> Accrued:
    """Take every completed loop of the pipeline's flow not accrued yet; one review-completion
    run records the round when it took any."""
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        pipeline_id, flow_id = pipeline.id, pipeline.flow_id
        pending = _pending_loops(session, pipeline) if flow_id is not None else []
    if not pending:
        return Accrued()
    outcomes: Counter[str] = Counter()
    for loop_name in pending:
        outcome = _accrue_loop(project, pipeline_id, loop_name, now)
        if outcome is not None:
            outcomes[outcome] += 1
    _record_round(project, pipeline_id, len(pending), outcomes, now)
    audits = outcomes[Outcome.AUDIT_RIGHT] + outcomes[Outcome.AUDIT_WRONG]
    return Accrued(sum(outcomes.values()), outcomes[Outcome.ADDED], dict(outcomes), audits)


def _pending_loops(session: Session, pipeline: PipelineRow) -> list[str]:
    """Completed loops of the pipeline's flow with no accrual yet, oldest first."""
    done = select(PipelineAccrualRow.loop_name).where(PipelineAccrualRow.pipeline_id == pipeline.id)
    query = (
        select(HumanLoopRow.name)
        .where(
            HumanLoopRow.flow_id == pipeline.flow_id,
            HumanLoopRow.status == LoopStatus.COMPLETED,
            HumanLoopRow.name.not_in(done),
        )
        .order_by(HumanLoopRow.id)
        .limit(MOST_PER_ROUND)
    )
    return list(session.scalars(query))


def _accrue_loop(
    project: Project, pipeline_id: int, loop_name: str, now: datetime | None
) -> str | None:
    """Accrue one loop in one transaction; its outcome, or None when another worker (or an
    earlier try) accrued it already."""
    try:
        with project.db.session(immediate=True) as session:
            # Locked: on PostgreSQL two workers' accruals of one pipeline take turns, so the
            # second finds the first's record (SQLite's write lock does the same).
            pipeline = session.get_one(PipelineRow, pipeline_id, with_for_update=True)
            taken = select(PipelineAccrualRow.id).where(
                PipelineAccrualRow.pipeline_id == pipeline_id,
                PipelineAccrualRow.loop_name == loop_name,
            )
            if session.scalar(taken) is not None:
                return None
            return _accrue_in(session, pipeline, loop_name, db_time(now))
    except (IntegrityError, Conflict):  # a worker beside this one accrued it first
        return None


def _accrue_in(session: Session, pipeline: PipelineRow, loop_name: str, now: datetime) -> str:
    loop = session.scalars(select(HumanLoopRow).where(HumanLoopRow.name == loop_name)).one()
    flow = session.get_one(FlowDefinitionRow, loop.flow_id)
    content = orjson.loads(loop.input_content)
    detection = session.scalars(
        select(PipelineDetectionRow).where(
            PipelineDetectionRow.pipeline_id == pipeline.id,
            (PipelineDetectionRow.loop_name == loop_name)
            | (PipelineDetectionRow.audit_loop == loop_name),
        )
    ).first()
    audit = detection is not None and detection.audit_loop == loop_name
    answer = reviewed_value(
        [a.content for a in loop_answers(session, flow, loop)], pipeline.task, content
    )
    if audit:
        outcome = _audit_outcome(answer, content, pipeline.task)
        item_id = None
    else:
        digest = detection.sha256 if detection is not None else None
        outcome, item_id = _add_to_dataset(session, pipeline, content, answer, digest, now)
    session.add(
        PipelineAccrualRow(
            pipeline_id=pipeline.id,
            loop_name=loop_name,
            detection_id=detection.id if detection is not None else None,
            kind="audit" if audit else "review",
            outcome=outcome,
            item_id=item_id,
            answer=_answer_json(answer),
            created_at=now,
        )
    )
    session.flush()
    return outcome


def reviewed_value(
    answers: Sequence[Mapping[str, Any]], task: str, content: Mapping[str, Any]
) -> Value | str | None:
    """The reviewers' answer as a label or boxes: the label most gave, or the first reviewer's
    boxes; NONE_OF_THE_ABOVE when that was the answer; None when no answer reads as one."""
    if task == "classification":
        labels = [label for a in answers if (label := _label_in(a)) is not None]
        if not labels:
            return None
        label = Counter(labels).most_common(1)[0][0]
        return NONE_OF_THE_ABOVE if label == NONE_OF_THE_ABOVE else Classification(label)
    for answer in answers:
        boxes = _boxes_in(answer)
        if boxes is not None:
            return Boxes(boxes)
    return None


def _label_in(answer: Mapping[str, Any]) -> str | None:
    """The label a classifier element gave (`{"<name>": {"label": "cat"}}`)."""
    for value in answer.values():
        if isinstance(value, Mapping) and isinstance(value.get("label"), str):
            return str(value["label"])
    return None


def _boxes_in(answer: Mapping[str, Any]) -> tuple[Box, ...] | None:
    """The boxes crowd-bounding-box gave (`{"<name>": {"boundingBoxes": [...]}}`), or None
    when the answer holds none or a box that does not read as one (an answer may rightly hold
    an empty list)."""
    for value in answer.values():
        if isinstance(value, Mapping) and isinstance(value.get("boundingBoxes"), list):
            return pixel_boxes(value["boundingBoxes"])
    return None


_BOX_KEYS = ("left", "top", "width", "height")


def _finite(value: object) -> float | None:
    """A JSON number that is one (not a bool, NaN or an infinity) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def pixel_boxes(items: Sequence[Any]) -> tuple[Box, ...] | None:
    """Boxes given as crowd-bounding-box writes them (`label`, `left`, `top`, `width`,
    `height`, in pixels); None when any is not one: a text label and finite numbers, with a
    width and height above 0. A form's answer is stored as sent, so this is where it is read
    strictly; an answer that does not read adds nothing rather than stopping the accrual."""
    boxes = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("label"), str):
            return None
        numbers = [_finite(item.get(key)) for key in _BOX_KEYS]
        if None in numbers:
            return None
        left, top, width, height = (n or 0.0 for n in numbers)
        if width <= 0 or height <= 0:
            return None
        boxes.append(Box(item["label"], left, top, width, height))
    return tuple(boxes)


def _add_to_dataset(
    session: Session,
    pipeline: PipelineRow,
    content: Mapping[str, Any],
    answer: Value | str | None,
    digest: str | None,
    now: datetime,
) -> tuple[str, int | None]:
    if answer is None:
        return Outcome.NO_ANSWER, None
    if isinstance(answer, str):
        return Outcome.NONE_OF_THE_ABOVE, None
    dataset = get_dataset(session, pipeline.dataset)
    known = set(label_set_of(session, dataset).names)
    used = set(label_names(answer))
    if not used <= known:
        log.warning(
            "pipeline %s: answer uses labels %s outside the dataset's label set",
            pipeline.name,
            sorted(used - known),
        )
        return Outcome.UNKNOWN_LABEL, None
    uri = str(content["taskObject"])
    if known_uris(session, dataset.id, [uri]):
        return Outcome.ALREADY_IN_DATASET, None
    size = content.get("imageSize") or {}
    record = ImageRecord(
        uri,
        ImageSize(int(size["width"]), int(size["height"])) if size else None,
        (Annotation(answer, source=Source.HUMAN, attribute=pipeline.name, created_at=now),),
    )
    [item_id] = insert_items(session, dataset.id, [NewItem(record, digest)])
    return Outcome.ADDED, item_id


def _audit_outcome(answer: Value | str | None, content: Mapping[str, Any], task: str) -> str:
    """Whether the deployed version's answer (the loop's `initialValue`, what detect answers
    at its thresholds) is the reviewer's."""
    if answer is None:
        return Outcome.NO_ANSWER
    found = _model_answer(content, task)
    if isinstance(answer, str):  # None of the Above: right only if the model found nothing
        return Outcome.AUDIT_RIGHT if found is None else Outcome.AUDIT_WRONG
    if found is None:
        return Outcome.AUDIT_WRONG
    return Outcome.AUDIT_RIGHT if is_correct(found, answer) else Outcome.AUDIT_WRONG


def _model_answer(content: Mapping[str, Any], task: str) -> Value | None:
    initial = content.get("initialValue")
    if task == "classification":
        return Classification(initial) if isinstance(initial, str) else None
    boxes = pixel_boxes(initial) if isinstance(initial, list) else None
    return Boxes(boxes) if boxes is not None else None


def _answer_json(answer: Value | str | None) -> dict[str, Any] | None:
    match answer:
        case None:
            return None
        case str():
            return {"label": answer}
        case Classification(label=label):
            return {"label": label}
        case Boxes(boxes=boxes):
            keys = ("label", "left", "top", "width", "height")
            return {"boxes": [{k: getattr(b, k) for k in keys} for b in boxes]}
    return None


def _record_round(
    project: Project, pipeline_id: int, loops: int, outcomes: Counter[str], now: datetime | None
) -> None:
    with project.db.session() as session:
        run = start_run(session, pipeline_id, RunKind.REVIEW_COMPLETION, {"loops": loops}, now=now)
        with step(session, run, "collect-answers", {"loops": loops}, now=now) as collected:
            collected.output = {"accrued": sum(outcomes.values())}
        with step(session, run, "add-to-training-set", dict(outcomes), now=now) as added:
            added.output = {"added": outcomes[Outcome.ADDED]}
        finish_run(session, run, RunStatus.SUCCEEDED, dict(outcomes), now=now)


def audit_accuracy(session: Session, pipeline: PipelineRow, version: str | None = None) -> Audit:
    """The audits of `version` (default: the deployed one): right of scored, and the 95 %
    Clopper–Pearson interval of its accuracy."""
    version = version or pipeline.deployed_version
    rows = session.execute(
        select(PipelineAccrualRow.outcome, func.count())
        .join(PipelineDetectionRow, PipelineDetectionRow.id == PipelineAccrualRow.detection_id)
        .where(
            PipelineAccrualRow.pipeline_id == pipeline.id,
            PipelineAccrualRow.kind == "audit",
            PipelineDetectionRow.version == version,
        )
        .group_by(PipelineAccrualRow.outcome)
    ).all()
    counts = {outcome: n for outcome, n in rows}
    right = counts.get(Outcome.AUDIT_RIGHT, 0)
    n = right + counts.get(Outcome.AUDIT_WRONG, 0)
    if n == 0:
        return Audit(version, 0, 0, None, None)
    low, high = accuracy_interval(right, n)
    return Audit(version, right, n, low, high)
