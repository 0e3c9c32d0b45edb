"""A failed export leaves its destination exactly as it was and names the item it stopped at;
a complete one reaches the destination whole (issue 15, item 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.formats.helpers import LABELS, make_image
from truthloop.core.types import Annotation, Box, Boxes, Classification, ImageRecord, ImageSize
from truthloop.errors import ExportError
from truthloop.formats import write

FOLDER_FORMATS = ("voc", "yolo", "folders")


def _record(uri: str, size: ImageSize | None = ImageSize(8, 6), fmt: str = "voc") -> ImageRecord:
    value = Classification("dog") if fmt == "folders" else Boxes((Box("dog", 1, 1, 2, 2),))
    return ImageRecord(uri, size, (Annotation(value),))


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under `root`, hidden ones included."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return [make_image(tmp_path / "src" / f"{n}.png") for n in range(3)]


@pytest.mark.parametrize("fmt", FOLDER_FORMATS)
def test_a_failed_folder_export_leaves_nothing_and_names_the_item(
    tmp_path: Path, images: list[Path], fmt: str
) -> None:
    before = _tree(tmp_path)
    records = [_record(str(images[0]), fmt=fmt), _record("s3://b/far.png", fmt=fmt)]
    with pytest.raises(ExportError, match=r"^s3://b/far\.png: .*needs the image files") as caught:
        write(fmt, records, tmp_path / "out", label_set=LABELS)
    assert caught.value.item == "s3://b/far.png"
    assert "nothing was written to" in str(caught.value)
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("fmt", FOLDER_FORMATS)
def test_a_failed_export_keeps_the_previous_folder_exactly(
    tmp_path: Path, images: list[Path], fmt: str
) -> None:
    dest = tmp_path / "out"
    write(fmt, [_record(str(images[0]), fmt=fmt)], dest, label_set=LABELS)
    (dest / "notes.txt").write_text("mine\n")
    before = _tree(tmp_path)
    images[2].unlink()  # an image gone since the import
    records = [_record(str(p), fmt=fmt) for p in images]
    with pytest.raises(ExportError, match=r"2\.png") as caught:
        write(fmt, records, dest, label_set=LABELS)
    assert caught.value.item == str(images[2])
    assert _tree(tmp_path) == {k: v for k, v in before.items() if k != "src/2.png"}


@pytest.mark.parametrize("fmt", FOLDER_FORMATS)
def test_a_complete_export_is_merged_into_an_existing_folder(
    tmp_path: Path, images: list[Path], fmt: str
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")
    assert write(fmt, [_record(str(p), fmt=fmt) for p in images], dest, label_set=LABELS) == 3
    assert (dest / "notes.txt").read_text() == "mine\n"
    written = {Path(k).name for k, v in _tree(dest).items() if v is not None}
    assert {"0.png", "1.png", "2.png", "notes.txt"} <= written
    assert sorted(os.listdir(tmp_path)) == ["out", "src"]  # no hidden staging folder left


def test_a_complete_export_into_a_new_folder_has_the_usual_mode(
    tmp_path: Path, images: list[Path]
) -> None:
    write("voc", [_record(str(images[0]))], tmp_path / "out", label_set=LABELS)
    (tmp_path / "plain").mkdir()
    assert (tmp_path / "out").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_something_in_the_way_at_the_end_leaves_the_folder_untouched(
    tmp_path: Path, images: list[Path]
) -> None:
    dest = tmp_path / "out"
    (dest / "classes.txt").mkdir(parents=True)  # a folder where YOLO writes a file
    before = _tree(tmp_path)
    with pytest.raises(ExportError, match=r"cannot export to .*out: .*in the way") as caught:
        write("yolo", [_record(str(images[0]))], dest, label_set=LABELS)
    assert caught.value.item is None
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(("fmt", "dest"), [("voc", "file.txt"), ("coco", "folder")])
def test_a_destination_of_the_wrong_kind_is_refused(tmp_path: Path, fmt: str, dest: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ExportError, match=f"{dest} is a (file|folder); {fmt} writes"):
        write(fmt, [], tmp_path / dest, label_set=LABELS)


def test_coco_of_an_image_of_unknown_size_names_it_and_keeps_the_old_file(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "coco.json"
    dest.write_text("old\n")
    records = [_record("s3://b/a.png"), _record("s3://b/unsized.png", size=None)]
    with pytest.raises(ExportError, match=r"^s3://b/unsized\.png: COCO needs the image size"):
        write("coco", records, dest, label_set=LABELS)
    assert dest.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["coco.json"]


def test_coco_reads_the_size_of_a_local_image_it_was_not_given(
    tmp_path: Path, images: list[Path]
) -> None:
    dest = tmp_path / "coco.json"
    assert write("coco", [_record(str(images[0]), size=None)], dest, label_set=LABELS) == 1
    assert '"width":8,"height":6' in dest.read_text()
    images[1].unlink()
    with pytest.raises(ExportError, match=r"1\.png") as caught:
        write("coco", [_record(str(images[1]), size=None)], dest, label_set=LABELS)
    assert caught.value.item == str(images[1])
