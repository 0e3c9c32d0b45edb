"""The background worker: it runs the dataset imports queued over HTTP, moves automated-labeling
jobs on once people have labeled what was released to them (train, choose the threshold,
machine-label, release the next batch), closes the jobs whose tasks all expired
untaken, ends the leases that ran out, moves human loops on (completed, expired, stopped),
sends their events to the webhooks and ticks the pipelines' schedules.

A worker process is a huey consumer on the project's task queue (queue.py: a SQLite file in the
home, or Redis) with a few threads, and every `interval_s` it enqueues the round of work due
(`enqueue_round`). Several may run side by side, on one host or (with Redis and PostgreSQL)
on several: each piece of work is claimed in the database (storage/claims.py), so no two
workers run the same iteration, and the work of a worker that died is taken over by another.

Its state is the database's, so a restart resumes where it stopped, and an iteration
interrupted before its commit runs again whole. `truthloop serve` runs a worker in a process of
its own beside the portal (training would otherwise take the portal's interpreter);
`truthloop background` runs one alone. `BackgroundWorker.run_once` does one round in the
calling thread, without the queue (`truthloop background --once`, tests).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from truthloop.labeling.autolabel import Iteration
from truthloop.runtime import DEFAULT_INTERVAL_S, DEFAULT_THREADS
from truthloop.runtime.queue import WorkQueue, enqueue_round, work_queue
from truthloop.runtime.work import (
    FIRST_RETRY_S,
    MAX_RETRY_S,
    Backoff,
    advance_job,
    running_autolabel_jobs,
    sweep,
)
from truthloop.storage.project import Project

__all__ = [
    "DEFAULT_INTERVAL_S",
    "DEFAULT_THREADS",
    "FIRST_RETRY_S",
    "MAX_RETRY_S",
    "BackgroundWorker",
    "run_from_environment",
    "run_worker",
    "start_process",
]

log = logging.getLogger("truthloop.background")



@dataclass
class BackgroundWorker:
    """One round of due work in the calling thread, without the queue (`run_once`): the sweep,
    then the next iteration of every automated-labeling job whose released batch people have
    finished, each under the same claims as the queue's workers take."""

    project: Project
    clock: Callable[[], float] = time.monotonic
    _backoff: Backoff | None = field(default=None, repr=False)

    def run_once(self) -> list[tuple[int, Iteration]]:
        """The iterations run, by job id. A job that fails is logged and left for a later
        round, after its backoff (FIRST_RETRY_S, doubling)."""
        if self._backoff is None:
            self._backoff = Backoff.in_memory(self.clock)
        sweep(self.project)
        done = []
        for job_id in running_autolabel_jobs(self.project):
            iteration = advance_job(self.project, job_id, self._backoff)
            if iteration is not None:
                done.append((job_id, iteration))
        return done


def run_worker(
    project: Project,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    threads: int = DEFAULT_THREADS,
    queue_name: str | None = None,
) -> None:
    """Consume the project's queue with `threads` threads and enqueue a round every
    `interval_s`, until SIGINT (after the tasks under way) or SIGTERM (at once)."""
    queue = work_queue(project, name=queue_name)
    # huey logs every task it runs: a few a round, every few seconds, would bury the work's own
    # lines (its warnings and errors still show).
    logging.getLogger("huey").setLevel(logging.WARNING)
    consumer = queue.huey.create_consumer(workers=threads, worker_type="thread", periodic=True)
    stop = threading.Event()
    rounds = threading.Thread(
        target=_enqueue_rounds, args=(queue, interval_s, stop), name="rounds", daemon=True
    )
    rounds.start()
    try:
        consumer.run()  # huey's own loop: its signal handlers need the main thread
    finally:
        stop.set()


def _enqueue_rounds(queue: WorkQueue, interval_s: float, stop: threading.Event) -> None:
    while True:
        try:
            enqueue_round(queue)
        except Exception:  # a busy database or an unreachable Redis: the next round retries
            log.exception("enqueueing the round of work failed; trying again")
        if stop.wait(interval_s):
            return


def run_from_environment(
    interval_s: float, parent: int | None, threads: int = DEFAULT_THREADS
) -> None:
    """A worker process's entry: the project that TRUTHLOOP_HOME and the other TRUTHLOOP_
    settings name, as `truthloop serve` sets them for its processes. With a `parent`, it ends
    when its parent does, however that ends (uvicorn re-raises the signal that stopped it,
    which leaves the parent no time to stop its children), abandoning an iteration under way:
    its claim is taken over and it runs again whole."""
    if parent is not None:
        threading.Thread(
            target=_exit_with, args=(parent,), name="parent-watch", daemon=True
        ).start()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with Project.open() as project:
        run_worker(project, interval_s=interval_s, threads=threads)


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def start_process(
    interval_s: float = DEFAULT_INTERVAL_S, threads: int = DEFAULT_THREADS
) -> multiprocessing.process.BaseProcess:
    """A background worker in a new process (it reads the project from the environment)."""
    process = multiprocessing.get_context("spawn").Process(
        target=run_from_environment, args=(interval_s, os.getpid(), threads),
        name="truthloop-background", daemon=True,
    )
    process.start()
    log.info("background worker started (pid %s, parent %s)", process.pid, os.getpid())
    return process
