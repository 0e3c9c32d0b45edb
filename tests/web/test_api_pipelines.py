"""The pipelines REST API through FastAPI's TestClient, on SQLite and PostgreSQL: creating and
listing pipelines, the overview, parameters and their history, images uploaded and the
detection log, runs with their steps, subscribers and notifications, and the refusals: an
unknown pipeline, a bad parameter value, a worker's write, a corrupt image among good ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.ml.stored import store_shapes
from tests.web.pipeline_setup import NAME, SEEN, UNSEEN, make_pipeline, png
from tests.web.portal import Portal, seed
from truthloop import people
from truthloop.core.pipeline_params import PARAMETERS
from truthloop.pipeline import get_pipeline, set_param
from truthloop.runtime.queue import work_queue
from truthloop.storage.project import Project
from truthloop.web.app import create_app


@pytest.fixture
def desk(project: Project) -> Portal:
    return seed(project)


@pytest.fixture
def api(desk: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(desk.project)) as c:
        yield c


@pytest.fixture
def deployed(desk: Portal) -> str:
    return make_pipeline(desk.project)


def bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


def test_a_pipeline_is_created_with_its_own_review_flow_and_listed(
    desk: Portal, api: TestClient
) -> None:
    store_shapes(desk.project, "logos-train", SEEN)
    manager = bearer(desk, "mia")
    body = {"name": "logos", "task": "classification", "dataset": "logos-train"}
    created = api.post("/api/pipelines", json=body | {"review_team": "red"}, headers=manager)
    assert created.status_code == 201, created.text
    assert created.json()["flow"] == "logos-review" and created.json()["deployed_version"] is None
    again = api.post("/api/pipelines", json=body, headers=manager)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    both = api.post(
        "/api/pipelines", json=body | {"flow": "x", "review_team": "red"}, headers=manager
    )
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    listed = api.get("/api/pipelines", headers=bearer(desk, "wendy"))
    assert [p["name"] for p in listed.json()] == ["logos"]


def test_the_overview_shows_the_deployed_version_and_counts(
    desk: Portal, api: TestClient, deployed: str
) -> None:
    seen = api.get(f"/api/pipelines/{NAME}", headers=bearer(desk, "wendy"))
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["deployed_version"] == deployed and body["deployed_f1"] is not None
    assert [v["name"] for v in body["versions"]] == [deployed]
    assert body["labeled_images"] == 12 and body["flow"] == "shapes-review"
    assert body["counters"]["detections"]["total"] == 0
    assert body["counters"]["audit"]["n"] == 0
    assert [r["kind"] for r in body["runs"]] == ["training-check", "parameter-change"]
    counters = api.get(f"/api/pipelines/{NAME}/counters", headers=bearer(desk, "wendy"))
    assert counters.json()["deployed_version"] == deployed


def test_an_unknown_pipeline_is_404_everywhere(desk: Portal, api: TestClient) -> None:
    manager = bearer(desk, "mia")
    for path in ("", "/params", "/params/history", "/runs", "/detections", "/notifications"):
        answer = api.get(f"/api/pipelines/nope{path}", headers=manager)
        assert answer.status_code == 404, path
        assert "no pipeline named 'nope'" in answer.json()["detail"]
    assert api.get("/api/pipeline-runs/999", headers=manager).status_code == 404


def test_parameters_are_read_changed_and_their_history_kept(
    desk: Portal, api: TestClient, deployed: str
) -> None:
    manager = bearer(desk, "mia")
    params = api.get(f"/api/pipelines/{NAME}/params", headers=manager).json()
    assert [p["name"] for p in params] == [p.name for p in PARAMETERS]
    changed = api.put(
        f"/api/pipelines/{NAME}/params/Minimum-Label-Detection-Confidence",
        json={"value": 85},
        headers=manager,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["changed"] and changed.json()["new"] == "85.0"
    same = api.put(
        f"/api/pipelines/{NAME}/params/Enable-A2I-Workflow", json={"value": "true"}, headers=manager
    )
    assert same.json()["changed"] is False
    history = api.get(f"/api/pipelines/{NAME}/params/history", headers=manager).json()
    assert history[0]["parameter"] == "Minimum-Label-Detection-Confidence"
    assert (history[0]["old"], history[0]["new"]) == ("70.0", "85.0")
    with desk.project.session() as session:  # the change is recorded as mia's
        assert history[0]["changed_by"] == people.get_user(session, "mia").id


def test_a_bad_parameter_value_is_422_naming_the_parameter_and_range(
    desk: Portal, api: TestClient, deployed: str
) -> None:
    manager = bearer(desk, "mia")
    out_of_range = api.put(
        f"/api/pipelines/{NAME}/params/Minimum-F1-Score", json={"value": 1.5}, headers=manager
    )
    assert out_of_range.status_code == 422
    detail = out_of_range.json()["detail"]
    assert "Minimum-F1-Score" in detail and "from 0 to 1" in detail and "unchanged" in detail
    unknown = api.put(
        f"/api/pipelines/{NAME}/params/Minimum-F1", json={"value": 0.5}, headers=manager
    )
    assert unknown.status_code == 422 and "Minimum-F1-Score" in unknown.json()["detail"]
    params = api.get(f"/api/pipelines/{NAME}/params", headers=manager).json()
    assert next(p for p in params if p["name"] == "Minimum-F1-Score")["value"] == 0.0


def test_a_worker_may_read_but_not_change(desk: Portal, api: TestClient, deployed: str) -> None:
    worker = bearer(desk, "wendy")
    assert api.get(f"/api/pipelines/{NAME}/params", headers=worker).status_code == 200
    refused = [
        api.post(
            "/api/pipelines",
            json={"name": "x", "task": "detection", "dataset": "shapes"},
            headers=worker,
        ),
        api.put(
            f"/api/pipelines/{NAME}/params/Minimum-F1-Score", json={"value": 0.5}, headers=worker
        ),
        api.post(
            f"/api/pipelines/{NAME}/images",
            files={"images": ("a.png", png(UNSEEN, 0))},
            headers=worker,
        ),
        api.get(f"/api/pipelines/{NAME}/subscribers", headers=worker),
        api.post(
            f"/api/pipelines/{NAME}/subscribers",
            json={"kind": "email", "target": "a@example.com"},
            headers=worker,
        ),
        api.delete(f"/api/pipelines/{NAME}/subscribers/1", headers=worker),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert api.get(f"/api/pipelines/{NAME}").status_code == 401


def test_uploaded_images_are_detected_one_by_one_and_logged(
    desk: Portal, api: TestClient, deployed: str
) -> None:
    manager = bearer(desk, "mia")
    files = [
        ("images", ("seen.png", png(SEEN, 0), "image/png")),
        ("images", ("corrupt.png", b"\x89PNG not really", "image/png")),
        ("images", ("new.png", png(UNSEEN, 0), "image/png")),
    ]
    answer = api.post(f"/api/pipelines/{NAME}/images", files=files, headers=manager)
    assert answer.status_code == 200, answer.text
    seen, corrupt, new = answer.json()
    assert corrupt["error"] and "corrupt.png" in corrupt["error"] and corrupt["request_id"] is None
    for good in (seen, new):
        assert good["error"] is None and good["version"] == deployed and good["request_id"]
        assert good["labels"] and good["confidence"] is not None
    assert new["confidence"] == pytest.approx(30.0) and new["loop"] is not None
    log = api.get(f"/api/pipelines/{NAME}/detections?limit=1", headers=manager).json()
    assert [d["request_id"] for d in log] == [new["request_id"]]  # newest first
    older = api.get(f"/api/pipelines/{NAME}/detections?before={log[0]['id']}", headers=manager)
    assert [d["request_id"] for d in older.json()] == [seen["request_id"]]
    none = api.post(f"/api/pipelines/{NAME}/images", data={"x": "y"}, headers=manager)
    assert none.status_code == 422 and "images" in none.json()["detail"]


def test_runs_are_listed_filtered_and_shown_with_their_steps(
    desk: Portal, api: TestClient, deployed: str
) -> None:
    manager = bearer(desk, "mia")
    runs = api.get(f"/api/pipelines/{NAME}/runs", headers=manager).json()
    assert [r["kind"] for r in runs] == ["training-check", "parameter-change"]
    only = api.get(f"/api/pipelines/{NAME}/runs?kind=parameter-change", headers=manager).json()
    assert [r["kind"] for r in only] == ["parameter-change"]
    failed = api.get(f"/api/pipelines/{NAME}/runs?status=failed", headers=manager).json()
    assert failed == []
    bad = api.get(f"/api/pipelines/{NAME}/runs?kind=nap", headers=manager)
    assert bad.status_code == 422
    shown = api.get(f"/api/pipeline-runs/{runs[0]['id']}", headers=manager).json()
    assert shown["pipeline"] == NAME and shown["status"] == "succeeded"
    assert [s["name"] for s in shown["steps"]] == [
        "count-new-images",
        "train",
        "evaluate",
        "deploy",
        "stop-previous-versions",
    ]
    assert all(s["status"] == "succeeded" for s in shown["steps"])


def test_subscribers_are_added_listed_and_removed_and_notifications_read(
    desk: Portal, api: TestClient, deployed: str
) -> None:
    manager = bearer(desk, "mia")
    path = f"/api/pipelines/{NAME}/subscribers"
    added = api.post(
        path,
        json={"kind": "webhook", "target": "https://hooks.example.com/x", "events": ["error"]},
        headers=manager,
    )
    assert added.status_code == 201, added.text
    assert added.json()["secret"] and added.json()["events"] == ["error"]
    listed = api.get(path, headers=manager).json()
    assert [s["target"] for s in listed] == ["https://hooks.example.com/x"]
    assert "secret" not in listed[0]
    bad = api.post(path, json={"kind": "pigeon", "target": "roof"}, headers=manager)
    assert bad.status_code == 422 and "pigeon" in bad.json()["detail"]
    gone = api.delete(f"{path}/{added.json()['id']}", headers=manager)
    assert gone.status_code == 204
    assert api.get(path, headers=manager).json()[0]["active"] is False
    assert api.delete(f"{path}/999", headers=manager).status_code == 404
    told = api.get(f"/api/pipelines/{NAME}/notifications", headers=manager).json()
    # The pipeline told of its gate change, its training and its deployment.
    assert {"parameter-changed", "version-deployed"} <= {n["event"] for n in told}


def test_the_api_is_documented(desk: Portal, api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/pipelines",
        "/api/pipelines/{name}",
        "/api/pipelines/{name}/params/{param}",
        "/api/pipelines/{name}/images",
        "/api/pipeline-runs/{run_id}",
        "/api/pipelines/{name}/subscribers/{subscriber_id}",
    ):
        assert path in paths, path
    # The parameters' table is made from core.pipeline_params, every one of them.
    described = paths["/api/pipelines/{name}/params/{param}"]["put"]["description"]
    assert all(p.name in described for p in PARAMETERS)
    assert (
        "multipart/form-data"
        in paths["/api/pipelines/{name}/images"]["post"]["requestBody"]["content"]
    )


def test_a_run_on_demand_is_queued_for_the_worker_which_trains(
    desk: Portal, api: TestClient
) -> None:
    make_pipeline(desk.project, deploy=False)
    with desk.project.session() as session:
        pipeline = get_pipeline(session, NAME)
        set_param(session, pipeline, "Minimum-F1-Score", 0.0)
        set_param(session, pipeline, "Enable-Automatic-Training", False)
    manager = bearer(desk, "mia")
    assert api.post("/api/pipelines/nope/run", headers=manager).status_code == 404
    assert api.post(f"/api/pipelines/{NAME}/run", headers=bearer(desk, "wendy")).status_code == 403
    queued = api.post(f"/api/pipelines/{NAME}/run", headers=manager)
    assert queued.status_code == 202 and queued.json() == {"pipeline": NAME, "queued": True}
    # The worker's side: it takes the task from the project's queue and runs it.
    queue = work_queue(desk.project)
    assert queue.huey.pending_count() == 1
    queue.huey.execute(queue.huey.dequeue())
    overview = api.get(f"/api/pipelines/{NAME}", headers=manager).json()
    assert overview["deployed_version"] == f"{NAME}.v1"
