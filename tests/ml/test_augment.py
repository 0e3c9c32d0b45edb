"""Augmented boxes stay on what they framed."""

from __future__ import annotations

import pytest
import torch

from truthloop.ml.augment import (
    Augmentation,
    augment_batch,
    colour_jitter,
    keep_visible,
    mosaic,
    random_affine,
)


def white_square(left: int, top: int, right: int, bottom: int, size: int = 64) -> torch.Tensor:
    image = torch.zeros(1, 3, size, size)
    image[:, :, top:bottom, left:right] = 255.0
    return image


def bright_bounds(image: torch.Tensor) -> tuple[float, float, float, float]:
    ys, xs = torch.nonzero(image[0].mean(dim=0) > 127.5, as_tuple=True)
    return xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1


@pytest.mark.parametrize("seed", range(6))
def test_zoom_flip_and_crop_move_the_box_with_the_pixels(seed: int) -> None:
    image = white_square(10, 20, 30, 36)
    box = torch.tensor([[10.0, 20.0, 30.0, 36.0, 2.0]])
    augmentation = Augmentation(scale=(0.8, 1.3), min_visible=0.0)
    out, (moved,) = random_affine(
        image, [box], 48, augmentation, torch.Generator().manual_seed(seed)
    )
    assert out.shape == (1, 3, 48, 48)
    if len(moved) == 0:  # the window missed the square: nothing of it is in view
        assert not (out[0].mean(dim=0) > 127.5).any()
        return
    assert moved[0, 4] == 2.0
    clipped = tuple(moved[0, :4].tolist())
    assert clipped == pytest.approx(bright_bounds(out), abs=1.5)


def test_a_turned_box_holds_its_turned_pixels() -> None:
    image = white_square(20, 20, 44, 40)
    box = torch.tensor([[20.0, 20.0, 44.0, 40.0, 0.0]])
    augmentation = Augmentation(scale=(1.0, 1.0), flip=False, rotate=30.0)
    out, (moved,) = random_affine(image, [box], 64, augmentation, torch.Generator().manual_seed(1))
    left, top, right, bottom = bright_bounds(out)
    x1, y1, x2, y2 = moved[0, :4].tolist()
    assert x1 - 1.5 <= left and y1 - 1.5 <= top and right <= x2 + 1.5 and bottom <= y2 + 1.5
    assert (x2 - x1) * (y2 - y1) > 24 * 20  # a turned box is larger than the upright one


def test_mosaic_tiles_four_images_at_half_size() -> None:
    images = torch.stack([white_square(0, 0, 16, 16)[0] * (k + 1) / 4 for k in range(4)])
    boxes = [torch.tensor([[0.0, 0.0, 16.0, 16.0, float(k)]]) for k in range(4)]
    tiled, (placed,) = mosaic(images, boxes, torch.tensor([3, 2, 1, 0]))
    assert tiled.shape == (3, 64, 64)
    assert placed.tolist() == [
        [0.0, 0.0, 8.0, 8.0, 3.0],
        [32.0, 0.0, 40.0, 8.0, 2.0],
        [0.0, 32.0, 8.0, 40.0, 1.0],
        [32.0, 32.0, 40.0, 40.0, 0.0],
    ]
    assert tiled[0, 4, 4] == 255.0 and tiled[0, 36, 36] == pytest.approx(255.0 / 4)


def test_boxes_mostly_outside_are_dropped_and_the_rest_clipped() -> None:
    boxes = torch.tensor([[-30.0, 0.0, 10.0, 10.0, 0.0], [-2.0, 5.0, 18.0, 15.0, 1.0]])
    kept = keep_visible(boxes, 64, min_visible=0.5)
    assert kept.tolist() == [[0.0, 5.0, 18.0, 15.0, 1.0]]


def test_colour_jitter_keeps_pixels_in_range_and_batches_whole() -> None:
    images = torch.rand(4, 3, 16, 16) * 255
    out = colour_jitter(images, Augmentation(brightness=0.9), torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 255
    assert not torch.equal(out, images)
    batch, boxes = augment_batch(
        images.to(torch.uint8),
        [torch.zeros(0, 5)] * 4,
        torch.tensor([0, 2]),
        16,
        Augmentation(mosaic=1.0),
        torch.Generator().manual_seed(0),
    )
    assert batch.shape == (2, 3, 16, 16) and len(boxes) == 2
