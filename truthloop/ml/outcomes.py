"""A model version's evaluation image by image, as Rekognition Custom Labels' console shows it:
for each test image, its true value, what the version predicts at its assumed thresholds (what
detect answers) and each label's or box's outcome (true positive, false positive, false
negative); and two versions side by side on one test set.

    results = version_results(project, "logos.v1")            # its own test set
    results.evaluation.f1, [i.item_id for i in results.select(Outcome.FP, "logo")]
    first, second = compare(project, "logos.v1", "logos.v2", dataset="logos-test")

Detection: a kept predicted box is a true positive when it matches a true box of its label
(`truthloop.core.metrics.box_matches`, IoU >= 0.5), else a false positive; a true box no kept
box matched is a false negative. Image labels: a kept predicted label is a true positive when
the image has it, else a false positive; a true label not kept is a false negative (so a wrong
class is a false positive of the predicted label and a false negative of the true one). Summed
over the version's own test set, these are the per-label counts of its evaluation.

Running a model over a test set takes seconds to minutes, and a page of results is read many
times (paging, filtering): each (version, test set) is evaluated once and kept in a small
in-process LRU (`CACHE_SIZE` entries, each at most `CACHE_SECONDS` old, so labels edited since
show within minutes). The overall numbers of a version's own test set need no model at all:
`evaluation_summary` reads the metrics stored when it was trained.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from truthloop.core.metrics import box_matches
from truthloop.core.types import Box, Boxes, Classification, ImageRecord, MultiLabel, Value
from truthloop.errors import ModelError
from truthloop.ml.backend import Example, Task, decode, target_of
from truthloop.ml.evaluate import Evaluation, predict_all, score
from truthloop.ml.registry import get_version, held_out_by, trained_model
from truthloop.ml.versions import DEFAULT_THRESHOLD, ModelVersion
from truthloop.storage import datasets as store
from truthloop.storage.project import Project

CACHE_SIZE = 8
"""(version, test set) evaluations kept in memory."""
CACHE_SECONDS = 300.0
"""How long a kept evaluation is reused: labels edited in the test set show after this."""
COMPARED_METRICS = ("f1", "precision", "recall")
"""Per-label metrics compared side by side (higher is better for each)."""
DETECTION_METRICS = ("map50", "map")
"""Overall metrics that only detection has."""


class Outcome(StrEnum):
    TP = "tp"
    FP = "fp"
    FN = "fn"


@dataclass(frozen=True, slots=True)
class Mark:
    """One label of an image, true or predicted, with its outcome; `box` for detection,
    `confidence` for predictions."""

    label: str
    outcome: Outcome
    box: Box | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class ImageOutcome:
    """One test image: the true labels (TP or FN) and the kept predictions (TP or FP)."""

    item_id: int
    uri: str
    width: int
    height: int
    truth: tuple[Mark, ...]
    predicted: tuple[Mark, ...]

    def has(self, outcome: Outcome | None = None, label: str | None = None) -> bool:
        """Whether a mark of the image has `outcome` and `label` (either: any)."""
        return any(
            (outcome is None or m.outcome is outcome) and (label is None or m.label == label)
            for m in (*self.truth, *self.predicted)
        )


@dataclass(frozen=True, slots=True)
class EvalSet:
    """The images a version is scored on: `key` tells test sets apart (the cache key),
    `about` says which it is in words."""

    key: str
    about: str
    items: tuple[tuple[int, ImageRecord], ...]


@dataclass(frozen=True, slots=True)
class VersionResults:
    """A version scored on a test set, image by image."""

    version: ModelVersion
    test_set: str
    evaluation: Evaluation
    thresholds: Mapping[str, float]
    images: tuple[ImageOutcome, ...]

    def select(
        self, outcome: Outcome | None = None, label: str | None = None
    ) -> list[ImageOutcome]:
        return [i for i in self.images if i.has(outcome, label)]


# ---- test sets -----------------------------------------------------------------------------


def _dataset_items(project: Project, name: str) -> list[tuple[int, ImageRecord]]:
    with project.session() as session:
        dataset_id = store.get_dataset(session, name).id
        return list(store.iter_records(session, dataset_id))


def eval_set(project: Project, version: ModelVersion, dataset: str | None = None) -> EvalSet:
    """The stored dataset `dataset`, or (None) the images `version` was tested on when trained:
    its test dataset, or the items of its training dataset it held out (as
    `registry.version_test_records` finds them, with their item ids)."""
    if dataset is not None:
        return EvalSet(f"dataset:{dataset}", f"dataset {dataset}", _items(project, dataset))
    if version.test_dataset is not None:
        items = _items(project, version.test_dataset)
        return EvalSet(f"dataset:{version.test_dataset}", f"dataset {version.test_dataset}", items)
    found = _dataset_items(project, version.training_dataset)
    held_out = held_out_by(version, [r for _, r in found])
    ids = {record.uri: item_id for item_id, record in found}
    return EvalSet(
        f"test-of:{version.name}",
        f"the test images of {version.name} from {version.training_dataset}",
        tuple((ids[e.record.uri], e.record) for e in held_out),
    )


def _items(project: Project, dataset: str) -> tuple[tuple[int, ImageRecord], ...]:
    return tuple(_dataset_items(project, dataset))


# ---- outcomes ------------------------------------------------------------------------------


def _confidence(confidence: float | None) -> float:
    # A missing confidence counts as certain, as detect and the evaluation count it.
    return 1.0 if confidence is None else confidence


def _kept(label: str, confidence: float | None, thresholds: Mapping[str, float]) -> bool:
    return _confidence(confidence) >= thresholds.get(label, DEFAULT_THRESHOLD)


def _image_labels(value: Value) -> list[tuple[str, float | None]]:
    match value:
        case Classification(label=label, confidence=c):
            return [(label, c)]
        case MultiLabel(labels=labels, confidences=cs):
            return list(zip(labels, cs or (None,) * len(labels), strict=True))
    raise ModelError(f"not an image-level label: {value!r}")


def _boxes(value: Value) -> tuple[Box, ...]:
    if not isinstance(value, Boxes):
        raise ModelError(f"a detection model or test image gave {value!r}, not boxes")
    return value.boxes


def box_outcomes(
    truth: Value, predicted: Value, thresholds: Mapping[str, float]
) -> tuple[tuple[Mark, ...], tuple[Mark, ...]]:
    """The true boxes (TP or FN) and the predicted boxes kept at `thresholds` (TP or FP)."""
    true_boxes = _boxes(truth)
    kept = [b for b in _boxes(predicted) if _kept(b.label, b.confidence, thresholds)]
    matches = box_matches(true_boxes, kept)
    matched = {j for j in matches if j is not None}
    truth_marks = tuple(
        Mark(b.label, Outcome.TP if j in matched else Outcome.FN, box=b)
        for j, b in enumerate(true_boxes)
    )
    predicted_marks = tuple(
        Mark(b.label, Outcome.FP if j is None else Outcome.TP, box=b, confidence=b.confidence)
        for b, j in zip(kept, matches, strict=True)
    )
    return truth_marks, predicted_marks


def label_outcomes(
    truth: Value, predicted: Value, thresholds: Mapping[str, float]
) -> tuple[tuple[Mark, ...], tuple[Mark, ...]]:
    """The true labels (TP or FN) and the predicted labels kept at `thresholds` (TP or FP)."""
    true_labels = [label for label, _ in _image_labels(truth)]
    kept = [(n, c) for n, c in _image_labels(predicted) if _kept(n, c, thresholds)]
    names = {n for n, _ in kept}
    truth_marks = tuple(
        Mark(label, Outcome.TP if label in names else Outcome.FN) for label in true_labels
    )
    predicted_marks = tuple(
        Mark(n, Outcome.TP if n in true_labels else Outcome.FP, confidence=c) for n, c in kept
    )
    return truth_marks, predicted_marks


# ---- evaluating, cached --------------------------------------------------------------------


def _evaluate(project: Project, version: ModelVersion, tests: EvalSet) -> VersionResults:
    """Run the version over the test set once: the evaluation and every image's outcomes."""
    _, model = trained_model(project, version.name)
    task = version.task
    found: list[tuple[int, Example]] = [
        (item_id, Example(record, target))
        for item_id, record in tests.items
        if (target := target_of(record, task)) is not None
    ]
    decoded, skipped = decode([e for _, e in found], project.load_image)
    unread = {s.uri for s in skipped}
    read = [(item_id, e) for item_id, e in found if e.record.uri not in unread]
    images = [image for image, _ in decoded]
    predictions = predict_all(model, images)
    truths = [target for _, target in decoded]
    sizes = [image.size for image in images]
    thresholds = version.thresholds()
    judge = box_outcomes if task is Task.DETECTION else label_outcomes
    outcomes = []
    for (item_id, example), truth, predicted, (width, height) in zip(
        read, truths, predictions, sizes, strict=True
    ):
        truth_marks, predicted_marks = judge(truth, predicted, thresholds)
        outcomes.append(
            ImageOutcome(item_id, example.record.uri, width, height, truth_marks, predicted_marks)
        )
    return VersionResults(
        version,
        tests.about,
        score(task, truths, predictions, sizes, skipped),
        thresholds,
        tuple(outcomes),
    )


class _Cache:
    """A small LRU of evaluations, each kept at most `CACHE_SECONDS`; safe across threads."""

    def __init__(self, size: int = CACHE_SIZE, seconds: float = CACHE_SECONDS) -> None:
        self.size, self.seconds = size, seconds
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, VersionResults]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> VersionResults | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry[0] > self.seconds:
                self._entries.pop(key, None)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[Any, ...], results: VersionResults) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic(), results)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = _Cache()


def _results(project: Project, version: ModelVersion, tests: EvalSet) -> VersionResults:
    # The version's updated_at is in the key: a version retrained or changed is evaluated anew.
    key = (str(project.home), version.name, version.updated_at, tests.key)
    found = CACHE.get(key)
    if found is None:
        # Two requests at once may both evaluate; the second result simply replaces the first.
        found = _evaluate(project, version, tests)
        CACHE.put(key, found)
    return found


def _trained(project: Project, name: str) -> ModelVersion:
    version = get_version(project, name)
    if not version.status.trained:
        raise ModelError(
            f"{name} is {version.status.value}: only a trained version has an evaluation"
        )
    return version


def version_results(project: Project, version: str, dataset: str | None = None) -> VersionResults:
    """`version` scored image by image on the stored dataset `dataset` (default: its own test
    set), from the cache when it was scored there lately."""
    found = _trained(project, version)
    return _results(project, found, eval_set(project, found, dataset))


@dataclass(frozen=True, slots=True)
class Summary:
    """A version's evaluation on a test set, and whether it is the one stored at training."""

    version: ModelVersion
    test_set: str
    metrics: Mapping[str, Any]
    stored: bool


def evaluation_summary(project: Project, version: str, dataset: str | None = None) -> Summary:
    """The overall and per-label numbers (`Evaluation.to_json()`): the metrics stored when the
    version was trained on its own test set (no model runs), else evaluated."""
    found = _trained(project, version)
    if dataset is None and found.metrics is not None:
        about = str((found.training_report or {}).get("test") or "its test set")
        return Summary(found, about, found.metrics, stored=True)
    results = _results(project, found, eval_set(project, found, dataset))
    return Summary(found, results.test_set, results.evaluation.to_json(), stored=False)


# ---- comparing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompareRow:
    """One metric (overall when `label` is None) of two versions; `better` is 0 or 1, the
    index of the version with the higher value, or None when they tie or one has none."""

    label: str | None
    metric: str
    values: tuple[float | None, float | None]
    better: int | None


@dataclass(frozen=True, slots=True)
class Comparison:
    test_set: str
    results: tuple[VersionResults, VersionResults]
    rows: tuple[CompareRow, ...]


def _row(label: str | None, metric: str, a: float | None, b: float | None) -> CompareRow:
    better = None if a is None or b is None or a == b else (0 if a > b else 1)
    return CompareRow(label, metric, (a, b), better)


def comparison_rows(first: Evaluation, second: Evaluation) -> tuple[CompareRow, ...]:
    """Overall metrics, then per label (every label either version was scored on)."""
    names = [*COMPARED_METRICS, *(DETECTION_METRICS if first.task is Task.DETECTION else ())]
    rows = [_row(None, n, getattr(first, n), getattr(second, n)) for n in names]
    per = [{m.label: m for m in e.per_label} for e in (first, second)]
    for label in sorted(per[0].keys() | per[1].keys()):
        for metric in COMPARED_METRICS:
            a, b = (getattr(p[label], metric) if label in p else None for p in per)
            rows.append(_row(label, metric, a, b))
    return tuple(rows)


def compare(project: Project, first: str, second: str, dataset: str | None = None) -> Comparison:
    """Two versions of one task scored on the same test set: the stored dataset `dataset`, or
    (None) the first version's own test set."""
    a, b = _trained(project, first), _trained(project, second)
    if a.task is not b.task:
        raise ModelError(
            f"cannot compare {a.name} ({a.task.value}) with {b.name} ({b.task.value}):"
            " they do different tasks"
        )
    tests = eval_set(project, a, dataset)
    results = (_results(project, a, tests), _results(project, b, tests))
    return Comparison(
        tests.about, results, comparison_rows(results[0].evaluation, results[1].evaluation)
    )
