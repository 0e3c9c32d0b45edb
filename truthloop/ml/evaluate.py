"""Evaluate a model on labeled images, as Rekognition Custom Labels summarises a model version.

    result = evaluate(model, test_records, load)
    result.f1, result.per_label[0].threshold, result.map50

Per label: precision, recall and F1 at the label's assumed threshold (the best-F1 operating
point on this test set); overall: their micro-average. Detection adds mAP at IoU 0.5 (all-point
interpolation, `truthloop.core.metrics`) and COCO's mAP over IoU 0.5:0.95 (pycocotools);
single-label classification adds the confusion matrix. `ece` is the expected calibration error
of every label or box the model returned against whether it was right.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from truthloop.core.metrics import (
    ConfusionCell,
    LabelMetrics,
    box_label_scores,
    confusion_matrix,
    expected_calibration_error,
    image_label_scores,
    match_boxes,
    mean_average_precision,
    overall,
)
from truthloop.core.types import Box, Boxes, Classification, ImageRecord, MultiLabel, Value
from truthloop.ml.backend import (
    PREDICT_BATCH,
    Example,
    ImageLoader,
    ModelBackend,
    SkippedImage,
    Task,
    decode,
    target_of,
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A model's results on one test set (Rekognition's evaluation summary, in our words)."""

    task: Task
    testing_images: int
    per_label: tuple[LabelMetrics, ...]
    f1: float
    precision: float
    recall: float
    ece: float
    map50: float | None = None
    map: float | None = None
    confusion: tuple[ConfusionCell, ...] | None = None
    skipped: tuple[SkippedImage, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able data; the keys are a stable interface (`model evaluate --json`)."""
        data = asdict(self)
        data["task"] = self.task.value
        return data


def evaluate(model: ModelBackend, records: Sequence[ImageRecord], load: ImageLoader) -> Evaluation:
    """Run `model` over the labeled records among `records` and score its predictions.

    Records without a label of the model's task are not counted; images that fail to load are
    skipped and listed in `skipped`.
    """
    task = model.task
    found = [
        Example(record, target)
        for record in records
        if (target := target_of(record, task)) is not None
    ]
    decoded, skipped = decode(found, load)
    predictions = predict_all(model, [image for image, _ in decoded])
    return score(
        task,
        [target for _, target in decoded],
        predictions,
        [image.size for image, _ in decoded],
        skipped,
    )


def predict_all(model: ModelBackend, images: Sequence[Image.Image]) -> list[Value]:
    """The model's answer for each image, `PREDICT_BATCH` images at a time."""
    predictions: list[Value] = []
    for i in range(0, len(images), PREDICT_BATCH):
        predictions += model.predict(list(images[i : i + PREDICT_BATCH]))
    return predictions


def score(
    task: Task,
    truths: Sequence[Value],
    predictions: Sequence[Value],
    sizes: Sequence[tuple[int, int]],
    skipped: Sequence[SkippedImage] = (),
) -> Evaluation:
    """The evaluation of predictions already made: `predictions[i]` answers the image whose
    target is `truths[i]` and whose (width, height) is `sizes[i]`. `evaluate` runs the model
    and calls this; a caller that keeps the predictions (the evaluation pages) calls it
    directly, so the model runs once."""
    if task is Task.DETECTION:
        result = _detection(list(truths), list(predictions), list(sizes))
    else:
        result = _image_labels(task, list(truths), list(predictions))
    return Evaluation(task=task, testing_images=len(truths), skipped=tuple(skipped), **result)


def _names(value: Value) -> dict[str, float]:
    """A prediction's labels with their confidences (a missing confidence counts as 1)."""
    match value:
        case Classification(label=label, confidence=c):
            return {label: 1.0 if c is None else c}
        case MultiLabel(labels=labels, confidences=cs):
            return {
                name: 1.0 if c is None else c
                for name, c in zip(labels, cs or (None,) * len(labels), strict=True)
            }
    raise TypeError(f"not an image-level label: {value!r}")


def _image_labels(task: Task, truths: list[Value], predictions: list[Value]) -> dict[str, Any]:
    truth_sets = [set(_names(t)) for t in truths]
    predicted = [_names(p) for p in predictions]
    scores = overall(image_label_scores(truth_sets, predicted))
    pairs = [
        (c, name in t) for t, p in zip(truth_sets, predicted, strict=True) for name, c in p.items()
    ]
    result: dict[str, Any] = {
        "per_label": scores.per_label,
        "f1": scores.f1,
        "precision": scores.precision,
        "recall": scores.recall,
        "ece": expected_calibration_error([c for c, _ in pairs], [ok for _, ok in pairs]),
    }
    if task is Task.CLASSIFICATION:
        result["confusion"] = confusion_matrix(
            [next(iter(t)) for t in truth_sets], [max(p, key=p.__getitem__) for p in predicted]
        )
    return result


def _boxes(value: Value) -> tuple[Box, ...]:
    if not isinstance(value, Boxes):
        raise TypeError(f"a detection model returned {value!r}")
    return value.boxes


def _detection(
    truths: list[Value], predictions: list[Value], sizes: list[tuple[int, int]]
) -> dict[str, Any]:
    truth_boxes = [_boxes(t) for t in truths]
    found = [_boxes(p) for p in predictions]
    by_label = box_label_scores(truth_boxes, found)
    scores = overall(by_label)
    confidences: list[float] = []
    right: list[bool] = []
    for truth, boxes in zip(truth_boxes, found, strict=True):
        confidences += [1.0 if b.confidence is None else b.confidence for b in boxes]
        right += match_boxes(truth, boxes)
    return {
        "per_label": scores.per_label,
        "f1": scores.f1,
        "precision": scores.precision,
        "recall": scores.recall,
        "ece": expected_calibration_error(confidences, right),
        "map50": mean_average_precision(by_label),
        "map": coco_map(truth_boxes, found, sizes)[0],
    }


def coco_map(
    truths: Sequence[Sequence[Box]],
    predictions: Sequence[Sequence[Box]],
    sizes: Sequence[tuple[int, int]],
) -> tuple[float, float]:
    """pycocotools' mAP over IoU 0.5:0.95 and its AP at IoU 0.5; zeros when the test set has
    no boxes or the model found none."""
    names = sorted({b.label for boxes in (*truths, *predictions) for b in boxes})
    category = {name: i + 1 for i, name in enumerate(names)}
    annotations: list[dict[str, Any]] = []
    for i, boxes in enumerate(truths):
        for b in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,  # pycocotools reads id 0 as "unmatched"
                    "image_id": i,
                    "category_id": category[b.label],
                    "bbox": [b.left, b.top, b.width, b.height],
                    "area": b.width * b.height,
                    "iscrowd": 0,
                }
            )
    results = [
        {
            "image_id": i,
            "category_id": category[b.label],
            "bbox": [b.left, b.top, b.width, b.height],
            "score": 1.0 if b.confidence is None else b.confidence,
        }
        for i, boxes in enumerate(predictions)
        for b in boxes
    ]
    if not annotations or not results:
        return 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = {
            "images": [{"id": i, "width": w, "height": h} for i, (w, h) in enumerate(sizes)],
            "annotations": annotations,
            "categories": [{"id": c, "name": n} for n, c in category.items()],
        }
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # A -1 means "no ground truth to score against".
    return max(float(evaluator.stats[0]), 0.0), max(float(evaluator.stats[1]), 0.0)
