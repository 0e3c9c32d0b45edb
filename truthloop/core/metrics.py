"""Evaluation metrics as Rekognition Custom Labels reports them, plus mAP and calibration error.

A model's output is scored per label as a list of `Scored` predictions (confidence, and whether
it was right). From those come each label's *assumed threshold* (the operating point with the
best F1 on the test set, as Rekognition defines it), precision/recall/F1 there, average
precision, and the expected calibration error of the confidences.

Detection predictions are right when they match an unmatched ground-truth box of the same label
at IoU >= 0.5, highest confidence first — the COCO matching rule, so `average_precision` with
`interpolation="coco101"` equals pycocotools' AP at IoU 0.5.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from truthloop.core.geometry import iou
from truthloop.core.types import Box


@dataclass(frozen=True, slots=True)
class Scored:
    """One prediction of a label: its confidence and whether it was right."""

    confidence: float
    correct: bool


@dataclass(frozen=True, slots=True)
class LabelScores:
    """Every prediction of one label over a test set, and how many true instances it had."""

    scored: tuple[Scored, ...] = ()
    positives: int = 0
    images: int = 0


@dataclass(frozen=True, slots=True)
class LabelMetrics:
    """One label's result at its assumed threshold (Rekognition `LabelEvaluationResults`)."""

    label: str
    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    testing_images: int


@dataclass(frozen=True, slots=True)
class ConfusionCell:
    """`count` images of `ground_truth` predicted as `predicted`; `value` is that share of
    the ground-truth label's images (Rekognition's ConfusionMatrix entry)."""

    ground_truth: str
    predicted: str
    count: int
    value: float


@dataclass(frozen=True, slots=True)
class Overall:
    precision: float
    recall: float
    f1: float
    per_label: tuple[LabelMetrics, ...]


def f1_score(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _ranked(scored: Sequence[Scored]) -> list[Scored]:
    # A stable sort keeps equal confidences in input order, as pycocotools' mergesort does.
    return sorted(scored, key=lambda s: -s.confidence)


def label_metrics(label: str, scores: LabelScores) -> LabelMetrics:
    """Precision, recall and F1 of one label at the threshold with the best F1.

    A prediction counts as positive when its confidence is at or above the threshold. Ties in
    F1 go to the higher threshold. With no right prediction at all the threshold is 1.0.
    """
    ranked = _ranked(scores.scored)
    best = (0.0, 1.0, 0, 0)  # f1, threshold, tp, fp
    tp = fp = 0
    for i, s in enumerate(ranked):
        tp += s.correct
        fp += not s.correct
        if i + 1 < len(ranked) and ranked[i + 1].confidence == s.confidence:
            continue  # a threshold cannot split predictions of equal confidence
        f1 = _ratio(2 * tp, 2 * tp + fp + (scores.positives - tp))
        if f1 > best[0]:
            best = (f1, s.confidence, tp, fp)
    f1, threshold, tp, fp = best
    return LabelMetrics(
        label=label,
        threshold=threshold,
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, scores.positives),
        f1=f1,
        true_positives=tp,
        false_positives=fp,
        false_negatives=scores.positives - tp,
        testing_images=scores.images,
    )


def overall(scores: Mapping[str, LabelScores]) -> Overall:
    """Per-label metrics (sorted by F1, best first) and their micro-average over the test set.

    Labels without a true instance in the test set are left out, as they have no recall.
    """
    per_label = sorted(
        (label_metrics(name, s) for name, s in scores.items() if s.positives > 0),
        key=lambda m: (-m.f1, m.label),
    )
    tp = sum(m.true_positives for m in per_label)
    fp = sum(m.false_positives for m in per_label)
    fn = sum(m.false_negatives for m in per_label)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return Overall(precision, recall, f1_score(precision, recall), tuple(per_label))


def image_label_scores(
    truths: Sequence[Collection[str]], predictions: Sequence[Mapping[str, float]]
) -> dict[str, LabelScores]:
    """Scores of image-level labels: `truths[i]` are image i's true labels, `predictions[i]`
    its predicted labels with their confidences (one for single-label classification)."""
    if len(truths) != len(predictions):
        raise ValueError(f"{len(truths)} ground truths but {len(predictions)} predictions")
    scored: dict[str, list[Scored]] = defaultdict(list)
    positives: Counter[str] = Counter()
    for truth, predicted in zip(truths, predictions, strict=True):
        positives.update(set(truth))
        for name, confidence in predicted.items():
            scored[name].append(Scored(confidence, name in truth))
    return {
        name: LabelScores(tuple(scored[name]), positives[name], positives[name])
        for name in scored.keys() | positives.keys()
    }


def match_boxes(
    truth: Sequence[Box], predicted: Sequence[Box], iou_threshold: float = 0.5
) -> list[bool]:
    """Whether each predicted box is a true positive: it overlaps a not yet matched true box of
    its label at `iou_threshold` or more, predictions taken in order of confidence and each
    taking the best-overlapping free box. Flags are in the order of `predicted`."""
    return [j is not None for j in box_matches(truth, predicted, iou_threshold)]


def box_matches(
    truth: Sequence[Box], predicted: Sequence[Box], iou_threshold: float = 0.5
) -> list[int | None]:
    """For each predicted box, the index of the true box it matches by `match_boxes`' rule, or
    None: so a caller can also tell which true boxes were missed."""
    order = sorted(range(len(predicted)), key=lambda i: -(predicted[i].confidence or 0.0))
    taken = [False] * len(truth)
    matches: list[int | None] = [None] * len(predicted)
    for i in order:
        box = predicted[i]
        best, best_iou = -1, iou_threshold
        for j, gt in enumerate(truth):
            if taken[j] or gt.label != box.label:
                continue
            overlap = iou(box, gt)
            if overlap >= best_iou:
                best, best_iou = j, overlap
        if best >= 0:
            taken[best] = True
            matches[i] = best
    return matches


def box_label_scores(
    truths: Sequence[Sequence[Box]],
    predictions: Sequence[Sequence[Box]],
    iou_threshold: float = 0.5,
) -> dict[str, LabelScores]:
    """Scores of detections over a test set; a predicted box without confidence counts as 1."""
    if len(truths) != len(predictions):
        raise ValueError(f"{len(truths)} ground truths but {len(predictions)} predictions")
    scored: dict[str, list[Scored]] = defaultdict(list)
    positives: Counter[str] = Counter()
    images: Counter[str] = Counter()
    for truth, predicted in zip(truths, predictions, strict=True):
        positives.update(b.label for b in truth)
        images.update({b.label for b in truth})
        flags = match_boxes(truth, predicted, iou_threshold)
        for box, correct in zip(predicted, flags, strict=True):
            confidence = 1.0 if box.confidence is None else box.confidence
            scored[box.label].append(Scored(confidence, correct))
    return {
        name: LabelScores(tuple(scored[name]), positives[name], images[name])
        for name in scored.keys() | positives.keys()
    }


def average_precision(
    scores: LabelScores, interpolation: Literal["all", "coco101"] = "all"
) -> float:
    """Area under the interpolated precision/recall curve of one label.

    "all" integrates the precision envelope at every recall step (VOC 2010+); "coco101"
    samples it at 101 recall points as pycocotools does.
    """
    if scores.positives == 0:
        return 0.0
    recall: list[float] = []
    precision: list[float] = []
    tp = fp = 0
    for s in _ranked(scores.scored):
        tp += s.correct
        fp += not s.correct
        recall.append(tp / scores.positives)
        precision.append(tp / (tp + fp))
    # The envelope: precision at a recall is the best precision at that recall or beyond.
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    if interpolation == "coco101":
        total = 0.0
        for k in range(101):
            # k * 0.01 is numpy.linspace's arithmetic, so recalls on a step compare the same.
            at = next((i for i, r in enumerate(recall) if r >= k * 0.01), None)
            total += precision[at] if at is not None else 0.0
        return total / 101
    area, previous = 0.0, 0.0
    for r, p in zip(recall, precision, strict=True):
        area += (r - previous) * p
        previous = r
    return area


def mean_average_precision(
    scores: Mapping[str, LabelScores], interpolation: Literal["all", "coco101"] = "all"
) -> float:
    """Mean AP over the labels that have true instances in the test set (0 when none has)."""
    aps = [average_precision(s, interpolation) for s in scores.values() if s.positives > 0]
    return sum(aps) / len(aps) if aps else 0.0


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """How far confidence is from the rate of being right, averaged over equal-width bins and
    weighted by how many predictions fall in each; 0 for no predictions."""
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} outcomes")
    if not confidences:
        return 0.0
    count = [0] * bins
    confidence_sum = [0.0] * bins
    right_sum = [0] * bins
    for c, ok in zip(confidences, correct, strict=True):
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"confidence {c} is outside [0, 1]")
        b = min(int(c * bins), bins - 1)
        count[b] += 1
        confidence_sum[b] += c
        right_sum[b] += ok
    gap = sum(abs(confidence_sum[b] - right_sum[b]) for b in range(bins) if count[b])
    return gap / len(confidences)


def confusion_matrix(truths: Sequence[str], predicted: Sequence[str]) -> tuple[ConfusionCell, ...]:
    """Counts of (true label, predicted label) pairs, sorted by true then predicted label."""
    if len(truths) != len(predicted):
        raise ValueError(f"{len(truths)} ground truths but {len(predicted)} predictions")
    pairs = Counter(zip(truths, predicted, strict=True))
    per_truth = Counter(truths)
    return tuple(
        ConfusionCell(gt, pred, n, n / per_truth[gt]) for (gt, pred), n in sorted(pairs.items())
    )
