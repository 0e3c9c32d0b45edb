from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.helpers import LABELS, boxes, boxes_of, make_image, sizes
from truthloop.core.types import Annotation, Box, Boxes, ImageRecord, ImageSize, LabelSet, Source
from truthloop.errors import ExportError, FormatError, InputError, UnsafePath
from truthloop.formats import open_reader, write

# Pascal VOC 2007's 000005.xml, shortened to two of its objects.
VOC_000005 = """<annotation>
	<folder>VOC2007</folder>
	<filename>000005.jpg</filename>
	<source><database>The VOC2007 Database</database></source>
	<size><width>500</width><height>375</height><depth>3</depth></size>
	<segmented>0</segmented>
	<object>
		<name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
		<bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox>
	</object>
	<object>
		<name>chair</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
		<bndbox><xmin>165</xmin><ymin>264</ymin><xmax>253</xmax><ymax>372</ymax></bndbox>
	</object>
</annotation>
"""


def voc_folder(root: Path, xml: str = VOC_000005, name: str = "000005") -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / f"{name}.xml").write_text(xml)
    make_image(root / "JPEGImages" / f"{name}.jpg", 500, 375, "JPEG")
    return root


def test_reads_the_voc2007_example(tmp_path: Path) -> None:
    reader = open_reader("voc", voc_folder(tmp_path))
    (record,) = reader
    assert record == ImageRecord(
        os.path.realpath(tmp_path / "JPEGImages" / "000005.jpg"),
        ImageSize(500, 375, 3),
        (Annotation(Boxes((Box("chair", 262, 210, 62, 129), Box("chair", 164, 263, 89, 109)))),),
    )
    assert reader.label_set == LabelSet({"chair": 0})


def test_coordinates_are_one_based_inclusive_pixels(tmp_path: Path) -> None:
    xml = VOC_000005.replace(
        "<xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax>",
        "<xmin>1</xmin><ymin>1</ymin><xmax>1</xmax><ymax>2</ymax>",
    )
    (record,) = open_reader("voc", voc_folder(tmp_path, xml))
    # The top-left pixel alone, and the one below it: the box from (0, 0) to (1, 2).
    assert boxes_of(record.annotations[0])[0] == Box("chair", 0, 0, 1, 2)


def test_images_beside_the_xml_and_sizes_from_the_image(tmp_path: Path) -> None:
    xml = (
        "<annotation><filename>a.png</filename><size><width>0</width><height>0</height>"
        "</size></annotation>"
    )
    (tmp_path / "a.xml").write_text(xml)
    make_image(tmp_path / "a.png", 9, 7)
    (record,) = open_reader("voc", tmp_path)
    assert (record.uri, record.size) == (os.path.realpath(tmp_path / "a.png"), ImageSize(9, 7, 3))
    assert record.annotations == (Annotation(Boxes(())),)


def test_scores_are_a_models_confidences(tmp_path: Path) -> None:
    xml = VOC_000005.replace("<name>chair</name>", "<name>chair</name><score>0.75</score>")
    (record,) = open_reader("voc", voc_folder(tmp_path, xml))
    assert record.annotations[0].source is Source.MODEL
    assert {b.confidence for b in boxes_of(record.annotations[0])} == {0.75}


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<annotation><filename>&lol3;</filename></annotation>
"""


@pytest.mark.parametrize(
    ("xml", "why"),
    [
        (BILLION_LAUGHS, "declares a DTD or entities"),
        ('<!ENTITY x SYSTEM "file:///etc/passwd"><annotation/>', "declares a DTD or entities"),
        ("<annotation><filename>a.jpg</filename>\n<object>", "not well-formed XML"),
        ("<annotation/>", "has no <filename>"),
        ("<annotation><filename>../../etc/passwd</filename></annotation>", "contains '..'"),
        ("<annotation><filename>/etc/passwd</filename></annotation>", "absolute path"),
        (VOC_000005.replace("<xmin>263</xmin>", "<xmin>x</xmin>"), "<xmin> must be a number"),
        (VOC_000005.replace("<xmin>263</xmin>", "<xmin>NaN</xmin>"), "must be a finite number"),
        (VOC_000005.replace("<xmax>324</xmax>", "<xmax>100</xmax>"), "at least 1 pixel wide"),
        (VOC_000005.replace("<xmax>324</xmax>", "<xmax>262.5</xmax>"), "is 0.5x"),
        (VOC_000005.replace("<name>chair</name><pose>Rear", "<pose>Rear"), "has no <name>"),
        (
            VOC_000005.replace("<bndbox><xmin>263", "<box><xmin>263").replace(
                "339</ymax></bndbox>", "339</ymax></box>"
            ),
            r"\(chair\) has no <bndbox>",
        ),
        (VOC_000005.replace("<width>500", "<width>-5"), "whole number of pixels"),
        (
            VOC_000005.replace("<name>chair</name>", "<name>chair</name><score>2</score>", 1),
            "between 0 and 1",
        ),
    ],
)
def test_bad_xml_names_the_file(tmp_path: Path, xml: str, why: str) -> None:
    voc_folder(tmp_path, xml)
    with pytest.raises(InputError, match=why) as caught:
        list(open_reader("voc", tmp_path))
    assert caught.value.path == str(tmp_path / "Annotations" / "000005.xml")


def test_parse_errors_carry_the_line(tmp_path: Path) -> None:
    voc_folder(tmp_path, "<annotation>\n<filename>a.jpg</filename>\n<object>\n")
    with pytest.raises(FormatError) as caught:
        list(open_reader("voc", tmp_path))
    assert caught.value.line == 4


def test_utf16_is_refused_as_the_dtd_check_could_not_see_into_it(tmp_path: Path) -> None:
    voc_folder(tmp_path)
    (tmp_path / "Annotations" / "000005.xml").write_text(BILLION_LAUGHS, encoding="utf-16")
    with pytest.raises(FormatError, match="UTF-16/32"):
        list(open_reader("voc", tmp_path))


def test_a_symlinked_xml_leading_out_is_refused(tmp_path: Path) -> None:
    root = voc_folder(tmp_path / "voc")
    (tmp_path / "secret.xml").write_text(VOC_000005)
    (root / "Annotations" / "z.xml").symlink_to(tmp_path / "secret.xml")
    errors: list[InputError] = []
    records = list(open_reader("voc", root, on_error=errors.append))
    assert len(records) == 1
    assert isinstance(errors[0], UnsafePath) and str(errors[0].path).endswith("z.xml")


def test_writes_exact_decimals_for_fractional_boxes(tmp_path: Path) -> None:
    image = make_image(tmp_path / "src" / "a.png")
    box = Box("dog", 0.1, 2.5, 10.2, 1.3)
    record = ImageRecord(str(image), ImageSize(30, 20), (Annotation(Boxes((box,))),))
    write("voc", [record], tmp_path / "voc", label_set=LABELS)
    xml = (tmp_path / "voc" / "Annotations" / "a.xml").read_text()
    assert "<xmin>1.1</xmin>" in xml and "<xmax>10.3</xmax>" in xml and "<ymax>3.8</ymax>" in xml
    (back,) = open_reader("voc", tmp_path / "voc")
    assert boxes_of(back.annotations[0]) == (box,)


def test_images_with_the_same_name_get_distinct_names(tmp_path: Path) -> None:
    sources = [make_image(tmp_path / d / "a.png") for d in ("x", "y")]
    sources.append(make_image(tmp_path / "z" / "a.jpg", fmt="JPEG"))
    records = [ImageRecord(str(p), ImageSize(8, 6), (Annotation(Boxes(())),)) for p in sources]
    write("voc", records, tmp_path / "voc", label_set=LABELS)
    assert sorted(os.listdir(tmp_path / "voc" / "JPEGImages")) == ["a.png", "a_2.png", "a_3.jpg"]
    assert len(list(open_reader("voc", tmp_path / "voc"))) == 3


def test_remote_images_cannot_be_written(tmp_path: Path) -> None:
    record = ImageRecord("s3://b/a.jpg", ImageSize(8, 6), (Annotation(Boxes(())),))
    with pytest.raises(ExportError, match="needs the image files locally"):
        write("voc", [record], tmp_path / "voc", label_set=LABELS)


@st.composite
def voc_records(draw: st.DrawFn) -> tuple[ImageSize, Annotation]:
    found = tuple(draw(st.lists(boxes(), max_size=4)))
    model = bool(found) and all(b.confidence is not None for b in found)
    return draw(sizes), Annotation(Boxes(found), Source.MODEL if model else Source.HUMAN)


@settings(max_examples=50, deadline=None)
@given(st.lists(voc_records(), max_size=4))
def test_written_records_read_back_the_same(drawn: list[tuple[ImageSize, Annotation]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(os.path.realpath(folder))
        records = [
            ImageRecord(str(make_image(root / "src" / f"{n}.png", 2, 2)), size, (annotation,))
            for n, (size, annotation) in enumerate(drawn)
        ]
        assert write("voc", records, root / "voc", label_set=LABELS) == len(records)
        back = list(open_reader("voc", root / "voc"))
        moved = [
            replace(r, uri=str(root / "voc" / "JPEGImages" / Path(r.uri).name)) for r in records
        ]
        assert sorted(back, key=lambda r: r.uri) == sorted(moved, key=lambda r: r.uri)
