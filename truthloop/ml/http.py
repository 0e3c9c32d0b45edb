"""`HttpModel`: a model served elsewhere, behind a small JSON protocol, so a team can plug in
its own detector or classifier.

The protocol (UTF-8 JSON bodies, `Content-Type: application/json`)::

    POST {url}/predict
      request   {"task": "detection", "images": ["<base64 PNG>", ...]}
      response  {"predictions": [PREDICTION, ...]}         one per image, in the same order

    PREDICTION by task (confidences in [0, 1]; boxes in pixels of the image sent, origin at
    its top-left corner):
      classification  {"label": "acme", "confidence": 0.93}
      multilabel      {"labels": [{"label": "acme", "confidence": 0.93}, ...]}
      detection       {"boxes": [{"label": "acme", "left": 10, "top": 20, "width": 30,
                                  "height": 40, "confidence": 0.9}, ...]}

    POST {url}/train                                        optional
      request   {"task": ..., "labels": ["acme", ...],
                 "records": [{"image": "<base64 PNG>", "target": TARGET}, ...],
                 "validation": [same as records]}
      response  {"status": "trained"} once the server's model has trained; it answers
                404 or 501 when it does not train.

    TARGET is a PREDICTION without confidences.

Any other answer (an HTTP error, a body that is not that JSON, a confidence outside [0, 1],
the wrong number of predictions) raises `ModelError` saying what the server sent.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from PIL import Image

from truthloop.core.types import Box, Boxes, Classification, ImageRecord, MultiLabel, Value
from truthloop.errors import ModelError, NotFound
from truthloop.ml.backend import (
    ImageLoader,
    ProgressCallback,
    Task,
    TrainProgress,
    TrainReport,
    check_training_set,
    decode,
    examples,
)

_FORMAT = "truthloop.http"
_BODY_EXCERPT = 200


def encode_image(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _confidence(item: dict[str, Any], where: str) -> float:
    c = item.get("confidence")
    if isinstance(c, bool) or not isinstance(c, int | float) or not 0.0 <= c <= 1.0:
        raise ValueError(f"{where}: confidence {c!r} is not a number in [0, 1]")
    return float(c)


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {key!r} is {value!r}, not a name")
    return value


def _number(item: dict[str, Any], key: str, where: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {key!r} is {value!r}, not a number")
    return float(value)


def parse_prediction(task: Task, data: Any, where: str) -> Value:
    """One PREDICTION of the protocol as a core value; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    if task is Task.CLASSIFICATION:
        return Classification(_string(data, "label", where), _confidence(data, where))
    items = data.get("labels" if task is Task.MULTILABEL else "boxes")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        key = "labels" if task is Task.MULTILABEL else "boxes"
        raise ValueError(f"{where}: {key!r} is not a list of objects")
    if task is Task.MULTILABEL:
        return MultiLabel(
            tuple(_string(i, "label", f"{where}.labels[{k}]") for k, i in enumerate(items)),
            tuple(_confidence(i, f"{where}.labels[{k}]") for k, i in enumerate(items)),
        )
    boxes = []
    for k, item in enumerate(items):
        at = f"{where}.boxes[{k}]"
        left, top, width, height = (
            _number(item, key, at) for key in ("left", "top", "width", "height")
        )
        boxes.append(
            Box(_string(item, "label", at), left, top, width, height, _confidence(item, at))
        )
    return Boxes(tuple(boxes))


def target_json(value: Value) -> dict[str, Any]:
    """A training target as the protocol's TARGET."""
    match value:
        case Classification(label=label):
            return {"label": label}
        case MultiLabel(labels=labels):
            return {"labels": [{"label": name} for name in labels]}
        case Boxes(boxes=boxes):
            return {
                "boxes": [
                    {
                        "label": b.label,
                        "left": b.left,
                        "top": b.top,
                        "width": b.width,
                        "height": b.height,
                    }
                    for b in boxes
                ]
            }
    raise TypeError(f"not a training target: {value!r}")


class HttpModel:
    """A model behind `url` that speaks the protocol above. `timeout` is per request, seconds."""

    def __init__(self, url: str, *, task: Task, timeout: float = 30.0, min_images: int = 1):
        self.url = url
        self.task = task
        self.timeout = timeout
        self.min_images = min_images

    def fit(
        self,
        records: Sequence[ImageRecord],
        load: ImageLoader,
        *,
        labels: Sequence[str],
        validation: Sequence[ImageRecord] = (),
        init_from: Path | None = None,
        progress: ProgressCallback | None = None,
    ) -> Self:
        if init_from is not None:
            raise ModelError(f"{self.url}: a served model keeps its own weights; no init_from")
        found = check_training_set(records, self.task, labels, self.min_images)
        held_out = examples(validation, self.task, labels)
        decoded, skipped = decode(found, load, self.min_images)
        held, held_skipped = decode(held_out, load)
        skipped += held_skipped
        body = {
            "task": self.task.value,
            "labels": list(labels),
            "records": [{"image": encode_image(i), "target": target_json(t)} for i, t in decoded],
            "validation": [{"image": encode_image(i), "target": target_json(t)} for i, t in held],
        }
        answer = self._post("train", body)
        if not isinstance(answer, dict) or answer.get("status") != "trained":
            raise ModelError(f"{self.url}/train answered {_excerpt(answer)}, not status 'trained'")
        if progress:
            progress(TrainProgress("train", 1, 1, 1, 1, 0.0, tuple(skipped)))
        self.report_ = TrainReport(len(decoded), len(held), tuple(skipped), 1, 0.0, 0.0, None, None)
        return self

    def predict(self, images: Sequence[Image.Image]) -> list[Value]:
        if not images:
            return []
        answer = self._post(
            "predict", {"task": self.task.value, "images": [encode_image(i) for i in images]}
        )
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        if not isinstance(predictions, list) or len(predictions) != len(images):
            raise ModelError(
                f"{self.url}/predict answered {_excerpt(answer)}; expected"
                f" {{'predictions': [...]}} with one prediction per image ({len(images)})"
            )
        try:
            return [
                parse_prediction(self.task, p, f"predictions[{i}]")
                for i, p in enumerate(predictions)
            ]
        except ValueError as error:
            raise ModelError(f"{self.url}/predict answered badly: {error}") from error

    def save(self, path: Path) -> None:
        data = {
            "format": _FORMAT,
            "url": self.url,
            "task": self.task.value,
            "timeout": self.timeout,
            "min_images": self.min_images,
        }
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> Self:
        if not path.is_file():
            raise NotFound(f"{path}: no model artifact there")
        try:
            data = json.loads(path.read_text())
            if data.get("format") != _FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            return cls(
                data["url"],
                task=Task(data["task"]),
                timeout=float(data["timeout"]),
                min_images=int(data["min_images"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelError(f"{path}: not an HttpModel artifact ({error})") from error

    def export_onnx(self, path: Path) -> None:
        raise ModelError(f"{self.url}: a model served over HTTP cannot be exported to ONNX")

    def _post(self, endpoint: str, body: dict[str, Any]) -> Any:
        url = f"{self.url.rstrip('/')}/{endpoint}"
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            text = error.read()[:_BODY_EXCERPT].decode(errors="replace")
            if endpoint == "train" and error.code in (404, 501):
                raise ModelError(
                    f"{url}: this model server does not train (HTTP {error.code})"
                ) from error
            raise ModelError(
                f"{url}: the model server answered HTTP {error.code}: {text}"
            ) from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ModelError(f"{url}: cannot reach the model server ({reason})") from error
        try:
            return json.loads(raw)
        except ValueError as error:
            raise ModelError(f"{url}: the answer is not JSON: {_excerpt(raw)}") from error


def _excerpt(value: Any) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else json.dumps(value)
    return text if len(text) <= _BODY_EXCERPT else text[:_BODY_EXCERPT] + "..."
