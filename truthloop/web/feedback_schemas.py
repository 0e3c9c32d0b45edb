"""What the REST API takes and gives for feedback runs: one schema per use.

Each answer is built from the service's `to_json()`, so the API answers the same keys as
`truthloop feedback ... --json`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from truthloop.core import job_terms as terms
from truthloop.labeling.feedback import FeedbackMode, FeedbackRun
from truthloop.labeling.feedback.collect import CollectResult
from truthloop.labeling.feedback.report import FeedbackReport
from truthloop.web.text_fields import Line


class FeedbackStart(BaseModel):
    model: Line
    dataset: Line
    team: Line
    mode: FeedbackMode = FeedbackMode.VERIFY
    batch_size: int = Field(terms.FEEDBACK_BATCH_SIZE, ge=1)
    min_confidence: float = Field(terms.FEEDBACK_MIN_CONFIDENCE, ge=0.0, le=1.0)
    name: Line | None = None


class FeedbackCollect(BaseModel):
    partial: bool = False
    dataset: Line | None = None


class FeedbackCountsPublic(BaseModel):
    """What people did with the model's proposals."""

    accepted: int
    adjusted: int
    rejected: int
    added: int


class FeedbackBatchPublic(BaseModel):
    number: int
    job: str
    job_id: int
    images: int
    done: int
    status: str


class FeedbackRunPublic(BaseModel):
    name: str
    model: str
    dataset: str
    mode: FeedbackMode
    batch_size: int
    min_confidence: float
    team: str
    status: str
    images: int
    done: int
    batches: list[FeedbackBatchPublic]
    verified_dataset: str | None
    counts: FeedbackCountsPublic | None = Field(description="Known once the run is collected.")
    human_seconds: float | None
    next_version: str | None
    created_at: str = Field(description="ISO 8601.")
    collect_command: str

    @classmethod
    def of(cls, run: FeedbackRun) -> FeedbackRunPublic:
        return cls.model_validate(run.to_json())


class CollectResultPublic(BaseModel):
    """What a collect wrote: `images` lines in `manifest`, imported as `dataset`."""

    run: str
    dataset: str
    manifest: str
    images: int
    counts: FeedbackCountsPublic
    human_seconds: float
    partial: bool
    missing: int = Field(description="Tasks not answered yet (only a partial collect leaves any).")

    @classmethod
    def of(cls, result: CollectResult) -> CollectResultPublic:
        return cls.model_validate(result.to_json())


class LabelMetricsPublic(BaseModel):
    label: str
    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    testing_images: int


class ConfusionCellPublic(BaseModel):
    ground_truth: str
    predicted: str
    count: int
    value: float


class SkippedImagePublic(BaseModel):
    uri: str
    reason: str


class VersionEvaluationPublic(BaseModel):
    """One version's results on the test set (`truthloop model evaluate --json`)."""

    version: str
    task: str
    testing_images: int
    per_label: list[LabelMetricsPublic]
    f1: float
    precision: float
    recall: float
    ece: float
    map50: float | None
    map: float | None
    confusion: list[ConfusionCellPublic] | None
    skipped: list[SkippedImagePublic]


class ComparisonRowPublic(BaseModel):
    metric: str
    values: list[float | None] = Field(description="The first version's, then the second's.")


class ComparisonPublic(BaseModel):
    dataset: str
    versions: list[VersionEvaluationPublic]
    rows: list[ComparisonRowPublic]


class FeedbackReportPublic(BaseModel):
    """V1 and V2 side by side on the test set, and the human cost of V2's data."""

    run: str
    test_dataset: str
    v1: str
    v2: str
    v1_f1: float
    v2_f1: float
    counts: FeedbackCountsPublic
    human_seconds: float
    scratch_human_seconds: float
    human_share: float | None = Field(description="Human seconds over labeling from scratch.")
    comparison: ComparisonPublic

    @classmethod
    def of(cls, report: FeedbackReport) -> FeedbackReportPublic:
        return cls.model_validate(report.to_json())
