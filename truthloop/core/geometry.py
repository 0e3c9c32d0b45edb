"""Box geometry in pixels: overlap, clipping, and conversions between box conventions."""

from __future__ import annotations

from dataclasses import replace

from truthloop.core.types import Box, ImageSize

MIN_BOX_SIDE = 1.0
"""The least width and height of a box, in pixels, wherever a box comes in: a worker's answer,
a reader of any format, the import's clipping, consolidation. A pixel is the least a drawing
tool can mark; anything smaller (1e-300) is no object, and its ratios and IoUs are noise."""

BOX_SIZE_RULE = f"a box must be at least {MIN_BOX_SIDE:g} pixel wide and high"


def big_enough(box: Box) -> bool:
    """Whether `box` is at least MIN_BOX_SIDE wide and high (NaN sides are not)."""
    return box.width >= MIN_BOX_SIDE and box.height >= MIN_BOX_SIDE


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes; 0 when either has no area."""
    inter_w = min(a.right, b.right) - max(a.left, b.left)
    inter_h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def inside(box: Box, size: ImageSize) -> bool:
    return (
        box.width > 0
        and box.height > 0
        and box.left >= 0
        and box.top >= 0
        and box.right <= size.width
        and box.bottom <= size.height
    )


def clip(box: Box, size: ImageSize) -> Box | None:
    """The part of `box` inside the image, or None when nothing of it is left."""
    left = min(max(box.left, 0.0), float(size.width))
    top = min(max(box.top, 0.0), float(size.height))
    right = min(max(box.right, 0.0), float(size.width))
    bottom = min(max(box.bottom, 0.0), float(size.height))
    if right - left <= 0 or bottom - top <= 0:
        return None
    if (left, top, right, bottom) == (box.left, box.top, box.right, box.bottom):
        return box
    return replace(box, left=left, top=top, width=right - left, height=bottom - top)


def to_ratios(box: Box, size: ImageSize) -> tuple[float, float, float, float]:
    """(left, top, width, height) as ratios of the image size, as Rekognition reports boxes."""
    return (
        box.left / size.width,
        box.top / size.height,
        box.width / size.width,
        box.height / size.height,
    )
