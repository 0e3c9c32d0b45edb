"""SageMaker Ground Truth manifests (FORMATS.md §1.1–1.4): input and output, read and written.

A line holds `source-ref`, label attribute pairs (a key `K` with a sibling `K-metadata`) and any
other keys, which pass through untouched in `ImageRecord.extra`. Images are not opened: a
manifest of a million lines must import fast; image checks are the importer's opt-in.

Choices where the format is loose: a pair whose metadata `type` truthloop does not model
(custom workflows, segmentation) is kept in `extra` unless it is the requested label attribute;
a missing `human-annotated` reads as a person's label; `Source.CONSOLIDATED` is written as "yes".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from truthloop.core.types import Annotation, ImageRecord, ImageSize, LabelSet
from truthloop.errors import FormatError, InputError, NotWritable
from truthloop.formats import gt_annotations as pairs
from truthloop.formats import validate
from truthloop.formats.base import ErrorHandler, report
from truthloop.formats.manifest_lines import read_marked_json_lines
from truthloop.formats.output import atomic_file
from truthloop.formats.paths import LocalResolver, is_remote

SOURCE_REF = "source-ref"


class GroundTruthReader:
    """Reads a Ground Truth input or output manifest as a stream of ImageRecords.

    With `label_attribute` only that attribute becomes an annotation (a line without it is an
    unlabeled image); every other pair stays in `extra`.
    """

    def __init__(
        self,
        source: Path | str,
        *,
        label_attribute: str | None = None,
        on_error: ErrorHandler | None = None,
        allowed_roots: Sequence[Path] = (),
    ) -> None:
        self.path = Path(source)
        self.label_attribute = label_attribute
        self.on_error = on_error
        self.label_set = LabelSet({})
        self._line = 0
        # Whether the line of the record read last was plain (manifest_lines): then only its
        # URI, resolved against folders the line did not name, needs the text rule's check.
        self.plain_text = False
        self._resolve = LocalResolver(self.path.absolute().parent, allowed_roots)

    def __iter__(self) -> Iterator[ImageRecord]:
        for number, line, plain in read_marked_json_lines(self.path, on_error=self.on_error):
            try:
                record = self._record(line)
            except InputError as error:
                report(error.at(str(self.path), number), self.on_error)
                continue
            self._line = number
            self.plain_text = plain
            yield record

    @property
    def location(self) -> str:
        """The file and line of the record read last (formatted only when an error asks)."""
        return f"{self.path}:{self._line}" if self._line else str(self.path)

    def check_pair(self, attribute: str, metadata: dict[str, Any]) -> None:
        """A hook for stricter dialects (Rekognition); Ground Truth itself needs nothing more."""

    def _attributes(self, line: dict[str, Any]) -> list[str]:
        if self.label_attribute is None:
            return [
                key
                for key in line
                if key != SOURCE_REF and pairs.pair_type(line.get(pairs.metadata_key(key)))
            ]
        attribute, meta_key = self.label_attribute, pairs.metadata_key(self.label_attribute)
        if (attribute in line) != (meta_key in line):
            have, lack = (attribute, meta_key) if attribute in line else (meta_key, attribute)
            raise FormatError(f"the line has {have!r} but no {lack!r}")
        return [attribute] if attribute in line else []

    def _uri(self, line: dict[str, Any]) -> str:
        if SOURCE_REF not in line:
            if "source" in line:
                raise FormatError("the line has inline text ('source'); images need 'source-ref'")
            raise FormatError("the line has no 'source-ref'")
        ref = validate.text(line[SOURCE_REF], SOURCE_REF)
        if is_remote(ref):
            return ref
        return self._resolve(ref)

    def _record(self, line: dict[str, Any]) -> ImageRecord:
        uri = self._uri(line)
        annotations: list[Annotation] = []
        size: ImageSize | None = None
        classes: dict[str, int] = {}
        taken = {SOURCE_REF}
        for attribute in self._attributes(line):
            meta_key = pairs.metadata_key(attribute)
            self.check_pair(attribute, validate.mapping(line[meta_key], meta_key))
            parsed = pairs.parse_pair(attribute, line[attribute], line[meta_key])
            if parsed.size is not None:
                if size is not None and parsed.size != size:
                    raise FormatError(f"{attribute}.image_size disagrees with another attribute")
                size = parsed.size
            annotations.append(parsed.annotation)
            classes.update(parsed.classes)
            taken.update((attribute, meta_key))
        # Only a line read whole adds its classes, so a refused line leaves no trace.
        for name, class_id in classes.items():
            self.label_set = self.label_set.with_label(name, class_id)
        extra = {key: value for key, value in line.items() if key not in taken}
        return ImageRecord(uri, size, tuple(annotations), extra)


def manifest_line(
    record: ImageRecord,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> dict[str, Any]:
    """The output-manifest object for `record`: its extra keys, then one pair per annotation.

    An annotation is written under its own `attribute`, else `label_attribute`, else "label";
    as in Ground Truth, a pair overwrites an extra key of the same name.
    """
    line: dict[str, Any] = {SOURCE_REF: record.uri, **record.extra}
    line[SOURCE_REF] = record.uri  # first key, and never taken from `extra`
    written: set[str] = set()
    for annotation in record.annotations:
        attribute = annotation.attribute or label_attribute or "label"
        pairs.check_attribute(attribute)
        if attribute in written:
            raise NotWritable(f"{record.uri}: two annotations under the attribute {attribute!r}")
        written.add(attribute)
        line[attribute], line[pairs.metadata_key(attribute)] = pairs.build_pair(
            annotation, label_set=label_set, size=record.size, uri=record.uri, job_name=job_name
        )
    return line


def write_manifest(lines: Iterable[dict[str, Any]], dest: Path) -> int:
    """Write JSON Lines to `dest` atomically; the number of lines written."""
    count = 0
    with atomic_file(dest) as out:
        for line in lines:
            out.write(orjson.dumps(line) + b"\n")
            count += 1
    return count


def write_groundtruth(
    records: Iterable[ImageRecord],
    dest: Path,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> int:
    """Write an output manifest (FORMATS.md §1.2) to `dest`; the number of records written."""
    lines = (
        manifest_line(r, label_set=label_set, label_attribute=label_attribute, job_name=job_name)
        for r in records
    )
    return write_manifest(lines, dest)
