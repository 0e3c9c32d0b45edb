"""What the review REST API takes and gives (truthloop/web/routes/api_review.py).

Field names follow one rule: where a body is one of A2I's own documents it keeps A2I's
PascalCase, so a client written for A2I reads and writes it unchanged: StartHumanLoop's
request, DescribeFlowDefinition's, DescribeHumanLoop's and ListHumanLoops' answers (the review
service's `describe_flow`/`describe_loop`), and the output.json and EventBridge bodies, passed
through as stored. Everything that is truthloop's own (creating task UIs and flows, previews,
events as a feed, webhooks, deliveries) is snake_case, as the rest of the API. Defaults and
bounds come from `truthloop.core.review_terms`, the terms the service itself checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from truthloop.core import review_terms as terms
from truthloop.core.job_terms import WholeNumberTerm
from truthloop.errors import InputError
from truthloop.formats.a2i import flow_arn
from truthloop.review import FlowSpec
from truthloop.review.templates import MAX_TEMPLATE_CHARS
from truthloop.review.webhooks import MAX_URL_LENGTH
from truthloop.storage.tables import HumanTaskUiRow, WebhookDeliveryRow, WebhookRow
from truthloop.web.text_fields import Line, Text

A2I_NAME = (
    f"1-{terms.A2I_NAME_CHARS} lowercase letters, digits and hyphens, starting and ending with"
    " a letter or digit (A2I's rule)."
)


def _whole(term: WholeNumberTerm) -> Any:
    """A whole-number field with the term's default and the bounds the service enforces."""
    return Field(default=term.default, ge=term.low, le=term.high, description=term.what)


# Task UIs (CreateHumanTaskUi, RenderUiTemplate) ---------------------------------------------


class TaskUiCreate(BaseModel):
    name: Line = Field(max_length=terms.A2I_NAME_CHARS, description=A2I_NAME)
    template: Text = Field(
        max_length=MAX_TEMPLATE_CHARS,
        description="HTML, Liquid and Crowd HTML Elements; each top-level key of a loop's"
        " input is `task.input.<key>`. Checked now: a Liquid syntax error, an unknown filter or"
        " an `include` is refused naming its line.",
    )


class TaskUiSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    created_at: datetime


class TaskUiPublic(TaskUiSummary):
    template: str

    @classmethod
    def of(cls, row: HumanTaskUiRow) -> TaskUiPublic:
        return cls.model_validate(row)


class RenderRequest(BaseModel):
    """RenderUiTemplate: give the template itself, or the name of a stored one."""

    template: Text | None = Field(default=None, max_length=MAX_TEMPLATE_CHARS)
    task_ui: Line | None = Field(default=None, max_length=terms.A2I_NAME_CHARS)
    input: dict[str, Any] = Field(
        description="A sample of a loop's input (its InputContent, parsed): `task.input`."
    )


class RenderPublic(BaseModel):
    rendered_content: str
    errors: list[str] = Field(
        description="What is wrong or risky: a refused template (then nothing is rendered), a"
        " failed render, keys the sample lacks, scripts the task frame would block."
    )


# Flow definitions (CreateFlowDefinition, DescribeFlowDefinition) ----------------------------


class FlowCreate(BaseModel):
    name: Line = Field(max_length=terms.A2I_NAME_CHARS, description=A2I_NAME)
    team: Line = Field(min_length=1, description="The team whose members review (Workteam).")
    task_ui: Line = Field(min_length=1, description="The human task UI reviewers see.")
    title: Text = Field(max_length=terms.TASK_TITLE_CHARS, description="TaskTitle.")
    output: Line = Field(
        min_length=1,
        description="Where each loop's output.json goes (S3OutputPath): an `s3://` prefix, or"
        " a folder on the server inside the project home or the allowed roots.",
    )
    description: Text = Field(
        default="", max_length=terms.TASK_DESCRIPTION_CHARS, description="TaskDescription."
    )
    task_count: int = _whole(terms.TASK_COUNT)
    lifetime_s: int = _whole(terms.TASK_LIFETIME_S)
    time_limit_s: int = _whole(terms.TASK_TIME_LIMIT_S)
    conditions: dict[str, Any] | str | None = Field(
        default=None,
        description="HumanLoopActivationConditions, as an object or its JSON text; null: every"
        " detect request of an attached model is reviewed.",
    )
    model_version: Line | None = Field(
        default=None, description="A model version whose detect calls route through the flow."
    )

    def to_spec(self) -> FlowSpec:
        return FlowSpec(**self.model_dump())


class ModelAttach(BaseModel):
    version: Line | None = Field(description="The model version to attach; null detaches.")


class LoopConfigShape(BaseModel):
    Workteam: str
    HumanTaskUi: str
    TaskTitle: str
    TaskDescription: str
    TaskCount: int
    TaskAvailabilityLifetimeInSeconds: int
    TaskTimeLimitInSeconds: int


class OutputConfigShape(BaseModel):
    S3OutputPath: str


class FlowDescription(BaseModel):
    """DescribeFlowDefinition's answer, and truthloop's ModelVersion."""

    FlowDefinitionName: str
    FlowDefinitionArn: str
    FlowDefinitionStatus: Literal["Initializing", "Active", "Failed", "Deleting"]
    FailureReason: str | None
    CreationTime: str
    HumanLoopConfig: LoopConfigShape
    HumanLoopActivationConditions: str | None
    OutputConfig: OutputConfigShape
    ModelVersion: str | None


# Human loops (StartHumanLoop, DescribeHumanLoop, ListHumanLoops) ----------------------------


class LoopInputShape(BaseModel):
    InputContent: str = Field(
        max_length=terms.MAX_INPUT_CONTENT_CHARS,
        description="The JSON text of an object; its top-level keys are `task.input.<key>`.",
    )


class DataAttributesShape(BaseModel):
    ContentClassifiers: list[str] = Field(
        description="Among " + ", ".join(terms.CONTENT_CLASSIFIERS) + "."
    )


class LoopStartRequest(BaseModel):
    """StartHumanLoop. Name the flow by FlowDefinitionName, or by FlowDefinitionArn as A2I's
    clients do; a retry with the same name and input returns the loop (200)."""

    HumanLoopName: Line = Field(max_length=terms.A2I_NAME_CHARS, description=A2I_NAME)
    FlowDefinitionName: Line | None = None
    FlowDefinitionArn: Line | None = None
    HumanLoopInput: LoopInputShape
    DataAttributes: DataAttributesShape | None = None

    def flow_name(self) -> str:
        """The flow, named or given by its ARN (both: they must agree)."""
        name, arn = self.FlowDefinitionName, self.FlowDefinitionArn
        if name is None and arn is None:
            raise InputError("name the flow: FlowDefinitionName (or FlowDefinitionArn)")
        if arn is not None:
            from_arn = arn.rpartition("/")[2]
            if "flow-definition/" not in arn or flow_arn(from_arn) != arn:
                raise InputError(
                    f"FlowDefinitionArn {arn!r} is not a truthloop flow definition's ARN"
                    f" ({flow_arn('name')})"
                )
            if name is not None and name != from_arn:
                raise InputError("FlowDefinitionName and FlowDefinitionArn name different flows")
            return from_arn
        assert name is not None
        return name

    def data_attributes(self) -> dict[str, Any] | None:
        return self.DataAttributes.model_dump() if self.DataAttributes is not None else None


class LoopOutputShape(BaseModel):
    OutputS3Uri: str


class LoopDescription(BaseModel):
    """DescribeHumanLoop's answer: FailureCode and FailureReason when it failed,
    HumanLoopOutput once it completed."""

    CreationTime: str
    HumanLoopStatus: Literal["InProgress", "Failed", "Completed", "Stopped", "Stopping"]
    HumanLoopName: str
    HumanLoopArn: str
    FlowDefinitionArn: str
    FlowDefinitionName: str
    FailureCode: str | None = None
    FailureReason: str | None = None
    HumanLoopOutput: LoopOutputShape | None = None


class HumanLoopSummary(BaseModel):
    HumanLoopName: str
    HumanLoopStatus: str
    CreationTime: str
    FailureReason: str | None = None
    FlowDefinitionArn: str

    @classmethod
    def of(cls, described: dict[str, Any]) -> HumanLoopSummary:
        return cls.model_validate(described)


class LoopList(BaseModel):
    HumanLoopSummaries: list[HumanLoopSummary]
    NextToken: str | None = Field(
        default=None, description="Pass as `next_token` for the next page; absent on the last."
    )


# Events, webhooks and their deliveries ------------------------------------------------------


class ReviewEventPublic(BaseModel):
    id: int = Field(description="Pass the last one as `after` to read on.")
    loop: str
    status: str
    created_at: datetime
    event: dict[str, Any] = Field(
        description="The body A2I sends to EventBridge (detail-type 'SageMaker A2I HumanLoop"
        " Status Change'), as webhooks receive it."
    )


class ReviewEventPage(BaseModel):
    events: list[ReviewEventPublic]
    after: int = Field(description="The id to pass as `after` next: the last one read.")


class WebhookCreate(BaseModel):
    url: Line = Field(max_length=MAX_URL_LENGTH, description="http:// or https://")
    flow: Line | None = Field(default=None, description="Only this flow's events; null: all.")


class WebhookPublic(BaseModel):
    id: int
    url: str
    flow: str | None
    active: bool = Field(description="False once removed: nothing more is sent to it.")
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookRow, flow: str | None) -> WebhookPublic:
        return cls(id=row.id, url=row.url, flow=flow, active=row.active, created_at=row.created_at)


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="Signs every request (X-Truthloop-Signature, HMAC-SHA256): shown this once."
    )


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    webhook_id: int
    state: Literal["delivered", "pending", "given up"]
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None
    attempts_log: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookDeliveryRow) -> DeliveryPublic:
        state: Literal["delivered", "pending", "given up"] = (
            "delivered"
            if row.delivered_at is not None
            else "pending"
            if row.next_attempt_at is not None
            else "given up"
        )
        return cls(
            id=row.id,
            event_id=row.event_id,
            webhook_id=row.webhook_id,
            state=state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            last_status=row.last_status,
            last_error=row.last_error,
            attempts_log=list(row.attempts_log or []),
            created_at=row.created_at,
        )
