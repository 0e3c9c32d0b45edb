"""The project's task queue: chosen by TRUTHLOOP_QUEUE_URL (a SQLite file in the home, or
Redis), its tasks (the sweep, an automated-labeling job's iteration, the pipelines' ticks) and
the rounds every worker enqueues."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huey import RedisHuey, SqliteHuey

from tests.labeling.conftest import seed
from tests.runtime.test_background import _job
from truthloop.errors import InputError
from truthloop.labeling import get_job
from truthloop.labeling.autolabel import iterations
from truthloop.runtime.queue import QUEUE_FILE, WorkQueue, create_huey, enqueue_round, work_queue
from truthloop.runtime.work import FIRST_RETRY_S, job_claim
from truthloop.storage import claims
from truthloop.storage.project import Project


def test_the_queue_is_a_sqlite_file_in_the_home_unless_a_redis_url_is_set(
    sqlite_project: Project, tmp_path: Path, redis_url: str
) -> None:
    huey = create_huey(sqlite_project)
    assert isinstance(huey, SqliteHuey)
    assert Path(huey.storage.filename) == sqlite_project.home / QUEUE_FILE
    with Project.open(sqlite_project.home, queue_url=redis_url) as on_redis:
        assert isinstance(create_huey(on_redis), RedisHuey)
    with (
        Project.open(sqlite_project.home, queue_url="amqp://user:secret@broker/") as other,
        pytest.raises(InputError, match="TRUTHLOOP_QUEUE_URL") as refused,
    ):
        create_huey(other)
    assert "secret" not in str(refused.value)


def test_advance_job_runs_the_iteration_people_finished(
    sqlite_project: Project, tmp_path: Path
) -> None:
    queue = work_queue(sqlite_project, immediate=True)
    job, crowd = _job(sqlite_project, tmp_path / "img")
    queue.advance_job(job)  # people have not labeled the first batch yet
    with sqlite_project.session() as session:
        assert iterations(session, job) == []
    crowd.work(job)  # type: ignore[attr-defined]
    queue.advance_job(job)
    queue.advance_job(job)  # done already: the next batch waits for people
    with sqlite_project.session() as session:
        assert [i.number for i in iterations(session, job)] == [1]


def test_advance_job_skips_a_job_another_worker_holds(
    sqlite_project: Project, tmp_path: Path
) -> None:
    queue = work_queue(sqlite_project, immediate=True)
    job, crowd = _job(sqlite_project, tmp_path / "img")
    crowd.work(job)  # type: ignore[attr-defined]
    assert claims.try_claim(sqlite_project.db, job_claim(job), lease_s=60, holder="elsewhere:1")
    queue.advance_job(job)
    with sqlite_project.session() as session:
        assert iterations(session, job) == []
    claims.release(sqlite_project.db, job_claim(job), holder="elsewhere:1")
    queue.advance_job(job)
    with sqlite_project.session() as session:
        assert [i.number for i in iterations(session, job)] == [1]


def test_a_failing_job_waits_its_backoff_on_every_worker(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """The backoff is kept in the queue's store: another worker's queue honours it too."""
    queue = work_queue(sqlite_project)
    other = work_queue(sqlite_project)
    job, crowd = _job(sqlite_project, tmp_path / "img")
    crowd.work(job)  # type: ignore[attr-defined]
    shutil.move(tmp_path / "img", tmp_path / "away")  # the model cannot read the images now
    _drain(queue, queue.advance_job.s(job))
    shutil.move(tmp_path / "away", tmp_path / "img")
    _drain(other, other.advance_job.s(job))  # not due again yet
    with sqlite_project.session() as session:
        assert iterations(session, job) == []
    due_at, wait = queue.huey.get(f"retry:{job_claim(job)}", peek=True)
    assert wait == FIRST_RETRY_S
    queue.huey.put(f"retry:{job_claim(job)}", (due_at - FIRST_RETRY_S - 1, wait))  # time passes
    _drain(other, other.advance_job.s(job))
    with sqlite_project.session() as session:
        assert [i.number for i in iterations(session, job)] == [1]
    assert queue.huey.get(f"retry:{job_claim(job)}", peek=True) is None


def test_the_sweep_closes_jobs_whose_tasks_expired(sqlite_project: Project) -> None:
    import time

    queue = work_queue(sqlite_project, immediate=True)
    job = seed(sqlite_project).job(task_lifetime_s=1)
    time.sleep(1.2)
    queue.sweep()
    with sqlite_project.session() as session:
        assert get_job(session, job).status == "completed"


def test_pipeline_ticks_hand_training_checks_to_a_task_of_their_own(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthloop.pipeline import schedule, training

    ticked: list[Project] = []
    checked: list[str] = []

    def tick_all(project: Project, *, now: object = None, train: Any = None) -> list[object]:
        ticked.append(project)
        train("logos")  # a training check fell due
        return []

    monkeypatch.setattr(schedule, "tick_all", tick_all)
    def check_training(project: Project, name: str, *, on_demand: bool = False) -> None:
        checked.append(f"{name}{' on demand' if on_demand else ''}")

    monkeypatch.setattr(training, "check_training", check_training)
    queue = work_queue(sqlite_project, immediate=True)
    queue.pipeline_ticks()
    assert ticked == [sqlite_project]
    assert checked == ["logos"]
    assert queue.pipeline_ticks.s().retries > 0  # a failed tick is tried again


@pytest.fixture
def redis_queue(tmp_path: Path, redis_url: str) -> Iterator[WorkQueue]:
    with Project.init(tmp_path / "home", queue_url=redis_url) as project:
        queue = work_queue(project, name=f"truthloop-test-{uuid.uuid4().hex[:12]}")
        try:
            yield queue
        finally:
            queue.huey.flush()


def test_a_round_on_redis_enqueues_the_sweep_and_each_running_job(
    redis_queue: WorkQueue, tmp_path: Path
) -> None:
    project = redis_queue.project
    job, crowd = _job(project, tmp_path / "img")
    crowd.work(job)  # type: ignore[attr-defined]
    assert enqueue_round(redis_queue) == 2
    assert redis_queue.huey.pending_count() == 2
    # Another worker's round while this one's waits adds nothing: the queue stays bounded.
    assert enqueue_round(work_queue(project, name=redis_queue.huey.name)) == 0
    names = _drain(redis_queue)
    assert names == ["sweep", "advance_job"]
    with project.session() as session:
        assert [i.number for i in iterations(session, job)] == [1]


def _drain(queue: WorkQueue, *tasks: object) -> list[str]:
    """Enqueue `tasks`, then run every waiting task as a consumer's worker would; their
    names."""
    for task in tasks:
        queue.huey.enqueue(task)
    ran = []
    while (task := queue.huey.dequeue()) is not None:
        queue.huey.execute(task)
        ran.append(task.name)
    return ran
