"""The checks every training run starts with, on every backend, before any work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.ml.conftest import tiny_classifier, tiny_detector
from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.core.types import Annotation, Classification, ImageRecord, MultiLabel, Source
from truthloop.errors import TrainingError, UnknownLabel
from truthloop.ml.backend import (
    ModelBackend,
    Task,
    TrainProgress,
    check_training_set,
    decode,
    examples,
    target_of,
)
from truthloop.ml.fake import FakeModel


class CountingLoader:
    """Serves a `Shapes` set and counts loads, to show that nothing was loaded."""

    def __init__(self, data: Shapes):
        self.data = data
        self.calls = 0

    def __call__(self, uri: str) -> Image.Image:
        self.calls += 1
        return self.data.load(uri)


BACKENDS: dict[str, Callable[[], ModelBackend]] = {
    "classifier": lambda: tiny_classifier(),
    "fake": lambda: FakeModel(min_images=5),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> ModelBackend:
    return BACKENDS[request.param]()


def test_no_labels_at_all_is_refused_before_any_work(backend: ModelBackend) -> None:
    data = shapes(8)
    unlabeled = Shapes([ImageRecord(r.uri) for r in data.records], data.images)
    loader = CountingLoader(unlabeled)
    with pytest.raises(TrainingError, match="no labels at all: none of the 8 images"):
        backend.fit(unlabeled.records, loader, labels=LABELS)
    with pytest.raises(TrainingError, match="no labels: give the model"):
        backend.fit(data.records, loader, labels=[])
    assert loader.calls == 0


def test_one_class_only_is_refused_before_any_work(backend: ModelBackend) -> None:
    data = shapes(9, labels=("disc",))
    loader = CountingLoader(data)
    with pytest.raises(TrainingError, match=r"only one class \('disc'\) is labeled"):
        backend.fit(data.records, loader, labels=LABELS)
    assert loader.calls == 0


def test_too_few_images_is_refused_before_any_work(backend: ModelBackend) -> None:
    data = shapes(4)
    loader = CountingLoader(data)
    with pytest.raises(TrainingError, match="4 labeled images; the model needs at least 5"):
        backend.fit(data.records, loader, labels=LABELS)
    assert loader.calls == 0


def test_a_label_outside_the_label_list_names_the_image(backend: ModelBackend) -> None:
    data = shapes(8)
    loader = CountingLoader(data)
    with pytest.raises(UnknownLabel, match=r"mem://shapes/0/2.png: label 'triangle' is not"):
        backend.fit(data.records, loader, labels=["disc", "square"])
    assert loader.calls == 0


def test_a_label_listed_twice_is_refused() -> None:
    with pytest.raises(TrainingError, match=r"labels are listed twice: \['disc'\]"):
        check_training_set(shapes(8).records, Task.CLASSIFICATION, ["disc", "disc"], 1)


def test_a_detector_needs_one_label_only() -> None:
    data = shapes(6, task="detection", labels=("disc",))
    found = check_training_set(data.records, Task.DETECTION, ["disc"], 5)
    assert len(found) == 6
    broken = {data.records[0].uri, data.records[1].uri}
    with pytest.raises(TrainingError, match=r"only 4 of 6 images could be read \(2 failed"):
        tiny_detector().fit(
            data.records, Shapes(data.records, data.images, broken).load, labels=["disc"]
        )


def test_images_that_fail_to_decode_are_skipped_and_reported(tmp_path: Path) -> None:
    data = shapes(12)
    broken = {data.records[3].uri, data.records[7].uri}
    progress: list[TrainProgress] = []
    model = FakeModel().fit(
        data.records,
        Shapes(data.records, data.images, broken).load,
        labels=LABELS,
        progress=progress.append,
    )
    assert model.report_.images == 10
    assert {s.uri for s in model.report_.skipped} == broken
    assert all("cannot identify image file" in s.reason for s in model.report_.skipped)
    assert {s.uri for s in progress[-1].skipped} == broken


def test_decode_reports_every_kind_of_load_failure() -> None:
    data = shapes(3)
    found = examples(data.records, Task.CLASSIFICATION, LABELS)

    def load(uri: str) -> Image.Image:
        if uri.endswith("0.png"):
            raise OSError("truncated file")
        if uri.endswith("1.png"):
            raise ValueError("bad header")
        return data.load(uri)

    decoded, skipped = decode(found, load)
    assert len(decoded) == 1
    assert [s.reason for s in skipped] == ["truncated file", "bad header"]


def test_target_prefers_peoples_labels_and_multilabel_takes_single_labels() -> None:
    record = ImageRecord(
        "x.png",
        annotations=(
            Annotation(Classification("square", 0.9), source=Source.MODEL),
            Annotation(Classification("disc")),
        ),
    )
    assert target_of(record, Task.CLASSIFICATION) == Classification("disc")
    assert target_of(record, Task.MULTILABEL) == MultiLabel(("disc",))
    assert target_of(record, Task.DETECTION) is None
