"""Readers and writers of annotation formats, streaming `ImageRecord`s.

    open_reader(fmt, source, ...) -> Reader    iterate it for records; `label_set` grows meanwhile
    write(fmt, records, dest, label_set=...)   -> the number of records written

Formats: groundtruth, rekognition (manifests), coco (JSON), voc, yolo and folders (folders);
a2i (A2I human loop output files, one or a folder of them) is read only.
Bad input raises InputError subclasses carrying the file and line (or item id); with
`on_error` each is handed over and reading goes on with the next line or item.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from truthloop.core.types import ImageRecord, LabelSet
from truthloop.errors import ExportError, FormatError, InputError, UnknownFormat
from truthloop.formats.a2i import DEFAULT_ATTRIBUTE as A2I_ATTRIBUTE
from truthloop.formats.a2i import A2IReader
from truthloop.formats.base import ErrorHandler, Reader
from truthloop.formats.checked import CheckedReader
from truthloop.formats.coco import CocoReader, write_coco
from truthloop.formats.folders import FoldersReader, S3FoldersReader, write_folders
from truthloop.formats.groundtruth import GroundTruthReader, write_groundtruth
from truthloop.formats.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from truthloop.formats.output import atomic_folder
from truthloop.formats.paths import is_s3_source
from truthloop.formats.rekognition import RekognitionReader, write_rekognition
from truthloop.formats.voc import VocReader, write_voc
from truthloop.formats.yolo import YoloReader, write_yolo

__all__ = [
    "READ_FORMATS",
    "WRITE_FORMATS",
    "ErrorHandler",
    "Reader",
    "open_reader",
    "write",
]

READ_FORMATS = ("folders", "groundtruth", "rekognition", "coco", "voc", "yolo", "a2i")
WRITE_FORMATS = ("groundtruth", "rekognition", "coco", "voc", "yolo", "folders")

# Formats whose destination is a folder; they are written into atomic_folder.
_FOLDER_FORMATS = frozenset({"voc", "yolo", "folders"})
_WRITERS: dict[str, Callable[..., int]] = {
    "groundtruth": write_groundtruth,
    "rekognition": write_rekognition,
    "coco": write_coco,
    "voc": write_voc,
    "yolo": write_yolo,
    "folders": write_folders,
}


def _check_source(fmt: str, source: Path) -> None:
    if not source.exists():
        raise FormatError("no such file or folder", path=str(source))
    if fmt in ("groundtruth", "rekognition", "coco") and source.is_dir():
        raise FormatError(f"is a folder; {fmt} reads a file", path=str(source))
    if fmt in ("voc", "folders") and not source.is_dir():
        raise FormatError(f"is a file; {fmt} reads a folder", path=str(source))


def _default_roots(source: Path) -> tuple[Path, ...]:
    source = source.absolute()
    return (source if source.is_dir() else source.parent,)


def _checked(open_: Callable[..., Reader]) -> Callable[..., Reader]:
    """Every reader's records pass the text rule (formats.checked), whatever the format."""

    @functools.wraps(open_)
    def open_checked(*args: Any, **kwargs: Any) -> Reader:
        return CheckedReader(open_(*args, **kwargs), kwargs.get("on_error"))

    return open_checked


@_checked
def open_reader(
    fmt: str,
    source: Path | str,
    *,
    label_attribute: str | None = None,
    on_error: ErrorHandler | None = None,
    allowed_roots: Sequence[Path] = (),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    image_root: Path | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Reader:
    """A reader of `source` in format `fmt` (one of READ_FORMATS).

    Local image references must resolve inside `allowed_roots`; when none are given, the folder
    holding `source` (or `source` itself, for a folder) is the only root. `label_attribute` only
    applies to the manifest formats and to a2i (the attribute its answers are stored under); the
    image limits only to formats that read image headers; `image_root` (the folder COCO's
    `file_name`s are relative to) only to COCO. An `s3://bucket/prefix` source is read as
    folders, with fsspec's `storage_options` (its endpoint); checking that it may be read is
    the caller's (paths.allowed_s3_prefix).
    """
    limits = {"max_pixels": max_pixels, "max_bytes": max_bytes}
    if image_root is not None and fmt != "coco":
        raise FormatError(f"an image root applies to COCO files, not to {fmt}")
    if is_s3_source(source):
        if fmt != "folders":
            raise FormatError(f"an s3:// prefix is read as folders, not as {fmt}", path=str(source))
        options = storage_options or {}
        return S3FoldersReader(str(source), options=options, on_error=on_error, **limits)
    source = Path(source)
    _check_source(fmt, source)
    if image_root is not None and not image_root.is_dir():
        raise FormatError("the image root is not a folder", path=str(image_root))
    roots = tuple(allowed_roots) or _default_roots(source)
    match fmt:
        case "groundtruth" | "rekognition":
            manifest = GroundTruthReader if fmt == "groundtruth" else RekognitionReader
            return manifest(
                source, label_attribute=label_attribute, on_error=on_error, allowed_roots=roots
            )
        case "coco":
            return CocoReader(source, on_error=on_error, allowed_roots=roots, image_root=image_root)
        case "voc":
            return VocReader(source, on_error=on_error, allowed_roots=roots, **limits)
        case "yolo":
            return YoloReader(source, on_error=on_error, allowed_roots=roots, **limits)
        case "folders":
            return FoldersReader(source, on_error=on_error, allowed_roots=roots, **limits)
        case "a2i":
            attribute = label_attribute or A2I_ATTRIBUTE
            return A2IReader(source, attribute=attribute, on_error=on_error, allowed_roots=roots)
    raise UnknownFormat(f"unknown format {fmt!r}; readable formats: {', '.join(READ_FORMATS)}")


def write(
    fmt: str,
    records: Iterable[ImageRecord],
    dest: Path,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> int:
    """Write `records` to `dest` in format `fmt` (one of WRITE_FORMATS); the count written.

    `dest` is a file for groundtruth, rekognition and coco (replaced atomically), a folder for
    voc, yolo and folders (images are hard-linked or copied into it). Either is written aside
    and moved into place only when complete, so a failure leaves `dest` as it was; it raises
    ExportError naming the item that could not be written (a label outside the label set, an
    image without a size or a file...).
    """
    if fmt not in _WRITERS:
        raise UnknownFormat(f"unknown format {fmt!r}; writable formats: {', '.join(WRITE_FORMATS)}")
    dest = Path(dest)
    folder = fmt in _FOLDER_FORMATS
    if dest.exists() and dest.is_dir() != folder:
        kind = "a folder" if folder else "a file"
        raise ExportError(f"{dest} is {'a file' if folder else 'a folder'}; {fmt} writes {kind}")
    current = _Current(records)
    try:
        with atomic_folder(dest) if folder else contextlib.nullcontext(dest) as target:
            options = {"label_attribute": label_attribute, "job_name": job_name}
            return _WRITERS[fmt](current, target, label_set=label_set, **options)
    except (InputError, ValueError, KeyError, OSError) as error:
        raise _export_error(error, current.uri, dest) from error


class _Current:
    """The records being written, remembering the one at hand so that a failure can name it."""

    def __init__(self, records: Iterable[ImageRecord]) -> None:
        self._records = iter(records)
        self.uri: str | None = None

    def __iter__(self) -> _Current:
        return self

    def __next__(self) -> ImageRecord:
        self.uri = None  # a failure past the last record (or in reading one) is no item's
        record = next(self._records)
        self.uri = record.uri
        return record


def _export_error(error: Exception, uri: str | None, dest: Path) -> ExportError:
    if isinstance(error, OSError) and error.strerror:
        reason = error.strerror + (f": {error.filename}" if error.filename else "")
    else:
        reason = str(error)
    if uri is None:
        return ExportError(f"cannot export to {dest}: {reason}; {dest} was left as it was")
    reason = reason.removeprefix(f"{uri}: ")  # most reasons already start with the item
    return ExportError(f"{uri}: {reason}; nothing was written to {dest}", item=uri)
