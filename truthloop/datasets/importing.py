"""Import a dataset from any supported format into a project.

One transaction per import: with `on_error="abort"` (the default) the first bad line stops the
import and the database is exactly as before; with `on_error="skip"` bad lines are reported and
the rest is stored. Images stay where they are unless `copy=True` copies them into the project's
blob store; they are opened only when `verify_images` (or `copy`) asks for it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from truthloop import formats
from truthloop.core.geometry import clip, inside
from truthloop.core.names import name_problem
from truthloop.core.types import Annotation, Boxes, ImageRecord, LabelSet, Split
from truthloop.datasets.bulk import old_objects_frozen
from truthloop.errors import (
    BoxOutsideImage,
    DuplicateImage,
    ImageError,
    ImportAborted,
    InputError,
    InvalidName,
    UnknownLabel,
)
from truthloop.formats.images import probe
from truthloop.storage import datasets as store
from truthloop.storage.project import Project

OnError = Literal["abort", "skip"]
BATCH = 2000


@dataclass
class ImportReport:
    dataset: str
    created: bool
    imported: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    copied: int = 0
    labels: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "created": self.created,
            "imported": self.imported,
            "skipped": len(self.skipped),
            "errors": self.skipped,
            "warnings": self.warnings,
            "copied": self.copied,
            "labels": list(self.labels),
        }


def check_dataset_name(name: str) -> str:
    problem = name_problem("dataset", name)
    if problem:
        raise InvalidName(problem)
    return name


def import_dataset(
    project: Project,
    name: str,
    source: Path | str,
    *,
    fmt: str,
    label_attribute: str | None = None,
    on_error: OnError = "abort",
    copy: bool = False,
    verify_images: bool = False,
    allowed_roots: Sequence[Path] = (),
    labels: Sequence[str] | None = None,
    split: Split | None = None,
    image_root: Path | str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Read `source` in format `fmt` into dataset `name` (created when it does not exist).

    Images may be read from the folder of `source` (and below), the project home, the
    project's and the given `allowed_roots`, and `image_root` (COCO: the folder its file names
    are relative to, when not the JSON file's)."""
    check_dataset_name(name)
    source = Path(source).expanduser().resolve()
    base = source if source.is_dir() else source.parent
    root = Path(image_root).expanduser().resolve() if image_root is not None else None
    importer = _Importer(
        project,
        on_error=on_error,
        copy=copy,
        verify=verify_images or copy,
        fixed_labels=LabelSet.from_names(labels) if labels is not None else None,
        split=split,
    )
    try:
        reader = formats.open_reader(
            fmt,
            source,
            label_attribute=label_attribute,
            on_error=importer.skip if on_error == "skip" else None,
            allowed_roots=(
                base,
                *((root,) if root else ()),
                *project.allowed_roots,
                *(Path(r).resolve() for r in allowed_roots),
            ),
            max_pixels=project.settings.max_image_pixels,
            max_bytes=project.settings.max_image_bytes,
            image_root=root,
        )
        with project.session() as session, old_objects_frozen():
            report = importer.run(session, name, reader, progress)
    except InputError as error:
        importer.forget_copies()
        raise ImportAborted(error) from error
    except BaseException:
        importer.forget_copies()
        raise
    return report


class _Importer:
    def __init__(
        self,
        project: Project,
        *,
        on_error: OnError,
        copy: bool,
        verify: bool,
        fixed_labels: LabelSet | None,
        split: Split | None,
    ):
        self.project = project
        self.on_error = on_error
        self.copy = copy
        self.verify = verify
        self.fixed_labels = fixed_labels
        self.split = split
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.new_blobs: list[str] = []

    def skip(self, error: InputError) -> None:
        self.errors.append(str(error))

    def fail(self, error: InputError) -> None:
        if self.on_error == "abort":
            raise error
        self.skip(error)

    def run(
        self,
        session: Session,
        name: str,
        reader: formats.Reader,
        progress: Callable[[int], None] | None,
    ) -> ImportReport:
        dataset = store.find_dataset(session, name)
        created = dataset is None
        if dataset is None:
            dataset = store.create_dataset(session, name, self.fixed_labels or LabelSet({}))
        report = ImportReport(dataset=name, created=created)
        batch: list[store.NewItem] = []
        batch_uris: set[str] = set()
        batch_hashes: dict[str, str] = {}
        seen = 0
        for record in reader:
            seen += 1
            try:
                item = self.prepare(record)
                if item.record.uri in batch_uris:
                    raise DuplicateImage(f"image {item.record.uri} appears twice")
                if item.content_hash and item.content_hash in batch_hashes:
                    raise DuplicateImage(
                        f"image {item.record.uri} has the same content as"
                        f" {batch_hashes[item.content_hash]}"
                    )
            except InputError as error:
                where = getattr(reader, "location", None) or f"{reader_name(reader)} record {seen}"
                self.fail(error.at(where))
                continue
            batch.append(item)
            batch_uris.add(item.record.uri)
            if item.content_hash:
                batch_hashes[item.content_hash] = item.record.uri
            if len(batch) >= BATCH:
                report.imported += self.flush(session, dataset.id, batch)
                batch, batch_uris, batch_hashes = [], set(), {}
            if progress:
                progress(seen)
        report.imported += self.flush(session, dataset.id, batch)
        found = reader.label_set
        if self.fixed_labels is not None:
            found = self.fixed_labels
        store.save_label_set(session, dataset, found)
        report.labels = store.label_set_of(session, dataset).names
        report.skipped = self.errors
        report.warnings = self.warnings
        report.copied = len(self.new_blobs)
        if progress:
            progress(seen)
        return report

    def prepare(self, record: ImageRecord) -> store.NewItem:
        if self.fixed_labels is not None:
            unknown = sorted(record.labels() - set(self.fixed_labels.names))
            if unknown:
                raise UnknownLabel(
                    f"label {', '.join(map(repr, unknown))} is not in the label set"
                    f" {list(self.fixed_labels.names)}"
                )
        content_hash = None
        if self.verify:
            try:
                data = self.project.read_bytes(record.uri)
            except OSError as error:
                raise ImageError(f"cannot read image {record.uri}: {error}") from error
            info = probe(
                data,
                verify=True,
                max_pixels=self.project.settings.max_image_pixels,
                max_bytes=self.project.settings.max_image_bytes,
            )
            content_hash = info.sha256
            if record.size and (record.size.width, record.size.height) != (
                info.size.width,
                info.size.height,
            ):
                self.warnings.append(
                    f"{record.uri}: the file is {info.size.width}x{info.size.height}, the"
                    f" annotation said {record.size.width}x{record.size.height}; using the file's"
                )
            record = replace(record, size=info.size)
            if self.copy:
                record = replace(record, uri=self.copy_blob(record.uri, data, info))
        record = self.clip_boxes(record)
        if self.split is not None:
            record = replace(record, split=self.split)
        return store.NewItem(record, content_hash)

    def clip_boxes(self, record: ImageRecord) -> ImageRecord:
        size = record.size
        if size is None or all(
            inside(box, size)
            for a in record.annotations
            if isinstance(a.value, Boxes)
            for box in a.value.boxes
        ):
            return record
        annotations: list[Annotation] = []
        for annotation in record.annotations:
            if not isinstance(annotation.value, Boxes):
                annotations.append(annotation)
                continue
            boxes = []
            for box in annotation.value.boxes:
                clipped = clip(box, record.size)
                if clipped is None:
                    raise BoxOutsideImage(
                        f"box {box.label!r} at left={box.left}, top={box.top},"
                        f" width={box.width}, height={box.height} lies outside the"
                        f" {record.size.width}x{record.size.height} image {record.uri}"
                    )
                if clipped is not box:
                    self.warnings.append(
                        f"{record.uri}: box {box.label!r} clipped to the image"
                        f" ({box.left},{box.top},{box.width},{box.height} ->"
                        f" {clipped.left},{clipped.top},{clipped.width},{clipped.height})"
                    )
                boxes.append(clipped)
            value = replace(annotation.value, boxes=tuple(boxes))
            annotations.append(replace(annotation, value=value))
        return replace(record, annotations=tuple(annotations))

    def copy_blob(self, uri: str, data: bytes, info: formats.images.ImageInfo) -> str:
        ext = posixpath.splitext(uri)[1].lower() or f".{info.format.lower()}"
        key = f"images/{info.sha256[:2]}/{info.sha256}{ext}"
        if not self.project.blobs.exists(key):
            self.project.blobs.put_bytes(key, data)
            self.new_blobs.append(key)
        return self.project.blobs.uri(key)

    def flush(self, session: Session, dataset_id: int, batch: list[store.NewItem]) -> int:
        """Store a batch, refusing images the dataset already holds (same URI or content)."""
        if not batch:
            return 0
        try:
            store.insert_items(session, dataset_id, batch)
            return len(batch)
        except store.Conflict:
            pass  # some image is already stored: find which, refuse those, store the rest
        known = store.known_uris(session, dataset_id, (it.record.uri for it in batch))
        hashes = store.known_hashes(
            session, dataset_id, (it.content_hash for it in batch if it.content_hash)
        )
        keep: list[store.NewItem] = []
        for it in batch:
            if it.record.uri in known:
                self.fail(DuplicateImage(f"image {it.record.uri} is already in the dataset"))
            elif it.content_hash in hashes:
                self.fail(
                    DuplicateImage(
                        f"image {it.record.uri} has the same content as {hashes[it.content_hash]},"
                        " already in the dataset"
                    )
                )
            else:
                keep.append(it)
        store.insert_items(session, dataset_id, keep)
        return len(keep)

    def forget_copies(self) -> None:
        """An aborted import leaves no blobs behind that nothing refers to."""
        for key in self.new_blobs:
            self.project.blobs.delete(key)
        self.new_blobs.clear()


def reader_name(reader: object) -> str:
    return str(getattr(reader, "path", "") or type(reader).__name__)
