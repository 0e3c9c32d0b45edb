from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.helpers import LABELS, boxes, boxes_of, make_image
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Source,
)
from truthloop.errors import ExportError, FormatError, InputError, UnsafePath
from truthloop.formats import open_reader, write


def coco_doc(**changes: object) -> dict:
    doc = {
        "info": {"description": "two images"},
        "images": [
            {"id": 1, "file_name": "images/a.jpg", "width": 640, "height": 480, "license": 2},
            {"id": 2, "file_name": "images/b.jpg", "width": 320, "height": 200},
        ],
        "annotations": [
            {
                "id": 10,
                "image_id": 1,
                "category_id": 18,
                "bbox": [12.5, 30, 100, 80.25],
                "area": 8025.0,
                "iscrowd": 0,
            },
            {
                "id": 11,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 5, 5],
                "area": 25,
                "iscrowd": 0,
            },
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
    }
    return doc | changes


def save(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_reads_one_record_per_image(tmp_path: Path) -> None:
    reader = open_reader("coco", save(tmp_path / "instances.json", coco_doc()))
    first, second = reader
    real = Path(os.path.realpath(tmp_path))
    assert first == ImageRecord(
        str(real / "images" / "a.jpg"),
        ImageSize(640, 480),
        (Annotation(Boxes((Box("dog", 12.5, 30, 100, 80.25), Box("person", 0, 0, 5, 5)))),),
        {"license": 2},
    )
    # An image without annotations is labeled: it has no objects.
    assert second.annotations == (Annotation(Boxes(())),)
    assert reader.label_set == LabelSet({"person": 1, "dog": 18})


def test_scores_are_confidences_of_a_model(tmp_path: Path) -> None:
    doc = coco_doc()
    for item, score in zip(doc["annotations"], [0.9, 0.25], strict=True):
        item["score"] = score
    first, _ = open_reader("coco", save(tmp_path / "predictions.json", doc))
    assert first.annotations[0].source is Source.MODEL
    assert [b.confidence for b in boxes_of(first.annotations[0])] == [0.9, 0.25]


def bad_annotation(**changes: object) -> dict:
    doc = coco_doc()
    doc["annotations"][0].update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        (bad_annotation(bbox=[0, 0, -4, 5]), "annotation id 10 bbox is -4.0x5.0 pixels"),
            (bad_annotation(bbox=[0, 0, 1e-300, 5]), "bbox is 1e-300x5.0 pixels; a box must"),
        (bad_annotation(bbox=[0, 0, 4]), r"annotation id 10: bbox must be \[x, y, width, height\]"),
        (bad_annotation(bbox=[0, 0, "4", 5]), "annotation id 10 bbox width must be a number"),
        (bad_annotation(category_id=99), "annotation id 10: category_id 99 is not among"),
        (bad_annotation(score=1.5), "annotation id 10 score must be between 0 and 1"),
        (bad_annotation(image_id=7), "annotation id 10: image_id 7 is not an image id"),
        (coco_doc(images=[{"id": 1, "file_name": "../a.jpg"}]), "contains '..'"),
        (coco_doc(images=[{"id": 1, "file_name": "/etc/passwd"}]), "absolute path"),
        (
            coco_doc(images=[{"id": 1, "file_name": "a.jpg", "width": 0, "height": 5}]),
            "image id 1: the size must be positive",
        ),
        (coco_doc(images=[{"id": 1}]), "image id 1.file_name must be a non-empty string"),
        (coco_doc(categories=[{"id": 1}]), r"categories\[0\].name must be"),
        ([1, 2], "the COCO document must be a JSON object"),
        ({"annotations": []}, "images must be a list"),
    ],
)
def test_bad_input_names_the_file_and_the_item(tmp_path: Path, doc: object, why: str) -> None:
    path = save(tmp_path / "coco.json", doc)
    with pytest.raises(InputError, match=why) as caught:
        list(open_reader("coco", path))
    assert caught.value.path == str(path)


def test_not_json(tmp_path: Path) -> None:
    (tmp_path / "coco.json").write_text("{")
    with pytest.raises(FormatError, match="not valid JSON"):
        list(open_reader("coco", tmp_path / "coco.json"))


def test_on_error_skips_the_image_with_a_bad_annotation(tmp_path: Path) -> None:
    errors: list[InputError] = []
    path = save(tmp_path / "coco.json", bad_annotation(bbox=[0, 0, 0, 0]))
    records = list(open_reader("coco", path, on_error=errors.append))
    assert [r.uri.rsplit("/", 1)[-1] for r in records] == ["b.jpg"]
    assert len(errors) == 1


def test_coco_url_on_s3_is_used_when_the_file_is_not_beside_the_json(tmp_path: Path) -> None:
    image = {
        "id": 1,
        "file_name": "a.jpg",
        "coco_url": "s3://bucket/a.jpg",
        "width": 4,
        "height": 4,
    }
    path = save(tmp_path / "coco.json", coco_doc(images=[image], annotations=[]))
    (record,) = open_reader("coco", path)
    assert (record.uri, record.extra) == ("s3://bucket/a.jpg", {})


def test_http_coco_urls_are_kept_but_never_fetched(tmp_path: Path) -> None:
    url = "http://images.cocodataset.org/val2017/a.jpg"
    image = {"id": 1, "file_name": "a.jpg", "coco_url": url, "width": 4, "height": 4}
    path = save(tmp_path / "coco.json", coco_doc(images=[image], annotations=[]))
    (record,) = open_reader("coco", path)
    assert record.uri == os.path.realpath(tmp_path / "a.jpg")
    assert record.extra == {"coco_url": url}


def test_a_file_coco_url_outside_the_roots_is_refused(tmp_path: Path) -> None:
    image = {"id": 1, "file_name": "a.jpg", "coco_url": "file:///etc/passwd"}
    path = save(tmp_path / "coco.json", coco_doc(images=[image], annotations=[]))
    with pytest.raises(UnsafePath, match="outside the allowed roots"):
        list(open_reader("coco", path))


def test_written_file_loads_in_pycocotools(tmp_path: Path) -> None:
    coco_api = pytest.importorskip("pycocotools.coco")
    record = ImageRecord(
        str(make_image(tmp_path / "images" / "a.png", 40, 30)),
        ImageSize(40, 30),
        (Annotation(Boxes((Box("dog", 1, 2, 10, 5, 0.5), Box("cat", 3, 3, 4, 4)))),),
    )
    write("coco", [record], tmp_path / "coco.json", label_set=LABELS)
    api = coco_api.COCO(str(tmp_path / "coco.json"))
    assert api.loadImgs(1)[0]["file_name"] == "images/a.png"
    assert [a["bbox"] for a in api.loadAnns(api.getAnnIds(imgIds=1))] == [
        [1, 2, 10, 5],
        [3, 3, 4, 4],
    ]
    assert {c["name"]: c["id"] for c in api.loadCats(api.getCatIds())} == dict(LABELS.ids)


def test_the_writer_refuses_two_box_sets_unless_one_is_chosen(tmp_path: Path) -> None:
    first = Annotation(Boxes((Box("dog", 0, 0, 1, 1),)), attribute="bb")
    second = Annotation(Boxes((Box("cat", 0, 0, 2, 2),)), attribute="adjusted-bb")
    other = Annotation(Classification("dog"), attribute="species")
    record = ImageRecord("s3://b/a.jpg", ImageSize(5, 5), (first, second, other))
    with pytest.raises(ExportError, match="choose one with label_attribute"):
        write("coco", [record], tmp_path / "coco.json", label_set=LABELS)
    assert not (tmp_path / "coco.json").exists()
    write("coco", [record], tmp_path / "coco.json", label_set=LABELS, label_attribute="adjusted-bb")
    (back,) = open_reader("coco", tmp_path / "coco.json")
    assert back.annotations[0].value == second.value


@st.composite
def coco_records(draw: st.DrawFn, n: int) -> ImageRecord:
    found = tuple(draw(st.lists(boxes(), max_size=4)))
    model = bool(found) and all(b.confidence is not None for b in found)
    extra = draw(st.dictionaries(st.sampled_from(["license", "date_captured"]), st.integers(0, 9)))
    size = ImageSize(draw(st.integers(1, 5000)), draw(st.integers(1, 5000)))
    annotation = Annotation(Boxes(found), Source.MODEL if model else Source.HUMAN)
    return ImageRecord(f"s3://bucket/{n}.jpg", size, (annotation,), extra)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 999), max_size=5).flatmap(
        lambda ns: st.tuples(*(coco_records(n) for n in ns))
    )
)
def test_written_records_read_back_the_same(records: tuple[ImageRecord, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "coco.json"
        assert write("coco", records, dest, label_set=LABELS) == len(records)
        assert list(open_reader("coco", dest)) == list(records)
        assert sorted(os.listdir(folder)) == ["coco.json"]


def test_local_images_under_the_json_folder_are_relative_others_are_file_uris(
    tmp_path: Path,
) -> None:
    inside = make_image(tmp_path / "out" / "images" / "a.png")
    outside = make_image(tmp_path / "elsewhere" / "b.png")
    records = [
        ImageRecord(os.path.realpath(p), ImageSize(8, 6), (Annotation(Boxes(())),))
        for p in (inside, outside)
    ]
    write("coco", records, tmp_path / "out" / "coco.json", label_set=LABELS)
    images = json.loads((tmp_path / "out" / "coco.json").read_text())["images"]
    assert [i["file_name"] for i in images] == ["images/a.png", "b.png"]
    assert images[1]["coco_url"] == Path(os.path.realpath(outside)).as_uri()
    back = open_reader("coco", tmp_path / "out" / "coco.json", allowed_roots=[tmp_path])
    assert list(back) == records
