"""The background work itself, whoever runs it (the queue's tasks, in queue.py, or the
synchronous `BackgroundWorker.run_once`, in background.py):

- the sweep: short steps due every round (queued imports, ran-out leases, expired jobs, human
  loops, review webhooks), each under a claim of its own, so that of several workers one at a
  time runs a step and a long import holds up nothing else;
- `advance_job`: one automated-labeling job's next iteration, under the job's claim, so that no
  two workers train the same iteration, and after a failure not again before its backoff.

Every piece keeps its state in the database, so it is safe to ask for twice: a second worker
finds the claim held, or the work already done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from truthloop.datasets import queued
from truthloop.labeling import close_expired_jobs
from truthloop.labeling.autolabel import Iteration, advance
from truthloop.labeling.jobs import JobStatus
from truthloop.labeling.tasks import end_ran_out_leases
from truthloop.pipeline.notify import deliver_due as deliver_notifications
from truthloop.review.loops import advance_loops
from truthloop.review.webhooks import deliver_due
from truthloop.storage import claims
from truthloop.storage.project import Project
from truthloop.storage.tables import AutoLabelJobRow, JobRow

log = logging.getLogger("truthloop.background")

# A job whose iteration failed is tried again after this, doubling up to MAX_RETRY_S: a job that
# cannot train yet (say, its labels cover one class) must not retrain every few seconds.
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 1800.0
# Leases, renewed while the work goes on (storage/claims.py): they bound how long a worker that
# died on another host holds its work; one that died on this host releases it at once.
SWEEP_LEASE_S = 120.0
ITERATION_LEASE_S = 60.0


def _imports(project: Project) -> None:
    # Under this step's claim no other worker runs an import: one left running was abandoned by
    # a worker that stopped, and stored nothing (one transaction), so it runs again whole.
    if resumed := queued.resume(project):
        log.info("imports: %s left running by a stopped worker queued again", resumed)
    while (import_id := queued.run_next(project)) is not None:
        log.info("import %s: finished", import_id)


def _leases_and_expired_jobs(project: Project) -> None:
    with project.session() as session:
        end_ran_out_leases(session)
        for name in close_expired_jobs(session):
            log.info("job %s: completed, its tasks' availability lifetime ran out", name)


def _human_loops(project: Project) -> None:
    if moved := advance_loops(project):
        log.info("human loops: %s moved on", moved)


# The sweep's steps, in order: (name, which also names its claim, and what it runs).
SWEEP: list[tuple[str, Callable[[Project], object]]] = [
    ("dataset-imports", _imports),
    ("leases-and-expired-jobs", _leases_and_expired_jobs),
    ("human-loops", _human_loops),
    ("review-webhooks", deliver_due),
    ("pipeline-notifications", deliver_notifications),
]


def sweep(project: Project) -> None:
    """Run each step of SWEEP that no other worker is running now. A step that fails is logged
    and left for the next round: none stops the others."""
    for name, step in SWEEP:
        try:
            with claims.exclusive(project.db, f"sweep:{name}", lease_s=SWEEP_LEASE_S):
                step(project)
        except claims.ClaimHeld as held:
            log.debug("sweep: %s", held)
        except Exception:
            log.exception("sweep: %s failed; trying again next round", name)


def running_autolabel_jobs(project: Project) -> list[int]:
    with project.session() as session:
        return list(
            session.scalars(
                select(JobRow.id)
                .join(AutoLabelJobRow, AutoLabelJobRow.job_id == JobRow.id)
                .where(JobRow.status == JobStatus.IN_PROGRESS)
                .order_by(JobRow.id)
            )
        )


def job_claim(job_id: int) -> str:
    return f"autolabel-job:{job_id}"


@dataclass
class Backoff:
    """When a job whose iteration failed may run again: FIRST_RETRY_S after its first failure,
    twice as long after each next one, up to MAX_RETRY_S. The state, (due at, last wait) by
    job, is kept through `load` and `save`: a dict in one process (`in_memory`), or the
    queue's store, which every worker shares (queue.py)."""

    load: Callable[[str], tuple[float, float] | None]
    save: Callable[[str, tuple[float, float] | None], None]
    clock: Callable[[], float] = time.time

    @classmethod
    def in_memory(cls, clock: Callable[[], float] = time.monotonic) -> Backoff:
        book: dict[str, tuple[float, float]] = {}

        def save(key: str, value: tuple[float, float] | None) -> None:
            if value is None:
                book.pop(key, None)
            else:
                book[key] = value

        return cls(load=book.get, save=save, clock=clock)

    def due(self, job_id: int) -> bool:
        retry = self.load(_retry_key(job_id))
        return retry is None or self.clock() >= retry[0]

    def failed(self, job_id: int) -> float:
        """Record a failure; the seconds until the job is due again."""
        retry = self.load(_retry_key(job_id))
        wait = min(retry[1] * 2, MAX_RETRY_S) if retry else FIRST_RETRY_S
        self.save(_retry_key(job_id), (self.clock() + wait, wait))
        return wait

    def succeeded(self, job_id: int) -> None:
        if self.load(_retry_key(job_id)) is not None:
            self.save(_retry_key(job_id), None)


def _retry_key(job_id: int) -> str:
    return f"retry:{job_claim(job_id)}"


def advance_job(project: Project, job_id: int, backoff: Backoff) -> Iteration | None:
    """Run the job's next iteration if people have finished its released batch, unless another
    worker holds the job or a failure's backoff has not passed; the iteration run, if any. A
    failure is logged and delays the job's next try (`Backoff`)."""
    if not backoff.due(job_id):
        return None
    try:
        with claims.exclusive(project.db, job_claim(job_id), lease_s=ITERATION_LEASE_S):
            iteration = advance(project, job_id)
    except claims.ClaimHeld as held:
        log.debug("job %s: another worker has it: %s", job_id, held)
        return None
    except Exception:
        wait = backoff.failed(job_id)
        log.exception("job %s: the automated-labeling iteration failed; retry in %.0f s",
                      job_id, wait)
        return None
    backoff.succeeded(job_id)
    if iteration is not None:
        log.info("job %s: iteration %s machine-labeled %s, %s left", job_id,
                 iteration.number, iteration.machine_labeled, iteration.remaining)
    return iteration
