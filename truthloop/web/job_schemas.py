"""What the REST API takes and gives for jobs, tasks and answers: one schema per use."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError

from truthloop.core import job_terms as terms
from truthloop.core.serialize import value_to_json
from truthloop.core.types import Box, Boxes, Classification, MultiLabel, Split, Value, Verification
from truthloop.errors import InputError
from truthloop.labeling import JobProgress, JobSpec, SubmitResult, Subset, TaskType, TaskView
from truthloop.labeling.autolabel import AutoLabelSpec, Sampling
from truthloop.ml.backbones import BACKBONES
from truthloop.storage.tables import JobRow
from truthloop.web.text_fields import Label, Line, Text

LabelName = Annotated[Label, Field(min_length=1, max_length=256)]


def _whole(term: terms.WholeNumberTerm) -> Any:
    """A whole-number field with the term's default and the bounds the service enforces."""
    return Field(default=term.default, ge=term.low, le=term.high)


class AutoLabelTerms(BaseModel):
    """Automated labeling: a model labels what it is sure of, people the rest."""

    target_accuracy: float = Field(
        default=terms.TARGET_ACCURACY, ge=terms.MIN_ACCURACY, lt=1.0
    )
    confidence: float = Field(
        default=terms.BOUND_CONFIDENCE, ge=terms.MIN_ACCURACY, lt=1.0,
        description="Of the bound on the machine labels' error.",
    )
    batch_size: int | None = Field(default=None, ge=1, description="None: a tenth of the items.")
    validation_size: int | None = Field(
        default=None, ge=1, description="None: an eighth of the items, growing as validation_max."
    )
    validation_max: int | None = Field(
        default=None,
        ge=1,
        description="Most the validation set may grow to while the confidence bound holds the"
        " threshold back. None: a sixth of the items, or validation_size when that is given.",
    )
    budget: FiniteFloat | None = Field(default=None, gt=0)
    compute_price_per_hour: FiniteFloat = Field(default=terms.COMPUTE_PRICE_PER_HOUR, ge=0)
    sampling: Sampling = Sampling.UNCERTAINTY
    initial_model: Line | None = Field(
        default=None, max_length=160, description="A model version to start from (chaining)."
    )
    pre_annotate: bool = Field(
        default=True,
        description="People see the model's labels of the items they label for training"
        " (stored under '<job>-proposals'); validation items never show them.",
    )
    backbone: Line | None = Field(
        default=None,
        max_length=64,
        description=f"What the built-in model is built on: one of {', '.join(BACKBONES)}."
        " None: the default (efficientnet-lite0 where installed).",
    )

    def to_spec(self) -> AutoLabelSpec:
        return AutoLabelSpec(**self.model_dump())


class JobCreate(BaseModel):
    name: Line = Field(min_length=1, max_length=128)
    dataset: Line = Field(min_length=1, max_length=128)
    task_type: TaskType
    team: Line = Field(min_length=1, max_length=128)
    labels: list[LabelName] | None = Field(
        default=None, max_length=1000, description="None: the dataset's label set."
    )
    instructions: Text = Field(default="", max_length=100_000, description="Markdown.")
    workers_per_item: int = _whole(terms.WORKERS_PER_ITEM)
    task_time_limit_s: int = _whole(terms.TASK_TIME_LIMIT_S)
    task_lifetime_s: int = _whole(terms.TASK_LIFETIME_S)
    max_concurrent_tasks: int = _whole(terms.MAX_CONCURRENT_TASKS)
    price_per_task: FiniteFloat = Field(default=terms.PRICE_PER_TASK, ge=0)
    proposals: Line | None = Field(
        default=None, max_length=256, description="Label attribute whose annotations are shown."
    )
    split: Split | None = None
    label: Label | None = Field(default=None, max_length=256)
    query: Line | None = Field(default=None, max_length=1000, description="URI substring.")
    verification_categories: list[LabelName] = Field(
        default=list(terms.VERIFICATION_CATEGORIES), min_length=2, max_length=20
    )
    auto_label: AutoLabelTerms | None = Field(
        default=None, description="Turn automated labeling on (classification and boxes)."
    )

    def to_spec(self) -> JobSpec:
        subset = (
            Subset(split=self.split, label=self.label, query=self.query)
            if self.split or self.label or self.query
            else None
        )
        return JobSpec(
            name=self.name,
            dataset=self.dataset,
            task_type=self.task_type,
            team=self.team,
            labels=tuple(self.labels) if self.labels is not None else None,
            instructions=self.instructions,
            workers_per_item=self.workers_per_item,
            task_time_limit_s=self.task_time_limit_s,
            task_lifetime_s=self.task_lifetime_s,
            max_concurrent_tasks=self.max_concurrent_tasks,
            price_per_task=self.price_per_task,
            proposals=self.proposals or None,
            subset=subset,
            verification_categories=tuple(self.verification_categories),
        )

    def auto_label_spec(self) -> AutoLabelSpec | None:
        """The automated labeling terms, None for a job without it."""
        return self.auto_label.to_spec() if self.auto_label is not None else None


class JobForm(BaseModel):
    """The portal's new-job form: text fields, labels and categories comma-separated."""

    name: Line = Field(min_length=1, max_length=128)
    dataset: Line = Field(min_length=1, max_length=128)
    task_type: TaskType
    team: Line = Field(min_length=1, max_length=128)
    labels: Line = Field(default="", max_length=100_000)
    instructions: Text = Field(default="", max_length=100_000)
    workers_per_item: int = _whole(terms.WORKERS_PER_ITEM)
    task_time_limit_s: int = _whole(terms.TASK_TIME_LIMIT_S)
    price_per_task: FiniteFloat = Field(default=terms.PRICE_PER_TASK, ge=0)
    proposals: Line = Field(default="", max_length=256)
    verification_categories: Line = Field(
        default=", ".join(terms.VERIFICATION_CATEGORIES), max_length=2000
    )
    auto_label: bool = False
    target_accuracy: float = terms.TARGET_ACCURACY
    pre_annotate: bool = False  # a checkbox sends nothing when cleared; the form checks it

    def to_create(self) -> JobCreate:
        try:
            return JobCreate(
                name=self.name.strip(),
                dataset=self.dataset,
                task_type=self.task_type,
                team=self.team,
                labels=_comma_list(self.labels) or None,
                instructions=self.instructions,
                workers_per_item=self.workers_per_item,
                task_time_limit_s=self.task_time_limit_s,
                price_per_task=self.price_per_task,
                proposals=self.proposals.strip() or None,
                verification_categories=_comma_list(self.verification_categories),
                auto_label=(
                    AutoLabelTerms(
                        target_accuracy=self.target_accuracy, pre_annotate=self.pre_annotate
                    )
                    if self.auto_label
                    else None
                ),
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            raise InputError(f"the new job's form is not valid: {problems}") from None


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    task_type: TaskType
    label_attribute: str
    labels: list[str]
    verification_categories: list[str]
    instructions: str
    workers_per_item: int
    task_time_limit_s: int
    task_lifetime_s: int
    max_concurrent_tasks: int
    price_per_task: float
    proposals: str | None
    subset: dict[str, Any] | None
    status: str
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, job: JobRow) -> JobPublic:
        return cls.model_validate(job)


class JobProgressPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    total_items: int
    done: int
    leased: int
    waiting: int
    submitted: int
    expired: int
    human_labels: int
    machine_labels: int
    cost: float
    median_seconds: float | None
    status: str

    @classmethod
    def of(cls, progress: JobProgress) -> JobProgressPublic:
        return cls.model_validate(progress)


class WorkerJobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job_id: int
    name: str
    task_type: TaskType
    waiting: int = Field(description="Items you could take now, counted up to 1000.")
    waiting_more: bool = Field(description="More than `waiting` items wait.")
    mine_in_progress: int


class WorkerQualityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    username: str
    job_id: int | None
    submitted: int
    compared: int
    agreement: float | None = Field(description="Mean agreement with the consolidated label.")
    median_seconds: float | None


def proposal_json(value: Value | None) -> dict[str, Any] | None:
    """Proposals as the annotators read them: boxes as objects, with their confidences."""
    if value is None:
        return None
    if isinstance(value, Boxes):
        return {
            "kind": "boxes",
            "boxes": [
                {"label": b.label, "left": b.left, "top": b.top, "width": b.width,
                 "height": b.height, "confidence": b.confidence}
                for b in value.boxes
            ],
        }
    return {"kind": value.kind.value, **value_to_json(value)}


class TaskPublic(BaseModel):
    task_id: int
    job_id: int
    item_id: int
    image_url: str
    width: int | None
    height: int | None
    task_type: TaskType
    labels: list[str]
    instructions_html: str = Field(description="Sanitized HTML of the job's instructions.")
    proposals: dict[str, Any] | None
    lease_expires_at: datetime
    time_limit_s: int
    verification_categories: list[str]

    @classmethod
    def of(cls, task: TaskView) -> TaskPublic:
        return cls(
            task_id=task.task_id,
            job_id=task.job_id,
            item_id=task.item_id,
            image_url=f"/api/tasks/{task.task_id}/image",
            width=task.width,
            height=task.height,
            task_type=task.task_type,
            labels=list(task.labels),
            instructions_html=task.instructions_html,
            proposals=proposal_json(task.proposals),
            lease_expires_at=task.lease_expires_at,
            time_limit_s=task.time_limit_s,
            verification_categories=list(task.verification_categories),
        )


class BoxIn(BaseModel):
    """A box in image pixels, top-left origin."""

    label: LabelName
    left: FiniteFloat
    top: FiniteFloat
    width: FiniteFloat
    height: FiniteFloat


class ClassificationAnswer(BaseModel):
    kind: Literal["classification"]
    label: LabelName

    def value(self) -> Value:
        return Classification(self.label)


class MultiLabelAnswer(BaseModel):
    kind: Literal["multilabel"]
    labels: list[LabelName] = Field(max_length=1000)

    def value(self) -> Value:
        return MultiLabel(tuple(self.labels))


class BoxesAnswer(BaseModel):
    kind: Literal["boxes"]
    boxes: list[BoxIn] = Field(max_length=2000)
    adjusted: bool | None = None

    def value(self) -> Value:
        return Boxes(
            tuple(Box(b.label, b.left, b.top, b.width, b.height) for b in self.boxes),
            adjusted=self.adjusted,
        )


class VerificationAnswer(BaseModel):
    kind: Literal["verification"]
    verdict: LabelName
    verdict_id: int = Field(ge=0)
    comment: Text = Field(default="", max_length=2000)

    def value(self) -> Value:
        comments = (self.comment,) if self.comment.strip() else ()
        return Verification(self.verdict, self.verdict_id, comments=comments)


Answer = Annotated[
    ClassificationAnswer | MultiLabelAnswer | BoxesAnswer | VerificationAnswer,
    Field(discriminator="kind"),
]


class SubmitRequest(BaseModel):
    client_id: str = Field(
        min_length=8, max_length=terms.MAX_CLIENT_ID_CHARS, pattern=r"^[A-Za-z0-9_-]+$",
        description="Made by the client (a UUID); a retry with the same id is stored once.",
    )
    answer: Answer
    seconds: FiniteFloat = Field(ge=0, le=7 * 24 * 3600, description="Time spent on the task.")


class SubmitResultPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    task_id: int
    accepted: bool
    duplicate: bool
    item_done: bool

    @classmethod
    def of(cls, result: SubmitResult) -> SubmitResultPublic:
        return cls.model_validate(result)
