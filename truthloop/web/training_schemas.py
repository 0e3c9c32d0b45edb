"""What the REST API takes and gives for trainings on request and for starting a version with
inference units (`POST /api/models`, `GET /api/model-trainings/{request}`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from truthloop.core.holdout import HOLD_OUT_SHARE
from truthloop.ml.backbones import BACKBONES
from truthloop.ml.backend import Task
from truthloop.ml.serving import MAX_UNITS, MIN_UNITS
from truthloop.ml.training_runs import MAX_EPOCHS, TrainSpec


class TrainRequest(BaseModel):
    project: str = Field(max_length=128, description="The model project the version joins.")
    task: Task
    dataset: str = Field(max_length=128)
    test_dataset: str | None = Field(
        default=None,
        max_length=128,
        description=f"Omitted: {HOLD_OUT_SHARE:.0%} of the dataset's labeled images test it.",
    )
    from_version: str | None = Field(
        default=None, max_length=160, description="Start from this version's weights."
    )
    backbone: str | None = Field(
        default=None, description=f"One of {', '.join(BACKBONES)}; omitted: the default."
    )
    epochs: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)

    def spec(self) -> TrainSpec:
        return TrainSpec(
            project=self.project,
            task=self.task,
            dataset=self.dataset,
            test_dataset=self.test_dataset or None,
            from_version=self.from_version or None,
            backbone=self.backbone or None,
            epochs=self.epochs,
        )


class TrainQueued(BaseModel):
    request: str = Field(description="Follow it at `state_url`.")
    project: str
    state_url: str


class TrainingState(BaseModel):
    request: str
    state: Literal["queued", "training", "completed", "failed"]
    spec: dict[str, Any] | None
    version: str | None = Field(description="Known once the worker recorded the version.")
    status: str | None
    progress: dict[str, Any] | None = Field(
        description="phase, epoch, epochs, step, steps, loss, elapsed_s, remaining_s, fraction."
    )
    failure_reason: str | None = Field(description="Why the version's training failed.")
    error: str | None = Field(description="Why the request failed before a version existed.")


class VersionProgress(BaseModel):
    version: str
    status: str
    progress: dict[str, Any] | None
    failure_reason: str | None
    inference_units: int | None


class StartRequest(BaseModel):
    inference_units: int = Field(
        default=MIN_UNITS,
        ge=MIN_UNITS,
        le=MAX_UNITS,
        description="Recorded and shown; serving does not scale by it yet.",
    )
