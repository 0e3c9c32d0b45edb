"""Serving: start and stop, detect in Rekognition's DetectCustomLabels shape, and swaps that
never break a detect half-way. FakeModel answers: what is asserted is the registry's part."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from truthloop.core.types import Box, Boxes, Classification, MultiLabel
from truthloop.errors import ImageError, InputError, ModelError, ModelNotRunning
from truthloop.ml import registry, serving
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.ml.versions import VersionStatus, version_row
from truthloop.storage.project import Project

BOXES = shapes(12, task="detection", size=96, seed=3)


@pytest.fixture
def boxes_project(sqlite_project: Project) -> Project:
    store_shapes(sqlite_project, "boxes", BOXES)
    store_shapes(sqlite_project, "test", shapes(4, task="detection", size=96, seed=4))
    registry.train_version(
        sqlite_project,
        "logos",
        dataset="boxes",
        task="detection",
        test_dataset="test",
        model=FakeModel(task=Task.DETECTION),
    )
    return sqlite_project


def _picture(project: Project, n: int = 0) -> Image.Image:
    return Image.open(project.home / "images" / "boxes" / f"{n}.png").convert("RGB")


def _set_status(project: Project, name: str, status: VersionStatus) -> None:
    """What another process (a CLI call, another server) does to the version."""
    with project.session() as session:
        version_row(session, name).status = status.value


def test_detect_answers_in_the_detect_custom_labels_shape(boxes_project: Project) -> None:
    serving.start_version(boxes_project, "logos.v1")
    (answer,) = serving.detect(
        boxes_project, "logos.v1", [_picture(boxes_project, 1)], min_confidence=0
    )
    # The fake model answers a training image with that image's own boxes, at 95 %.
    truth = BOXES.records[1].annotations[0].value
    assert isinstance(truth, Boxes)
    width, height = BOXES.images[BOXES.records[1].uri].size
    expected = sorted(truth.boxes, key=lambda b: b.label)
    got = sorted(answer["CustomLabels"], key=lambda label: label["Name"])
    assert [label["Name"] for label in got] == [b.label for b in expected]
    for label, box in zip(got, expected, strict=True):
        assert set(label) == {"Name", "Confidence", "Geometry"}
        assert label["Confidence"] == pytest.approx(95.0)
        assert label["Geometry"]["BoundingBox"] == pytest.approx(
            {
                "Width": box.width / width,
                "Height": box.height / height,
                "Left": box.left / width,
                "Top": box.top / height,
            }
        )


def test_boxes_become_ratios_of_the_image_and_labels_sort_high_to_low() -> None:
    value = Boxes(
        (
            Box("acme", 20, 30, 40, 60, 0.6),
            Box("globex", 150, 100, 100, 100, 0.9),  # half outside the 200 x 150 image
        )
    )
    answer = serving.custom_labels(value, (200, 150), {}, min_confidence=0)
    assert answer == {
        "CustomLabels": [
            {
                "Name": "globex",
                "Confidence": pytest.approx(90.0),
                "Geometry": {
                    "BoundingBox": {
                        "Width": 0.25,
                        "Height": pytest.approx(1 / 3),
                        "Left": 0.75,
                        "Top": pytest.approx(2 / 3),
                    }
                },
            },
            {
                "Name": "acme",
                "Confidence": pytest.approx(60.0),
                "Geometry": {"BoundingBox": {"Width": 0.2, "Height": 0.4, "Left": 0.1, "Top": 0.2}},
            },
        ]
    }


def test_min_confidence_and_max_results_follow_rekognition() -> None:
    value = MultiLabel(("a", "b", "c"), (0.9, 0.6, 0.2))
    thresholds = {"a": 0.95, "b": 0.5, "c": 0.1}

    def names(**options: object) -> list[str]:
        answer = serving.custom_labels(value, (10, 10), thresholds, **options)  # type: ignore[arg-type]
        return [label["Name"] for label in answer["CustomLabels"]]

    assert names() == ["b", "c"]  # omitted: each label's own assumed threshold
    assert names(min_confidence=0) == ["a", "b", "c"]  # 0: everything
    assert names(min_confidence=60) == ["a", "b"]  # given: overrides the thresholds
    assert names(min_confidence=0, max_results=2) == ["a", "b"]
    single = serving.custom_labels(Classification("a", None), (10, 10), {}, None)
    assert single == {"CustomLabels": [{"Name": "a", "Confidence": 100.0}]}


def test_detect_uses_the_versions_assumed_thresholds(boxes_project: Project) -> None:
    # Tested on images it knows (answered at 95 %, all right), the model's assumed thresholds
    # are 0.95; on images it does not know (answered at 50 %, wrong) they are 1.0.
    seen = shapes(12, task="detection", size=96, seed=3)
    seen.records = seen.records[:4]
    store_shapes(boxes_project, "seen", seen)
    version = registry.train_version(
        boxes_project,
        "logos",
        dataset="boxes",
        task="detection",
        test_dataset="seen",
        model=FakeModel(task=Task.DETECTION),
    )
    serving.start_version(boxes_project, version.name)
    assert list(version.thresholds().values()) == pytest.approx([0.95] * 3)
    assert set(registry.get_version(boxes_project, "logos.v1").thresholds().values()) == {1.0}
    serving.start_version(boxes_project, "logos.v1")
    picture = _picture(boxes_project, 0)
    (everything,) = serving.detect(boxes_project, version.name, [picture], min_confidence=0)
    (default,) = serving.detect(boxes_project, version.name, [picture])
    assert default == everything and default["CustomLabels"]
    (strict,) = serving.detect(boxes_project, "logos.v1", [picture])
    assert strict == {"CustomLabels": []}


def test_bad_detect_options_are_refused(boxes_project: Project) -> None:
    serving.start_version(boxes_project, "logos.v1")
    picture = _picture(boxes_project)
    with pytest.raises(InputError, match="from 0 to 100"):
        serving.detect(boxes_project, "logos.v1", [picture], min_confidence=101)
    with pytest.raises(InputError, match="1 or more"):
        serving.detect(boxes_project, "logos.v1", [picture], max_results=0)


def test_detect_on_a_version_that_is_not_running_says_how_to_start_it(
    boxes_project: Project,
) -> None:
    picture = _picture(boxes_project)
    with pytest.raises(ModelNotRunning, match=r"trained but not started; start it with"):
        serving.detect(boxes_project, "logos.v1", [picture])
    assert serving.start_version(boxes_project, "logos.v1").status is VersionStatus.RUNNING
    assert serving.detect(boxes_project, "logos.v1", [picture])
    stopped = serving.stop_version(boxes_project, "logos.v1")
    assert stopped.status is VersionStatus.STOPPED
    with pytest.raises(ModelNotRunning, match=r"is stopped; start it with `truthloop model start"):
        serving.detect(boxes_project, "logos.v1", [picture])


def test_the_persisted_status_rules_across_processes(boxes_project: Project) -> None:
    picture = _picture(boxes_project)
    # Started elsewhere: loaded here on first use.
    _set_status(boxes_project, "logos.v1", VersionStatus.RUNNING)
    assert serving.detect(boxes_project, "logos.v1", [picture])
    # Stopped elsewhere: refused here although this process still holds the model.
    _set_status(boxes_project, "logos.v1", VersionStatus.STOPPED)
    with pytest.raises(ModelNotRunning, match="stopped"):
        serving.detect(boxes_project, "logos.v1", [picture])
    assert (
        serving.served_model(boxes_project, registry.get_version(boxes_project, "logos.v1")) is None
    )


def test_a_failed_version_cannot_start(boxes_project: Project) -> None:
    _set_status(boxes_project, "logos.v1", VersionStatus.TRAINING_FAILED)
    with pytest.raises(ModelError, match="cannot be started: its training failed"):
        serving.start_version(boxes_project, "logos.v1")


def test_detect_never_fails_half_way_while_versions_start_and_stop(
    boxes_project: Project,
) -> None:
    registry.train_version(
        boxes_project,
        "logos",
        dataset="boxes",
        task="detection",
        test_dataset="test",
        model=FakeModel(task=Task.DETECTION),
    )
    serving.start_version(boxes_project, "logos.v1")
    picture = _picture(boxes_project)
    unexpected: list[BaseException] = []
    answered = refused = 0
    done = threading.Event()

    def call() -> None:
        nonlocal answered, refused
        while not done.is_set():
            for name in ("logos.v1", "logos.v2"):
                try:
                    (answer,) = serving.detect(boxes_project, name, [picture], min_confidence=0)
                    assert answer["CustomLabels"]
                    answered += 1
                except ModelNotRunning:
                    refused += 1
                except BaseException as error:  # anything else is a half-way failure
                    unexpected.append(error)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for t in callers:
        t.start()
    try:
        # Blue/green swaps back and forth, as a deployment does.
        for _ in range(10):
            serving.start_version(boxes_project, "logos.v2")
            serving.stop_version(boxes_project, "logos.v1")
            serving.start_version(boxes_project, "logos.v1")
            serving.stop_version(boxes_project, "logos.v2")
    finally:
        done.set()
        for t in callers:
            t.join()
    assert unexpected == []
    assert answered > 0 and refused > 0


def _png(size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a not really", "not an image|cannot"),
        (_png()[:60], "cannot decode|truncated|broken"),
        (_png((300, 300)), "pixels"),
        (b"x" * 2000, "bytes, more than the limit"),
    ],
    ids=["empty", "not-an-image", "truncated", "too-many-pixels", "too-big"],
)
def test_bad_images_are_refused_with_where_they_came_from(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message) as raised:
        serving.decode_image(data, where="upload.png", max_bytes=1500, max_pixels=50_000)
    assert str(raised.value).startswith("upload.png: ")


def test_a_good_image_decodes_to_rgb() -> None:
    image = serving.decode_image(_png(), where="x", max_bytes=10_000, max_pixels=10_000)
    assert (image.mode, image.size) == ("RGB", (32, 24))
