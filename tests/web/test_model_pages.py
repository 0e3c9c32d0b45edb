"""The Models pages: a manager trains a tiny classifier from the page and watches its progress
reach done (the test runs the queued task in a thread, as a worker would, while the page
polls), starts it with inference units and tries an image; a detection version draws its boxes
with their confidences; the list shows a failed training's reason, escaped; workers are kept
out."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from tests.web.conftest import sign_in
from tests.web.portal import Portal, browser_sign_in
from truthloop.core.types import Split
from truthloop.ml import registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.ml.versions import VersionStatus, version_row
from truthloop.runtime.queue import work_queue
from truthloop.storage.project import Project
from truthloop.storage.tables import utcnow

TRAINING_TIMEOUT_MS = 60_000
BOXES = shapes(6, task="detection", size=96, seed=3)



def work_one_task(project: Project, timeout_s: float = 30) -> threading.Thread:
    """A worker in a thread: waits for the queued task, then runs it."""

    def run() -> None:
        queue = work_queue(project)
        deadline = time.monotonic() + timeout_s
        while queue.huey.pending_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        task = queue.huey.dequeue()
        if task is not None:
            queue.huey.execute(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def png_file(folder: Path, index: int) -> Path:
    path = folder / f"shape-{index}.png"
    out = io.BytesIO()
    BOXES.images[BOXES.records[index].uri].save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


@pytest.fixture
def tiny_data(portal: Portal) -> Portal:
    store_shapes(portal.project, "shapes-train", shapes(24, size=32, seed=1))
    store_shapes(portal.project, "shapes-val", shapes(6, size=32, seed=3), split=Split.VALIDATION)
    return portal


def test_a_manager_trains_from_the_page_watches_it_finish_and_tries_it(
    tiny_data: Portal, page: Page, tmp_path: Path
) -> None:
    browser_sign_in(page, "mia")
    page.click("nav >> text=Models")
    page.fill("#train-form input[name=project]", "tiny")
    page.select_option("#train-form select[name=task]", "classification")
    page.select_option("#train-form select[name=dataset]", "shapes-train")
    page.select_option("#train-form select[name=backbone]", "scratch")
    page.fill("#train-form input[name=epochs]", "2")
    worker = work_one_task(tiny_data.project)
    page.click("#train-submit")
    expect(page.locator("#train-state")).to_have_text("completed", timeout=TRAINING_TIMEOUT_MS)
    worker.join(timeout=5)
    expect(page.locator("#train-progress")).to_contain_text("done · ")
    expect(page.locator("#train-progress")).to_contain_text("epoch 2/2")
    expect(page.locator("#train-bar")).to_have_attribute("data-width", "100")

    page.click("#train-version a")
    expect(page.locator("h1")).to_have_text("tiny.v1")
    expect(page.locator("#version-status")).to_have_text("TRAINING_COMPLETED")
    page.fill("#start-form input[name=inference_units]", "2")
    page.click("#start")
    expect(page.locator("#version-status")).to_have_text("RUNNING")
    expect(page.locator("#inference-units")).to_contain_text("2")

    page.fill("#try-min-confidence", "0")
    sample = tmp_path / "sample.png"
    shapes(1, size=32, seed=9).images.popitem()[1].save(sample)
    page.set_input_files("#try-file", str(sample))
    expect(page.locator("#try-labels li.detection")).to_have_count(1)
    expect(page.locator("#try-json")).to_contain_text('"CustomLabels"')
    curl = page.locator("#snippet-curl")
    expect(curl).to_contain_text("curl -X POST '")
    expect(curl).to_contain_text("/api/models/tiny.v1/detect'")
    expect(curl).to_contain_text("-F 'image=@sample.png'")
    expect(curl).to_contain_text("-F 'min_confidence=0'")
    expect(page.locator("#snippet-python")).to_contain_text("requests.post(")

    page.select_option("#try-dataset", "shapes-train")
    page.locator(".try-item").first.click()
    expect(page.locator("#snippet-curl")).to_contain_text("image=@item-")


def test_a_detection_version_draws_its_boxes_with_confidences(
    portal: Portal, page: Page, tmp_path: Path
) -> None:
    store_shapes(portal.project, "boxes", BOXES)
    store_shapes(portal.project, "boxes-test", shapes(3, task="detection", size=96, seed=4))
    registry.train_version(
        portal.project,
        "logos",
        dataset="boxes",
        task="detection",
        test_dataset="boxes-test",
        model=FakeModel(task=Task.DETECTION),
    )
    browser_sign_in(page, "mia")
    page.goto("/models/logos.v1")
    page.click("#start")
    expect(page.locator("#version-status")).to_have_text("RUNNING")
    # The fake model's thresholds come from a test set it cannot answer: ask for 50 % and up.
    page.fill("#try-min-confidence", "50")
    page.set_input_files("#try-file", str(png_file(tmp_path, 0)))
    boxes = page.locator("#try-stage svg.canvas rect.proposal")
    expected = len(BOXES.records[0].annotations[0].value.boxes)  # type: ignore[union-attr]
    expect(boxes).to_have_count(expected)
    expect(page.locator("#try-stage svg.canvas text.tag").first).to_contain_text("95%")
    expect(page.locator("#try-json")).to_contain_text('"BoundingBox"')


def test_the_list_shows_versions_and_a_failure_reason_as_text(
    portal: Portal, client: TestClient
) -> None:
    store_shapes(portal.project, "boxes", BOXES)
    store_shapes(portal.project, "boxes-test", shapes(3, task="detection", size=96, seed=4))
    for _ in range(2):
        registry.train_version(
            portal.project,
            "logos",
            dataset="boxes",
            task="detection",
            test_dataset="boxes-test",
            model=FakeModel(task=Task.DETECTION),
        )
    with portal.project.session() as session:
        row = version_row(session, "logos.v2")
        row.status = VersionStatus.TRAINING_FAILED.value
        row.failure_reason = "<script>alert(1)</script> out of memory"
    worker = {"Authorization": f"Bearer {portal.token('wendy')}"}
    assert client.get("/models", headers=worker).status_code == 403
    sign_in(client, "mia")
    listed = client.get("/models")
    assert listed.status_code == 200
    text = listed.text
    assert 'href="/models/logos.v1"' in text and "boxes-test" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; out of memory" in text
    assert "<script>alert" not in text
    assert 'href="/models/logos.v1/evaluation"' in text
    shown = client.get("/models/logos.v2")
    assert "Training failed: &lt;script&gt;" in shown.text
    assert client.get("/models/logos.v9").status_code == 404
    # A version trained from another links to the two side by side.
    registry.train_version(
        portal.project, "logos", dataset="boxes", task="detection",
        test_dataset="boxes-test", from_version="logos.v1",
    )
    child = client.get("/models/logos.v3").text
    assert 'href="/models/compare?first=logos.v1&amp;second=logos.v3"' in child


def test_a_version_in_training_shows_its_progress(portal: Portal, client: TestClient) -> None:
    store_shapes(portal.project, "boxes", BOXES)
    store_shapes(portal.project, "boxes-test", shapes(3, task="detection", size=96, seed=4))
    registry.train_version(
        portal.project,
        "logos",
        dataset="boxes",
        task="detection",
        test_dataset="boxes-test",
        model=FakeModel(task=Task.DETECTION),
    )
    with portal.project.session() as session:
        row = version_row(session, "logos.v1")
        row.status = VersionStatus.TRAINING_IN_PROGRESS.value
        row.heartbeat_at = utcnow()  # a live trainer: not failed as abandoned
        row.training_progress = {"phase": "train", "epoch": 3, "epochs": 8, "fraction": 0.25}
    sign_in(client, "mia")
    shown = client.get("/models/logos.v1")
    assert shown.status_code == 200
    assert 'data-width="25.0"' in shown.text and "train · epoch 3/8" in shown.text
    assert 'id="try-it"' not in shown.text  # nothing to try before it is trained
    listed = client.get("/models").text
    assert 'data-progress-version="logos.v1"' in listed
