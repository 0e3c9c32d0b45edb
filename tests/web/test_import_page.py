"""Importing from the browser: a zip upload (images with folders as labels, a COCO file with its
images) unpacked, copied into the blob store and queued; each refusal by line over the API; the
import page, and in a real browser a folder of images and a COCO file with its images imported
from it, followed to the end and found in the dataset."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Page, expect

from tests.web.portal import Portal, browser_sign_in, seed
from truthloop.datasets import queued
from truthloop.storage.project import Project
from truthloop.web.app import create_app

COCO = {
    "images": [
        {"id": 1, "file_name": "images/0.png", "width": 8, "height": 6},
        {"id": 2, "file_name": "images/1.png", "width": 8, "height": 6},
    ],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 3]},
        {"id": 2, "image_id": 2, "category_id": 4, "bbox": [2, 1, 3, 3]},
    ],
    "categories": [{"id": 3, "name": "cat"}, {"id": 4, "name": "dog"}],
}


@pytest.fixture
def any_portal(project: Project) -> Portal:
    return seed(project)


@pytest.fixture
def api(any_portal: Portal) -> Iterator[TestClient]:
    with TestClient(create_app(any_portal.project)) as c:
        c.headers["Authorization"] = f"Bearer {any_portal.token('mia')}"
        yield c


def png(shade: int) -> bytes:
    """A tiny PNG; each shade a different content, since an import refuses the same image twice."""
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (shade, 40, 90)).save(out, "PNG")
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def items(api: TestClient, name: str) -> list[dict]:
    page = api.get(f"/api/datasets/{name}/items?limit=100").json()
    return page["items"]


def labels_of(item: dict) -> list[str]:
    """The labels an item's annotations name: a classification's, or each box's."""
    found: list[str] = []
    for annotation in item["annotations"]:
        value = annotation["value"]
        found += [value["label"]] if "label" in value else [b[0] for b in value.get("boxes", ())]
    return sorted(found)


def uploads_left(project: Project) -> list[Path]:
    folder = project.home / "uploads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def run_queued(api: TestClient, project: Project, answer: dict) -> dict:
    assert queued.run_next(project) == answer["id"]
    return api.get(answer["url"]).json()


# ---- REST: a zip upload --------------------------------------------------------------------


def test_a_zip_of_folders_is_imported_with_folders_as_labels_and_copied(
    api: TestClient, any_portal: Portal
) -> None:
    project = any_portal.project
    body = zipped({"cat/a.png": png(1), "dog/b.png": png(2), "c.png": png(3)})
    response = api.post("/api/datasets/pets/import?format=folders&filename=pets.zip", content=body)
    assert response.status_code == 202, response.text  # images are copied: always queued
    state = run_queued(api, project, response.json())
    assert state["status"] == "done", state
    assert (state["items_stored"], state["refusals"]) == (3, [])
    assert state["report"]["copied"] == 3
    stored = items(api, "pets")
    assert sorted(labels_of(i)[0] if labels_of(i) else "" for i in stored) == ["", "cat", "dog"]
    assert all("/uploads/" not in i["uri"] for i in stored)
    # The images live in the blob store now, so the upload is gone and they still open.
    assert uploads_left(project) == []
    image = api.get(items(api, "pets")[0]["image_url"])
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"


def test_a_zip_with_a_coco_file_and_its_images(api: TestClient, any_portal: Portal) -> None:
    project = any_portal.project
    body = zipped(
        {
            "export/annotations.json": json.dumps(COCO).encode(),
            "export/images/0.png": png(10),
            "export/images/1.png": png(11),
        }
    )
    response = api.post("/api/datasets/coco/import?format=coco&filename=coco.zip", content=body)
    assert response.status_code == 202, response.text
    state = run_queued(api, project, response.json())
    assert state["status"] == "done", state
    assert state["report"]["labels"] == ["cat", "dog"]
    assert len(items(api, "coco")) == 2
    assert uploads_left(project) == []


@pytest.mark.parametrize(
    ("members", "query", "says"),
    [
        ({"../evil.png": b"x"}, "format=folders", "contains '..'"),
        ({"/etc/evil.png": b"x"}, "format=folders", "is an absolute path"),
        ({"a.json": b"{}", "b.json": b"{}"}, "format=coco", "say which file of the zip"),
        ({"a.json": b"{}"}, "format=coco&annotations=missing.json", "holds no file"),
        ({"a.png": b"x"}, "format=folders&annotations=a.png", "reads the whole folder"),
    ],
)
def test_a_zip_that_is_unsafe_or_unclear_is_refused_and_left_nowhere(
    api: TestClient, any_portal: Portal, members: dict[str, bytes], query: str, says: str
) -> None:
    project = any_portal.project
    response = api.post(f"/api/datasets/z/import?{query}&filename=up.zip", content=zipped(members))
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert uploads_left(project) == []
    assert api.get("/api/datasets/z/items").status_code == 404


def test_a_broken_or_oversized_zip_is_refused(api: TestClient, any_portal: Portal) -> None:
    project = any_portal.project
    response = api.post(
        "/api/datasets/z/import?format=folders&filename=up.zip", content=b"PK\x03\x04broken"
    )
    assert response.status_code == 422 and "is not a readable zip" in response.json()["detail"]
    project.settings.max_upload_bytes = 10_000
    body = zipped({"big.png": bytes(20_000)})  # compresses to a few dozen bytes
    response = api.post("/api/datasets/z/import?format=folders&filename=up.zip", content=body)
    assert response.status_code == 422, response.text
    assert "unpacks to 20000 bytes, more than TRUTHLOOP_MAX_UPLOAD_BYTES" in response.text
    assert uploads_left(project) == []


def test_annotations_applies_to_a_zip_only(api: TestClient, any_portal: Portal) -> None:
    response = api.post(
        "/api/datasets/z/import?format=coco&annotations=a.json", content=json.dumps(COCO)
    )
    assert response.status_code == 422
    assert "inside an uploaded zip" in response.json()["detail"]
    assert uploads_left(any_portal.project) == []


# ---- REST: refusals by line, paths, options, people ----------------------------------------


def _manifest(project: Project) -> bytes:
    image = project.home / "seen.png"
    image.write_bytes(png(50))
    good = {"source-ref": str(image), "class": 0, "class-metadata": {"class-name": "cat"}}
    return (json.dumps(good) + "\n" + "{not json\n").encode()


@pytest.mark.parametrize("on_error", ["abort", "skip"])
def test_each_refused_line_is_reported_with_its_line_file_and_reason(
    api: TestClient, any_portal: Portal, on_error: str
) -> None:
    project = any_portal.project
    response = api.post(
        f"/api/datasets/lines/import?format=groundtruth&filename=in.manifest&background=true"
        f"&on_error={on_error}",
        content=_manifest(project),
    )
    assert response.status_code == 202, response.text
    state = run_queued(api, project, response.json())
    [refusal] = state["refusals"]
    assert refusal["line"] == 2
    assert refusal["where"] == "in.manifest"  # not the server's upload folder
    assert refusal["what"].startswith("the line is not valid JSON")
    assert state["status"] == ("failed" if on_error == "abort" else "done")
    assert state["items_stored"] == (0 if on_error == "abort" else 1)
    assert uploads_left(project) == []  # a failed import is not run again: nothing kept


def test_server_paths_formats_and_options_are_refused_with_what_and_why(
    api: TestClient, any_portal: Portal, tmp_path: Path
) -> None:
    project = any_portal.project
    refused: list[tuple[dict[str, object], str]] = [
        ({"path": str(tmp_path), "format": "folders"}, "outside the allowed roots"),
        ({"path": "s3://bucket/cats/", "format": "folders"}, "outside the allowed S3 prefixes"),
        ({"path": str(project.home), "format": "parquet"}, "format 'parquet' is not one"),
        ({"path": str(project.home), "format": "folders", "copy": "yes"}, "copy is true or false"),
        ({"path": str(project.home), "format": "folders", "labels": 3}, "labels is a list"),
    ]
    for body, says in refused:
        response = api.post("/api/datasets/paths/import", json={**body, "background": True})
        assert response.status_code == 422, response.text
        assert says in response.json()["detail"]
    folder = project.home / "incoming" / "cat"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(png(60))
    response = api.post(
        "/api/datasets/paths/import",
        json={
            "path": str(folder.parent),
            "format": "folders",
            "verify_images": True,
            "labels": "cat, dog",  # as the page's form gives a fixed label set
        },
    )
    assert response.status_code == 202, response.text  # opening every image: queued
    state = run_queued(api, project, response.json())
    assert (state["status"], state["items_stored"]) == ("done", 1)
    assert state["report"]["labels"] == ["cat", "dog"]
    assert (folder / "a.png").exists()  # the server's own files stay


def test_a_worker_may_neither_import_nor_follow_an_import(
    api: TestClient, any_portal: Portal
) -> None:
    worker = {"Authorization": f"Bearer {any_portal.token('wendy')}"}
    body = zipped({"a.png": png(1)})
    response = api.post("/api/datasets/w/import?format=folders", content=body, headers=worker)
    assert response.status_code == 403
    response = api.post("/api/datasets/w/import?format=folders&filename=a.zip", content=body)
    assert api.get(response.json()["url"], headers=worker).status_code == 403
    assert uploads_left(any_portal.project) != []  # queued, waiting: not removed


# ---- the page ------------------------------------------------------------------------------


def test_the_import_page_offers_every_readable_format_and_is_for_managers(
    client: TestClient,
) -> None:
    from tests.web.conftest import sign_in
    from truthloop.formats import READ_FORMATS

    sign_in(client, "mia")
    assert 'href="/datasets/import"' in client.get("/datasets").text
    page = client.get("/datasets/import?import=7")
    assert page.status_code == 200
    for fmt in READ_FORMATS:
        assert f'<option value="{fmt}">' in page.text
    assert 'data-import-id="7"' in page.text
    client.post("/logout", data={"csrf_token": sign_in(client, "mia")})
    sign_in(client, "wendy")
    assert client.get("/datasets/import", follow_redirects=False).status_code in (303, 403)


# ---- in a browser --------------------------------------------------------------------------


def _wait_for_id(page: Page) -> None:
    expect(page.locator("#import-refused")).to_be_hidden()
    # history.replaceState puts the id in the URL without a navigation to wait for.
    expect(page).to_have_url(re.compile(r"/datasets/import\?import=\d+$"))
    expect(page.locator("#import-status")).to_have_text("queued")


@pytest.mark.browser
def test_a_folder_of_images_and_a_coco_file_imported_from_the_page(
    portal: Portal, page: Page, tmp_path: Path
) -> None:
    project = portal.project
    images = []
    for i in range(3):
        images.append(tmp_path / f"img{i}.png")
        images[-1].write_bytes(png(100 + i))
    browser_sign_in(page, "mia")
    page.goto("/datasets")
    page.click("text=Import a dataset")
    page.fill("input[name=dataset_name]", "snaps")
    page.set_input_files("#file-picker", [str(p) for p in images])
    expect(page.locator("#chosen")).to_contain_text("3 files: 3 images")
    expect(page.locator("select[name=format]")).to_have_value("folders")
    page.click("#import-form button[type=submit]")
    _wait_for_id(page)
    expect(page.locator("#lines-total")).to_have_text(" / 3")
    queued.run_next(project)
    expect(page.locator("#import-status")).to_have_text("done")
    expect(page.locator("#items-stored")).to_have_text("3")
    expect(page.locator("#dataset-link")).to_have_attribute("href", "/datasets/snaps")
    page.reload()  # the id is in the URL: the same import, still done
    expect(page.locator("#import-status")).to_have_text("done")
    expect(page.locator("#import-number")).to_contain_text("into snaps")

    coco = tmp_path / "coco"
    (coco / "images").mkdir(parents=True)
    (coco / "annotations.json").write_text(json.dumps(COCO))
    for i in range(2):
        (coco / "images" / f"{i}.png").write_bytes(png(150 + i))
    page.goto("/datasets/import")
    page.fill("input[name=dataset_name]", "cocopets")
    page.select_option("select[name=format]", "coco")
    # The folder picked whole: each file keeps its path, so images/0.png is where COCO says.
    page.set_input_files("#folder-picker", str(coco))
    expect(page.locator("#chosen")).to_contain_text("3 files: 2 images, 1 other (annotations.json)")
    page.click("#import-form button[type=submit]")
    _wait_for_id(page)
    queued.run_next(project)
    expect(page.locator("#import-status")).to_have_text("done")
    expect(page.locator("#items-stored")).to_have_text("2")
    page.click("#dataset-link")
    page.wait_for_url("**/datasets/cocopets")
    with TestClient(create_app(project)) as api:
        api.headers["Authorization"] = f"Bearer {portal.token('mia')}"
        assert len(items(api, "snaps")) == 3
        found = items(api, "cocopets")
        assert sorted(label for i in found for label in labels_of(i)) == ["cat", "dog"]


@pytest.mark.browser
def test_a_refused_line_is_shown_with_its_number_on_the_page(
    portal: Portal, page: Page, tmp_path: Path
) -> None:
    manifest = tmp_path / "in.manifest"
    manifest.write_bytes(_manifest(portal.project))
    browser_sign_in(page, "mia")
    page.goto("/datasets/import")
    page.fill("input[name=dataset_name]", "broken")
    page.select_option("select[name=format]", "groundtruth")
    page.set_input_files("#file-picker", [str(manifest)])
    page.click("#import-form button[type=submit]")
    _wait_for_id(page)
    queued.run_next(portal.project)
    expect(page.locator("#import-status")).to_have_text("failed")
    row = page.locator("#refusals tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("2")
    expect(row.locator("td").nth(1)).to_contain_text("the line is not valid JSON")
    expect(row.locator("td").nth(2)).to_have_text("in.manifest")
    expect(page.locator("#import-done")).to_be_hidden()


@pytest.mark.browser
def test_dropped_files_are_chosen_and_a_server_path_refused_with_the_servers_reason(
    portal: Portal, page: Page
) -> None:
    browser_sign_in(page, "mia")
    page.goto("/datasets/import")
    # A drop as the browser delivers it: files in a DataTransfer (no folder entries).
    drop = page.evaluate_handle("""() => {
        const data = new DataTransfer();
        for (const name of ["a.png", "b.jpg", "notes.txt"]) data.items.add(new File(["x"], name));
        return data;
    }""")
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": drop})
    expect(page.locator("#chosen")).to_contain_text("3 files: 2 images, 1 other (notes.txt)")

    page.check("input[name=source][value=folder]")
    expect(page.locator("#drop-zone")).to_be_hidden()
    page.fill("input[name=dataset_name]", "remote")
    page.fill("input[name=folder]", "s3://bucket/cats/")
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-refused")).to_contain_text("outside the allowed S3 prefixes")
    expect(page).to_have_url(re.compile(r"/datasets/import$"))  # nothing was queued
