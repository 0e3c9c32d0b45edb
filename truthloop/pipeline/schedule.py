"""A pipeline's tick: what the seed's EventBridge rules and S3 triggers start, done in one
place on the schedule the parameters give.

    tick(project, "logos")            one pipeline, now (or at `now`, on a fake clock)
    tick_all(project)                 every pipeline: the queue's periodic task calls this

Each tick detects the intake's new images, accrues the loops people completed, tells
subscribers when the review backlog crosses `Review-Backlog-Alert`, and, when their schedules
fire, samples detections for audit (`Automatic-Human-Sampling-Frequency`) and checks whether
to train (`Automatic-Training-Poll-Frequency`). A schedule fires when its frequency has passed
since it last fired (`core.pipeline_policy.next_tick`), so a changed frequency applies from the
next tick, and a tick missed while no worker ran fires once, not once per tick missed. A
training check a stopped worker left running is checked again at the next tick, whatever the
schedule says.

A tick of one pipeline runs in one worker at a time (the claim `pipeline-tick:<id>`); a
worker that finds it held skips that pipeline this time. The training check runs after the
tick's claim is released, under its own claim, inline or (with `train`) wherever the caller
sends it: the queue runs it as a task of its own, so a long training holds up no intake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from truthloop.core.pipeline_params import (
    AUTOMATIC_TRAINING,
    SAMPLING_FREQUENCY,
    TRAINING_POLL_FREQUENCY,
)
from truthloop.core.pipeline_policy import next_tick
from truthloop.labeling.jobs import db_time
from truthloop.pipeline.accrual import Accrued, accrue
from truthloop.pipeline.intake import scan_intake
from truthloop.pipeline.notify import check_backlog
from truthloop.pipeline.params import get_params
from truthloop.pipeline.pipelines import get_pipeline, list_pipelines
from truthloop.pipeline.sampling import sample
from truthloop.pipeline.training import TrainingCheck, check_training, training_orphaned
from truthloop.review.flows import OPEN_LOOP_STATUSES
from truthloop.storage.claims import ClaimHeld, exclusive
from truthloop.storage.project import Project
from truthloop.storage.tables import HumanLoopRow, PipelineRow

log = logging.getLogger("truthloop.pipeline")

TICK_LEASE_S = 300.0
"""How long a tick's claim outlives its last renewal (a tick detects a scan's worth of images)."""

Trainer = Callable[[str], None]
"""Where a due training check goes: called with the pipeline's name."""


@dataclass(frozen=True, slots=True)
class Tick:
    """What one tick of one pipeline did: images detected, loops accrued, audits started,
    whether the training schedule fired, and the training check when it ran inline. `skipped`
    says why nothing ran (another worker's tick)."""

    pipeline: str
    detected: int = 0
    accrued: Accrued = field(default_factory=Accrued)
    audits: tuple[str, ...] = ()
    training_fired: bool = False
    training: TrainingCheck | None = None
    skipped: str | None = None


def tick(
    project: Project, name: str, *, now: datetime | None = None, train: Trainer | None = None
) -> Tick:
    """One tick of the pipeline `name` (see the module docstring); a due training check runs
    here when `train` is None, else it is handed to `train`."""
    moment = db_time(now)
    with project.session() as session:
        pipeline_id = get_pipeline(session, name).id
    try:
        with exclusive(project.db, f"pipeline-tick:{pipeline_id}", lease_s=TICK_LEASE_S):
            done = _tick(project, name, moment, now)
    except ClaimHeld as held:
        return Tick(name, skipped=f"another worker's tick of {name} is running ({held.holder})")
    if not done.training_fired:
        return done
    if train is not None:
        train(name)
        return done
    check = check_training(project, name, now=now)
    return Tick(name, done.detected, done.accrued, done.audits, True, check)


def _tick(project: Project, name: str, moment: datetime, now: datetime | None) -> Tick:
    detected = scan_intake(project, name, now=now)
    accrued = accrue(project, name, now=now)
    _check_backlog(project, name, now)
    audits: list[str] = []
    if _fires(project, name, "sampling", moment):
        audits = sample(project, name, now=now)
    training = _fires(project, name, "training", moment) or _orphaned(project, name)
    return Tick(name, len(detected), accrued, tuple(audits), training)


def _orphaned(project: Project, name: str) -> bool:
    with project.session() as session:
        pipeline_id = get_pipeline(session, name).id
    if training_orphaned(project, pipeline_id):
        log.warning("pipeline %s: a training was left running by a stopped worker; retrying", name)
        return True
    return False


def _fires(project: Project, name: str, schedule: str, moment: datetime) -> bool:
    """Whether the schedule fires at `moment`, and if so, it is marked fired then. The training
    schedule fires only while automatic training is on (the seed disables its rule)."""
    with project.db.session(immediate=True) as session:
        pipeline = get_pipeline(session, name)
        params = get_params(session, pipeline)
        if schedule == "training":
            if not params[AUTOMATIC_TRAINING.name]:
                return False
            last, minutes = pipeline.training_tick_at, int(params[TRAINING_POLL_FREQUENCY.name])
        else:
            last, minutes = pipeline.sampling_tick_at, int(params[SAMPLING_FREQUENCY.name])
        if last is not None and next_tick(last, minutes, moment) > moment:
            return False
        if schedule == "training":
            pipeline.training_tick_at = moment
        else:
            pipeline.sampling_tick_at = moment
        return True


def open_loops(project: Project, pipeline: PipelineRow) -> int:
    """The pipeline's review loops still waiting for people."""
    if pipeline.flow_id is None:
        return 0
    with project.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    HumanLoopRow.flow_id == pipeline.flow_id,
                    HumanLoopRow.status.in_(OPEN_LOOP_STATUSES),
                )
            )
            or 0
        )


def _check_backlog(project: Project, name: str, now: datetime | None) -> None:
    with project.db.session() as session:
        pipeline = get_pipeline(session, name)
        waiting = open_loops(project, pipeline)
        check_backlog(session, pipeline, waiting, now=now)


def tick_all(
    project: Project, *, now: datetime | None = None, train: Trainer | None = None
) -> list[Tick]:
    """A tick of every pipeline; one that fails is logged and the others go on."""
    with project.session() as session:
        names = [p.name for p in list_pipelines(session)]
    ticks = []
    for name in names:
        try:
            ticks.append(tick(project, name, now=now, train=train))
        except Exception:
            log.exception("pipeline %s: its tick failed; the next tick tries again", name)
    return ticks
