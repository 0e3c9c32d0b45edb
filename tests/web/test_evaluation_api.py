"""A model version's evaluation over REST: the overall and per-label numbers, its test images
filtered by outcome and label (whose counts add up to the per-label ones), two versions side by
side, and the refusals (an unknown version, a worker), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.ml.shapes import Shapes, shapes
from tests.ml.stored import store_shapes
from tests.web.portal import Portal, seed
from truthloop.ml import outcomes, registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.storage.project import Project
from truthloop.web.app import create_app

TRAIN = shapes(8, task="detection", size=96, seed=3)
UNSEEN = shapes(3, task="detection", size=96, seed=4)
# Two images the models remember (right, at 95 %) and three they guess (mostly wrong).
TEST = Shapes(TRAIN.records[:2], TRAIN.images) + UNSEEN


def train_logos(portal: Portal) -> None:
    """`logos.v1` guesses unseen images as confidently as it answers known ones, so its
    guesses pass the assumed thresholds and show as false positives; `logos.v2` guesses at
    50 %, below them."""
    store_shapes(portal.project, "boxes", TRAIN)
    store_shapes(portal.project, "test", TEST)
    for guess in (0.95, 0.5):
        registry.train_version(
            portal.project,
            "logos",
            dataset="boxes",
            task="detection",
            test_dataset="test",
            model=FakeModel(task=Task.DETECTION, guess_confidence=guess),
        )


@pytest.fixture
def portal(project: Project) -> Portal:
    """Seeded on SQLite and on PostgreSQL, with the two versions trained."""
    outcomes.CACHE.clear()
    portal = seed(project)
    train_logos(portal)
    return portal


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(portal.project)) as c:
        yield c


def bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


def test_the_evaluation_is_the_one_recorded_at_training(portal: Portal, client: TestClient) -> None:
    response = client.get("/api/models/logos.v1/evaluation", headers=bearer(portal, "mia"))
    assert response.status_code == 200, response.text
    body = response.json()
    stored = registry.get_version(portal.project, "logos.v1").metrics
    assert stored is not None
    assert body["stored"] is True and body["task"] == "detection"
    assert body["f1"] == stored["f1"] and body["map50"] == stored["map50"]
    assert body["testing_images"] == len(TEST.records)
    assert {m["label"] for m in body["per_label"]} == {m["label"] for m in stored["per_label"]}
    for label in body["per_label"]:
        assert 0 <= label["threshold"] <= 1 and label["testing_images"] > 0
    # On a named dataset the version is scored anew.
    again = client.get(
        "/api/models/logos.v1/evaluation?dataset=test", headers=bearer(portal, "mia")
    ).json()
    assert again["stored"] is False and again["f1"] == pytest.approx(body["f1"])


def test_image_outcomes_add_up_to_the_per_label_counts(portal: Portal, client: TestClient) -> None:
    headers = bearer(portal, "mia")
    every = client.get("/api/models/logos.v1/evaluation/images?limit=200", headers=headers)
    assert every.status_code == 200, every.text
    images = every.json()["images"]
    assert every.json()["total"] == len(images) == len(TEST.records)
    counted: Counter[tuple[str, str]] = Counter()
    for image in images:
        assert image["image_url"] == f"/api/items/{image['item_id']}/image"
        for mark in image["truth"]:
            assert mark["outcome"] in ("tp", "fn") and mark["box"] is not None
            counted[mark["label"], mark["outcome"]] += mark["outcome"] == "fn"
        for mark in image["predicted"]:
            assert mark["outcome"] in ("tp", "fp") and mark["confidence"] is not None
            counted[mark["label"], mark["outcome"]] += 1
    summary = client.get("/api/models/logos.v1/evaluation", headers=headers).json()
    for label in summary["per_label"]:
        name = label["label"]
        assert counted[name, "tp"] == label["true_positives"], name
        assert counted[name, "fp"] == label["false_positives"], name
        assert counted[name, "fn"] == label["false_negatives"], name
    assert sum(n for (_, o), n in counted.items() if o == "fp") > 0


def test_images_are_filtered_by_outcome_and_label_and_paged(
    portal: Portal, client: TestClient
) -> None:
    headers = bearer(portal, "mia")
    url = "/api/models/logos.v1/evaluation/images"
    wrong = client.get(f"{url}?outcome=fp", headers=headers).json()
    assert wrong["total"] > 0 and wrong["outcome"] == "fp"
    for image in wrong["images"]:
        assert any(m["outcome"] == "fp" for m in image["predicted"])
    label = wrong["images"][0]["predicted"][0]["label"]
    narrowed = client.get(f"{url}?outcome=tp&label={label}", headers=headers).json()
    for image in narrowed["images"]:
        assert any(m["outcome"] == "tp" and m["label"] == label for m in image["predicted"])
    first = client.get(f"{url}?limit=2&offset=0", headers=headers).json()
    second = client.get(f"{url}?limit=2&offset=2", headers=headers).json()
    assert first["total"] == second["total"] == len(TEST.records)
    ids = [i["item_id"] for i in first["images"] + second["images"]]
    assert len(ids) == 4 and len(set(ids)) == 4
    bad = client.get(f"{url}?outcome=maybe", headers=headers)
    assert bad.status_code == 422
    too_many = client.get(f"{url}?limit=100000", headers=headers)
    assert too_many.status_code == 422


def test_two_versions_side_by_side(portal: Portal, client: TestClient) -> None:
    response = client.get(
        "/api/models/compare?first=logos.v1&second=logos.v2&dataset=test",
        headers=bearer(portal, "mia"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [v["version"] for v in body["versions"]] == ["logos.v1", "logos.v2"]
    rows = {(r["label"], r["metric"]): r for r in body["rows"]}
    for metric in ("f1", "precision", "recall", "map50"):
        row = rows[None, metric]
        assert row["values"] == [body["versions"][0][metric], body["versions"][1][metric]]
    for row in body["rows"]:
        a, b = row["values"]
        if a is not None and b is not None and a != b:
            assert row["better"] == (0 if a > b else 1)
    labels = {label for label, _ in rows if label is not None}
    assert labels == {m["label"] for m in body["versions"][0]["per_label"]}
    # Without a dataset, both are scored on the first version's own test set.
    default = client.get(
        "/api/models/compare?first=logos.v1&second=logos.v2", headers=bearer(portal, "mia")
    ).json()
    assert default["test_set"] == "dataset test"


def test_refusals(portal: Portal, client: TestClient) -> None:
    mia, wendy = bearer(portal, "mia"), bearer(portal, "wendy")
    for path in (
        "/api/models/logos.v9/evaluation",
        "/api/models/logos.v9/evaluation/images",
        "/api/models/compare?first=logos.v1&second=logos.v9",
    ):
        missing = client.get(path, headers=mia)
        assert missing.status_code == 404 and "logos.v9" in missing.json()["detail"], path
    gone = client.get("/api/models/logos.v1/evaluation?dataset=nope", headers=mia)
    assert gone.status_code == 404 and "nope" in gone.json()["detail"]
    for path in (
        "/api/models/logos.v1/evaluation",
        "/api/models/logos.v1/evaluation/images",
        "/api/models/compare?first=logos.v1&second=logos.v2",
    ):
        refused = client.get(path, headers=wendy)
        assert refused.status_code == 403 and "managers" in refused.json()["detail"], path
        assert client.get(path).status_code == 401, path
