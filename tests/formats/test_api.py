from __future__ import annotations

from pathlib import Path

import pytest

import truthloop.formats as formats
from tests.formats.helpers import LABELS, make_image
from truthloop.core.types import Annotation, Box, Boxes, ImageRecord, ImageSize
from truthloop.errors import FormatError, UnknownFormat, UnsafePath


def test_public_names() -> None:
    assert formats.__all__ == [
        "READ_FORMATS",
        "WRITE_FORMATS",
        "ErrorHandler",
        "Reader",
        "open_reader",
        "write",
    ]
    assert formats.READ_FORMATS == (
        "folders", "groundtruth", "rekognition", "coco", "voc", "yolo", "a2i"
    )
    assert set(formats.WRITE_FORMATS) == {
        "groundtruth",
        "rekognition",
        "coco",
        "voc",
        "yolo",
        "folders",
    }


def test_unknown_formats_name_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormat, match="readable formats: folders, groundtruth"):
        formats.open_reader("csv", tmp_path)
    with pytest.raises(UnknownFormat, match="writable formats: groundtruth, rekognition"):
        formats.write("csv", [], tmp_path / "x", label_set=LABELS)


@pytest.mark.parametrize("fmt", formats.WRITE_FORMATS)
def test_every_writer_reads_back_through_open_reader(tmp_path: Path, fmt: str) -> None:
    image = make_image(tmp_path / "images" / "dog" / "a.png", 20, 10)
    boxes = Boxes((Box("dog", 2, 3, 4, 5),))
    value = boxes if fmt != "folders" else None
    record = ImageRecord(str(image), ImageSize(20, 10), (Annotation(value),) if value else ())
    dest = tmp_path / "out" / ("data" if fmt in ("groundtruth", "rekognition", "coco") else "")
    assert formats.write(fmt, [record], dest, label_set=LABELS) == 1
    reader = formats.open_reader(fmt, dest, allowed_roots=[tmp_path])
    (back,) = reader
    assert back.size == ImageSize(20, 10, 3)
    if value:
        assert back.annotations[0].value == boxes
        assert "dog" in reader.label_set


def test_by_default_only_the_source_folder_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "m").write_text('{"source-ref": "../a.jpg"}\n')
    with pytest.raises(UnsafePath, match=str(tmp_path / "data")):
        list(formats.open_reader("groundtruth", tmp_path / "data" / "m"))


@pytest.mark.parametrize(
    ("fmt", "make", "why"),
    [
        ("groundtruth", None, "no such file or folder"),
        ("coco", "folder", "is a folder; coco reads a file"),
        ("voc", "file", "is a file; voc reads a folder"),
        ("folders", "file", "is a file; folders reads a folder"),
    ],
)
def test_a_source_of_the_wrong_kind_is_refused(
    tmp_path: Path, fmt: str, make: str | None, why: str
) -> None:
    source = tmp_path / "source"
    if make == "folder":
        source.mkdir()
    elif make == "file":
        source.write_text("{}")
    with pytest.raises(FormatError, match=why) as caught:
        formats.open_reader(fmt, source)
    assert caught.value.path == str(source)


def test_readers_say_where_the_last_record_came_from(tmp_path: Path) -> None:
    manifest = tmp_path / "m.manifest"
    manifest.write_text('{"source-ref": "s3://b/a.jpg"}\n\n{"source-ref": "s3://b/b.jpg"}\n')
    reader = formats.open_reader("groundtruth", manifest)
    assert [reader.location for _ in reader] == [f"{manifest}:1", f"{manifest}:3"]
    make_image(tmp_path / "dog" / "a.png")
    folders = formats.open_reader("folders", tmp_path)
    assert [folders.location for _ in folders] == [str(tmp_path / "dog" / "a.png")]
