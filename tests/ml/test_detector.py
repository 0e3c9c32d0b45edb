"""The built-in detector, trained for seconds on tiny shapes, scored on images it never saw."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.ml.conftest import tiny_detector
from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.core.geometry import iou
from truthloop.core.types import Boxes
from truthloop.ml.detector import Detector
from truthloop.ml.evaluate import evaluate


def test_it_finds_shapes_it_never_saw(detector: Detector, boxes_test: Shapes) -> None:
    result = evaluate(detector, boxes_test.records, boxes_test.load)
    assert result.map50 is not None and result.map50 >= 0.7  # a random box scores about 0
    assert result.f1 >= 0.7
    predictions = detector.predict(boxes_test.pictures())
    assert all(isinstance(p, Boxes) for p in predictions)
    confidences = [b.confidence for p in predictions if isinstance(p, Boxes) for b in p.boxes]
    assert all(c is not None and 0.05 <= c <= 1.0 for c in confidences)


def test_boxes_come_out_in_the_images_own_pixels(detector: Detector, boxes_test: Shapes) -> None:
    image = boxes_test.pictures()[0]
    truth = boxes_test.records[0].annotations[0].value
    assert isinstance(truth, Boxes)
    big = image.resize((image.width * 3, image.height * 3), Image.Resampling.BILINEAR)
    found = detector.predict([big])[0]
    assert isinstance(found, Boxes)
    best = found.boxes[0]
    tripled = [
        type(t)(t.label, t.left * 3, t.top * 3, t.width * 3, t.height * 3) for t in truth.boxes
    ]
    assert max(iou(best, t) for t in tripled if t.label == best.label) >= 0.6


def test_calibration_is_fitted_on_held_out_images(detector: Detector) -> None:
    report = detector.report_
    assert (report.images, report.calibration_images) == (40, 8)
    assert report.ece_before is not None and report.ece_after is not None
    assert report.ece_after <= report.ece_before + 1e-9
    assert detector.decoding_.platt.a > 0


def test_validation_records_are_used_for_calibration_instead_of_a_split(
    boxes_train: Shapes,
) -> None:
    extra = shapes(6, task="detection", size=96, seed=7, prefix="mem://val")
    data = boxes_train + extra
    model = tiny_detector(epochs=1).fit(
        boxes_train.records[:12], data.load, labels=LABELS, validation=extra.records
    )
    assert (model.report_.images, model.report_.calibration_images) == (12, 6)


def test_save_and_load_predict_the_same(
    detector: Detector, boxes_test: Shapes, tmp_path: Path
) -> None:
    detector.save(tmp_path / "det.pt")
    assert not list(tmp_path.glob("*.partial"))
    loaded = Detector.load(tmp_path / "det.pt")
    images = boxes_test.pictures()[:6]
    assert loaded.predict(images) == detector.predict(images)


def test_incremental_training_keeps_the_heatmaps_of_known_labels(
    detector: Detector, tmp_path: Path
) -> None:
    detector.save(tmp_path / "v1.pt")
    data = shapes(10, task="detection", size=96, labels=("square", "disc"), seed=3)
    v2 = tiny_detector(epochs=1, lr=0.0).fit(
        data.records, data.load, labels=["square", "ring", "disc"], init_from=tmp_path / "v1.pt"
    )
    old, new = detector.net_.state_dict(), v2.net_.state_dict()
    name = "heatmap.1.weight"
    assert torch.equal(new[name][0], old[name][LABELS.index("square")])
    assert torch.equal(new[name][2], old[name][LABELS.index("disc")])
    assert not torch.equal(new[name][1], old[name][LABELS.index("triangle")])
    assert torch.equal(new["box.1.weight"], old["box.1.weight"])


def test_an_artifact_saved_before_flip_averaging_predicts_as_it_did(
    detector: Detector, boxes_test: Shapes, tmp_path: Path
) -> None:
    assert detector.flip_average  # on by default
    detector.save(tmp_path / "det.pt")
    artifact = torch.load(tmp_path / "det.pt", weights_only=True)
    del artifact["params"]["flip_average"]
    torch.save(artifact, tmp_path / "old.pt")
    old = Detector.load(tmp_path / "old.pt")
    assert not old.flip_average
    images = boxes_test.pictures()[:6]
    detector.flip_average = False
    try:
        assert old.predict(images) == detector.predict(images)
    finally:
        detector.flip_average = True


@pytest.mark.parametrize("size", [(150, 60), (40, 90)])
def test_any_image_size_is_letterboxed(detector: Detector, size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, (200, 200, 200))
    (found,) = detector.predict([image])
    assert isinstance(found, Boxes)
    for b in found.boxes:
        assert 0 <= b.left <= b.right <= size[0] and 0 <= b.top <= b.bottom <= size[1]
