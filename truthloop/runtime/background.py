"""The background worker: it runs the dataset imports queued over HTTP, moves automated-labeling
jobs on once people have labeled what was released to them (train, choose the threshold,
machine-label, release the next batch), closes the jobs whose tasks all expired
untaken, ends the leases that ran out, moves human loops on (completed, expired, stopped) and
sends their events to the webhooks.

Its state is the database's: each round it asks which jobs are due and runs their next
iteration, so a restart resumes where it stopped, and an iteration interrupted before its commit
runs again whole. `truthloop serve` runs it in a process of its own beside the portal (training
would otherwise take the portal's interpreter); `truthloop background` runs it alone. Run one per
project: two would train the same iteration twice.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from truthloop.datasets import queued
from truthloop.labeling import close_expired_jobs
from truthloop.labeling.autolabel import Iteration, advance
from truthloop.labeling.jobs import JobStatus
from truthloop.labeling.tasks import end_ran_out_leases
from truthloop.review.loops import advance_loops
from truthloop.review.webhooks import deliver_due
from truthloop.storage.project import Project
from truthloop.storage.tables import AutoLabelJobRow, JobRow

log = logging.getLogger("truthloop.background")

# A job whose iteration failed is tried again after this, doubling up to MAX_RETRY_S: a job that
# cannot train yet (say, its labels cover one class) must not retrain every few seconds.
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 1800.0


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


@dataclass
class BackgroundWorker:
    """One round of due work at a time (`run_once`), or rounds until stopped (`run`)."""

    project: Project
    interval_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _retry_at: dict[int, tuple[float, float]] = field(default_factory=dict)
    _resumed: bool = False

    def run_once(self) -> list[tuple[int, Iteration]]:
        """Close the jobs whose tasks all expired untaken, move human loops on and send their
        events to the webhooks (`_review_round`), and run the next iteration of every
        automated-labeling job whose released batch people have finished; the iterations run,
        by job id. A job that fails is logged and left for a later round."""
        if not self._resumed:
            # An import a stopped worker left running stored nothing: it runs again whole.
            queued.resume(self.project)
            self._resumed = True
        while (import_id := queued.run_next(self.project)) is not None:
            log.info("import %s: finished", import_id)
        with self.project.session() as session:
            end_ran_out_leases(session)
            for name in close_expired_jobs(session):
                log.info("job %s: completed, its tasks' availability lifetime ran out", name)
        self._review_round()
        done = []
        for job_id in running_autolabel_jobs(self.project):
            retry = self._retry_at.get(job_id)
            if retry is not None and self.clock() < retry[0]:
                continue
            try:
                iteration = advance(self.project, job_id)
            except Exception:
                wait = min(retry[1] * 2, MAX_RETRY_S) if retry else FIRST_RETRY_S
                self._retry_at[job_id] = (self.clock() + wait, wait)
                log.exception("job %s: the automated-labeling iteration failed; retry in %.0f s",
                              job_id, wait)
                continue
            self._retry_at.pop(job_id, None)
            if iteration is not None:
                log.info("job %s: iteration %s machine-labeled %s, %s left", job_id,
                         iteration.number, iteration.machine_labeled, iteration.remaining)
                done.append((job_id, iteration))
        return done

    def _review_round(self) -> None:
        """Move human loops on, then send the due webhook deliveries (those events included).
        Each is logged and left for the next round when it fails: neither stops the worker."""
        try:
            if moved := advance_loops(self.project):
                log.info("human loops: %s moved on", moved)
        except Exception:
            log.exception("human loops: moving them on failed; trying again next round")
        try:
            deliver_due(self.project)
        except Exception:
            log.exception("webhooks: delivering events failed; trying again next round")

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            self.run_once()
            stop.wait(self.interval_s)


def run_from_environment(interval_s: float, parent: int) -> None:
    """The background process's entry: the project that TRUTHLOOP_HOME and the other
    TRUTHLOOP_ settings name, as `truthloop serve` sets them for its processes. It ends when
    its parent does, however that ends (uvicorn re-raises the signal that stopped it, which
    leaves the parent no time to stop its children), abandoning an iteration under way: that
    one runs again whole next time."""
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with Project.open() as project:
        BackgroundWorker(project, interval_s=interval_s).run()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def start_process(interval_s: float = 5.0) -> multiprocessing.process.BaseProcess:
    """The background worker in a new process (it reads the project from the environment)."""
    process = multiprocessing.get_context("spawn").Process(
        target=run_from_environment, args=(interval_s, os.getpid()), name="truthloop-background",
        daemon=True,
    )
    process.start()
    log.info("background worker started (pid %s, parent %s)", process.pid, os.getpid())
    return process
