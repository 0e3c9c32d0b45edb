"""Metrics against values computed by hand."""

from __future__ import annotations

import pytest

from truthloop.core.metrics import (
    ConfusionCell,
    LabelScores,
    Scored,
    average_precision,
    box_label_scores,
    confusion_matrix,
    expected_calibration_error,
    f1_score,
    image_label_scores,
    label_metrics,
    match_boxes,
    mean_average_precision,
    overall,
)
from truthloop.core.types import Box


def scores(*pairs: tuple[float, bool], positives: int) -> LabelScores:
    return LabelScores(tuple(Scored(c, ok) for c, ok in pairs), positives, positives)


def test_f1_matches_rekognitions_examples() -> None:
    assert f1_score(0.9, 1.0) == pytest.approx(0.947, abs=1e-3)
    assert f1_score(0.30, 1.0) == pytest.approx(0.46, abs=1e-2)
    assert f1_score(0.0, 0.0) == 0.0


def test_assumed_threshold_is_the_best_f1_operating_point() -> None:
    # Cuts: 0.9 -> F1 2/5; 0.8 -> 2/6; 0.7 -> 4/7; 0.3 -> 6/8 (best).
    m = label_metrics(
        "cap", scores((0.9, True), (0.8, False), (0.7, True), (0.3, True), positives=4)
    )
    assert m.threshold == 0.3
    assert (m.true_positives, m.false_positives, m.false_negatives) == (3, 1, 1)
    assert m.precision == pytest.approx(0.75)
    assert m.recall == pytest.approx(0.75)
    assert m.f1 == pytest.approx(0.75)


def test_a_threshold_never_splits_equal_confidences() -> None:
    # Taking the first 0.8 alone would give F1 1.0, but both 0.8s are in or out together.
    m = label_metrics("x", scores((0.8, True), (0.8, False), positives=1))
    assert (m.threshold, m.true_positives, m.false_positives) == (0.8, 1, 1)
    assert m.f1 == pytest.approx(2 / 3)


def test_a_label_never_predicted_right_has_threshold_one_and_f1_zero() -> None:
    m = label_metrics("x", scores((0.6, False), positives=2))
    assert (m.threshold, m.precision, m.recall, m.f1, m.false_negatives) == (1.0, 0.0, 0.0, 0.0, 2)


def test_overall_is_the_micro_average_and_skips_labels_absent_from_the_test_set() -> None:
    result = overall(
        {
            "a": scores((0.9, True), (0.8, True), positives=3),  # tp 2, fn 1
            "b": scores((0.7, True), (0.6, False), positives=1),  # best: tp 1 at 0.7
            "ghost": scores((0.5, False), positives=0),
        }
    )
    assert [m.label for m in result.per_label] == ["b", "a"]  # sorted by F1
    assert result.precision == pytest.approx(3 / 3)
    assert result.recall == pytest.approx(3 / 4)
    assert result.f1 == pytest.approx(f1_score(1.0, 0.75))


def test_image_label_scores_mark_each_predicted_label_right_or_wrong() -> None:
    result = image_label_scores(
        [{"cat"}, {"dog"}, {"cat", "dog"}],
        [{"cat": 0.9}, {"cat": 0.6}, {"dog": 0.8, "cat": 0.3}],
    )
    assert result["cat"] == scores((0.9, True), (0.6, False), (0.3, True), positives=2)
    assert result["dog"] == scores((0.8, True), positives=2)
    with pytest.raises(ValueError, match="2 ground truths but 1 predictions"):
        image_label_scores([{"a"}, {"b"}], [{"a": 1.0}])


def box(
    label: str, left: float, top: float, size: float = 10, confidence: float | None = None
) -> Box:
    return Box(label, left, top, size, size, confidence)


def test_match_boxes_takes_predictions_by_confidence_and_each_truth_once() -> None:
    truth = [box("a", 0, 0), box("a", 100, 100)]
    predicted = [
        box("a", 1, 0, confidence=0.5),  # IoU 0.82 with the first, but a better one took it
        box("a", 0, 0, confidence=0.9),
        box("b", 100, 100, confidence=0.8),  # right place, wrong label
        box("a", 104, 100, confidence=0.7),  # IoU 6/14 = 0.43 < 0.5
        box("a", 102, 100, confidence=0.6),  # IoU 8/12 = 0.67
    ]
    assert match_boxes(truth, predicted) == [False, True, False, False, True]
    assert match_boxes(truth, predicted, iou_threshold=0.4) == [False, True, False, True, False]


def test_average_precision_all_point_and_coco_101_point() -> None:
    s = scores((0.9, True), (0.8, False), (0.7, True), positives=3)
    # Recall 1/3 at precision 1, then 2/3 at 2/3; the last third is never reached.
    assert average_precision(s) == pytest.approx(1 / 3 + 1 / 3 * 2 / 3)
    # 34 recall points up to 0.33 at precision 1, 33 up to 0.66 at 2/3, the rest 0.
    assert average_precision(s, "coco101") == pytest.approx((34 + 33 * 2 / 3) / 101)
    assert average_precision(scores(positives=0)) == 0.0


def test_mean_average_precision_over_labels_with_ground_truth() -> None:
    truths = [[box("a", 0, 0), box("b", 50, 50)], [box("a", 20, 20)]]
    predictions = [
        [
            box("a", 0, 0, confidence=0.9),
            box("b", 80, 80, confidence=0.8),
            box("c", 5, 5, confidence=0.4),
        ],
        [box("a", 21, 20, confidence=0.7)],
    ]
    by_label = box_label_scores(truths, predictions)
    assert by_label["a"].positives == 2 and by_label["a"].images == 2
    assert average_precision(by_label["a"]) == pytest.approx(1.0)
    assert average_precision(by_label["b"]) == 0.0
    assert mean_average_precision(by_label) == pytest.approx(0.5)  # "c" has no ground truth


def test_expected_calibration_error_by_hand() -> None:
    # Bin 0.9-1.0: confidence 0.95, right half the time; bin 0.1-0.2: 0.15, never right.
    ece = expected_calibration_error([0.95, 0.95, 0.15, 0.15], [True, False, False, False])
    assert ece == pytest.approx((2 * 0.45 + 2 * 0.15) / 4)
    assert expected_calibration_error([1.0, 0.0], [True, False]) == 0.0
    assert expected_calibration_error([], []) == 0.0


def test_expected_calibration_error_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        expected_calibration_error([1.5], [True])
    with pytest.raises(ValueError, match="2 confidences but 1 outcomes"):
        expected_calibration_error([0.5, 0.5], [True])


def test_confusion_matrix_counts_and_shares_per_true_label() -> None:
    cells = confusion_matrix(["cat", "cat", "cat", "dog"], ["cat", "dog", "cat", "dog"])
    assert cells == (
        ConfusionCell("cat", "cat", 2, 2 / 3),
        ConfusionCell("cat", "dog", 1, 1 / 3),
        ConfusionCell("dog", "dog", 1, 1.0),
    )
