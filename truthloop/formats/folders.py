"""Folders as labels (Rekognition's S3 folder import, FORMATS.md §3.1).

The label of an image is the name of the immediate child folder of the root it lies under;
deeper folders inherit that name, and images at the root get no label. Hidden files and
folders (names starting with '.') are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from truthloop.core.types import (
    Annotation,
    AnnotationKind,
    Classification,
    ImageRecord,
    LabelSet,
)
from truthloop.errors import InputError, NotWritable
from truthloop.formats.base import FolderReader, report
from truthloop.formats.gt_annotations import class_id_of
from truthloop.formats.images import IMAGE_SUFFIXES, probe
from truthloop.formats.output import local_image, pick_annotation, place_image, unique_name
from truthloop.formats.paths import safe_member


class FoldersReader(FolderReader):
    """Reads an image tree whose first-level folder names are the labels."""

    def _image_paths(self) -> Iterator[Path]:
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                    yield Path(folder, name).relative_to(self.root)

    def __iter__(self) -> Iterator[ImageRecord]:
        for relative in self._image_paths():
            try:
                image = Path(self._resolve(relative.as_posix()))
                size = probe(image, max_pixels=self.max_pixels, max_bytes=self.max_bytes).size
            except InputError as error:
                report(error.at(str(self.root / relative)), self.on_error)
                continue
            annotations: tuple[Annotation, ...] = ()
            if len(relative.parts) > 1:
                label = relative.parts[0]
                self.label_set = self.label_set.with_label(label)
                annotations = (Annotation(Classification(label)),)
            self.location = str(self.root / relative)
            yield ImageRecord(str(image), size, annotations)


def write_folders(
    records: Iterable[ImageRecord],
    dest: Path,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> int:
    """Link or copy each image into `dest/<label>/` (unlabeled ones into `dest`)."""
    dest.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    count = 0
    for record in records:
        count += 1
        chosen = pick_annotation(record, (AnnotationKind.CLASSIFICATION,), label_attribute)
        folder = dest
        if chosen is not None and isinstance(chosen.value, Classification):
            class_id_of(label_set, chosen.value.label, record.uri)
            label = chosen.value.label
            if label.startswith(".") or "/" in label or safe_member(label) != label:
                raise NotWritable(f"{record.uri}: the label {label!r} cannot be a folder name")
            folder = dest / label
        source = local_image(record.uri, "folders")
        place_image(source, folder / unique_name(source.name, taken))
    return count
