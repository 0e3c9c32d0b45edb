"""The managers' review pages in a real browser: flows with their loops counted by status, a
flow's loops filtered and paged, a loop's answers drawn on its image, task UI previews in a
sandbox, webhooks; hostile HTML as text, and workers refused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Dialog, Page, expect

from tests.web.portal import Portal
from tests.web.portal import browser_sign_in as sign_in
from truthloop import labeling, people
from truthloop.ml.versions import add_version
from truthloop.review import (
    FlowSpec,
    LoopStart,
    add_webhook,
    create_flow,
    create_task_ui,
    get_flow,
    list_webhooks,
    start_loop,
    stop_loop,
    submit_review,
)
from truthloop.review.templates import EXAMPLE_TEMPLATE
from truthloop.storage.tables import HumanTaskUiRow, utcnow
from truthloop.web.routes import review_pages

pytestmark = pytest.mark.browser

IMAGE_W, IMAGE_H = 320, 240
HOSTILE = "<img src=x onerror=alert(1)>"
MODEL = "pets-detector.v1"
MODEL_BOXES: list[dict[str, Any]] = [
    {"label": "cat", "left": 30, "top": 20, "width": 110, "height": 90},
    {"label": "dog", "left": 170, "top": 90, "width": 130, "height": 120},
]
ANSWER_BOXES: list[dict[str, Any]] = [
    {"label": "cat", "left": 40, "top": 30, "width": 100, "height": 80},
    {"label": "<b>dog</b>", "left": 180, "top": 100, "width": 120, "height": 120},
]
CONDITIONS = {
    "Conditions": [
        {
            "ConditionType": "TopConfidenceCheck",
            "ConditionParameters": {"ConfidenceLessThan": 80},
        }
    ]
}
BROKEN_TEMPLATE = "<p>{{ task.input.title }}</p>\n{% if task.input.flag %}\n<p>never closed</p>\n"


@dataclass
class Review:
    portal: Portal
    image: Path

    def loop(self, name: str, flow: str = "pets", **content: Any) -> str:
        body = {"taskObject": str(self.image), "labels": ["cat", "dog"]} | content
        start_loop(self.portal.project, LoopStart(name, flow, orjson.dumps(body).decode()))
        return name


def _user_id(portal: Portal, username: str) -> int:
    with portal.project.session() as session:
        return people.get_user(session, username).id


def _pet_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (IMAGE_W, IMAGE_H), (230, 236, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 30, 140, 110), fill=(200, 120, 40))
    draw.rectangle((180, 100, 300, 220), fill=(60, 90, 200))
    image.save(path)


@pytest.fixture
def review(portal: Portal) -> Review:
    """Flow `pets` (team red, EXAMPLE_TEMPLATE, output under the project home) with loops:
    pet-1 answered by wendy (Completed), pet-2 in progress, pet-3 stopped, pet-hostile in
    progress with HTML in its input; a webhook for every flow; and flow `blocked`, Failed."""
    project = portal.project
    image = project.home / "review-images" / "pet.png"
    _pet_image(image)
    mia = _user_id(portal, "mia")
    with project.session() as session:
        create_task_ui(session, "boxes-ui", EXAMPLE_TEMPLATE, created_by=mia)
        add_webhook(session, "https://hooks.example/a2i")
    with project.db.session(immediate=True) as session:  # a flow names a version that exists
        add_version(
            session, "pets-detector", parent=None, task="detection", backend="fake", params={},
            training_dataset="shapes", test_dataset=None, labels=["cat", "dog"],
        )  # fmt: skip
    create_flow(
        project,
        FlowSpec(
            name="pets", team="red", task_ui="boxes-ui", title="Check the pets",
            description="Move or delete the boxes that are wrong.",
            output=str(project.home / "review-output"), conditions=CONDITIONS,
            model_version=MODEL,
        ),
        created_by=mia,
    )  # fmt: skip
    blocked = project.home / "blocked"
    blocked.mkdir()
    (blocked / "broken").write_text("a file where the flow's folder would go\n")
    create_flow(
        project,
        FlowSpec(name="broken", team="blue", task_ui="boxes-ui", title="t", output=str(blocked)),
    )
    desk = Review(portal, image)
    desk.loop("pet-1", initialValue=MODEL_BOXES)
    with project.session() as session:
        job_id = get_flow(session, "pets").job_id
    wendy = _user_id(portal, "wendy")
    task = labeling.next_task(project.db, job_id, wendy)
    assert task is not None
    answer = {
        "annotatedResult": {
            "boundingBoxes": ANSWER_BOXES,
            "inputImageProperties": {"width": IMAGE_W, "height": IMAGE_H},
        }
    }
    result = submit_review(
        project, task.task_id, wendy, client_id="review-1", answer=answer, seconds=2.0
    )
    assert result.item_done
    desk.loop("pet-2", initialValue=MODEL_BOXES)
    desk.loop("pet-3")
    stop_loop(project, "pet-3")
    desk.loop("pet-hostile", note=HOSTILE, labels=[HOSTILE])
    return desk


def collect_dialogs(page: Page) -> list[str]:
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def test_flows_page_lists_flows_with_loop_counts_and_task_uis(review: Review, page: Page) -> None:
    sign_in(page, "mia")
    page.get_by_role("link", name="Review", exact=True).click()
    page.wait_for_url("**/review")
    pets = page.locator('tr[data-flow="pets"]')
    expect(pets).to_contain_text("Active")
    expect(pets).to_contain_text("red")
    expect(pets).to_contain_text("boxes-ui")
    expect(pets).to_contain_text(MODEL)
    counts = {"InProgress": "2", "Completed": "1", "Failed": "0", "Stopped": "1", "Stopping": "0"}
    for status, n in counts.items():
        expect(pets.locator(f'td[data-count="{status}"]')).to_have_text(n)
    # the bar's segments get their widths from data-width (page.js): 2 of 4 loops in progress
    segment = pets.locator(".review-bar .review-inprogress")
    expect(segment).to_have_attribute("data-width", "50.0")
    assert segment.evaluate("node => node.style.width") == "50%"
    broken = page.locator('tr[data-flow="broken"]')
    expect(broken).to_contain_text("Failed")
    expect(broken.locator(".review-reason")).to_contain_text("cannot write to the output location")
    ui = page.locator('tr[data-task-ui="boxes-ui"]')
    expect(ui).to_contain_text("pets")
    ui.get_by_role("link", name="Preview").click()
    page.wait_for_url("**/review/task-uis/boxes-ui/preview")
    page.goto("/review")
    pets.get_by_role("link", name="pets").click()
    page.wait_for_url("**/review/flows/pets")


def test_flow_page_shows_its_terms_and_filters_and_pages_its_loops(
    review: Review, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(page, "mia")
    page.goto("/review/flows/pets")
    terms = page.locator(".review-terms")
    for text in ("Check the pets", "Move or delete", "red", "boxes-ui", MODEL,
                 "review-output", "3600 s"):  # fmt: skip
        expect(terms).to_contain_text(text)
    # the activation conditions, pretty-printed
    expect(terms.locator("pre")).to_contain_text('"ConditionType": "TopConfidenceCheck"')
    assert "\n" in terms.locator("pre").inner_text()
    loops = page.locator("table.review-loops tbody tr")
    expect(loops).to_have_count(4)
    page.select_option("#loop-status", "Completed")  # review_filter.js submits on change
    page.wait_for_url("**/review/flows/pets?status=Completed")
    expect(loops).to_have_count(1)
    expect(loops.first).to_have_attribute("data-loop", "pet-1")
    page.select_option("#loop-status", "InProgress")
    page.wait_for_url("**/review/flows/pets?status=InProgress")
    expect(loops).to_have_count(2)
    assert {loops.nth(i).get_attribute("data-loop") for i in range(2)} == {
        "pet-2",
        "pet-hostile",
    }
    page.select_option("#loop-status", "Stopped")
    expect(loops).to_have_count(1)
    expect(loops.first).to_contain_text("pet-3")

    monkeypatch.setattr(review_pages, "LOOP_PAGE_SIZE", 3)
    page.goto("/review/flows/pets")
    expect(loops).to_have_count(3)
    seen = {loops.nth(i).get_attribute("data-loop") for i in range(3)}
    page.get_by_role("link", name="Next →").click()
    expect(loops).to_have_count(1)
    expect(loops.first).to_have_attribute("data-loop", "pet-1")  # newest first: the oldest
    assert seen == {"pet-2", "pet-3", "pet-hostile"}
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    loops.first.get_by_role("link", name="pet-1").click()
    page.wait_for_url("**/review/loops/pet-1")
    page.go_back()
    page.get_by_role("link", name="← First page").click()
    expect(loops).to_have_count(3)


def test_loop_page_draws_the_reviewers_boxes_on_the_image(review: Review, page: Page) -> None:
    dialogs = collect_dialogs(page)
    sign_in(page, "mia")
    page.goto("/review/loops/pet-1")
    expect(page.locator(".review-status").first).to_have_text("Completed")
    card = page.locator(".review-answer-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("wendy")
    expect(card).to_contain_text("2.0 s")
    svg = card.locator("svg.review-drawing")
    expect(svg).to_have_count(1)
    answers = svg.locator("rect.review-box.answer")
    models = svg.locator("rect.review-box.model")
    expect(answers).to_have_count(2)
    expect(models).to_have_count(2)
    expect(svg.locator("text.review-tag.answer").nth(1)).to_have_text("<b>dog</b>")
    assert svg.locator("b").count() == 0
    # the image is served, and drawn under the boxes at the size the reviewer's page measured
    image = svg.locator("image")
    href = image.get_attribute("href")
    assert href == "/review/loops/pet-1/image"
    response = page.request.get(href)
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    # positions scale with the drawing: image pixels times its width on screen / 320
    frame = svg.bounding_box()
    assert frame is not None
    scale = frame["width"] / IMAGE_W
    assert abs(frame["height"] - IMAGE_H * scale) < 1.5
    assert scale != 1  # drawn at another size than the image's own
    for i, want in enumerate(ANSWER_BOXES):
        got = answers.nth(i).bounding_box()
        assert got is not None
        # the bounding box holds the 2 px stroke (1 px each side): centres match, sizes within it
        centre = (got["x"] + got["width"] / 2, got["y"] + got["height"] / 2)
        expected = (frame["x"] + (want["left"] + want["width"] / 2) * scale,
                    frame["y"] + (want["top"] + want["height"] / 2) * scale)  # fmt: skip
        assert abs(centre[0] - expected[0]) < 1.5 and abs(centre[1] - expected[1]) < 1.5
        assert abs(got["width"] - want["width"] * scale) <= 3, (i, got)
        assert abs(got["height"] - want["height"] * scale) <= 3, (i, got)
    model = models.first.bounding_box()
    assert model is not None
    assert abs(model["x"] + model["width"] / 2 - (frame["x"] + 85 * scale)) < 1.5  # 30 + 110/2
    # the input as text
    expect(page.locator(".review-input")).to_contain_text('"initialValue": [')
    expect(page.locator("main")).to_contain_text("review-output")  # the output.json's location
    assert dialogs == []


def test_a_loop_nobody_answered_shows_the_models_boxes(review: Review, page: Page) -> None:
    sign_in(page, "mia")
    page.goto("/review/loops/pet-2")
    expect(page.locator(".review-answer-card")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Nobody has answered yet.")
    only = page.locator(".review-model-only svg")
    expect(only.locator("rect.review-box.model")).to_have_count(2)
    assert only.get_attribute("viewBox") == f"0 0 {IMAGE_W}.0 {IMAGE_H}.0"


def test_hostile_html_in_a_loops_input_renders_as_text(review: Review, page: Page) -> None:
    dialogs = collect_dialogs(page)
    sign_in(page, "mia")
    page.goto("/review/loops/pet-hostile")
    text = page.locator(".review-input")
    expect(text).to_contain_text(HOSTILE)
    expect(text).to_be_visible()
    assert page.locator("main img").count() == 0
    page.goto("/review/flows/pets")
    expect(page.locator('tr[data-loop="pet-hostile"]')).to_be_visible()
    page.wait_for_timeout(200)
    assert dialogs == []


def test_a_classifiers_answer_is_shown_as_text(review: Review, page: Page) -> None:
    project = review.portal.project
    create_flow(
        project,
        FlowSpec(name="kinds", team="red", task_ui="boxes-ui", title="Which animal?",
                 output=str(project.home / "review-output")),
    )  # fmt: skip
    review.loop("kind-1", flow="kinds", initialValue=MODEL_BOXES)
    with project.session() as session:
        job_id = get_flow(session, "kinds").job_id
    walt = _user_id(review.portal, "walt")
    task = labeling.next_task(project.db, job_id, walt)
    assert task is not None
    answer = {"species": {"label": "<i>cat</i>"}, "comment": HOSTILE}
    submit_review(project, task.task_id, walt, client_id="kind-1", answer=answer, seconds=1.5)
    dialogs = collect_dialogs(page)
    sign_in(page, "mia")
    page.goto("/review/loops/kind-1")
    others = page.locator(".review-answer-card dl.review-others")
    expect(others.locator("dd").first).to_have_text("<i>cat</i>")
    expect(others).to_contain_text(HOSTILE)
    assert page.locator("main i, main img").count() == 0
    # no answer drew boxes, so the model's are drawn alone, at the image's own size
    only = page.locator(".review-model-only svg")
    expect(only.locator("rect.review-box.model")).to_have_count(2)
    page.wait_for_timeout(200)
    assert dialogs == []


def test_the_image_route_reads_only_what_a_reviewers_page_may(review: Review, page: Page) -> None:
    outside = Path("/etc/hostname")
    review.loop("pet-outside", taskObject=str(outside))
    sign_in(page, "mia")
    response = page.request.get("/review/loops/pet-outside/image")
    assert response.status == 404
    assert str(outside) not in response.text()
    page.goto("/review/loops/pet-outside")
    expect(page.locator(".review-no-image")).to_contain_text("does not read it")
    assert page.locator("svg.review-drawing").count() == 0


def test_preview_renders_a_sample_in_a_sandbox(review: Review, page: Page) -> None:
    dialogs = collect_dialogs(page)
    sign_in(page, "mia")
    page.goto("/review/task-uis/boxes-ui/preview")
    sample = page.locator("textarea[name=sample]")
    assert orjson.loads(sample.input_value())["taskObject"].startswith("s3://")
    expect(page.locator(".review-ok")).to_have_text("No problem found.")
    frame = page.locator("iframe.review-frame")
    expect(frame).to_have_attribute("sandbox", "")
    inner = page.frame_locator("iframe.review-frame")
    box = inner.locator("crowd-bounding-box")
    expect(box).to_have_attribute("header", "Draw a box around each cat and dog")
    assert (box.get_attribute("src") or "").startswith("data:image/svg+xml,")
    assert '"label": "cat"' in (box.get_attribute("initial-value") or "")

    # An edited template and a hostile sample: the sample's HTML is text, the template's
    # script never runs (no script runs in the sandbox).
    page.locator("details summary").first.click()
    page.fill(
        "textarea[name=template]",
        "<h1>{{ task.input.title }}</h1>\n<script>alert('template')</script>\n"
        "<p>{{ task.input.missing }}</p>",
    )
    page.fill("textarea[name=sample]", orjson.dumps({"title": HOSTILE}).decode())
    page.get_by_role("button", name="Render").click()
    expect(inner.locator("h1")).to_have_text(HOSTILE)
    assert inner.locator("img").count() == 0
    expect(page.locator(".review-warnings")).to_contain_text(
        "line 3: 'task.input.missing' is not in the sample input"
    )
    expect(page.locator("summary").first).to_contain_text("edited here, not saved")
    page.wait_for_timeout(200)
    assert dialogs == []
    with review.portal.project.session() as session:
        stored = session.query(HumanTaskUiRow).filter_by(name="boxes-ui").one().template
    assert stored == EXAMPLE_TEMPLATE

    page.fill("textarea[name=sample]", "[1, 2")
    page.get_by_role("button", name="Render").click()
    expect(page.locator(".review-errors")).to_contain_text("sample input: InputContent is not JSON")


def test_preview_names_the_line_of_a_liquid_error(review: Review, page: Page) -> None:
    with review.portal.project.session() as session:  # create_task_ui would refuse it
        session.add(HumanTaskUiRow(name="broken-ui", template=BROKEN_TEMPLATE,
                                   created_at=utcnow()))  # fmt: skip
    sign_in(page, "mia")
    page.goto("/review")
    page.locator('tr[data-task-ui="broken-ui"]').get_by_role("link", name="Preview").click()
    errors = page.locator(".review-errors")
    expect(errors).to_contain_text("line 2: Liquid syntax error")
    expect(page.locator("iframe")).to_have_count(0)
    expect(page.locator("textarea[name=template]")).to_have_value(BROKEN_TEMPLATE)


def test_webhooks_page_lists_webhooks_and_deliveries(review: Review, page: Page) -> None:
    sign_in(page, "mia")
    page.goto("/review")
    page.get_by_role("link", name="Webhooks").click()
    page.wait_for_url("**/review/webhooks")
    hook = page.locator("table.review-hooks tbody tr")
    expect(hook).to_have_count(1)
    expect(hook).to_contain_text("https://hooks.example/a2i")
    expect(hook).to_contain_text("every flow")
    expect(hook).to_contain_text("active")
    deliveries = page.locator("table.review-deliveries tbody tr")
    expect(deliveries).to_have_count(2)  # pet-1 Completed, pet-3 Stopped
    text = page.locator("table.review-deliveries").inner_text()
    assert "pet-1 → Completed" in text and "pet-3 → Stopped" in text
    expect(deliveries.first).to_contain_text("pending")
    with review.portal.project.session() as session:
        secret = list_webhooks(session)[0].secret
    assert secret not in page.content()


def test_a_worker_is_refused_every_review_page(review: Review, page: Page) -> None:
    sign_in(page, "wendy")
    expect(page.get_by_role("link", name="Review", exact=True)).to_have_count(0)
    for path in ("/review", "/review/flows/pets", "/review/loops/pet-1",
                 "/review/task-uis/boxes-ui/preview", "/review/webhooks"):  # fmt: skip
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("alert")).to_have_text("only managers and admins may do this")
    image = page.request.get("/review/loops/pet-1/image")
    assert image.status == 403
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.content())
    assert token is not None
    posted = page.request.post(
        "/review/task-uis/boxes-ui/preview",
        form={"sample": "{}", "csrf_token": token.group(1)},
    )
    assert posted.status == 403
