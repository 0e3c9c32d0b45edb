"""Tiny synthetic images for the model tests: coloured shapes on a noisy background, drawn in
memory in milliseconds, with a loader that serves them by URI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    MultiLabel,
    Value,
)
from truthloop.errors import ImageError

LABELS = ("disc", "square", "triangle")
_COLOURS = {"disc": (220, 40, 40), "square": (40, 70, 220), "triangle": (30, 170, 60)}


@dataclass
class Shapes:
    """Records and the images their URIs name; `broken` URIs fail to load like a bad file."""

    records: list[ImageRecord] = field(default_factory=list)
    images: dict[str, Image.Image] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)

    def load(self, uri: str) -> Image.Image:
        if uri in self.broken:
            raise ImageError("not an image: cannot identify image file", path=uri)
        return self.images[uri]

    def pictures(self) -> list[Image.Image]:
        return [self.images[r.uri] for r in self.records]

    def __add__(self, other: Shapes) -> Shapes:
        return Shapes(
            self.records + other.records,
            {**self.images, **other.images},
            self.broken | other.broken,
        )


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    base = rng.integers(150, 230, 3)
    noise = rng.normal(0, 12, (size[1], size[0], 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def _draw(draw: ImageDraw.ImageDraw, label: str, x: float, y: float, side: float) -> None:
    colour = _COLOURS[label]
    if label == "disc":
        draw.ellipse((x, y, x + side, y + side), fill=colour)
    elif label == "square":
        draw.rectangle((x, y, x + side, y + side), fill=colour)
    else:
        draw.polygon(((x + side / 2, y), (x, y + side), (x + side, y + side)), fill=colour)


def _value(task: str, chosen: list[str], boxes: list[Box]) -> Value:
    if task == "classification":
        return Classification(chosen[0])
    if task == "multilabel":
        return MultiLabel(tuple(chosen))
    return Boxes(tuple(boxes))


def shapes(
    n: int,
    *,
    task: str = "classification",
    size: int = 64,
    seed: int = 0,
    labels: tuple[str, ...] = LABELS,
    prefix: str = "mem://shapes",
) -> Shapes:
    """`n` images of `size` pixels (a little wider than tall): one shape each for
    classification, one or two for multilabel and detection (as boxes)."""
    rng = np.random.default_rng(seed)
    out = Shapes()
    dims = (size + size // 4, size)
    for i in range(n):
        image = _background(rng, dims)
        draw = ImageDraw.Draw(image)
        count = 1 if task == "classification" else int(rng.integers(1, 3))
        chosen = [labels[(i + k) % len(labels)] for k in range(count)]
        boxes = []
        for k, label in enumerate(chosen):
            side = float(rng.uniform(0.3, 0.45) * size)
            # Two shapes go to the two halves of the image, so they do not overlap.
            lo = k * dims[0] / count
            hi = (k + 1) * dims[0] / count - side
            x = float(rng.uniform(lo, max(lo, hi)))
            y = float(rng.uniform(0, size - side))
            _draw(draw, label, x, y, side)
            boxes.append(Box(label, x, y, side, side))
        uri = f"{prefix}/{seed}/{i}.png"
        value = _value(task, chosen, boxes)
        out.images[uri] = image
        out.records.append(ImageRecord(uri, ImageSize(*dims), (Annotation(value),)))
    return out
