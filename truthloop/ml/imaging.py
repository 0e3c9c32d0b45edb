"""Images in and out of the nets: letterboxing to a square, and boxes back to image pixels.

Numpy and Pillow only, so the PyTorch and the ONNX Runtime paths prepare images identically.
An image is scaled so its longer side fills the square, placed at the top-left corner, and the
rest is filled with grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# Grey that fills whatever the image does not cover (letterbox bars, crops beyond the edge).
PAD_VALUE = 114.0


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image of `width` x `height` was scaled by `scale` into the square."""

    scale: float
    width: int
    height: int


def letterbox(image: Image.Image, size: int) -> tuple[NDArray[np.uint8], Letterbox]:
    """The image as a (3, size, size) uint8 array, and how it was placed."""
    image = image.convert("RGB")
    width, height = image.size
    scale = size / max(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new != image.size:
        image = image.resize(new, Image.Resampling.BILINEAR)
    canvas = np.full((size, size, 3), int(PAD_VALUE), dtype=np.uint8)
    canvas[: new[1], : new[0]] = np.asarray(image)
    return canvas.transpose(2, 0, 1), Letterbox(scale, width, height)


def letterbox_batch(
    images: Sequence[Image.Image], size: int
) -> tuple[NDArray[np.float32], list[Letterbox]]:
    """The images as one float32 (n, 3, size, size) batch of pixels in [0, 255]."""
    placed = [letterbox(image, size) for image in images]
    batch = (
        np.stack([p[0] for p in placed]).astype(np.float32)
        if placed
        else np.zeros((0, 3, size, size), np.float32)
    )
    return batch, [p[1] for p in placed]


def to_image_pixels(xyxy: NDArray[np.floating], placed: Letterbox) -> NDArray[np.float64]:
    """(k, 4) left, top, right, bottom in the square, as pixels of the original image."""
    out = np.asarray(xyxy, dtype=np.float64) / placed.scale
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, placed.width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, placed.height)
    return out
