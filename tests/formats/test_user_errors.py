"""Every mistake a user can make with a format is an error of the tree (truthloop.errors), so the
CLI and the API end it with a message; an export names the item and writes nothing (issue 16,
item 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.formats.helpers import LABELS, make_image
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Verification,
)
from truthloop.errors import (
    ExportError,
    InvalidAttribute,
    NotWritable,
    TruthloopError,
    UnknownFormat,
)
from truthloop.formats import open_reader, write
from truthloop.formats.coco import write_coco
from truthloop.formats.folders import write_folders
from truthloop.formats.groundtruth import write_groundtruth
from truthloop.formats.gt_annotations import check_attribute
from truthloop.formats.rekognition import write_rekognition
from truthloop.formats.voc import write_voc

SIZE = ImageSize(8, 6)
DOG_BOX = Boxes((Box("dog", 1, 1, 2, 2),))
# A label a label set may hold but no folder may be named.
HIDDEN = LabelSet({**dict(LABELS.ids), ".hidden": 9})


def test_an_unknown_format_name_is_refused_by_name(tmp_path: Path) -> None:
    source = tmp_path / "m.manifest"
    source.write_text("")
    with pytest.raises(UnknownFormat, match="unknown format 'csv'; readable formats: folders"):
        open_reader("csv", source)
    with pytest.raises(UnknownFormat, match="unknown format 'csv'; writable formats: groundtruth"):
        write("csv", [], tmp_path / "out", label_set=LABELS)


def test_a_label_attribute_ground_truth_refuses_is_named() -> None:
    for name in ("", "$x", "bb-metadata", "bb-ref", "source", "source-ref"):
        with pytest.raises(InvalidAttribute, match="cannot be a label attribute name"):
            check_attribute(name)
    check_attribute("bb")


def _image(tmp_path: Path) -> str:
    return str(make_image(tmp_path / "src" / "a.png"))


# Each case: a writer, the record it cannot hold, the words that say why, the format's name
# and the options it is written with.
Case = tuple[Callable[..., int], Callable[[Path], ImageRecord], str, str, dict[str, str]]
CASES: list[Case] = [
    (write_coco,
     lambda p: ImageRecord("s3://b/a.jpg", SIZE, (Annotation(DOG_BOX, attribute="bb"),
                                                  Annotation(DOG_BOX, attribute="bb2"))),
     "several annotations could be written", "coco", {}),
    (write_voc,
     lambda p: ImageRecord("s3://b/a.jpg", SIZE, (Annotation(DOG_BOX),)),
     "needs the image files locally", "voc", {}),
    (write_folders,
     lambda p: ImageRecord(_image(p), SIZE, (Annotation(Classification(".hidden")),)),
     "cannot be a folder name", "folders", {}),
    (write_groundtruth,
     lambda p: ImageRecord("s3://b/a.jpg", SIZE, (Annotation(Classification("dog")),
                                                  Annotation(Classification("cat")))),
     "two annotations under the attribute 'label'", "groundtruth", {}),
    (write_groundtruth,
     lambda p: ImageRecord("s3://b/a.jpg", None, (Annotation(DOG_BOX),)),
     "boxes need the image size", "groundtruth", {}),
    (write_groundtruth,
     lambda p: ImageRecord("s3://b/a.jpg", SIZE, (Annotation(Classification("dog")),)),
     "cannot be a label attribute name", "groundtruth", {"label_attribute": "source-ref"}),
    (write_rekognition,
     lambda p: ImageRecord("s3://b/a.jpg", SIZE, (Annotation(Verification("correct", 0)),)),
     "do not fit a Rekognition manifest", "rekognition", {}),
    (write_coco,
     lambda p: ImageRecord("s3://b/a.jpg", None, (Annotation(DOG_BOX),)),
     "COCO needs the image size", "coco", {}),
]


@pytest.mark.parametrize(("writer", "record", "why", "fmt", "options"), CASES)
def test_a_record_the_format_cannot_hold_is_an_error_of_the_tree(
    tmp_path: Path,
    writer: Callable[..., int],
    record: Callable[[Path], ImageRecord],
    why: str,
    fmt: str,
    options: dict[str, str],
) -> None:
    item = record(tmp_path)
    with pytest.raises((NotWritable, InvalidAttribute), match=why) as raised:
        writer([item], tmp_path / "direct", label_set=HIDDEN, **options)
    assert isinstance(raised.value, TruthloopError)
    dest = tmp_path / "out"
    with pytest.raises(ExportError, match=why) as exported:
        write(fmt, [item], dest, label_set=HIDDEN, **options)
    assert exported.value.item == item.uri
    assert not dest.exists()
