"""Training a version on request (the portal and `POST /api/models`): what a request asks for,
the checks made before it is queued, the latest progress kept on the version's row for other
processes (the portal) to read, and starting a version with the inference units asked for.

    spec = TrainSpec("logos", Task.DETECTION, "logos-train", backbone="scratch", epochs=5)
    check_spec(project, spec)            # refuses bad requests before anything is queued
    train(project, spec)                 # in the worker: progress lands on the version's row
    training_progress(project, "logos.v3")
    # {"phase": "train", "epoch": 2, "epochs": 5, "loss": 0.41, "elapsed_s": 12.0, ...}

Inference units have no meaning in serving yet (a RUNNING version is loaded by each web process
that detects with it): a start records the number asked for, and the pages show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from truthloop.core.names import name_problem
from truthloop.errors import InputError, InvalidName, ModelError
from truthloop.ml import registry
from truthloop.ml.backbones import check_backbone
from truthloop.ml.backend import Task, TrainProgress
from truthloop.ml.training_sets import training_set
from truthloop.ml.versions import ModelVersion, version_row
from truthloop.storage.project import Project
from truthloop.storage.tables import ModelVersionRow, utcnow

MAX_EPOCHS = 1000
"""The most epochs a request may ask for: a slip (10000 for 100) would hold a worker for days."""
PROGRESS_EVERY_S = 1.0
"""How often the progress row is written at most (and at every phase change): a write per
optimiser step would load the database for nothing the page can show."""
DONE = "done"
"""The progress phase recorded once a training completed."""


@dataclass(frozen=True, slots=True)
class TrainSpec:
    """What a training request asks for: `project` is the model project the version joins; no
    `test_dataset` holds out a share of `dataset`; `from_version` starts from its weights;
    None for `backbone` or `epochs` takes the model's default (or the parent's)."""

    project: str
    task: Task
    dataset: str
    test_dataset: str | None = None
    from_version: str | None = None
    backbone: str | None = None
    epochs: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "task": self.task.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainSpec:
        return cls(**{**data, "task": Task(data["task"])})


def check_spec(project: Project, spec: TrainSpec) -> None:
    """Refuse a request that cannot train, saying why: a bad name, backbone or epoch count, an
    unknown dataset or parent, or data `training_set` refuses. Checked again when it runs: the
    data may change while it waits."""
    problem = name_problem("model project", spec.project)
    if problem:
        raise InvalidName(problem)
    if spec.epochs is not None and not 1 <= spec.epochs <= MAX_EPOCHS:
        raise InputError(f"epochs is {spec.epochs}; it must be from 1 to {MAX_EPOCHS}")
    if spec.backbone is not None:
        check_backbone(spec.backbone)
    if spec.from_version is not None:
        _check_parent(registry.get_version(project, spec.from_version), spec)
    training_set(
        project,
        spec.task,
        spec.dataset,
        test_dataset=spec.test_dataset,
        min_images=_min_images(spec),
    )


def _check_parent(parent: ModelVersion, spec: TrainSpec) -> None:
    if parent.task is not spec.task:
        raise ModelError(
            f"cannot train a {spec.task.value} model from {parent.name}, a"
            f" {parent.task.value} model"
        )
    if not parent.status.trained:
        raise ModelError(f"cannot train from {parent.name}: it is {parent.status.value}")
    backbone = parent.params.get("backbone")
    if spec.backbone is not None and backbone is not None and spec.backbone != backbone:
        raise InputError(
            f"backbone {spec.backbone!r} does not fit {parent.name}'s weights (backbone"
            f" {backbone!r}): leave the backbone out to train from {parent.name}"
        )


def _min_images(spec: TrainSpec) -> int:
    """The fewest labeled images the built-in model trains on (a FakeModel or a parent's kind
    asks no more)."""
    return registry.default_backend(spec.task, spec.epochs, spec.backbone).min_images


def train(
    project: Project,
    spec: TrainSpec,
    *,
    on_recorded: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ModelVersion:
    """Train the version `spec` asks for, keeping its latest progress on its row."""
    recorder = ProgressRecorder(project, clock=clock)

    def recorded(name: str) -> None:
        recorder.start(name)
        if on_recorded:
            on_recorded(name)

    version = registry.train_version(
        project,
        spec.project,
        dataset=spec.dataset,
        task=spec.task,
        test_dataset=spec.test_dataset,
        from_version=spec.from_version,
        epochs=spec.epochs,
        backbone=spec.backbone,
        progress=recorder,
        on_recorded=recorded,
    )
    recorder.finish()
    return version


class ProgressRecorder:
    """A `progress` callback that writes the latest `TrainProgress` to its version's
    `training_progress`, with the time spent and an estimate of the time left in the phase."""

    def __init__(self, project: Project, *, clock: Callable[[], float] = time.monotonic):
        self.project = project
        self.clock = clock
        self.version: str | None = None
        self.started = self.phase_started = self.written = 0.0
        self.phase = ""
        self.last: dict[str, Any] | None = None

    def start(self, version: str) -> None:
        self.version = version
        self.started = self.phase_started = self.clock()
        self._write({"phase": "starting", "elapsed_s": 0.0, "remaining_s": None, "fraction": 0.0})

    def __call__(self, progress: TrainProgress) -> None:
        if self.version is None:
            return  # progress before the version is recorded has no row to go on
        now = self.clock()
        changed = progress.phase != self.phase
        if changed:
            self.phase, self.phase_started = progress.phase, now
        last_step = progress.epoch == progress.epochs and progress.step == progress.steps
        if changed or last_step or now - self.written >= PROGRESS_EVERY_S:
            self._write(progress_json(progress, now - self.started, now - self.phase_started))

    def finish(self) -> None:
        if self.last is not None:
            elapsed = self.clock() - self.started
            self._write(
                {
                    **self.last,
                    "phase": DONE,
                    "elapsed_s": elapsed,
                    "remaining_s": 0.0,
                    "fraction": 1.0,
                }
            )

    def _write(self, progress: dict[str, Any]) -> None:
        if self.version is None:
            return
        self.written, self.last = self.clock(), progress
        with self.project.session() as session:
            version_row(session, self.version).training_progress = {
                **progress,
                "updated_at": utcnow().isoformat(),
            }


def progress_json(progress: TrainProgress, elapsed: float, in_phase: float) -> dict[str, Any]:
    """One progress report as the portal shows it. The time left is the phase's so far scaled
    by the share of its steps still to go (calibrating and evaluating report no steps)."""
    total = progress.epochs * progress.steps
    done = (progress.epoch - 1) * progress.steps + progress.step
    fraction = done / total if total > 0 else 1.0
    remaining = in_phase * (1 - fraction) / fraction if fraction > 0 else None
    return {
        "phase": progress.phase,
        "epoch": progress.epoch,
        "epochs": progress.epochs,
        "step": progress.step,
        "steps": progress.steps,
        "loss": progress.loss,
        "elapsed_s": round(elapsed, 2),
        "remaining_s": None if remaining is None else round(remaining, 2),
        "fraction": round(fraction, 4),
        "skipped": len(progress.skipped),
    }


@dataclass(frozen=True, slots=True)
class ServingState:
    """What the registry's `ModelVersion` does not carry: the latest training progress and
    the inference units its last start asked for."""

    progress: dict[str, Any] | None
    inference_units: int | None


def serving_state(project: Project, name: str) -> ServingState:
    with project.db.read_session() as session:
        found = session.execute(
            select(ModelVersionRow.training_progress, ModelVersionRow.inference_units).where(
                ModelVersionRow.name == name
            )
        ).first()
    if found is None:
        return ServingState(None, None)
    return ServingState(found[0], found[1])


def training_progress(project: Project, name: str) -> dict[str, Any] | None:
    return serving_state(project, name).progress
