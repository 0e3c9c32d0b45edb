"""The seed's walkthrough, end to end on the embedded default, on a fake clock: 10 labeled
images seed the pipeline → the schedule fires → v1 trains, passes the gate and is deployed →
intake images are detected and the unsure ones become loops → simulated reviewers answer (one
"None of the Above") → the next training tick trains v2 on the new images → v2 is deployed and
v1 stopped; then Minimum-F1-Score is raised above what v3 reaches → v3 is refused and v2 stays.
Every step is in the run history.

The model is the built-in classifier on the installed pretrained backbone, small (64 px): it
trains in about a second. The logos, the split and the training are seeded, so each version's
F1 is the same on every run; the test checks each F1 against the gate it met or missed, on
the version's own test split, which it did not train on.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from truthloop.core.types import Classification, ImageRecord
from truthloop.datasets.importing import import_dataset
from truthloop.formats import open_reader
from truthloop.ml.classifier import Classifier
from truthloop.ml.registry import list_versions
from truthloop.ml.versions import VersionStatus
from truthloop.people import add_member, add_team, add_user
from truthloop.pipeline import (
    PipelineSpec,
    create_pipeline,
    get_pipeline,
    get_run,
    list_runs,
    set_param,
)
from truthloop.pipeline.accrual import audit_accuracy
from truthloop.pipeline.intake import set_intake
from truthloop.pipeline.review_flow import create_review_flow
from truthloop.pipeline.schedule import tick
from truthloop.pipeline.training import count_labeled
from truthloop.sim.logos import generate_logos
from truthloop.sim.pipeline_reviewers import answer_loops
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineAccrualRow, PipelineDetectionRow

T0 = datetime(2026, 12, 4, 9, 0)
MINUTE = timedelta(minutes=1)
HALF_DAY = timedelta(minutes=720)  # Automatic-Training-Poll-Frequency's default


@dataclass
class Stream:
    """The logos: the first 10 seed the pipeline, the rest arrive in batches."""

    records: list[ImageRecord]
    truth: dict[str, Classification]  # by content hash, as the pipeline stores images

    def batch(self, start: int, stop: int) -> list[ImageRecord]:
        return self.records[start:stop]


@pytest.fixture
def stream(tmp_path: Path) -> Stream:
    made = generate_logos(
        tmp_path / "logos", images=100, classes=2, seed=4, mode="classification", size=96
    )
    records = list(open_reader("groundtruth", made.manifest))
    truth = {}
    for record in records:
        digest = hashlib.sha256(Path(record.uri).read_bytes()).hexdigest()
        value = record.annotations[0].value
        assert isinstance(value, Classification)
        truth[digest] = value
    return Stream(records, truth)


@pytest.fixture
def home(sqlite_project: Project, tmp_path: Path) -> Iterator[tuple[Project, list[int]]]:
    with sqlite_project.session() as session:
        add_team(session, "reviewers")
        users = []
        for name in ("alice", "bob"):
            users.append(add_user(session, name, password=None).id)
            add_member(session, "reviewers", name)
    yield sqlite_project, users


def seed_folders(records: Sequence[ImageRecord], dest: Path) -> Path:
    """The seed's `images_labeled_by_folder/`: one folder per label."""
    for record in records:
        value = record.annotations[0].value
        assert isinstance(value, Classification)
        folder = dest / value.label
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(record.uri, folder / Path(record.uri).name)
    return dest


def drop(records: Sequence[ImageRecord], intake: Path) -> None:
    for record in records:
        shutil.copy(record.uri, intake / Path(record.uri).name)


def model() -> Classifier:
    return Classifier(backbone="efficientnet-lite0", image_size=96, epochs=15, batch_size=16)


def test_the_seed_walkthrough_on_a_fake_clock(
    home: tuple[Project, list[int]], stream: Stream, tmp_path: Path
) -> None:
    project, reviewers = home
    seeded = seed_folders(stream.batch(0, 10), project.home / "images_labeled_by_folder")
    import_dataset(project, "logos-train", seeded, fmt="folders", copy=True)
    flow = create_review_flow(project, "logos", "classification", team="reviewers")
    with project.session() as session:
        create_pipeline(
            session, PipelineSpec("logos", "classification", "logos-train", flow, model())
        )
    # Reviewing anything the model is less than 95 % sure of, the people see more images.
    with project.session() as session:
        set_param(
            session,
            get_pipeline(session, "logos"),
            "Minimum-Label-Detection-Confidence",
            95,
            now=T0,
        )
    intake = project.home / "intake"
    intake.mkdir()
    set_intake(project, "logos", str(intake))

    # The first tick: the training schedule fires at once, and 10 labeled images suffice.
    first = tick(project, "logos", now=T0)
    assert first.training is not None and first.training.deployed, first.training
    assert first.training.version == "logos.v1"
    assert first.training.f1 is not None and first.training.f1 >= 0.8

    # Images arrive; v1 detects them; those it is unsure of become loops.
    drop(stream.batch(10, 45), intake)
    arrived = tick(project, "logos", now=T0 + MINUTE)
    assert arrived.detected == 35 and arrived.training is None
    with project.session() as session:
        detections = session.query(PipelineDetectionRow).all()
    assert {d.version for d in detections} == {"logos.v1"}
    unsure = [d for d in detections if d.confidence is None or d.confidence < 95]
    assert {d.loop_name is not None for d in unsure} == {True}
    assert all(d.loop_name is None for d in detections if d not in unsure)
    assert len(unsure) >= 11, "v1 must be unsure of enough images to train v2"
    # A second look at the intake detects nothing again.
    assert tick(project, "logos", now=T0 + 2 * MINUTE).detected == 0

    # People answer: one says "None of the Above", which adds nothing.
    nota = unsure[0].sha256
    reviewed = answer_loops(project, flow, stream.truth, reviewers, none_of_the_above={nota})
    assert reviewed.tasks == len(unsure)
    accrued = tick(project, "logos", now=T0 + 3 * MINUTE)
    assert accrued.accrued.added == len(unsure) - 1
    assert accrued.accrued.outcomes == {"added": len(unsure) - 1, "none-of-the-above": 1}
    assert accrued.training is None, "the training schedule fires every 720 minutes"
    assert count_labeled(project, "logos-train", "classification") == 10 + len(unsure) - 1
    # A completion seen again adds nothing again.
    assert tick(project, "logos", now=T0 + 4 * MINUTE).accrued.loops == 0

    # Half a day after v1: v2 trains from v1 on the new images, passes and replaces it.
    second = tick(project, "logos", now=T0 + HALF_DAY)
    assert second.training is not None and second.training.deployed, second.training
    assert second.training.version == "logos.v2"
    versions = {v.name: v for v in list_versions(project, "logos")}
    assert versions["logos.v2"].status is VersionStatus.RUNNING
    assert versions["logos.v1"].status is VersionStatus.STOPPED
    assert versions["logos.v2"].parent == "logos.v1"
    with project.session() as session:
        pipeline = get_pipeline(session, "logos")
        assert pipeline.deployed_version == "logos.v2"
        assert pipeline.trained_images == 10 + len(unsure) - 1

    # A manager raises the gate to a perfect score; more images come, and a tired reviewer
    # misreads one logo in five, so v3's test split holds labels no model agrees with: v3
    # trains, falls short of the gate and is refused.
    with project.session() as session:
        change = set_param(
            session,
            get_pipeline(session, "logos"),
            "Minimum-F1-Score",
            1.0,
            now=T0 + HALF_DAY + MINUTE,
        )
    assert change.changed
    drop(stream.batch(45, 100), intake)
    assert tick(project, "logos", now=T0 + HALF_DAY + 2 * MINUTE).detected == 55
    answer_loops(project, flow, stream.truth, reviewers, error_rate=0.2, seed=7)
    third = tick(project, "logos", now=T0 + 2 * HALF_DAY)
    assert third.training is not None and not third.training.deployed
    assert third.training.version == "logos.v3"
    assert third.training.f1 is not None and third.training.f1 < 1.0
    assert third.training.status == "failed"
    assert third.training.reason.startswith("F1 below minimum")
    with project.session() as session:
        assert get_pipeline(session, "logos").deployed_version == "logos.v2"
    versions = {v.name: v for v in list_versions(project, "logos")}
    assert versions["logos.v2"].status is VersionStatus.RUNNING
    assert versions["logos.v3"].status is VersionStatus.TRAINING_COMPLETED

    # Every step is in the run history.
    with project.session() as session:
        pipeline = get_pipeline(session, "logos")
        runs = list(reversed(list_runs(session, pipeline, limit=500)))
        kinds = [r.kind for r in runs]
        assert {"intake", "review-completion", "training-check", "parameter-change"} <= set(kinds)
        checks = [r for r in runs if r.kind == "training-check"]
        assert [c.status for c in checks] == ["succeeded", "succeeded", "failed"]
        _, steps = get_run(session, checks[1].id)
        assert [s.name for s in steps] == [
            "count-new-images",
            "train",
            "evaluate",
            "deploy",
            "stop-previous-versions",
        ]
        assert steps[-1].output == {"stopped": ["logos.v1"]}
        _, refused = get_run(session, checks[2].id)
        assert [s.name for s in refused] == ["count-new-images", "train", "evaluate"]
        assert (refused[-1].output or {})["deploy"] is False
        accruals = session.query(PipelineAccrualRow).count()
        assert accruals >= len(unsure)
        assert audit_accuracy(session, pipeline).n == 0  # sampling every 1000th: none yet
