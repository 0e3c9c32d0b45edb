"""Outcomes image by image: a wrong class is a false positive of the predicted label and a false
negative of the true one, a prediction below its label's threshold is dropped, and a version
without a test dataset is scored on the images it held out, whose outcomes add up to its
stored evaluation."""

from __future__ import annotations

from collections import Counter

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from truthloop.core.types import Box, Boxes, Classification
from truthloop.ml import outcomes, registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.ml.outcomes import Mark, Outcome, box_outcomes, label_outcomes
from truthloop.storage.project import Project


def test_a_wrong_class_is_a_false_positive_and_a_false_negative() -> None:
    truth, predicted = label_outcomes(
        Classification("disc"), Classification("square", 0.9), {"square": 0.5}
    )
    assert truth == (Mark("disc", Outcome.FN),)
    assert predicted == (Mark("square", Outcome.FP, confidence=0.9),)
    truth, predicted = label_outcomes(
        Classification("disc"), Classification("disc", 0.4), {"disc": 0.5}
    )
    assert truth == (Mark("disc", Outcome.FN),) and predicted == ()


def test_boxes_below_their_threshold_are_dropped_and_misses_are_false_negatives() -> None:
    disc, square = Box("disc", 0, 0, 10, 10), Box("square", 20, 20, 10, 10)
    found = Boxes(
        (
            Box("disc", 1, 1, 10, 10, 0.9),
            Box("square", 20, 20, 10, 10, 0.3),
            Box("disc", 50, 50, 5, 5, 0.8),
        )
    )
    truth, predicted = box_outcomes(Boxes((disc, square)), found, {"disc": 0.5, "square": 0.5})
    assert [(m.label, m.outcome) for m in truth] == [("disc", Outcome.TP), ("square", Outcome.FN)]
    assert [(m.label, m.outcome, m.confidence) for m in predicted] == [
        ("disc", Outcome.TP, 0.9),
        ("disc", Outcome.FP, 0.8),
    ]


def test_a_held_out_test_set_adds_up_to_the_stored_evaluation(sqlite_project: Project) -> None:
    outcomes.CACHE.clear()
    store_shapes(sqlite_project, "classes", shapes(20, task="classification", size=48, seed=5))
    version = registry.train_version(
        sqlite_project,
        "kinds",
        dataset="classes",
        task="classification",
        model=FakeModel(task=Task.CLASSIFICATION, guess_confidence=0.95),
    )
    results = outcomes.version_results(sqlite_project, version.name)
    assert version.metrics is not None and version.training_report is not None
    assert len(results.images) == version.training_report["test_images"] > 0
    assert results.test_set.startswith(f"the test images of {version.name}")
    counted = Counter(
        (m.label, m.outcome)
        for i in results.images
        for m in (*i.truth, *i.predicted)
        if not (m.outcome is Outcome.TP and m.confidence is None)  # a TP counts once
    )
    for label in version.metrics["per_label"]:
        name = label["label"]
        assert counted[name, Outcome.TP] == label["true_positives"]
        assert counted[name, Outcome.FP] == label["false_positives"]
        assert counted[name, Outcome.FN] == label["false_negatives"]
    # A second call is served from the cache: the same object, no model run.
    assert outcomes.version_results(sqlite_project, version.name) is results
