"""The run history of a pipeline, kept as a state machine's execution history is (the seed's
Step Functions executions): every run has a kind, a state, a start and an end, an input and an
output summary and the error that ended it; every step within it the same.

    start_run(session, pipeline_id, kind, input)       running
    with step(session, run, name, input) as s: ...      a step: running, then succeeded with
        s.output = {...}                                the output the caller set, or failed
    finish_run(session, run, status, output, error)     succeeded, failed or skipped
    list_runs(session, pipeline, ...)  get_run(session, run_id) -> (run, steps)

A run never stays "running" once finished: `finish_run` refuses "running" as an end. A step
that raises is recorded failed with the exception's message, and fails its run at once (ended,
with "<step>: <message>" as its error), and the exception is re-raised. A caller that catches
it and carries on gives the run its real end with `finish_run`, which may end a run again.

Everything is written in the caller's session and kept only when its transaction commits: to
keep the record of a failed step, catch the exception inside the session block (the run is
already failed then) rather than letting it roll the transaction back. The step's own writes
to other tables stay in that transaction as well; this module undoes none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.errors import InputError, NotFound
from truthloop.labeling.jobs import db_time
from truthloop.storage.db import Database
from truthloop.storage.tables import PipelineRow, PipelineRunRow, PipelineStepRow


class RunKind(StrEnum):
    TRAINING_CHECK = "training-check"
    INTAKE = "intake"
    REVIEW_COMPLETION = "review-completion"
    SAMPLING = "sampling"
    PARAMETER_CHANGE = "parameter-change"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


ENDED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED)
MOST_RUNS = 500
"""The most runs one page of `list_runs` holds."""
_STEP_NAME_CHARS = 64


def _kind(kind: str) -> RunKind:
    try:
        return RunKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in RunKind)
        raise InputError(f"unknown run kind {kind!r}: a run is one of {known}") from None


def _status(status: str, allowed: tuple[RunStatus, ...]) -> RunStatus:
    if status in allowed:
        return RunStatus(status)
    words = ", ".join(s.value for s in allowed)
    raise InputError(f"run status {status!r} is not allowed here: use one of {words}")


def start_run(
    session: Session,
    pipeline_id: int,
    kind: str,
    input: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> PipelineRunRow:
    """A new run of the pipeline, running since `now`, with its input summary (JSON-able)."""
    run = PipelineRunRow(
        pipeline_id=pipeline_id,
        kind=_kind(kind).value,
        status=RunStatus.RUNNING.value,
        started_at=db_time(now),
        input=dict(input),
    )
    session.add(run)
    session.flush()
    return run


@contextmanager
def step(
    session: Session,
    run: PipelineRunRow,
    name: str,
    input: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Iterator[PipelineStepRow]:
    """Record the block as a step of the running `run`: the step is yielded, for the block to
    set its `output`; succeeded when the block ends, failed (with the exception's message) when
    it raises, and then the run fails with it and the exception goes on."""
    record = _begin_step(session, run, name, input, now)
    try:
        yield record
    except BaseException as error:
        _fail_step(session, run, record, error, now)
        raise
    record.status = RunStatus.SUCCEEDED.value
    record.ended_at = _end(record, now)
    session.flush()


def _begin_step(
    session: Session,
    run: PipelineRunRow,
    name: str,
    input: Mapping[str, Any],
    now: datetime | None,
) -> PipelineStepRow:
    if run.status != RunStatus.RUNNING:
        raise InputError(
            f"run {run.id} is {run.status}: steps are added to a running run only;"
            " start a new run for more work"
        )
    if not name or len(name) > _STEP_NAME_CHARS:
        raise InputError(f"a step needs a name of 1 to {_STEP_NAME_CHARS} characters")
    record = PipelineStepRow(
        run_id=run.id,
        name=name,
        status=RunStatus.RUNNING.value,
        started_at=db_time(now),
        input=dict(input),
    )
    session.add(record)
    session.flush()
    return record


def _fail_step(
    session: Session,
    run: PipelineRunRow,
    record: PipelineStepRow,
    error: BaseException,
    now: datetime | None,
) -> None:
    """The step failed with `error`, and its run with it."""
    message = str(error) or type(error).__name__
    record.status, record.error = RunStatus.FAILED.value, message
    record.ended_at = _end(record, now)
    finish_run(session, run, RunStatus.FAILED, error=f"{record.name}: {message}", now=now)


@dataclass
class StepOutput:
    """What a long step's block reports: its output summary."""

    output: dict[str, Any] = field(default_factory=dict)


@contextmanager
def long_step(
    db: Database,
    run_id: int,
    name: str,
    input: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Iterator[StepOutput]:
    """A step that outlasts a transaction (a training): recorded running and committed before
    the block runs, so the history shows it while it works, and ended in a transaction of its
    own, succeeded with the output the block set, or failed, failing its run, as `step`."""
    with db.session() as session:
        run = session.get_one(PipelineRunRow, run_id)
        step_id = _begin_step(session, run, name, input, now).id
    result = StepOutput()
    try:
        yield result
    except BaseException as error:
        with db.session() as session:
            record = session.get_one(PipelineStepRow, step_id)
            _fail_step(session, session.get_one(PipelineRunRow, run_id), record, error, now)
        raise
    with db.session() as session:
        record = session.get_one(PipelineStepRow, step_id)
        record.status, record.output = RunStatus.SUCCEEDED.value, result.output
        record.ended_at = _end(record, now)


def _end(record: PipelineStepRow, now: datetime | None) -> datetime:
    """When a step ended: the clock's time, or its start on a clock the caller gave (a fake
    clock stands still within a step)."""
    return record.started_at if now is not None else db_time(None)


def finish_run(
    session: Session,
    run: PipelineRunRow,
    status: str,
    output: Mapping[str, Any] | None = None,
    error: str | None = None,
    *,
    now: datetime | None = None,
) -> PipelineRunRow:
    """End `run` as succeeded, failed or skipped, with its output summary and error. A run
    ended already (a failed step ends it) is ended again: the caller's word is the last. Steps
    still running are failed with the run: nothing stays running once its run ended."""
    ended = _status(status, ENDED)
    run.status = ended.value
    run.ended_at = db_time(now)
    if output is not None:
        run.output = dict(output)
    if error is not None or ended is not RunStatus.FAILED:
        run.error = error
    open_steps = select(PipelineStepRow).where(
        PipelineStepRow.run_id == run.id, PipelineStepRow.status == RunStatus.RUNNING
    )
    for left in session.scalars(open_steps):
        left.status, left.ended_at = RunStatus.FAILED.value, run.ended_at
        left.error = left.error or f"the run ended {ended.value} while this step was running"
    session.flush()
    return run


def list_runs(
    session: Session,
    pipeline: PipelineRow,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[PipelineRunRow]:
    """The pipeline's runs, newest first, of one kind and one status when given; the next page
    starts `before_id` the last run of this one."""
    if not 1 <= limit <= MOST_RUNS:
        raise InputError(f"limit must be from 1 to {MOST_RUNS} runs, not {limit}")
    query = select(PipelineRunRow).where(PipelineRunRow.pipeline_id == pipeline.id)
    if kind is not None:
        query = query.where(PipelineRunRow.kind == _kind(kind).value)
    if status is not None:
        query = query.where(PipelineRunRow.status == _status(status, tuple(RunStatus)).value)
    if before_id is not None:
        query = query.where(PipelineRunRow.id < before_id)
    return list(session.scalars(query.order_by(PipelineRunRow.id.desc()).limit(limit)))


def get_run(session: Session, run_id: int) -> tuple[PipelineRunRow, list[PipelineStepRow]]:
    """A run and its steps in the order they started; NotFound when there is no such run."""
    run = session.get(PipelineRunRow, run_id)
    if run is None:
        raise NotFound(f"no pipeline run {run_id} (see `truthloop pipeline runs NAME`)")
    steps = session.scalars(
        select(PipelineStepRow).where(PipelineStepRow.run_id == run_id).order_by(PipelineStepRow.id)
    )
    return run, list(steps)
