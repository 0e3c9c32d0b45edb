"""The built-in classifier, trained for seconds on tiny shapes, scored on images it never saw."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.ml.conftest import tiny_classifier
from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.core.types import Classification, MultiLabel
from truthloop.errors import ModelError, NotFound, TrainingError
from truthloop.ml.backend import TrainProgress
from truthloop.ml.classifier import Classifier
from truthloop.ml.detector import Detector
from truthloop.ml.evaluate import evaluate


def test_params_follow_the_estimator_contract() -> None:
    model = Classifier(epochs=3, lr=0.01)
    assert model.get_params()["epochs"] == 3
    assert model.get_params()["lr"] == 0.01
    assert not any(name.endswith("_") for name in vars(model))  # __init__ learns nothing
    assert "Classifier(multilabel=False" in repr(model)


def test_it_learns_shapes_it_never_saw(classifier: Classifier, classes_test: Shapes) -> None:
    predictions = classifier.predict(classes_test.pictures())
    truth = [r.annotations[0].value for r in classes_test.records]
    assert all(isinstance(p, Classification) for p in predictions)
    assert all(
        isinstance(p, Classification) and 0.0 <= (p.confidence or -1) <= 1.0 for p in predictions
    )
    right = sum(
        isinstance(p, Classification) and isinstance(t, Classification) and p.label == t.label
        for p, t in zip(predictions, truth, strict=True)
    )
    assert right / len(truth) >= 0.8  # chance is 1/3


def test_fit_reports_training_and_calibration(classifier: Classifier) -> None:
    report = classifier.report_
    assert (report.images, report.calibration_images, report.epochs) == (36, 8, 12)
    assert report.ece_before is not None and report.ece_after is not None
    assert report.ece_after <= report.ece_before + 1e-9  # fitted on these very images
    assert classifier.decoding_.temperature > 0


def test_progress_is_reported_for_every_step() -> None:
    data = shapes(8)
    seen: list[TrainProgress] = []
    tiny_classifier(epochs=2).fit(data.records, data.load, labels=LABELS, progress=seen.append)
    assert [(p.phase, p.epoch, p.step, p.steps) for p in seen] == [
        ("train", 1, 1, 1),
        ("train", 2, 1, 1),
    ]
    assert all(p.loss > 0 for p in seen)


def test_few_images_are_held_out_to_calibrate_then_all_train_again() -> None:
    data = shapes(12)
    seen: list[TrainProgress] = []
    model = tiny_classifier(epochs=1, batch_size=8).fit(
        data.records, data.load, labels=LABELS, progress=seen.append
    )
    # 12 images: 2 held out, 10 train (2 steps), calibrate, then all 12 train (2 steps).
    assert [(p.phase, p.step) for p in seen] == [
        ("train", 1),
        ("train", 2),
        ("calibrate", 0),
        ("refit", 1),
        ("refit", 2),
    ]
    assert (model.report_.images, model.report_.calibration_images) == (12, 2)
    assert model.report_.ece_after is not None


def test_save_and_load_predict_the_same(
    classifier: Classifier, classes_test: Shapes, tmp_path: Path
) -> None:
    path = tmp_path / "v1" / "model.pt"
    classifier.save(path)
    loaded = Classifier.load(path)
    assert loaded.get_params() == classifier.get_params()
    images = classes_test.pictures()[:8]
    assert loaded.predict(images) == classifier.predict(images)


def test_load_refuses_what_is_not_a_classifier(tmp_path: Path, classifier: Classifier) -> None:
    with pytest.raises(NotFound, match="no model artifact there"):
        Classifier.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a model artifact truthloop can read"):
        Classifier.load(tmp_path / "junk.pt")
    classifier.save(tmp_path / "clf.pt")
    with pytest.raises(
        ModelError, match=r"a 'truthloop\.classifier' artifact, not a 'truthloop\.detector'"
    ):
        Detector.load(tmp_path / "clf.pt")


def test_incremental_training_maps_the_head_by_label_name(tmp_path: Path) -> None:
    first = shapes(12, labels=("square", "disc"))
    v1 = tiny_classifier(epochs=2).fit(first.records, first.load, labels=["square", "disc"])
    v1.save(tmp_path / "v1.pt")
    # With a learning rate of 0 the weights stay as they started: from v1's.
    data = shapes(12)
    v2 = tiny_classifier(epochs=1, lr=0.0).fit(
        data.records, data.load, labels=["disc", "triangle", "square"], init_from=tmp_path / "v1.pt"
    )
    old, new = v1.net_.state_dict(), v2.net_.state_dict()
    assert torch.equal(new["backbone.stem.0.weight"], old["backbone.stem.0.weight"])
    assert torch.equal(new["head.weight"][0], old["head.weight"][1])  # disc
    assert torch.equal(new["head.weight"][2], old["head.weight"][0])  # square
    assert not torch.equal(new["head.weight"][1], old["head.weight"][0])  # triangle is new


def test_incremental_training_from_another_shape_is_refused_first(tmp_path: Path) -> None:
    data = shapes(8)
    boxes = shapes(8, task="detection", prefix="mem://boxes")
    tiny_classifier(epochs=1).fit(data.records, data.load, labels=LABELS).save(tmp_path / "v1.pt")
    calls = []

    def load(uri: str) -> Image.Image:
        calls.append(uri)
        return data.load(uri) if uri in data.images else boxes.load(uri)

    with pytest.raises(TrainingError, match="cannot start from a model of another shape"):
        tiny_classifier(width=1.0).fit(
            data.records, load, labels=LABELS, init_from=tmp_path / "v1.pt"
        )
    with pytest.raises(
        ModelError, match=r"a 'truthloop\.classifier' artifact, not a 'truthloop\.detector'"
    ):
        Detector().fit(boxes.records, load, labels=LABELS, init_from=tmp_path / "v1.pt")
    assert calls == []


def test_multilabel_finds_every_shape_in_images_it_never_saw() -> None:
    train = shapes(36, task="multilabel", seed=1)
    test = shapes(30, task="multilabel", seed=2)
    model = tiny_classifier(multilabel=True, epochs=20).fit(
        train.records, train.load, labels=LABELS
    )
    predictions = model.predict(test.pictures())
    assert all(isinstance(p, MultiLabel) and set(p.labels) == set(LABELS) for p in predictions)
    result = evaluate(model, test.records, test.load)
    assert result.f1 >= 0.85  # always answering every label scores 2 * 0.5 / 1.5 = 0.67
