"""Human loops: one review of one data object, fanned out to the flow's `TaskCount` reviewers,
with A2I's lifecycle and output.

    start_loop       InProgress; a retried start (same name, same input) returns the loop
    stop_loop        Stopping while a reviewer still holds a task, then Stopped
    advance_loops    Completed once every reviewer answered (output.json written first),
                     Failed with FailureCode Expired when the lifetime ran out unanswered,
                     Stopped once the last lease of a stopping loop ended
    delete_loop      only a Completed, Failed or Stopped loop

Each loop is an item (`loop:<name>`) of its flow's custom-template job, so its tasks are
leased, answered and retried as labeling tasks are; every answer is kept, none consolidated.
A status change is recorded as an event in the shape A2I sends to EventBridge, and queued for
the webhooks (review/events.py). Completion is durable: a submit that answers a loop's last
task completes it at once, and `advance_loops`, which the background worker runs, completes
any loop whose last answer was stored but whose output was not written (a crash between).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from truthloop.core import review_terms as terms
from truthloop.core.text import STORED, text_problem
from truthloop.errors import Conflict, InputError, InvalidName, NotFound
from truthloop.formats.a2i import (
    HumanAnswer,
    flow_arn,
    output_document,
    output_key,
)
from truthloop.labeling.jobs import (
    JobItemStatus,
    TaskStatus,
    add_items,
    db_time,
    withdraw_item,
    workable_slot,
)
from truthloop.review.events import record_event
from truthloop.review.flows import FlowStatus, get_flow
from truthloop.storage.blobs import write_uri
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanLoopRow,
    ItemRow,
    JobItemRow,
    JobRow,
    SubmissionRow,
    TaskRow,
    UserRow,
)


class LoopStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    COMPLETED = "Completed"
    STOPPED = "Stopped"
    STOPPING = "Stopping"


class FailureCode(StrEnum):
    VALIDATION_ERROR = "ValidationError"
    EXPIRED = "Expired"
    INTERNAL_ERROR = "InternalError"


ENDED = (LoopStatus.COMPLETED, LoopStatus.FAILED, LoopStatus.STOPPED)
ITEM_PREFIX = "loop:"


@dataclass(frozen=True)
class LoopStart:
    """StartHumanLoop's request: `input_content` is the JSON text of an object, as A2I takes
    it; `activation` the conditions' results when a routing rule started the loop."""

    name: str
    flow: str
    input_content: str
    data_attributes: Mapping[str, Any] | None = None
    activation: Mapping[str, Any] | None = None


def start_loop(
    project: Project,
    start: LoopStart,
    *,
    created_by: int | None = None,
    now: datetime | None = None,
) -> tuple[HumanLoopRow, bool]:
    """Start the loop and hand its tasks to the flow's team; the loop, and whether it is new.
    A loop of that name with the same flow and input is returned as it is (a retried call);
    with another input, Conflict."""
    parse_input(start.input_content)
    attributes = _check_data_attributes(start.data_attributes)
    if problem := terms.a2i_name_problem("human loop", start.name):
        raise InvalidName(problem)
    digest = hashlib.sha256(start.input_content.encode()).hexdigest()
    moment = db_time(now)
    try:
        with project.db.session(immediate=True) as session:
            found = _same_loop(session, start, digest)
            if found is not None:
                return found, False
            loop = _insert_loop(session, start, digest, attributes, created_by, moment)
            session.flush()
            session.expunge(loop)
            return loop, True
    except IntegrityError:
        # Two starts of one name raced; the loser finds the winner's loop (or a Conflict).
        with project.db.session() as session:
            found = _same_loop(session, start, digest)
            if found is None:
                raise
            return found, False


def parse_input(input_content: object) -> dict[str, Any]:
    """The loop's input: a JSON object of at most A2I's 3 MiB, its top-level keys the
    template's `task.input.<key>`, and no text in it that a database cannot keep (NUL)."""
    if not isinstance(input_content, str):
        raise InputError("InputContent is the JSON text of an object, given as a string")
    if len(input_content) > terms.MAX_INPUT_CONTENT_CHARS:
        raise InputError(
            f"InputContent is {len(input_content):,} characters; A2I takes at most"
            f" {terms.MAX_INPUT_CONTENT_CHARS:,}"
        )
    try:
        value = orjson.loads(input_content)
    except orjson.JSONDecodeError as error:
        raise InputError(f"InputContent is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise InputError(
            f"InputContent must be a JSON object (its keys are task.input.<key>),"
            f" not {type(value).__name__}"
        )
    _check_stored_texts(value, "InputContent")
    return value


def _check_stored_texts(value: object, path: str) -> None:
    if isinstance(value, str):
        if problem := text_problem(path, value, STORED):
            raise InputError(problem)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _check_stored_texts(key, f"{path} key")
            _check_stored_texts(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            _check_stored_texts(inner, f"{path}[{n}]")


def _check_data_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if attributes is None:
        return None
    classifiers = attributes.get("ContentClassifiers") if isinstance(attributes, Mapping) else None
    if (
        not isinstance(attributes, Mapping)
        or set(attributes) != {"ContentClassifiers"}
        or not isinstance(classifiers, list)
        or not all(c in terms.CONTENT_CLASSIFIERS for c in classifiers)
    ):
        raise InputError(
            'DataAttributes is {"ContentClassifiers": [...]} with values among '
            + ", ".join(terms.CONTENT_CLASSIFIERS)
        )
    return {"ContentClassifiers": list(dict.fromkeys(classifiers))}


def _same_loop(session: Session, start: LoopStart, digest: str) -> HumanLoopRow | None:
    loop = session.scalar(select(HumanLoopRow).where(HumanLoopRow.name == start.name))
    if loop is None:
        return None
    flow = session.get_one(FlowDefinitionRow, loop.flow_id)
    if flow.name != start.flow or loop.input_sha256 != digest:
        raise Conflict(
            f"a human loop named {start.name!r} already exists with another"
            f" {'flow definition' if flow.name != start.flow else 'input'}; loop names are"
            " unique: choose a new one"
        )
    session.expunge(loop)
    return loop


def _insert_loop(
    session: Session,
    start: LoopStart,
    digest: str,
    attributes: dict[str, Any] | None,
    created_by: int | None,
    now: datetime,
) -> HumanLoopRow:
    flow = get_flow(session, start.flow)
    if flow.status != FlowStatus.ACTIVE:
        reason = f": {flow.failure_reason}" if flow.failure_reason else ""
        raise InputError(f"flow definition {flow.name!r} is {flow.status}{reason}")
    item = ItemRow(dataset_id=flow.dataset_id, uri=ITEM_PREFIX + start.name, created_at=now)
    session.add(item)
    session.flush()
    add_items(session, session.get_one(JobRow, flow.job_id), [item.id], now)
    loop = HumanLoopRow(
        name=start.name,
        flow_id=flow.id,
        item_id=item.id,
        input_content=start.input_content,
        input_sha256=digest,
        data_attributes=attributes,
        activation=dict(start.activation) if start.activation is not None else None,
        status=LoopStatus.IN_PROGRESS.value,
        created_by=created_by,
        created_at=now,
    )
    session.add(loop)
    return loop


def get_loop(session: Session, name: str) -> HumanLoopRow:
    loop = session.scalar(select(HumanLoopRow).where(HumanLoopRow.name == name))
    if loop is None:
        raise NotFound(f"no human loop {name!r}")
    return loop


def stop_loop(project: Project, name: str, *, now: datetime | None = None) -> HumanLoopRow:
    """StopHumanLoop: tasks nobody took end now; a task a reviewer holds may still be answered
    (Stopping) until its lease ends, then the loop is Stopped. Stopping a stopped loop changes
    nothing; a completed or failed one cannot be stopped."""
    moment = db_time(now)
    with project.db.session(immediate=True) as session:
        loop = get_loop(session, name)
        if loop.status in (LoopStatus.STOPPED, LoopStatus.STOPPING):
            session.expunge(loop)
            return loop
        if loop.status != LoopStatus.IN_PROGRESS:
            raise InputError(f"human loop {name!r} is {loop.status}; only a loop in progress stops")
        flow = session.get_one(FlowDefinitionRow, loop.flow_id)
        withdraw_item(session, flow.job_id, loop.item_id, moment)
        held = _leases_running(session, flow.job_id, loop.item_id, moment)
        _set_status(
            session, loop, flow, LoopStatus.STOPPING if held else LoopStatus.STOPPED, moment
        )
        session.flush()
        session.expunge(loop)
        return loop


def delete_loop(project: Project, name: str) -> None:
    """DeleteHumanLoop: only a Completed, Failed or Stopped loop; its tasks and answers go
    with it, its output.json stays where it was written."""
    with project.db.session(immediate=True) as session:
        loop = get_loop(session, name)
        if loop.status not in ENDED:
            raise InputError(
                f"human loop {name!r} is {loop.status}; only a Completed, Failed or Stopped"
                " loop can be deleted (stop it first)"
            )
        item = session.get(ItemRow, loop.item_id)
        session.delete(loop)
        session.flush()
        if item is not None:
            session.delete(item)


def _leases_running(session: Session, job_id: int, item_id: int, now: datetime) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    TaskRow.job_id == job_id,
                    TaskRow.item_id == item_id,
                    TaskRow.status == TaskStatus.LEASED,
                    TaskRow.lease_expires_at > now,
                )
            )
        )
    )


def _set_status(
    session: Session,
    loop: HumanLoopRow,
    flow: FlowDefinitionRow,
    status: LoopStatus,
    now: datetime,
    failure: tuple[FailureCode, str] | None = None,
) -> None:
    loop.status = status.value
    if failure is not None:
        loop.failure_code, loop.failure_reason = failure[0].value, failure[1]
    if status in ENDED:  # A2I announces the ends: Completed, Failed, Stopped
        loop.ended_at = now
        record_event(session, loop, flow, now)


def advance_loops(project: Project, *, now: datetime | None = None, limit: int = 500) -> int:
    """Move every loop whose state changed on: completed (output written), expired, stopped.
    The number moved; the background worker calls this every round."""
    moment = db_time(now)
    moved = 0
    with project.db.session() as session:
        answered = _answered_loops(session, limit)
    for name in answered:
        moved += complete_loop(project, name, now=moment)
    with project.db.session(immediate=True) as session:
        for loop, flow in _stalled_loops(session, moment, limit):
            if loop.status == LoopStatus.STOPPING:
                _set_status(session, loop, flow, LoopStatus.STOPPED, moment)
            else:
                reason = (
                    f"nobody answered within the task availability lifetime of"
                    f" {flow.lifetime_s} seconds"
                )
                _set_status(
                    session, loop, flow, LoopStatus.FAILED, moment, (FailureCode.EXPIRED, reason)
                )
            moved += 1
    return moved


def _answered_loops(session: Session, limit: int) -> list[str]:
    """Loops in progress whose item is done: every reviewer answered."""
    query = (
        select(HumanLoopRow.name)
        .join(FlowDefinitionRow, FlowDefinitionRow.id == HumanLoopRow.flow_id)
        .join(
            JobItemRow,
            (JobItemRow.job_id == FlowDefinitionRow.job_id)
            & (JobItemRow.item_id == HumanLoopRow.item_id),
        )
        .where(
            HumanLoopRow.status == LoopStatus.IN_PROGRESS,
            JobItemRow.status == JobItemStatus.DONE,
        )
        .limit(limit)
    )
    return list(session.scalars(query))


def _stalled_loops(
    session: Session, now: datetime, limit: int
) -> Sequence[tuple[HumanLoopRow, FlowDefinitionRow]]:
    """Loops in progress that no slot can be answered for any more, and stopping loops whose
    last lease ended."""
    workable = (
        select(TaskRow.id)
        .where(
            TaskRow.job_id == FlowDefinitionRow.job_id,
            TaskRow.item_id == HumanLoopRow.item_id,
            workable_slot(now),
        )
        .exists()
    )
    done = (
        select(JobItemRow.item_id)
        .where(
            JobItemRow.job_id == FlowDefinitionRow.job_id,
            JobItemRow.item_id == HumanLoopRow.item_id,
            JobItemRow.status == JobItemStatus.DONE,
        )
        .exists()
    )
    query = (
        select(HumanLoopRow, FlowDefinitionRow)
        .join(FlowDefinitionRow, FlowDefinitionRow.id == HumanLoopRow.flow_id)
        .where(
            HumanLoopRow.status.in_([LoopStatus.IN_PROGRESS, LoopStatus.STOPPING]),
            ~workable,
            ~done,
        )
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def complete_loop(project: Project, name: str, *, now: datetime | None = None) -> int:
    """Write the loop's output.json and mark it Completed, if every reviewer answered and it
    is still in progress; 1 when it was completed here, else 0. The file is written before
    the status changes, so a Completed loop always has its output."""
    moment = db_time(now)
    with project.db.session() as session:
        loop = get_loop(session, name)
        flow = session.get_one(FlowDefinitionRow, loop.flow_id)
        if loop.status != LoopStatus.IN_PROGRESS or not _item_done(session, flow, loop):
            return 0
        document = loop_output(session, loop, flow)
        uri = f"{flow.output}/{output_key(flow.name, loop.created_at, loop.name)}"
    write_uri(uri, orjson.dumps(document), s3_endpoint_url=project.settings.s3_endpoint_url)
    with project.db.session(immediate=True) as session:
        loop = get_loop(session, name)
        if loop.status != LoopStatus.IN_PROGRESS:
            return 0
        flow = session.get_one(FlowDefinitionRow, loop.flow_id)
        loop.output_uri = uri
        _set_status(session, loop, flow, LoopStatus.COMPLETED, moment)
    return 1


def _item_done(session: Session, flow: FlowDefinitionRow, loop: HumanLoopRow) -> bool:
    status = session.scalar(
        select(JobItemRow.status).where(
            JobItemRow.job_id == flow.job_id, JobItemRow.item_id == loop.item_id
        )
    )
    return status == JobItemStatus.DONE


def loop_answers(
    session: Session, flow: FlowDefinitionRow, loop: HumanLoopRow
) -> list[HumanAnswer]:
    """Every reviewer's answer to the loop, first submitted first."""
    rows = session.execute(
        select(SubmissionRow, UserRow.username)
        .join(UserRow, UserRow.id == SubmissionRow.worker_id)
        .where(SubmissionRow.job_id == flow.job_id, SubmissionRow.item_id == loop.item_id)
        .order_by(SubmissionRow.submitted_at, SubmissionRow.id)
    ).all()
    return [
        HumanAnswer(
            content=submission.answer,
            worker_id=worker_id(submission.worker_id),
            accepted_at=_utc(submission.leased_at),
            submitted_at=_utc(submission.submitted_at),
            seconds=submission.seconds,
            sub=username,
        )
        for submission, username in rows
    ]


def worker_id(user_id: int) -> str:
    """A reviewer as A2I's output names one: an opaque id, stable for the person."""
    return hashlib.sha256(f"truthloop-worker-{user_id}".encode()).hexdigest()[:16]


def loop_output(session: Session, loop: HumanLoopRow, flow: FlowDefinitionRow) -> dict[str, Any]:
    """The loop's output.json document, as A2I writes it."""
    return output_document(
        flow_arn=flow_arn(flow.name),
        loop_name=loop.name,
        input_content=orjson.loads(loop.input_content),
        answers=loop_answers(session, flow, loop),
        activation_results=loop.activation,
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)
