"""Evaluation summaries, with a FakeModel whose every answer is known, and mAP against
pycocotools on the same boxes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.core.metrics import ConfusionCell, box_label_scores, mean_average_precision
from truthloop.core.types import Annotation, Box, Classification, ImageRecord
from truthloop.ml.backend import Task
from truthloop.ml.evaluate import coco_map, evaluate
from truthloop.ml.fake import FakeModel


def relabeled(data: Shapes, labels: list[str]) -> list[ImageRecord]:
    return [
        replace(r, annotations=(Annotation(Classification(label)),))
        for r, label in zip(data.records, labels, strict=True)
    ]


def test_classification_summary_by_hand() -> None:
    test = shapes(6, labels=("disc", "disc", "square", "square", "triangle", "triangle"))
    truths = [
        v.label for r in test.records if isinstance(v := r.annotations[0].value, Classification)
    ]
    assert truths == ["disc", "disc", "square", "square", "triangle", "triangle"]
    # The model answers these (at confidence 0.95) for exactly these images.
    answers = ["disc", "square", "square", "square", "triangle", "disc"]
    model = FakeModel().fit(relabeled(test, answers), test.load, labels=LABELS)
    result = evaluate(model, test.records, test.load)
    assert result.testing_images == 6
    metrics = {m.label: m for m in result.per_label}
    assert (metrics["disc"].precision, metrics["disc"].recall) == (0.5, 0.5)
    assert (metrics["square"].precision, metrics["square"].recall) == (pytest.approx(2 / 3), 1.0)
    assert (metrics["triangle"].precision, metrics["triangle"].recall) == (1.0, 0.5)
    assert [m.label for m in result.per_label] == ["square", "triangle", "disc"]
    assert result.precision == result.recall == result.f1 == pytest.approx(4 / 6)
    assert result.ece == pytest.approx(0.95 - 4 / 6)
    assert result.confusion == (
        ConfusionCell("disc", "disc", 1, 0.5),
        ConfusionCell("disc", "square", 1, 0.5),
        ConfusionCell("square", "square", 2, 1.0),
        ConfusionCell("triangle", "disc", 1, 0.5),
        ConfusionCell("triangle", "triangle", 1, 0.5),
    )
    assert result.map50 is None and result.map is None


def test_detection_summary_of_a_model_that_is_always_right() -> None:
    test = shapes(5, task="detection")
    model = FakeModel(task=Task.DETECTION, confidence=0.9).fit(
        test.records, test.load, labels=LABELS
    )
    result = evaluate(model, test.records, test.load)
    assert result.map50 == pytest.approx(1.0)
    assert result.map == pytest.approx(1.0)
    assert result.f1 == 1.0
    assert result.ece == pytest.approx(0.1)
    assert result.confusion is None


def test_images_that_fail_to_load_are_skipped_and_listed() -> None:
    test = shapes(4)
    model = FakeModel().fit(test.records, test.load, labels=LABELS)
    broken = Shapes(test.records, test.images, {test.records[1].uri})
    result = evaluate(model, [*test.records, ImageRecord("unlabeled.png")], broken.load)
    assert result.testing_images == 3
    assert [s.uri for s in result.skipped] == [test.records[1].uri]


def test_the_json_keys_are_a_stable_interface() -> None:
    test = shapes(5, task="detection")
    model = FakeModel(task=Task.DETECTION).fit(test.records, test.load, labels=LABELS)
    data = json.loads(json.dumps(evaluate(model, test.records, test.load).to_json()))
    assert {"f1", "precision", "recall", "per_label", "map50", "map", "ece"} <= data.keys()
    assert data["task"] == "detection"
    assert {"label", "threshold", "precision", "recall", "f1"} <= data["per_label"][0].keys()


def random_detections(seed: int) -> tuple[list[list[Box]], list[list[Box]]]:
    """Boxes of three labels on 30 images; predictions that find most of them, some badly
    placed, some with the wrong label, plus false alarms, all with distinct confidences."""
    rng = np.random.default_rng(seed)
    truths: list[list[Box]] = []
    predictions: list[list[Box]] = []
    for _ in range(30):
        image_truths = []
        image_predictions = []
        for _ in range(int(rng.integers(0, 5))):
            label = str(rng.choice(["a", "b", "c"]))
            x, y, w, h = rng.uniform(0, 200, 2).tolist() + rng.uniform(10, 80, 2).tolist()
            image_truths.append(Box(label, x, y, w, h))
            if rng.random() < 0.85:
                jitter = rng.normal(0, 0.08, 4) * [w, h, w, h]
                wrong = rng.random() < 0.1
                image_predictions.append(
                    Box(
                        "c" if wrong else label,
                        x + jitter[0],
                        y + jitter[1],
                        max(w + jitter[2], 2.0),
                        max(h + jitter[3], 2.0),
                        float(rng.random()),
                    )
                )
        for _ in range(int(rng.integers(0, 3))):
            x, y = rng.uniform(0, 250, 2).tolist()
            image_predictions.append(
                Box(str(rng.choice(["a", "b", "c"])), x, y, 30, 30, float(rng.random()))
            )
        truths.append(image_truths)
        predictions.append(image_predictions)
    return truths, predictions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map50_agrees_with_pycocotools(seed: int) -> None:
    truths, predictions = random_detections(seed)
    ours = box_label_scores(truths, predictions)
    coco, coco50 = coco_map(truths, predictions, [(300, 300)] * len(truths))
    assert mean_average_precision(ours, "coco101") == pytest.approx(coco50, abs=1e-9)
    # All-point interpolation differs from 101-point sampling by a little only.
    assert mean_average_precision(ours) == pytest.approx(coco50, abs=0.02)
    assert 0.3 < coco50 < 0.95  # the data is neither trivial nor hopeless
    assert 0.0 < coco < coco50  # stricter overlaps lower it
