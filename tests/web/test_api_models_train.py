"""Training on request through the REST API, on SQLite and PostgreSQL: `POST /api/models`
queues a training that the worker runs (the test runs the queued task itself), the request
tells which version it became, the version's progress is kept while it trains and it
completes; a refused request says why and queues nothing; a training that fails in the worker
shows why; a start records its inference units."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from tests.web.portal import Portal, seed
from truthloop.core.types import Split
from truthloop.runtime.queue import work_queue
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.web.app import create_app

# Tiny: the scratch backbone for two epochs on 30 small images trains in a second or two.
TINY = {"task": "classification", "backbone": "scratch", "epochs": 2}


@pytest.fixture
def desk(project: Project) -> Portal:
    portal = seed(project)
    store_shapes(project, "shapes-train", shapes(24, size=32, seed=1))
    store_shapes(project, "shapes-val", shapes(6, size=32, seed=3), split=Split.VALIDATION)
    return portal


@pytest.fixture
def api(desk: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(desk.project)) as c:
        yield c


def bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


def run_queued(project: Project) -> None:
    """The worker's side: take the one queued task and run it."""
    queue = work_queue(project)
    assert queue.huey.pending_count() == 1
    queue.huey.execute(queue.huey.dequeue())


def pending(project: Project) -> int:
    return int(work_queue(project).huey.pending_count())


def test_a_training_is_queued_and_the_worker_trains_a_version_with_progress(
    desk: Portal, api: TestClient
) -> None:
    manager = bearer(desk, "mia")
    body = {"project": "shapes", "dataset": "shapes-train", **TINY}
    queued = api.post("/api/models", json=body, headers=manager)
    assert queued.status_code == 202, queued.text
    state_url = queued.json()["state_url"]
    waiting = api.get(state_url, headers=manager).json()
    assert waiting["state"] == "queued" and waiting["version"] is None
    assert waiting["spec"]["dataset"] == "shapes-train"

    run_queued(desk.project)

    done = api.get(state_url, headers=bearer(desk, "wendy")).json()
    assert done["state"] == "completed" and done["version"] == "shapes.v1", done
    assert done["status"] == "TRAINING_COMPLETED" and done["error"] is None
    progress = done["progress"]
    assert progress["phase"] == "done" and progress["fraction"] == 1.0
    assert progress["epochs"] == 2 and progress["elapsed_s"] > 0
    assert isinstance(progress["loss"], float)
    version = api.get("/api/models/shapes.v1", headers=manager).json()
    assert version["training_dataset"] == "shapes-train" and version["test_dataset"] is None
    assert version["f1"] is not None and version["training_report"]["epochs"] == 2
    shown = api.get("/api/models/shapes.v1/progress", headers=manager).json()
    assert shown["status"] == "TRAINING_COMPLETED" and shown["progress"] == progress


def test_a_version_trains_from_an_earlier_one_on_a_test_dataset(
    desk: Portal, api: TestClient
) -> None:
    manager = bearer(desk, "mia")
    store_shapes(desk.project, "shapes-test", shapes(6, size=32, seed=4))
    base = {"project": "shapes", "dataset": "shapes-train", **TINY}
    assert api.post("/api/models", json=base, headers=manager).status_code == 202
    run_queued(desk.project)
    child = {**base, "from_version": "shapes.v1", "test_dataset": "shapes-test"}
    child.pop("backbone")
    queued = api.post("/api/models", json=child, headers=manager)
    assert queued.status_code == 202, queued.text
    run_queued(desk.project)
    version = api.get("/api/models/shapes.v2", headers=manager).json()
    assert version["parent"] == "shapes.v1" and version["test_dataset"] == "shapes-test"
    assert version["status"] == "TRAINING_COMPLETED"


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"dataset": "nope"}, 404, "'nope'"),
        ({"test_dataset": "missing-test"}, 404, "'missing-test'"),
        ({"task": "detection"}, 400, "'shapes-train' has no detection labels"),
        ({"dataset": "shapes", "task": "detection"}, 400, "needs at least 5 to train"),
        ({"backbone": "resnet-9000"}, 422, "unknown backbone 'resnet-9000'"),
        ({"epochs": 0}, 422, "epochs"),
        ({"project": "../etc"}, 422, "model project name '../etc' is not allowed"),
        ({"from_version": "shapes.v7"}, 404, "shapes.v7"),
        ({"task": "segmentation"}, 422, "task"),
    ],
)
def test_a_refused_request_says_why_and_queues_nothing(
    desk: Portal, api: TestClient, change: dict[str, Any], status: int, words: str
) -> None:
    body = {"project": "shapes", "dataset": "shapes-train", **TINY, **change}
    refused = api.post("/api/models", json=body, headers=bearer(desk, "mia"))
    assert refused.status_code == status, refused.text
    assert words in str(refused.json()["detail"])
    assert pending(desk.project) == 0


def test_workers_and_strangers_may_not_train(desk: Portal, api: TestClient) -> None:
    body = {"project": "shapes", "dataset": "shapes-train", **TINY}
    worker = api.post("/api/models", json=body, headers=bearer(desk, "wendy"))
    assert worker.status_code == 403 and "managers" in worker.json()["detail"]
    # Without a token a POST is a cookie request without its CSRF token: refused before auth.
    assert api.post("/api/models", json=body).status_code == 403
    assert api.get("/api/model-trainings/0123abcd").status_code == 401
    unknown = api.get("/api/model-trainings/0123abcd", headers=bearer(desk, "mia"))
    assert unknown.status_code == 404 and "0123abcd" in unknown.json()["detail"]
    assert pending(desk.project) == 0


def test_data_that_changes_while_queued_fails_the_request_with_the_reason(
    desk: Portal, api: TestClient
) -> None:
    manager = bearer(desk, "mia")
    body = {"project": "shapes", "dataset": "shapes-train", **TINY}
    state_url = api.post("/api/models", json=body, headers=manager).json()["state_url"]
    with desk.project.session() as session:
        store.delete_dataset(session, store.get_dataset(session, "shapes-train"))
    run_queued(desk.project)
    failed = api.get(state_url, headers=manager).json()
    assert failed["state"] == "failed" and failed["version"] is None
    assert "shapes-train" in failed["error"]


def test_a_training_that_fails_after_the_version_is_recorded_shows_the_reason(
    desk: Portal, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from truthloop.ml.classifier import Classifier

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(Classifier, "fit", broken)
    manager = bearer(desk, "mia")
    body = {"project": "shapes", "dataset": "shapes-train", **TINY}
    state_url = api.post("/api/models", json=body, headers=manager).json()["state_url"]
    run_queued(desk.project)
    failed = api.get(state_url, headers=manager).json()
    assert failed["state"] == "failed" and failed["version"] == "shapes.v1"
    assert failed["status"] == "TRAINING_FAILED"
    assert "the GPU caught fire" in failed["failure_reason"]


def test_a_start_records_its_inference_units(desk: Portal, api: TestClient) -> None:
    manager = bearer(desk, "mia")
    body = {"project": "shapes", "dataset": "shapes-train", **TINY}
    api.post("/api/models", json=body, headers=manager)
    run_queued(desk.project)
    too_many = api.post(
        "/api/models/shapes.v1/start", json={"inference_units": 99}, headers=manager
    )
    assert too_many.status_code == 422 and "inference_units" in str(too_many.json()["detail"])
    started = api.post("/api/models/shapes.v1/start", json={"inference_units": 3}, headers=manager)
    assert started.status_code == 200 and started.json()["status"] == "RUNNING"
    shown = api.get("/api/models/shapes.v1/progress", headers=manager).json()
    assert shown["inference_units"] == 3
    plain = api.post("/api/models/shapes.v1/start", headers=manager)
    assert plain.status_code == 200, plain.text
    assert api.get("/api/models/shapes.v1/progress", headers=manager).json()["inference_units"] == 1
