"""Training on request: the progress kept on the version's row (at most once a second and at
each phase change, with the time left in the phase), and the inference units a start records."""

from __future__ import annotations

import pytest

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from truthloop.errors import InputError
from truthloop.ml import registry
from truthloop.ml.backend import Task, TrainProgress
from truthloop.ml.fake import FakeModel
from truthloop.ml.serving import MAX_UNITS, start_version
from truthloop.ml.training_runs import (
    ProgressRecorder,
    progress_json,
    serving_state,
    training_progress,
)
from truthloop.storage.project import Project


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def version(sqlite_project: Project) -> str:
    store_shapes(sqlite_project, "train", shapes(8, seed=1))
    store_shapes(sqlite_project, "test", shapes(4, seed=2))
    return registry.train_version(
        sqlite_project,
        "shapes",
        dataset="train",
        task="classification",
        test_dataset="test",
        model=FakeModel(task=Task.CLASSIFICATION),
    ).name


def test_the_time_left_is_the_phase_so_far_scaled_by_the_steps_to_go() -> None:
    # Epoch 2 of 4, step 5 of 10: 15 of 40 steps done in 30 s, so 50 s to go.
    found = progress_json(TrainProgress("train", 2, 4, 5, 10, 0.5), 42.0, 30.0)
    assert found["fraction"] == pytest.approx(15 / 40)
    assert found["remaining_s"] == pytest.approx(50.0)
    assert found["elapsed_s"] == 42.0 and found["loss"] == 0.5
    calibrating = progress_json(TrainProgress("calibrate", 4, 4, 0, 0, 0.5), 60.0, 0.0)
    assert calibrating["fraction"] == 1.0 and calibrating["remaining_s"] == 0.0


def test_progress_is_written_at_most_once_a_second_and_at_each_phase_change(
    sqlite_project: Project, version: str
) -> None:
    clock = Clock()
    recorder = ProgressRecorder(sqlite_project, clock=clock)
    recorder(TrainProgress("train", 1, 2, 1, 4, 0.9))
    assert training_progress(sqlite_project, version) is None  # no version recorded yet
    recorder.start(version)
    assert training_progress(sqlite_project, version)["phase"] == "starting"  # type: ignore[index]
    clock.now += 0.2
    recorder(TrainProgress("train", 1, 2, 1, 4, 0.9))  # a phase change: written
    clock.now += 0.2
    recorder(TrainProgress("train", 1, 2, 2, 4, 0.8))  # too soon: kept back
    assert training_progress(sqlite_project, version)["step"] == 1  # type: ignore[index]
    clock.now += 1.0
    recorder(TrainProgress("train", 1, 2, 3, 4, 0.7))
    latest = training_progress(sqlite_project, version)
    assert latest is not None and latest["step"] == 3 and latest["loss"] == 0.7
    assert latest["elapsed_s"] == pytest.approx(1.4)
    recorder.finish()
    done = training_progress(sqlite_project, version)
    assert done is not None and done["phase"] == "done" and done["fraction"] == 1.0


def test_a_start_records_its_inference_units_within_bounds(
    sqlite_project: Project, version: str
) -> None:
    with pytest.raises(InputError, match=f"from 1 to {MAX_UNITS}"):
        start_version(sqlite_project, version, MAX_UNITS + 1)
    assert start_version(sqlite_project, version, 4).status.value == "RUNNING"
    assert serving_state(sqlite_project, version).inference_units == 4
