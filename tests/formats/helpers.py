"""Test images and hypothesis strategies shared by the format tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hypothesis import strategies as st
from PIL import Image

from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    MultiLabel,
    Source,
    Value,
    Verification,
)


def boxes_of(annotation: Annotation) -> tuple[Box, ...]:
    """The boxes of a box annotation (and a failed test for any other)."""
    assert isinstance(annotation.value, Boxes), annotation
    return annotation.value.boxes


# Non-contiguous ids, as Ground Truth class maps have them; names with spaces and accents.
LABELS = LabelSet({"dog": 0, "cat": 1, "Echo Dot": 3, "bone": 5, "ümlaut": 7})
NAMES = tuple(LABELS.names)


def make_image(path: Path, width: int = 8, height: int = 6, fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (200, 40, 40)).save(path, fmt)
    return path


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


confidences = st.floats(min_value=0.0, max_value=1.0)
optional_confidences = st.none() | confidences
coordinates = st.floats(min_value=-100, max_value=1000, allow_nan=False) | st.integers(-5, 900).map(
    float
)
# At least a pixel: smaller boxes are refused (core.geometry.MIN_BOX_SIDE).
extents = st.floats(min_value=1.0, max_value=1000) | st.integers(1, 900).map(float)
sizes = st.builds(ImageSize, st.integers(1, 4096), st.integers(1, 4096), st.sampled_from([1, 3, 4]))
# Text the readers accept (core.text): no control characters, line separators or bidi controls.
texts = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Cc", "Zl", "Zp"),
        exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
    min_size=1,
    max_size=20,
)
json_values = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | texts
datetimes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))


def boxes(score: st.SearchStrategy[float | None] = optional_confidences) -> st.SearchStrategy[Box]:
    return st.builds(Box, st.sampled_from(NAMES), coordinates, coordinates, extents, extents, score)


classifications = st.builds(Classification, st.sampled_from(NAMES), optional_confidences)


@st.composite
def multilabels(draw: st.DrawFn) -> MultiLabel:
    labels = tuple(draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True)))
    scores = draw(st.lists(optional_confidences, min_size=len(labels), max_size=len(labels)))
    # A map with no score at all is written as no confidence-map, which reads back as ().
    return MultiLabel(labels, tuple(scores) if any(s is not None for s in scores) else ())


verifications = st.builds(
    Verification,
    texts,
    st.integers(0, 20),
    optional_confidences,
    st.lists(texts, max_size=3).map(tuple),
)
box_values = st.builds(
    Boxes, st.lists(boxes(), max_size=5).map(tuple), st.sampled_from([None, True, False])
)
values = classifications | multilabels() | box_values | verifications


def annotations_of(
    value: st.SearchStrategy[Value], attribute: str
) -> st.SearchStrategy[Annotation]:
    return st.builds(
        Annotation,
        value,
        source=st.sampled_from([Source.HUMAN, Source.MODEL]),
        attribute=st.just(attribute),
        job_name=st.none() | texts,
        created_at=st.none() | datetimes,
        metadata=st.dictionaries(st.sampled_from(["worker-count", "notes", "x-app"]), json_values),
    )


extras = st.dictionaries(st.sampled_from(["app-id", "batch", "source-note"]), json_values)


@st.composite
def manifest_records(draw: st.DrawFn, n: int) -> ImageRecord:
    """A record with one to three label attributes and extra keys, its image on S3."""
    attributes = draw(
        st.lists(st.sampled_from(["species", "tags", "bb", "verify-bb"]), max_size=3, unique=True)
    )
    found = tuple(draw(annotations_of(values, attribute)) for attribute in attributes)
    has_boxes = any(isinstance(a.value, Boxes) for a in found)
    size = draw(sizes) if has_boxes else None
    return ImageRecord(f"s3://bucket/images/{n}.jpg", size, found, draw(extras))


def same_boxes(a: tuple[Box, ...], b: tuple[Box, ...], tolerance: float) -> bool:
    return len(a) == len(b) and all(
        x.label == y.label
        and x.confidence == y.confidence
        and all(
            abs(getattr(x, k) - getattr(y, k)) <= tolerance
            for k in ("left", "top", "width", "height")
        )
        for x, y in zip(a, b, strict=True)
    )
