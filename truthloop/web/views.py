"""What the manager pages draw, shaped from service results: thumbnails with their boxes and
label chips, and progress bars as percentages."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from truthloop.core.types import Boxes, Classification, MultiLabel, Source, Verification
from truthloop.storage.gallery import GalleryItem


def label_color(label: str) -> str:
    """The same colour the annotator gives a label (see static/js/boxes.js)."""
    h = 0
    for ch in label:
        h = (h * 31 + ord(ch)) % 2**32
    return f"hsl({h % 360} 75% 45%)"


@dataclass(frozen=True, slots=True)
class ThumbBox:
    label: str
    left: float
    top: float
    width: float
    height: float
    color: str


@dataclass(frozen=True, slots=True)
class Chip:
    text: str
    machine: bool


@dataclass(frozen=True, slots=True)
class Thumb:
    item_id: int
    uri: str
    width: int | None
    height: int | None
    split: str
    boxes: tuple[ThumbBox, ...]
    chips: tuple[Chip, ...]


def thumb(item: GalleryItem) -> Thumb:
    boxes: list[ThumbBox] = []
    chips: list[Chip] = []
    for annotation in item.annotations:
        machine = annotation.source is Source.MODEL
        match annotation.value:
            case Boxes(boxes=found):
                boxes += [
                    ThumbBox(b.label, b.left, b.top, b.width, b.height, label_color(b.label))
                    for b in found
                ]
                counts = Counter(b.label for b in found)
                chips += [Chip(f"{n}× {label}" if n > 1 else label, machine)
                          for label, n in counts.items()]
                if not found:
                    chips.append(Chip("no objects", machine))
            case Classification(label=label):
                chips.append(Chip(label, machine))
            case MultiLabel(labels=labels):
                chips += [Chip(label, machine) for label in labels] or [Chip("none", machine)]
            case Verification(verdict=verdict):
                chips.append(Chip(f"verified: {verdict}", machine))
    return Thumb(item.item_id, item.uri, item.width, item.height, item.split,
                 tuple(boxes), tuple(chips))


def percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole else 0.0
