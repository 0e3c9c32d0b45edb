"""Reading a source into batches of rows ready to store, in this process or in a child.

Parsing a large manifest costs more Python time than the database spends storing it, and one
Python process runs one thing at a time. Read in a child process, the next batch is parsed
while the database stores the last one, on another core (benchmarks/import_manifest.py).
Both ways run the same `BatchReader`; the child only carries its batches over a pipe.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import stat
import subprocess
import sys
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from truthloop import formats
from truthloop.core.geometry import BOX_SIZE_RULE, big_enough, clip, inside
from truthloop.core.types import Annotation, Boxes, ImageRecord, LabelSet, Split
from truthloop.datasets.bulk import old_objects_frozen
from truthloop.errors import (
    BoxOutsideImage,
    DuplicateImage,
    ImageError,
    InputError,
    TruthloopError,
    UnknownLabel,
)
from truthloop.formats.paths import is_remote
from truthloop.storage import datasets as store

BATCH = 2000
# Below this size a child process costs more to start (it imports truthloop) than it saves.
CHILD_MIN_BYTES = 32 * 1024 * 1024
PIPE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SourceSpec:
    """What `formats.open_reader` needs to open a source, in a form a child process can take."""

    fmt: str
    path: Path | str  # a local file or folder, or an s3:// prefix (a str)
    label_attribute: str | None
    allowed_roots: tuple[Path, ...]
    max_pixels: int
    max_bytes: int
    image_root: Path | None = None
    storage_options: dict[str, Any] = field(default_factory=dict)  # an s3:// source's endpoint

    def open(self, on_error: formats.ErrorHandler | None) -> formats.Reader:
        return formats.open_reader(
            self.fmt,
            self.path,
            label_attribute=self.label_attribute,
            on_error=on_error,
            allowed_roots=self.allowed_roots,
            max_pixels=self.max_pixels,
            max_bytes=self.max_bytes,
            image_root=self.image_root,
            storage_options=self.storage_options,
        )


@dataclass(frozen=True)
class Rules:
    """What every record must pass, and what is done to it, before it is stored."""

    skip_errors: bool
    fixed_labels: LabelSet | None = None
    split: Split | None = None


@dataclass
class Batch:
    """Up to BATCH items read, what was skipped or changed on the way, and how far reading got.
    The last batch of a source carries the labels it found (`label_set`)."""

    rows: list[store.ItemRows] = field(default_factory=list)
    seen: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    label_set: LabelSet | None = None


# Opens an image a record names: (record with its true size, content hash), for --verify-images
# and --copy, which need the project and so run only in the importing process.
ImageCheck = Callable[[ImageRecord, list[str]], tuple[ImageRecord, str | None]]


class BatchReader:
    def __init__(self, source: SourceSpec, rules: Rules, check_image: ImageCheck | None = None):
        self.source = source
        self.rules = rules
        self.check_image = check_image

    def __iter__(self) -> Iterator[Batch]:
        batch, skipped = Batch(), Skipped()
        reader = self.source.open(on_error=skipped.append if self.rules.skip_errors else None)
        uris: set[str] = set()
        hashes: dict[str, str] = {}
        seen = 0
        for record in reader:
            seen += 1
            try:
                record, content_hash = self.prepare(record, batch.warnings)
                if record.uri in uris:
                    raise DuplicateImage(f"image {record.uri} appears twice")
                if content_hash and content_hash in hashes:
                    raise DuplicateImage(
                        f"image {record.uri} has the same content as {hashes[content_hash]}"
                    )
            except InputError as error:
                where = getattr(reader, "location", None) or f"{reader_name(reader)} record {seen}"
                error.at(where)
                if not self.rules.skip_errors:
                    raise
                skipped.append(error)
                continue
            batch.rows.append(store.item_rows(record, content_hash))
            uris.add(record.uri)
            if content_hash:
                hashes[content_hash] = record.uri
            if len(batch.rows) >= BATCH:
                batch.seen, batch.errors = seen, skipped.take()
                yield batch
                batch, uris, hashes = Batch(), set(), {}
        batch.seen, batch.errors = seen, skipped.take()
        batch.label_set = reader.label_set
        yield batch

    def prepare(self, record: ImageRecord, warnings: list[str]) -> tuple[ImageRecord, str | None]:
        fixed = self.rules.fixed_labels
        if fixed is not None:
            unknown = sorted(record.labels() - set(fixed.names))
            if unknown:
                raise UnknownLabel(
                    f"label {', '.join(map(repr, unknown))} is not in the label set"
                    f" {list(fixed.names)}"
                )
        content_hash = None
        if self.check_image is not None:
            record, content_hash = self.check_image(record, warnings)
        else:
            check_exists(record.uri)
        record = clip_boxes(record, warnings)
        if self.rules.split is not None:
            record = replace(record, split=self.rules.split)
        return record, content_hash


def check_exists(uri: str) -> None:
    """Refuse a local image file that is not there, found at import rather than when someone
    opens its task. One `stat`: the image itself is opened only with --verify-images."""
    if is_remote(uri):
        return  # asking an object store about every image costs a request each
    try:
        found = os.stat(uri)
    except OSError as error:
        raise ImageError(f"image {uri} cannot be read: {error.strerror}") from None
    if not stat.S_ISREG(found.st_mode):
        raise ImageError(f"image {uri} is not a file")


class Skipped:
    """The records skipped since the last batch, the reader's and ours, in the order met."""

    def __init__(self) -> None:
        self._messages: list[str] = []

    def append(self, error: InputError) -> None:
        self._messages.append(str(error))

    def take(self) -> list[str]:
        messages, self._messages = self._messages, []
        return messages


def clip_boxes(record: ImageRecord, warnings: list[str]) -> ImageRecord:
    """Boxes reaching over the image's edge cut to it (with a warning); a box with nothing
    inside the image is refused."""
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
            clipped = clip(box, size)
            if clipped is None or not big_enough(clipped):
                # Less than a pixel inside is no box either (core.geometry.MIN_BOX_SIDE).
                raise BoxOutsideImage(
                    f"box {box.label!r} at left={box.left}, top={box.top},"
                    f" width={box.width}, height={box.height} lies outside the"
                    f" {size.width}x{size.height} image {record.uri}"
                    + ("" if clipped is None else f" but for a sliver; {BOX_SIZE_RULE}")
                )
            if clipped is not box:
                warnings.append(
                    f"{record.uri}: box {box.label!r} clipped to the image"
                    f" ({box.left},{box.top},{box.width},{box.height} ->"
                    f" {clipped.left},{clipped.top},{clipped.width},{clipped.height})"
                )
            boxes.append(clipped)
        value = replace(annotation.value, boxes=tuple(boxes))
        annotations.append(replace(annotation, value=value))
    return replace(record, annotations=tuple(annotations))


def reader_name(reader: object) -> str:
    return str(getattr(reader, "path", "") or type(reader).__name__)


def worth_a_child(source: SourceSpec) -> bool:
    path = source.path
    return isinstance(path, Path) and path.is_file() and path.stat().st_size >= CHILD_MIN_BYTES


def read_in_child(source: SourceSpec, rules: Rules) -> Generator[Batch, None, None]:
    """The batches of `BatchReader(source, rules)`, read in a child process.

    The child is a fresh interpreter, not a multiprocessing one, so a caller's script is
    never run again in it; it imports this very truthloop (put first on its path). A record
    it refuses is raised here as the same InputError; it never outlives the iteration.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))
    child = subprocess.Popen(
        [sys.executable, "-c", "from truthloop.datasets import reading; reading.serve_as_child()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert child.stdin is not None and child.stdout is not None
    _widen(child.stdout)
    try:
        # A child that could not start has closed its end: what it says is its exit code.
        with contextlib.suppress(BrokenPipeError), child.stdin:
            pickle.dump((source, rules), child.stdin)
        while True:
            try:
                message = pickle.load(child.stdout)
            except EOFError:
                raise TruthloopError(
                    f"reading {source.path} stopped: its reading process exited"
                    f" (code {child.wait()})"
                ) from None
            if isinstance(message, BaseException):
                raise message
            yield message
            if message.label_set is not None:
                return
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.wait()


def _widen(pipe: IO[bytes]) -> None:
    """Let the child run a few batches ahead of the storing (a pipe holds 64 KiB by default,
    a fifth of a batch), so that neither waits on the other's every hiccup."""
    # Elsewhere than Linux, or under a lower limit, the pipe works, only less far ahead.
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def serve_as_child() -> None:
    """The child's side of `read_in_child`: its source on stdin, its batches to stdout."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever else prints must not mix with the batches
    source, rules = pickle.load(sys.stdin.buffer)
    try:
        with old_objects_frozen():
            for batch in BatchReader(source, rules):
                pickle.dump(batch, out, pickle.HIGHEST_PROTOCOL)
        out.flush()
    except BrokenPipeError:
        # The importing process stopped listening (it failed, or was stopped): what is left
        # in the buffer goes nowhere, rather than into an error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    except InputError as error:
        _last_word(out, error)
    except Exception as error:  # whatever stopped reading goes to the parent
        failure = f"reading {source.path} failed: {error!r}\n{traceback.format_exc()}"
        _last_word(out, TruthloopError(failure))


def _last_word(out: IO[bytes], error: Exception) -> None:
    with contextlib.suppress(BrokenPipeError):
        pickle.dump(error, out)
        out.flush()
