"""Few-shot augmentation on batches of image tensors: mosaic, scale and crop jitter, flips, and
colour jitter, with boxes carried along.

Images are float NCHW tensors of pixels in [0, 255]; boxes are one (k, 5) tensor per image of
`left, top, right, bottom, class` in pixels. All randomness comes from the `torch.Generator`
passed in, so a seed gives the same batches on every run.

Hue is left alone on purpose: a logo's colour is often what tells two classes apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from truthloop.ml.imaging import PAD_VALUE


@dataclass(frozen=True, slots=True)
class Augmentation:
    """How strongly to jitter. `scale` bounds the zoom; `rotate` the turn, in degrees either
    way; `mosaic` is the share of samples made
    of four images at half size; `min_visible` is the share of a box's area that must stay in
    view for the box to be kept."""

    scale: tuple[float, float] = (0.7, 1.4)
    flip: bool = True
    rotate: float = 0.0  # degrees either way
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    mosaic: float = 0.0
    min_visible: float = 0.45


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def mosaic(images: Tensor, boxes: list[Tensor], picks: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Tile images `picks[0..3]` at half size, 2x2, into one image of the same size."""
    size = images.shape[-1]
    half = size // 2
    tiles = F.avg_pool2d(images[picks].float(), 2)
    out = tiles.new_full((3, size, size), PAD_VALUE)
    parts = []
    for k, i in enumerate(picks.tolist()):
        dx, dy = (k % 2) * half, (k // 2) * half
        out[:, dy : dy + half, dx : dx + half] = tiles[k, :, :half, :half]
        b = boxes[i].clone()
        b[:, :4] = b[:, :4] / 2 + torch.tensor([dx, dy, dx, dy], dtype=b.dtype)
        parts.append(b)
    return out, [torch.cat(parts)]


def random_affine(
    images: Tensor,
    boxes: list[Tensor],
    out_size: int,
    augmentation: Augmentation,
    generator: torch.Generator,
) -> tuple[Tensor, list[Tensor]]:
    """Flip each image half the time, turn it a little about its centre, zoom it by a random
    factor, and cut a random `out_size` square window from it (padding where the window
    leaves the image). A turned box becomes the box around its turned corners."""
    n, _, size, _ = images.shape
    low, high = augmentation.scale
    scale = torch.exp(_uniform(n, math.log(low), math.log(high), generator))
    flip = torch.rand(n, generator=generator) < (0.5 if augmentation.flip else 0.0)
    angle = torch.deg2rad(_uniform(n, -augmentation.rotate, augmentation.rotate, generator))
    span = out_size - scale * size  # offsets between these keep the window on the image
    tx = torch.minimum(span, torch.zeros(n)) + torch.rand(n, generator=generator) * span.abs()
    ty = torch.minimum(span, torch.zeros(n)) + torch.rand(n, generator=generator) * span.abs()
    # Pixel coordinates: out = A @ src + b, from flip, then turn about the centre, then zoom
    # and shift.
    mirror = torch.diag_embed(torch.stack([torch.where(flip, -1.0, 1.0), torch.ones(n)], 1))
    cos, sin = torch.cos(angle), torch.sin(angle)
    turn = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    a = scale[:, None, None] * turn @ mirror
    centre = torch.full((n, 2), size / 2)
    b = torch.stack([tx, ty], 1) + scale[:, None] * centre - (a @ centre[:, :, None])[:, :, 0]
    # grid_sample wants the inverse map, in [-1, 1] coordinates of pixel edges.
    inverse = torch.linalg.inv(a)
    theta = torch.cat(
        [
            inverse * (out_size / size),
            (2 / size) * (inverse @ (out_size / 2 - b)[:, :, None]) - 1,
        ],
        dim=2,
    )
    grid = F.affine_grid(theta.to(images.device), [n, 3, out_size, out_size], align_corners=False)
    warped = F.grid_sample(images - PAD_VALUE, grid, align_corners=False) + PAD_VALUE
    moved = []
    for i, box in enumerate(boxes):
        corners = box[:, [0, 1, 2, 1, 0, 3, 2, 3]].reshape(-1, 4, 2)
        placed = corners @ a[i].T + b[i]
        low_corner, high_corner = placed.min(dim=1).values, placed.max(dim=1).values
        moved.append(torch.cat([low_corner, high_corner, box[:, 4:5]], 1))
    return warped, [keep_visible(b, out_size, augmentation.min_visible) for b in moved]


def keep_visible(boxes: Tensor, size: int, min_visible: float) -> Tensor:
    """Boxes clipped to the image, without those mostly outside it or under 2 px a side."""
    clipped = boxes.clone()
    clipped[:, :4] = clipped[:, :4].clamp(0, size)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    w = clipped[:, 2] - clipped[:, 0]
    h = clipped[:, 3] - clipped[:, 1]
    keep = (w >= 2) & (h >= 2) & (w * h >= min_visible * area)
    return clipped[keep]


def colour_jitter(images: Tensor, augmentation: Augmentation, generator: torch.Generator) -> Tensor:
    """Random brightness, contrast and saturation per image; pixels stay in [0, 255]."""
    n = images.shape[0]

    def factor(strength: float) -> Tensor:
        f = _uniform(n, 1 - strength, 1 + strength, generator)
        return f.view(n, 1, 1, 1).to(images.device)

    x = images * factor(augmentation.brightness)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor(augmentation.contrast) + mean
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * factor(augmentation.saturation) + grey
    return x.clamp(0, 255)


def augment_batch(
    images: Tensor,
    boxes: list[Tensor],
    indices: Tensor,
    out_size: int,
    augmentation: Augmentation,
    generator: torch.Generator,
) -> tuple[Tensor, list[Tensor]]:
    """Augmented copies of `images[indices]` (uint8 or float, all of one size) and their boxes."""
    batch = images[indices].float()
    batch_boxes = [boxes[i] for i in indices.tolist()]
    if augmentation.mosaic > 0:
        for k in range(len(indices)):
            if torch.rand(1, generator=generator).item() < augmentation.mosaic:
                others = torch.randint(len(images), (3,), generator=generator)
                picks = torch.cat([indices[k : k + 1], others])
                tiled, tiled_boxes = mosaic(images, boxes, picks)
                batch[k] = tiled
                batch_boxes[k] = tiled_boxes[0]
    batch, batch_boxes = random_affine(batch, batch_boxes, out_size, augmentation, generator)
    return colour_jitter(batch, augmentation, generator), batch_boxes
