"""A zip uploaded for an import (the portal packs many files into one): unpacked into its upload
folder, then the source inside it picked for the format.

A zip holds images (folders as labels: its first-level folders are the labels, images at its
root get none), a folder-format tree (voc, yolo, a2i), or an annotation file (groundtruth,
rekognition, coco) with the images it names beside it. Its members are held to the folder they
are unpacked into (`safe_member`), and to the upload limit in all, so that a small zip cannot
fill the disk.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from truthloop.errors import FormatError, InputError, UnsafePath
from truthloop.formats.paths import safe_member

# Formats that read one file; the others read a folder.
FILE_FORMATS = frozenset({"groundtruth", "rekognition", "coco"})
# What an annotation file of each file format is called, to find it in a zip that holds one.
ANNOTATION_SUFFIXES = {
    "groundtruth": (".manifest", ".jsonl", ".json"),
    "rekognition": (".manifest", ".jsonl", ".json"),
    "coco": (".json",),
}
# More members than this is refused before anything is unpacked (a zip of empty entries).
MAX_MEMBERS = 1_000_000
UNPACKED = "files"


def is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)


def unpack(archive: Path, max_bytes: int) -> Path:
    """`archive` unpacked into `files/` beside it (the archive then removed); the folder."""
    dest, name = archive.parent / UNPACKED, archive.name
    # Out of the way of `files/` whatever the client called it (no upload name starts with ".").
    archive = archive.rename(archive.parent / ".archive")
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            _check_sizes(name, members, max_bytes)
            for member in members:
                _unpack_one(zipped, member, dest, name)
    except zipfile.BadZipFile as error:
        raise FormatError(f"is not a readable zip: {error}", path=name) from None
    finally:
        archive.unlink(missing_ok=True)
    dest.mkdir(exist_ok=True)
    return dest


def pick_source(folder: Path, fmt: str, annotations: str | None) -> Path:
    """The file or folder inside an unpacked zip that `fmt` reads: the folder itself for a
    folder format; for a file format, the member `annotations` names, or else the one file with
    that format's suffix."""
    if fmt not in FILE_FORMATS:
        if annotations:
            raise InputError(f"{fmt} reads the whole folder; leave out the annotation file name")
        return folder
    if annotations:
        chosen = folder / safe_member(annotations)
        if not chosen.is_file():
            raise InputError(f"the zip holds no file {annotations!r}")
        return chosen
    suffixes = ANNOTATION_SUFFIXES[fmt]
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if len(found) != 1:
        names = ", ".join(str(p.relative_to(folder)) for p in found[:5]) or "none"
        raise InputError(
            f"say which file of the zip is the {fmt} annotation file (annotations=...);"
            f" files ending in {', '.join(suffixes)}: {names}"
        )
    return found[0]


def _check_sizes(name: str, members: list[zipfile.ZipInfo], max_bytes: int) -> None:
    if len(members) > MAX_MEMBERS:
        raise FormatError(f"holds {len(members)} files, more than {MAX_MEMBERS}", path=name)
    total = sum(m.file_size for m in members)
    if total > max_bytes:
        raise FormatError(
            f"unpacks to {total} bytes, more than TRUTHLOOP_MAX_UPLOAD_BYTES ({max_bytes})",
            path=name,
        )


def _unpack_one(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path, name: str) -> None:
    try:
        relative = safe_member(member.filename)
    except UnsafePath as error:
        raise error.at(name) from None
    target = dest / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    # Copied by streams, whatever the zip says of the member's kind: a symlink entry becomes a
    # plain file holding its target's name, never a link out of the folder.
    with zipped.open(member) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
