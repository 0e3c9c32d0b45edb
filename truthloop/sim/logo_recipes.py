"""The logo classes: a name and a deterministic drawing recipe for each class index.

`truthloop.sim.logos` documents what each class looks like. A recipe is a stack of marks drawn
from the back to the front on a square canvas; letters are drawn as strokes, so no font file is
needed and the drawing is the same on every machine with the same Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from math import cos, pi, sin

from PIL import Image, ImageDraw

from truthloop.errors import InputError

Rgb = tuple[int, int, int]

TEMPLATE_SIZE = 256
# Drawn larger, then reduced: ImageDraw does not antialias, a reduction does.
_SUPERSAMPLE = 2

# Letter strokes in a box from -1 to 1 on both axes, y pointing down.
_LETTERS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "H": (((-0.6, -1), (-0.6, 1)), ((0.6, -1), (0.6, 1)), ((-0.6, 0), (0.6, 0))),
    "Z": (((-0.6, -1), (0.6, -1), (-0.6, 1), (0.6, 1)),),
    "T": (((-0.7, -1), (0.7, -1)), ((0, -1), (0, 1))),
}


@dataclass(frozen=True, slots=True)
class Mark:
    """One element of a logo. `scale` is its radius as a fraction of the canvas half-side."""

    kind: str
    colour: Rgb
    scale: float = 1.0
    stroke: float = 0.0  # line width for outlines and letters, as a fraction of the half-side


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    marks: tuple[Mark, ...]


_WHITE: Rgb = (245, 245, 245)
_BLACK: Rgb = (25, 25, 30)
_YELLOW: Rgb = (250, 205, 35)
_RED: Rgb = (205, 35, 40)
_BLUE: Rgb = (30, 80, 200)
_ORANGE: Rgb = (245, 140, 20)
_GREEN: Rgb = (35, 150, 70)
_PURPLE: Rgb = (120, 50, 170)


def _globe(colour: Rgb) -> tuple[Mark, ...]:
    return (
        Mark("disc", colour),
        Mark("ring", _WHITE, 0.78, 0.09),
        Mark("meridian", _WHITE, 0.78, 0.09),
        Mark("equator", _WHITE, 0.78, 0.09),
    )


# The first three differ in shape, colour and mark, so a three-class task is learnable; the
# later ones each repeat an earlier shape, so larger tasks need the inner mark or the colour.
RECIPES: tuple[Recipe, ...] = (
    Recipe("acme", (Mark("disc", _RED), Mark("triangle", _WHITE, 0.55))),
    Recipe("globex", _globe(_BLUE)),
    Recipe("initech", (Mark("square", _GREEN, 0.92), Mark("letter:H", _WHITE, 0.5, 0.2))),
    Recipe("umbrella", (Mark("disc", _RED), Mark("plus", _WHITE, 0.6, 0.22))),
    Recipe("hooli", _globe(_ORANGE)),
    Recipe("soylent", (Mark("square", _GREEN, 0.92), Mark("letter:Z", _WHITE, 0.5, 0.2))),
    Recipe("stark", (Mark("triangle", _YELLOW), Mark("ring", _BLACK, 0.3, 0.12))),
    Recipe("wayne", (Mark("hexagon", _BLACK), Mark("chevron", _YELLOW, 0.55, 0.22))),
    Recipe(
        "cyberdyne",
        (Mark("diamond", _PURPLE), Mark("ring", _WHITE, 0.45, 0.12), Mark("disc", _WHITE, 0.15)),
    ),
    Recipe("tyrell", (Mark("diamond", _PURPLE), Mark("letter:T", _WHITE, 0.42, 0.2))),
    Recipe("wonka", (Mark("star", (230, 80, 160)), Mark("disc", _WHITE, 0.25))),
    Recipe("oscorp", (Mark("hexagon", (20, 130, 135)), Mark("chevron", _YELLOW, 0.55, 0.22))),
)


def _polygon(
    cx: float, cy: float, r: float, corners: int, turn: float
) -> list[tuple[float, float]]:
    return [
        (cx + r * cos(turn + 2 * pi * i / corners), cy + r * sin(turn + 2 * pi * i / corners))
        for i in range(corners)
    ]


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    return [
        (cx + rr * cos(-pi / 2 + pi * i / 5), cy + rr * sin(-pi / 2 + pi * i / 5))
        for i, rr in enumerate([r, 0.45 * r] * 5)
    ]


def _draw_mark(draw: ImageDraw.ImageDraw, mark: Mark, c: float, half: float) -> None:
    r = mark.scale * half
    width = max(1, round(mark.stroke * half))
    box = (c - r, c - r, c + r, c + r)
    match mark.kind:
        case "disc":
            draw.ellipse(box, fill=mark.colour)
        case "ring":
            draw.ellipse(box, outline=mark.colour, width=width)
        case "meridian":
            draw.ellipse(
                (c - 0.42 * r, c - r, c + 0.42 * r, c + r), outline=mark.colour, width=width
            )
        case "equator":
            draw.rectangle((c - r, c - width / 2, c + r, c + width / 2), fill=mark.colour)
        case "square":
            draw.rounded_rectangle(box, radius=0.25 * r, fill=mark.colour)
        case "triangle":
            # Centred on the triangle's centroid, so its corners touch the circle of radius r.
            draw.polygon(_polygon(c, c + 0.1 * r, r, 3, -pi / 2), fill=mark.colour)
        case "hexagon":
            draw.polygon(_polygon(c, c, r, 6, 0.0), fill=mark.colour)
        case "diamond":
            draw.polygon(_polygon(c, c, r, 4, -pi / 2), fill=mark.colour)
        case "star":
            draw.polygon(_star(c, c, r), fill=mark.colour)
        case "plus":
            draw.rectangle((c - r, c - width / 2, c + r, c + width / 2), fill=mark.colour)
            draw.rectangle((c - width / 2, c - r, c + width / 2, c + r), fill=mark.colour)
        case "chevron":
            points = [(c - r, c - 0.4 * r), (c, c + 0.45 * r), (c + r, c - 0.4 * r)]
            draw.line(points, fill=mark.colour, width=width, joint="curve")
        case kind if kind.startswith("letter:"):
            for stroke in _LETTERS[kind.removeprefix("letter:")]:
                points = [(c + x * r, c + y * r) for x, y in stroke]
                draw.line(points, fill=mark.colour, width=width, joint="curve")
        case _:
            raise ValueError(f"unknown logo mark kind {mark.kind!r}")


@cache
def logo_template(class_index: int) -> Image.Image:
    """The logo of class `class_index`, TEMPLATE_SIZE square, premultiplied RGBa.

    Premultiplied alpha keeps resizing and rotating from bleeding the transparent surround's
    colour into the logo's edges. Callers must not modify the returned (cached) image.
    """
    recipe = RECIPES[class_index]
    side = TEMPLATE_SIZE * _SUPERSAMPLE
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for mark in recipe.marks:
        _draw_mark(draw, mark, side / 2, side / 2 - 1)
    return canvas.convert("RGBa").resize((TEMPLATE_SIZE, TEMPLATE_SIZE), Image.Resampling.BOX)


def logo_classes(k: int) -> tuple[str, ...]:
    """The names of the first `k` logo classes; class i always has the same name."""
    if not 1 <= k <= len(RECIPES):
        raise InputError(f"logo classes must be between 1 and {len(RECIPES)}, not {k}")
    return tuple(recipe.name for recipe in RECIPES[:k])
