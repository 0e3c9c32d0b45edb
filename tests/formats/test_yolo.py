from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.helpers import LABELS, NAMES, boxes_of, make_image, same_boxes
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    ImageRecord,
    ImageSize,
    LabelSet,
    Source,
    Split,
)
from truthloop.errors import FormatError, ImageError, InputError, UnsafePath
from truthloop.formats import open_reader, write

# The reader rounds pixels to nine decimals (ratios cannot hold most pixel values exactly), so a
# coordinate with more decimals than that comes back within half a billionth of a pixel.
TOLERANCE_PX = 1e-9


def yolo_folder(root: Path, label_text: str, *, names_file: str = "classes.txt") -> Path:
    make_image(root / "images" / "a.jpg", 200, 100, "JPEG")
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "a.txt").write_text(label_text)
    if names_file == "classes.txt":
        (root / "classes.txt").write_text("dog\ncat\n")
    else:
        (root / "data.yaml").write_text(names_file)
    return root


def test_reads_normalized_boxes_as_pixels(tmp_path: Path) -> None:
    reader = open_reader("yolo", yolo_folder(tmp_path, "0 0.5 0.5 0.2 0.4\n1 0.1 0.2 0.1 0.2\n"))
    (record,) = reader
    assert record.uri == os.path.realpath(tmp_path / "images" / "a.jpg")
    assert record.size == ImageSize(200, 100, 3)
    assert record.annotations[0].value == Boxes(
        (Box("dog", 80, 30, 40, 40), Box("cat", 10, 10, 20, 20))
    )
    assert record.annotations[0].source is Source.HUMAN
    assert reader.label_set == LabelSet({"dog": 0, "cat": 1})


@pytest.mark.parametrize(
    "data_yaml",
    ["names: [dog, cat]\n", "names:\n  0: dog\n  1: cat\n", "nc: 2\nnames:\n- dog\n- cat\n"],
)
def test_class_names_from_data_yaml(tmp_path: Path, data_yaml: str) -> None:
    reader = open_reader("yolo", yolo_folder(tmp_path, "1 0.5 0.5 1 1\n", names_file=data_yaml))
    (record,) = reader
    assert boxes_of(record.annotations[0])[0].label == "cat"
    assert reader.label_set.names == ("dog", "cat")


def test_a_sixth_value_is_a_confidence(tmp_path: Path) -> None:
    (record,) = open_reader("yolo", yolo_folder(tmp_path, "0 0.5 0.5 0.2 0.4 0.875\n"))
    assert boxes_of(record.annotations[0])[0].confidence == 0.875
    assert record.annotations[0].source is Source.MODEL


def test_images_without_label_files_have_no_objects_and_splits_come_from_folders(
    tmp_path: Path,
) -> None:
    make_image(tmp_path / "images" / "val" / "b.png")
    make_image(tmp_path / "images" / "train" / "c.png")
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    (tmp_path / "classes.txt").write_text("dog\n")
    records = list(open_reader("yolo", tmp_path))
    assert [(Path(r.uri).name, r.split) for r in records] == [
        ("c.png", Split.TRAIN),
        ("b.png", Split.VALIDATION),
    ]
    assert all(r.annotations == (Annotation(Boxes(())),) for r in records)


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        ("2 0.5 0.5 0.1 0.1", "class 2 is not among the 2 class names"),
        ("x 0.5 0.5 0.1 0.1", "the class must be an integer"),
        ("0 0.5 0.5 0.1", "got 4 values"),
        ("0 0.1 0.1 0.2 0.1 0.3 0.3 0.1", "segmentation polygons are not supported"),
        ("0 0.5 0.5 zero 0.1", "the values must be numbers"),
        ("0 0.5 0.5 0 0.1", "the box is 0.0x.* pixels; a box must be at least 1 pixel"),
        ("0 0.5 0.5 -0.1 0.1", "the box is -.* pixels; a box must be at least 1 pixel"),
        ("0 0.5 0.5 1e-300 0.1", "the box is 0.0x.* pixels; a box must be at least 1 pixel"),
        ("0 nan 0.5 0.1 0.1", "must be a finite number"),
        ("0 0.5 0.5 0.1 0.1 1.5", "between 0 and 1"),
    ],
)
def test_bad_label_lines_name_the_file_and_line(tmp_path: Path, labels: str, why: str) -> None:
    yolo_folder(tmp_path, f"0 0.5 0.5 0.2 0.2\n\n{labels}\n")
    with pytest.raises(FormatError, match=why) as caught:
        list(open_reader("yolo", tmp_path))
    assert (caught.value.path, caught.value.line) == (str(tmp_path / "labels" / "a.txt"), 3)


def test_label_files_must_be_utf8(tmp_path: Path) -> None:
    yolo_folder(tmp_path, "")
    (tmp_path / "labels" / "a.txt").write_bytes(b"0 0.5 0.5 0.1 0.1 \xff\n")
    with pytest.raises(FormatError, match="not UTF-8 text") as caught:
        list(open_reader("yolo", tmp_path))
    assert caught.value.path == str(tmp_path / "labels" / "a.txt")


def test_on_error_skips_the_image_and_goes_on(tmp_path: Path) -> None:
    yolo_folder(tmp_path, "9 0.5 0.5 0.2 0.2\n")
    make_image(tmp_path / "images" / "b.png")
    (tmp_path / "images" / "c.png").write_bytes(b"")
    errors: list[InputError] = []
    records = list(open_reader("yolo", tmp_path, on_error=errors.append))
    assert [Path(r.uri).name for r in records] == ["b.png"]
    assert [type(e) for e in errors] == [FormatError, ImageError]


def test_class_names_are_required(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "a.png")
    with pytest.raises(FormatError, match=r"neither data\.yaml nor classes\.txt"):
        open_reader("yolo", tmp_path)


@pytest.mark.parametrize(
    ("data_yaml", "why"),
    [
        ("names: [dog\n", "not valid YAML"),
        ("names:\n  0: dog\n  2: cat\n", r"names ids must be 0..1"),
        ("names: 5\n", "names must be a list"),
        ("- a\n", "data.yaml must be a JSON object"),
    ],
)
def test_bad_data_yaml(tmp_path: Path, data_yaml: str, why: str) -> None:
    yolo_folder(tmp_path, "", names_file=data_yaml)
    with pytest.raises(FormatError, match=why) as caught:
        open_reader("yolo", tmp_path)
    assert caught.value.path == str(tmp_path / "data.yaml")


def test_an_empty_class_name_in_classes_txt(tmp_path: Path) -> None:
    yolo_folder(tmp_path, "")
    (tmp_path / "classes.txt").write_text("dog\n\ncat\n")
    with pytest.raises(FormatError, match="a class name is empty") as caught:
        open_reader("yolo", tmp_path)
    assert caught.value.line == 2


def test_symlinks_leading_out_are_refused(tmp_path: Path) -> None:
    root = yolo_folder(tmp_path / "yolo", "")
    (root / "images" / "b.png").symlink_to(make_image(tmp_path / "secret.png"))
    make_image(root / "images" / "c.png")
    (tmp_path / "secret.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "labels" / "c.txt").symlink_to(tmp_path / "secret.txt")
    errors: list[InputError] = []
    records = list(open_reader("yolo", root, on_error=errors.append))
    assert [Path(r.uri).name for r in records] == ["a.jpg"]
    assert [isinstance(e, UnsafePath) for e in errors] == [True, True]


def test_writes_classes_txt_and_a_minimal_data_yaml(tmp_path: Path) -> None:
    image = make_image(tmp_path / "src" / "a.png", 10, 10)
    record = ImageRecord(
        str(image),
        ImageSize(10, 10),
        (Annotation(Boxes((Box("bone", 0, 0, 5, 10),))),),
        split=Split.TRAIN,
    )
    write("yolo", [record], tmp_path / "yolo", label_set=LABELS)
    root = tmp_path / "yolo"
    assert (root / "classes.txt").read_text().splitlines() == list(NAMES)
    assert yaml.safe_load((root / "data.yaml").read_text()) == {
        "train": "images/train",
        "val": "images",
        "names": dict(enumerate(NAMES)),
    }
    assert (root / "labels" / "train" / "a.txt").read_text() == "3 0.25 0.5 0.5 1.0\n"


@st.composite
def yolo_records(
    draw: st.DrawFn, coordinate: st.SearchStrategy[float] | None = None
) -> tuple[ImageSize, Split | None, tuple[Box, ...]]:
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    if coordinate is None:
        x, y = st.floats(-width, 2 * width), st.floats(-height, 2 * height)
        # At least a pixel, the least box any reader accepts (core.geometry.MIN_BOX_SIDE).
        w, h = st.floats(1.0, 2 * width), st.floats(1.0, 2 * height)
    else:
        x = y = coordinate
        w = h = coordinate.filter(lambda v: v >= 1)
    found = draw(
        st.lists(
            st.builds(Box, st.sampled_from(NAMES), x, y, w, h, st.none() | st.floats(0, 1)),
            max_size=4,
        )
    )
    split = draw(st.sampled_from([None, Split.TRAIN, Split.VALIDATION, Split.TEST]))
    return ImageSize(width, height), split, tuple(found)


def write_and_read_back(
    root: Path, drawn: list[tuple[ImageSize, Split | None, tuple[Box, ...]]], tolerance: float
) -> None:
    records = [
        ImageRecord(
            str(make_image(root / "src" / f"{n}.png", size.width, size.height)),
            size,
            (Annotation(Boxes(found)),),
            split=split,
        )
        for n, (size, split, found) in enumerate(drawn)
    ]
    assert write("yolo", records, root / "yolo", label_set=LABELS) == len(records)
    back = {Path(r.uri).name: r for r in open_reader("yolo", root / "yolo")}
    assert len(back) == len(records)
    for record in records:
        got = back[Path(record.uri).name]
        assert (got.size, got.split) == (record.size, record.split)
        assert same_boxes(
            boxes_of(got.annotations[0]), boxes_of(record.annotations[0]), tolerance
        )


@settings(max_examples=50, deadline=None)
@given(st.lists(yolo_records(), max_size=4))
def test_written_records_read_back_the_same(
    drawn: list[tuple[ImageSize, Split | None, tuple[Box, ...]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_and_read_back(Path(folder), drawn, TOLERANCE_PX)


# Whole pixels and pixels with a few decimals, as annotation tools write them.
pixel_values = st.integers(-50, 200).map(float) | st.decimals(-50, 200, places=3).map(float)


@settings(max_examples=25, deadline=None)
@given(st.lists(yolo_records(pixel_values), max_size=4))
def test_boxes_with_few_digits_read_back_exactly(
    drawn: list[tuple[ImageSize, Split | None, tuple[Box, ...]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_and_read_back(Path(folder), drawn, 0.0)
