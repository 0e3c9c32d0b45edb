"""Answers become labels: consolidated when every slot of an item is answered, stored for
training, exported as the job's output manifest, and scored per worker."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import select, update

from tests.labeling.conftest import ITEMS, Lab, later
from truthloop.core.types import (
    Box,
    Boxes,
    Classification,
    MultiLabel,
    Source,
    Value,
    Verification,
)
from truthloop.labeling import (
    JobStatus,
    SubmitResult,
    TaskType,
    export_manifest,
    job_progress,
    next_task,
    submit,
    worker_quality,
)
from truthloop.storage import datasets as store
from truthloop.storage.tables import AnnotationRow, JobItemRow


def work(lab: Lab, job: int, worker: str, answer: Value, seconds: float = 2.0) -> SubmitResult:
    """The worker takes their next task and answers it."""
    task = next_task(lab.db, job, lab.users[worker])
    assert task is not None
    return submit(lab.db, task.task_id, lab.users[worker], client_id=f"{worker}-{task.task_id}",
                  answer=answer, seconds=seconds)


def labels_of(lab: Lab, job_name: str) -> list[AnnotationRow]:
    with lab.project.session() as session:
        return list(session.scalars(
            select(AnnotationRow).where(AnnotationRow.job_name == job_name)
            .order_by(AnnotationRow.item_id)
        ))


def read_manifest(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_three_workers_are_consolidated_once_the_last_answers(lab: Lab) -> None:
    job = lab.job(workers_per_item=3)
    answers = {"alice": "dog", "bob": "dog", "carol": "cat"}
    done = [work(lab, job, w, Classification(label), seconds=s).item_done
            for s, (w, label) in enumerate(answers.items(), 1)]
    assert done == [False, False, True]
    (row,) = labels_of(lab, "pets-job")
    assert (row.source, row.attribute, row.worker, row.seconds) == (
        Source.CONSOLIDATED, "pets-job", None, 6.0)
    assert row.value["label"] == "dog"
    assert row.confidence is not None and 0.5 < row.confidence <= 1.0


def test_one_worker_per_item_keeps_the_answer_as_a_human_label(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    job = lab.job()
    for n in range(ITEMS):
        work(lab, job, "alice", Classification("cat" if n % 2 else "dog"), seconds=n)
    rows = labels_of(lab, "pets-job")
    assert [r.value["label"] for r in rows] == ["dog", "cat"] * 3
    assert {(r.source, r.worker, r.confidence) for r in rows} == {(Source.HUMAN, "alice", 0.0)}
    with lab.project.session() as session:
        progress = job_progress(session, job)
    assert progress.status == JobStatus.COMPLETED
    assert (progress.done, progress.total_items, progress.submitted, progress.waiting) == (
        ITEMS, ITEMS, ITEMS, 0)
    assert (progress.human_labels, progress.machine_labels, progress.median_seconds) == (
        ITEMS, 0, 2.5)


def test_an_item_closed_meanwhile_keeps_its_one_label(sqlite_lab: Lab) -> None:
    """A leased item that was labeled another way (by the machine) before the worker answered:
    the answer is kept as a submission, and no second label is stored."""
    lab = sqlite_lab
    job = lab.job()
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    with lab.project.session() as session:
        session.execute(
            update(JobItemRow).where(JobItemRow.item_id == task.item_id).values(status="done")
        )
    result = submit(lab.db, task.task_id, alice, client_id="late-1",
                    answer=Classification("cat"), seconds=1.0)
    assert result.accepted and result.item_done
    assert labels_of(lab, "pets-job") == []


def test_progress_counts_slots_cost_and_expired_leases(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    job = lab.job(workers_per_item=2, price_per_task=0.036, task_time_limit_s=60)
    work(lab, job, "alice", Classification("cat"), seconds=3)
    work(lab, job, "bob", Classification("cat"), seconds=5)
    assert next_task(lab.db, job, lab.users["carol"]) is not None
    with lab.project.session() as session:
        now = job_progress(session, job)
        afterwards = job_progress(session, job, now=later(61))
        gone = job_progress(session, job, now=later(864_001))
    assert (now.done, now.submitted, now.leased, now.waiting) == (1, 2, 1, 2 * ITEMS - 3)
    assert (now.cost, now.median_seconds, now.human_labels) == (0.072, 4.0, 1)
    assert (afterwards.leased, afterwards.waiting) == (0, 2 * ITEMS - 2)
    assert (gone.waiting, gone.expired) == (0, 2 * ITEMS - 2)


def test_the_manifest_holds_exactly_the_submitted_boxes_in_pixels(sqlite_lab: Lab,
                                                                  tmp_path: Path) -> None:
    lab = sqlite_lab
    job = lab.job("boxes", task_type=TaskType.BOUNDING_BOX)
    drawn = Boxes((Box("dog", 12, 30, 200, 150), Box("cat", 400, 100, 239, 380)))
    work(lab, job, "alice", drawn)
    dest = tmp_path / "out" / "output.manifest"
    with lab.project.session() as session:
        assert export_manifest(session, job, dest) == ITEMS
    first, second, *_ = read_manifest(dest)
    assert first["source-ref"] == "/images/000.jpg"
    assert first["boxes"] == {
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
        "annotations": [
            {"class_id": 1, "left": 12, "top": 30, "width": 200, "height": 150},
            {"class_id": 0, "left": 400, "top": 100, "width": 239, "height": 380},
        ],
    }
    meta = first["boxes-metadata"]
    assert meta["type"] == "groundtruth/object-detection"
    assert (meta["job-name"], meta["human-annotated"]) == ("boxes", "yes")
    assert meta["class-map"] == {"1": "dog", "0": "cat"}
    assert meta["objects"] == [{"confidence": 0.0}, {"confidence": 0.0}]
    assert "creation-date" in meta
    assert "boxes" not in second  # not labeled yet: the line is there, unchanged
    with lab.project.session() as session:
        dataset = store.get_dataset(session, "pets")
        stored = {r.uri: r for _, r in store.iter_records(session, dataset.id)}
    (label,) = [a for a in stored["/images/000.jpg"].annotations if a.attribute == "boxes"]
    assert isinstance(label.value, Boxes)
    assert [(b.label, b.left, b.top, b.width, b.height) for b in label.value.boxes] == [
        (b.label, b.left, b.top, b.width, b.height) for b in drawn.boxes
    ]


def test_boxes_of_three_workers_are_averaged_and_outliers_dropped(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    job = lab.job(task_type=TaskType.BOUNDING_BOX, workers_per_item=3)
    work(lab, job, "alice", Boxes((Box("dog", 100, 100, 100, 100), Box("cat", 0, 0, 10, 10))))
    work(lab, job, "bob", Boxes((Box("dog", 104, 100, 100, 100),)))
    work(lab, job, "carol", Boxes((Box("dog", 102, 103, 100, 100),)))
    (row,) = labels_of(lab, "pets-job")
    ((label, left, top, width, height, confidence),) = row.value["boxes"]
    assert (label, left, top, width, height) == ("dog", 102, 101, 100, 100)
    assert 0.9 < confidence <= 1.0


def test_verification_keeps_every_comment_and_exports_worker_feedback(
    sqlite_lab: Lab, tmp_path: Path
) -> None:
    lab = sqlite_lab
    job = lab.job("verify", task_type=TaskType.VERIFICATION, proposals="model",
                  workers_per_item=2, verification_categories=("good", "bad"))
    work(lab, job, "alice", Verification("bad", 1, comments=("box too wide", " ")))
    work(lab, job, "bob", Verification("bad", 1, comments=("misses the tail",)))
    with lab.project.session() as session:
        export_manifest(session, job, tmp_path / "v.manifest")
    line = read_manifest(tmp_path / "v.manifest")[0]
    assert line["verify"] == "1"
    assert line["verify-metadata"]["class-name"] == "bad"
    assert line["verify-metadata"]["worker-feedback"] == [
        {"comment": "box too wide"}, {"comment": "misses the tail"}]
    assert line["verify-metadata"]["type"] == "groundtruth/label-verification"
    assert line["model"]["annotations"][0]["left"] == 10  # the proposals the workers saw
    assert "job-name" not in line["model-metadata"]


def test_adjustment_status_says_whether_a_worker_changed_the_boxes(
    sqlite_lab: Lab, tmp_path: Path
) -> None:
    lab = sqlite_lab
    job = lab.job("adjust", task_type=TaskType.ADJUSTMENT, proposals="model")
    first = next_task(lab.db, job, lab.users["alice"])
    assert first is not None and isinstance(first.proposals, Boxes)
    unchanged = Boxes(tuple(Box(b.label, b.left, b.top, b.width, b.height)
                            for b in first.proposals.boxes))
    submit(lab.db, first.task_id, lab.users["alice"], client_id="u", answer=unchanged, seconds=1)
    work(lab, job, "alice", Boxes((Box("cat", 11, 20, 90, 40),)))
    with lab.project.session() as session:
        export_manifest(session, job, tmp_path / "a.manifest")
    lines = read_manifest(tmp_path / "a.manifest")
    assert [line["adjust-metadata"]["adjustment-status"] for line in lines[:2]] == [
        "unadjusted", "adjusted"]
    assert lines[1]["adjust"]["annotations"] == [
        {"class_id": 0, "left": 11, "top": 20, "width": 90, "height": 40}]


def test_multilabel_keeps_every_label_with_its_share(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    job = lab.job(task_type=TaskType.MULTILABEL, workers_per_item=2)
    work(lab, job, "alice", MultiLabel(("dog", "cat")))
    work(lab, job, "bob", MultiLabel(("dog",)))
    (row,) = labels_of(lab, "pets-job")
    assert row.value == {"labels": ["cat", "dog"], "confidences": [0.5, 1.0]}


def test_worker_quality_tracks_agreement_with_the_consolidated_labels(lab: Lab) -> None:
    job = lab.job(workers_per_item=3)
    for n in range(ITEMS):
        truth = "cat" if n % 2 else "dog"
        work(lab, job, "alice", Classification(truth), seconds=2)
        work(lab, job, "bob", Classification(truth), seconds=4)
        work(lab, job, "carol", Classification("cat"), seconds=1)  # always says cat
    with lab.project.session() as session:
        quality = {q.username: q for q in worker_quality(session, job)}
        everywhere = worker_quality(session, None)
    assert (quality["alice"].agreement, quality["bob"].agreement) == (1.0, 1.0)
    assert quality["carol"].agreement == 0.5
    assert (quality["carol"].submitted, quality["carol"].compared) == (ITEMS, ITEMS)
    assert (quality["bob"].median_seconds, quality["bob"].job_id) == (4.0, job)
    assert [q.username for q in everywhere] == ["alice", "bob", "carol"]
    assert everywhere[0].job_id is None
