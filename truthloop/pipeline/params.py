"""A pipeline's parameters, as the seed's parameter store keeps them: one text value per name
("true", "720", "0.8"), read typed, changed with a record of who, when, the old and the new.

    get_params(session, pipeline) -> {name: value}     typed, every parameter
    get_param(session, pipeline, name) -> value
    set_param(session, pipeline, name, value, changed_by=, now=) -> ParamChange
    param_history(session, pipeline, name=, limit=) -> changes, newest first

Values are read and refused by `core.pipeline_params`: a bad name or value is an InputError
naming the parameter and what it allows, and nothing is stored. A change is recorded in the
history and as a run of kind "parameter-change" (runs.py), so it shows among the pipeline's
runs; setting the value in force records nothing, and the returned change says so. A change
tells the pipeline's subscribers ("parameter-changed", notify.py).

A pipeline stores every parameter when it is created (pipelines.py); a parameter with no row,
one a later release added, is in force at its default, and its first change records no old
text. Two changes of one parameter at once are taken one after the other: on PostgreSQL the
row is locked; on SQLite the caller's session should take the write lock (`immediate=True`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from truthloop.core.pipeline_params import (
    PARAMETERS,
    Parameter,
    ParameterError,
    Value,
    parameter,
)
from truthloop.errors import InputError
from truthloop.labeling.jobs import db_time
from truthloop.pipeline.runs import RunKind, RunStatus, finish_run, start_run, step
from truthloop.storage.tables import (
    PipelineParamChangeRow,
    PipelineParamRow,
    PipelineRow,
    UserRow,
)

MOST_CHANGES = 1000
"""The most changes one call of `param_history` returns."""


@dataclass(frozen=True, slots=True)
class ParamChange:
    """The outcome of `set_param`: the parameter, its text before (None: none was stored) and
    after, the typed value in force, whether anything changed, the change and run recorded
    (None when nothing changed), and what happened, in words."""

    name: str
    old: str | None
    new: str
    value: Value
    changed: bool
    change_id: int | None
    run_id: int | None
    message: str


def _parameter(name: str) -> Parameter:
    try:
        return parameter(name)
    except ParameterError as error:
        raise InputError(str(error)) from None


def _read(pipeline: PipelineRow, known: Parameter, text: str) -> Value:
    try:
        return known.parse(text)
    except ParameterError as error:
        raise InputError(
            f"pipeline {pipeline.name!r} stores {text!r} for {known.name}, which this release"
            f" refuses ({error}); set it again with `truthloop pipeline param set`"
        ) from None


def _stored(session: Session, pipeline: PipelineRow) -> dict[str, str]:
    rows = session.execute(
        select(PipelineParamRow.name, PipelineParamRow.value).where(
            PipelineParamRow.pipeline_id == pipeline.id
        )
    )
    return {name: value for name, value in rows}


def get_params(session: Session, pipeline: PipelineRow) -> dict[str, Value]:
    """Every parameter in force, typed, in `PARAMETERS`' order: the stored value, or the
    default of one never stored."""
    stored = _stored(session, pipeline)
    return {
        p.name: _read(pipeline, p, stored[p.name]) if p.name in stored else p.default
        for p in PARAMETERS
    }


def get_param(session: Session, pipeline: PipelineRow, name: str) -> Value:
    """One parameter in force, typed; InputError for a name that is none."""
    known = _parameter(name)
    text = session.scalar(
        select(PipelineParamRow.value).where(
            PipelineParamRow.pipeline_id == pipeline.id, PipelineParamRow.name == known.name
        )
    )
    return known.default if text is None else _read(pipeline, known, text)


def set_param(
    session: Session,
    pipeline: PipelineRow,
    name: str,
    value: object,
    *,
    changed_by: int | None = None,
    now: datetime | None = None,
) -> ParamChange:
    """Set a parameter to `value` (typed, or the text the seed stores) and record the change
    with who and when, and as a "parameter-change" run. InputError naming the parameter and
    its range for a bad value, nothing stored; the value in force already: nothing recorded."""
    known = _parameter(name)
    try:
        typed = known.parse(value)
    except ParameterError as error:
        raise InputError(f"{error}; {known.name} is unchanged") from None
    new = known.text(typed)
    row = session.scalar(
        select(PipelineParamRow)
        .where(PipelineParamRow.pipeline_id == pipeline.id, PipelineParamRow.name == known.name)
        .with_for_update()
    )
    old = row.value if row is not None else None
    in_force = _read(pipeline, known, old) if old is not None else known.default
    if new == known.text(in_force):
        message = f"{known.name} is {new} already; nothing changed"
        return ParamChange(known.name, old, new, typed, False, None, None, message)
    change_id, run_id = _record(session, pipeline, row, known.name, new, changed_by, db_time(now))
    facts = {
        "run_id": run_id,
        "parameter": known.name,
        "old": old,
        "new": new,
        "changed_by": _username(session, changed_by),
    }
    # Here, not at the top: notify.py reads parameters (Review-Backlog-Alert) from this module.
    from truthloop.pipeline.notify import notify

    notify(session, pipeline, "parameter-changed", facts, now=now)
    was = old if old is not None else "its default"
    message = f"{known.name} changed from {was} to {new}"
    return ParamChange(known.name, old, new, typed, True, change_id, run_id, message)


def _username(session: Session, user_id: int | None) -> str | None:
    user = session.get(UserRow, user_id) if user_id is not None else None
    return user.username if user is not None else None


def _record(
    session: Session,
    pipeline: PipelineRow,
    row: PipelineParamRow | None,
    name: str,
    new: str,
    changed_by: int | None,
    when: datetime,
) -> tuple[int, int]:
    """Store `new` and record the change, as a run with one step; the change's and run's ids."""
    old = row.value if row is not None else None
    summary = {"parameter": name, "old": old, "new": new, "changed_by": changed_by}
    run = start_run(session, pipeline.id, RunKind.PARAMETER_CHANGE, summary, now=when)
    with step(session, run, "store-parameter", summary, now=when) as stored:
        if row is None:
            row = PipelineParamRow(pipeline_id=pipeline.id, name=name)
            session.add(row)
        row.value, row.updated_by, row.updated_at = new, changed_by, when
        change = PipelineParamChangeRow(
            pipeline_id=pipeline.id,
            name=name,
            old=old,
            new=new,
            changed_by=changed_by,
            changed_at=when,
        )
        session.add(change)
        session.flush()
        stored.output = {"change_id": change.id}
    finish_run(session, run, RunStatus.SUCCEEDED, {"change_id": change.id}, now=when)
    return change.id, run.id


def param_history(
    session: Session, pipeline: PipelineRow, *, name: str | None = None, limit: int = 100
) -> list[PipelineParamChangeRow]:
    """The pipeline's parameter changes, newest first; of one parameter when `name` is given."""
    if not 1 <= limit <= MOST_CHANGES:
        raise InputError(f"limit must be from 1 to {MOST_CHANGES} changes, not {limit}")
    query = select(PipelineParamChangeRow).where(PipelineParamChangeRow.pipeline_id == pipeline.id)
    if name is not None:
        query = query.where(PipelineParamChangeRow.name == _parameter(name).name)
    return list(session.scalars(query.order_by(PipelineParamChangeRow.id.desc()).limit(limit)))
