from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.helpers import (
    LABELS,
    NAMES,
    box_values,
    confidences,
    datetimes,
    extras,
    sizes,
    texts,
    write_lines,
)
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    LabelSet,
    MultiLabel,
    Source,
    Verification,
)
from truthloop.errors import ExportError, FormatError, InputError
from truthloop.formats import open_reader, write

# FORMATS.md §3.1: one pair per image-level label; here the doc's line plus a second label.
SUNRISE = '{"source-ref":"s3://bucket/images/sunrise.png","lbl_sunrise":1,"lbl_sunrise-metadata":{"confidence":1,"job-name":"labeling-job/x","class-name":"Sunrise","human-annotated":"yes","creation-date":"2020-03-06T17:46:39.176","type":"groundtruth/image-classification"}}'
TWO_LABELS = (
    SUNRISE.removesuffix("}")
    + ',"lbl_beach":1,"lbl_beach-metadata":{"confidence":1,"class-name":"Beach","human-annotated":"no","creation-date":"2020-03-06T17:46:39.176","type":"groundtruth/image-classification"}}'  # noqa: E501
)
ECHO = '{"source-ref":"s3://bucket/images/echo.jpg","bounding-box":{"image_size":[{"width":640,"height":480,"depth":3}],"annotations":[{"class_id":1,"top":251,"left":399,"width":155,"height":101},{"class_id":0,"top":65,"left":86,"width":220,"height":334}]},"bounding-box-metadata":{"objects":[{"confidence":1},{"confidence":1}],"class-map":{"0":"Echo","1":"Echo Dot"},"type":"groundtruth/object-detection","human-annotated":"yes","creation-date":"2018-10-18T22:18:13.527256","job-name":"my job"}}'  # noqa: E501
WHEN = datetime(2020, 3, 6, 17, 46, 39, 176000)


def read(path: Path, **options) -> list[ImageRecord]:
    return list(open_reader("rekognition", path, **options))


def test_image_level_labels_are_one_pair_each(tmp_path: Path) -> None:
    reader = open_reader("rekognition", write_lines(tmp_path / "m", TWO_LABELS))
    (record,) = reader
    assert record.annotations == (
        Annotation(
            Classification("Sunrise", 1.0),
            attribute="lbl_sunrise",
            job_name="labeling-job/x",
            created_at=WHEN,
        ),
        Annotation(
            Classification("Beach", 1.0), Source.MODEL, attribute="lbl_beach", created_at=WHEN
        ),
    )
    # Rekognition ignores the value (both are 1 here), so the second label gets a free id.
    assert reader.label_set == LabelSet({"Sunrise": 1, "Beach": 2})


def test_object_localization_is_the_ground_truth_box_format(tmp_path: Path) -> None:
    (record,) = read(write_lines(tmp_path / "m", ECHO))
    assert record.annotations[0].value == Boxes(
        (Box("Echo Dot", 399, 251, 155, 101, 1.0), Box("Echo", 86, 65, 220, 334, 1.0))
    )


@pytest.mark.parametrize("line", [SUNRISE, TWO_LABELS, ECHO])
def test_examples_are_written_back_as_they_were(tmp_path: Path, line: str) -> None:
    records = read(write_lines(tmp_path / "in", line))
    label_set = LabelSet({"Sunrise": 1, "Beach": 1, "Echo": 0, "Echo Dot": 1})
    write("rekognition", records, tmp_path / "out", label_set=label_set)
    # Dates are written with microseconds, as Ground Truth writes them; the time is the same.
    expected = line.replace("39.176", "39.176000")
    assert json.loads((tmp_path / "out").read_text()) == json.loads(expected)


def without(line: str, attribute: str, key: str) -> str:
    obj = json.loads(line)
    del obj[f"{attribute}-metadata"][key]
    return json.dumps(obj)


@pytest.mark.parametrize("key", ["confidence", "class-name", "human-annotated", "creation-date"])
def test_required_metadata_keys(tmp_path: Path, key: str) -> None:
    path = write_lines(tmp_path / "m", SUNRISE, without(SUNRISE, "lbl_sunrise", key))
    with pytest.raises(FormatError, match=f"lacks {key}, which Rekognition requires") as caught:
        read(path)
    assert caught.value.line == 2


def test_other_task_types_are_refused_and_skipped_on_request(tmp_path: Path) -> None:
    multilabel = '{"source-ref":"s3://b/a.jpg","t":[0],"t-metadata":{"class-map":{"0":"x"},"type":"groundtruth/image-classification-multilabel"}}'
    path = write_lines(tmp_path / "m", multilabel, SUNRISE)
    errors: list[InputError] = []
    records = read(path, on_error=errors.append)
    assert len(records) == 1
    assert [(e.line, "not a Rekognition dataset type" in str(e)) for e in errors] == [(1, True)]


def test_multilabel_is_written_as_one_pair_per_label(tmp_path: Path) -> None:
    record = ImageRecord(
        "s3://b/a.jpg",
        annotations=(
            Annotation(MultiLabel(("dog", "bone"), (0.5, None)), attribute="tags", created_at=WHEN),
        ),
    )
    write("rekognition", [record], tmp_path / "out", label_set=LABELS)
    (back,) = read(tmp_path / "out")
    assert [(a.attribute, a.value) for a in back.annotations] == [
        ("tags-0", Classification("dog", 0.5)),
        ("tags-5", Classification("bone", 1.0)),
    ]


def test_missing_confidence_and_date_are_filled_because_required(tmp_path: Path) -> None:
    record = ImageRecord("s3://b/a.jpg", annotations=(Annotation(Classification("dog")),))
    before = datetime.now(UTC).replace(tzinfo=None)
    write("rekognition", [record], tmp_path / "out", label_set=LABELS)
    (annotation,) = read(tmp_path / "out")[0].annotations
    assert annotation.value == Classification("dog", 1.0)
    assert annotation.created_at is not None and annotation.created_at >= before


def test_verification_cannot_be_written(tmp_path: Path) -> None:
    record = ImageRecord("s3://b/a.jpg", annotations=(Annotation(Verification("bad", 1)),))
    with pytest.raises(ExportError, match="do not fit a Rekognition manifest"):
        write("rekognition", [record], tmp_path / "out", label_set=LABELS)


@st.composite
def rekognition_records(draw: st.DrawFn, n: int) -> ImageRecord:
    labels = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    found = [
        Annotation(
            Classification(label, draw(confidences)),
            draw(st.sampled_from([Source.HUMAN, Source.MODEL])),
            attribute=f"lbl-{k}",
            job_name=draw(st.none() | texts),
            created_at=draw(datetimes),
        )
        for k, label in enumerate(labels)
    ]
    size = None
    if draw(st.booleans()):
        found.append(Annotation(draw(box_values), attribute="bounding-box", created_at=WHEN))
        size = draw(sizes)
    return ImageRecord(f"s3://bucket/{n}.png", size, tuple(found), draw(extras))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 999), max_size=5).flatmap(
        lambda ns: st.tuples(*(rekognition_records(n) for n in ns))
    )
)
def test_written_records_read_back_the_same(records: tuple[ImageRecord, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "rekognition.manifest"
        assert write("rekognition", records, dest, label_set=LABELS) == len(records)
        assert read(dest) == list(records)
