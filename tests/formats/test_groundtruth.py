from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.helpers import LABELS, manifest_records, write_lines
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    MultiLabel,
    Source,
    Verification,
)
from truthloop.errors import ExportError, FormatError, InputError, UnsafePath
from truthloop.formats import open_reader, write

# The examples of FORMATS.md §1.2, verbatim where the doc gives a whole line.
CLASSIFICATION = '{"source-ref":"s3://b/img.jpg","species":0,"species-metadata":{"class-name":"dog","confidence":0.0,"type":"groundtruth/image-classification","job-name":"identify-animal-species","human-annotated":"yes","creation-date":"2018-10-18T22:18:13.527256"}}'
MULTILABEL = '{"source-ref":"s3://b/img.jpg","tags":[1,0,8],"tags-metadata":{"job-name":"labeling-job/tags","class-map":{"1":"bicycle","0":"person","8":"clothing"},"confidence-map":{"1":0.95,"0":0.77,"8":0.2},"human-annotated":"yes","creation-date":"2020-02-27T21:36:25.000201","type":"groundtruth/image-classification-multilabel"}}'
BOXES = '{"source-ref":"s3://b/img.png","bb":{"image_size":[{"width":500,"height":400,"depth":3}],"annotations":[{"class_id":0,"left":111,"top":134,"width":61,"height":128},{"class_id":5,"left":161,"top":250,"width":30,"height":30}]},"bb-metadata":{"objects":[{"confidence":0.8},{"confidence":0.9}],"class-map":{"0":"dog","5":"bone"},"type":"groundtruth/object-detection","human-annotated":"yes","creation-date":"2018-10-18T22:18:13.527256","job-name":"identify-dogs-and-toys"}}'
# The adjustment and verification examples elide the earlier `bb` pair; it is filled in here.
BB = BOXES.removeprefix('{"source-ref":"s3://b/img.png",').removesuffix("}")
ADJUSTED = (
    '{"source-ref":"s3://b/img.png",'
    + BB
    + ',"adjusted-bb":{"image_size":[{"width":500,"height":400,"depth":3}],"annotations":[{"class_id":0,"left":110,"top":135,"width":61,"height":128}]},"adjusted-bb-metadata":{"objects":[{"confidence":0.8}],"class-map":{"0":"dog"},"type":"groundtruth/object-detection","human-annotated":"yes","creation-date":"2018-11-20T22:18:13.527256","job-name":"adjust-bounding-boxes","adjustment-status":"adjusted"}}'  # noqa: E501
)
VERIFIED = (
    '{"source-ref":"s3://b/img.png",'
    + BB
    + ',"verify-bb":"1","verify-bb-metadata":{"class-name":"bad","confidence":0.93,"type":"groundtruth/label-verification","job-name":"verify-bounding-boxes","human-annotated":"yes","creation-date":"2018-11-20T22:18:13.527256","worker-feedback":[{"comment":"The box on the bird is too wide on the right side."}]}}'  # noqa: E501
)
OCT_18 = datetime(2018, 10, 18, 22, 18, 13, 527256)
NOV_20 = datetime(2018, 11, 20, 22, 18, 13, 527256)


def read(path: Path, **options) -> list[ImageRecord]:
    return list(open_reader("groundtruth", path, **options))


def test_classification_example(tmp_path: Path) -> None:
    reader = open_reader("groundtruth", write_lines(tmp_path / "m", CLASSIFICATION))
    assert list(reader) == [
        ImageRecord(
            "s3://b/img.jpg",
            annotations=(
                Annotation(
                    Classification("dog", 0.0),
                    Source.HUMAN,
                    attribute="species",
                    job_name="identify-animal-species",
                    created_at=OCT_18,
                ),
            ),
        )
    ]
    assert reader.label_set == LabelSet({"dog": 0})


def test_multilabel_example(tmp_path: Path) -> None:
    reader = open_reader("groundtruth", write_lines(tmp_path / "m", MULTILABEL))
    (record,) = reader
    (annotation,) = record.annotations
    assert annotation.value == MultiLabel(("bicycle", "person", "clothing"), (0.95, 0.77, 0.2))
    assert (annotation.job_name, annotation.created_at) == (
        "labeling-job/tags",
        datetime(2020, 2, 27, 21, 36, 25, 201),
    )
    assert reader.label_set == LabelSet({"bicycle": 1, "person": 0, "clothing": 8})


def test_bounding_box_example(tmp_path: Path) -> None:
    reader = open_reader("groundtruth", write_lines(tmp_path / "m", BOXES))
    (record,) = reader
    assert record.size == ImageSize(500, 400, 3)
    assert record.annotations[0].value == Boxes(
        (Box("dog", 111, 134, 61, 128, 0.8), Box("bone", 161, 250, 30, 30, 0.9))
    )
    assert record.annotations[0].attribute == "bb"
    assert reader.label_set == LabelSet({"dog": 0, "bone": 5})


def test_adjustment_example(tmp_path: Path) -> None:
    (record,) = read(write_lines(tmp_path / "m", ADJUSTED))
    original, adjusted = record.annotations
    assert isinstance(original.value, Boxes) and original.value.adjusted is None
    assert adjusted == Annotation(
        Boxes((Box("dog", 110, 135, 61, 128, 0.8),), adjusted=True),
        attribute="adjusted-bb",
        job_name="adjust-bounding-boxes",
        created_at=NOV_20,
    )


def test_verification_example(tmp_path: Path) -> None:
    (record,) = read(write_lines(tmp_path / "m", VERIFIED))
    assert record.annotations[1].value == Verification(
        "bad", 1, 0.93, ("The box on the bird is too wide on the right side.",)
    )


@pytest.mark.parametrize("line", [CLASSIFICATION, MULTILABEL, BOXES, ADJUSTED, VERIFIED])
def test_examples_are_written_back_as_they_were(tmp_path: Path, line: str) -> None:
    reader = open_reader("groundtruth", write_lines(tmp_path / "in", line))
    records = list(reader)
    write("groundtruth", records, tmp_path / "out", label_set=reader.label_set)
    assert json.loads((tmp_path / "out").read_text()) == json.loads(line)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 10**6), max_size=6).flatmap(
        lambda ns: st.tuples(*(manifest_records(n) for n in ns))
    )
)
def test_written_records_read_back_the_same(records: tuple[ImageRecord, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "output.manifest"
        assert write("groundtruth", records, dest, label_set=LABELS) == len(records)
        assert read(dest) == list(records)


def test_unknown_pairs_and_other_keys_pass_through_in_extra(tmp_path: Path) -> None:
    custom = {"type": "groundtruth/custom", "job-name": "j"}
    line = {"source-ref": "s3://b/a.jpg", "app-id": 7, "seg": {"x": 1}, "seg-metadata": custom}
    (record,) = read(write_lines(tmp_path / "m", json.dumps(line)))
    assert record.annotations == ()
    assert record.extra == {"app-id": 7, "seg": {"x": 1}, "seg-metadata": custom}
    write("groundtruth", [record], tmp_path / "out", label_set=LABELS)
    assert json.loads((tmp_path / "out").read_text()) == line


def test_metadata_keys_not_modeled_survive(tmp_path: Path) -> None:
    line = json.loads(CLASSIFICATION)
    line["species-metadata"]["worker-count"] = 3
    (record,) = read(write_lines(tmp_path / "m", json.dumps(line)))
    assert record.annotations[0].metadata == {"worker-count": 3}


def test_human_annotated_no_is_a_model_label(tmp_path: Path) -> None:
    line = CLASSIFICATION.replace('"human-annotated":"yes"', '"human-annotated":"no"')
    (record,) = read(write_lines(tmp_path / "m", line))
    assert record.annotations[0].source is Source.MODEL


def test_label_attribute_parses_only_that_pair(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m", VERIFIED, '{"source-ref":"s3://b/unlabeled.png"}')
    first, unlabeled = read(path, label_attribute="verify-bb")
    assert [a.attribute for a in first.annotations] == ["verify-bb"]
    assert set(first.extra) == {"bb", "bb-metadata"}
    assert first.size is None
    assert unlabeled == ImageRecord("s3://b/unlabeled.png")


def test_label_attribute_without_its_metadata_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m", '{"source-ref":"s3://b/a.png","x":1}')
    with pytest.raises(FormatError, match="has 'x' but no 'x-metadata'"):
        read(path, label_attribute="x")


def test_a_label_attribute_of_a_type_not_modeled_is_an_error(tmp_path: Path) -> None:
    line = '{"source-ref":"s3://b/a.png","x":1,"x-metadata":{"type":"groundtruth/custom"}}'
    with pytest.raises(FormatError, match=r"x-metadata\.type must be one of"):
        read(write_lines(tmp_path / "m", line), label_attribute="x")


def box_line(**changes: object) -> str:
    line = json.loads(BOXES)
    line["bb"]["annotations"][0].update(changes)
    return json.dumps(line)


def with_meta(line: str, attribute: str, **changes: object) -> str:
    obj = json.loads(line)
    obj[f"{attribute}-metadata"].update(changes)
    return json.dumps(obj)


BAD_LINES = [
    ("{not json", "not valid JSON"),
    ('{"species": 0}', "no 'source-ref'"),
    ('{"source": "some text"}', "inline text"),
    ('{"source-ref": 5}', "source-ref must be a non-empty string"),
    (box_line(width=-3), r"annotations\[0\] is -3.0x\d+.0 pixels; a box must be at least 1"),
    (box_line(height=0), r"annotations\[0\] is \d+.0x0.0 pixels; a box must be at least 1"),
    (box_line(width=1e-300), r"annotations\[0\] is 1e-300x\d+.0 pixels; a box must be"),
    (box_line(left="12"), r"bb\.annotations\[0\] left must be a number, not '12'"),
    (box_line(class_id="a"), r"bb\.annotations\[0\]\.class_id must be an integer"),
    (box_line(class_id=3), r"bb\.annotations\[0\]: class id 3 is missing from class-map"),
    (with_meta(BOXES, "bb", objects=[{"confidence": 0.5}]), "objects has 1 entries for 2"),
    (
        with_meta(BOXES, "bb", objects=[{}, {"confidence": 2}]),
        r"bb-metadata\.objects\[1\]\.confidence must be between 0 and 1",
    ),
    (with_meta(BOXES, "bb", objects=[[], {}]), r"bb-metadata\.objects\[0\] must be a JSON object"),
    (with_meta(BOXES, "bb", **{"adjustment-status": "maybe"}), "adjustment-status must be"),
    (with_meta(CLASSIFICATION, "species", confidence=-0.1), "between 0 and 1"),
    (with_meta(CLASSIFICATION, "species", confidence="nan"), "must be a number"),
    (CLASSIFICATION.replace('"confidence":0.0', '"confidence":NaN'), "not valid JSON"),
    (with_meta(CLASSIFICATION, "species", **{"class-name": None}), "class-name must be"),
    (with_meta(CLASSIFICATION, "species", **{"human-annotated": "y"}), "'yes' or 'no'"),
    (with_meta(CLASSIFICATION, "species", **{"creation-date": "yesterday"}), "not an ISO date"),
    (CLASSIFICATION.replace('"species":0', '"species":"zero"'), "species must be an integer"),
    (with_meta(MULTILABEL, "tags", **{"class-map": {"1": "bicycle"}}), "class id 0 is missing"),
    (with_meta(MULTILABEL, "tags", **{"confidence-map": {"1": 1.5}}), "between 0 and 1"),
    (with_meta(VERIFIED, "verify-bb", **{"worker-feedback": [{}]}), "comment must be"),
]


@pytest.mark.parametrize(("line", "why"), BAD_LINES)
def test_a_bad_line_is_reported_with_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    path = write_lines(tmp_path / "m", CLASSIFICATION, line)
    with pytest.raises(FormatError, match=why) as caught:
        read(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2)


def test_on_error_skips_bad_lines_and_keeps_their_classes_out(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m", *(line for line, _ in BAD_LINES), CLASSIFICATION)
    errors: list[InputError] = []
    reader = open_reader("groundtruth", path, on_error=errors.append)
    records = list(reader)
    assert [r.annotations[0].value for r in records] == [Classification("dog", 0.0)]
    assert [e.line for e in errors] == list(range(1, len(BAD_LINES) + 1))
    assert reader.label_set == LabelSet({"dog": 0})


def test_local_refs_resolve_inside_the_manifest_folder(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    path = write_lines(
        tmp_path / "m",
        '{"source-ref": "images/a.jpg"}',
        json.dumps({"source-ref": (tmp_path / "images" / "b.jpg").as_uri()}),
    )
    real = Path(os.path.realpath(tmp_path))
    assert [r.uri for r in read(path)] == [
        str(real / "images" / "a.jpg"),
        str(real / "images" / "b.jpg"),
    ]


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("../outside.jpg", "outside the allowed roots"),
        ("/etc/passwd", "outside the allowed roots"),
        ("link.jpg", "outside the allowed roots"),
        ("http://example.com/a.jpg", "scheme http: is not allowed"),
        ("javascript:alert(1)", "scheme javascript: is not allowed"),
    ],
)
def test_unsafe_refs_are_refused_with_their_line(tmp_path: Path, ref: str, why: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "outside.jpg").write_bytes(b"x")
    (data / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    path = write_lines(data / "m", '{"source-ref": "ok.jpg"}', json.dumps({"source-ref": ref}))
    with pytest.raises(UnsafePath, match=why) as caught:
        read(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2)


def test_an_allowed_root_admits_refs_outside_the_manifest_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = write_lines(data / "m", '{"source-ref": "../images/a.jpg"}')
    (record,) = read(path, allowed_roots=[data, tmp_path / "images"])
    assert record.uri == os.path.realpath(tmp_path / "images" / "a.jpg")


def test_writer_refuses_labels_outside_the_label_set_and_keeps_the_old_file(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "out.manifest"
    dest.write_text("old\n")
    good = ImageRecord("s3://b/a.jpg", annotations=(Annotation(Classification("dog")),))
    bad = ImageRecord("s3://b/b.jpg", annotations=(Annotation(Classification("wolf")),))
    with pytest.raises(ExportError, match=r"s3://b/b\.jpg: label 'wolf' is not in the label set"):
        write("groundtruth", [good, bad], dest, label_set=LABELS)
    assert dest.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.manifest"]


def test_writer_defaults_the_attribute_and_job_name(tmp_path: Path) -> None:
    record = ImageRecord("s3://b/a.jpg", annotations=(Annotation(Classification("cat", 0.5)),))
    write("groundtruth", [record], tmp_path / "a", label_set=LABELS, job_name="job-1")
    write("groundtruth", [record], tmp_path / "b", label_set=LABELS, label_attribute="species")
    a, b = (json.loads((tmp_path / name).read_text()) for name in "ab")
    assert (a["label"], a["label-metadata"]["job-name"]) == (1, "job-1")
    assert a["label-metadata"]["human-annotated"] == "yes"
    assert b["species-metadata"] == {
        "class-name": "cat",
        "confidence": 0.5,
        "type": "groundtruth/image-classification",
        "human-annotated": "yes",
    }


@pytest.mark.parametrize(
    ("records", "why"),
    [
        (
            [ImageRecord("s3://b/a.jpg", annotations=(Annotation(Boxes(())),))],
            "boxes need the image size",
        ),
        (
            [
                ImageRecord(
                    "s3://b/a.jpg",
                    annotations=(Annotation(Classification("dog"), attribute="x-metadata"),),
                )
            ],
            "cannot be a label attribute name",
        ),
        (
            [ImageRecord("s3://b/a.jpg", annotations=(Annotation(Classification("dog")),) * 2)],
            "two annotations under the attribute 'label'",
        ),
    ],
)
def test_writer_refuses_records_it_cannot_write(
    tmp_path: Path, records: list[ImageRecord], why: str
) -> None:
    with pytest.raises(ExportError, match=why):
        write("groundtruth", records, tmp_path / "out", label_set=LABELS)


def test_aware_creation_dates_are_written_as_naive_utc(tmp_path: Path) -> None:
    when = datetime.fromisoformat("2020-03-06T19:46:39.176+02:00")
    record = ImageRecord(
        "s3://b/a.jpg", annotations=(Annotation(Classification("dog"), created_at=when),)
    )
    write("groundtruth", [record], tmp_path / "out", label_set=LABELS)
    meta = json.loads((tmp_path / "out").read_text())["label-metadata"]
    assert meta["creation-date"] == "2020-03-06T17:46:39.176000"


def test_boxes_read_the_same_however_their_numbers_are_spelled(tmp_path: Path) -> None:
    # Well-formed boxes take a fast path (gt_annotations._plain_box); the others the checks.
    plain = box_line(class_id=0, left=111, top=134.5, width=61, height=128)
    spelled = with_meta(
        box_line(class_id="0", left=111.0, top=134.5, width=61.0, height=128),
        "bb",
        objects=[{"confidence": 1}, {"confidence": 0.9}],
    )
    fast, slow = read(write_lines(tmp_path / "m", with_meta(plain, "bb", objects=[
        {"confidence": 1.0}, {"confidence": 0.9}]), spelled))
    assert fast == slow
    value = fast.annotations[0].value
    assert isinstance(value, Boxes)
    assert value.boxes[0] == Box("dog", 111.0, 134.5, 61.0, 128.0, 1.0)


def test_a_plain_line_still_has_its_resolved_uri_checked(tmp_path: Path) -> None:
    # A line of printable ASCII skips the text check of its strings, never of the URI, which
    # takes the manifest's folder.
    folder = tmp_path / "im\x01ages"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"")
    path = write_lines(folder / "m", '{"source-ref": "a.jpg"}')
    with pytest.raises(FormatError, match=r"image URI .* U\+0001") as caught:
        read(path)
    assert f"{path}:1" in str(caught.value)


@pytest.mark.parametrize(
    "line",
    [
        '{"source-ref": "s3://b/a.jpg", "note": "a\\u0000b"}',
        '{"source-ref": "s3://b/a\\u202ejpg"}',
        CLASSIFICATION.replace('"class-name":"dog"', '"class-name":"d\u202eog"'),
    ],
)
def test_escaped_or_non_ascii_text_is_still_checked(tmp_path: Path, line: str) -> None:
    path = write_lines(tmp_path / "m", CLASSIFICATION, line)
    with pytest.raises(FormatError, match="not allowed") as caught:
        read(path)
    assert f"{path}:2" in str(caught.value)
