"""Folders as labels (Rekognition's S3 folder import, FORMATS.md §3.1).

The label of an image is the name of the immediate child folder of the root it lies under;
deeper folders inherit that name, and images at the root get no label. Hidden files and
folders (names starting with '.') are skipped. The root is a local folder (`FoldersReader`) or
an `s3://bucket/prefix` (`S3FoldersReader`), whose records keep their `s3://` URIs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import fsspec

from truthloop.core.types import (
    Annotation,
    AnnotationKind,
    Classification,
    ImageRecord,
    LabelSet,
)
from truthloop.errors import FormatError, ImageError, InputError, NotWritable
from truthloop.formats.base import ErrorHandler, FolderReader, report
from truthloop.formats.gt_annotations import class_id_of
from truthloop.formats.images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    ImageInfo,
    check_bytes,
    probe,
)
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


def _is_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")


def _first_folder(relative: str) -> str | None:
    """The label of an image `relative` to the root: its first folder; none at the root."""
    folder, slash, _ = relative.partition("/")
    return folder if slash else None


# An image's size is read from this many first bytes; a header past them (a JPEG with a large
# EXIF block before its frame) costs a second read of the whole object.
HEADER_BYTES = 64 * 1024


class S3FoldersReader:
    """Reads the objects under an `s3://bucket/prefix` whose first-level folders are the labels.

    Objects are listed folder by folder and each image's header fetched with a ranged read, so
    no more than one header is held at a time. `options` are fsspec's for the URI (the S3
    endpoint); the caller checked that the prefix may be read (paths.allowed_s3_prefix).
    """

    def __init__(
        self,
        uri: str,
        *,
        options: Mapping[str, Any],
        on_error: ErrorHandler | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.uri = uri.rstrip("/")
        self.options = dict(options)
        self.on_error = on_error
        self.max_pixels, self.max_bytes = max_pixels, max_bytes
        self.label_set = LabelSet({})
        self.location = self.uri

    def _objects(self, fs: Any, root: str) -> Iterator[tuple[str, int]]:
        """(key relative to the root, size) of each image object, in folder order."""
        # A filesystem instance is shared (fsspec caches them): a listing cached by an earlier
        # import would hide the objects put since.
        fs.invalidate_cache(root)
        listed = False
        try:
            for folder, dirs, files in fs.walk(root, detail=True):
                listed = True
                # Changed in place, as os.walk's: fsspec descends into what is left, in order.
                kept = {name: dirs[name] for name in sorted(dirs) if not name.startswith(".")}
                dirs.clear()
                dirs.update(kept)
                for name in sorted(n for n in files if _is_image(n)):
                    key = f"{folder.rstrip('/')}/{name}"
                    yield key[len(root) + 1 :], int(files[name].get("size") or 0)
        except OSError as error:
            raise FormatError(f"cannot list the objects: {error}", path=self.uri) from None
        finally:
            fs.invalidate_cache(root)  # a million keys need not stay in memory
        if not listed:
            raise FormatError("no object lies under this prefix", path=self.uri)

    def _probe(self, fs: Any, key: str, nbytes: int, uri: str) -> ImageInfo:
        check_bytes(nbytes, self.max_bytes, uri)
        try:
            head = fs.cat_file(key, start=0, end=min(nbytes, HEADER_BYTES))
            try:
                return self._probe_bytes(head, uri)
            except ImageError:
                if nbytes <= HEADER_BYTES:
                    raise  # that was the whole object
                return self._probe_bytes(fs.cat_file(key), uri)
        except OSError as error:
            raise ImageError(f"cannot read the object: {error}", path=uri) from None

    def _probe_bytes(self, data: bytes, uri: str) -> ImageInfo:
        return probe(data, max_pixels=self.max_pixels, max_bytes=self.max_bytes, name=uri)

    def __iter__(self) -> Iterator[ImageRecord]:
        fs, root = fsspec.core.url_to_fs(self.uri, **self.options)
        root = root.rstrip("/")
        for relative, nbytes in self._objects(fs, root):
            uri = f"{self.uri}/{relative}"
            self.location = uri
            try:
                size = self._probe(fs, f"{root}/{relative}", nbytes, uri).size
            except InputError as error:
                report(error, self.on_error)
                continue
            annotations: tuple[Annotation, ...] = ()
            if (label := _first_folder(relative)) is not None:
                self.label_set = self.label_set.with_label(label)
                annotations = (Annotation(Classification(label)),)
            yield ImageRecord(uri, size, annotations)


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
