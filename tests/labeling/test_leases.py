from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.labeling.conftest import ITEMS, Lab, later
from truthloop.core.types import Box, Boxes, Classification, MultiLabel
from truthloop.errors import (
    BoxOutsideImage,
    InputError,
    LeaseExpired,
    NotFound,
    PermissionDenied,
    UnknownLabel,
)
from truthloop.labeling import TaskType, get_task, next_task, release, submit
from truthloop.storage.tables import SubmissionRow, TaskRow


def _count(lab: Lab, table: type) -> int:
    with lab.project.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_worker_gets_a_lease_then_submits_and_the_seconds_are_kept(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=60)
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    assert (task.job_id, task.task_type) == (job, TaskType.CLASSIFICATION)
    assert task.labels == ("cat", "dog")
    assert (task.width, task.height, task.image_uri) == (640, 480, "/images/000.jpg")
    assert task.lease_expires_at.tzinfo is not None
    assert 55 <= (task.lease_expires_at - later(0)).total_seconds() <= 60
    result = submit(lab.db, task.task_id, alice, client_id="c1", answer=Classification("dog"),
                    seconds=4.25)
    assert (result.accepted, result.duplicate, result.item_done) == (True, False, True)
    with lab.project.session() as session:
        row = session.scalar(select(SubmissionRow))
        assert row is not None
        assert (row.seconds, row.late, row.answer["label"]) == (4.25, False, "dog")
        assert row.leased_at <= row.submitted_at


def test_an_expired_lease_returns_the_task(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=30, workers_per_item=1)
    alice, bob = lab.users["alice"], lab.users["bob"]
    held = [next_task(lab.db, job, alice) for _ in range(ITEMS)]
    assert all(held) and next_task(lab.db, job, bob) is None
    again = next_task(lab.db, job, bob, now=later(31))
    assert again is not None and again.task_id == held[0].task_id  # type: ignore[union-attr]


def test_a_worker_never_gets_the_same_item_twice(lab: Lab) -> None:
    job = lab.job(workers_per_item=3, task_time_limit_s=30)
    alice = lab.users["alice"]
    items = []
    while (task := next_task(lab.db, job, alice)) is not None:
        items.append(task.item_id)
        release(lab.db, task.task_id, alice)
    assert sorted(items) == sorted(set(items)) and len(items) == ITEMS
    # Not after the leases run out either, nor once the others have done their slots.
    assert next_task(lab.db, job, alice, now=later(3600)) is None


def test_max_concurrent_tasks_per_worker(lab: Lab) -> None:
    job = lab.job(max_concurrent_tasks=2, workers_per_item=2)
    alice, bob = lab.users["alice"], lab.users["bob"]
    first, second = next_task(lab.db, job, alice), next_task(lab.db, job, alice)
    assert first and second and next_task(lab.db, job, alice) is None
    assert next_task(lab.db, job, bob) is not None  # the limit is per worker
    submit(lab.db, first.task_id, alice, client_id="a", answer=Classification("cat"), seconds=1)
    assert next_task(lab.db, job, alice) is not None


def test_a_retried_submit_is_stored_once(lab: Lab) -> None:
    """The first submit commits and its response is lost; the client retries the same id."""
    job = lab.job(workers_per_item=2)
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    submit(lab.db, task.task_id, alice, client_id="x-1", answer=Classification("cat"), seconds=3)
    retry = submit(lab.db, task.task_id, alice, client_id="x-1", answer=Classification("cat"),
                   seconds=3)
    assert (retry.accepted, retry.duplicate, retry.item_done) == (True, True, False)
    assert _count(lab, SubmissionRow) == 1
    with pytest.raises(InputError, match="already answered"):
        submit(lab.db, task.task_id, alice, client_id="x-2", answer=Classification("cat"),
               seconds=3)
    other = next_task(lab.db, job, alice)
    assert other is not None
    with pytest.raises(InputError, match="client id 'x-1' was already used"):
        submit(lab.db, other.task_id, alice, client_id="x-1", answer=Classification("cat"),
               seconds=3)


def test_a_late_submit_is_kept_when_nobody_else_answered(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=10)
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    result = submit(lab.db, task.task_id, alice, client_id="late", answer=Classification("dog"),
                    seconds=40, now=later(40))
    assert result.accepted and not result.duplicate
    with lab.project.session() as session:
        assert session.scalar(select(SubmissionRow.late)) is True


def test_a_late_submit_is_refused_when_another_worker_answered(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=10)
    alice, bob = lab.users["alice"], lab.users["bob"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    taken = next_task(lab.db, job, bob, now=later(11))
    assert taken is not None and taken.task_id == task.task_id
    submit(lab.db, task.task_id, bob, client_id="b", answer=Classification("cat"), seconds=2,
           now=later(12))
    with pytest.raises(LeaseExpired, match=r"lease ran out.*another worker has answered"):
        submit(lab.db, task.task_id, alice, client_id="a", answer=Classification("dog"),
               seconds=20, now=later(20))
    assert _count(lab, SubmissionRow) == 1


def test_the_current_holder_is_told_when_a_late_answer_took_the_slot(lab: Lab) -> None:
    job = lab.job(task_time_limit_s=10)
    alice, bob = lab.users["alice"], lab.users["bob"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    assert next_task(lab.db, job, bob, now=later(11)) is not None
    submit(lab.db, task.task_id, alice, client_id="a", answer=Classification("dog"), seconds=12,
           now=later(12))
    with pytest.raises(LeaseExpired, match="answered by another worker whose earlier lease"):
        submit(lab.db, task.task_id, bob, client_id="b", answer=Classification("cat"),
               seconds=2, now=later(13))


def test_a_worker_of_another_team_cannot_get_open_or_submit_a_task(lab: Lab) -> None:
    job = lab.job()
    mallory = lab.users["mallory"]
    # The same answer as for a job or task that does not exist: nothing about another team's.
    with pytest.raises(NotFound, match=f"^no job {job}$"):
        next_task(lab.db, job, mallory)
    task = next_task(lab.db, job, lab.users["alice"])
    assert task is not None
    with lab.project.session() as session, pytest.raises(NotFound, match=r"^no task"):
        get_task(session, task.task_id, mallory)
    with pytest.raises(NotFound, match=f"^no task {task.task_id}$"):
        submit(lab.db, task.task_id, mallory, client_id="m", answer=Classification("cat"),
               seconds=1)
    with pytest.raises(NotFound, match=f"^no task {task.task_id}$"):
        release(lab.db, task.task_id, mallory)


def test_a_worker_opens_only_their_own_tasks(lab: Lab) -> None:
    job = lab.job()
    alice, bob = lab.users["alice"], lab.users["bob"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    with lab.project.session() as session:
        assert get_task(session, task.task_id, alice) == task
        with pytest.raises(PermissionDenied, match="not leased to you"):
            get_task(session, task.task_id, bob)
        with pytest.raises(NotFound):
            get_task(session, 10_000, alice)
    with pytest.raises(PermissionDenied, match="not leased to you"):
        submit(lab.db, task.task_id, bob, client_id="b", answer=Classification("cat"), seconds=1)
    with pytest.raises(PermissionDenied):
        release(lab.db, task.task_id, bob)


def test_a_released_task_goes_to_someone_else(lab: Lab) -> None:
    job = lab.job()
    alice, bob = lab.users["alice"], lab.users["bob"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    release(lab.db, task.task_id, alice)
    release(lab.db, task.task_id, alice)  # a second release changes nothing
    again = next_task(lab.db, job, bob)
    assert again is not None and again.task_id == task.task_id


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (Boxes((Box("dog", -5, 10, 50, 50),)), BoxOutsideImage, r"box 1 \(dog\).*outside"),
        (Boxes((Box("dog", 600, 10, 50, 50),)), BoxOutsideImage, "outside the 640x480 image"),
        (Boxes((Box("dog", 10, 10, -5, 50),)), InputError, "at least 1 pixel wide and high"),
        (Boxes((Box("dog", 10, 10, 1e-300, 50),)), InputError, r"is 1e-300x50 pixels; a box"),
        (Boxes((Box("dog", 10, 10, 0.99, 1),)), InputError, "at least 1 pixel wide and high"),
        (Boxes((Box("dog", 10, 10, float("nan"), 5),)), InputError, "not numbers"),
        (Boxes((Box("bird", 10, 10, 5, 5),)), UnknownLabel, "'bird' is not one of"),
        (Classification("dog"), InputError, "answered with Boxes, not Classification"),
    ],
)
def test_bad_box_answers_are_refused_and_nothing_is_stored(
    sqlite_lab: Lab, answer: Boxes, error: type[Exception], message: str
) -> None:
    lab = sqlite_lab
    job = lab.job(task_type=TaskType.BOUNDING_BOX)
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    with pytest.raises(error, match=message):
        submit(lab.db, task.task_id, alice, client_id="c", answer=answer, seconds=1)
    assert _count(lab, SubmissionRow) == 0
    # The lease is untouched: a corrected answer goes through.
    fixed = Boxes((Box("dog", 0, 0, 640, 480),))
    assert submit(lab.db, task.task_id, alice, client_id="c", answer=fixed, seconds=1).accepted


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"client_id": ""}, "client id of 1 to 128"),
        ({"client_id": "x" * 129}, "client id of 1 to 128"),
        ({"seconds": -1}, "seconds spent must be a number >= 0"),
        ({"seconds": float("inf")}, "seconds spent"),
        ({"answer": Classification("bird")}, "'bird' is not one of the job's labels"),
        ({"answer": MultiLabel(("cat",))}, "answered with Classification, not MultiLabel"),
    ],
)
def test_bad_submits_are_refused(sqlite_lab: Lab, kwargs: dict, message: str) -> None:
    lab = sqlite_lab
    job = lab.job()
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice)
    assert task is not None
    args = {"client_id": "c", "answer": Classification("cat"), "seconds": 1.0} | kwargs
    with pytest.raises(InputError, match=message):
        submit(lab.db, task.task_id, alice, **args)
    assert _count(lab, SubmissionRow) == 0


def test_unknown_tasks_and_jobs_are_named(sqlite_lab: Lab) -> None:
    with pytest.raises(NotFound, match="no job 99"):
        next_task(sqlite_lab.db, 99, sqlite_lab.users["alice"])
    with pytest.raises(NotFound, match="no task 99"):
        submit(sqlite_lab.db, 99, sqlite_lab.users["alice"], client_id="c",
               answer=Classification("cat"), seconds=1)


def test_tasks_past_their_lifetime_are_not_handed_out(sqlite_lab: Lab) -> None:
    job = sqlite_lab.job(task_lifetime_s=60)
    assert next_task(sqlite_lab.db, job, sqlite_lab.users["alice"], now=later(61)) is None
    assert next_task(sqlite_lab.db, job, sqlite_lab.users["alice"], now=later(30)) is not None
    with sqlite_lab.project.session() as session:
        assert session.scalar(select(func.count()).select_from(TaskRow)) == ITEMS
