"""A reviewer works human loops in the portal, in a real browser: the flow's template (written
in A2I's style) rendered in a sandboxed frame, boxes corrected by keyboard, the answer stored
as the output.json A2I would write; a classifier with "None of the Above"; hostile input shown
as text; the frame unable to reach the reviewer's session or the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.web.portal import HEIGHT, WIDTH, Portal
from tests.web.portal import browser_sign_in as sign_in
from truthloop import review
from truthloop.review import FlowSpec, LoopStart, create_flow, create_task_ui, get_loop

pytestmark = pytest.mark.browser

# A2I's object-detection review, as its walkthrough builds it: the model's boxes become the
# initial value through Liquid, a text field beside, and labels set by a script once ready.
BOX_TEMPLATE = """\
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-bounding-box
    name="annotatedResult"
    src="{{ task.input.taskObject | grant_read_access }}"
    header="Correct the boxes around {{ task.input.what }}"
    labels="['placeholder']"
    initial-value="[
      {% for box in task.input.initialValue %}
        {
          'label': '{{ box.label }}',
          'left': {{ box.left }}, 'top': {{ box.top }},
          'width': {{ box.width }}, 'height': {{ box.height }}
        }{% unless forloop.last %},{% endunless %}
      {% endfor %}
    ]"
  >
    <full-instructions header="Instructions"><p>Fix the model's boxes.</p></full-instructions>
    <short-instructions>Move or delete wrong boxes.</short-instructions>
  </crowd-bounding-box>
  <crowd-input name="comment" label="Anything to add?"></crowd-input>
</crowd-form>
<script>
  document.addEventListener('all-crowd-elements-ready', () => {
    // to_json escapes <, > and & inside its strings, so its JSON is safe in a script as is.
    document.querySelector('crowd-bounding-box').labels =
      {{ task.input.labels | to_json | skip_autoescape }};
  });
</script>
"""

# The continuous-improvement solution's review step: the model's classes and None of the Above.
CLASSIFIER_TEMPLATE = """\
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-image-classifier
    name="crowd-image-classifier"
    src="{{ task.input.taskObject | grant_read_access }}"
    header="What is in the picture? The model said {{ task.input.detectedLabel }}."
    categories="['cat', 'dog', 'None of the Above']"
  >
    <full-instructions header="Classify"><p>Pick the right class.</p></full-instructions>
    <short-instructions>Pick one.</short-instructions>
  </crowd-image-classifier>
</crowd-form>
"""



def setup_flow(portal: Portal, name: str, template: str) -> int:
    project = portal.project
    with project.session() as session:
        create_task_ui(session, f"{name}-ui", template)
    flow = create_flow(
        project,
        FlowSpec(
            name=name,
            team="red",
            task_ui=f"{name}-ui",
            title=f"Review {name}",
            description="Check what the model said.",
            output=str(project.home / "a2i-output"),
        ),
    )
    return flow.job_id


def start(portal: Portal, loop: str, flow: str, content: dict[str, Any]) -> None:
    review.start_loop(portal.project, LoopStart(loop, flow, orjson.dumps(content).decode()))


def stored_output(portal: Portal, loop: str) -> dict[str, Any]:
    with portal.project.session() as session:
        row = get_loop(session, loop)
        assert row.status == "Completed", row.status
        return dict(json.loads(Path(row.output_uri or "").read_text()))


def image(portal: Portal) -> str:
    return str(portal.project.home / "images" / "0.png")


def test_a_reviewer_corrects_the_model_boxes_by_keyboard(page: Page, portal: Portal) -> None:
    job = setup_flow(portal, "heads", BOX_TEMPLATE)
    content = {
        "taskObject": image(portal),
        "what": "cats and dogs",
        "labels": ["cat", "dog"],
        "initialValue": [
            {"label": "cat", "left": 60, "top": 70, "width": 120, "height": 120},
            {"label": "dog", "left": 240, "top": 120, "width": 100, "height": 140},
        ],
    }
    start(portal, "loop-boxes", "heads", content)
    sign_in(page, "wendy")
    page.goto("/my-jobs")
    card = page.locator("article.job-card", has_text="review-heads")
    expect(card).to_contain_text("human review")
    card.locator("a", has_text="Start working").click()
    page.wait_for_url(f"**/review/work/{job}")
    expect(page.locator("#review-title")).to_have_text("Review heads")
    frame = page.frame_locator("#task-frame")
    box = frame.locator("crowd-bounding-box")
    # The template's script set the labels once every element was ready.
    expect(box.locator("button.label .name")).to_have_text(["cat", "dog"])
    expect(box.locator("li.box-row")).to_have_count(2)
    # The image came through a signed link, decoded at its real size.
    expect(box.locator("img, image").first).to_be_attached()

    box.focus()
    page.keyboard.press("Tab")  # the cat
    page.keyboard.press("Shift+ArrowRight")  # ten pixels right
    page.keyboard.press("ArrowDown")  # one down
    page.keyboard.press("Tab")  # the dog
    page.keyboard.press("Delete")
    expect(box.locator("li.box-row")).to_have_count(1)
    frame.locator("crowd-input input").fill("the dog was a shadow")
    frame.locator("button.crowd-submit").click()
    expect(page.locator("#empty")).to_be_visible()  # nothing else waits for wendy

    written = stored_output(portal, "loop-boxes")
    [human] = written["humanAnswers"]
    assert human["answerContent"] == {
        "annotatedResult": {
            "boundingBoxes": [{"height": 120, "label": "cat", "left": 70, "top": 71, "width": 120}],
            "inputImageProperties": {"height": HEIGHT, "width": WIDTH},
            "initialValueModified": True,
        },
        "comment": "the dog was a shadow",
    }
    assert written["humanLoopName"] == "loop-boxes"
    assert written["inputContent"] == content
    assert written["flowDefinitionArn"].endswith(":flow-definition/heads")
    assert set(human) == {
        "acceptanceTime",
        "answerContent",
        "submissionTime",
        "timeSpentInSeconds",
        "workerId",
        "workerMetadata",
    }
    assert human["timeSpentInSeconds"] > 0


def test_a_reviewer_says_none_of_the_above(page: Page, portal: Portal) -> None:
    setup_flow(portal, "logos", CLASSIFIER_TEMPLATE)
    start(portal, "loop-class", "logos", {"taskObject": image(portal), "detectedLabel": "cat"})
    sign_in(page, "walt")
    page.goto(f"/review/work/{_job(portal, 'logos')}")
    frame = page.frame_locator("#task-frame")
    classifier = frame.locator("crowd-image-classifier")
    expect(classifier).to_contain_text("The model said cat.")
    classifier.locator("button.label[data-label='None of the Above']").click()
    frame.locator("button.crowd-submit").click()
    expect(page.locator("#empty")).to_be_visible()
    [human] = stored_output(portal, "loop-class")["humanAnswers"]
    assert human["answerContent"] == {"crowd-image-classifier": {"label": "None of the Above"}}


def _job(portal: Portal, flow: str) -> int:
    with portal.project.session() as session:
        return review.get_flow(session, flow).job_id


def test_hostile_input_is_text_and_the_frame_cannot_reach_the_session(
    page: Page, portal: Portal
) -> None:
    setup_flow(portal, "hostile", CLASSIFIER_TEMPLATE)
    evil = '<img src=x onerror="alert(document.cookie)"><script>alert(1)</script>'
    start(portal, "loop-evil", "hostile", {"taskObject": image(portal), "detectedLabel": evil})
    dialogs: list[Dialog] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog)
        dialog.dismiss()

    page.on("dialog", dismiss)
    sign_in(page, "wendy")
    page.goto(f"/review/work/{_job(portal, 'hostile')}")
    frame = page.frame_locator("#task-frame")
    expect(frame.locator("crowd-image-classifier")).to_contain_text("<script>alert(1)</script>")
    assert dialogs == []
    # The frame runs scripts, but in an opaque origin: no cookie, and no call to the API.
    handle = page.locator("#task-frame").element_handle()
    assert handle is not None
    content = handle.content_frame()
    assert content is not None
    assert content.evaluate("() => window.origin") == "null"
    assert content.evaluate(
        "() => { try { return document.cookie } catch (e) { return 'denied' } }"
    ) in (
        "",
        "denied",
    )
    fetched = content.evaluate(
        "() => fetch('/api/me').then(r => 'reached ' + r.status, e => 'blocked')"
    )
    assert fetched == "blocked"


def test_an_image_link_opens_one_image_for_a_while_only(page: Page, portal: Portal) -> None:
    setup_flow(portal, "links", CLASSIFIER_TEMPLATE)
    start(portal, "loop-link", "links", {"taskObject": image(portal), "detectedLabel": "dog"})
    sign_in(page, "wendy")
    page.goto(f"/review/work/{_job(portal, 'links')}")
    frame = page.frame_locator("#task-frame")
    shown = frame.locator("crowd-image-classifier img").first.get_attribute("src")
    src = urlsplit(shown or "").path
    assert src.startswith("/review/media/")
    ok = page.request.get(src)
    assert ok.status == 200 and ok.headers["content-type"] == "image/png"
    token = src.rsplit("/", 1)[1]
    body, _, signature = token.partition(".")
    forged = page.request.get(f"/review/media/{body}.{signature[:-2]}AA")
    assert forged.status == 403 and "signature" in forged.text()
    assert page.request.get("/review/media/..%2F..%2Fsecret_key").status in (403, 404)
