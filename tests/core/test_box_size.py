"""One least box size, a pixel, wherever a box comes in (issue 15, item 7)."""

from __future__ import annotations

import pytest

from truthloop.core.consolidation import consolidate_boxes
from truthloop.core.geometry import BOX_SIZE_RULE, MIN_BOX_SIDE, big_enough
from truthloop.core.types import Annotation, Box, Boxes, ImageRecord, ImageSize
from truthloop.datasets.reading import clip_boxes
from truthloop.errors import BoxOutsideImage, FormatError
from truthloop.formats import validate


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1.0, 1.0, True),
        (640.0, 0.5, False),
        (0.999, 3.0, False),
        (1e-300, 1.0, False),
        (0.0, 0.0, False),
        (-2.0, 4.0, False),
        (float("nan"), 1.0, False),
    ],
)
def test_a_box_is_big_enough_from_one_pixel_up(width: float, height: float, expected: bool) -> None:
    assert MIN_BOX_SIDE == 1.0
    assert big_enough(Box("dog", 3, 4, width, height)) is expected


@pytest.mark.parametrize("width", [0, 1e-300, 0.5, -1])
def test_readers_refuse_boxes_under_a_pixel_with_the_same_words(width: float) -> None:
    with pytest.raises(FormatError, match=f"the box is .* pixels; {BOX_SIZE_RULE}$"):
        validate.box("dog", 0, 0, width, 2, "the box")
    assert validate.box("dog", 0, 0, 1, 1, "the box") == Box("dog", 0.0, 0.0, 1.0, 1.0)


def test_consolidation_keeps_no_box_under_a_pixel() -> None:
    sliver = Boxes((Box("dog", 5, 5, 0.4, 0.4),))
    assert consolidate_boxes([sliver, sliver]).boxes == ()
    whole = Boxes((Box("dog", 5, 5, 1, 1),))
    assert [b.width for b in consolidate_boxes([whole, whole]).boxes] == [1.0]


def test_import_refuses_a_box_with_less_than_a_pixel_inside_the_image() -> None:
    # Half a pixel of the box lies inside the image.
    record = _record(Box("dog", 9.5, 2, 5, 5))
    with pytest.raises(BoxOutsideImage, match=f"s3://b/a.png but for a sliver; {BOX_SIZE_RULE}"):
        clip_boxes(record, [])
    fine = _record(Box("dog", 8, 2, 5, 5))
    warnings: list[str] = []
    clipped = clip_boxes(fine, warnings).annotations[0].value
    assert isinstance(clipped, Boxes) and clipped.boxes[0].width == 2.0
    assert len(warnings) == 1


def _record(box: Box) -> ImageRecord:
    return ImageRecord("s3://b/a.png", ImageSize(10, 10), (Annotation(Boxes((box,))),))
