"""ONNX export of both built-in models, and ONNX Runtime predicting as PyTorch does."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tests.ml.conftest import tiny_classifier
from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.core.types import Boxes, Classification, MultiLabel, Value
from truthloop.errors import ModelError, NotFound
from truthloop.ml.backend import Task
from truthloop.ml.classifier import Classifier
from truthloop.ml.detector import Detector
from truthloop.ml.onnx import OnnxModel


def assert_same(onnx_values: list[Value], torch_values: list[Value]) -> None:
    assert len(onnx_values) == len(torch_values)
    for a, b in zip(onnx_values, torch_values, strict=True):
        match a, b:
            case Classification(), Classification():
                assert a.label == b.label
                assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
            case MultiLabel(), MultiLabel():
                assert dict(zip(a.labels, a.confidences, strict=True)) == pytest.approx(
                    dict(zip(b.labels, b.confidences, strict=True)), abs=1e-4
                )
            case Boxes(), Boxes():
                assert len(a.boxes) == len(b.boxes)
                for x, y in zip(a.boxes, b.boxes, strict=True):
                    assert x.label == y.label
                    assert x.confidence == pytest.approx(y.confidence, abs=1e-4)
                    assert (x.left, x.top, x.width, x.height) == pytest.approx(
                        (y.left, y.top, y.width, y.height), abs=0.05
                    )
            case _:
                raise AssertionError(f"{a!r} and {b!r} differ in kind")


def test_classifier_parity(classifier: Classifier, classes_test: Shapes, tmp_path: Path) -> None:
    classifier.export_onnx(tmp_path / "clf.onnx")
    served = OnnxModel.load(tmp_path / "clf.onnx")
    assert served.task is Task.CLASSIFICATION
    assert served.decoding_ == classifier.decoding_
    images = classes_test.pictures()
    assert_same(served.predict(images), classifier.predict(images))


def test_multilabel_parity(tmp_path: Path) -> None:
    data = shapes(12, task="multilabel")
    model = tiny_classifier(multilabel=True, epochs=2).fit(data.records, data.load, labels=LABELS)
    model.export_onnx(tmp_path / "ml.onnx")
    served = OnnxModel(tmp_path / "ml.onnx")
    assert_same(served.predict(data.pictures()), model.predict(data.pictures()))


def test_detector_parity(detector: Detector, boxes_test: Shapes, tmp_path: Path) -> None:
    detector.export_onnx(tmp_path / "det.onnx")
    served = OnnxModel.load(tmp_path / "det.onnx")
    assert served.task is Task.DETECTION
    images = boxes_test.pictures()
    predictions = served.predict(images)
    assert sum(len(p.boxes) for p in predictions if isinstance(p, Boxes)) >= len(images)
    assert_same(predictions, detector.predict(images))
    assert served.predict([]) == []


def test_the_file_is_valid_onnx_with_a_dynamic_batch(detector: Detector, tmp_path: Path) -> None:
    detector.export_onnx(tmp_path / "det.onnx")
    model = onnx.load(str(tmp_path / "det.onnx"))
    onnx.checker.check_model(model)
    (pixels,) = model.graph.input
    assert pixels.name == "pixels"
    assert pixels.type.tensor_type.shape.dim[0].dim_param == "batch"


def test_an_onnx_model_only_predicts(
    detector: Detector, boxes_test: Shapes, tmp_path: Path
) -> None:
    detector.export_onnx(tmp_path / "det.onnx")
    served = OnnxModel.load(tmp_path / "det.onnx")
    with pytest.raises(ModelError, match="an ONNX model only predicts"):
        served.fit(boxes_test.records, boxes_test.load, labels=LABELS)
    served.save(tmp_path / "copy.onnx")
    assert OnnxModel.load(tmp_path / "copy.onnx").decoding_ == served.decoding_


def test_bad_onnx_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no ONNX model there"):
        OnnxModel.load(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01 not a protobuf")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load it"):
        OnnxModel.load(tmp_path / "junk.onnx")
    foreign = tmp_path / "foreign.onnx"
    pixels = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["pixels"], ["out"])],
        "foreign",
        [pixels],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(foreign))
    with pytest.raises(ModelError, match="without truthloop's metadata"):
        OnnxModel.load(foreign)
