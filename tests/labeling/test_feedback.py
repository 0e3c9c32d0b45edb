"""Feedback runs: a model proposes, a team verifies or adjusts in batches, the verified labels
become a dataset, and V2 trained on it is compared with V1."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.labeling.feedback_setup import KNOWN, LARGER, MODEL, FeedbackSetup, prepare
from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from truthloop.core.types import Box, Boxes, LabelSet, Source, Value
from truthloop.errors import (
    AlreadyExists,
    InputError,
    InvalidName,
    JobsNotDone,
    ModelNotRunning,
    NotFound,
)
from truthloop.labeling import get_job, next_task, submit
from truthloop.labeling.feedback.collect import collect_feedback
from truthloop.labeling.feedback.report import feedback_report
from truthloop.labeling.feedback.runs import (
    RunStatus,
    get_feedback,
    list_feedback,
    start_feedback,
)
from truthloop.ml import registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.ml.serving import start_version, stop_version
from truthloop.ml.versions import version_row
from truthloop.people import get_user
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import AnnotationRow


@pytest.fixture
def setup(sqlite_project: Project) -> FeedbackSetup:
    return prepare(sqlite_project)


def _start(setup: FeedbackSetup, **options: object) -> str:
    arguments: dict[str, object] = {"model": MODEL, "dataset": "larger", "team": "crew"}
    return start_feedback(setup.project, **{**arguments, **options}).name  # type: ignore[arg-type]


def _dataset_names(project: Project) -> set[str]:
    with project.session() as session:
        return {row.name for row, _ in store.list_datasets(session)}


def _box_count(value: Value) -> int:
    assert isinstance(value, Boxes), value
    return len(value.boxes)


# ---- starting ------------------------------------------------------------------------------


def test_start_proposes_every_image_and_makes_batches(setup: FeedbackSetup) -> None:
    seen: list[tuple[int, int]] = []
    run = start_feedback(
        setup.project, model=MODEL, dataset="larger", team="crew", batch_size=4,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert run.name == "feedback-1" and run.status is RunStatus.LABELING
    assert [(b.job, b.images, b.done) for b in run.batches] == [
        ("feedback-1-batch-001", 4, 0),
        ("feedback-1-batch-002", 2, 0),
    ]
    assert seen[-1] == (6, 6)
    assert run.collect_command == "truthloop feedback collect feedback-1"
    with setup.project.session() as session:
        proposals = session.scalars(
            select(AnnotationRow).where(AnnotationRow.attribute.like("feedback-1-proposals-%"))
        ).all()
    assert len(proposals) == 6
    assert {p.source for p in proposals} == {Source.MODEL.value}
    assert [r.name for r in list_feedback(setup.project)] == ["feedback-1"]


def test_min_confidence_leaves_out_unsure_boxes(setup: FeedbackSetup) -> None:
    # The model is sure (0.95) of the images it knows and guesses (0.5) the others.
    run = start_feedback(
        setup.project, model=MODEL, dataset="larger", team="crew", min_confidence=0.9
    )
    with setup.project.session() as session:
        boxes = [
            len(row.value["boxes"])
            for row in session.scalars(
                select(AnnotationRow)
                .where(AnnotationRow.attribute == run.batches[0].job.replace("batch", "proposals"))
                .order_by(AnnotationRow.item_id)
            )
        ]
    assert boxes[KNOWN:] == [0] * (len(LARGER.records) - KNOWN)
    assert all(n > 0 for n in boxes[:KNOWN])


@pytest.mark.parametrize("how", ["never started", "stopped"])
def test_a_model_not_running_is_refused_with_how_to_start_it(
    sqlite_project: Project, how: str
) -> None:
    setup = prepare(sqlite_project, start=how == "stopped")
    if how == "stopped":
        stop_version(setup.project, MODEL)
    with pytest.raises(ModelNotRunning, match=f"truthloop model start {MODEL}"):
        _start(setup)
    assert list_feedback(setup.project) == []


def test_a_failed_model_is_refused(setup: FeedbackSetup) -> None:
    with setup.project.session() as session:
        row = version_row(session, MODEL)
        row.status, row.failure_reason = "TRAINING_FAILED", "out of memory"
    with pytest.raises(ModelNotRunning, match=r"failed to train.*out of memory"):
        _start(setup)


def test_a_classifier_cannot_serve_box_adjustment(setup: FeedbackSetup) -> None:
    store_shapes(setup.project, "kinds", shapes(4, seed=1))
    store_shapes(setup.project, "kinds-test", shapes(3, seed=2))
    version = registry.train_version(
        setup.project, "kinds", dataset="kinds", task="classification", test_dataset="kinds-test",
        model=FakeModel(task=Task.CLASSIFICATION),
    )
    start_version(setup.project, version.name)
    with pytest.raises(InputError, match=r"proposes no boxes.*--mode verify"):
        _start(setup, model=version.name, mode="adjust")


def test_an_empty_dataset_is_refused(setup: FeedbackSetup) -> None:
    with setup.project.session() as session:
        store.create_dataset(session, "empty", LabelSet.from_names(["disc"]))
    with pytest.raises(InputError, match="'empty' has no images"):
        _start(setup, dataset="empty")


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"batch_size": 0}, InputError, "batch size"),
        ({"batch_size": 2.5}, InputError, "batch size"),
        ({"min_confidence": 1.5}, InputError, "min confidence"),
        ({"mode": "draw"}, InputError, "mode must be"),
        ({"team": "nobody"}, NotFound, "no team named 'nobody'"),
        ({"dataset": "nowhere"}, NotFound, "nowhere"),
        ({"model": "shapes.v9"}, NotFound, "shapes.v9"),
        ({"name": "../up"}, InvalidName, "not allowed"),
    ],
)
def test_bad_options_are_refused_and_store_nothing(
    setup: FeedbackSetup, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _start(setup, **options)
    assert list_feedback(setup.project) == []


def test_a_run_name_is_used_once(setup: FeedbackSetup) -> None:
    _start(setup, name="round-1")
    with pytest.raises(AlreadyExists, match="round-1"):
        _start(setup, name="round-1")


# ---- collecting ----------------------------------------------------------------------------


def test_collect_before_the_jobs_are_done_lists_the_missing_and_writes_nothing(
    setup: FeedbackSetup,
) -> None:
    run = _start(setup, batch_size=4)
    setup.workforce().work(f"{run}-batch-001")
    with pytest.raises(JobsNotDone, match=r"2 tasks not answered.*--partial") as raised:
        collect_feedback(setup.project, run)
    assert len(raised.value.missing) == 2
    assert all(m.startswith(f"{run}-batch-002: ") for m in raised.value.missing)
    assert not (setup.project.home / "feedback" / run).exists()
    assert f"{run}-verified" not in _dataset_names(setup.project)
    assert get_feedback(setup.project, run).status is RunStatus.LABELING


def test_partial_collect_writes_only_what_is_answered(setup: FeedbackSetup) -> None:
    run = _start(setup, batch_size=3)  # batch 1 holds exactly the images the model knows
    setup.workforce().work(f"{run}-batch-001")
    result = collect_feedback(setup.project, run, partial=True)
    assert result.partial and result.missing == 3 and result.images == KNOWN
    assert result.dataset == f"{run}-partial"
    assert get_feedback(setup.project, run).status is RunStatus.PARTIAL
    with setup.project.session() as session:
        dataset = store.get_dataset(session, result.dataset)
        assert store.count_items(session, dataset.id) == KNOWN


def test_verify_run_keeps_approved_proposals_and_drops_rejected_ones(
    setup: FeedbackSetup,
) -> None:
    run = _start(setup, batch_size=4)
    summary = setup.workforce().work(f"{run}-batch-001")
    summary2 = setup.workforce().work(f"{run}-batch-002")
    result = collect_feedback(setup.project, run)
    known_boxes = sum(_box_count(setup.truth[u]) for u in list(setup.truth)[:KNOWN])
    # The model knows the first images exactly; its guesses for the others are elsewhere.
    assert result.counts.accepted == known_boxes
    assert result.counts.rejected > 0 and result.counts.adjusted == result.counts.added == 0
    assert result.images == KNOWN
    assert result.human_seconds == pytest.approx(summary.seconds + summary2.seconds)
    lines = [json.loads(x) for x in result.manifest.read_text().splitlines()]
    assert [x["source-ref"] for x in lines] == list(setup.truth)[:KNOWN]
    assert all(x[f"{run}-metadata"]["human-annotated"] == "yes" for x in lines)
    with setup.project.session() as session:
        dataset = store.get_dataset(session, result.dataset)
        records = [r for _, r in store.iter_records(session, dataset.id)]
    assert [r.annotations[0].value for r in records] == [
        setup.truth[r.uri] for r in records
    ]
    finished = get_feedback(setup.project, run)
    assert finished.status is RunStatus.COLLECTED and finished.counts == result.counts
    with pytest.raises(AlreadyExists, match="--dataset"):
        collect_feedback(setup.project, run)


def _answer_all(setup: FeedbackSetup, job: str, answers: dict[int, Boxes]) -> None:
    """Submit `answers[item id]` to every task of `job` as the worker ann, 2 s each."""
    with setup.project.session() as session:
        job_id, worker = get_job(session, job).id, get_user(session, "ann").id
    n = 0
    while (task := next_task(setup.project.db, job_id, worker)) is not None:
        n += 1
        submit(setup.project.db, task.task_id, worker, client_id=f"c{n}",
               answer=answers[task.item_id], seconds=2.0)


def test_adjust_run_counts_kept_moved_deleted_and_drawn_boxes(setup: FeedbackSetup) -> None:
    run = _start(setup, mode="adjust", batch_size=10)
    with setup.project.session() as session:
        rows = session.scalars(
            select(AnnotationRow)
            .where(AnnotationRow.attribute == f"{run}-proposals-001")
            .order_by(AnnotationRow.item_id)
        ).all()
        proposals = {row.item_id: store.annotation_from_row(row).value for row in rows}
    answers: dict[int, Boxes] = {}
    first, second, *rest = sorted(proposals)
    kept = proposals[first]
    assert isinstance(kept, Boxes)
    answers[first] = Boxes(kept.boxes)  # every proposal kept as it is
    moved = proposals[second]
    assert isinstance(moved, Boxes) and moved.boxes
    b = moved.boxes[0]
    extra = Box(b.label, 1, 1, 5, 5)
    answers[second] = Boxes((Box(b.label, b.left + 3, b.top, b.width, b.height), extra))
    for item in rest:
        answers[item] = Boxes(())  # every proposal deleted
    _answer_all(setup, f"{run}-batch-001", answers)
    result = collect_feedback(setup.project, run)
    assert isinstance(kept, Boxes)
    deleted = sum(_box_count(proposals[i]) for i in rest) + len(moved.boxes) - 1
    assert result.counts.to_json() == {
        "accepted": len(kept.boxes), "adjusted": 1, "rejected": deleted, "added": 1,
    }
    assert result.images == len(proposals)  # an adjusted image is kept, even with no box
    assert result.human_seconds == pytest.approx(2.0 * len(proposals))


# ---- the report ----------------------------------------------------------------------------


def test_report_trains_v2_from_v1_and_compares_them_on_the_test_set(
    setup: FeedbackSetup,
) -> None:
    run = _start(setup, mode="adjust")
    with pytest.raises(InputError, match=r"not collected yet.*feedback collect"):
        feedback_report(setup.project, run, "test")
    setup.workforce().work(f"{run}-batch-001")
    collect_feedback(setup.project, run)
    report = feedback_report(setup.project, run, "test")
    data = report.to_json()
    assert (data["v1"], data["v2"]) == (MODEL, "shapes.v2")
    assert registry.get_version(setup.project, "shapes.v2").parent == MODEL
    assert data["test_dataset"] == "test"
    metrics = [row["metric"] for row in data["comparison"]["rows"]]
    assert metrics[:4] == ["f1", "precision", "recall", "map50"]
    assert "disc f1" in metrics
    assert 0 < data["human_seconds"] < data["scratch_human_seconds"]
    assert get_feedback(setup.project, run).next_version == "shapes.v2"
    again = feedback_report(setup.project, run, "test")  # V2 is trained once
    assert again.comparison.versions[1].name == "shapes.v2"
    with pytest.raises(NotFound, match="nope"):
        feedback_report(setup.project, run, "nope")
