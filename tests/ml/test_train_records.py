"""`registry.train_records`: a version trained on records as given (automated labeling's way in),
recorded without an evaluation, under the same heartbeat, failure marking and artifact keys as
`train_version`; and `predict_items`, the batch prediction both share."""

from __future__ import annotations

import pytest

from tests.ml.shapes import LABELS, shapes
from tests.ml.stored import store_shapes
from truthloop.errors import ModelError, TrainingError
from truthloop.ml import registry
from truthloop.ml.fake import FakeModel
from truthloop.ml.training_sets import read_dataset
from truthloop.ml.versions import VersionStatus
from truthloop.storage.project import Project


@pytest.fixture
def stored(sqlite_project: Project) -> Project:
    store_shapes(sqlite_project, "train", shapes(20, seed=1))
    return sqlite_project


class Failing(FakeModel):
    def fit(self, *args: object, **kwargs: object) -> Failing:
        raise RuntimeError("CUDA out of memory")


def test_a_version_trained_on_records_is_recorded_without_an_evaluation(stored: Project) -> None:
    records = read_dataset(stored, "train")[0]
    trained = registry.train_records(
        stored, "auto", records, task="classification", labels=LABELS, dataset="train",
        model=FakeModel(), about={"job": "auto", "iteration": 1},
    )
    version = trained.version
    assert (version.name, version.status) == ("auto.v1", VersionStatus.TRAINING_COMPLETED)
    assert version.metrics is None and version.test_dataset is None
    assert version.labels == LABELS and version.training_dataset == "train"
    assert version.artifact_uri is not None and "/auto.v1/" in version.artifact_uri
    report = version.training_report
    assert report is not None
    assert (report["job"], report["iteration"]) == ("auto", 1)
    assert report["images"] + report["calibration_images"] == 20
    assert "test_images" not in report
    # the model comes back as fit left it, and answers like the stored one
    images = [(i, r.uri) for i, r in enumerate(records)]
    found = [p.value for p in registry.predict_items(stored, trained.model, images)]
    assert len(found) == 20 and None not in found

    second = registry.train_records(
        stored, "auto", records, task="classification", labels=LABELS, dataset="train",
        from_version=version.name, epochs=3,
    )
    assert (second.version.name, second.version.parent) == ("auto.v2", "auto.v1")
    assert isinstance(second.model, FakeModel)  # like its parent


def test_bad_records_are_refused_before_a_version_is_recorded(stored: Project) -> None:
    records = read_dataset(stored, "train")[0]
    with pytest.raises(TrainingError, match="the model needs at least 30"):
        registry.train_records(
            stored, "auto", records, task="classification", labels=LABELS, dataset="train",
            model=FakeModel(min_images=30),
        )
    assert registry.list_versions(stored) == []


def test_a_failed_training_on_records_is_marked_failed(stored: Project) -> None:
    records = read_dataset(stored, "train")[0]
    with pytest.raises(ModelError, match=r"auto\.v1 failed"):
        registry.train_records(
            stored, "auto", records, task="classification", labels=LABELS, dataset="train",
            model=Failing(),
        )
    failed = registry.get_version(stored, "auto.v1")
    assert failed.status is VersionStatus.TRAINING_FAILED
    assert failed.failure_reason and "out of memory" in failed.failure_reason
