"""Where writers put their files: whole files replaced atomically, images placed by link or copy."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from truthloop.core.types import Annotation, AnnotationKind, Box, Boxes, ImageRecord, LabelSet
from truthloop.errors import NotWritable
from truthloop.formats.gt_annotations import class_id_of
from truthloop.formats.paths import is_remote


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces `dest` only when the block ends without an error.

    It is written beside `dest` (same file system) and moved over it with os.replace, so a
    reader of `dest` sees the old file or the new one, never half of one.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(dest: Path) -> Iterator[Path]:
    """A folder to write into whose files reach `dest` only when the block ends without an error.

    It is a hidden sibling of `dest` (same file system, so images link into it and it renames
    cheaply). At the end it becomes `dest` when `dest` is absent or empty; otherwise its files
    are moved into `dest`, replacing those of the same name and keeping the others, as writing
    into `dest` did. On an error it is removed and `dest` is exactly as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Not mkdtemp: its 0700 would become the mode of `dest`; mkdir gives the usual one.
    staged = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.tmp"
    staged.mkdir()
    try:
        yield staged
        _move_into(staged, dest)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _move_into(staged: Path, dest: Path) -> None:
    try:
        os.replace(staged, dest)  # dest absent or an empty folder
        return
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    moves = [
        (Path(folder, name), dest / Path(folder, name).relative_to(staged))
        for folder, _, names in os.walk(staged)
        for name in names
    ]
    # Checked before anything moves, so that a clash leaves `dest` untouched.
    for _, target in moves:
        clash = _in_the_way(target, dest)
        if clash is not None:
            raise FileExistsError(errno.EEXIST, "something of that name is in the way", str(clash))
    for source, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def _in_the_way(target: Path, dest: Path) -> Path | None:
    """What keeps a file from being moved to `target` in `dest`: a folder of its name, or a
    file where one of its folders must be."""
    if target.is_dir():
        return target
    for parent in target.parents:
        if parent == dest:
            break
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def local_image(uri: str, fmt: str) -> Path:
    """The local file of a record's image, for formats whose folder must hold the images."""
    if is_remote(uri):
        raise NotWritable(f"{uri}: {fmt} needs the image files locally; fetch them first")
    return Path(unquote(urlsplit(uri).path)) if uri.startswith("file:") else Path(uri)


def place_image(src: Path, dest: Path) -> None:
    """Put `src` at `dest`: a hard link where the file system allows, else a copy."""
    if dest.exists() and os.path.samefile(src, dest):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def unique_name(name: str, taken_stems: set[str]) -> str:
    """`name`, or `stem_2.ext`, `stem_3.ext`... so that no two images share a stem.

    Label files are named by the image's stem, and images from different folders (or `a.jpg`
    beside `a.png`) would otherwise overwrite each other's labels.
    """
    path = PurePosixPath(name)
    candidate, n = path, 1
    while candidate.stem.lower() in taken_stems:
        n += 1
        candidate = path.with_stem(f"{path.stem}_{n}")
    taken_stems.add(candidate.stem.lower())
    return candidate.name


def pick_annotation(
    record: ImageRecord, kinds: tuple[AnnotationKind, ...], label_attribute: str | None
) -> Annotation | None:
    """The one annotation of `kinds` a single-label-set format writes for `record`.

    With `label_attribute`, the annotation stored under it; otherwise the record must not hold
    two candidates, since picking one silently would drop the other.
    """
    found = [
        a
        for a in record.annotations
        if a.kind in kinds and (label_attribute is None or a.attribute == label_attribute)
    ]
    if len(found) > 1:
        names = ", ".join(repr(a.attribute) for a in found)
        raise NotWritable(
            f"{record.uri}: several annotations could be written ({names}); "
            "choose one with label_attribute"
        )
    return found[0] if found else None


def chosen_boxes(
    record: ImageRecord, label_set: LabelSet, label_attribute: str | None
) -> tuple[Box, ...]:
    """The boxes a box format writes for `record`, each label checked against `label_set`."""
    chosen = pick_annotation(record, (AnnotationKind.BOXES,), label_attribute)
    boxes = chosen.value.boxes if chosen and isinstance(chosen.value, Boxes) else ()
    for box in boxes:
        class_id_of(label_set, box.label, record.uri)
    return boxes
