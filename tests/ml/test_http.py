"""`HttpModel` against a small real model server on 127.0.0.1, started by the tests."""

from __future__ import annotations

import base64
import functools
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.core.types import Box, Boxes, Classification, MultiLabel
from truthloop.errors import ModelError, TrainingError
from truthloop.ml.backend import Task
from truthloop.ml.http import HttpModel

# (path, request body) -> (status, response body: JSON-able, or bytes sent as they are)
Handler = Callable[[str, dict[str, Any]], tuple[int, Any]]


class ModelServer:
    """A server whose answers the test sets; it keeps every request it got."""

    def __init__(self) -> None:
        self.handler: Handler = lambda path, body: (404, {"error": "no handler"})
        self.requests: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Requests(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the stdlib's name for it
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                server.requests.append((self.path, body))
                status, answer = server.handler(self.path, body)
                raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Requests)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/model"


@pytest.fixture
def server() -> Iterator[ModelServer]:
    s = ModelServer()
    thread = threading.Thread(target=s.http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield s
    s.http.shutdown()
    s.http.server_close()
    thread.join()


def sizes(body: dict[str, Any]) -> list[tuple[int, int]]:
    """The sizes of the images a request carries, decoded as a server would."""
    return [Image.open(io.BytesIO(base64.b64decode(i))).size for i in body["images"]]


def test_detection_predictions_become_boxes(server: ModelServer) -> None:
    def answer(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        assert path == "/model/predict" and body["task"] == "detection"
        boxes = [
            {
                "label": "disc",
                "left": 1,
                "top": 2,
                "width": w - 1,
                "height": h - 2,
                "confidence": 0.8,
            }
            for w, h in sizes(body)
        ]
        return 200, {"predictions": [{"boxes": [b]} for b in boxes]}

    server.handler = answer
    images = [Image.new("RGB", (40, 30)), Image.new("RGB", (20, 50))]
    found = HttpModel(server.url, task=Task.DETECTION).predict(images)
    assert found == [
        Boxes((Box("disc", 1.0, 2.0, 39.0, 28.0, 0.8),)),
        Boxes((Box("disc", 1.0, 2.0, 19.0, 48.0, 0.8),)),
    ]
    assert HttpModel(server.url, task=Task.DETECTION).predict([]) == []
    assert len(server.requests) == 1


def test_classification_and_multilabel_predictions(server: ModelServer) -> None:
    server.handler = lambda path, body: (200, {"predictions": [{"label": "disc", "confidence": 1}]})
    image = Image.new("RGB", (8, 8))
    assert HttpModel(server.url, task=Task.CLASSIFICATION).predict([image]) == [
        Classification("disc", 1.0)
    ]
    labels = [{"label": "disc", "confidence": 0.9}, {"label": "square", "confidence": 0.2}]
    server.handler = lambda path, body: (200, {"predictions": [{"labels": labels}]})
    assert HttpModel(server.url, task=Task.MULTILABEL).predict([image]) == [
        MultiLabel(("disc", "square"), (0.9, 0.2))
    ]


def test_training_sends_images_and_targets(server: ModelServer) -> None:
    server.handler = lambda path, body: (200, {"status": "trained"})
    data = shapes(6, task="detection")
    broken = Shapes(data.records, data.images, {data.records[5].uri})
    model = HttpModel(server.url, task=Task.DETECTION).fit(
        data.records[:4], broken.load, labels=LABELS, validation=data.records[4:]
    )
    assert (model.report_.images, model.report_.calibration_images) == (4, 1)
    assert [s.uri for s in model.report_.skipped] == [data.records[5].uri]
    ((path, body),) = server.requests
    assert path == "/model/train" and body["labels"] == list(LABELS)
    first = data.records[0].annotations[0].value
    assert isinstance(first, Boxes)
    assert body["records"][0]["target"]["boxes"][0]["label"] == first.boxes[0].label
    assert Image.open(io.BytesIO(base64.b64decode(body["records"][0]["image"]))).size == (80, 64)


def test_bad_training_input_is_refused_before_calling_the_server(server: ModelServer) -> None:
    data = shapes(6, labels=("disc",))
    with pytest.raises(TrainingError, match="only one class"):
        HttpModel(server.url, task=Task.CLASSIFICATION).fit(data.records, data.load, labels=LABELS)
    assert server.requests == []


def _refuse(status: int, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    return status, {"error": "nope"}


def test_a_server_that_does_not_train_says_so(server: ModelServer) -> None:
    data = shapes(4)
    for status in (404, 501):
        server.handler = functools.partial(_refuse, status)
        with pytest.raises(ModelError, match=f"does not train \\(HTTP {status}\\)"):
            HttpModel(server.url, task=Task.CLASSIFICATION).fit(
                data.records, data.load, labels=LABELS
            )


@pytest.mark.parametrize(
    ("status", "answer", "message"),
    [
        (500, {"error": "out of memory"}, 'answered HTTP 500: {"error": "out of memory"}'),
        (200, b"<html>oops</html>", "the answer is not JSON: <html>oops</html>"),
        (200, {"result": []}, "one prediction per image \\(1\\)"),
        (200, {"predictions": []}, "one prediction per image \\(1\\)"),
        (200, {"predictions": ["disc"]}, "predictions\\[0\\]: expected an object, got str"),
        (
            200,
            {
                "predictions": [
                    {
                        "boxes": [
                            {
                                "label": "disc",
                                "left": 0,
                                "top": 0,
                                "width": 5,
                                "height": 5,
                                "confidence": 1.5,
                            }
                        ]
                    }
                ]
            },
            "predictions\\[0\\].boxes\\[0\\]: confidence 1.5 is not a number in \\[0, 1\\]",
        ),
        (
            200,
            {
                "predictions": [
                    {
                        "boxes": [
                            {
                                "label": "disc",
                                "left": "0",
                                "top": 0,
                                "width": 5,
                                "height": 5,
                                "confidence": 0.5,
                            }
                        ]
                    }
                ]
            },
            "predictions\\[0\\].boxes\\[0\\]: 'left' is '0', not a number",
        ),
        (200, {"predictions": [{"boxes": {"label": "disc"}}]}, "'boxes' is not a list"),
        (
            200,
            {
                "predictions": [
                    {"boxes": [{"left": 0, "top": 0, "width": 5, "height": 5, "confidence": 0.5}]}
                ]
            },
            "'label' is None, not a name",
        ),
    ],
)
def test_bad_answers_raise_model_errors(
    server: ModelServer, status: int, answer: Any, message: str
) -> None:
    server.handler = lambda path, body: (status, answer)
    with pytest.raises(ModelError, match=message):
        HttpModel(server.url, task=Task.DETECTION).predict([Image.new("RGB", (8, 8))])


def test_an_unreachable_server_is_a_model_error() -> None:
    with socket.socket() as s:  # a port nobody listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = HttpModel(f"http://127.0.0.1:{port}", task=Task.CLASSIFICATION, timeout=5)
    with pytest.raises(ModelError, match="cannot reach the model server"):
        model.predict([Image.new("RGB", (8, 8))])


def test_save_load_and_no_export(server: ModelServer, tmp_path: Path) -> None:
    model = HttpModel(server.url, task=Task.MULTILABEL, timeout=3.5)
    model.save(tmp_path / "http.json")
    loaded = HttpModel.load(tmp_path / "http.json")
    assert (loaded.url, loaded.task, loaded.timeout) == (server.url, Task.MULTILABEL, 3.5)
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelError, match="not an HttpModel artifact"):
        HttpModel.load(tmp_path / "other.json")
    with pytest.raises(ModelError, match="cannot be exported to ONNX"):
        model.export_onnx(tmp_path / "x.onnx")
