"""The value types every layer speaks: labels, boxes, annotations and image records.

All are frozen dataclasses. Boxes are in image pixels with the origin at the top-left corner,
as in SageMaker Ground Truth manifests; confidences are in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from truthloop.core.text import normal_label


class Source(StrEnum):
    """Who made an annotation: a person, a model, or several people's answers combined."""

    HUMAN = "human"
    MODEL = "model"
    CONSOLIDATED = "consolidated"


class Split(StrEnum):
    TRAIN = "train"
    TEST = "test"
    VALIDATION = "validation"
    UNASSIGNED = "unassigned"


class AnnotationKind(StrEnum):
    CLASSIFICATION = "classification"
    MULTILABEL = "multilabel"
    BOXES = "boxes"
    VERIFICATION = "verification"


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int
    height: int
    depth: int = 3


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels; `left`/`top` is the top-left corner."""

    label: str
    left: float
    top: float
    width: float
    height: float
    confidence: float | None = None

    def __post_init__(self) -> None:
        _normalise_label(self)

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


@dataclass(frozen=True, slots=True)
class Classification:
    """One label for the whole image (single-label classification)."""

    label: str
    confidence: float | None = None
    kind: AnnotationKind = field(default=AnnotationKind.CLASSIFICATION, init=False)

    def __post_init__(self) -> None:
        _normalise_label(self)


def _normalise_label(value: Box | Classification) -> None:
    # Labels enter through these types from every reader and answer, so they take their one
    # form here; the ASCII test spares the common case the normalisation call.
    if not value.label.isascii():
        object.__setattr__(value, "label", normal_label(value.label))


@dataclass(frozen=True, slots=True)
class MultiLabel:
    """Several labels for the whole image; `confidences[i]` belongs to `labels[i]`."""

    labels: tuple[str, ...]
    confidences: tuple[float | None, ...] = ()
    kind: AnnotationKind = field(default=AnnotationKind.MULTILABEL, init=False)

    def __post_init__(self) -> None:
        if not all(label.isascii() for label in self.labels):
            object.__setattr__(self, "labels", tuple(map(normal_label, self.labels)))
        if self.confidences and len(self.confidences) != len(self.labels):
            raise ValueError("MultiLabel needs one confidence per label, or none at all")


@dataclass(frozen=True, slots=True)
class Boxes:
    """The boxes of one image. `adjusted` is set by box adjustment jobs (adjustment-status)."""

    boxes: tuple[Box, ...]
    adjusted: bool | None = None
    kind: AnnotationKind = field(default=AnnotationKind.BOXES, init=False)


@dataclass(frozen=True, slots=True)
class Verification:
    """A reviewer's verdict on an earlier label: the category chosen, its index, and comments."""

    verdict: str
    verdict_id: int
    confidence: float | None = None
    comments: tuple[str, ...] = ()
    kind: AnnotationKind = field(default=AnnotationKind.VERIFICATION, init=False)


Value = Classification | MultiLabel | Boxes | Verification


@dataclass(frozen=True, slots=True)
class Annotation:
    """One label attribute of one image, with its provenance.

    `attribute` is the label attribute name a manifest stores it under (for example the job
    name). `metadata` keeps the metadata keys truthloop does not model, so they survive a round
    trip untouched.
    """

    value: Value
    source: Source = Source.HUMAN
    attribute: str | None = None
    job_name: str | None = None
    created_at: datetime | None = None
    worker: str | None = None
    seconds: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> AnnotationKind:
        return self.value.kind

    @property
    def human(self) -> bool:
        return self.source is not Source.MODEL


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One image as a format sees it: where it is, its size, its annotations, and extra keys.

    `extra` holds manifest keys that are neither the image reference nor a label attribute;
    they are passed through to the output untouched, as Ground Truth does.
    """

    uri: str
    size: ImageSize | None = None
    annotations: tuple[Annotation, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    split: Split | None = None

    def labels(self) -> set[str]:
        return {name for a in self.annotations for name in label_names(a.value)}


def label_names(value: Value) -> tuple[str, ...]:
    """The class names a value uses (a verification verdict is not a class name)."""
    match value:
        case Classification(label=label):
            return (label,)
        case MultiLabel(labels=labels):
            return labels
        case Boxes(boxes=boxes):
            return tuple(b.label for b in boxes)
        case Verification():
            return ()
    raise TypeError(f"not an annotation value: {value!r}")


@dataclass(frozen=True, slots=True)
class LabelSet:
    """The classes of a dataset or job, each with the integer id manifests use for it.

    Ids need not be contiguous: Ground Truth class maps such as `{"0": "dog", "5": "bone"}`
    keep their ids.
    """

    ids: Mapping[str, int]

    def __post_init__(self) -> None:
        if not all(name.isascii() for name in self.ids):
            object.__setattr__(self, "ids", {normal_label(n): i for n, i in self.ids.items()})

    @classmethod
    def from_names(cls, names: Iterable[str]) -> LabelSet:
        ids: dict[str, int] = {}
        for name in names:
            ids.setdefault(normal_label(name), len(ids))
        return cls(ids)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.ids, key=self.ids.__getitem__))

    def id_of(self, name: str) -> int:
        try:
            return self.ids[normal_label(name)]
        except KeyError:
            raise KeyError(f"label {name!r} is not in the label set {list(self.names)}") from None

    def name_of(self, class_id: int) -> str:
        for name, i in self.ids.items():
            if i == class_id:
                return name
        raise KeyError(f"class id {class_id} is not in the label set")

    def with_label(self, name: str, class_id: int | None = None) -> LabelSet:
        """This set plus `name`, under `class_id` when that id is free, else the next free id."""
        name = normal_label(name)
        if name in self.ids:
            return self
        taken = set(self.ids.values())
        if class_id is None or class_id in taken:
            class_id = max(taken, default=-1) + 1
        return LabelSet({**self.ids, name: class_id})

    def __contains__(self, name: object) -> bool:
        return (normal_label(name) if isinstance(name, str) else name) in self.ids

    def __len__(self) -> int:
        return len(self.ids)
