"""The project's task queue (huey): where the background workers take their work from.

The queue is a SQLite file in the project home (`<home>/queue.db`) by default, which the workers
of one host share; with TRUTHLOOP_QUEUE_URL=redis://host:port/db it is Redis, which workers on
several hosts share. Its name is made from the project's database, so projects sharing one
Redis never take each other's tasks.

The tasks:

- `sweep`: the short steps due every round (work.SWEEP);
- `advance_job(job_id)`: one automated-labeling job's next iteration, under the job's claim;
- `pipeline_ticks`: every minute (huey's scheduler), the pipelines' ticks (intake, accrual,
  audits), which hand a due training check to
- `pipeline_training(name)`: a task of its own, so a long training holds up no tick;
- `model_training(request, spec)`: a training asked for from the portal or `POST /api/models`
  (runtime/model_training.py keeps what became of it).

Every worker enqueues a round (a sweep and an `advance_job` per running automated-labeling job)
every few seconds (`enqueue_round`): the work's sub-minute cadence. Two workers enqueueing the
same round is harmless: the claims let one worker do each piece, and a piece done already
(a batch people have not finished, an iteration recorded) does nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey, TaskWrapper

from truthloop.errors import InputError
from truthloop.runtime import work
from truthloop.storage.project import Project

if TYPE_CHECKING:  # the training modules load only when a training is asked for
    from truthloop.ml.training_runs import TrainSpec

QUEUE_FILE = "queue.db"
REDIS_SCHEMES = ("redis://", "rediss://")
# A failed pipeline tick is tried again twice within its minute before the next one is due.
TICK_RETRIES = 2
TICK_RETRY_DELAY_S = 15


@dataclass(frozen=True)
class WorkQueue:
    """A project's huey instance and the tasks registered on it."""

    project: Project
    huey: Huey
    sweep: TaskWrapper
    advance_job: TaskWrapper
    pipeline_ticks: TaskWrapper
    pipeline_training: TaskWrapper
    model_training: TaskWrapper


def queue_name(project: Project) -> str:
    """The queue's name: the project's, as its database tells it (never the URL itself, which
    may hold a password)."""
    return "truthloop-" + hashlib.sha256(project.db.url.encode()).hexdigest()[:12]


def create_huey(project: Project, *, name: str | None = None, immediate: bool = False) -> Huey:
    """The huey instance the project's settings choose (see the module docstring);
    `immediate` runs each task as it is enqueued, in memory (for tests)."""
    url = project.settings.queue_url
    name = name or queue_name(project)
    # Results are not kept: nothing reads them, and in Redis they would pile up.
    if not url:
        return SqliteHuey(
            name, filename=str(project.home / QUEUE_FILE), results=False, immediate=immediate
        )
    if url.startswith(REDIS_SCHEMES):
        return RedisHuey(name, url=url, results=False, immediate=immediate)
    scheme = url.partition("://")[0] if "://" in url else url[:20]
    raise InputError(
        f"TRUTHLOOP_QUEUE_URL ({scheme!r}...): the task queue is Redis (redis://host:port/db or"
        " rediss://...) or, when unset, a SQLite file in the project home"
    )


def work_queue(project: Project, *, name: str | None = None, immediate: bool = False) -> WorkQueue:
    """The project's queue with its tasks, which run on `project`."""
    huey = create_huey(project, name=name, immediate=immediate)
    backoff = shared_backoff(huey)

    @huey.task(name="sweep")
    def sweep() -> None:
        work.sweep(project)

    @huey.task(name="advance_job")
    def advance_job(job_id: int) -> None:
        # No huey retry: a failure sets the job's backoff, and rounds enqueue it again.
        work.advance_job(project, job_id, backoff)

    @huey.periodic_task(
        crontab(minute="*"), name="pipeline_ticks",
        retries=TICK_RETRIES, retry_delay=TICK_RETRY_DELAY_S,
    )
    def pipeline_ticks() -> None:
        # Every worker's scheduler enqueues this each minute: each pipeline's tick is claimed,
        # and a schedule fires once per its frequency, so a second tick starts nothing new.
        from truthloop.pipeline.schedule import tick_all

        tick_all(project, train=pipeline_training)

    @huey.task(name="pipeline_training")
    def pipeline_training(name: str, on_demand: bool = False) -> None:
        # Claimed per pipeline, recorded as a run either way (pipeline/training.py).
        from truthloop.pipeline.training import check_training

        check_training(project, name, on_demand=on_demand)

    @huey.task(name="model_training")
    def model_training(request: str, spec: dict[str, Any]) -> None:
        from truthloop.runtime.model_training import run_request

        run_request(project, huey, request, spec)

    return WorkQueue(
        project, huey, sweep, advance_job, pipeline_ticks, pipeline_training, model_training
    )


def shared_backoff(huey: Huey) -> work.Backoff:
    """The failed jobs' backoff kept in the queue's store, so every worker honours it."""

    def load(key: str) -> tuple[float, float] | None:
        value = huey.get(key, peek=True)
        return (float(value[0]), float(value[1])) if value is not None else None

    def save(key: str, value: tuple[float, float] | None) -> None:
        if value is None:
            huey.get(key)  # reading without peeking removes it
        else:
            huey.put(key, value)

    return work.Backoff(load=load, save=save)


def enqueue_round(queue: WorkQueue) -> int:
    """Enqueue a sweep and an `advance_job` for each running automated-labeling job; how many
    tasks. Nothing while the tasks of an earlier round still wait: behind long trainings the
    workers take tasks slower than rounds come, and the queue must not grow without end."""
    jobs = work.running_autolabel_jobs(queue.project)
    if queue.huey.pending_count() > len(jobs):
        return 0
    queue.sweep()
    for job_id in jobs:
        queue.advance_job(job_id)
    return 1 + len(jobs)


def request_training(project: Project, name: str) -> None:
    """Queue a training check of pipeline `name` on demand (`POST /api/pipelines/{name}/run`):
    a worker runs it as the schedule's, but even with automatic training off."""
    work_queue(project).pipeline_training(name, on_demand=True)


def request_model_training(project: Project, spec: TrainSpec) -> str:
    """Check `spec` (refusing it before anything is queued) and queue its training for a
    worker; the request's id, which `model_training.training_state` follows."""
    from truthloop.ml.training_runs import check_spec
    from truthloop.runtime import model_training

    check_spec(project, spec)
    queue = work_queue(project)
    request = model_training.new_request_id()
    model_training.queued(queue.huey, request, spec)
    queue.model_training(request, spec.to_json())
    return request
