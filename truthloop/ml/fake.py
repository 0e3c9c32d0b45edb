"""`FakeModel`: an in-memory model backend for other layers' tests. Deterministic, instant,
no torch.

It remembers every training image exactly (by a digest of its pixels) and answers for those
with their training label at `confidence`. For any other image it answers with the label of
the training image closest in mean colour, at `guess_confidence` (boxes scaled to the new
image's size). So a test controls what the model says: train it on the images whose answer
matters.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from PIL import Image, ImageStat

from truthloop.core.serialize import value_from_json, value_to_json
from truthloop.core.types import Boxes, Classification, ImageRecord, MultiLabel, Value
from truthloop.errors import ModelError, NotFound
from truthloop.ml.backend import (
    ImageLoader,
    ProgressCallback,
    Task,
    TrainProgress,
    TrainReport,
    check_training_set,
    decode,
)

_FORMAT = "truthloop.fake"


def _digest(image: Image.Image) -> str:
    rgb = image.convert("RGB")
    return hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()


def _colour(image: Image.Image) -> tuple[float, float, float]:
    r, g, b = ImageStat.Stat(image.convert("RGB")).mean
    return r, g, b


def _with_confidence(value: Value, confidence: float, scale: tuple[float, float]) -> Value:
    match value:
        case Classification():
            return replace(value, confidence=confidence)
        case MultiLabel(labels=labels):
            return MultiLabel(labels, (confidence,) * len(labels))
        case Boxes(boxes=boxes):
            sx, sy = scale
            return Boxes(
                tuple(
                    replace(
                        b,
                        left=b.left * sx,
                        top=b.top * sy,
                        width=b.width * sx,
                        height=b.height * sy,
                        confidence=confidence,
                    )
                    for b in boxes
                )
            )
    raise TypeError(f"not a prediction value: {value!r}")


class FakeModel:
    """A model backend that memorises (see the module docstring)."""

    def __init__(
        self,
        *,
        task: Task | str = Task.CLASSIFICATION,
        confidence: float = 0.95,
        guess_confidence: float = 0.5,
        min_images: int = 1,
    ):
        self.task = Task(task)
        self.confidence = confidence
        self.guess_confidence = guess_confidence
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
        started = time.perf_counter()
        found = check_training_set(records, self.task, labels, self.min_images)
        earlier = type(self).load(init_from) if init_from is not None else None
        decoded, skipped = decode(found, load, self.min_images)
        self.labels_ = tuple(labels)
        # (digest, mean colour, image size, target) per training image, earlier ones first.
        self.memory_: list[tuple[str, tuple[float, float, float], tuple[int, int], Value]] = [
            *(earlier.memory_ if earlier else []),
            *((_digest(im), _colour(im), im.size, target) for im, target in decoded),
        ]
        if progress:
            progress(TrainProgress("train", 1, 1, 1, 1, 0.0, tuple(skipped)))
        self.report_ = TrainReport(
            images=len(decoded),
            calibration_images=0,
            skipped=tuple(skipped),
            epochs=1,
            seconds=time.perf_counter() - started,
            final_loss=0.0,
            ece_before=None,
            ece_after=None,
        )
        return self

    def predict(self, images: Sequence[Image.Image]) -> list[Value]:
        known = {digest: target for digest, _, _, target in self.memory_}
        values: list[Value] = []
        for image in images:
            digest = _digest(image)
            if digest in known:
                values.append(_with_confidence(known[digest], self.confidence, (1.0, 1.0)))
                continue
            colour = _colour(image)
            _, _, size, target = min(self.memory_, key=lambda m: math.dist(m[1], colour))
            scale = (image.size[0] / size[0], image.size[1] / size[1])
            values.append(_with_confidence(target, self.guess_confidence, scale))
        return values

    def save(self, path: Path) -> None:
        data = {
            "format": _FORMAT,
            "params": {
                "task": self.task.value,
                "confidence": self.confidence,
                "guess_confidence": self.guess_confidence,
                "min_images": self.min_images,
            },
            "labels": list(self.labels_),
            "memory": [
                [digest, list(colour), list(size), target.kind.value, value_to_json(target)]
                for digest, colour, size, target in self.memory_
            ],
        }
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> Self:
        if not path.is_file():
            raise NotFound(f"{path}: no model artifact there")
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            if data.get("format") != _FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            params = dict(data["params"], task=Task(data["params"]["task"]))
            model = cls(**params)
            model.labels_ = tuple(data["labels"])
            model.memory_ = [
                (digest, (c[0], c[1], c[2]), (s[0], s[1]), value_from_json(kind, value))
                for digest, c, s, kind, value in data["memory"]
            ]
        except (ValueError, KeyError, TypeError) as error:
            raise ModelError(f"{path}: not a FakeModel artifact ({error})") from error
        return model

    def export_onnx(self, path: Path) -> None:
        raise ModelError("a FakeModel has no network to export to ONNX")
