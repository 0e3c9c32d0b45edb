"""The background worker moves automated-labeling jobs on by itself: once people have labeled
what was released, it runs the next iteration; a failing job is retried later, not every round;
`truthloop background --once` and `truthloop serve` run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.labeling.colours import FAKE, colour_dataset, colour_images, job_spec, workforce
from tests.labeling.conftest import seed
from tests.services import free_port
from truthloop import labeling
from truthloop.cli.main import app
from truthloop.labeling import get_job
from truthloop.labeling.autolabel import AutoLabelSpec, create_autolabel_job, iterations
from truthloop.runtime.background import FIRST_RETRY_S, BackgroundWorker
from truthloop.storage.project import Project

TERMS = AutoLabelSpec(batch_size=30, validation_size=60, **FAKE)  # type: ignore[arg-type]


def _job(project: Project, folder: Path, images: int = 200) -> tuple[int, object]:
    truth = colour_images(folder, images, seed=3)
    colour_dataset(project, "colours", truth)
    return create_autolabel_job(project, job_spec("auto"), TERMS), workforce(project, truth)


def test_the_worker_runs_each_iteration_once_people_are_done(
    project: Project, tmp_path: Path
) -> None:
    """On SQLite and on PostgreSQL."""
    job, crowd = _job(project, tmp_path / "img")
    worker = BackgroundWorker(project)
    assert worker.run_once() == []  # people have not labeled the first batch yet
    rounds = 0
    while True:
        crowd.work(job)  # type: ignore[attr-defined]
        ran = worker.run_once()
        with project.session() as session:
            if get_job(session, job).status != "in-progress":
                break
        assert [job_id for job_id, _ in ran] == [job]
        rounds += 1
        assert rounds < 10
    with project.session() as session:
        assert get_job(session, job).status == "completed"
        done = iterations(session, job)
        progress = labeling.job_progress(session, job)
    assert progress.done == progress.total_items == 200
    assert sum(i.machine_labeled for i in done) > 0
    assert worker.run_once() == []  # a completed job is left alone


def test_a_failing_job_is_retried_later_not_every_round(
    sqlite_project: Project, tmp_path: Path
) -> None:
    job, crowd = _job(sqlite_project, tmp_path / "img")
    crowd.work(job)  # type: ignore[attr-defined]
    shutil.move(tmp_path / "img", tmp_path / "away")  # the model cannot read the images now
    now = [1000.0]
    worker = BackgroundWorker(sqlite_project, clock=lambda: now[0])
    assert worker.run_once() == []
    shutil.move(tmp_path / "away", tmp_path / "img")
    assert worker.run_once() == []  # not due again yet
    now[0] += FIRST_RETRY_S + 1
    assert [job_id for job_id, _ in worker.run_once()] == [job]


def test_background_once_runs_what_is_due(sqlite_project: Project, tmp_path: Path) -> None:
    job, crowd = _job(sqlite_project, tmp_path / "img")
    crowd.work(job)  # type: ignore[attr-defined]
    result = CliRunner().invoke(
        app, ["--home", str(sqlite_project.home), "background", "--once"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"job {job}: iteration 1, 90 by people" in " ".join(result.stdout.split())


def test_serve_runs_the_background_worker(sqlite_project: Project, tmp_path: Path) -> None:
    job, crowd = _job(sqlite_project, tmp_path / "img")
    crowd.work(job)  # type: ignore[attr-defined]
    command = [str(Path(sys.executable).with_name("truthloop")), "--home",
               str(sqlite_project.home), "serve", "--port", str(free_port())]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "TRUTHLOOP_DATABASE_URL": ""})
    try:
        deadline = time.monotonic() + 120
        while True:
            with sqlite_project.session() as session:
                if iterations(session, job):
                    break
            assert server.poll() is None, log.read_text()
            if time.monotonic() > deadline:
                pytest.fail(f"no iteration ran in 120 s:\n{log.read_text()}")
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "iteration 1 machine-labeled" in log.read_text()


def test_the_worker_closes_jobs_whose_tasks_expired(sqlite_project: Project) -> None:
    lab = seed(sqlite_project)
    job = lab.job(task_lifetime_s=1)
    time.sleep(1.2)
    assert BackgroundWorker(sqlite_project).run_once() == []
    with sqlite_project.session() as session:
        assert get_job(session, job).status == "completed"


def test_the_background_process_ends_with_its_parent(sqlite_project: Project) -> None:
    """However the parent ends (here SIGKILL, which leaves it no time to stop its children),
    the background worker does not outlive it."""
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from truthloop.runtime.background import start_process;"
         " print(start_process(interval_s=0.5).pid, flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "TRUTHLOOP_HOME": str(sqlite_project.home),
             "TRUTHLOOP_DATABASE_URL": ""},
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 30
    while _alive(worker):
        assert time.monotonic() < deadline, "the background worker outlived its parent"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # An exited child of a dead parent is reaped by init; until then it is a zombie.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
