"""What a pipeline looks like to the people who run it, read-only: its terms, the version it
serves and those before it, what its intake saw, what waits for review, how the audits score
the deployed version, and its recent runs (the seed's dashboard, as the CLI, REST API and
portal show it).

    pipeline_overview(project, name) -> dict        everything, for the pipeline's page
    pipeline_counters(project, name) -> dict        the numbers a page refreshes while open
    list_detections(session, pipeline, ...)         the detection log, newest first, paged
    pipeline_json, params_json, change_json, run_json, step_json    one shape for CLI and API

Every value is plain JSON (times as ISO text), so the CLI prints it, the API answers it and
the page shows it without a second shape to keep in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from truthloop.core.pipeline_params import PARAMETERS
from truthloop.errors import InputError
from truthloop.ml.registry import list_versions
from truthloop.ml.versions import ModelVersion
from truthloop.pipeline.accrual import audit_accuracy
from truthloop.pipeline.params import get_params
from truthloop.pipeline.pipelines import get_pipeline
from truthloop.pipeline.runs import list_runs
from truthloop.pipeline.schedule import open_loops
from truthloop.pipeline.training import count_labeled
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    PipelineDetectionRow,
    PipelineParamChangeRow,
    PipelineRow,
    PipelineRunRow,
    PipelineStepRow,
)

RECENT_RUNS = 20
"""How many of the newest runs an overview lists."""

MOST_DETECTIONS = 500
"""The most detections one page of `list_detections` holds."""

SOURCES = ("upload", "intake")
"""Where a detection's image came from: an upload (the API, `pipeline submit`) or the
watched intake."""


# The shapes the CLI and the API share ----------------------------------------------------------


def when(value: datetime | None) -> str | None:
    """A stored time as ISO text, None as None."""
    return None if value is None else value.isoformat()


def seconds_between(started: datetime, ended: datetime | None) -> float | None:
    """How long a run or step took; None while it runs."""
    return None if ended is None else (ended - started).total_seconds()


def pipeline_json(session: Session, pipeline: PipelineRow) -> dict[str, Any]:
    """A pipeline's terms: task, dataset, flow, the version it serves and how much that
    version trained on."""
    flow = session.get(FlowDefinitionRow, pipeline.flow_id) if pipeline.flow_id else None
    return {
        "id": pipeline.id,
        "name": pipeline.name,
        "task": pipeline.task,
        "dataset": pipeline.dataset,
        "flow": flow.name if flow is not None else None,
        "deployed_version": pipeline.deployed_version,
        "trained_images": pipeline.trained_images,
        "created_by": pipeline.created_by,
        "created_at": when(pipeline.created_at),
    }


def params_json(session: Session, pipeline: PipelineRow) -> list[dict[str, Any]]:
    """Every parameter in force, with what it allows (from core.pipeline_params)."""
    values = get_params(session, pipeline)
    return [
        {
            "name": p.name,
            "value": values[p.name],
            "text": p.text(values[p.name]),
            "default": p.default,
            "allowed": p.allowed,
            "unit": p.unit,
            "meaning": p.meaning,
        }
        for p in PARAMETERS
    ]


def change_json(change: PipelineParamChangeRow) -> dict[str, Any]:
    return {
        "id": change.id,
        "parameter": change.name,
        "old": change.old,
        "new": change.new,
        "changed_by": change.changed_by,
        "changed_at": when(change.changed_at),
    }


def run_json(run: PipelineRunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "pipeline_id": run.pipeline_id,
        "kind": run.kind,
        "status": run.status,
        "started_at": when(run.started_at),
        "ended_at": when(run.ended_at),
        "seconds": seconds_between(run.started_at, run.ended_at),
        "input": run.input,
        "output": run.output,
        "error": run.error,
    }


def step_json(step: PipelineStepRow) -> dict[str, Any]:
    return {
        "id": step.id,
        "name": step.name,
        "status": step.status,
        "started_at": when(step.started_at),
        "ended_at": when(step.ended_at),
        "seconds": seconds_between(step.started_at, step.ended_at),
        "input": step.input,
        "output": step.output,
        "error": step.error,
    }


# The overview ----------------------------------------------------------------------------------


def pipeline_overview(project: Project, name: str) -> dict[str, Any]:
    """Everything the pipeline's page shows: its terms and intake location, the deployed
    version and its F1, every version of its model project, the counters
    (`pipeline_counters`), labeled images against those the deployed version trained on,
    and the last RECENT_RUNS runs. NotFound for an unknown pipeline."""
    counters = pipeline_counters(project, name)
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        terms = pipeline_json(session, pipeline)
        intake = pipeline.intake_uri
        runs = [run_json(run) for run in list_runs(session, pipeline, limit=RECENT_RUNS)]
    versions = [version_json(v) for v in list_versions(project, name)]
    deployed = next((v for v in versions if v["name"] == terms["deployed_version"]), None)
    labeled = count_labeled(project, terms["dataset"], terms["task"])
    return terms | {
        "intake": intake,
        "deployed_f1": deployed["f1"] if deployed is not None else None,
        "versions": versions,
        "labeled_images": labeled,
        "untrained_images": max(labeled - terms["trained_images"], 0),
        "counters": counters,
        "runs": runs,
    }


def version_json(version: ModelVersion) -> dict[str, Any]:
    """A version as the overview lists it: its F1 on its test split and how many images it
    trained on (its training report's count; None before it trained)."""
    report = version.training_report or {}
    return {
        "name": version.name,
        "number": version.number,
        "status": version.status.value,
        "f1": version.f1,
        "trained_images": report.get("images"),
        "created_at": when(version.created_at),
        "ended_at": when(version.training_ended_at),
    }


def pipeline_counters(project: Project, name: str) -> dict[str, Any]:
    """The numbers that move while a pipeline works, cheap enough to read every few seconds:
    the deployed version, detections (by source, reviewed, refused, sampled), the review
    backlog, and the audits of the deployed version with their 95 % interval."""
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        detections = _detection_counts(session, pipeline.id)
        audit = audit_accuracy(session, pipeline)
        backlog = open_loops(project, pipeline)
        deployed = pipeline.deployed_version
    return {
        "deployed_version": deployed,
        "detections": detections,
        "open_loops": backlog,
        "audit": {
            "version": audit.version,
            "right": audit.right,
            "n": audit.n,
            "accuracy": audit.accuracy,
            "low": audit.low,
            "high": audit.high,
        },
    }


def _detection_counts(session: Session, pipeline_id: int) -> dict[str, Any]:
    """The detection log counted in one query: a count per source, and of those that went to
    review (a loop), were refused (an error) or were sampled for an audit."""
    log = PipelineDetectionRow
    rows = session.execute(
        select(
            log.source,
            func.count(),
            func.count(log.loop_name),
            func.count(log.error),
            func.count(case((log.sampled.is_(True), 1))),
        )
        .where(log.pipeline_id == pipeline_id)
        .group_by(log.source)
    ).all()
    by_source = dict.fromkeys(SOURCES, 0)
    reviewed = refused = sampled = 0
    for source, total, with_loop, with_error, were_sampled in rows:
        by_source[source] = int(total)
        reviewed += int(with_loop)
        refused += int(with_error)
        sampled += int(were_sampled)
    return {
        "total": sum(by_source.values()),
        "by_source": by_source,
        "reviewed": reviewed,
        "refused": refused,
        "sampled": sampled,
    }


def list_detections(
    session: Session, pipeline: PipelineRow, *, limit: int = 50, before_id: int | None = None
) -> list[PipelineDetectionRow]:
    """The pipeline's detection log, newest first; the next page starts `before_id` the last
    detection of this one."""
    if not 1 <= limit <= MOST_DETECTIONS:
        raise InputError(f"limit must be from 1 to {MOST_DETECTIONS} detections, not {limit}")
    query = select(PipelineDetectionRow).where(PipelineDetectionRow.pipeline_id == pipeline.id)
    if before_id is not None:
        query = query.where(PipelineDetectionRow.id < before_id)
    return list(session.scalars(query.order_by(PipelineDetectionRow.id.desc()).limit(limit)))
