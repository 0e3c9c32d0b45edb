"""Rekognition Custom Labels manifests (FORMATS.md §3.1): Ground Truth's format, stricter.

An image-level label is one classification pair per label (any attribute name; the integer
value is ignored by Rekognition) whose metadata must carry `confidence`, `class-name`,
`human-annotated` and `creation-date`. Object localization is Ground Truth's box format.

Writing: a MultiLabel becomes one pair per label, named `<attribute>-<class id>`, so it reads
back as Classifications; a label without a confidence is written with 1.0 and one without a
creation date with the time of writing, since Rekognition requires both. Verification results
are not a Rekognition dataset and are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from truthloop.core.types import (
    Annotation,
    Boxes,
    Classification,
    ImageRecord,
    LabelSet,
    MultiLabel,
)
from truthloop.errors import FormatError, NotWritable
from truthloop.formats import gt_annotations as pairs
from truthloop.formats.groundtruth import GroundTruthReader, manifest_line, write_manifest

_REQUIRED = ("confidence", "class-name", "human-annotated", "creation-date")


class RekognitionReader(GroundTruthReader):
    """A Ground Truth reader that also enforces Rekognition's rules for each pair."""

    def check_pair(self, attribute: str, metadata: dict[str, Any]) -> None:
        kind = metadata.get("type")
        if kind == pairs.CLASSIFICATION:
            missing = [key for key in _REQUIRED if key not in metadata]
            if missing:
                raise FormatError(
                    f"{attribute}-metadata lacks {', '.join(missing)}, which Rekognition requires"
                )
        elif kind != pairs.BOXES:
            raise FormatError(
                f"{attribute}-metadata.type {kind!r} is not a Rekognition dataset type "
                f"({pairs.CLASSIFICATION} or {pairs.BOXES})"
            )


def _rekognition_values(
    annotation: Annotation, label_set: LabelSet, uri: str, label_attribute: str
) -> Iterator[Annotation]:
    match annotation.value:
        case Classification() | Boxes():
            yield annotation
        case MultiLabel(labels=labels, confidences=scores):
            for n, label in enumerate(labels):
                class_id = pairs.class_id_of(label_set, label, uri)
                attribute = f"{annotation.attribute or label_attribute}-{class_id}"
                score = scores[n] if scores else None
                yield replace(annotation, value=Classification(label, score), attribute=attribute)
        case value:
            raise NotWritable(f"{value.kind} annotations do not fit a Rekognition manifest")


def _required_filled(annotation: Annotation, now: datetime) -> Annotation:
    value = annotation.value
    if isinstance(value, Classification) and value.confidence is None:
        annotation = replace(annotation, value=Classification(value.label, 1.0))
    if annotation.created_at is None:
        annotation = replace(annotation, created_at=now)
    return annotation


def rekognition_record(
    record: ImageRecord, label_set: LabelSet, now: datetime, label_attribute: str = "label"
) -> ImageRecord:
    """`record` with its annotations in the shape Rekognition accepts."""
    annotations = tuple(
        _required_filled(a, now)
        for annotation in record.annotations
        for a in _rekognition_values(annotation, label_set, record.uri, label_attribute)
    )
    return replace(record, annotations=annotations)


def write_rekognition(
    records: Iterable[ImageRecord],
    dest: Path,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> int:
    """Write a Custom Labels manifest to `dest` atomically; the number of records written."""
    now = datetime.now(UTC)
    return write_manifest(
        (
            manifest_line(
                rekognition_record(record, label_set, now, label_attribute or "label"),
                label_set=label_set,
                label_attribute=label_attribute,
                job_name=job_name,
            )
            for record in records
        ),
        dest,
    )
