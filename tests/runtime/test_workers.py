"""Two worker processes side by side (PostgreSQL and a Redis queue): each automated-labeling
iteration runs once, and when the worker training one is killed (kill -9) the other finishes
that iteration, which is still recorded once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from huey import RedisHuey
from sqlalchemy import select

from tests.labeling.colours import colour_dataset, colour_images, job_spec, workforce
from tests.runtime.test_background import TERMS
from tests.services import postgres_database
from truthloop.labeling.autolabel import create_autolabel_job, iterations
from truthloop.ml.versions import VersionStatus
from truthloop.runtime.queue import queue_name
from truthloop.sim.workforce import SimulatedWorkforce
from truthloop.storage.project import Project
from truthloop.storage.tables import ModelVersionRow

REPOSITORY = Path(__file__).parents[2]
SLOW_FIT_S = 3.0
COMPLETED = VersionStatus.TRAINING_COMPLETED.value
T = TypeVar("T")


@contextmanager
def _workers(project: Project, logs: list[Path]) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {**os.environ, "TRUTHLOOP_HOME": str(project.home),
           "TRUTHLOOP_DATABASE_URL": project.db.url,
           "TRUTHLOOP_QUEUE_URL": str(project.settings.queue_url),
           "SLOW_FIT_S": str(SLOW_FIT_S), "PYTHONPATH": str(REPOSITORY)}
    workers = []
    for log in logs:
        with log.open("wb") as out:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "tests.runtime.slow_worker"], cwd=REPOSITORY, env=env,
                stdout=out, stderr=subprocess.STDOUT,
            ))
    try:
        yield workers
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=30)
        RedisHuey(queue_name(project), url=project.settings.queue_url).flush()


def _wait_for(what: str, found: Callable[[], T | None], logs: list[Path], within: float) -> T:
    deadline = time.monotonic() + within
    while (value := found()) is None:
        if time.monotonic() > deadline:
            told = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
            pytest.fail(f"{what}: not within {within:.0f} s\n{told}")
        time.sleep(0.2)
    return value


def _job(project: Project, folder: Path) -> tuple[int, SimulatedWorkforce]:
    """A job of many iterations: its images' colours say nothing of their labels, so the
    machine labels few of them and each iteration trains again after people's next batch."""
    truth = colour_images(folder, 200, seed=3, separable=False)
    colour_dataset(project, "colours", truth)
    return create_autolabel_job(project, job_spec("auto"), TERMS), workforce(project, truth)


def _iterations(project: Project, job: int) -> list[int]:
    with project.session() as session:
        return [i.number for i in iterations(session, job)]


def _versions(project: Project) -> dict[str, tuple[str, str | None]]:
    """Each model version's status and trainer, by name."""
    with project.session() as session:
        rows = session.execute(
            select(ModelVersionRow.name, ModelVersionRow.status, ModelVersionRow.trainer)
        )
        return {name: (status, trainer) for name, status, trainer in rows}


def _training(project: Project) -> tuple[str, str | None] | None:
    """The version being trained now and its trainer, if any."""
    return next(
        ((name, trainer) for name, (status, trainer) in _versions(project).items()
         if status == VersionStatus.TRAINING_IN_PROGRESS.value),
        None,
    )


def _told(logs: list[Path], line: str) -> int:
    return sum(log.read_text().count(line) for log in logs)


@pytest.mark.postgres
def test_two_workers_run_each_iteration_once_and_finish_a_killed_ones(
    tmp_path: Path, redis_url: str
) -> None:
    with (
        postgres_database() as url,
        Project.init(tmp_path / "home", database_url=url, queue_url=redis_url) as project,
    ):
        job, crowd = _job(project, tmp_path / "img")
        logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
        with _workers(project, logs) as workers:
            crowd.work(job)
            _wait_for("iteration 1", lambda: _iterations(project, job) or None, logs, 30)
            time.sleep(1.0)  # rounds go on: a second training of it would start now
            assert _iterations(project, job) == [1]
            assert _told(logs, "iteration 1 machine-labeled") == 1
            # One training: a second worker training the same iteration would add a version.
            assert [s for s, _ in _versions(project).values()] == [COMPLETED]

            crowd.work(job)
            killed, trainer = _wait_for(
                "a worker training iteration 2", lambda: _training(project), logs, 30
            )
            victim = next(w for w in workers if trainer == f"{socket.gethostname()}:{w.pid}")
            victim.kill()
            victim.wait(timeout=10)
            _wait_for("iteration 2, by the other worker",
                      lambda: _iterations(project, job)[1:] or None, logs, 30)
            time.sleep(1.0)
            assert _iterations(project, job) == [1, 2]
            assert _told(logs, "iteration 2 machine-labeled") == 1
            survivor = logs[1 - workers.index(victim)]
            assert "iteration 2 machine-labeled" in survivor.read_text()
            # The killed worker's training never completed; the survivor's did, once.
            versions = _versions(project)
            assert versions[killed][0] != COMPLETED
            assert [s for s, _ in versions.values()].count(COMPLETED) == 2
