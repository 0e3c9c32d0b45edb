"""What the REST API gives for a model version's evaluation: the overall and per-label numbers,
its test images with their outcomes (paged), and two versions side by side.

Boxes are in the image's pixels (`width` x `height`), confidences 0-1, as the evaluation
computes them; `outcome` is "tp", "fp" or "fn".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from truthloop.core.types import Box
from truthloop.ml.outcomes import CompareRow, ImageOutcome, Mark, Summary, VersionResults

IMAGES_LIMIT = 50
"""Test images a page of results holds unless asked for fewer."""
IMAGES_MAX_LIMIT = 200
"""The most test images one page may hold."""


class LabelEvaluation(BaseModel):
    label: str
    threshold: float = Field(description="The assumed threshold (best F1 on the test set), 0-1.")
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    testing_images: int = Field(description="Test images with this label.")


class EvaluationPublic(BaseModel):
    version: str
    task: str
    test_set: str = Field(description="Which images the version was scored on, in words.")
    stored: bool = Field(description="True: the evaluation recorded when the version trained.")
    testing_images: int
    f1: float
    precision: float
    recall: float
    map50: float | None = Field(description="mAP at IoU 0.5 (detection only).")
    map: float | None = Field(description="COCO mAP over IoU 0.5:0.95 (detection only).")
    per_label: list[LabelEvaluation]

    @classmethod
    def of(cls, summary: Summary) -> EvaluationPublic:
        metrics: dict[str, Any] = dict(summary.metrics)
        return cls.model_validate(
            {
                **metrics,
                "version": summary.version.name,
                "task": summary.version.task.value,
                "test_set": summary.test_set,
                "stored": summary.stored,
                "map50": metrics.get("map50"),
                "map": metrics.get("map"),
            }
        )

    @classmethod
    def of_results(cls, results: VersionResults) -> EvaluationPublic:
        return cls.of(
            Summary(results.version, results.test_set, results.evaluation.to_json(), False)
        )


class PixelBox(BaseModel):
    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of(cls, box: Box) -> PixelBox:
        return cls(left=box.left, top=box.top, width=box.width, height=box.height)


class MarkPublic(BaseModel):
    label: str
    outcome: str
    confidence: float | None = None
    box: PixelBox | None = None

    @classmethod
    def of(cls, mark: Mark) -> MarkPublic:
        return cls(
            label=mark.label,
            outcome=mark.outcome.value,
            confidence=mark.confidence,
            box=PixelBox.of(mark.box) if mark.box is not None else None,
        )


class EvaluationImage(BaseModel):
    item_id: int
    image_url: str
    thumbnail_url: str
    width: int
    height: int
    truth: list[MarkPublic] = Field(description="The true labels or boxes: tp or fn.")
    predicted: list[MarkPublic] = Field(
        description="What the version predicts at its assumed thresholds: tp or fp."
    )

    @classmethod
    def of(cls, image: ImageOutcome) -> EvaluationImage:
        return cls(
            item_id=image.item_id,
            image_url=f"/api/items/{image.item_id}/image",
            thumbnail_url=f"/api/items/{image.item_id}/image?size=320",
            width=image.width,
            height=image.height,
            truth=[MarkPublic.of(m) for m in image.truth],
            predicted=[MarkPublic.of(m) for m in image.predicted],
        )


class EvaluationImages(BaseModel):
    version: str
    test_set: str
    outcome: str | None
    label: str | None
    total: int = Field(description="Test images that match the filter.")
    limit: int
    offset: int
    images: list[EvaluationImage]


class CompareRowPublic(BaseModel):
    label: str | None = Field(description="None: an overall metric.")
    metric: str
    values: tuple[float | None, float | None]
    better: int | None = Field(description="0 or 1: the version with the higher value.")

    @classmethod
    def of(cls, row: CompareRow) -> CompareRowPublic:
        return cls(label=row.label, metric=row.metric, values=row.values, better=row.better)


class ComparisonPublic(BaseModel):
    test_set: str
    versions: tuple[EvaluationPublic, EvaluationPublic]
    rows: list[CompareRowPublic]
