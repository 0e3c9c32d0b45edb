"""Two worker processes on PostgreSQL and a Redis queue share a pipeline: a training asked of
both runs once (the other check is recorded skipped), and when the worker training is killed
(kill -9) the next tick hands the run to the other, which trains, deploys and records it."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from tests.runtime.test_workers import _training, _versions, _wait_for, _workers
from tests.services import postgres_database
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.ml.versions import VersionStatus
from truthloop.pipeline import PipelineSpec, create_pipeline, get_pipeline, set_param
from truthloop.runtime.queue import work_queue
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineRunRow

COMPLETED = VersionStatus.TRAINING_COMPLETED.value


def _checks(project: Project) -> list[tuple[str, str | None]]:
    """The training checks' statuses and errors, oldest first."""
    with project.session() as session:
        rows = session.execute(
            select(PipelineRunRow.status, PipelineRunRow.error)
            .where(PipelineRunRow.kind == "training-check")
            .order_by(PipelineRunRow.id)
        )
        return [(status, error) for status, error in rows]


def _ended(project: Project, at_least: int) -> bool | None:
    checks = _checks(project)
    done = len(checks) >= at_least and all(s != "running" for s, _ in checks)
    return True if done else None


def _deployed(project: Project) -> str | None:
    with project.session() as session:
        return get_pipeline(session, "shapes").deployed_version


def _pipeline(project: Project) -> None:
    store_shapes(project, "shapes-train", shapes(12, task="classification", size=32, seed=5))
    with project.session() as session:
        spec = PipelineSpec(
            "shapes",
            "classification",
            "shapes-train",
            model=FakeModel(task=Task.CLASSIFICATION, guess_confidence=0.3),
        )
        pipeline = create_pipeline(session, spec)
        set_param(session, pipeline, "Minimum-F1-Score", 0.0)


def _more_images(project: Project) -> None:
    """Ten more labeled images: enough for the next version."""
    extra = shapes(10, task="classification", size=32, seed=41)
    folder = project.home / "images" / "more"
    folder.mkdir(parents=True)
    with project.session() as session:
        dataset = store.get_dataset(session, "shapes-train")
        items = []
        for i, record in enumerate(extra.records):
            path = folder / f"more-{i}.png"
            extra.images[record.uri].save(path)
            items.append(store.NewItem(type(record)(str(path), record.size, record.annotations)))
        store.insert_items(session, dataset.id, items)


@pytest.mark.postgres
def test_two_workers_train_a_pipeline_once_and_finish_a_killed_ones(
    tmp_path: Path, redis_url: str
) -> None:
    with (
        postgres_database() as url,
        Project.init(tmp_path / "home", database_url=url, queue_url=redis_url) as project,
    ):
        _pipeline(project)
        queue = work_queue(project)
        logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
        with _workers(project, logs) as workers:
            # Both workers are asked at once: one trains, the other finds the claim held.
            queue.pipeline_training("shapes")
            queue.pipeline_training("shapes")
            _wait_for("v1 deployed", lambda: _deployed(project), logs, 40)
            _wait_for("both checks ended", lambda: _ended(project, 2), logs, 20)
            # The workers' own minute ticks may check too: every check but one is skipped.
            statuses = [s for s, _ in _checks(project)]
            assert statuses.count("succeeded") == 1
            assert set(statuses) == {"succeeded", "skipped"}
            assert [s for s, _ in _versions(project).values()].count(COMPLETED) == 0
            assert _versions(project)["shapes.v1"][0] == VersionStatus.RUNNING.value

            _more_images(project)
            queue.pipeline_training("shapes")
            killed, trainer = _wait_for(
                "a worker training v2", lambda: _training(project), logs, 30
            )
            victim = next(w for w in workers if trainer == f"{socket.gethostname()}:{w.pid}")
            victim.kill()
            victim.wait(timeout=10)
            queue.pipeline_ticks()  # the minute's tick, now: it finds the run left running
            _wait_for(
                "v2 by the other worker",
                lambda: _deployed(project) if _deployed(project) != "shapes.v1" else None,
                logs,
                40,
            )
            time.sleep(0.5)
            checks = [c for c in _checks(project) if c[0] != "skipped"]
            assert [s for s, _ in checks] == ["succeeded", "failed", "succeeded"]
            assert "worker stopped before the run ended" in str(checks[1][1])
            versions = _versions(project)
            assert versions[killed][0] == VersionStatus.TRAINING_FAILED.value
            assert _deployed(project) == "shapes.v3"
            assert versions["shapes.v3"][0] == VersionStatus.RUNNING.value
            assert versions["shapes.v1"][0] == VersionStatus.STOPPED.value
