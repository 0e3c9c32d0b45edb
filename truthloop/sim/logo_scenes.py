"""One synthetic logo image in memory: its pixels, and for each logo its class, mask and box.

A scene is painted from the back to the front: a background, plain clutter shapes, the logos,
then distractor shapes that partly hide some logos. Every painted layer records which pixels it
now owns (where its alpha is at least one half), so each logo's visible mask, and from it the
tight box, is exact. No painting is allowed to leave any logo with less than 60 % of its pixels
in view (hidden by other logos, distractors, or the image border), so every logo placed is a
logo a person would label.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import cos, pi, sin
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from truthloop.core.types import Box
from truthloop.errors import InputError
from truthloop.sim.backgrounds import background, draw_clutter, occluder_mask, random_colour
from truthloop.sim.logo_recipes import RECIPES, logo_classes, logo_template

Mode = Literal["detection", "classification"]

MAX_HIDDEN = 0.4
MIN_SIZE, MAX_SIZE = 64, 4096
_EMPTY, _DISTRACTOR = -1, -2
_ATTEMPTS = 12  # positions tried for a shape before it is left out
_EMPTY_SHARE = 0.1  # detection images with no logo at all
_OCCLUDED_SHARE = 0.35  # logos a distractor tries to partly cover
_MAX_ROTATION = 30.0


@dataclass(frozen=True, slots=True)
class PlacedLogo:
    """A logo as it shows in the image.

    `box` is the tight box of `visible` (pixel indices, so width = right column - left + 1);
    `visible` is an image-sized boolean mask; `hidden` the share of the logo's own pixels that
    other shapes or the image border hide.
    """

    label: str
    class_index: int
    box: Box
    visible: np.ndarray
    hidden: float


@dataclass(frozen=True, slots=True)
class LogoScene:
    image: Image.Image
    logos: tuple[PlacedLogo, ...]


@dataclass(frozen=True, slots=True)
class _Sprite:
    rgb: np.ndarray  # premultiplied by alpha, h×w×3 float32 in 0..255
    alpha: np.ndarray  # h×w float32 in 0..1
    left: int
    top: int

    @property
    def full(self) -> int:
        return int((self.alpha >= 0.5).sum())

    def centred_at(self, x: float, y: float) -> _Sprite:
        h, w = self.alpha.shape
        return replace(self, left=round(x - w / 2), top=round(y - h / 2))


_Region = tuple[slice, slice]


class _Canvas:
    """The image being painted, and which logo (or distractor) owns each pixel."""

    def __init__(self, pixels: np.ndarray):
        self.pixels = pixels
        self.owner: NDArray[np.int16] = np.full(pixels.shape[:2], _EMPTY, dtype=np.int16)
        self.classes: list[int] = []
        self.full: list[int] = []
        self.visible: list[int] = []
        self.regions: list[_Region] = []

    def _clip(self, sprite: _Sprite) -> tuple[_Region, _Region] | None:
        """The part of the image the sprite covers, and the matching part of the sprite."""
        h, w = sprite.alpha.shape
        side_y, side_x = self.owner.shape
        x0, y0 = max(sprite.left, 0), max(sprite.top, 0)
        x1, y1 = min(sprite.left + w, side_x), min(sprite.top + h, side_y)
        if x1 <= x0 or y1 <= y0:
            return None
        image_part = (slice(y0, y1), slice(x0, x1))
        sprite_part = (
            slice(y0 - sprite.top, y1 - sprite.top),
            slice(x0 - sprite.left, x1 - sprite.left),
        )
        return image_part, sprite_part

    def _hidden_by(self, image_part: _Region, covers: np.ndarray) -> np.ndarray:
        under = self.owner[image_part][covers]
        return np.bincount(under[under >= 0], minlength=len(self.full))

    def allows(self, sprite: _Sprite, *, logo: bool) -> bool:
        """Whether painting `sprite` leaves every logo, itself too when a logo, enough in view."""
        clip = self._clip(sprite)
        if clip is None:
            return not logo
        image_part, sprite_part = clip
        covers = sprite.alpha[sprite_part] >= 0.5
        if logo and covers.sum() < (1 - MAX_HIDDEN) * sprite.full:
            return False
        hidden = self._hidden_by(image_part, covers)
        return all(
            v - h >= (1 - MAX_HIDDEN) * f
            for v, h, f in zip(self.visible, hidden, self.full, strict=True)
        )

    def paint(self, sprite: _Sprite, class_index: int | None = None) -> None:
        """Composites `sprite`; a logo when `class_index` is given, else a distractor."""
        clip = self._clip(sprite)
        if clip is None:
            return
        image_part, sprite_part = clip
        alpha = sprite.alpha[sprite_part]
        region = self.pixels[image_part]
        region *= (1 - alpha)[:, :, None]
        region += sprite.rgb[sprite_part]
        covers = alpha >= 0.5
        for i, h in enumerate(self._hidden_by(image_part, covers)):
            self.visible[i] -= int(h)
        owner = _DISTRACTOR
        if class_index is not None:
            owner = len(self.full)
            self.classes.append(class_index)
            self.full.append(sprite.full)
            self.visible.append(int(covers.sum()))
            self.regions.append(image_part)
        self.owner[image_part][covers] = owner

    def logos(self) -> tuple[PlacedLogo, ...]:
        names = logo_classes(len(RECIPES))
        placed = []
        for i, (y, x) in enumerate(self.regions):
            ys, xs = np.nonzero(self.owner[y, x] == i)
            top, left = y.start + int(ys.min()), x.start + int(xs.min())
            height, width = int(ys.max() - ys.min()) + 1, int(xs.max() - xs.min()) + 1
            label = names[self.classes[i]]
            placed.append(
                PlacedLogo(
                    label=label,
                    class_index=self.classes[i],
                    box=Box(label, float(left), float(top), float(width), float(height), 1.0),
                    visible=self.owner == i,
                    hidden=1 - self.visible[i] / self.full[i],
                )
            )
        return tuple(placed)


def _logo_sprite(rng: np.random.Generator, class_index: int, side: float) -> _Sprite:
    """Class `class_index`'s logo about `side` pixels wide, stretched, turned and tinted."""
    aspect = rng.uniform(0.85, 1.18)
    size = (max(2, round(side * aspect)), max(2, round(side / aspect)))
    image = logo_template(class_index).resize(size, Image.Resampling.BILINEAR)
    angle = rng.uniform(-_MAX_ROTATION, _MAX_ROTATION)
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    pixels = np.asarray(image, dtype=np.float32)
    alpha = pixels[:, :, 3] / 255
    # Lighting and print differences; kept small so that red stays red and orange orange.
    tint = (rng.uniform(0.8, 1.12) * rng.uniform(0.93, 1.07, size=3)).astype(np.float32)
    rgb = np.minimum(pixels[:, :, :3] * tint, 255 * alpha[:, :, None])
    return _Sprite(rgb, alpha, 0, 0)


def _distractor_sprite(rng: np.random.Generator, radius: float) -> _Sprite:
    alpha = np.asarray(occluder_mask(rng, radius), dtype=np.float32) / 255
    colour = np.array(random_colour(rng), dtype=np.float32)
    return _Sprite(alpha[:, :, None] * colour, alpha, 0, 0)


def _place_logos(rng: np.random.Generator, canvas: _Canvas, classes: int, max_objects: int) -> None:
    size = canvas.owner.shape[0]
    count = 0 if rng.random() < _EMPTY_SHARE else int(rng.integers(1, max_objects + 1))
    for _ in range(count):
        class_index = int(rng.integers(classes))
        sprite = _logo_sprite(rng, class_index, rng.uniform(0.12, 0.36) * size)
        for _attempt in range(_ATTEMPTS):
            x, y = rng.uniform(-0.05, 1.05, size=2) * size
            if canvas.allows(placed := sprite.centred_at(x, y), logo=True):
                canvas.paint(placed, class_index)
                break


def _place_dominant_logo(rng: np.random.Generator, canvas: _Canvas, class_index: int) -> None:
    size = canvas.owner.shape[0]
    sprite = _logo_sprite(rng, class_index, rng.uniform(0.4, 0.65) * size)
    x, y = (0.5 + rng.uniform(-0.12, 0.12, size=2)) * size
    if not canvas.allows(placed := sprite.centred_at(x, y), logo=True):
        # In the middle even the largest turned logo keeps all but its corners in view.
        placed = sprite.centred_at(size / 2, size / 2)
    canvas.paint(placed, class_index)


def _cover_some_logos(
    rng: np.random.Generator, canvas: _Canvas, share: float, scale: tuple[float, float]
) -> None:
    """Puts a distractor across the edge of about `share` of the logos, never too much of it."""
    for y, x in list(canvas.regions):
        if rng.random() >= share:
            continue
        side = max(y.stop - y.start, x.stop - x.start)
        cx, cy = (x.start + x.stop) / 2, (y.start + y.stop) / 2
        sprite = _distractor_sprite(rng, rng.uniform(*scale) * side)
        for _attempt in range(_ATTEMPTS):
            turn = rng.uniform(0, 2 * pi)
            reach = rng.uniform(0.45, 0.75) * side
            placed = sprite.centred_at(cx + reach * cos(turn), cy + reach * sin(turn))
            if canvas.allows(placed, logo=False):
                canvas.paint(placed)
                break


def check_scene_arguments(classes: int, mode: str, size: int, max_objects: int) -> None:
    logo_classes(classes)
    if mode not in ("detection", "classification"):
        raise InputError(f"mode must be 'detection' or 'classification', not {mode!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"image size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {size}")
    if max_objects < 1:
        raise InputError(f"max_objects must be at least 1, not {max_objects}")


def render_scene(
    seed: int,
    index: int,
    *,
    classes: int = 3,
    mode: Mode = "detection",
    size: int = 320,
    max_objects: int = 4,
) -> LogoScene:
    """Image `index` of the synthetic set `seed`: the same arguments give the same pixels.

    Each image has its own random stream, derived from (seed, index), so any image can be
    made alone, in any order, or in parallel.
    """
    check_scene_arguments(classes, mode, size, max_objects)
    if seed < 0 or index < 0:
        raise InputError(f"seed and index must not be negative, not {seed} and {index}")
    rng = np.random.default_rng([seed, index])
    first = Image.fromarray(background(rng, size).astype(np.uint8))
    detection = mode == "detection"
    draw_clutter(
        first,
        rng,
        int(rng.integers(3, 13) if detection else rng.integers(2, 9)),
        (0.12 if detection else 0.08) * size,
    )
    canvas = _Canvas(np.array(first, dtype=np.float32))
    if detection:
        _place_logos(rng, canvas, classes, max_objects)
        _cover_some_logos(rng, canvas, _OCCLUDED_SHARE, (0.2, 0.4))
    else:
        # Classes take turns, so every first N images of a set are balanced.
        _place_dominant_logo(rng, canvas, index % classes)
        _cover_some_logos(rng, canvas, 0.5, (0.1, 0.2))
    # Sensor noise, one value per pixel for all channels: a third of the cost of colour noise.
    noise = rng.standard_normal((size, size, 1), dtype=np.float32)
    noise *= rng.uniform(0, 6)
    pixels = canvas.pixels
    pixels += noise
    np.clip(pixels, 0, 255, out=pixels)
    image = Image.fromarray(pixels.astype(np.uint8))
    if rng.random() < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    return LogoScene(image, canvas.logos())
