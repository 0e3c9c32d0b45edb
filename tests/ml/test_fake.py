"""FakeModel keeps the backend protocol, so other layers can test with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ml.shapes import LABELS, shapes
from truthloop.core.types import Boxes, Classification, MultiLabel
from truthloop.errors import ModelError, NotFound
from truthloop.ml.backend import ModelBackend, Task
from truthloop.ml.fake import FakeModel


def test_it_answers_training_images_exactly_and_guesses_others_by_colour() -> None:
    seen = shapes(6)
    model: ModelBackend = FakeModel(confidence=0.9, guess_confidence=0.4)
    model = model.fit(seen.records, seen.load, labels=LABELS)
    assert model.predict(seen.pictures()) == [
        Classification(v.label, 0.9)
        for r in seen.records
        if isinstance(v := r.annotations[0].value, Classification)
    ]
    (guess,) = model.predict([shapes(1, seed=5).pictures()[0]])
    assert isinstance(guess, Classification) and guess.confidence == 0.4


def test_boxes_are_scaled_to_an_unseen_images_size() -> None:
    seen = shapes(3, task="detection")
    model = FakeModel(task=Task.DETECTION).fit(seen.records, seen.load, labels=LABELS)
    image = seen.pictures()[0].copy()
    image.putpixel((0, 0), (0, 0, 0))  # not the training image any more
    big = image.resize((image.width * 2, image.height * 2))
    (found,) = model.predict([big])
    assert isinstance(found, Boxes)
    assert all(b.confidence == 0.5 for b in found.boxes)


def test_multilabel_predictions_carry_a_confidence_per_label() -> None:
    seen = shapes(4, task="multilabel")
    model = FakeModel(task=Task.MULTILABEL).fit(seen.records, seen.load, labels=LABELS)
    for value in model.predict(seen.pictures()):
        assert isinstance(value, MultiLabel)
        assert value.confidences == (0.95,) * len(value.labels)


def test_save_load_and_incremental_training(tmp_path: Path) -> None:
    first, second = shapes(3, seed=1), shapes(3, seed=2)
    v1 = FakeModel().fit(first.records, first.load, labels=LABELS)
    v1.save(tmp_path / "v1.json")
    assert FakeModel.load(tmp_path / "v1.json").predict(first.pictures()) == v1.predict(
        first.pictures()
    )
    v2 = FakeModel().fit(second.records, second.load, labels=LABELS, init_from=tmp_path / "v1.json")
    predicted = v2.predict(first.pictures() + second.pictures())
    assert all(isinstance(v, Classification) and v.confidence == 0.95 for v in predicted)


def test_bad_artifacts_and_export(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        FakeModel.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": "truthloop.fake"}')
    with pytest.raises(ModelError, match="not a FakeModel artifact"):
        FakeModel.load(tmp_path / "bad.json")
    with pytest.raises(ModelError, match="no network to export"):
        FakeModel().export_onnx(tmp_path / "x.onnx")
