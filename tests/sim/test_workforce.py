"""The simulated workforce answers real tasks through next_task/submit, from hidden truth."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from truthloop.core.effort import ActionSeconds, manual_seconds
from truthloop.core.serialize import value_from_json
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Value,
)
from truthloop.errors import NotFound
from truthloop.labeling import JobSpec, TaskType, create_job, job_progress
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import AnnotationRow, SubmissionRow

SIZE = ImageSize(100, 80)
CLASSES = {f"/img/{n}.jpg": Classification("cat" if n % 2 else "dog") for n in range(6)}
BOXES: dict[str, Value] = {
    "/img/0.jpg": Boxes((Box("cat", 10, 10, 30, 20), Box("dog", 50, 30, 40, 40))),
    "/img/1.jpg": Boxes(()),
    "/img/2.jpg": Boxes((Box("dog", 5, 5, 20, 20),)),
}


def _dataset(project: Project, uris: list[str], proposals: dict[str, Value] | None = None) -> None:
    with project.session() as session:
        dataset = store.create_dataset(session, "pets", LabelSet.from_names(["cat", "dog"]))
        records = [
            ImageRecord(
                uri,
                SIZE,
                (Annotation(proposals[uri], attribute="model"),) if proposals else (),
            )
            for uri in uris
        ]
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])


def _job(project: Project, task_type: TaskType, **terms: object) -> int:
    spec = JobSpec(name="j", dataset="pets", task_type=task_type, team="sim", **terms)  # type: ignore[arg-type]
    with project.session() as session:
        return create_job(session, spec).id


def _labels(project: Project) -> dict[int, Value]:
    with project.session() as session:
        rows = session.scalars(select(AnnotationRow).where(AnnotationRow.attribute == "j"))
        return {r.item_id: value_from_json(r.kind, r.value) for r in rows}


def test_perfect_workers_classify_every_image_right_through_the_task_queue(
    sqlite_project: Project,
) -> None:
    _dataset(sqlite_project, list(CLASSES))
    crowd = SimulatedWorkforce(
        sqlite_project,
        CLASSES,
        [WorkerProfile("w1", class_error_rate=0.0), WorkerProfile("w2", class_error_rate=0.0)],
        team="sim",
    )
    job = _job(sqlite_project, TaskType.CLASSIFICATION)
    summary = crowd.work(job)
    assert summary.tasks == 6
    assert summary.seconds == pytest.approx(6 * (1.0 + 3.0))
    assert summary.actions == {"classify": 6}
    assert set(summary.per_worker) == {"w1", "w2"}  # round robin
    with sqlite_project.session() as session:
        assert job_progress(session, job).done == 6
        stored = session.scalars(select(SubmissionRow.seconds)).all()
    assert sum(stored) == pytest.approx(summary.seconds)
    truth_labels = sorted(v.label for v in CLASSES.values())
    assert sorted(v.label for v in _labels(sqlite_project).values()) == truth_labels  # type: ignore[union-attr]


def test_error_rate_one_always_gives_a_wrong_class(sqlite_project: Project) -> None:
    _dataset(sqlite_project, list(CLASSES))
    crowd = SimulatedWorkforce(
        sqlite_project, CLASSES, [WorkerProfile("w", class_error_rate=1.0)], team="sim"
    )
    job = _job(sqlite_project, TaskType.CLASSIFICATION)
    assert crowd.work(job, max_tasks=4).tasks == 4
    with sqlite_project.session() as session:
        uris = dict(session.execute(select(store.ItemRow.id, store.ItemRow.uri)).all())
    wrong = [CLASSES[uris[i]] != v for i, v in _labels(sqlite_project).items()]
    assert wrong == [True] * 4


def test_boxes_are_drawn_near_the_truth_and_cost_seven_seconds_each(
    sqlite_project: Project,
) -> None:
    _dataset(sqlite_project, list(BOXES))
    crowd = SimulatedWorkforce(
        sqlite_project, BOXES, [WorkerProfile("w", class_error_rate=0.0)], team="sim"
    )
    job = _job(sqlite_project, TaskType.BOUNDING_BOX)
    summary = crowd.work(job)
    assert summary.actions == {"draw_box": 3}
    assert summary.seconds == pytest.approx(3 * 1.0 + 3 * 7.0)
    drawn = sorted(len(v.boxes) for v in _labels(sqlite_project).values())  # type: ignore[union-attr]
    assert drawn == [0, 1, 2]
    assert manual_seconds(BOXES.values()) == pytest.approx(summary.seconds)
    assert manual_seconds(BOXES.values(), traditional_boxes=True) == pytest.approx(3 + 3 * 35)


def test_verification_rejects_a_wrong_proposal_with_a_reason(sqlite_project: Project) -> None:
    proposals: dict[str, Value] = {
        "/img/0.jpg": Classification("cat"),  # truth dog: wrong
        "/img/1.jpg": Classification("cat"),  # truth cat: right
    }
    _dataset(sqlite_project, list(proposals), proposals)
    crowd = SimulatedWorkforce(
        sqlite_project, CLASSES, [WorkerProfile("w", class_error_rate=0.0)], team="sim"
    )
    job = _job(sqlite_project, TaskType.VERIFICATION, proposals="model")
    summary = crowd.work(job)
    assert summary.actions == {"verify_label": 2}
    verdicts = sorted(
        (v.verdict, v.comments) for v in _labels(sqlite_project).values()  # type: ignore[union-attr]
    )
    assert verdicts == [("correct", ()), ("incorrect", ("the image shows dog",))]


def test_adjustment_keeps_good_boxes_fixes_bad_ones_and_adds_missed_ones(
    sqlite_project: Project,
) -> None:
    proposals: dict[str, Value] = {
        "/img/0.jpg": Boxes(
            (
                Box("cat", 10, 10, 30, 20, 0.9),  # right: kept
                Box("cat", 60, 60, 5, 5, 0.4),  # nothing there: deleted
            )
        ),  # the dog is missed: drawn
        "/img/2.jpg": Boxes((Box("cat", 5, 5, 20, 20, 0.8),)),  # wrong label: fixed
    }
    _dataset(sqlite_project, list(proposals), proposals)
    crowd = SimulatedWorkforce(
        sqlite_project, BOXES, [WorkerProfile("w", class_error_rate=0.0, box_jitter=0)],
        team="sim",
    )
    job = _job(sqlite_project, TaskType.ADJUSTMENT, proposals="model")
    summary = crowd.work(job)
    assert summary.actions == {"verify_box": 3, "adjust_box": 1, "draw_box": 1}
    seconds = ActionSeconds()
    assert summary.seconds == pytest.approx(
        2 * seconds.overhead + 3 * seconds.verify_box + seconds.adjust_box + seconds.draw_box
    )
    answers = {len(v.boxes): v for v in _labels(sqlite_project).values()}  # type: ignore[union-attr]
    assert {(b.label, b.left) for b in answers[2].boxes} == {("cat", 10), ("dog", 50)}  # type: ignore[union-attr]
    assert [b.label for b in answers[1].boxes] == ["dog"]  # type: ignore[union-attr]


def test_missing_truth_is_a_clear_error(sqlite_project: Project) -> None:
    _dataset(sqlite_project, ["/img/9.jpg"])
    crowd = SimulatedWorkforce(sqlite_project, CLASSES, [WorkerProfile("w")], team="sim")
    job = _job(sqlite_project, TaskType.CLASSIFICATION)
    with pytest.raises(NotFound, match=r"/img/9\.jpg"):
        crowd.work(job)


def test_no_workers_is_refused(sqlite_project: Project) -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        SimulatedWorkforce(sqlite_project, CLASSES, [], team="sim")


def test_enrolling_twice_reuses_the_users(sqlite_project: Project) -> None:
    first = SimulatedWorkforce(sqlite_project, CLASSES, [WorkerProfile("w")], team="sim")
    again = SimulatedWorkforce(sqlite_project, CLASSES, [WorkerProfile("w")], team="sim")
    assert first.user_ids == again.user_ids


def test_proposed_boxes_in_a_drawing_task_are_checked_rather_than_drawn_again(
    sqlite_project: Project,
) -> None:
    """A bounding-box job that shows a model's boxes (automated labeling pre-annotates) costs
    a glance per right box; what the model missed is drawn."""
    proposals: dict[str, Value] = {
        "/img/0.jpg": Boxes((Box("cat", 10, 10, 30, 20, 0.9),)),  # the dog is missed
        "/img/2.jpg": Boxes((Box("dog", 5, 5, 20, 20, 0.8),)),
    }
    _dataset(sqlite_project, list(proposals), proposals)
    crowd = SimulatedWorkforce(
        sqlite_project, BOXES, [WorkerProfile("w", class_error_rate=0.0, box_jitter=0)],
        team="sim",
    )
    summary = crowd.work(_job(sqlite_project, TaskType.BOUNDING_BOX, proposals="model"))
    assert summary.actions == {"verify_box": 2, "draw_box": 1}
    seconds = ActionSeconds()
    assert summary.seconds == pytest.approx(
        2 * seconds.overhead + 2 * seconds.verify_box + seconds.draw_box
    )
    assert summary.seconds < manual_seconds([BOXES[uri] for uri in proposals])
    answers = sorted(len(v.boxes) for v in _labels(sqlite_project).values())  # type: ignore[union-attr]
    assert answers == [1, 2]


def test_a_suggested_class_is_accepted_when_right_and_replaced_when_wrong(
    sqlite_project: Project,
) -> None:
    proposals: dict[str, Value] = {
        "/img/0.jpg": Classification("cat", 0.7),  # truth dog: classified by hand
        "/img/1.jpg": Classification("cat", 0.9),  # right: accepted
    }
    _dataset(sqlite_project, list(proposals), proposals)
    crowd = SimulatedWorkforce(
        sqlite_project, CLASSES, [WorkerProfile("w", class_error_rate=0.0)], team="sim"
    )
    summary = crowd.work(_job(sqlite_project, TaskType.CLASSIFICATION, proposals="model"))
    assert summary.actions == {"verify_label": 1, "classify": 1}
    assert sorted(v.label for v in _labels(sqlite_project).values()) == ["cat", "dog"]  # type: ignore[union-attr]
