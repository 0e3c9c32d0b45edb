"""The managers' review API (A2I) through FastAPI's TestClient, on SQLite and PostgreSQL: task
UIs, flow definitions, human loops from start to output, the manifest, events and webhooks,
and who may call them. Loops are answered through the review service, as a reviewer's
submit does (the reviewers' endpoints are tested with review_work.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.web.portal import Portal, seed
from truthloop import labeling, people, review
from truthloop.core import review_terms as terms
from truthloop.formats.a2i import flow_arn
from truthloop.ml.versions import add_version
from truthloop.review.templates import EXAMPLE_TEMPLATE
from truthloop.storage.project import Project
from truthloop.web.app import create_app
from truthloop.web.routes.api_review import PREVIEW_GRANT_URL

STRANGER = {"Authorization": "Bearer tl_not-a-token"}
BOXES = {
    "annotatedResult": {
        "boundingBoxes": [{"height": 40, "label": "cat", "left": 10, "top": 12, "width": 30}],
        "inputImageProperties": {"height": 480, "width": 640},
    }
}


@pytest.fixture
def desk(project: Project) -> Portal:
    return seed(project)


@pytest.fixture
def api(desk: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(desk.project)) as c:
        yield c


def bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


def input_content(image: str = "s3://bucket/cat.jpg", **more: Any) -> str:
    return orjson.dumps(
        {"taskObject": image, "labels": ["cat", "dog"], "initialValue": []} | more
    ).decode()


def start_body(name: str, content: str, flow: str = "pets") -> dict[str, Any]:
    return {
        "HumanLoopName": name,
        "FlowDefinitionName": flow,
        "HumanLoopInput": {"InputContent": content},
    }


def make_flow(portal: Portal, client: TestClient, name: str = "pets", **more: Any) -> Any:
    manager = bearer(portal, "mia")
    if client.get("/api/review/task-uis/boxes-ui", headers=manager).status_code == 404:
        created = client.post(
            "/api/review/task-uis",
            json={"name": "boxes-ui", "template": EXAMPLE_TEMPLATE},
            headers=manager,
        )
        assert created.status_code == 201, created.text
    body = {
        "name": name,
        "team": "red",
        "task_ui": "boxes-ui",
        "title": "Check the pet boxes",
        "output": str(portal.project.home / "review-output"),
    } | more
    return client.post("/api/review/flows", json=body, headers=manager)


def answer_loop(portal: Portal, flow: str, username: str, client_id: str) -> None:
    """A reviewer takes the flow's next task and answers it, as the review page does."""
    project = portal.project
    with project.session() as session:
        job_id = review.get_flow(session, flow).job_id
        user_id = people.get_user(session, username).id
    task = labeling.next_task(project.db, job_id, user_id)
    assert task is not None
    review.submit_review(
        project, task.task_id, user_id, client_id=client_id, answer=BOXES, seconds=1.0
    )


def test_a_loop_from_start_to_output_manifest_and_deletion(desk: Portal, api: TestClient) -> None:
    manager = bearer(desk, "mia")
    created = make_flow(desk, api)
    assert created.status_code == 201, created.text
    flow = created.json()
    assert flow["FlowDefinitionStatus"] == "Active" and flow["FailureReason"] is None
    assert flow["FlowDefinitionArn"] == flow_arn("pets")
    assert flow["HumanLoopConfig"]["Workteam"] == "red"
    assert flow["HumanLoopConfig"]["TaskCount"] == terms.TASK_COUNT.default
    assert flow["HumanLoopConfig"]["TaskTimeLimitInSeconds"] == terms.TASK_TIME_LIMIT_S.default
    assert api.get("/api/review/flows/pets", headers=manager).json() == flow
    assert [f["FlowDefinitionName"] for f in api.get("/api/review/flows", headers=manager).json()]
    assert [u["name"] for u in api.get("/api/review/task-uis", headers=manager).json()] == [
        "boxes-ui"
    ]
    assert make_flow(desk, api).status_code == 409

    # Start, retry (same input: 200, the same loop), and the name again with another input.
    first = api.post(
        "/api/review/loops", json=start_body("loop-1", input_content()), headers=manager
    )
    assert first.status_code == 201, first.text
    assert first.json()["HumanLoopStatus"] == "InProgress"
    assert "HumanLoopOutput" not in first.json() and "FailureCode" not in first.json()
    retry = api.post(
        "/api/review/loops", json=start_body("loop-1", input_content()), headers=manager
    )
    assert retry.status_code == 200 and retry.json()["HumanLoopArn"] == first.json()["HumanLoopArn"]
    other = api.post(
        "/api/review/loops",
        json=start_body("loop-1", input_content("s3://b/x.jpg")),
        headers=manager,
    )
    assert other.status_code == 409 and "another input" in other.json()["detail"]
    by_arn = {
        "HumanLoopName": "loop-2",
        "FlowDefinitionArn": flow_arn("pets"),
        "HumanLoopInput": {"InputContent": input_content("s3://bucket/two.jpg")},
        "DataAttributes": {"ContentClassifiers": ["FreeOfAdultContent"]},
    }
    assert api.post("/api/review/loops", json=by_arn, headers=manager).status_code == 201
    third = start_body("loop-3", input_content("s3://bucket/three.jpg"))
    assert api.post("/api/review/loops", json=third, headers=manager).status_code == 201

    # ListHumanLoops, two at a time, newest first and then oldest first.
    page = api.get("/api/review/loops?flow=pets&max_results=2", headers=manager).json()
    names = [s["HumanLoopName"] for s in page["HumanLoopSummaries"]]
    assert names == ["loop-3", "loop-2"] and page["NextToken"]
    rest = api.get(
        "/api/review/loops",
        params={"flow": "pets", "max_results": 2, "next_token": page["NextToken"]},
        headers=manager,
    ).json()
    assert [s["HumanLoopName"] for s in rest["HumanLoopSummaries"]] == ["loop-1"]
    assert rest.get("NextToken") is None
    oldest = api.get("/api/review/loops?flow=pets&sort_order=Ascending", headers=manager).json()
    assert [s["HumanLoopName"] for s in oldest["HumanLoopSummaries"]] == [
        "loop-1",
        "loop-2",
        "loop-3",
    ]
    too_many = api.get(
        f"/api/review/loops?flow=pets&max_results={terms.MAX_RESULTS + 1}", headers=manager
    )
    assert too_many.status_code == 422

    # Not yet answered: no output, and neither the loop nor the flow can be deleted.
    waiting = api.get("/api/review/loops/loop-1/output", headers=manager)
    assert waiting.status_code == 404 and "InProgress" in waiting.json()["detail"]
    assert api.delete("/api/review/loops/loop-1", headers=manager).status_code == 422
    refused = api.delete("/api/review/flows/pets", headers=manager)
    assert refused.status_code == 422 and "in progress" in refused.json()["detail"]

    answer_loop(desk, "pets", "wendy", "wendy-0001")  # the oldest loop is handed out first
    described = api.get("/api/review/loops/loop-1", headers=manager).json()
    assert described["HumanLoopStatus"] == "Completed"
    assert described["FlowDefinitionName"] == "pets"
    assert described["HumanLoopOutput"]["OutputS3Uri"].endswith("/loop-1/output.json")
    completed = api.get("/api/review/loops?flow=pets&status=Completed", headers=manager).json()[
        "HumanLoopSummaries"
    ]
    assert [s["HumanLoopName"] for s in completed] == ["loop-1"]

    output = api.get("/api/review/loops/loop-1/output", headers=manager)
    assert output.status_code == 200 and output.headers["content-type"] == "application/json"
    document = output.json()
    assert set(document) == {"flowDefinitionArn", "humanAnswers", "humanLoopName", "inputContent"}
    assert document["humanLoopName"] == "loop-1"
    assert document["flowDefinitionArn"] == flow_arn("pets")
    assert document["inputContent"]["taskObject"] == "s3://bucket/cat.jpg"
    [human] = document["humanAnswers"]
    assert human["answerContent"] == BOXES and human["timeSpentInSeconds"] == 1.0

    # The file gone (moved, cleaned up): the same document is made from the stored answers.
    Path(described["HumanLoopOutput"]["OutputS3Uri"]).unlink()
    again = api.get("/api/review/loops/loop-1/output", headers=manager)
    assert again.status_code == 200 and again.json() == document

    manifest = api.get("/api/review/flows/pets/manifest", headers=manager)
    assert manifest.status_code == 200, manifest.text
    assert 'filename="pets.manifest"' in manifest.headers["content-disposition"]
    assert manifest.headers["x-truthloop-loops"] == "1"
    [line] = [json.loads(x) for x in manifest.text.splitlines()]
    assert line["source-ref"] == "s3://bucket/cat.jpg"
    assert line["a2i-retraining"]["annotations"] == [
        {"class_id": 0, "left": 10, "top": 12, "width": 30, "height": 40}
    ]
    assert line["a2i-retraining-metadata"]["job-name"] == "a2i/loop-1"
    renamed = api.get("/api/review/flows/pets/manifest?attribute=pets-fixed", headers=manager)
    assert "pets-fixed" in json.loads(renamed.text.splitlines()[0])

    # Stop and delete rules.
    stopped = api.post("/api/review/loops/loop-2/stop", headers=manager)
    assert stopped.status_code == 200 and stopped.json()["HumanLoopStatus"] == "Stopped"
    assert api.post("/api/review/loops/loop-1/stop", headers=manager).status_code == 422
    assert api.post("/api/review/loops/nope/stop", headers=manager).status_code == 404
    assert api.delete("/api/review/loops/loop-1", headers=manager).status_code == 204
    assert api.get("/api/review/loops/loop-1", headers=manager).status_code == 404
    assert api.post("/api/review/loops/loop-3/stop", headers=manager).status_code == 200
    assert api.delete("/api/review/task-uis/boxes-ui", headers=manager).status_code == 422
    assert api.delete("/api/review/flows/pets", headers=manager).status_code == 204
    assert api.get("/api/review/flows/pets", headers=manager).status_code == 404
    assert api.delete("/api/review/task-uis/boxes-ui", headers=manager).status_code == 204


def test_events_feed_and_webhooks_with_the_secret_shown_once(desk: Portal, api: TestClient) -> None:
    manager = bearer(desk, "mia")
    assert make_flow(desk, api).status_code == 201
    every = api.post(
        "/api/review/webhooks", json={"url": "https://hooks.example/all"}, headers=manager
    )
    assert every.status_code == 201, every.text
    hook = every.json()
    assert hook["flow"] is None and hook["active"] and len(hook["secret"]) >= 32
    mine = api.post(
        "/api/review/webhooks",
        json={"url": "https://hooks.example/pets", "flow": "pets"},
        headers=manager,
    ).json()
    assert mine["flow"] == "pets"
    listed = api.get("/api/review/webhooks", headers=manager).json()
    assert [(h["id"], h["flow"]) for h in listed] == [(hook["id"], None), (mine["id"], "pets")]
    assert all("secret" not in h for h in listed)
    assert hook["secret"] not in api.get("/api/review/webhooks", headers=manager).text
    bad = api.post("/api/review/webhooks", json={"url": "ftp://x/y"}, headers=manager)
    assert bad.status_code == 422
    unknown = api.post(
        "/api/review/webhooks", json={"url": "https://h/", "flow": "nope"}, headers=manager
    )
    assert unknown.status_code == 404

    assert api.get("/api/review/events", headers=manager).json() == {"events": [], "after": 0}
    empty = api.get("/api/review/flows/pets/manifest", headers=manager)
    assert empty.status_code == 200 and empty.text == ""
    assert empty.headers["x-truthloop-manifest-lines"] == "0"
    api.post("/api/review/loops", json=start_body("loop-1", input_content()), headers=manager)
    answer_loop(desk, "pets", "walt", "walt-0001")
    feed = api.get("/api/review/events?flow=pets", headers=manager).json()
    [event] = feed["events"]
    assert (event["loop"], event["status"], feed["after"]) == ("loop-1", "Completed", event["id"])
    body = event["event"]
    assert body["detail-type"] == "SageMaker A2I HumanLoop Status Change"
    assert body["id"] == f"truthloop-event-{event['id']}"
    assert body["detail"]["humanLoopName"] == "loop-1"
    assert body["detail"]["humanLoopStatus"] == "Completed"
    assert body["detail"]["humanLoopOutput"]["outputS3Uri"].endswith("/loop-1/output.json")
    later = api.get(f"/api/review/events?after={feed['after']}", headers=manager).json()
    assert later == {"events": [], "after": feed["after"]}

    deliveries = api.get(f"/api/review/webhooks/{hook['id']}/deliveries", headers=manager).json()
    assert [(d["webhook_id"], d["state"], d["attempts"]) for d in deliveries] == [
        (hook["id"], "pending", 0)
    ]
    assert len(api.get("/api/review/deliveries?pending=true", headers=manager).json()) == 2
    assert api.delete(f"/api/review/webhooks/{hook['id']}", headers=manager).status_code == 204
    [given_up] = api.get(f"/api/review/webhooks/{hook['id']}/deliveries", headers=manager).json()
    assert given_up["state"] == "given up" and "removed" in given_up["last_error"]
    pending = api.get("/api/review/deliveries?pending=true", headers=manager).json()
    assert [d["webhook_id"] for d in pending] == [mine["id"]]
    assert not api.get("/api/review/webhooks", headers=manager).json()[0]["active"]
    assert api.delete("/api/review/webhooks/999", headers=manager).status_code == 404
    assert api.get("/api/review/webhooks/999/deliveries", headers=manager).status_code == 404


def test_the_preview_escapes_input_and_signs_no_link(desk: Portal, api: TestClient) -> None:
    manager = bearer(desk, "mia")
    template = (
        '<img src="{{ task.input.taskObject | grant_read_access }}">\n'
        "<p>{{ task.input.note }}</p>\n<p>{{ task.input.missing }}</p>"
    )
    hostile = '<script>alert("x")</script>'
    body = {"template": template, "input": {"taskObject": "s3://bucket/a b.jpg", "note": hostile}}
    response = api.post("/api/review/task-uis/render", json=body, headers=manager)
    assert response.status_code == 200, response.text
    rendered = response.json()
    html = rendered["rendered_content"]
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert f'src="{PREVIEW_GRANT_URL}s3%3A%2F%2Fbucket%2Fa%20b.jpg"' in html
    assert any("missing" in error for error in rendered["errors"])
    outside = api.post(
        "/api/review/task-uis/render",
        json={"template": template, "input": {"taskObject": "/etc/passwd", "note": ""}},
        headers=manager,
    ).json()
    assert outside["rendered_content"] == "" and any(
        "grant_read_access" in error for error in outside["errors"]
    )

    assert make_flow(desk, api).status_code == 201
    stored = api.post(
        "/api/review/task-uis/render",
        json={"task_ui": "boxes-ui", "input": {"taskObject": "s3://bucket/cat.jpg"}},
        headers=manager,
    ).json()
    assert "crowd-bounding-box" in stored["rendered_content"]
    both = {"template": template, "task_ui": "boxes-ui", "input": {}}
    assert api.post("/api/review/task-uis/render", json=both, headers=manager).status_code == 422
    gone = {"task_ui": "nope", "input": {}}
    assert api.post("/api/review/task-uis/render", json=gone, headers=manager).status_code == 404


def test_a_template_with_a_syntax_error_is_refused_naming_the_line(
    desk: Portal, api: TestClient
) -> None:
    manager = bearer(desk, "mia")
    broken = "<p>fine</p>\n<p>also fine</p>\n{% if task.input.x %}\n<p>never closed</p>\n"
    response = api.post(
        "/api/review/task-uis", json={"name": "broken", "template": broken}, headers=manager
    )
    assert response.status_code == 422
    assert "line 3" in response.json()["detail"] and "Liquid" in response.json()["detail"]
    unknown = "<p>\n{{ task.input.x | shout }}</p>"
    response = api.post(
        "/api/review/task-uis", json={"name": "loud", "template": unknown}, headers=manager
    )
    assert response.status_code == 422 and "line 2" in response.json()["detail"]
    assert api.get("/api/review/task-uis", headers=manager).json() == []
    bad_name = api.post(
        "/api/review/task-uis", json={"name": "Bad_Name", "template": "<p></p>"}, headers=manager
    )
    assert bad_name.status_code == 422


def test_bad_input_content_is_refused(desk: Portal, api: TestClient) -> None:
    manager = bearer(desk, "mia")
    assert make_flow(desk, api).status_code == 201
    for content, says in (
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ("x" * (terms.MAX_INPUT_CONTENT_CHARS + 1), "InputContent"),
    ):
        response = api.post(
            "/api/review/loops", json=start_body("loop-1", content), headers=manager
        )
        assert response.status_code == 422, content[:20]
        assert says in response.json()["detail"]
    neither = {"HumanLoopName": "loop-1", "HumanLoopInput": {"InputContent": "{}"}}
    assert api.post("/api/review/loops", json=neither, headers=manager).status_code == 422
    wrong_arn = neither | {"FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:1:flow/pets"}
    assert api.post("/api/review/loops", json=wrong_arn, headers=manager).status_code == 422
    classifiers = start_body("loop-1", "{}") | {"DataAttributes": {"ContentClassifiers": ["x"]}}
    assert api.post("/api/review/loops", json=classifiers, headers=manager).status_code == 422
    nothing = api.get("/api/review/loops?flow=pets", headers=manager).json()
    assert nothing == {"HumanLoopSummaries": [], "NextToken": None}


def test_unknown_names_and_refused_flows(desk: Portal, api: TestClient) -> None:
    manager = bearer(desk, "mia")
    unknown_flow = api.post(
        "/api/review/loops", json=start_body("l", "{}", flow="nope"), headers=manager
    )
    assert unknown_flow.status_code == 404 and "nope" in unknown_flow.json()["detail"]
    for path in (
        "/api/review/flows/nope",
        "/api/review/loops/nope",
        "/api/review/task-uis/nope",
        "/api/review/loops?flow=nope",
        "/api/review/events?flow=nope",
        "/api/review/flows/nope/manifest",
        "/api/review/loops/nope/output",
    ):
        assert api.get(path, headers=manager).status_code == 404, path
    no_team = make_flow(desk, api, team="green")
    assert no_team.status_code == 404 and "green" in no_team.json()["detail"]
    no_ui = make_flow(desk, api, task_ui="nope")
    assert no_ui.status_code == 404
    most = terms.TASK_COUNT.high
    assert most is not None
    assert make_flow(desk, api, task_count=most + 1).status_code == 422
    assert make_flow(desk, api, conditions="{not json").status_code == 422
    assert make_flow(desk, api, output="/etc").status_code == 422

    # An output location that cannot be written: the flow is kept, Failed, with the reason.
    blocker = desk.project.home / "not-a-folder"
    blocker.write_text("a file")
    failed = make_flow(desk, api, name="stuck", output=str(blocker))
    assert failed.status_code == 201
    assert failed.json()["FlowDefinitionStatus"] == "Failed"
    assert "cannot write" in failed.json()["FailureReason"]
    refused = api.post(
        "/api/review/loops", json=start_body("l", "{}", flow="stuck"), headers=manager
    )
    assert refused.status_code == 422 and "Failed" in refused.json()["detail"]

    conditions = {
        "Conditions": [
            {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 10}}
        ]
    }
    with_conditions = make_flow(desk, api, name="sampled", conditions=conditions)
    assert with_conditions.status_code == 201, with_conditions.text
    assert json.loads(with_conditions.json()["HumanLoopActivationConditions"]) == conditions
    with desk.project.db.session(immediate=True) as session:
        version = add_version(
            session,
            "pets",
            parent=None,
            task="detection",
            backend="fake",
            params={},
            training_dataset="shapes",
            test_dataset=None,
            labels=["cat", "dog"],
        ).name
    attached = api.put(
        "/api/review/flows/sampled/model", json={"version": version}, headers=manager
    )
    assert attached.status_code == 200 and attached.json()["ModelVersion"] == version
    unknown = api.put(
        "/api/review/flows/sampled/model", json={"version": "nope.v9"}, headers=manager
    )
    assert unknown.status_code == 404
    detached = api.put("/api/review/flows/sampled/model", json={"version": None}, headers=manager)
    assert detached.json()["ModelVersion"] is None


def test_workers_get_403_and_strangers_401(desk: Portal, api: TestClient) -> None:
    worker = bearer(desk, "wendy")
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("get", "/api/review/task-uis", None),
        ("post", "/api/review/task-uis", {"name": "x", "template": "<p></p>"}),
        ("post", "/api/review/task-uis/render", {"template": "<p></p>", "input": {}}),
        ("get", "/api/review/flows", None),
        ("delete", "/api/review/flows/pets", None),
        ("post", "/api/review/loops", start_body("l", "{}")),
        ("get", "/api/review/loops?flow=pets", None),
        ("get", "/api/review/loops/l/output", None),
        ("get", "/api/review/flows/pets/manifest", None),
        ("get", "/api/review/events", None),
        ("post", "/api/review/webhooks", {"url": "https://h/"}),
        ("get", "/api/review/deliveries", None),
    ]
    for method, path, body in calls:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        answered = api.request(method.upper(), path, headers=worker, **kwargs)
        assert answered.status_code == 403, (method, path)
        assert "managers" in answered.json()["detail"]
        # A revoked or made-up token is a 401; with no token at all a GET is a 401 too, and a
        # write is refused first for its missing CSRF token (the cookie rule).
        stranger = api.request(method.upper(), path, headers=STRANGER, **kwargs)
        assert stranger.status_code == 401, (method, path)
        anonymous = api.request(method.upper(), path, **kwargs)
        assert anonymous.status_code == (401 if method == "get" else 403), (method, path)


def test_openapi_describes_the_review_api(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in (
        "/api/review/task-uis",
        "/api/review/task-uis/{name}",
        "/api/review/task-uis/render",
        "/api/review/flows",
        "/api/review/flows/{name}",
        "/api/review/flows/{name}/model",
        "/api/review/flows/{name}/manifest",
        "/api/review/loops",
        "/api/review/loops/{name}",
        "/api/review/loops/{name}/stop",
        "/api/review/loops/{name}/output",
        "/api/review/events",
        "/api/review/webhooks",
        "/api/review/webhooks/{webhook_id}",
        "/api/review/webhooks/{webhook_id}/deliveries",
        "/api/review/deliveries",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation["tags"] == ["review"], path
    start = paths["/api/review/loops"]["post"]
    assert "StartHumanLoop" in start["description"]
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    limits = schemas["FlowCreate"]["properties"]["task_count"]
    assert (limits["default"], limits["maximum"]) == (
        terms.TASK_COUNT.default,
        terms.TASK_COUNT.high,
    )
