"""A pretrained backbone from a weights file the test writes; the Hub only on its error paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from tests.ml.conftest import tiny_classifier, tiny_detector
from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.errors import ConfigError, ModelError, NotFound, TrainingError
from truthloop.ml.classifier import Classifier
from truthloop.ml.nets import Backbone
from truthloop.ml.pretrained import read_backbone_weights


@pytest.fixture
def weights_file(tmp_path: Path) -> Path:
    """A backbone state dict with weights no fresh initialisation would give."""
    backbone = Backbone(width=0.5)
    with torch.no_grad():
        for i, p in enumerate(backbone.parameters()):
            p.fill_(0.01 * (i + 1))
    path = tmp_path / "backbone.pt"
    torch.save(backbone.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def few_boxes() -> Shapes:
    return shapes(8, task="detection", size=96)


def test_training_starts_from_the_weights_file(weights_file: Path, few_boxes: Shapes) -> None:
    # A learning rate of 0 leaves the weights where training started.
    model = tiny_detector(epochs=1, lr=0.0, backbone_weights=weights_file).fit(
        few_boxes.records, few_boxes.load, labels=LABELS
    )
    expected = torch.load(weights_file, weights_only=True)
    trained = model.net_.backbone.state_dict()
    for name, value in expected.items():
        if "running" not in name and "num_batches" not in name:  # BatchNorm statistics move
            assert torch.equal(trained[name], value), name


def test_a_saved_classifier_gives_a_detector_its_backbone(
    tmp_path: Path, few_boxes: Shapes
) -> None:
    data = shapes(8)
    tiny_classifier(epochs=1).fit(data.records, data.load, labels=LABELS).save(tmp_path / "c.pt")
    weights = read_backbone_weights(tmp_path / "c.pt")
    assert torch.equal(
        weights["stem.0.weight"], Classifier.load(tmp_path / "c.pt").net_.backbone.stem[0].weight
    )
    model = tiny_detector(epochs=1, lr=0.0, backbone_weights=str(tmp_path / "c.pt"))
    model.fit(few_boxes.records, few_boxes.load, labels=LABELS)
    assert torch.equal(model.net_.backbone.stem[0].weight, weights["stem.0.weight"])


def test_weights_of_another_width_are_refused_before_any_work(
    weights_file: Path, few_boxes: Shapes
) -> None:
    calls = []

    def load(uri: str):
        calls.append(uri)
        return few_boxes.load(uri)

    with pytest.raises(TrainingError, match="the backbone weights do not fit this model"):
        tiny_detector(width=1.0, backbone_weights=weights_file).fit(
            few_boxes.records, load, labels=LABELS
        )
    assert calls == []


def test_files_that_hold_no_backbone_weights_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no backbone weights file there"):
        read_backbone_weights(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ModelError, match="not a weights file PyTorch can read safely"):
        read_backbone_weights(tmp_path / "text.pt")
    torch.save({"lr": 0.1}, tmp_path / "dict.pt")
    with pytest.raises(ModelError, match="not a state dict of backbone weights"):
        read_backbone_weights(tmp_path / "dict.pt")


def test_a_hub_name_without_the_hub_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if it were not installed
    with pytest.raises(ConfigError, match="needs the huggingface_hub package"):
        read_backbone_weights("hf://someone/logos/backbone.pt")


def test_a_malformed_hub_name_is_refused_without_going_online() -> None:
    with pytest.raises(ConfigError, match="a Hub name is hf://OWNER/REPO/FILE"):
        read_backbone_weights("hf://just-a-repo")
