"""The model registry: versions trained from stored datasets, their failures, evaluation,
comparison, batch prediction and export. FakeModel stands in where the net adds nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.ml.conftest import tiny_classifier
from tests.ml.shapes import LABELS, shapes
from tests.ml.stored import store_shapes
from truthloop.core.types import Annotation, Classification, ImageRecord, ImageSize, Split
from truthloop.errors import InputError, InvalidName, ModelError, NotFound, TrainingError
from truthloop.ml import registry
from truthloop.ml.backend import ImageLoader, Task, TrainProgress
from truthloop.ml.fake import FakeModel
from truthloop.ml.heartbeat import STALE_AFTER, Heartbeat, fail_abandoned_trainings
from truthloop.ml.onnx import OnnxModel
from truthloop.ml.training_sets import hold_out, labeled
from truthloop.ml.versions import VersionStatus, add_version, version_row
from truthloop.storage.project import Project
from truthloop.storage.tables import utcnow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str]:
    """A project with a tiny real classifier trained on one set of shapes, tested on another."""
    project = Project.init(tmp_path_factory.mktemp("registry") / "home")
    data = shapes(36, seed=1)
    # Six images marked for calibration, so that training keeps them apart.
    data.records = [
        replace(r, split=Split.VALIDATION) if i < 6 else r for i, r in enumerate(data.records)
    ]
    store_shapes(project, "train", data)
    store_shapes(project, "test", shapes(24, seed=2))
    version = registry.train_version(
        project,
        "shapes",
        dataset="train",
        task="classification",
        test_dataset="test",
        model=tiny_classifier(),
    )
    return project, version.name


def _small_datasets(project: Project) -> Project:
    store_shapes(project, "train", shapes(20, seed=1))
    store_shapes(project, "test", shapes(9, seed=2))
    store_shapes(project, "boxes", shapes(12, task="detection", size=96, seed=3))
    return project


@pytest.fixture
def fake_project(sqlite_project: Project) -> Project:
    return _small_datasets(sqlite_project)


@pytest.fixture
def any_db_project(project: Project) -> Project:
    """The small datasets on SQLite and on PostgreSQL, for what concerns the database."""
    return _small_datasets(project)


def fake(**params: Any) -> FakeModel:
    return FakeModel(**params)


def _artifact_bytes(project: Project, uri: str | None) -> bytes:
    assert uri is not None
    return project.read_bytes(uri)


def test_a_version_is_trained_tested_on_unseen_images_and_recorded(
    trained: tuple[Project, str],
) -> None:
    project, name = trained
    version = registry.get_version(project, name)
    assert (version.name, version.number, version.project) == ("shapes.v1", 1, "shapes")
    assert version.status is VersionStatus.TRAINING_COMPLETED
    assert (version.task, version.backend) == (Task.CLASSIFICATION, "classifier")
    assert (version.training_dataset, version.test_dataset) == ("train", "test")
    assert version.labels == LABELS
    # Scored on the 24 images of the test dataset, which training never saw.
    assert version.metrics is not None and version.metrics["testing_images"] == 24
    assert version.f1 is not None and version.f1 >= 0.8
    assert {m["label"] for m in version.metrics["per_label"]} == set(LABELS)
    report = version.training_report
    assert report is not None
    assert (report["images"], report["calibration_images"]) == (30, 6)
    assert report["test"] == "dataset test" and report["skipped"] == []
    assert report["ece_before"] is not None and report["ece_after"] is not None
    assert version.artifact_uri and Path(version.artifact_uri).is_file()
    assert version.artifact_uri.startswith(str(project.blobs.root))


def test_incremental_training_starts_from_the_parent_and_leaves_it_alone(
    trained: tuple[Project, str],
) -> None:
    project, name = trained
    parent = registry.get_version(project, name)
    before = _artifact_bytes(project, parent.artifact_uri)
    steps: list[TrainProgress] = []
    child = registry.train_version(
        project,
        "shapes",
        dataset="train",
        task="classification",
        test_dataset="test",
        from_version=name,
        epochs=1,
        progress=steps.append,
    )
    assert (child.name, child.parent) == ("shapes.v2", name)
    # Like its parent (the tiny net's shape and image size), with the epochs asked for.
    assert child.params["width"] == 0.5 and child.params["image_size"] == 48
    assert child.params["epochs"] == 1
    assert child.artifact_uri != parent.artifact_uri
    assert _artifact_bytes(project, parent.artifact_uri) == before
    assert [s.phase for s in steps][-1] == "evaluate" and steps[0].phase == "train"
    # One epoch from trained weights is still a working model on unseen images.
    assert child.f1 is not None and child.f1 >= 0.8


def test_evaluate_version_defaults_to_its_own_test_set(trained: tuple[Project, str]) -> None:
    project, name = trained
    version = registry.get_version(project, name)
    again = registry.evaluate_version(project, name)
    assert again.f1 == pytest.approx(version.f1)
    on_train = registry.evaluate_version(project, name, "train")
    assert on_train.testing_images == 36


def test_export_writes_an_onnx_model_that_predicts_the_same(
    trained: tuple[Project, str], tmp_path: Path
) -> None:
    project, name = trained
    path = registry.export_version(project, name, "onnx", tmp_path / "m.onnx")
    exported = OnnxModel.load(path)
    picture = Image.open(project.home / "images" / "test" / "0.png")
    _, model = registry.trained_model(project, name)
    assert exported.predict([picture])[0].label == model.predict([picture])[0].label  # type: ignore[union-attr]
    with pytest.raises(InputError, match="one export format is onnx"):
        registry.export_version(project, name, "tflite", tmp_path / "m.tflite")


def test_versions_are_numbered_per_project(any_db_project: Project) -> None:
    for project_name in ("a", "b", "a"):
        registry.train_version(
            any_db_project, project_name, dataset="train", task="classification", model=fake()
        )
    names = [v.name for v in registry.list_versions(any_db_project)]
    assert names == ["a.v1", "a.v2", "b.v1"]
    assert [v.name for v in registry.list_versions(any_db_project, "b")] == ["b.v1"]
    with pytest.raises(InvalidName, match="model project name"):
        registry.train_version(
            any_db_project, "../x", dataset="train", task="classification", model=fake()
        )
    with pytest.raises(NotFound, match=r"no model version named 'a.v9'.*a\.v2"):
        registry.get_version(any_db_project, "a.v9")


class Exploding(FakeModel):
    """Trains like FakeModel, then fails the way a real run can: out of memory, or Ctrl-C."""

    error: BaseException = RuntimeError("CUDA out of memory")

    def fit(self, records: Sequence[ImageRecord], load: ImageLoader, **kwargs: Any) -> Exploding:
        super().fit(records, load, **kwargs)
        raise self.error


@pytest.mark.parametrize(
    "error", [RuntimeError("CUDA out of memory"), KeyboardInterrupt()], ids=["error", "interrupt"]
)
def test_a_crash_marks_the_version_failed_and_keeps_earlier_artifacts(
    any_db_project: Project, error: BaseException
) -> None:
    first = registry.train_version(
        any_db_project, "logos", dataset="train", task="classification", model=fake()
    )
    before = _artifact_bytes(any_db_project, first.artifact_uri)
    blobs_before = set(any_db_project.blobs.keys())
    crashing = Exploding()
    crashing.error = error
    expected = ModelError if isinstance(error, Exception) else KeyboardInterrupt
    with pytest.raises(expected) as raised:
        registry.train_version(
            any_db_project,
            "logos",
            dataset="train",
            task="classification",
            from_version=first.name,
            model=crashing,
        )
    if expected is ModelError:
        assert "logos.v2 failed" in str(raised.value) and "out of memory" in str(raised.value)
    failed = registry.get_version(any_db_project, "logos.v2")
    assert failed.status is VersionStatus.TRAINING_FAILED
    assert failed.failure_reason and type(error).__name__ in failed.failure_reason
    assert failed.artifact_uri is None and failed.training_ended_at is not None
    assert registry.get_version(any_db_project, first.name).status is first.status
    assert _artifact_bytes(any_db_project, first.artifact_uri) == before
    assert set(any_db_project.blobs.keys()) == blobs_before
    with pytest.raises(ModelError, match=r"no trained model.*TRAINING_FAILED"):
        registry.evaluate_version(any_db_project, "logos.v2")


def _one_class(project: Project) -> None:
    data = shapes(8, labels=("disc",), seed=4)
    store_shapes(project, "discs", data)


def _unlabeled(project: Project) -> None:
    data = shapes(6, seed=5)
    data.records = [ImageRecord(r.uri, r.size) for r in data.records]
    store_shapes(project, "unlabeled", data)


@pytest.mark.parametrize(
    ("dataset", "kwargs", "message"),
    [
        ("unlabeled", {}, "has no classification labels: none of its 6 images"),
        ("discs", {}, r"only one class \('disc'\)"),
        ("train", {"model": FakeModel(min_images=30)}, "the model needs at least 30"),
        ("boxes", {}, "has no classification labels"),
        ("train", {"test_dataset": "unlabeled"}, "test dataset 'unlabeled' has no"),
        ("train", {"test_dataset": "train"}, "must not be the training dataset"),
    ],
    ids=["no-labels", "one-class", "too-few", "wrong-task", "unlabeled-test", "test-is-train"],
)
def test_bad_training_data_is_refused_before_any_version_is_recorded(
    fake_project: Project, dataset: str, kwargs: dict[str, Any], message: str
) -> None:
    _one_class(fake_project)
    _unlabeled(fake_project)
    with pytest.raises(TrainingError, match=message):
        registry.train_version(
            fake_project,
            "logos",
            dataset=dataset,
            task="classification",
            **{"model": fake(), **kwargs},
        )
    assert registry.list_versions(fake_project) == []


def test_missing_datasets_and_parents_are_named(fake_project: Project) -> None:
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        registry.train_version(fake_project, "x", dataset="nope", task="classification")
    with pytest.raises(NotFound, match=r"no model version named 'x\.v1'"):
        registry.train_version(
            fake_project, "x", dataset="train", task="classification", from_version="x.v1"
        )
    boxes = registry.train_version(
        fake_project,
        "boxes",
        dataset="boxes",
        task="detection",
        model=fake(task=Task.DETECTION),
    )
    with pytest.raises(ModelError, match=r"cannot train a classification model from boxes\.v1"):
        registry.train_version(
            fake_project, "x", dataset="train", task="classification", from_version=boxes.name
        )
    assert [v.name for v in registry.list_versions(fake_project)] == ["boxes.v1"]


def test_unreadable_images_are_skipped_and_reported(fake_project: Project) -> None:
    broken = fake_project.home / "images" / "train" / "3.png"
    broken.write_bytes(b"not a png at all")
    version = registry.train_version(
        fake_project,
        "logos",
        dataset="train",
        task="classification",
        test_dataset="test",
        model=fake(),
    )
    assert version.training_report is not None
    skipped = version.training_report["skipped"]
    assert [s["uri"] for s in skipped] == [str(broken)]
    assert skipped[0]["reason"]


def _records(n: int, labels: Sequence[str]) -> list[ImageRecord]:
    return [
        ImageRecord(
            f"/data/{i}.png",
            ImageSize(10, 10),
            (Annotation(Classification(labels[i % len(labels)])),),
        )
        for i in range(n)
    ]


def test_the_hold_out_is_a_fifth_of_each_label_and_always_the_same() -> None:
    examples = labeled(_records(50, ("a", "b")), Task.CLASSIFICATION)
    train, test = hold_out(examples)
    assert len(test) == 10 and len(train) == 40
    assert sorted(e.target.label for e in test) == ["a"] * 5 + ["b"] * 5  # type: ignore[union-attr]
    again = hold_out(list(reversed(examples)))[1]
    assert {e.record.uri for e in again} == {e.record.uri for e in test}
    assert len(hold_out(examples[:2])[1]) == 1  # even two images give a test image


def test_items_marked_test_are_the_test_set(sqlite_project: Project) -> None:
    data = shapes(12, seed=1) + shapes(6, seed=2, prefix="mem://marked")
    data.records = [
        replace(r, split=Split.TEST) if r.uri.startswith("mem://marked") else r
        for r in data.records
    ]
    store_shapes(sqlite_project, "mixed", data)
    version = registry.train_version(
        sqlite_project, "s", dataset="mixed", task="classification", model=fake()
    )
    assert version.training_report is not None and version.metrics is not None
    assert version.training_report["test"] == "the 6 items of mixed in split test"
    assert version.training_report["images"] == 12
    assert version.metrics["testing_images"] == 6


def test_an_abandoned_training_is_marked_failed(sqlite_project: Project) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    host = socket.gethostname()
    common: dict[str, Any] = {
        "task": "classification",
        "backend": "fake",
        "params": {},
        "training_dataset": "train",
        "test_dataset": None,
        "labels": ["a", "b"],
    }
    with sqlite_project.db.session(immediate=True) as session:
        add_version(session, "p", parent=None, trainer=f"{host}:{dead_pid}", **common)
        add_version(session, "p", parent=None, trainer=f"{host}:{os.getpid()}", **common)
        add_version(session, "p", parent=None, trainer="elsewhere:1", **common)
    assert fail_abandoned_trainings(sqlite_project) == ["p.v1"]
    dead = registry.get_version(sqlite_project, "p.v1")
    assert dead.status is VersionStatus.TRAINING_FAILED
    assert dead.failure_reason and f"{host}:{dead_pid}" in dead.failure_reason
    later = utcnow() + STALE_AFTER + timedelta(seconds=1)
    # No heartbeat for too long: gone, wherever it ran (this process is not beating here).
    assert sorted(fail_abandoned_trainings(sqlite_project, now=later)) == ["p.v2", "p.v3"]
    stale = registry.get_version(sqlite_project, "p.v3")
    assert stale.failure_reason and "no heartbeat since" in stale.failure_reason


def test_a_running_training_keeps_its_heartbeat_fresh(sqlite_project: Project) -> None:
    fields: dict[str, Any] = {
        "task": "classification",
        "backend": "fake",
        "params": {},
        "training_dataset": "train",
        "test_dataset": None,
        "labels": ["a", "b"],
    }
    with sqlite_project.db.session(immediate=True) as session:
        first = add_version(session, "p", parent=None, trainer="elsewhere:1", **fields)
        beat = first.heartbeat_at
    assert beat is not None
    with Heartbeat(sqlite_project, "p.v1", every=0.02):
        time.sleep(0.2)
    with sqlite_project.session() as session:
        later = version_row(session, "p.v1").heartbeat_at
    assert later is not None and later > beat


def test_compare_puts_two_versions_side_by_side(fake_project: Project) -> None:
    small = shapes(20, seed=1)
    small.records = small.records[:6]
    store_shapes(fake_project, "small", small)
    registry.train_version(
        fake_project,
        "s",
        dataset="small",
        task="classification",
        test_dataset="test",
        model=fake(),
    )
    registry.train_version(
        fake_project,
        "s",
        dataset="train",
        task="classification",
        test_dataset="test",
        model=fake(),
    )
    comparison = registry.compare_versions(fake_project, "s.v1", "s.v2", "test")
    rows = {metric: (a, b) for metric, a, b in comparison.rows()}
    assert list(rows)[:3] == ["f1", "precision", "recall"]
    assert {f"{label} f1" for label in LABELS} <= rows.keys()
    first, second = comparison.evaluations
    assert rows["f1"] == (first.f1, second.f1)
    data = comparison.to_json()
    assert [v["version"] for v in data["versions"]] == ["s.v1", "s.v2"]
    assert data["versions"][0]["testing_images"] == 9
    registry.train_version(
        fake_project, "b", dataset="boxes", task="detection", model=fake(task=Task.DETECTION)
    )
    with pytest.raises(ModelError, match="they do different tasks"):
        registry.compare_versions(fake_project, "s.v1", "b.v1", "test")


def test_predict_dataset_answers_every_item_and_names_unreadable_ones(
    fake_project: Project,
) -> None:
    version = registry.train_version(
        fake_project, "s", dataset="train", task="classification", model=fake()
    )
    (fake_project.home / "images" / "test" / "2.png").write_bytes(b"")
    done: list[int] = []
    answers = list(registry.predict_dataset(fake_project, version.name, "test", done.append))
    assert len(answers) == 9 and done == [9]
    assert [a.item_id for a in answers] == sorted(a.item_id for a in answers)
    bad = [a for a in answers if a.error]
    assert len(bad) == 1 and bad[0].uri.endswith("2.png") and bad[0].value is None
    assert all(isinstance(a.value, Classification) for a in answers if not a.error)
