from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.formats.helpers import make_image
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
)
from truthloop.datasets.importing import import_dataset
from truthloop.errors import (
    FormatError,
    ImportAborted,
    InputError,
    InvalidAttribute,
    InvalidName,
    UnsafePath,
)
from truthloop.formats import open_reader, write
from truthloop.formats.a2i import (
    A2ICounts,
    A2IReader,
    HumanAnswer,
    flow_arn,
    human_loop_arn,
    output_document,
    output_key,
    timestamp,
)
from truthloop.storage.project import Project

# FORMATS.md §2.5: A2I's custom task output, exactly as S3 holds it.
AWS_OUTPUT: dict[str, Any] = {
    "flowDefinitionArn": "arn:aws:sagemaker:us-west-2:111122223333:flow-definition/fd",
    "humanLoopName": "hl-1",
    "humanAnswers": [
        {
            "answerContent": {
                "annotatedResult": {
                    "boundingBoxes": [
                        {"height": 401, "label": "sofa", "left": 243, "top": 117, "width": 187}
                    ],
                    "inputImageProperties": {"height": 533, "width": 800},
                }
            },
            "acceptanceTime": "2020-12-28T18:59:15.191Z",
            "submissionTime": "2020-12-28T18:59:58.321Z",
            "timeSpentInSeconds": 40.543,
            "workerId": "a12b3cdefg4h5i67",
            "workerMetadata": {
                "identityData": {
                    "identityProviderType": "Cognito",
                    "issuer": "https://cognito-idp.<region>.amazonaws.com/<pool>",
                    "sub": "aaaaaaaa-...",
                }
            },
        }
    ],
    "inputContent": {"taskObject": "s3://b/img.jpg", "initialValue": "sofa"},
}
SUBMITTED = datetime(2020, 12, 28, 18, 59, 58, 321000, tzinfo=UTC)
SOFA = Box("sofa", 243, 117, 187, 401, 1.0)
FLOW = flow_arn("fd")
T0 = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)


def save(folder: Path, doc: dict[str, Any], key: str | None = None) -> Path:
    name = doc.get("humanLoopName", "unnamed")
    path = folder / (key or f"fd/2020/12/28/18/59/15/{name}/output.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def aws(**changes: Any) -> dict[str, Any]:
    """The AWS example, with top-level keys changed (None: removed)."""
    doc = copy.deepcopy(AWS_OUTPUT)
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return doc


def answer(content: dict[str, Any], worker: str = "7", minute: int = 0) -> HumanAnswer:
    accepted = T0 + timedelta(minutes=minute)
    return HumanAnswer(content, worker, accepted, accepted + timedelta(seconds=12.3456))


def loop(name: str, image: str, *answers: HumanAnswer) -> dict[str, Any]:
    return output_document(
        flow_arn=FLOW, loop_name=name, input_content={"taskObject": image}, answers=answers
    )


def boxes(*drawn: tuple[str, int, int, int, int], width: int = 64, height: int = 48) -> dict:
    return {
        "annotatedResult": {
            "boundingBoxes": [
                {"label": label, "left": left, "top": top, "width": w, "height": h}
                for label, left, top, w, h in drawn
            ],
            "inputImageProperties": {"height": height, "width": width},
        }
    }


def a2i_reader(source: Path, **options: Any) -> A2IReader:
    return A2IReader(
        source, allowed_roots=[source if source.is_dir() else source.parent], **options
    )


# --- writing ---------------------------------------------------------------------------------


def test_the_output_key_is_flow_creation_time_in_utc_and_loop() -> None:
    created = datetime(2020, 12, 28, 18, 59, 15, 191000, tzinfo=UTC)
    assert output_key("fd", created, "hl-1") == "fd/2020/12/28/18/59/15/hl-1/output.json"
    in_paris = created.astimezone(timezone(timedelta(hours=1)))
    assert output_key("fd", in_paris, "hl-1") == "fd/2020/12/28/18/59/15/hl-1/output.json"
    naive = datetime(2021, 1, 2, 3, 4, 5)  # taken as UTC, as truthloop's tables keep times
    assert output_key("my-flow", naive, "9f3c") == "my-flow/2021/01/02/03/04/05/9f3c/output.json"


@pytest.mark.parametrize("name", ["", "../x", "a/b", "Upper", "-a", "a-", "a_b", "a" * 64, "é"])
def test_names_that_could_step_out_of_their_folder_are_refused(name: str) -> None:
    with pytest.raises(InvalidName, match="a-z, 0-9"):
        output_key(name, T0, "hl")
    with pytest.raises(InvalidName, match="human loop name"):
        output_key("fd", T0, name)
    with pytest.raises(InvalidName):
        flow_arn(name)


def test_arns_are_arn_shaped() -> None:
    assert flow_arn("fd") == "arn:truthloop:sagemaker:local:000000000000:flow-definition/fd"
    assert human_loop_arn("hl-1") == "arn:truthloop:sagemaker:local:000000000000:human-loop/hl-1"
    utils = pytest.importorskip("botocore.utils")
    parsed = utils.ArnParser().parse_arn(flow_arn("fd"))
    assert parsed == {
        "partition": "truthloop",
        "service": "sagemaker",
        "region": "local",
        "account": "000000000000",
        "resource": "flow-definition/fd",
    }


def test_timestamps_are_utc_milliseconds_with_z() -> None:
    assert timestamp(datetime(2020, 12, 28, 18, 59, 15, 191999, tzinfo=UTC)) == (
        "2020-12-28T18:59:15.191Z"
    )
    assert timestamp(datetime(2020, 12, 28, 19, 59, 15, tzinfo=timezone(timedelta(hours=1)))) == (
        "2020-12-28T18:59:15.000Z"
    )


def test_the_document_has_a2is_custom_task_shape() -> None:
    content = boxes(("sofa", 243, 117, 187, 401), width=800, height=533)
    given = HumanAnswer(
        content,
        "42",
        datetime(2020, 12, 28, 18, 59, 15, 191000, tzinfo=UTC),
        SUBMITTED,
        issuer="https://labels.example.com",
        sub="user-42",
    )
    doc = output_document(
        flow_arn=FLOW,
        loop_name="hl-1",
        input_content={"taskObject": "s3://b/img.jpg", "initialValue": "sofa"},
        answers=[given],
    )
    assert doc == {
        "flowDefinitionArn": "arn:truthloop:sagemaker:local:000000000000:flow-definition/fd",
        "humanAnswers": [
            {
                "acceptanceTime": "2020-12-28T18:59:15.191Z",
                "answerContent": content,
                "submissionTime": "2020-12-28T18:59:58.321Z",
                "timeSpentInSeconds": 43.13,
                "workerId": "42",
                "workerMetadata": {
                    "identityData": {
                        "identityProviderType": "truthloop",
                        "issuer": "https://labels.example.com",
                        "sub": "user-42",
                    }
                },
            }
        ],
        "humanLoopName": "hl-1",
        "inputContent": {"taskObject": "s3://b/img.jpg", "initialValue": "sofa"},
    }
    assert json.loads(json.dumps(doc)) == doc
    # The same keys, at every level, as AWS's own output.
    assert set(doc) == set(AWS_OUTPUT)
    assert set(doc["humanAnswers"][0]) == set(AWS_OUTPUT["humanAnswers"][0])


def test_time_spent_is_given_or_computed_and_the_subject_defaults_to_the_worker() -> None:
    accepted = datetime(2026, 1, 1, tzinfo=UTC)
    written = HumanAnswer({}, "7", accepted, accepted + timedelta(seconds=1.23456)).to_json()
    assert written["timeSpentInSeconds"] == 1.235
    assert written["workerMetadata"]["identityData"] == {
        "identityProviderType": "truthloop",
        "issuer": "truthloop",
        "sub": "7",
    }
    given = HumanAnswer({}, "7", accepted, accepted + timedelta(hours=1), seconds=30.00049)
    assert given.to_json()["timeSpentInSeconds"] == 30.0


def test_activation_results_go_inside_the_input_content() -> None:
    results = {"Conditions": [{"ConditionType": "Sampling", "EvaluationResult": True}]}
    doc = output_document(
        flow_arn=FLOW,
        loop_name="hl-2",
        input_content={"taskObject": "s3://b/x.jpg"},
        answers=[],
        activation_results=results,
    )
    assert doc["inputContent"] == {
        "taskObject": "s3://b/x.jpg",
        "humanTaskActivationConditionResults": results,
    }
    assert doc["humanAnswers"] == []


# --- reading ---------------------------------------------------------------------------------


def test_aws_output_reads_as_the_notebooks_label(tmp_path: Path) -> None:
    path = save(tmp_path, AWS_OUTPUT)
    reader = open_reader("a2i", path)
    (record,) = reader
    assert record == ImageRecord(
        "s3://b/img.jpg",
        ImageSize(800, 533, 3),
        (
            Annotation(
                Boxes((SOFA,)),
                source=Source.HUMAN,
                attribute="a2i-retraining",
                job_name="a2i/hl-1",
                created_at=SUBMITTED,
                worker="a12b3cdefg4h5i67",
                seconds=40.543,
            ),
        ),
    )
    assert reader.label_set == LabelSet({"sofa": 0})
    assert reader.location == str(path)


def test_a_folder_of_loops_with_skipped_answers_is_read_and_counted(tmp_path: Path) -> None:
    def image(name: str) -> str:
        return str(make_image(tmp_path / "images" / name, 64, 48))

    dog = boxes(("dog", 1, 2, 30, 20), ("bone", 40, 30, 10, 10))
    docs = {
        "b-boxes": loop("b-boxes", image("a.png"), answer(dog)),
        "c-class": loop("c-class", image("b.png"), answer({"species": {"label": "cat"}})),
        "d-multi": loop("d-multi", image("c.png"), answer({"tags": {"labels": ["dog", "cat"]}})),
        "e-nota": loop(
            "e-nota", image("d.png"), answer({"species": {"label": "None of the above"}})
        ),
        "f-empty": loop(
            "f-empty",
            image("e.png"),
            answer({}),
            answer({"species": {"label": " "}}, worker="8"),
            answer({"tags": {"labels": []}}, worker="9"),
        ),
        "g-nothing-here": loop("g-nothing-here", image("f.png"), answer(boxes())),
        "a-late-file": loop("a-late-file", image("g.png"), answer({"s": {"label": "bone"}})),
    }
    data = tmp_path / "a2i"
    for n, (name, doc) in enumerate(docs.items()):
        day = 2 if name == "a-late-file" else 1
        save(data, doc, output_key("fd", datetime(2026, 1, day, 0, 0, n), name))
    (data / "fd" / "notes.json").write_text("{}")  # only output.json files are read
    save(data / ".hidden", loop("x", image("h.png"), answer(dog)))

    reader = open_reader("a2i", data, allowed_roots=[tmp_path])
    records = list(reader)
    # Sorted path order: the day-2 loop comes last although its name sorts first.
    assert [Path(r.uri).name for r in records] == ["a.png", "b.png", "c.png", "f.png", "g.png"]
    values = [r.annotations[0].value for r in records]
    assert values == [
        Boxes((Box("dog", 1, 2, 30, 20, 1.0), Box("bone", 40, 30, 10, 10, 1.0))),
        Classification("cat", 1.0),
        MultiLabel(("dog", "cat"), (1.0, 1.0)),
        Boxes(()),  # a box answer without boxes says "nothing here": a label
        Classification("bone", 1.0),
    ]
    assert [r.size for r in records] == [ImageSize(64, 48, 3), None, None, ImageSize(64, 48), None]
    assert {r.annotations[0].job_name for r in records} == {
        "a2i/b-boxes",
        "a2i/c-class",
        "a2i/d-multi",
        "a2i/g-nothing-here",
        "a2i/a-late-file",
    }
    assert reader.label_set == LabelSet({"dog": 0, "bone": 1, "cat": 2})
    counts = reader.reader.counts  # type: ignore[attr-defined]
    assert counts == A2ICounts(
        files=7, answers=9, images=5, none_of_the_above=1, empty=3, superseded=0
    )
    assert counts.skipped == 4
    assert "1 'None of the Above' and 3 empty answers skipped" in counts.summary()


def test_none_of_the_above_is_never_a_class(tmp_path: Path) -> None:
    doc = loop(
        "hl",
        "s3://b/x.jpg",
        answer({"tags": {"labels": ["NONE OF THE ABOVE", "dog"]}}),
        answer({"tags": {"labels": [" none of the above"]}}, minute=-5),
        answer(boxes(("None of the Above", 1, 1, 5, 5)), minute=-6),
    )
    reader = a2i_reader(save(tmp_path, doc))
    (record,) = reader
    assert record.annotations[0].value == MultiLabel(("dog",), (1.0,))
    assert reader.counts.none_of_the_above == 2
    other = a2i_reader(
        save(tmp_path / "b", loop("hl", "s3://b/x.jpg", answer({"s": {"label": "nothing"}}))),
        none_label="Nothing",
    )
    assert list(other) == []
    assert other.counts.none_of_the_above == 1 and other.counts.images == 0


def test_task_count_two_keeps_the_last_answer_as_the_label_and_the_other_beside_it(
    tmp_path: Path,
) -> None:
    first = boxes(("dog", 1, 2, 30, 20))
    second = boxes(("dog", 2, 3, 28, 19), ("bone", 40, 30, 10, 10))
    # The later submission is listed first: order comes from submissionTime.
    doc = loop("hl-2", "s3://b/x.jpg", answer(second, "9", minute=3), answer(first, "8"))
    reader = a2i_reader(save(tmp_path, doc))
    (record,) = reader
    (label,) = record.annotations
    assert label.worker == "9" and label.job_name == "a2i/hl-2"
    assert label.created_at == T0 + timedelta(minutes=3, seconds=12.345)
    assert label.value == Boxes((Box("dog", 2, 3, 28, 19, 1.0), Box("bone", 40, 30, 10, 10, 1.0)))
    assert label.metadata == {
        "a2i-superseded-answers": [
            {
                "job-name": "a2i/hl-2",
                "worker-id": "8",
                "creation-date": "2026-12-01T09:30:17.345Z",
                "answer-content": first,
            }
        ]
    }
    assert reader.counts.superseded == 1 and reader.counts.images == 1


def test_an_image_reviewed_in_two_loops_is_one_record(tmp_path: Path) -> None:
    data = tmp_path / "out"
    later = loop("hl-b", "s3://b/x.jpg", answer({"s": {"label": "cat"}}, minute=60))
    earlier = loop("hl-a", "s3://b/x.jpg", answer({"s": {"label": "dog"}}))
    save(data, later, output_key("fd", T0, "hl-b"))  # read first, submitted later
    save(data, earlier, output_key("fd", T0 + timedelta(seconds=1), "hl-a"))
    skipped = loop("hl-c", "s3://b/x.jpg", answer({"s": {"label": "None of the Above"}}, minute=90))
    save(data, skipped, output_key("fd", T0 + timedelta(seconds=2), "hl-c"))
    reader = a2i_reader(data)
    (record,) = reader
    (label,) = record.annotations
    # A skipped answer never replaces a label.
    assert label.value == Classification("cat", 1.0) and label.job_name == "a2i/hl-b"
    assert [a["job-name"] for a in label.metadata["a2i-superseded-answers"]] == ["a2i/hl-a"]
    assert reader.label_set == LabelSet({"cat": 0})


def test_the_attribute_is_an_option(tmp_path: Path) -> None:
    path = save(tmp_path, AWS_OUTPUT)
    (record,) = open_reader("a2i", path, label_attribute="reviewed")
    assert record.annotations[0].attribute == "reviewed"
    (record,) = a2i_reader(path, attribute="bb")
    assert record.annotations[0].attribute == "bb"
    with pytest.raises(InvalidAttribute):
        A2IReader(path, attribute="bb-metadata")


def test_the_element_read_can_be_named(tmp_path: Path) -> None:
    content = {"usable": {"label": "yes"}, **boxes(("dog", 1, 1, 5, 5))}
    path = save(tmp_path, loop("hl", "s3://b/x.jpg", answer(content)))
    (record,) = a2i_reader(path)  # by default a box element comes before a classifier
    assert isinstance(record.annotations[0].value, Boxes)
    (record,) = a2i_reader(path, element="usable")
    assert record.annotations[0].value == Classification("yes", 1.0)
    with pytest.raises(FormatError, match=r"humanAnswers\[0\].answerContent has no element 'x'"):
        list(a2i_reader(path, element="x"))


def test_initial_value_modified_is_the_adjustment_status(tmp_path: Path) -> None:
    content = boxes(("dog", 1, 1, 5, 5))
    content["annotatedResult"]["initialValueModified"] = True
    (record,) = a2i_reader(save(tmp_path, loop("hl", "s3://b/x.jpg", answer(content))))
    assert record.annotations[0].value == Boxes((Box("dog", 1, 1, 5, 5, 1.0),), adjusted=True)


Change = Callable[[dict[str, Any]], Any]


def _box(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["humanAnswers"][0]["answerContent"]["annotatedResult"]["boundingBoxes"][0]


BOX = "humanAnswers[0].answerContent.annotatedResult.boundingBoxes[0]"
MALFORMED: list[tuple[str, Change, str]] = [
    ("no answers", lambda d: d.pop("humanAnswers"), "humanAnswers must be a list, not None"),
    ("answers not a list", lambda d: d.update(humanAnswers={}), "humanAnswers must be a list"),
    ("no loop name", lambda d: d.pop("humanLoopName"), "humanLoopName must be a non-empty"),
    ("no input", lambda d: d.pop("inputContent"), "inputContent must be a JSON object"),
    ("no task object", lambda d: d["inputContent"].pop("taskObject"), "inputContent.taskObject"),
    ("text width", lambda d: _box(d).update(width="wide"), f"{BOX} width must be a number"),
    ("bool height", lambda d: _box(d).update(height=True), f"{BOX} height must be a number"),
    ("negative width", lambda d: _box(d).update(width=-5), f"{BOX} is -5.0x401.0 pixels"),
    ("no label", lambda d: _box(d).pop("label"), f"{BOX}.label must be a non-empty string"),
    ("NUL label", lambda d: _box(d).update(label="so\x00fa"), f"{BOX}.label 'so\\x00fa' contains"),
    ("bidi label", lambda d: _box(d).update(label="\u202esofa"), "U+202E"),
    (
        "negative image",
        lambda d: d["humanAnswers"][0]["answerContent"]["annotatedResult"][
            "inputImageProperties"
        ].update(width=-800),
        "annotatedResult.inputImageProperties.width must be a positive number",
    ),
    (
        "no image size",
        lambda d: d["humanAnswers"][0]["answerContent"]["annotatedResult"].pop(
            "inputImageProperties"
        ),
        "annotatedResult.inputImageProperties must be a JSON object",
    ),
    (
        "bad time",
        lambda d: d["humanAnswers"][0].update(submissionTime="yesterday"),
        "humanAnswers[0].submissionTime is not an ISO date",
    ),
    (
        "worker with a newline",
        lambda d: d["humanAnswers"][0].update(workerId="a\nb"),
        "humanAnswers[0].workerId",
    ),
    (
        "unknown shape",
        lambda d: d["humanAnswers"][0].update(answerContent={"comment": {"text": "hm"}}),
        "humanAnswers[0].answerContent holds no crowd-bounding-box or classifier output",
    ),
    (
        "label list of numbers",
        lambda d: d["humanAnswers"][0].update(answerContent={"t": {"labels": [1]}}),
        "humanAnswers[0].answerContent.t.labels[0] must be a non-empty string",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_files_are_refused_naming_file_and_field(
    tmp_path: Path, change: Change, message: str
) -> None:
    doc = copy.deepcopy(AWS_OUTPUT)
    change(doc)
    path = save(tmp_path, doc)
    with pytest.raises(FormatError) as raised:
        list(open_reader("a2i", path))
    assert raised.value.path == str(path)
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("task_object", "message"),
    [
        ("../outside.jpg", "outside the allowed roots"),
        ("/etc/passwd", "outside the allowed roots"),
        ("http://example.com/x.jpg", "the scheme http: is not allowed"),
        ("file://evil.example.com/x.jpg", "names another host"),
        ("C:/x.jpg", "drive letter"),
    ],
)
def test_task_objects_with_path_tricks_are_refused(
    tmp_path: Path, task_object: str, message: str
) -> None:
    path = save(tmp_path / "a2i", aws(inputContent={"taskObject": task_object}))
    with pytest.raises(UnsafePath, match=message) as raised:
        list(open_reader("a2i", tmp_path / "a2i"))
    assert raised.value.path == str(path)


def test_files_that_are_not_json_are_refused_and_with_on_error_the_rest_is_read(
    tmp_path: Path,
) -> None:
    data = tmp_path / "a2i"
    bad = data / "fd/2020/12/28/18/59/15/hl-0/output.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"humanLoopName": "hl-0", ')
    nested = save(data, aws(humanLoopName="hl-2", humanAnswers="x"))
    save(data, AWS_OUTPUT)
    with pytest.raises(FormatError, match="not valid JSON") as raised:
        list(open_reader("a2i", data))
    assert raised.value.path == str(bad)
    errors: list[InputError] = []
    reader = open_reader("a2i", data, on_error=errors.append)
    (record,) = reader
    assert record.uri == "s3://b/img.jpg"
    assert [e.path for e in errors] == [str(bad), str(nested)]
    assert reader.reader.counts.files == 1  # type: ignore[attr-defined]
    assert reader.label_set == LabelSet({"sofa": 0})


def test_an_output_file_linked_from_outside_the_roots_is_refused(tmp_path: Path) -> None:
    outside = save(tmp_path / "elsewhere", AWS_OUTPUT)
    data = tmp_path / "a2i" / "fd" / "hl-1"
    data.mkdir(parents=True)
    (data / "output.json").symlink_to(outside)
    with pytest.raises(UnsafePath, match="outside the allowed roots"):
        list(open_reader("a2i", tmp_path / "a2i"))


def test_a_box_answer_becomes_the_notebooks_ground_truth_line(tmp_path: Path) -> None:
    reader = open_reader("a2i", save(tmp_path, AWS_OUTPUT))
    records = list(reader)
    dest = tmp_path / "augmented.manifest"
    assert write("groundtruth", records, dest, label_set=reader.label_set) == 1
    (line,) = [json.loads(x) for x in dest.read_text().splitlines()]
    assert line == {
        "source-ref": "s3://b/img.jpg",
        "a2i-retraining": {
            "image_size": [{"width": 800, "height": 533, "depth": 3}],
            "annotations": [{"class_id": 0, "left": 243, "top": 117, "width": 187, "height": 401}],
        },
        "a2i-retraining-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {"0": "sofa"},
            "type": "groundtruth/object-detection",
            "job-name": "a2i/hl-1",
            "human-annotated": "yes",
            "creation-date": "2020-12-28T18:59:58.321000",
        },
    }
    # The label the Ground Truth reader reads back is the one read from A2I's output.
    (back,) = open_reader("groundtruth", dest)
    assert back.annotations[0].value == Boxes((SOFA,))
    assert back.size == ImageSize(800, 533, 3)


def test_superseded_answers_travel_in_the_ground_truth_metadata(tmp_path: Path) -> None:
    doc = loop(
        "hl",
        "s3://b/x.jpg",
        answer({"s": {"label": "dog"}}, "8"),
        answer({"s": {"label": "cat"}}, "9", minute=1),
    )
    reader = a2i_reader(save(tmp_path, doc))
    dest = tmp_path / "out.manifest"
    write("groundtruth", list(reader), dest, label_set=reader.label_set)
    (line,) = [json.loads(x) for x in dest.read_text().splitlines()]
    assert line["a2i-retraining-metadata"]["class-name"] == "cat"
    superseded = line["a2i-retraining-metadata"]["a2i-superseded-answers"]
    assert [a["answer-content"] for a in superseded] == [{"s": {"label": "dog"}}]
    (back,) = open_reader("groundtruth", dest)
    assert back.annotations[0].metadata == {"a2i-superseded-answers": superseded}


def test_dataset_import_reads_a2i_output(sqlite_project: Project, tmp_path: Path) -> None:
    data = tmp_path / "a2i"
    for n, label in enumerate(["dog", "cat"]):
        image = str(make_image(data / "images" / f"{n}.png", 64, 48))
        content = boxes((label, 1, 2, 30, 20))
        save(data, loop(f"hl-{n}", image, answer(content)), output_key("fd", T0, f"hl-{n}"))
    with pytest.raises(ImportAborted, match=r"'cat'.*not in the label set"):
        import_dataset(sqlite_project, "reviewed", data, fmt="a2i", labels=["dog"])
    report = import_dataset(sqlite_project, "reviewed", data, fmt="a2i")
    assert report.imported == 2 and set(report.labels) == {"dog", "cat"}
