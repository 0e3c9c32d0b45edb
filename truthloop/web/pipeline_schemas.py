"""What the pipelines REST API takes and gives (truthloop/web/routes/api_pipelines.py).

The shapes are the pipeline layer's own (`truthloop.pipeline.overview`: the CLI's `--json`
prints the same), declared here so that OpenAPI documents them. The parameters' names, kinds,
defaults and ranges are never written here: `PARAMETERS_TABLE` is made from
`core.pipeline_params.describe()`, and a value is checked by the parameter store itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from truthloop.core.pipeline_notices import EVENTS
from truthloop.core.pipeline_params import describe
from truthloop.pipeline import TASKS
from truthloop.pipeline.intake import Detected
from truthloop.pipeline.notify import KINDS
from truthloop.storage.tables import (
    PipelineDetectionRow,
    PipelineNotificationRow,
    PipelineSubscriberRow,
)
from truthloop.web.text_fields import Line


def _parameters_table() -> str:
    rows = [
        f"| `{p['name']}` | {p['type']} | {p['default']} | {p['allowed']} | {p['meaning']} |"
        for p in describe()
    ]
    head = ["| name | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    return "\n".join([*head, *rows])


PARAMETERS_TABLE = _parameters_table()
"""Every parameter, as a Markdown table for the API's documentation."""


# Pipelines ------------------------------------------------------------------------------------


class PipelineCreate(BaseModel):
    name: Line = Field(description="The pipeline's name: its model project's (logos.v1, ...).")
    task: Line = Field(description=f"What its model does: {' or '.join(TASKS)}.")
    dataset: Line = Field(description="The training dataset reviewed images go to.")
    flow: Line | None = Field(
        default=None, description="The review flow unsure detections go to (none: no review)."
    )
    review_team: Line | None = Field(
        default=None,
        description="Instead of `flow`: make the pipeline its own review flow for this team.",
    )
    intake: Line | None = Field(
        default=None,
        description="A folder on the server (inside the home or the allowed roots) or an"
        " `s3://` prefix to watch for new images.",
    )


class PipelinePublic(BaseModel):
    id: int
    name: str
    task: str
    dataset: str
    flow: str | None
    deployed_version: str | None
    trained_images: int = Field(description="Labeled images the deployed version trained on.")
    created_by: int | None
    created_at: datetime


class VersionSummary(BaseModel):
    name: str
    number: int
    status: str
    f1: float | None = Field(description="F1 on the version's test split.")
    trained_images: int | None = Field(description="Images it trained on (its report).")
    created_at: datetime
    ended_at: datetime | None = Field(description="When its training ended.")


class DetectionCounts(BaseModel):
    total: int
    by_source: dict[str, int] = Field(description="Per source: upload, intake.")
    reviewed: int = Field(description="Sent to human review (a loop started).")
    refused: int = Field(description="Logged with an error (an unreadable intake object).")
    sampled: int = Field(description="Picked for an audit.")


class AuditPublic(BaseModel):
    version: str | None
    right: int
    n: int
    accuracy: float | None
    low: float | None = Field(description="The 95 % interval's low end (Clopper-Pearson).")
    high: float | None


class Counters(BaseModel):
    deployed_version: str | None
    detections: DetectionCounts
    open_loops: int = Field(description="Review loops waiting for people (the backlog).")
    audit: AuditPublic = Field(description="The audits of the deployed version.")


class RunPublic(BaseModel):
    id: int
    pipeline_id: int
    kind: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    seconds: float | None
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None


class StepPublic(BaseModel):
    id: int
    name: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    seconds: float | None
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None


class RunDetail(RunPublic):
    pipeline: str
    steps: list[StepPublic]


class PipelineOverview(PipelinePublic):
    intake: str | None
    deployed_f1: float | None
    versions: list[VersionSummary]
    labeled_images: int = Field(description="Images labeled for the task in the dataset.")
    untrained_images: int = Field(description="Labeled images the deployed one did not train on.")
    counters: Counters
    runs: list[RunPublic] = Field(description="The newest runs, newest first.")


# Parameters -----------------------------------------------------------------------------------


class ParamPublic(BaseModel):
    name: str
    value: bool | int | float
    text: str = Field(description='As the seed stores it: "true", "720", "0.8".')
    default: bool | int | float
    allowed: str
    unit: str
    meaning: str


class ParamValue(BaseModel):
    value: bool | int | float | str = Field(
        description='The new value, typed (true, 720, 0.8) or as the seed stores it ("0.8").'
    )


class ParamChangePublic(BaseModel):
    parameter: str
    old: str | None
    new: str
    value: bool | int | float
    changed: bool = Field(description="False when the value was in force already.")
    change_id: int | None
    run_id: int | None
    message: str


class ChangePublic(BaseModel):
    id: int
    parameter: str
    old: str | None
    new: str
    changed_by: int | None
    changed_at: datetime


# Images and detections ------------------------------------------------------------------------


class DetectedPublic(BaseModel):
    """One uploaded image's outcome: what the deployed version found and the loop it started,
    or the error that refused it (the other fields are null then)."""

    name: str
    request_id: str | None
    version: str | None
    labels: list[dict[str, Any]] = Field(description="DetectCustomLabels' CustomLabels.")
    confidence: float | None
    loop: str | None
    error: str | None

    @classmethod
    def of(cls, found: Detected) -> DetectedPublic:
        return cls(
            name=found.name,
            request_id=found.request_id,
            version=found.version,
            labels=list(found.labels),
            confidence=found.confidence,
            loop=found.loop,
            error=found.error,
        )


class DetectionPublic(BaseModel):
    id: int
    request_id: str
    source: str
    image_uri: str
    sha256: str
    version: str | None
    labels: list[dict[str, Any]]
    confidence: float | None
    minimum_confidence: float
    review_enabled: bool
    loop: str | None
    sampled: bool
    audit_loop: str | None
    error: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: PipelineDetectionRow) -> DetectionPublic:
        return cls(
            id=row.id,
            request_id=row.request_id,
            source=row.source,
            image_uri=row.image_uri,
            sha256=row.sha256,
            version=row.version,
            labels=row.labels,
            confidence=row.confidence,
            minimum_confidence=row.minimum_confidence,
            review_enabled=row.review_enabled,
            loop=row.loop_name,
            sampled=row.sampled,
            audit_loop=row.audit_loop,
            error=row.error,
            created_at=row.created_at,
        )


# Subscribers and notifications ----------------------------------------------------------------


class SubscriberCreate(BaseModel):
    kind: Line = Field(description=f"One of {', '.join(KINDS)}.")
    target: Line = Field(description="The e-mail address, or the webhook's URL.")
    events: list[Line] = Field(
        default_factory=list, description=f"Events to tell (none: all): {', '.join(EVENTS)}."
    )
    secret: Line | None = Field(
        default=None, description="A webhook's signing secret (none: one is made)."
    )


class SubscriberPublic(BaseModel):
    id: int
    kind: str
    target: str
    events: list[str]
    active: bool
    created_by: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: PipelineSubscriberRow) -> SubscriberPublic:
        return cls(
            id=row.id,
            kind=row.kind,
            target=row.target,
            events=list(row.events),
            active=row.active,
            created_by=row.created_by,
            created_at=row.created_at,
        )


class SubscriberCreated(SubscriberPublic):
    secret: str | None = Field(description="A webhook's secret, shown in this answer only.")


class NotificationPublic(BaseModel):
    id: int
    event: str
    subject: str
    body: str
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: PipelineNotificationRow) -> NotificationPublic:
        return cls(
            id=row.id,
            event=row.event,
            subject=row.subject,
            body=row.body,
            data=row.data,
            created_at=row.created_at,
        )


class RunQueued(BaseModel):
    """A training check queued for the background worker."""

    pipeline: str
    queued: bool
