"""Accrual and sampling: a completed review adds its image with the reviewer's label to the
training set exactly once, "None of the Above" adds nothing; every N-th detection is audited
on the sampling schedule, and audits score the deployed version without entering the training
set."""

from __future__ import annotations

import threading
from collections import Counter

import orjson
from sqlalchemy import select

from tests.ml.shapes import LABELS, shapes
from tests.ml.stored import store_shapes
from tests.pipeline.conftest import UNSEEN, Line, incoming, truth
from tests.pipeline.test_intake import deploy_v1
from truthloop.core.types import Box, Classification
from truthloop.labeling import next_task
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.people import add_member, add_team, add_user
from truthloop.pipeline import PipelineSpec, create_pipeline, get_pipeline, list_runs, set_param
from truthloop.pipeline.accrual import accrue, audit_accuracy, pixel_boxes, reviewed_value
from truthloop.pipeline.intake import NONE_OF_THE_ABOVE, submit
from truthloop.pipeline.review_flow import create_review_flow
from truthloop.pipeline.sampling import sample
from truthloop.pipeline.training import check_training, count_labeled
from truthloop.review import get_flow, submit_review
from truthloop.sim.pipeline_reviewers import answer_loops
from truthloop.storage.datasets import get_dataset, iter_records
from truthloop.storage.project import Project
from truthloop.storage.tables import HumanLoopRow, PipelineAccrualRow, PipelineDetectionRow


def training_uris(line: Line) -> list[str]:
    with line.project.session() as session:
        dataset = get_dataset(session, "shapes-train")
        return [record.uri for _, record in iter_records(session, dataset.id)]


def test_reviewed_images_join_the_training_set_once(line: Line) -> None:
    deploy_v1(line)
    results = submit(line.project, "shapes", incoming(UNSEEN))
    loops = [r for r in results if r.loop]
    assert len(loops) == len(UNSEEN.records)
    answers = truth(UNSEEN)
    nota = next(iter(answers))
    reviewed = answer_loops(
        line.project, line.flow, answers, line.reviewers, none_of_the_above={nota}
    )
    assert reviewed.tasks == len(loops) and reviewed.seconds > 0
    before = count_labeled(line.project, "shapes-train", "classification")
    accrued = accrue(line.project, "shapes")
    assert accrued.outcomes == {"added": len(loops) - 1, "none-of-the-above": 1}
    assert count_labeled(line.project, "shapes-train", "classification") == before + len(loops) - 1
    # A second round, and two workers at once, find nothing more to add.
    assert accrue(line.project, "shapes").loops == 0
    uris = training_uris(line)
    assert len(uris) == len(set(uris))
    with line.project.session() as session:
        rows = session.scalars(select(PipelineAccrualRow)).all()
        assert sorted(r.loop_name for r in rows) == sorted(str(r.loop) for r in loops)
        runs = list_runs(session, get_pipeline(session, "shapes"), kind="review-completion")
    assert [r.status for r in runs] == ["succeeded"]


def test_two_workers_accruing_at_once_add_each_image_once(line: Line) -> None:
    deploy_v1(line)
    submit(line.project, "shapes", incoming(UNSEEN))
    answer_loops(line.project, line.flow, truth(UNSEEN), line.reviewers)
    before = len(training_uris(line))
    added: list[int] = []
    workers = [
        threading.Thread(target=lambda: added.append(accrue(line.project, "shapes").added))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(added) == len(UNSEEN.records)
    assert len(training_uris(line)) == before + len(UNSEEN.records)


def test_the_reviewers_answer_reads_as_a_label_or_nothing() -> None:
    content = {"initialValue": "disc"}
    assert reviewed_value([{"category": {"label": "disc"}}], "classification", content) == (
        Classification("disc")
    )
    two_to_one = [{"c": {"label": "a"}}, {"c": {"label": "b"}}, {"c": {"label": "b"}}]
    assert reviewed_value(two_to_one, "classification", content) == Classification("b")
    nota = [{"category": {"label": NONE_OF_THE_ABOVE}}]
    assert reviewed_value(nota, "classification", content) == NONE_OF_THE_ABOVE
    assert reviewed_value([{"comment": "no idea"}], "classification", content) is None


def test_an_answer_with_a_label_outside_the_label_set_adds_nothing(line: Line) -> None:
    deploy_v1(line)
    submit(line.project, "shapes", incoming(UNSEEN)[:1])
    forged = {digest: Classification("<script>") for digest in truth(UNSEEN)}
    answer_loops(line.project, line.flow, forged, line.reviewers)
    before = len(training_uris(line))
    assert accrue(line.project, "shapes").outcomes == {"unknown-label": 1}
    assert len(training_uris(line)) == before


def test_sampling_audits_every_nth_detection_and_keeps_them_out_of_training(line: Line) -> None:
    deploy_v1(line)
    with line.project.session() as session:
        pipeline = get_pipeline(session, "shapes")
        set_param(session, pipeline, "Human-Sampling-Interval", 2)
        set_param(session, pipeline, "Enable-A2I-Workflow", False)  # audits only
    submit(line.project, "shapes", incoming(UNSEEN)[:5])
    audits = sample(line.project, "shapes")
    with line.project.session() as session:
        rows = session.scalars(select(PipelineDetectionRow).order_by(PipelineDetectionRow.id))
        logged = list(rows)
        assert get_pipeline(session, "shapes").sampled_through == logged[3].id
    assert [d.sampled for d in logged] == [False, True, False, True, False]
    assert audits == [logged[1].audit_loop, logged[3].audit_loop]
    # The fifth waits for the next tick, and counts towards its pick.
    submit(line.project, "shapes", incoming(UNSEEN)[5:6])
    assert len(sample(line.project, "shapes")) == 1
    before = training_uris(line)
    answer_loops(line.project, line.flow, truth(UNSEEN), line.reviewers)
    accrued = accrue(line.project, "shapes")
    assert accrued.audits == 3 and accrued.added == 0
    assert training_uris(line) == before
    with line.project.session() as session:
        audit = audit_accuracy(session, get_pipeline(session, "shapes"))
        outcomes = Counter(r.outcome for r in session.scalars(select(PipelineAccrualRow)))
    assert audit.n == 3 and audit.right == outcomes["audit-right"]
    assert audit.low is not None and audit.high is not None
    assert audit.low <= (audit.accuracy or 0) <= audit.high


def test_sampling_off_or_too_few_detections_audits_nothing(line: Line) -> None:
    deploy_v1(line)
    submit(line.project, "shapes", incoming(UNSEEN)[:3])
    assert sample(line.project, "shapes") == []  # the interval is 1000
    with line.project.session() as session:
        pipeline = get_pipeline(session, "shapes")
        set_param(session, pipeline, "Human-Sampling-Interval", 1)
        set_param(session, pipeline, "Enable-Automatic-Human-Sampling", False)
    assert sample(line.project, "shapes") == []


def test_a_boxes_pipeline_reviews_the_models_boxes_and_accrues_the_corrected_ones(
    project: Project,
) -> None:
    seen = shapes(10, task="detection", size=64, seed=3)
    unseen = shapes(3, task="detection", size=64, seed=19)
    store_shapes(project, "boxes-train", seen)
    with project.session() as session:
        add_team(session, "reviewers")
        reviewer = add_user(session, "alice", password=None).id
        add_member(session, "reviewers", "alice")
    flow = create_review_flow(project, "boxes", "detection", team="reviewers")
    # Its guesses (60 %) pass the boxes' assumed thresholds (50 %), so the reviewer starts
    # from them, and fall below the minimum (70 %), so each goes to review.
    model = FakeModel(task=Task.DETECTION, guess_confidence=0.6)
    with project.session() as session:
        pipeline = create_pipeline(
            session, PipelineSpec("boxes", "detection", "boxes-train", flow, model)
        )
        set_param(session, pipeline, "Minimum-F1-Score", 0.0)
    assert check_training(project, "boxes", on_demand=True).deployed
    results = submit(project, "boxes", incoming(unseen))
    assert all(r.loop for r in results)
    with project.session() as session:
        loop = session.scalars(select(HumanLoopRow).where(HumanLoopRow.name == results[0].loop))
        content = orjson.loads(loop.one().input_content)
    assert content["labels"] == list(LABELS)  # no "None of the Above" for boxes
    assert content["initialValue"] and {"left", "top", "width", "height"} <= set(
        content["initialValue"][0]
    )
    answer_loops(project, flow, truth(unseen), [reviewer])
    before = count_labeled(project, "boxes-train", "detection")
    assert accrue(project, "boxes").added == 3
    assert count_labeled(project, "boxes-train", "detection") == before + 3
    with project.session() as session:
        dataset = get_dataset(session, "boxes-train")
        added = [r for _, r in iter_records(session, dataset.id)][-3:]
    expected = {digest: value for digest, value in truth(unseen).items()}
    for record in added:
        [annotation] = record.annotations
        digest = record.uri.rsplit("/", 1)[-1].split(".")[0]
        assert annotation.value == expected[digest]


def test_boxes_that_do_not_read_as_boxes_are_refused_one_by_one() -> None:
    good = {"label": "disc", "left": 1, "top": 2, "width": 3, "height": 4}
    assert pixel_boxes([good]) == (Box("disc", 1, 2, 3, 4),)
    assert pixel_boxes([]) == ()
    for bad in (
        {**good, "left": "1"},
        {**good, "width": float("nan")},
        {**good, "height": 0},
        {**good, "top": True},
        {**good, "label": 7},
        {"label": "disc"},
        "disc",
    ):
        assert pixel_boxes([good, bad]) is None, bad
    answer = {"annotatedResult": {"boundingBoxes": [{**good, "left": "x"}]}}
    assert reviewed_value([answer], "detection", {}) is None


def test_an_answer_that_does_not_read_is_recorded_and_the_others_go_on(line: Line) -> None:
    deploy_v1(line)
    submit(line.project, "shapes", incoming(UNSEEN)[:2])
    # The first loop's form sends what no classifier element writes; the second is answered.
    with line.project.session() as session:
        job_id = get_flow(session, line.flow).job_id
    task = next_task(line.project.db, job_id, line.reviewers[0])
    assert task is not None
    hostile = {"category": {"label": ["<img src=x onerror=alert(1)>"]}}
    submit_review(
        line.project,
        task.task_id,
        line.reviewers[0],
        client_id="c-1",
        answer=hostile,
        seconds=1.0,
    )
    answer_loops(line.project, line.flow, truth(UNSEEN), line.reviewers)
    before = len(training_uris(line))
    accrued = accrue(line.project, "shapes")
    assert accrued.outcomes == {"no-answer": 1, "added": 1}
    assert len(training_uris(line)) == before + 1
    assert accrue(line.project, "shapes").loops == 0  # recorded: not read again each tick
