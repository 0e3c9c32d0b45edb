"""The one protocol every model backend meets, and the checks every training run starts with.

A backend follows scikit-learn's estimator contract: hyper-parameters are keywords of
`__init__`, which does no work; `fit` returns the backend; learned state ends in `_`. So

    model = Detector(epochs=40).fit(records, load, labels=["acme", "globex"])
    boxes = model.predict([image])

reads the same for the built-in classifier and detector, the ONNX Runtime backend, an HTTP
model served elsewhere and the in-memory `FakeModel` that other layers test with.

Training targets are the `truthloop.core.types` values in `record.annotations`: a
`Classification` (or `MultiLabel`) per image, or the image's `Boxes`. Records without a value of
the task's kind are unlabeled and not used. Predictions are the same value types, every label
and box with a confidence in [0, 1].
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, Self

from PIL import Image

from truthloop.core.types import (
    Annotation,
    Boxes,
    Classification,
    ImageRecord,
    MultiLabel,
    Value,
    label_names,
)
from truthloop.errors import InputError, TrainingError, UnknownLabel

ImageLoader = Callable[[str], Image.Image]
"""Gives the RGB image a record's `uri` points to (storage supplies it); raises on a bad image."""

# Images decoded and predicted together, by every caller of `predict` (batch prediction,
# evaluation) and inside the built-in models: full-size photos held at once bound the memory.
# A prediction does not depend on it (the built-in nets give the same bits at 16 and 32).
PREDICT_BATCH = 16


class Task(StrEnum):
    CLASSIFICATION = "classification"
    MULTILABEL = "multilabel"
    DETECTION = "detection"


@dataclass(frozen=True, slots=True)
class SkippedImage:
    """A training or test image that was left out, and why."""

    uri: str
    reason: str


@dataclass(frozen=True, slots=True)
class TrainProgress:
    """Where a training run is: sent after every optimiser step and once per phase change."""

    phase: str  # "train", "calibrate", or "refit" (training again on every image, see fit)
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    skipped: tuple[SkippedImage, ...] = ()


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What a finished `fit` did; backends keep it as `report_`.

    `ece_before`/`ece_after` are the expected calibration error on the held-out calibration
    images before and after calibration (None when too few images were held out to calibrate).
    """

    images: int
    calibration_images: int
    skipped: tuple[SkippedImage, ...]
    epochs: int
    seconds: float
    final_loss: float
    ece_before: float | None
    ece_after: float | None


ProgressCallback = Callable[[TrainProgress], None]


class ModelBackend(Protocol):
    """What the rest of truthloop may ask of a model.

    `min_images` is the fewest labeled images `fit` trains on: the registry checks a training
    set against it before it records a version. `report_` is what the last `fit` did. (Read-only
    here, so a plain attribute or a property meets them.)"""

    @property
    def task(self) -> Task: ...

    @property
    def min_images(self) -> int: ...

    @property
    def report_(self) -> TrainReport: ...

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
        """Train on `records` (start from the artifact at `init_from` when given); calibrate
        confidences on `validation`, or on a share of `records` held out when it is empty."""
        ...

    def predict(self, images: Sequence[Image.Image]) -> list[Value]:
        """One `Classification`, `MultiLabel` or `Boxes` per image, boxes in its pixels."""
        ...

    def save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: Path) -> Self: ...

    def export_onnx(self, path: Path) -> None: ...


@dataclass(frozen=True, slots=True)
class Example:
    """A labeled record and its target value for the task."""

    record: ImageRecord
    target: Value


def target_of(record: ImageRecord, task: Task) -> Value | None:
    """The record's target for `task`, people's annotations first; None when it has none."""
    wanted: tuple[type, ...] = {
        Task.CLASSIFICATION: (Classification,),
        Task.MULTILABEL: (MultiLabel, Classification),
        Task.DETECTION: (Boxes,),
    }[task]
    ranked: list[Annotation] = sorted(record.annotations, key=lambda a: not a.human)
    for annotation in ranked:
        if isinstance(annotation.value, wanted):
            if task is Task.MULTILABEL and isinstance(annotation.value, Classification):
                return MultiLabel((annotation.value.label,))
            return annotation.value
    return None


def examples(records: Sequence[ImageRecord], task: Task, labels: Sequence[str]) -> list[Example]:
    """The labeled records among `records`; a label outside `labels` is an error."""
    known = set(labels)
    found: list[Example] = []
    for record in records:
        target = target_of(record, task)
        if target is None:
            continue
        for name in label_names(target):
            if name not in known:
                raise UnknownLabel(
                    f"label {name!r} is not in the model's labels {list(labels)}", path=record.uri
                )
        found.append(Example(record, target))
    return found


def check_training_set(
    records: Sequence[ImageRecord], task: Task, labels: Sequence[str], min_images: int
) -> list[Example]:
    """The training examples, or a `TrainingError` saying why training cannot start."""
    if not labels:
        raise TrainingError("no labels: give the model at least one label to learn")
    repeated = [name for name, n in Counter(labels).items() if n > 1]
    if repeated:
        raise TrainingError(f"labels are listed twice: {repeated}")
    found = examples(records, task, labels)
    used = Counter(name for e in found for name in set(label_names(e.target)))
    if not used:
        raise TrainingError(
            f"no labels at all: none of the {len(records)} images has a {task.value} label"
        )
    if task is not Task.DETECTION and len(used) < 2:
        only = next(iter(used))
        raise TrainingError(
            f"only one class ({only!r}) is labeled; {task.value} needs images of at least two"
        )
    if len(found) < min_images:
        raise TrainingError(
            f"{len(found)} labeled images; the model needs at least {min_images} to train"
        )
    return found


def decode(
    found: Sequence[Example], load: ImageLoader, min_images: int = 0
) -> tuple[list[tuple[Image.Image, Value]], list[SkippedImage]]:
    """Each example's RGB image and target; images that fail to load are skipped, with why.

    Raises `TrainingError` when fewer than `min_images` images are left.
    """
    decoded: list[tuple[Image.Image, Value]] = []
    skipped: list[SkippedImage] = []
    for example in found:
        try:
            image = load(example.record.uri)
            image.load()
            decoded.append((image.convert("RGB"), example.target))
        except (InputError, OSError, ValueError, Image.DecompressionBombError) as error:
            skipped.append(SkippedImage(example.record.uri, str(error) or type(error).__name__))
    if len(decoded) < min_images:
        bad = ", ".join(s.uri for s in skipped[:5])
        raise TrainingError(
            f"only {len(decoded)} of {len(found)} images could be read ({len(skipped)} failed:"
            f" {bad}); the model needs at least {min_images} to train"
        )
    return decoded, skipped
