"""Import a dataset from any supported format into a project.

One transaction per import: with `on_error="abort"` (the default) the first bad line stops the
import and the database is exactly as before; with `on_error="skip"` bad lines are reported and
the rest is stored. Images stay where they are unless `copy=True` copies them into the project's
blob store; they are opened only when `verify_images` (or `copy`) asks for it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from truthloop import formats
from truthloop.core.names import name_problem
from truthloop.core.types import ImageRecord, LabelSet, Split
from truthloop.datasets import reading
from truthloop.datasets.bulk import old_objects_frozen
from truthloop.errors import (
    Conflict,
    DuplicateImage,
    ImageError,
    ImportAborted,
    InputError,
    InvalidName,
)
from truthloop.formats.images import probe
from truthloop.formats.paths import allowed_s3_prefix, is_s3_source
from truthloop.storage import datasets as store
from truthloop.storage.blobs import storage_options
from truthloop.storage.project import Project

OnError = Literal["abort", "skip"]


@dataclass
class ImportReport:
    dataset: str
    created: bool
    imported: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    copied: int = 0
    labels: tuple[str, ...] = ()
    # Images imported without being opened (no --verify-images or --copy): only the header,
    # if that, was read, so a corrupt or oversized one shows when someone first opens it.
    unopened: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "created": self.created,
            "imported": self.imported,
            "skipped": len(self.skipped),
            "errors": self.skipped,
            "warnings": self.warnings,
            "copied": self.copied,
            "unopened": self.unopened,
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
    read_in_child: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Read `source` in format `fmt` into dataset `name` (created when it does not exist).

    Images may be read from the folder of `source` (and below), the project home, the
    project's and the given `allowed_roots`, and `image_root` (COCO: the folder its file names
    are relative to, when not the JSON file's). An `s3://bucket/prefix` source (format folders)
    must lie inside the project's allowed S3 prefixes; its records keep their `s3://` URIs.
    `read_in_child` reads the source in a child process while this one stores; by default, for
    files of 32 MiB and more when no image is opened (`verify_images`, `copy`)."""
    check_dataset_name(name)
    spec = source_spec(
        project,
        source,
        fmt,
        label_attribute=label_attribute,
        allowed_roots=allowed_roots,
        image_root=image_root,
    )
    rules = reading.Rules(
        skip_errors=on_error == "skip",
        fixed_labels=LabelSet.from_names(labels) if labels is not None else None,
        split=split,
    )
    images = _Images(project, copy) if verify_images or copy else None
    if read_in_child is None:
        read_in_child = images is None and reading.worth_a_child(spec)
    if read_in_child and images is not None:
        raise ValueError(
            "images are opened in the importing process: read_in_child needs neither"
            " verify_images nor copy"
        )
    importer = _Importer(on_error=on_error)
    try:
        batches = (
            reading.read_in_child(spec, rules)
            if read_in_child
            else iter(reading.BatchReader(spec, rules, images.check if images else None))
        )
        with project.session() as session, old_objects_frozen():
            report = importer.run(session, name, batches, rules.fixed_labels, progress)
        if images is not None:
            report.copied = len(images.new_blobs)
        else:
            report.unopened = report.imported
    except BaseException as error:
        if images is not None:
            images.forget_copies()  # an aborted import leaves no blob nothing refers to
        if isinstance(error, InputError):
            raise ImportAborted(error) from error
        raise
    return report


def source_spec(
    project: Project,
    source: Path | str,
    fmt: str,
    *,
    label_attribute: str | None = None,
    allowed_roots: Sequence[Path] = (),
    image_root: Path | str | None = None,
) -> reading.SourceSpec:
    """How `import_dataset` opens `source` in this project: a local file or folder with the
    folders its images may be read from, or an `s3://` prefix inside the allowed ones."""
    if is_s3_source(source):
        return _s3_spec(project, str(source), fmt, image_root)
    return _local_spec(project, Path(source), fmt, label_attribute, allowed_roots, image_root)


def _local_spec(
    project: Project,
    source: Path,
    fmt: str,
    label_attribute: str | None,
    allowed_roots: Sequence[Path],
    image_root: Path | str | None,
) -> reading.SourceSpec:
    source = source.expanduser().resolve()
    base = source if source.is_dir() else source.parent
    root = Path(image_root).expanduser().resolve() if image_root is not None else None
    return reading.SourceSpec(
        fmt,
        source,
        label_attribute,
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


def _s3_spec(
    project: Project, source: str, fmt: str, image_root: Path | str | None
) -> reading.SourceSpec:
    """An `s3://bucket/prefix` source, read only inside the allowed prefixes (checked here, so
    the CLI, the API and the background worker refuse alike), with the project's endpoint."""
    settings = project.settings
    uri = allowed_s3_prefix(source, settings.allowed_s3_prefixes)
    return reading.SourceSpec(
        fmt,
        uri,
        None,
        allowed_roots=(),
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.max_image_bytes,
        image_root=Path(image_root) if image_root is not None else None,  # refused: not COCO
        storage_options=storage_options(uri, settings.s3_endpoint_url),
    )


class _Importer:
    """Stores the batches read, refusing images the dataset already holds."""

    def __init__(self, *, on_error: OnError):
        self.on_error = on_error
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def fail(self, error: InputError) -> None:
        if self.on_error == "abort":
            raise error
        self.errors.append(str(error))

    def run(
        self,
        session: Session,
        name: str,
        batches: Iterator[reading.Batch],
        fixed_labels: LabelSet | None,
        progress: Callable[[int], None] | None,
    ) -> ImportReport:
        dataset = store.find_dataset(session, name)
        created = dataset is None
        if dataset is None:
            dataset = store.create_dataset(session, name, fixed_labels or LabelSet({}))
        report = ImportReport(dataset=name, created=created)
        found = LabelSet({})
        for batch in batches:
            self.errors.extend(batch.errors)
            self.warnings.extend(batch.warnings)
            report.imported += self.flush(session, dataset.id, batch.rows)
            if batch.label_set is not None:
                found = batch.label_set
            if progress:
                progress(batch.seen)
        store.save_label_set(session, dataset, fixed_labels or found)
        report.labels = store.label_set_of(session, dataset).names
        report.skipped = self.errors
        report.warnings = self.warnings
        return report

    def flush(self, session: Session, dataset_id: int, batch: list[store.ItemRows]) -> int:
        """Store a batch, refusing images the dataset already holds (same URI or content)."""
        if not batch:
            return 0
        try:
            store.store_rows(session, dataset_id, batch)
            return len(batch)
        except Conflict:
            pass  # some image is already stored: find which, refuse those, store the rest
        known = store.known_uris(session, dataset_id, (it.uri for it in batch))
        hashes = store.known_hashes(
            session, dataset_id, (it.content_hash for it in batch if it.content_hash)
        )
        keep: list[store.ItemRows] = []
        for it in batch:
            if it.uri in known:
                self.fail(DuplicateImage(f"image {it.uri} is already in the dataset"))
            elif it.content_hash in hashes:
                self.fail(
                    DuplicateImage(
                        f"image {it.uri} has the same content as {hashes[it.content_hash]},"
                        " already in the dataset"
                    )
                )
            else:
                keep.append(it)
        store.store_rows(session, dataset_id, keep)
        return len(keep)


class _Images:
    """Opens each image a record names (--verify-images): its true size and content hash;
    with --copy, also stores it in the project's blob store."""

    def __init__(self, project: Project, copy: bool):
        self.project = project
        self.copy = copy
        self.new_blobs: list[str] = []

    def check(self, record: ImageRecord, warnings: list[str]) -> tuple[ImageRecord, str | None]:
        try:
            data = self.project.read_image_bytes(record.uri)
        except ImageError as error:
            # The reader adds the manifest and line, so the image goes into the message.
            raise ImageError(f"image {record.uri}: {error.message}") from None
        info = probe(
            data,
            verify=True,
            max_pixels=self.project.settings.max_image_pixels,
            max_bytes=self.project.settings.max_image_bytes,
        )
        if record.size and (record.size.width, record.size.height) != (
            info.size.width,
            info.size.height,
        ):
            warnings.append(
                f"{record.uri}: the file is {info.size.width}x{info.size.height}, the"
                f" annotation said {record.size.width}x{record.size.height}; using the file's"
            )
        record = replace(record, size=info.size)
        if self.copy:
            record = replace(record, uri=self.copy_blob(record.uri, data, info))
        return record, info.sha256

    def copy_blob(self, uri: str, data: bytes, info: formats.images.ImageInfo) -> str:
        ext = posixpath.splitext(uri)[1].lower() or f".{info.format.lower()}"
        key = f"images/{info.sha256[:2]}/{info.sha256}{ext}"
        if not self.project.blobs.exists(key):
            self.project.blobs.put_bytes(key, data)
            self.new_blobs.append(key)
        return self.project.blobs.uri(key)

    def forget_copies(self) -> None:
        """An aborted import leaves no blobs behind that nothing refers to."""
        for key in self.new_blobs:
            self.project.blobs.delete(key)
        self.new_blobs.clear()
