"""The built-in models on the pretrained backbone: only their own layers train, an image goes
through the frozen backbone once, artifacts name the ImageNet weights instead of holding them,
and ONNX Runtime predicts as PyTorch does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.ml.shapes import LABELS, Shapes, shapes
from tests.ml.test_onnx import assert_same
from truthloop.core.types import Boxes, Classification
from truthloop.errors import ModelError, TrainingError
from truthloop.ml.classifier import Classifier
from truthloop.ml.detector import Detector
from truthloop.ml.efficientnet import pretrained
from truthloop.ml.features import SHARED
from truthloop.ml.onnx import OnnxModel

LITE0 = "efficientnet-lite0"

pytestmark = pytest.mark.slow


def small_classifier(**params: Any) -> Classifier:
    return Classifier(**{"backbone": LITE0, "image_size": 96, "epochs": 30, **params})


def small_detector(**params: Any) -> Detector:
    return Detector(
        **{"backbone": LITE0, "image_size": 128, "train_size": 96, "epochs": 12,
           "batch_size": 8, **params}
    )


@pytest.fixture(scope="module")
def train_shapes() -> Shapes:
    return shapes(24, size=96, seed=11)


@pytest.fixture(scope="module")
def test_shapes() -> Shapes:
    return shapes(30, size=96, seed=12)


@pytest.fixture(scope="module")
def classifier(train_shapes: Shapes, test_shapes: Shapes) -> Classifier:
    both = train_shapes + test_shapes
    return small_classifier().fit(
        train_shapes.records, both.load, labels=LABELS, validation=test_shapes.records[:10]
    )


def test_from_a_few_images_it_tells_shapes_it_never_saw(
    classifier: Classifier, test_shapes: Shapes
) -> None:
    unseen = test_shapes.records[10:]  # the first ten calibrated it
    found = classifier.predict([test_shapes.load(r.uri) for r in unseen])
    right = sum(
        isinstance(f, Classification) and f.label == _label(r.annotations[0].value)
        for f, r in zip(found, unseen, strict=True)
    )
    assert right >= 0.8 * len(unseen)


def _label(value: object) -> str:
    assert isinstance(value, Classification)
    return value.label


def test_only_the_head_trains_and_the_artifact_leaves_the_backbone_out(
    classifier: Classifier, test_shapes: Shapes, tmp_path: Path
) -> None:
    imagenet = pretrained(LITE0, imagenet_head=False).state_dict()
    state = classifier.net_.state_dict()
    assert all(torch.equal(state[f"backbone.net.{k}"], v) for k, v in imagenet.items())
    path = tmp_path / "clf.pt"
    classifier.save(path)
    assert path.stat().st_size < 100_000  # the head; the 18 MB backbone is named, not copied
    loaded = Classifier.load(path)
    assert loaded.get_params() == {**classifier.get_params(), "backbone": LITE0}
    images = test_shapes.pictures()[:8]
    assert loaded.predict(images) == classifier.predict(images)


def test_an_image_goes_through_the_frozen_backbone_once(train_shapes: Shapes) -> None:
    small_classifier(epochs=2).fit(train_shapes.records, train_shapes.load, labels=LABELS)
    before = SHARED.computed
    again = small_classifier(epochs=2, seed=1).fit(
        train_shapes.records, train_shapes.load, labels=LABELS
    )
    assert SHARED.computed == before  # the second training computed no features
    new = shapes(4, size=96, seed=13).pictures()
    first = again.predict(new)
    assert again.predict(new) == first
    assert SHARED.computed == before + 4


def test_an_artifact_needs_the_weights_it_was_trained_on(
    classifier: Classifier, tmp_path: Path
) -> None:
    path = tmp_path / "clf.pt"
    classifier.save(path)
    artifact = torch.load(path, weights_only=True)
    artifact["backbone_file"] = "efficientnet-lite0-00000000.pth"
    torch.save(artifact, path)
    with pytest.raises(ModelError, match=r"trained on the efficientnet-lite0 weights"):
        Classifier.load(path)


def test_training_from_another_backbone_is_refused_first(
    classifier: Classifier, train_shapes: Shapes, tmp_path: Path
) -> None:
    classifier.save(tmp_path / "v1.pt")
    with pytest.raises(TrainingError, match="cannot start from a model of another shape"):
        Classifier(backbone="scratch", epochs=1).fit(
            train_shapes.records, train_shapes.load, labels=LABELS, init_from=tmp_path / "v1.pt"
        )
    with pytest.raises(TrainingError, match="are for the scratch backbone"):
        small_classifier(backbone_weights=tmp_path / "v1.pt").fit(
            train_shapes.records, train_shapes.load, labels=LABELS
        )


def test_classifier_onnx_parity(
    classifier: Classifier, test_shapes: Shapes, tmp_path: Path
) -> None:
    classifier.export_onnx(tmp_path / "clf.onnx")
    images = test_shapes.pictures()[:10]
    assert_same(OnnxModel.load(tmp_path / "clf.onnx").predict(images), classifier.predict(images))


def test_the_detector_trains_its_neck_and_heads_on_the_frozen_backbone(tmp_path: Path) -> None:
    train = shapes(12, task="detection", size=96, seed=5)
    test = shapes(6, task="detection", size=96, seed=6)
    both = train + test  # calibrated on the test images: no second training on all of them
    model = small_detector(epochs=6).fit(
        train.records, both.load, labels=LABELS, validation=test.records
    )
    imagenet = pretrained(LITE0, imagenet_head=False).state_dict()
    state = model.net_.state_dict()
    assert all(torch.equal(state[f"backbone.net.{k}"], v) for k, v in imagenet.items())
    found = model.predict(test.pictures())
    assert all(isinstance(f, Boxes) for f in found)
    # the frozen maps of each image and its mirror image are kept: asked again, the detector
    # runs its own layers alone
    before = SHARED.computed
    assert model.predict(test.pictures()) == found
    assert SHARED.computed == before
    model.predict(shapes(3, task="detection", size=96, seed=7).pictures())
    assert SHARED.computed == before + 2 * 3
    model.save(tmp_path / "det.pt")
    loaded = Detector.load(tmp_path / "det.pt")
    assert loaded.predict(test.pictures()) == found
    model.export_onnx(tmp_path / "det.onnx")
    assert_same(OnnxModel.load(tmp_path / "det.onnx").predict(test.pictures()), found)
