"""POST /api/datasets/{name}/import: an uploaded manifest or COCO file, or a path on the server
inside the allowed roots; the CLI's refusals; large imports queued for the background worker."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.datasets.conftest import box_line, write_manifest
from tests.web.portal import Portal, seed
from truthloop.runtime.background import BackgroundWorker
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.web.app import create_app
from truthloop.web.routes import api_imports


@pytest.fixture
def any_portal(project: Project) -> Portal:
    return seed(project)


@pytest.fixture
def api(any_portal: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(any_portal.project)) as c:
        c.headers["Authorization"] = f"Bearer {any_portal.token('mia')}"
        yield c


def _lines(project: Project, n: int = 3) -> list[dict]:
    return [box_line(str(project.home / "images" / f"{i}.png"), [(i % 2, 5, 5, 20, 20)])
            for i in range(n)]


def _manifest(project: Project, lines: Sequence[dict | str]) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


def _items(project: Project, name: str) -> int:
    with project.session() as session:
        row = store.find_dataset(session, name)
        return 0 if row is None else store.summarize(session, row).items


def _uploads(project: Project) -> list[Path]:
    folder = project.home / "uploads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_an_uploaded_manifest_is_imported_and_its_items_listed(
    api: TestClient, any_portal: Portal
) -> None:
    project = any_portal.project
    body = _manifest(project, _lines(project))
    response = api.post("/api/datasets/up/import?format=groundtruth&filename=../x.manifest",
                        content=body)
    assert response.status_code == 201, response.text
    assert response.json()["imported"] == 3
    assert response.json()["created"] is True
    page = api.get("/api/datasets/up/items").json()
    assert page["total"] == 3
    assert {i["uri"] for i in page["items"]} == {str(project.home / "images" / f"{i}.png")
                                                  for i in range(3)}
    assert _uploads(project) == []  # removed once imported


def test_an_uploaded_coco_file_with_an_image_root(api: TestClient, any_portal: Portal) -> None:
    project = any_portal.project
    coco = {
        "images": [{"id": 1, "file_name": "0.png", "width": 400, "height": 300}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 3, "bbox": [5, 5, 20, 20]}],
        "categories": [{"id": 3, "name": "dog"}],
    }
    response = api.post(
        "/api/datasets/coco/import",
        params={"format": "coco", "image_root": str(project.home / "images")},
        content=json.dumps(coco).encode(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["labels"] == ["dog"]
    assert _items(project, "coco") == 1


def test_a_path_on_the_server_inside_the_allowed_roots(
    api: TestClient, any_portal: Portal, tmp_path: Path
) -> None:
    project = any_portal.project
    manifest = write_manifest(project.home / "in.manifest", _lines(project, 2))
    response = api.post("/api/datasets/local/import",
                        json={"path": str(manifest), "format": "groundtruth", "split": "train"})
    assert response.status_code == 201, response.text
    assert response.json()["imported"] == 2
    assert manifest.exists()  # the server's own file stays

    outside = write_manifest(tmp_path / "outside.manifest", _lines(project, 1))
    for path, says in [
        (str(outside), "is outside the allowed roots"),
        (str(project.home / ".." / outside.name), "goes up a folder"),
        (str(manifest) + "\x00.png", "control character"),
        ("relative.manifest", "is not absolute"),
    ]:
        response = api.post("/api/datasets/evil/import", json={"path": path,
                                                                "format": "groundtruth"})
        assert response.status_code == 422, response.text
        assert says in response.json()["detail"]
    link = project.home / "link.manifest"
    link.symlink_to(outside)
    response = api.post("/api/datasets/evil/import", json={"path": str(link),
                                                            "format": "groundtruth"})
    assert response.status_code == 422 and "outside the allowed roots" in response.json()["detail"]
    assert _items(project, "evil") == 0


def test_a_malformed_line_is_refused_with_its_line_and_nothing_stored(
    api: TestClient, any_portal: Portal
) -> None:
    project = any_portal.project
    lines = _lines(project)
    body = _manifest(project, [lines[0], lines[1], "{not json", lines[2]])
    response = api.post("/api/datasets/bad/import?format=groundtruth&filename=bad.manifest",
                        content=body)
    assert response.status_code == 400, response.text
    assert "bad.manifest:3: the line is not valid JSON" in response.json()["detail"]
    assert "nothing was imported" in response.json()["detail"]
    assert "on_error=skip over the API" in response.json()["detail"]
    assert _items(project, "bad") == 0
    assert _uploads(project) == []


def test_unknown_formats_non_managers_and_oversized_uploads_are_refused(
    api: TestClient, any_portal: Portal
) -> None:
    project = any_portal.project
    body = _manifest(project, _lines(project))
    response = api.post("/api/datasets/x/import?format=parquet", content=body)
    assert response.status_code == 422 and "parquet" in response.json()["detail"]
    worker = {"Authorization": f"Bearer {any_portal.token('wendy')}"}
    response = api.post("/api/datasets/x/import?format=groundtruth", content=body, headers=worker)
    assert response.status_code == 403

    project.settings.max_upload_bytes = 100
    with TestClient(create_app(project)) as small:
        small.headers["Authorization"] = api.headers["Authorization"]
        response = small.post("/api/datasets/x/import?format=groundtruth", content=body)
        assert response.status_code == 413
        assert "TRUTHLOOP_MAX_UPLOAD_BYTES" in response.json()["detail"]
        # Without a Content-Length, counted as it arrives: nothing of it stays.
        response = small.post("/api/datasets/x/import?format=groundtruth",
                              content=iter([body[:80], body[80:]]))
        assert response.status_code == 413
    assert _items(project, "x") == 0
    assert _uploads(project) == []


def test_a_large_import_is_queued_and_run_by_the_background_worker(
    api: TestClient, any_portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = any_portal.project
    monkeypatch.setattr(api_imports, "INLINE_MAX_BYTES", 10)
    body = _manifest(project, _lines(project))
    response = api.post("/api/datasets/big/import?format=groundtruth", content=body)
    assert response.status_code == 202, response.text
    url = response.json()["url"]
    assert response.headers["Location"] == url
    status = api.get(url).json()
    assert (status["status"], status["lines_read"], status["items_stored"]) == ("queued", 0, 0)
    assert _items(project, "big") == 0

    BackgroundWorker(project).run_once()
    status = api.get(url).json()
    assert status["status"] == "done", status
    assert (status["lines_read"], status["items_stored"]) == (3, 3)
    assert status["report"]["imported"] == 3
    assert _items(project, "big") == 3
    assert _uploads(project) == []
    BackgroundWorker(project).run_once()  # nothing is imported twice
    assert _items(project, "big") == 3

    bad = _manifest(project, [*_lines(project)[:1], "{oops"])
    response = api.post("/api/datasets/worse/import?format=groundtruth", content=bad)
    BackgroundWorker(project).run_once()
    status = api.get(response.json()["url"]).json()
    assert status["status"] == "failed"
    assert ".manifest:2: the line is not valid JSON" in status["error"]
    assert _items(project, "worse") == 0
    assert api.get("/api/imports/999").status_code == 404


def test_a_queued_import_survives_a_restart(api: TestClient, any_portal: Portal) -> None:
    """The row is the state: an import left running by a stopped worker runs again whole."""
    project = any_portal.project
    manifest = write_manifest(project.home / "later.manifest", _lines(project, 2))
    response = api.post("/api/datasets/later/import",
                        json={"path": str(manifest), "format": "groundtruth", "background": True})
    assert response.status_code == 202
    import_id = response.json()["id"]
    from truthloop.datasets import queued
    from truthloop.storage.tables import ImportRow

    with project.session() as session:
        row = session.get(ImportRow, import_id)
        assert row is not None
        row.status = queued.RUNNING  # as a killed worker left it
    with Project.open(project.home, database_url=project.settings.database_url) as reopened:
        BackgroundWorker(reopened).run_once()
    assert api.get(f"/api/imports/{import_id}").json()["status"] == "done"
    assert _items(project, "later") == 2
    assert manifest.exists()
