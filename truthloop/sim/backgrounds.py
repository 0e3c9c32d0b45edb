"""Backgrounds for synthetic images, and the plain shapes that clutter them and hide logos.

None of these shapes is a logo: each is one flat colour without an inner mark, though some
share a logo's outline (discs, squares, triangles), so a model must look inside to tell them
apart.
"""

from __future__ import annotations

from math import cos, pi, sin

import numpy as np
from PIL import Image, ImageDraw

BACKGROUND_KINDS = ("gradient", "blotches", "stripes", "tiles")

# A PIL shape: a bounding box [x0, y0, x1, y1] or a list of points.
Geometry = list[float] | list[tuple[float, float]]


def random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, size=3))
    return r, g, b


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A size×size×3 float32 background, in 0..255, of a randomly chosen kind."""
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    a = rng.uniform(0, 255, size=3).astype(np.float32)
    b = rng.uniform(0, 255, size=3).astype(np.float32)
    if kind == "blotches":
        # Low-frequency noise: a few random colours stretched smoothly over the image.
        cells = int(rng.integers(2, 7))
        small = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(image, dtype=np.float32)
    # Position along a random direction, from 0 to 1 across the image.
    angle = rng.uniform(0, pi)
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    t = axis[None, :] * cos(angle) + axis[:, None] * sin(angle)
    if kind == "stripes":
        period = rng.uniform(0.04, 0.25)
        t = 0.5 + 0.5 * np.sin(t * (2 * pi / period))
    elif kind == "tiles":
        tiles = int(rng.integers(3, 12))
        t = ((np.floor(axis * tiles)[None, :] + np.floor(axis * tiles)[:, None]) % 2).astype(
            np.float32
        )
    else:
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return a + (b - a) * t[:, :, None]


def shape_outline(rng: np.random.Generator, cx: float, cy: float, r: float) -> tuple[str, Geometry]:
    """A random plain shape around (cx, cy) with radius r: its kind and its PIL geometry."""
    kind = ("ellipse", "rectangle", "polygon", "bar")[int(rng.integers(4))]
    if kind == "polygon":
        corners = int(rng.integers(3, 8))
        turn = rng.uniform(0, 2 * pi)
        radii = rng.uniform(0.6, 1.0, size=corners) * r
        points = [
            (cx + rr * cos(turn + 2 * pi * i / corners), cy + rr * sin(turn + 2 * pi * i / corners))
            for i, rr in enumerate(radii)
        ]
        return kind, points
    if kind == "bar":
        # A long thin band, like a pole or a cable crossing the scene.
        angle = rng.uniform(0, pi)
        dx, dy = 1.6 * r * cos(angle), 1.6 * r * sin(angle)
        return kind, [(cx - dx, cy - dy), (cx + dx, cy + dy)]
    aspect = rng.uniform(0.5, 1.5)
    return kind, [cx - r * aspect, cy - r / aspect, cx + r * aspect, cy + r / aspect]


def draw_shape(
    draw: ImageDraw.ImageDraw,
    kind: str,
    geometry: Geometry,
    fill: int | tuple[int, int, int],
    r: float,
) -> None:
    match kind:
        case "ellipse":
            draw.ellipse(geometry, fill=fill)
        case "rectangle":
            draw.rectangle(geometry, fill=fill)
        case "polygon":
            draw.polygon(geometry, fill=fill)
        case "bar":
            draw.line(geometry, fill=fill, width=max(2, round(0.35 * r)))


def draw_clutter(
    image: Image.Image, rng: np.random.Generator, count: int, max_radius: float
) -> None:
    """Draws `count` plain shapes, lines and rings of random colours onto `image`."""
    draw = ImageDraw.Draw(image)
    side = image.width
    for _ in range(count):
        cx, cy = rng.uniform(0, side, size=2)
        r = rng.uniform(0.15, 1.0) * max_radius
        colour = random_colour(rng)
        if rng.random() < 0.2:
            width = max(1, round(rng.uniform(0.08, 0.3) * r))
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=width)
            continue
        kind, geometry = shape_outline(rng, cx, cy, r)
        draw_shape(draw, kind, geometry, colour, r)


def occluder_mask(rng: np.random.Generator, r: float) -> Image.Image:
    """An 'L' mask (255 inside) of a random plain shape of radius about r, centred in it."""
    side = max(3, int(4 * r))
    mask = Image.new("L", (side, side), 0)
    kind, geometry = shape_outline(rng, side / 2, side / 2, r)
    draw_shape(ImageDraw.Draw(mask), kind, geometry, 255, r)
    return mask
