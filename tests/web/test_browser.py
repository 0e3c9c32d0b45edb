"""The portal in a real browser (Debian's chromium through Playwright): every page a person
uses, the annotators driven by mouse and keyboard, and the hostile-input and access rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.web.portal import HEIGHT, PASSWORD, WIDTH, Portal
from tests.web.portal import browser_sign_in as sign_in
from truthloop import labeling, people
from truthloop.core.types import Boxes, Classification, MultiLabel, Verification
from truthloop.storage import datasets as store

pytestmark = pytest.mark.browser

ONE_ITEM = labeling.Subset(query="/0.png")



def open_job(page: Page, job_id: int) -> None:
    """The job's work page, once its first task is on screen."""
    page.goto(f"/work/{job_id}")
    expect(page.locator("#task-meta")).to_contain_text("Task ")


def image_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where image pixel (x, y) is on the screen, with the image fitted in the canvas."""
    box = page.locator("svg.canvas").bounding_box()
    assert box is not None
    scale = min(box["width"] / WIDTH, box["height"] / HEIGHT)
    left = box["x"] + (box["width"] - WIDTH * scale) / 2
    top = box["y"] + (box["height"] - HEIGHT * scale) / 2
    return left + x * scale, top + y * scale


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*image_point(page, *start))
    page.mouse.down()
    page.mouse.move(*image_point(page, *end), steps=6)
    page.mouse.up()


def listed_boxes(page: Page) -> list[tuple[str, int, int, int, int]]:
    rows = page.locator("li.box-row")

    def number(i: int, name: str) -> int:
        return int(rows.nth(i).get_attribute(f"data-{name}") or -1)

    return [
        (
            rows.nth(i).get_attribute("data-label") or "",
            number(i, "left"),
            number(i, "top"),
            number(i, "width"),
            number(i, "height"),
        )
        for i in range(rows.count())
    ]


def stored(portal: Portal, job_id: int) -> list[object]:
    """The values the job stored, in item order."""
    with portal.project.session() as session:
        job = labeling.get_job(session, job_id)
        dataset = session.get_one(store.DatasetRow, job.dataset_id)
        return [
            a.value
            for _, record in store.iter_records(session, dataset.id)
            for a in record.annotations
            if a.attribute == job.label_attribute
        ]


def wait_until_done(page: Page) -> None:
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_contain_text("No task is waiting")


def test_sign_in_page(page: Page) -> None:
    page.goto("/my-jobs")
    page.wait_for_url("**/login?next=/my-jobs")
    page.fill("input[name=username]", "wendy")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("That user name and password do not match.")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/my-jobs")
    expect(page.locator(".whoami")).to_contain_text("Wendy")


def test_my_jobs_page_shows_the_teams_jobs_and_what_waits(portal: Portal, page: Page) -> None:
    portal.job(name="red-job")
    portal.job(name="blue-job", team="blue")
    sign_in(page, "wendy")
    cards = page.locator(".job-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("red-job")
    expect(cards.first.locator(".waiting")).to_have_text("4")
    cards.first.get_by_role("link", name="Start working").click()
    page.wait_for_url("**/tasks/*")
    expect(page.locator("svg.canvas")).to_be_visible()


def test_draw_two_boxes_relabel_one_by_key_and_export_them(
    portal: Portal, page: Page, tmp_path: Path
) -> None:
    job_id = portal.job(subset=ONE_ITEM)
    sign_in(page, "wendy")
    open_job(page, job_id)
    expect(page.locator("svg.canvas image")).to_be_attached()
    page.wait_for_timeout(100)
    drag(page, (50, 60), (150, 160))
    drag(page, (220, 100), (320, 250))
    drag(page, (10, 200), (40, 280))
    expect(page.locator("li.box-row")).to_have_count(3)
    page.keyboard.press("z")  # undo the third box
    expect(page.locator("li.box-row")).to_have_count(2)
    page.keyboard.press("2")  # the selected (second) box becomes a dog
    boxes = listed_boxes(page)
    assert [b[0] for b in boxes] == ["cat", "dog"]
    for (_, *got), want in zip(boxes, [(50, 60, 100, 100), (220, 100, 100, 150)], strict=True):
        assert all(abs(g - w) <= 1 for g, w in zip(got, want, strict=True)), (got, want)
    page.keyboard.press("Enter")
    wait_until_done(page)

    manifest = tmp_path / "out.manifest"
    with portal.project.session() as session:
        labeling.export_manifest(session, job_id, manifest)
    [line] = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert line["boxes-job"]["annotations"] == [
        {"class_id": {"cat": 0, "dog": 1}[label], "left": left, "top": top, "width": width,
         "height": height}
        for label, left, top, width, height in boxes
    ]
    assert line["boxes-job"]["image_size"] == [{"width": WIDTH, "height": HEIGHT, "depth": 3}]
    with portal.project.session() as session:
        median = labeling.job_progress(session, job_id).median_seconds
        assert median is not None and median > 0


def on_screen(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where image pixel (x, y) is now, by the canvas's own transform (zoom and pan included)."""
    point = page.locator("svg.canvas").evaluate(
        "(svg, [x, y]) => { const m = svg.getScreenCTM(); return [m.a * x + m.e, m.d * y + m.f]; }",
        [x, y],
    )
    return point[0], point[1]


def test_zoom_and_pan_keep_boxes_in_image_pixels(portal: Portal, page: Page) -> None:
    job_id = portal.job(subset=ONE_ITEM)
    sign_in(page, "wendy")
    open_job(page, job_id)
    canvas = page.locator("svg.canvas")
    page.keyboard.press("+")
    page.keyboard.press("+")
    zoomed = canvas.get_attribute("viewBox")
    assert zoomed != f"0 0 {WIDTH} {HEIGHT}"
    page.keyboard.down(" ")
    page.mouse.move(*on_screen(page, 200, 150))
    page.mouse.down()
    page.mouse.move(*on_screen(page, 180, 140), steps=4)
    page.mouse.up()
    page.keyboard.up(" ")
    assert canvas.get_attribute("viewBox") != zoomed
    expect(page.locator("li.box-row")).to_have_count(0)
    page.mouse.move(*on_screen(page, 150, 100))
    page.mouse.down()
    page.mouse.move(*on_screen(page, 250, 200), steps=6)
    page.mouse.up()
    [(label, *edges)] = listed_boxes(page)
    assert label == "cat"
    assert all(abs(g - w) <= 1 for g, w in zip(edges, (150, 100, 100, 100), strict=True)), edges
    page.keyboard.press("f")
    assert canvas.get_attribute("viewBox") == f"0 0 {WIDTH} {HEIGHT}"


def test_a_verification_task_approved_by_keyboard_alone(portal: Portal, page: Page) -> None:
    job_id = portal.job(
        name="check", task_type=labeling.TaskType.VERIFICATION, proposals="model", subset=ONE_ITEM
    )
    sign_in(page, "wendy")
    open_job(page, job_id)
    expect(page.locator("svg.canvas rect.proposal")).to_have_count(2)
    expect(page.locator(".proposal-summary")).to_contain_text("91%")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_until_done(page)
    [value] = stored(portal, job_id)
    assert isinstance(value, Verification) and value.verdict == "correct"


def test_single_label_classification_by_keys(portal: Portal, page: Page) -> None:
    job_id = portal.job(
        name="kinds", task_type=labeling.TaskType.CLASSIFICATION, proposals="species",
        subset=labeling.Subset(query="/3.png"),
    )
    sign_in(page, "wendy")
    open_job(page, job_id)
    expect(page.locator(".suggestion")).to_contain_text("bird")
    expect(page.locator(".suggestion")).to_contain_text("66%")
    page.keyboard.press("Enter")  # nothing chosen yet: refused in the page
    expect(page.locator("#status")).to_contain_text("Pick a label first")
    page.keyboard.press("1")
    page.keyboard.press("2")
    expect(page.locator("button.label.chosen")).to_have_text("2dog")
    page.keyboard.press("Enter")
    wait_until_done(page)
    assert [v.label for v in stored(portal, job_id)] == ["dog"]  # type: ignore[attr-defined]


def test_multi_label_classification_with_search(portal: Portal, page: Page) -> None:
    job_id = portal.job(
        name="tags", task_type=labeling.TaskType.MULTILABEL, subset=ONE_ITEM,
        labels=("cat", "dog", "bird", "bat"),
    )
    sign_in(page, "wendy")
    open_job(page, job_id)
    page.keyboard.press("1")
    page.keyboard.press("/")
    page.keyboard.type("ba")
    expect(page.locator("button.label")).to_have_count(1)
    page.keyboard.press("Enter")  # picks the first match: bat
    page.keyboard.press("Enter")  # submits
    wait_until_done(page)
    [value] = stored(portal, job_id)
    assert isinstance(value, MultiLabel) and set(value.labels) == {"cat", "bat"}


def test_box_adjustment_accept_all_and_move_one(portal: Portal, page: Page) -> None:
    job_id = portal.job(
        name="adjust", task_type=labeling.TaskType.ADJUSTMENT, proposals="model", subset=ONE_ITEM
    )
    sign_in(page, "wendy")
    open_job(page, job_id)
    expect(page.locator("li.proposal-row")).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("2 proposals still to decide")
    page.keyboard.press("Shift+A")
    expect(page.locator("li.box-row")).to_have_count(2)
    drag(page, (290, 190), (300, 200))  # the dog box, 10 px right and down
    assert listed_boxes(page)[1] == ("dog", 250, 130, 100, 140)
    page.keyboard.press("Enter")
    wait_until_done(page)
    [value] = stored(portal, job_id)
    assert isinstance(value, Boxes) and value.adjusted is True
    assert [(b.label, b.left, b.top) for b in value.boxes] == [("cat", 60, 70), ("dog", 250, 130)]


def test_a_drawing_task_starts_from_the_models_boxes(portal: Portal, page: Page) -> None:
    """As automated labeling shows them: proposals to accept or reject, then boxes to draw."""
    job_id = portal.job(
        name="assisted", task_type=labeling.TaskType.BOUNDING_BOX, proposals="model",
        subset=ONE_ITEM,
    )
    sign_in(page, "wendy")
    open_job(page, job_id)
    expect(page.locator("li.proposal-row")).to_have_count(2)
    page.keyboard.press("a")  # the first proposal is right
    page.keyboard.press("r")  # the second is not
    expect(page.locator("li.box-row")).to_have_count(1)
    page.keyboard.press("Enter")
    wait_until_done(page)
    [value] = stored(portal, job_id)
    assert isinstance(value, Boxes) and value.adjusted is None
    assert [(b.label, b.left, b.top) for b in value.boxes] == [("cat", 60, 70)]


def test_a_submit_whose_answer_is_lost_is_retried_and_stored_once(
    portal: Portal, page: Page
) -> None:
    job_id = portal.job(name="kinds", task_type=labeling.TaskType.CLASSIFICATION, subset=ONE_ITEM)
    sent: list[dict[str, object]] = []

    def lose_first_answer(route):
        sent.append(json.loads(route.request.post_data or "{}"))
        if len(sent) == 1:
            route.fetch()  # the server stores it...
            route.abort("connectionreset")  # ...but the page never hears back
        else:
            route.continue_()

    page.route("**/submit", lose_first_answer)
    sign_in(page, "wendy")
    open_job(page, job_id)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    wait_until_done(page)
    assert len(sent) == 2 and sent[0]["client_id"] == sent[1]["client_id"]
    assert [v.label for v in stored(portal, job_id)] == ["bird"]  # type: ignore[attr-defined]
    with portal.project.session() as session:
        assert labeling.job_progress(session, job_id).submitted == 1


def test_a_worker_of_another_team_cannot_open_a_task_by_url(portal: Portal, page: Page) -> None:
    job_id = portal.job()
    with portal.project.session() as session:
        wendy = people.get_user(session, "wendy").id
    task = labeling.next_task(portal.project.db, job_id, wendy)
    assert task is not None
    sign_in(page, "otto")
    response = page.goto(f"/tasks/{task.task_id}")
    # The same answer as for a task that does not exist: another team's work stays unseen.
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_have_text(f"no task {task.task_id}")
    assert page.locator("svg.canvas").count() == 0
    image = page.request.get(f"/api/tasks/{task.task_id}/image")
    assert image.status == 404


def test_hostile_html_renders_as_text(portal: Portal, page: Page) -> None:
    label = "<img src=x onerror=alert(1)>"
    with portal.project.session() as session:
        people.get_user(session, "wendy").display_name = "<script>alert(2)</script>"
        people.get_team(session, "red").description = "<img src=y onerror=alert(3)>"
    job_id = portal.job(
        labels=(label, "cat"), subset=ONE_ITEM,
        instructions="<script>alert(4)</script> Be **careful** <img src=z onerror=alert(5)>",
    )
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    sign_in(page, "wendy")
    expect(page.locator(".whoami")).to_contain_text("<script>alert(2)</script>")
    open_job(page, job_id)
    expect(page.get_by_text(label, exact=True)).to_be_visible()
    drag(page, (50, 60), (150, 160))
    expect(page.locator("svg.canvas text.tag")).to_have_text(label)
    page.keyboard.press("i")
    instructions = page.locator("#instructions-body")
    expect(instructions).to_contain_text("<script>alert(4)</script>")
    expect(instructions.locator("strong")).to_have_text("careful")
    assert instructions.locator("script, img").count() == 0
    page.keyboard.press("Enter")
    wait_until_done(page)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "mia")
    for path, text in ((f"/jobs/{job_id}", label), ("/teams/red", "<img src=y onerror=alert(3)>"),
                       ("/workers", "<script>alert(2)</script>"),
                       ("/datasets/shapes", label)):
        page.goto(path)
        expect(page.get_by_text(text).first).to_be_visible()
    assert dialogs == []


def test_dataset_page_counts_each_labeling_and_draws_the_boxes(portal: Portal, page: Page) -> None:
    sign_in(page, "mia")
    page.goto("/datasets/shapes")
    boxes = page.locator('.labels-summary[data-attribute="model"]')
    expect(boxes).to_contain_text("model: 3 images · 3 by model")
    expect(boxes.locator('[data-chip-label="cat"]')).to_have_text("cat 3")
    expect(boxes.locator('[data-chip-label="bird"]')).to_have_text("bird 0")
    species = page.locator('.labels-summary[data-attribute="species"]')
    expect(species.locator('[data-chip-label="bird"]')).to_have_text("bird 1")
    expect(page.locator("figure.thumb")).to_have_count(4)
    expect(page.locator("figure.thumb svg rect")).to_have_count(6)
    expect(page.locator("figure.thumb").nth(3)).to_contain_text("bird")
    first = page.locator("figure.thumb img").first
    expect(first).to_have_js_property("complete", True)
    assert first.evaluate("img => img.naturalWidth") == 320


def test_job_page_shows_live_progress(portal: Portal, page: Page) -> None:
    job_id = portal.job(
        name="kinds", task_type=labeling.TaskType.CLASSIFICATION, price_per_task=0.5
    )
    sign_in(page, "mia")
    page.goto(f"/jobs/{job_id}")
    expect(page.locator("[data-field=waiting]")).to_have_text("4")
    with portal.project.session() as session:
        walt = people.get_user(session, "walt").id
    task = labeling.next_task(portal.project.db, job_id, walt)
    assert task is not None
    labeling.submit(portal.project.db, task.task_id, walt, client_id="c-1",
                    answer=Classification("cat"), seconds=7)
    expect(page.locator("[data-field=submitted]")).to_have_text("1", timeout=8000)
    expect(page.locator("[data-field=cost]")).to_have_text("0.50")
    expect(page.locator("[data-field=median_seconds]")).to_have_text("7.0")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download output manifest").click()
    assert download.value.suggested_filename == "kinds.manifest"


def test_a_manager_creates_a_job_with_automated_labeling(portal: Portal, page: Page) -> None:
    sign_in(page, "mia")
    page.goto("/jobs")
    form = page.locator("#new-job")
    form.locator("input[name=name]").fill("auto-boxes")
    form.locator("select[name=task_type]").select_option("bounding-box")
    form.locator("input[name=auto_label]").check()
    form.locator("input[name=target_accuracy]").fill("0.9")
    form.get_by_role("button", name="Create job").click()
    page.wait_for_url("**/jobs/*")
    expect(page.get_by_role("heading", name="Automated labeling")).to_be_visible()
    expect(page.locator("main")).to_contain_text("target accuracy 90 %")
    with portal.project.session() as session:
        job = labeling.get_job(session, "auto-boxes")
        assert job.task_type == labeling.TaskType.BOUNDING_BOX
        assert job.proposals == "auto-boxes-proposals"  # pre-annotation is on unless cleared
    page.goto("/jobs")
    form.locator("input[name=name]").fill("by-hand")
    form.locator("select[name=task_type]").select_option("bounding-box")
    form.locator("input[name=auto_label]").check()
    form.locator("input[name=pre_annotate]").uncheck()
    form.get_by_role("button", name="Create job").click()
    page.wait_for_url("**/jobs/*")
    with portal.project.session() as session:
        assert labeling.get_job(session, "by-hand").proposals is None


def test_team_and_worker_quality_pages(portal: Portal, page: Page) -> None:
    job_id = portal.job(name="kinds", task_type=labeling.TaskType.CLASSIFICATION)
    with portal.project.session() as session:
        walt = people.get_user(session, "walt").id
    task = labeling.next_task(portal.project.db, job_id, walt)
    assert task is not None
    labeling.submit(portal.project.db, task.task_id, walt, client_id="c-1",
                    answer=Classification("cat"), seconds=3)
    sign_in(page, "mia")
    page.goto("/teams/red")
    expect(page.locator("tr[data-worker=walt]")).to_contain_text("1")
    page.select_option("#add-member select", "otto")
    page.click("#add-member button")
    expect(page.locator("table.data").first).to_contain_text("otto")
    page.goto("/workers")
    expect(page.locator("tr[data-worker=walt]")).to_be_visible()
    page.fill("#add-user input[name=username]", "nina")
    page.click("#add-user button")
    expect(page.locator(".notice")).to_contain_text("/invitations/")


def test_the_api_docs_render_with_nothing_from_outside(page: Page, live: str) -> None:
    """Swagger UI comes from this server: a machine without a network has /docs too."""
    outside: list[str] = []

    def only_this_server(route) -> None:
        if route.request.url.startswith((live, "blob:", "data:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/docs")
    operations = page.locator(".swagger-ui .opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=15000)
    assert operations.count() > 20  # every operation of the API is listed
    assert outside == []
    assert errors == []
