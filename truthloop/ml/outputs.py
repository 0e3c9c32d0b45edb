"""Raw network outputs to core values, with calibration applied.

Numpy only: the PyTorch and the ONNX Runtime paths share `Decoding`, so they cannot drift
apart. A `Decoding` is what a trained model learned besides its weights (labels, input size,
calibration) and travels with every artifact, the ONNX file included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truthloop.core.types import Box, Boxes, Classification, MultiLabel, Value
from truthloop.ml.backend import Task
from truthloop.ml.calibration import Platt, softmax
from truthloop.ml.imaging import Letterbox, to_image_pixels


@dataclass(frozen=True, slots=True)
class Decoding:
    """How to turn a net's outputs for the `image_size` square into values.

    A classifier's output is its logits (n, labels); a detector's is the heatmap logits of its
    top peaks (n, k), their class indices (n, k) and boxes (n, k, 4) in the square.
    """

    task: Task
    labels: tuple[str, ...]
    image_size: int
    temperature: float = 1.0
    platt: Platt = field(default_factory=Platt)
    min_confidence: float = 0.05
    nms_iou: float = 0.6

    def values(self, outputs: Sequence[NDArray[Any]], placed: Sequence[Letterbox]) -> list[Value]:
        if self.task is Task.CLASSIFICATION:
            return list(classifications(outputs[0], self.labels, self.temperature))
        if self.task is Task.MULTILABEL:
            return list(multilabels(outputs[0], self.labels, self.platt))
        logits, classes, xyxy = outputs
        return list(detections(logits, classes, xyxy, placed, self))

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.value,
            "labels": list(self.labels),
            "image_size": self.image_size,
            "temperature": self.temperature,
            "platt": [self.platt.a, self.platt.b],
            "min_confidence": self.min_confidence,
            "nms_iou": self.nms_iou,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decoding:
        a, b = data["platt"]
        return cls(
            task=Task(data["task"]),
            labels=tuple(data["labels"]),
            image_size=int(data["image_size"]),
            temperature=float(data["temperature"]),
            platt=Platt(float(a), float(b)),
            min_confidence=float(data["min_confidence"]),
            nms_iou=float(data["nms_iou"]),
        )


def classifications(
    logits: NDArray[np.floating], labels: Sequence[str], temperature: float
) -> list[Classification]:
    """The most likely label of each image, with its calibrated probability."""
    probabilities = softmax(logits, temperature)
    best = probabilities.argmax(axis=1)
    return [
        Classification(labels[k], float(p[k])) for k, p in zip(best, probabilities, strict=True)
    ]


def multilabels(
    logits: NDArray[np.floating], labels: Sequence[str], platt: Platt
) -> list[MultiLabel]:
    """Every label of each image with its calibrated probability, most likely first; the caller
    chooses the threshold."""
    values = []
    for row in platt(logits):
        order = np.argsort(-row, kind="stable")
        values.append(
            MultiLabel(tuple(labels[k] for k in order), tuple(float(row[k]) for k in order))
        )
    return values


def _nms(xyxy: NDArray[np.float64], scores: NDArray[np.float64], threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices kept, best first."""
    order = list(np.argsort(-scores, kind="stable"))
    kept: list[int] = []
    areas = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    while order:
        i = order.pop(0)
        kept.append(i)
        if not order:
            break
        rest = np.array(order)
        w = np.minimum(xyxy[i, 2], xyxy[rest, 2]) - np.maximum(xyxy[i, 0], xyxy[rest, 0])
        h = np.minimum(xyxy[i, 3], xyxy[rest, 3]) - np.maximum(xyxy[i, 1], xyxy[rest, 1])
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = [j for j, o in zip(order, overlap, strict=True) if o <= threshold]
    return kept


def detections(
    logits: NDArray[np.floating],
    classes: NDArray[np.integer],
    xyxy: NDArray[np.floating],
    placed: Sequence[Letterbox],
    decoding: Decoding,
) -> list[Boxes]:
    """Per image, the peaks as `Boxes` in the image's pixels: calibrated, at or above the
    minimum confidence, overlapping boxes of one label reduced to the most confident."""
    values = []
    for z, c, b, where in zip(logits, classes, xyxy, placed, strict=True):
        confidence = decoding.platt(z)
        box = to_image_pixels(b, where)
        keep = (
            (confidence >= decoding.min_confidence)
            & (box[:, 2] > box[:, 0])
            & (box[:, 3] > box[:, 1])
        )
        found: list[Box] = []
        for k in np.unique(c[keep]):
            idx = np.flatnonzero(keep & (c == k))
            for i in idx[_nms(box[idx], confidence[idx], decoding.nms_iou)]:
                x1, y1, x2, y2 = (float(v) for v in box[i])
                label = decoding.labels[int(k)]
                found.append(Box(label, x1, y1, x2 - x1, y2 - y1, float(confidence[i])))
        found.sort(key=lambda x: -(x.confidence or 0.0))
        values.append(Boxes(tuple(found)))
    return values
