"""The model endpoints: list and show versions, start and stop them (managers), and detect
with an upload or base64 JSON, answering in Rekognition's DetectCustomLabels shape."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from tests.web.conftest import sign_in
from tests.web.portal import Portal
from truthloop import review
from truthloop.core.types import Boxes
from truthloop.ml import registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.review.templates import EXAMPLE_TEMPLATE
from truthloop.storage.project import Project
from truthloop.web.app import create_app

BOXES = shapes(10, task="detection", size=96, seed=3)


@pytest.fixture
def models(portal: Portal) -> Portal:
    """Detection versions `logos.v1` and `logos.v2` (FakeModels: they answer their training
    images, BOXES, with those images' boxes at 95 %)."""
    store_shapes(portal.project, "boxes", BOXES)
    store_shapes(portal.project, "test", shapes(3, task="detection", size=96, seed=4))
    for _ in range(2):
        registry.train_version(
            portal.project,
            "logos",
            dataset="boxes",
            task="detection",
            test_dataset="test",
            model=FakeModel(task=Task.DETECTION),
        )
    return portal


def bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


def _png(index: int) -> bytes:
    out = io.BytesIO()
    BOXES.images[BOXES.records[index].uri].save(out, "PNG")
    return out.getvalue()


def _started(client: TestClient, portal: Portal, version: str = "logos.v1") -> None:
    response = client.post(f"/api/models/{version}/start", headers=bearer(portal, "mia"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "RUNNING"


def test_versions_are_listed_and_shown(models: Portal, client: TestClient) -> None:
    headers = bearer(models, "wendy")
    listed = client.get("/api/models", headers=headers).json()
    assert [v["version"] for v in listed] == ["logos.v1", "logos.v2"]
    assert listed[0]["status"] == "TRAINING_COMPLETED" and listed[0]["task"] == "detection"
    assert client.get("/api/models?project_name=other", headers=headers).json() == []
    shown = client.get("/api/models/logos.v2", headers=headers).json()
    assert shown["training_dataset"] == "boxes" and shown["metrics"]["map50"] is not None
    assert "artifact_uri" not in shown
    missing = client.get("/api/models/logos.v9", headers=headers)
    assert missing.status_code == 404 and "logos.v9" in missing.json()["detail"]
    assert client.get("/api/models").status_code == 401


def test_only_managers_start_and_stop(models: Portal, client: TestClient) -> None:
    refused = client.post("/api/models/logos.v1/start", headers=bearer(models, "wendy"))
    assert refused.status_code == 403 and "managers" in refused.json()["detail"]
    _started(client, models)
    stopped = client.post("/api/models/logos.v1/stop", headers=bearer(models, "mia"))
    assert stopped.status_code == 200 and stopped.json()["status"] == "STOPPED"


def test_detect_with_an_upload(models: Portal, client: TestClient) -> None:
    _started(client, models)
    response = client.post(
        "/api/models/logos.v1/detect",
        headers=bearer(models, "wendy"),
        files={"image": ("shot.png", _png(1), "image/png")},
        data={"min_confidence": "0", "max_results": "5"},
    )
    assert response.status_code == 200, response.text
    labels = response.json()["CustomLabels"]
    truth = BOXES.records[1].annotations[0].value
    assert isinstance(truth, Boxes)
    width, height = BOXES.images[BOXES.records[1].uri].size
    # One shape of each label per image, so names pair answers with the truth.
    expected = {b.label: b for b in truth.boxes}
    assert sorted(label["Name"] for label in labels) == sorted(expected)
    for label in labels:
        box = expected[label["Name"]]
        assert label["Confidence"] == pytest.approx(95.0)
        assert label["Geometry"]["BoundingBox"] == pytest.approx(
            {
                "Width": box.width / width,
                "Height": box.height / height,
                "Left": box.left / width,
                "Top": box.top / height,
            }
        )


def test_detect_with_base64_json(models: Portal, client: TestClient) -> None:
    _started(client, models)
    body = {"image": base64.b64encode(_png(2)).decode(), "min_confidence": 0, "max_results": 1}
    response = client.post("/api/models/logos.v1/detect", headers=bearer(models, "walt"), json=body)
    assert response.status_code == 200, response.text
    (label,) = response.json()["CustomLabels"]
    assert label["Confidence"] == pytest.approx(95.0) and "Geometry" in label


def test_detect_through_a_review_flow_says_which_loop_it_started(
    models: Portal, client: TestClient
) -> None:
    _started(client, models)
    project = models.project
    with project.session() as session:
        review.create_task_ui(session, "boxes-ui", EXAMPLE_TEMPLATE)
    review.create_flow(
        project,
        review.FlowSpec(
            name="audit", team="red", task_ui="boxes-ui", title="Check the boxes",
            output=str(project.home / "a2i"), model_version="logos.v1",
        ),
    )
    body = {"image": base64.b64encode(_png(2)).decode()}
    response = client.post("/api/models/logos.v1/detect", headers=bearer(models, "walt"), json=body)
    assert response.status_code == 200, response.text
    started = response.json()["HumanLoopActivationOutput"]
    # No conditions: every request is reviewed, as A2I does.
    assert started["HumanLoopActivationReasons"] == ["AlwaysReview"]
    assert started["FlowDefinitionName"] == "audit"
    with project.session() as session:
        loop = review.get_loop(session, started["HumanLoopName"])
        assert loop.status == "InProgress" and loop.created_by is not None
    # The same image again is the same request: the loop it started is found, not doubled.
    again = client.post("/api/models/logos.v1/detect", headers=bearer(models, "walt"), json=body)
    assert again.json()["HumanLoopActivationOutput"]["HumanLoopName"] == loop.name
    plain = client.post("/api/models/logos.v2/start", headers=bearer(models, "mia"))
    assert plain.status_code == 200
    other = client.post("/api/models/logos.v2/detect", headers=bearer(models, "walt"), json=body)
    assert other.json().get("HumanLoopActivationOutput") is None


def test_detect_on_a_stopped_version_says_how_to_start_it(
    models: Portal, client: TestClient
) -> None:
    response = client.post(
        "/api/models/logos.v2/detect",
        headers=bearer(models, "wendy"),
        files={"image": ("shot.png", _png(0), "image/png")},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "ModelNotRunning"
    assert "POST /api/models/logos.v2/start" in response.json()["detail"]


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"json": {"image": "%%% not base64"}}, "not valid base64"),
        ({"json": {"image": base64.b64encode(b"plain text").decode()}}, "the uploaded image"),
        ({"json": {"min_confidence": 50}}, "image: Field required"),
        ({"json": {"image": "", "min_confidence": 150}}, "min_confidence"),
        ({"files": {"picture": ("x.png", b"...", "image/png")}}, "multipart field 'image'"),
        ({"files": {"image": ("x.png", b"", "image/png")}}, "empty"),
        ({"content": b"raw bytes", "headers": {"content-type": "image/png"}}, "multipart"),
    ],
    ids=["bad-base64", "not-an-image", "no-image", "bad-option", "wrong-field", "empty", "raw"],
)
def test_bad_detect_requests_get_a_clear_422(
    models: Portal, client: TestClient, request_kwargs: dict[str, object], message: str
) -> None:
    _started(client, models)
    headers = {**bearer(models, "wendy"), **request_kwargs.pop("headers", {})}  # type: ignore[dict-item]
    response = client.post("/api/models/logos.v1/detect", headers=headers, **request_kwargs)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


@pytest.fixture
def small_client(models: Portal) -> Iterator[TestClient]:
    """The same project served with a 20 kB request limit."""
    project = Project.open(models.project.home, max_request_bytes=20_000)
    with TestClient(create_app(project)) as client:
        yield client


def test_an_upload_over_the_limit_gets_413(models: Portal, small_client: TestClient) -> None:
    _started(small_client, models)
    noise = Image.effect_noise((300, 300), 80).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > 20_000
    response = small_client.post(
        "/api/models/logos.v1/detect",
        headers=bearer(models, "wendy"),
        files={"image": ("big.png", out.getvalue(), "image/png")},
    )
    assert response.status_code == 413
    assert "limit is 20000 bytes" in response.json()["detail"]


def test_a_signed_in_page_may_detect_with_its_csrf_token_in_the_form(
    models: Portal, client: TestClient
) -> None:
    _started(client, models)
    token = sign_in(client, "wendy")
    response = client.post(
        "/api/models/logos.v1/detect",
        files={"image": ("shot.png", _png(0), "image/png")},
        data={"csrf_token": token, "min_confidence": "0"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["CustomLabels"]
    forged = client.post(
        "/api/models/logos.v1/detect", files={"image": ("shot.png", _png(0), "image/png")}
    )
    assert forged.status_code == 403
