"""Gated retraining and blue/green deployment (the seed's `Model Training` state machine):
when enough new labeled images came in, a new version trains, is evaluated on its test split,
and is deployed only if its F1 reaches `Minimum-F1-Score`; then every other running version of
the project stops.

    check_training(project, "logos")                   on the schedule
    check_training(project, "logos", on_demand=True)   `truthloop pipeline run logos`

Two trainings of one pipeline never run at once: the check holds the claim
`pipeline-training:<id>` (storage/claims.py) from the count to the deployment, renewed while
it trains. A check that finds the claim held is recorded as skipped. A worker killed mid-
training loses the claim at once (its process is gone) or when its lease runs out; the next
tick sees the run left running (`training_orphaned`) and checks again, by any worker: that
check fails the orphaned run with the reason and trains again from the start (the half-trained
version is marked failed by the registry: it never served).

Deployment order keeps detections answered: the new version is started (RUNNING) before the
pipeline points at it, and the older ones are stopped after; a detection that read the old
pointer and finds that version stopped asks again (intake.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from truthloop.core.pipeline_params import (
    AUTOMATIC_TRAINING,
    MINIMUM_F1_SCORE,
    MINIMUM_INFERENCE_UNITS,
    MINIMUM_UNTRAINED_IMAGES,
    TEST_SPLIT_PERCENTAGE,
    TRAIN_FROM_DEPLOYED,
)
from truthloop.core.pipeline_policy import TRAINING_RUNNING, passes_gate, training_due
from truthloop.ml.backend import ModelBackend, Task
from truthloop.ml.registry import list_versions, train_version
from truthloop.ml.serving import start_version, stop_version
from truthloop.ml.training_sets import labeled, read_dataset
from truthloop.ml.versions import VersionStatus, backend_class
from truthloop.pipeline.notify import notify
from truthloop.pipeline.params import get_params
from truthloop.pipeline.pipelines import get_pipeline, set_deployed
from truthloop.pipeline.runs import (
    RunKind,
    RunStatus,
    finish_run,
    long_step,
    start_run,
)
from truthloop.storage.claims import ClaimHeld, current, exclusive, process_gone
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineRow, PipelineRunRow, utcnow

log = logging.getLogger("truthloop.pipeline")

TRAINING_LEASE_S = 120.0
"""How long a training's claim outlives its last renewal: a worker on another host that died
mid-training holds up the next check this long at most."""


@dataclass(frozen=True, slots=True)
class TrainingCheck:
    """How a training check ended: its run, status (succeeded, failed or skipped), why, the
    version it trained, that version's F1, and whether it was deployed."""

    run_id: int
    status: str
    reason: str
    version: str | None = None
    f1: float | None = None
    deployed: bool = False


def training_key(pipeline_id: int) -> str:
    return f"pipeline-training:{pipeline_id}"


def check_training(
    project: Project, name: str, *, on_demand: bool = False, now: datetime | None = None
) -> TrainingCheck:
    """Train, gate and deploy a new version when it is due (see the module docstring); the
    check is recorded as a training-check run either way."""
    with project.session() as session:
        pipeline_id = get_pipeline(session, name).id
    try:
        with exclusive(project.db, training_key(pipeline_id), lease_s=TRAINING_LEASE_S):
            _fail_orphaned_runs(project, pipeline_id, now)
            return _check(project, name, on_demand, now)
    except ClaimHeld as held:
        return _skipped_while_training(project, pipeline_id, on_demand, held, now)


def training_orphaned(project: Project, pipeline_id: int) -> bool:
    """Whether a training check of the pipeline was left running by a worker that stopped: it
    is recorded running, and no live worker holds its claim. The next tick retries it."""
    with project.session() as session:
        running = session.scalar(
            select(PipelineRunRow.id).where(
                PipelineRunRow.pipeline_id == pipeline_id,
                PipelineRunRow.kind == RunKind.TRAINING_CHECK,
                PipelineRunRow.status == RunStatus.RUNNING,
            )
        )
    if running is None:
        return False
    held = current(project.db, training_key(pipeline_id))
    return held is None or held[1] <= utcnow() or process_gone(held[0])


def _fail_orphaned_runs(project: Project, pipeline_id: int, now: datetime | None) -> None:
    """Training checks left running by a worker that stopped (it no longer holds the claim,
    which this one now does): failed with the reason; this check does their work again."""
    with project.db.session() as session:
        orphans = session.scalars(
            select(PipelineRunRow).where(
                PipelineRunRow.pipeline_id == pipeline_id,
                PipelineRunRow.kind == RunKind.TRAINING_CHECK,
                PipelineRunRow.status == RunStatus.RUNNING,
            )
        ).all()
        for run in orphans:
            log.warning("pipeline run %s: its worker stopped mid-run; retrying", run.id)
            finish_run(
                session,
                run,
                RunStatus.FAILED,
                error="its worker stopped before the run ended (a crash, or the process was"
                " killed); the next training check retried it",
                now=now,
            )


def _skipped_while_training(
    project: Project, pipeline_id: int, on_demand: bool, held: ClaimHeld, now: datetime | None
) -> TrainingCheck:
    with project.db.session() as session:
        run = start_run(
            session, pipeline_id, RunKind.TRAINING_CHECK, {"on_demand": on_demand}, now=now
        )
        reason = f"{TRAINING_RUNNING.reason} (held by {held.holder})"
        finish_run(session, run, RunStatus.SKIPPED, {"reason": reason}, now=now)
        return TrainingCheck(run.id, RunStatus.SKIPPED.value, reason)


def _check(project: Project, name: str, on_demand: bool, now: datetime | None) -> TrainingCheck:
    with project.db.session() as session:
        pipeline = get_pipeline(session, name)
        params = get_params(session, pipeline)
        run = start_run(
            session,
            pipeline.id,
            RunKind.TRAINING_CHECK,
            _run_input(pipeline, params, on_demand),
            now=now,
        )
        run_id, task, dataset = run.id, pipeline.task, pipeline.dataset
        trained, deployed = pipeline.trained_images, pipeline.deployed_version
    with long_step(
        project.db, run_id, "count-new-images", {"dataset": dataset}, now=now
    ) as counted:
        labeled_images = count_labeled(project, dataset, task)
        decision = training_due(
            automatic=bool(params[AUTOMATIC_TRAINING.name]),
            labeled_images=labeled_images,
            trained_images=trained,
            minimum_untrained=int(params[MINIMUM_UNTRAINED_IMAGES.name]),
            training_running=False,
            on_demand=on_demand,
        )
        counted.output = {
            "labeled_images": labeled_images,
            "trained_images": trained,
            "go": decision.go,
            "reason": decision.reason,
        }
    if not decision.go:
        return _end(project, run_id, RunStatus.SKIPPED, decision.reason, now=now)
    return _train_and_gate(project, name, run_id, params, labeled_images, deployed, now)


def _run_input(pipeline: PipelineRow, params: dict[str, Any], on_demand: bool) -> dict[str, Any]:
    wanted = (AUTOMATIC_TRAINING, MINIMUM_UNTRAINED_IMAGES, MINIMUM_F1_SCORE, TRAIN_FROM_DEPLOYED)
    return {
        "on_demand": on_demand,
        "deployed_version": pipeline.deployed_version,
        "trained_images": pipeline.trained_images,
        **{p.name: params[p.name] for p in wanted},
    }


def count_labeled(project: Project, dataset: str, task: str) -> int:
    """The dataset's images labeled for the pipeline's task (the seed counts the files in its
    folders per label)."""
    records, _ = read_dataset(project, dataset)
    return len(labeled(records, Task(task)))


def _train_and_gate(
    project: Project,
    name: str,
    run_id: int,
    params: dict[str, Any],
    labeled_images: int,
    deployed: str | None,
    now: datetime | None,
) -> TrainingCheck:
    start_from = deployed if params[TRAIN_FROM_DEPLOYED.name] else None
    _tell(
        project,
        name,
        "training-started",
        {
            "run_id": run_id,
            "new_images": labeled_images - _trained(project, name),
            "labeled_images": labeled_images,
            "from_version": start_from,
        },
        now,
    )
    try:
        with long_step(project.db, run_id, "train", {"from_version": start_from}, now=now) as out:
            version = _train(project, name, start_from, float(params[TEST_SPLIT_PERCENTAGE.name]))
            out.output = {
                "version": version.name,
                "report": _report_summary(version.training_report),
            }
    except Exception as error:
        return _failed(project, name, run_id, "train", error, now)
    f1 = (version.metrics or {}).get("f1")
    minimum = float(params[MINIMUM_F1_SCORE.name])
    with long_step(project.db, run_id, "evaluate", {"version": version.name}, now=now) as out:
        gate = passes_gate(f1, minimum)
        out.output = {"f1": f1, "minimum_f1": minimum, "deploy": gate.go, "reason": gate.reason}
    if not gate.go:
        _tell(
            project,
            name,
            "gate-failed",
            {
                "run_id": run_id,
                "version": version.name,
                "f1": f1,
                "minimum_f1": minimum,
                "deployed": deployed,
            },
            now,
        )
        return _end(
            project,
            run_id,
            RunStatus.FAILED,
            f"F1 below minimum: {gate.reason}",
            version=version.name,
            f1=f1,
            now=now,
        )
    units = int(params[MINIMUM_INFERENCE_UNITS.name])
    try:
        stopped = _deploy(project, name, run_id, version.name, labeled_images, units, now)
    except Exception as error:
        return _failed(project, name, run_id, "deploy", error, now)
    _tell(
        project,
        name,
        "version-deployed",
        {
            "run_id": run_id,
            "version": version.name,
            "f1": f1,
            "minimum_f1": minimum,
            "previous": deployed,
            "stopped": stopped,
        },
        now,
    )
    return _end(
        project,
        run_id,
        RunStatus.SUCCEEDED,
        gate.reason,
        version=version.name,
        f1=f1,
        deployed=True,
        now=now,
    )


def _trained(project: Project, name: str) -> int:
    with project.session() as session:
        return get_pipeline(session, name).trained_images


def _train(project: Project, name: str, start_from: str | None, test_percentage: float) -> Any:
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        task, dataset, spec = pipeline.task, pipeline.dataset, pipeline.model
    return train_version(
        project,
        name,
        dataset=dataset,
        task=task,
        from_version=start_from,
        model=None if start_from is not None else first_model(spec),
        test_share=test_percentage / 100,
    )


def first_model(spec: dict[str, Any] | None) -> ModelBackend | None:
    """The untrained model a pipeline's version starts as when it does not start from the
    deployed one: the one it was created with, or None for the built-in model."""
    if spec is None:
        return None
    return backend_class(str(spec["backend"]))(**dict(spec.get("params") or {}))


def _report_summary(report: dict[str, Any] | None) -> dict[str, Any]:
    keys = ("images", "test_images", "epochs", "seconds", "test")
    return {k: (report or {}).get(k) for k in keys}


def _deploy(
    project: Project,
    name: str,
    run_id: int,
    version: str,
    labeled_images: int,
    units: int,
    now: datetime | None,
) -> list[str]:
    """Start `version`, point the pipeline at it, then stop the project's other running
    versions; the versions stopped."""
    with long_step(
        project.db, run_id, "deploy", {"version": version, "inference_units": units}, now=now
    ) as out:
        start_version(project, version, units)
        with project.db.session() as session:
            previous = get_pipeline(session, name).deployed_version
            set_deployed(session, name, version, labeled_images)
        out.output = {"deployed": version, "previous": previous, "inference_units": units}
    with long_step(project.db, run_id, "stop-previous-versions", {"keep": version}, now=now) as out:
        others = [
            v.name
            for v in list_versions(project, name)
            if v.name != version and v.status is VersionStatus.RUNNING
        ]
        for other in others:
            stop_version(project, other)
        out.output = {"stopped": others}
    return others


def _failed(
    project: Project, name: str, run_id: int, where: str, error: Exception, now: datetime | None
) -> TrainingCheck:
    """A step failed (its run is failed with it); subscribers are told what broke."""
    log.warning("pipeline %s: %s failed: %s", name, where, error)
    _tell(
        project,
        name,
        "error",
        {
            "run_id": run_id,
            "kind": RunKind.TRAINING_CHECK.value,
            "step": where,
            "error": str(error),
        },
        now,
    )
    return TrainingCheck(run_id, RunStatus.FAILED.value, f"{where}: {error}")


def _end(
    project: Project,
    run_id: int,
    status: RunStatus,
    reason: str,
    *,
    version: str | None = None,
    f1: float | None = None,
    deployed: bool = False,
    now: datetime | None = None,
) -> TrainingCheck:
    with project.db.session() as session:
        run = session.get_one(PipelineRunRow, run_id)
        output = {"reason": reason, "version": version, "f1": f1, "deployed": deployed}
        error = reason if status is RunStatus.FAILED else None
        finish_run(session, run, status, output, error, now=now)
    return TrainingCheck(run_id, status.value, reason, version, f1, deployed)


def _tell(
    project: Project, name: str, event: str, facts: dict[str, Any], now: datetime | None
) -> None:
    with project.db.session() as session:
        notify(session, get_pipeline(session, name), event, facts, now=now)
