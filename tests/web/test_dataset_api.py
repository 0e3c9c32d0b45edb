"""GET /api/datasets/{name}/items filtered by label, split, who labeled it and confidence, and
POST /api/datasets/{name}/split (by ratio, seeded and stratified; by hand), on SQLite and
PostgreSQL, with their refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.dataset_setup import NAME, WORKER, make_zoo
from tests.web.portal import Portal, seed
from truthloop.storage.project import Project
from truthloop.web.app import create_app

ITEMS = f"/api/datasets/{NAME}/items"
SPLIT = f"/api/datasets/{NAME}/split"


@pytest.fixture
def api(project: Project) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """A client, a manager's headers and a worker's, over the seeded project and the zoo."""
    portal = seed(project)
    make_zoo(project)
    with TestClient(create_app(project)) as client:
        yield client, _bearer(portal, "mia"), _bearer(portal, "wendy")


def _bearer(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


# A box in the API's JSON: [label, left, top, width, height, confidence].
def _labels(item: dict[str, Any]) -> list[str]:
    return [b[0] for a in item["annotations"] for b in a["value"]["boxes"]]


def _confidences(item: dict[str, Any]) -> list[float]:
    return [b[5] for a in item["annotations"] for b in a["value"]["boxes"]]


def _page(client: TestClient, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    response = client.get(ITEMS, params=query, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_items_filter_by_label_source_worker_and_confidence(api: Any) -> None:
    client, manager, _ = api
    assert _page(client, manager)["total"] == 10
    cats = _page(client, manager, label="cat")
    assert cats["total"] == 5 and all(_labels(i) == ["cat"] for i in cats["items"])
    sure_dogs = _page(client, manager, label="dog", min_confidence=0.45)
    assert sure_dogs["total"] == 2
    assert sorted(c for i in sure_dogs["items"] for c in _confidences(i)) == [0.5, 0.6]
    middle = _page(client, manager, min_confidence=0.5, max_confidence=0.6)
    assert middle["total"] == 4  # cat 0.5 and 0.6, dog 0.5 and 0.6: both ends included
    people = _page(client, manager, source="human")
    assert people["total"] == 5 and all(_labels(i) == ["cat"] for i in people["items"])
    assert _page(client, manager, source="model", label="dog")["total"] == 5
    assert _page(client, manager, worker=WORKER)["total"] == 5
    # One annotation must meet every condition: w1 drew no dog.
    assert _page(client, manager, worker=WORKER, label="dog")["total"] == 0
    assert _page(client, manager, label="bird")["total"] == 0


def test_a_filtered_page_is_paged(api: Any) -> None:
    client, manager, _ = api
    first = _page(client, manager, label="cat", limit=2)
    last = _page(client, manager, label="cat", limit=2, offset=4)
    assert (first["total"], len(first["items"]), last["total"], len(last["items"])) == (5, 2, 5, 1)
    every = [i["id"] for i in _page(client, manager, label="cat")["items"]]
    assert [i["id"] for i in first["items"]] == every[:2] and last["items"][0]["id"] == every[4]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"min_confidence": 2}, "min_confidence"),
        ({"max_confidence": "high"}, "max_confidence"),
        ({"min_confidence": 0.8, "max_confidence": 0.2}, "min_confidence 0.8 is above"),
        ({"source": "robot"}, "source"),
        ({"split": "holdout"}, "split"),
        ({"label": ""}, "label"),
        ({"limit": 0}, "limit"),
    ],
)
def test_a_bad_filter_is_refused_saying_which(api: Any, query: dict[str, Any], says: str) -> None:
    client, manager, _ = api
    response = client.get(ITEMS, params=query, headers=manager)
    assert response.status_code == 422
    assert says in response.text


def test_the_split_editor_splits_by_ratio_per_label(api: Any) -> None:
    client, manager, _ = api
    response = client.post(SPLIT, json={"train_share": 0.8, "seed": 7}, headers=manager)
    assert response.status_code == 200, response.text
    assert response.json()["items_per_split"] == {"train": 8, "test": 2}
    test = _page(client, manager, split="test")["items"]
    assert sorted(label for i in test for label in _labels(i)) == ["cat", "dog"]  # stratified
    # The same seed chooses the same test images again.
    client.post(SPLIT, json={"train_share": 0.5, "seed": 1}, headers=manager)
    again = client.post(SPLIT, json={"train_share": 0.8, "seed": 7}, headers=manager)
    assert again.json()["items_per_split"] == {"train": 8, "test": 2}
    assert [i["id"] for i in _page(client, manager, split="test")["items"]] == [
        i["id"] for i in test
    ]
    everything = client.post(SPLIT, json={"train_share": 1}, headers=manager)
    assert everything.json()["items_per_split"] == {"train": 10}


def test_the_split_editor_moves_chosen_items(api: Any) -> None:
    client, manager, _ = api
    ids = [i["id"] for i in _page(client, manager, label="dog")["items"]][:3]
    response = client.post(SPLIT, json={"items": ids, "split": "validation"}, headers=manager)
    assert response.status_code == 200, response.text
    assert response.json()["items_per_split"] == {"unassigned": 7, "validation": 3}
    assert [i["id"] for i in _page(client, manager, split="validation")["items"]] == ids


def test_an_item_of_another_dataset_changes_nothing(api: Any) -> None:
    client, manager, _ = api
    other = client.get("/api/datasets/shapes/items", headers=manager).json()["items"][0]["id"]
    mine = _page(client, manager)["items"][0]["id"]
    response = client.post(SPLIT, json={"items": [mine, other], "split": "test"}, headers=manager)
    assert response.status_code == 422
    assert f"dataset '{NAME}' has no items with ids {other}" in response.json()["detail"]
    assert _page(client, manager, split="test")["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"train_share": 0},
        {"train_share": 1.5},
        {"train_share": 0.8, "items": [1], "split": "test"},
        {"items": [1]},
        {"split": "test"},
        {"items": [], "split": "test"},
        {"items": [1], "split": "holdout"},
        {},
        {"train_share": 0.8, "colour": "red"},
    ],
)
def test_a_bad_split_change_is_refused(api: Any, body: dict[str, Any]) -> None:
    client, manager, _ = api
    response = client.post(SPLIT, json=body, headers=manager)
    assert response.status_code == 422, response.text
    assert _page(client, manager, split="unassigned")["total"] == 10


def test_workers_are_refused_and_unknown_datasets_not_found(api: Any) -> None:
    client, manager, worker = api
    assert client.get(ITEMS, headers=worker).status_code == 403
    refused = client.post(SPLIT, json={"train_share": 0.8}, headers=worker)
    assert refused.status_code == 403 and "managers" in refused.json()["detail"]
    assert _page(client, manager, split="unassigned")["total"] == 10
    missing = client.get("/api/datasets/nope/items", params={"label": "cat"}, headers=manager)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert (
        client.post(
            "/api/datasets/nope/split", json={"train_share": 0.8}, headers=manager
        ).status_code
        == 404
    )
