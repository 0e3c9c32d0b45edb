"""Synthetic brand-like logos on busy backgrounds, with exact labels, as a Ground Truth dataset.

The classes, by index (a task with K classes uses the first K):

    0 acme       red disc, white triangle pointing up
    1 globex     blue disc, white globe (ring, meridian, equator)
    2 initech    green rounded square, white letter H
    3 umbrella   red disc, white plus                 looks like acme: same disc, other mark
    4 hooli      orange disc, white globe             looks like globex: same mark, other colour
    5 soylent    green rounded square, white letter Z looks like initech: other letter
    6 stark      yellow triangle, black ring
    7 wayne      black hexagon, yellow chevron
    8 cyberdyne  purple diamond, white ring around a dot
    9 tyrell     purple diamond, white letter T       looks like cyberdyne: other mark
   10 wonka      pink star, white dot
   11 oscorp     teal hexagon, yellow chevron         looks like wayne: other colour

The first three differ in shape, colour and mark. Every logo is stretched a little, turned up
to 30°, tinted, and may run off the image. Backgrounds are gradients, smooth colour blotches,
stripes or tiles, with plain clutter shapes (discs, boxes, polygons, bars, rings: outlines
logos share, never their inner marks), sensor noise and sometimes blur.

Detection images hold 0 to `max_objects` logos (one image in ten none at all); logos may
overlap each other, and a third of them are partly covered by a plain distractor shape. Rather
than drop heavily hidden logos from the labels, placement never lets any logo lose more than
40 % of its pixels (to other shapes or the image border), so every logo in an image is
labeled. A box is the tight box of the logo's visible pixels (alpha at least one half, after
scaling and turning), as a person would draw it. Classification images hold one large logo,
sometimes with small distractors over its edge; image i shows class i mod K, so any first N
images are balanced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from truthloop.core.types import (
    Annotation,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Source,
)
from truthloop.errors import AlreadyExists, InputError
from truthloop.formats import write
from truthloop.sim.logo_recipes import logo_classes
from truthloop.sim.logo_scenes import Mode, check_scene_arguments, render_scene

__all__ = ["LogoDataset", "generate_logos", "logo_classes"]

ATTRIBUTE = "logos"
JOB_NAME = "sim-logos"
# Fixed, so that the same arguments give the same manifest bytes.
CREATED_AT = datetime(2024, 1, 1)
JPEG_QUALITY = 90
MANIFEST = "output.manifest"
_IMAGE_NAME = re.compile(r"\d{6,}\.jpg")


@dataclass(frozen=True, slots=True)
class LogoDataset:
    manifest: Path
    classes: tuple[str, ...]
    images: int
    objects: int


def _check_destination(dest: Path) -> None:
    """Refuses a folder holding anything this generator did not write."""
    if not dest.exists():
        return
    if not dest.is_dir():
        raise AlreadyExists(f"{dest} is a file, not a folder for a synthetic dataset")
    foreign = [p.name for p in dest.iterdir() if p.name not in ("images", MANIFEST)]
    images = dest / "images"
    if images.is_dir():
        foreign += [
            f"images/{p.name}" for p in images.iterdir() if not _IMAGE_NAME.fullmatch(p.name)
        ]
    elif images.exists():
        foreign.append("images")
    if foreign:
        listed = ", ".join(sorted(foreign)[:5])
        raise AlreadyExists(
            f"{dest} holds files that are not a synthetic logo set ({listed});"
            " choose an empty or new folder"
        )


def _remove_stale_images(images: Path, count: int) -> None:
    """Removes images an earlier, larger run left, so the folder matches the manifest."""
    for path in images.iterdir():
        if _IMAGE_NAME.fullmatch(path.name) and int(path.stem) >= count:
            path.unlink()


def generate_logos(
    dest: Path,
    *,
    images: int,
    classes: int = 3,
    seed: int = 0,
    mode: Mode = "detection",
    size: int = 320,
    max_objects: int = 4,
    progress: Callable[[int], None] | None = None,
) -> LogoDataset:
    """Writes `images` synthetic images to DEST/images/ and their labels to DEST/output.manifest.

    The same arguments give byte-identical files. DEST may be new, empty, or an earlier output
    of this function (which is then replaced). `progress` is called with the number of images
    written so far.
    """
    check_scene_arguments(classes, mode, size, max_objects)
    if images < 0 or seed < 0:
        raise InputError(f"images and seed must not be negative, not {images} and {seed}")
    dest = Path(dest)
    _check_destination(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    names = logo_classes(classes)
    objects = 0

    def records() -> Iterator[ImageRecord]:
        nonlocal objects
        for index in range(images):
            scene = render_scene(
                seed, index, classes=classes, mode=mode, size=size, max_objects=max_objects
            )
            uri = f"images/{index:06d}.jpg"
            scene.image.save(dest / uri, "JPEG", quality=JPEG_QUALITY)
            objects += len(scene.logos)
            if mode == "detection":
                value: Boxes | Classification = Boxes(tuple(logo.box for logo in scene.logos))
            else:
                value = Classification(scene.logos[0].label, 1.0)
            annotation = Annotation(value, Source.HUMAN, ATTRIBUTE, JOB_NAME, created_at=CREATED_AT)
            if progress is not None:
                progress(index + 1)
            yield ImageRecord(uri, ImageSize(size, size), (annotation,))

    manifest = dest / MANIFEST
    write(
        "groundtruth",
        records(),
        manifest,
        label_set=LabelSet.from_names(names),
        label_attribute=ATTRIBUTE,
    )
    _remove_stale_images(dest / "images", images)
    return LogoDataset(manifest, names, images, objects)
