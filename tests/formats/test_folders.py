from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.helpers import LABELS, NAMES, make_image
from truthloop.core.types import Annotation, Classification, ImageRecord, ImageSize, LabelSet
from truthloop.errors import ExportError, ImageError, InputError, UnsafePath
from truthloop.formats import open_reader, write


def test_the_first_folder_level_is_the_label(tmp_path: Path) -> None:
    make_image(tmp_path / "sunrise" / "a.png", 5, 4)
    make_image(tmp_path / "sunrise" / "2020" / "june" / "b.jpg", fmt="JPEG")
    make_image(tmp_path / "beach" / "c.png")
    make_image(tmp_path / "root.png")
    make_image(tmp_path / ".thumbnails" / "d.png")
    (tmp_path / "beach" / "notes.txt").write_text("not an image")
    reader = open_reader("folders", tmp_path)
    real = Path(os.path.realpath(tmp_path))
    assert [(r.uri, r.labels()) for r in reader] == [
        (str(real / "root.png"), set()),
        (str(real / "beach" / "c.png"), {"beach"}),
        (str(real / "sunrise" / "a.png"), {"sunrise"}),
        (str(real / "sunrise" / "2020" / "june" / "b.jpg"), {"sunrise"}),
    ]
    assert reader.label_set == LabelSet({"beach": 0, "sunrise": 1})


def test_sizes_come_from_image_headers(tmp_path: Path) -> None:
    make_image(tmp_path / "dog" / "a.png", 5, 4)
    (record,) = open_reader("folders", tmp_path)
    assert record.size == ImageSize(5, 4, 3)
    assert record.annotations == (Annotation(Classification("dog")),)


def test_bad_images_are_reported_and_skipped_on_request(tmp_path: Path) -> None:
    make_image(tmp_path / "dog" / "a.png")
    (tmp_path / "dog" / "b.png").write_bytes(b"")
    (tmp_path / "dog" / "c.png").symlink_to(make_image(tmp_path.parent / f"{tmp_path.name}.png"))
    with pytest.raises(ImageError, match="empty") as caught:
        list(open_reader("folders", tmp_path))
    assert caught.value.path == str(tmp_path / "dog" / "b.png")
    errors: list[InputError] = []
    records = list(open_reader("folders", tmp_path, on_error=errors.append))
    assert [Path(r.uri).name for r in records] == ["a.png"]
    assert [type(e) for e in errors] == [ImageError, UnsafePath]


def test_labels_that_cannot_be_folder_names_are_refused(tmp_path: Path) -> None:
    image = make_image(tmp_path / "a.png")
    for label in ("..", "a/b", ".hidden"):
        record = ImageRecord(str(image), annotations=(Annotation(Classification(label)),))
        with pytest.raises(ExportError, match="cannot be a folder name"):
            write("folders", [record], tmp_path / "out", label_set=LabelSet.from_names([label]))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.none() | st.sampled_from(NAMES), max_size=5))
def test_written_folders_read_back_the_same_labels(labels: list[str | None]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        records = [
            ImageRecord(
                str(make_image(root / "src" / f"{n}.png", 3, 2)),
                ImageSize(3, 2),
                () if label is None else (Annotation(Classification(label)),),
            )
            for n, label in enumerate(labels)
        ]
        assert write("folders", records, root / "out", label_set=LABELS) == len(records)
        back = {Path(r.uri).name: r for r in open_reader("folders", root / "out")}
        assert {Path(r.uri).name: r.labels() for r in records} == {
            name: r.labels() for name, r in back.items()
        }
        assert all(r.size == ImageSize(3, 2) for r in back.values())
