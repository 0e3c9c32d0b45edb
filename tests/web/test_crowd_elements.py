"""truthloop's Crowd HTML Elements in a real browser (Debian's chromium through Playwright).

Each task template runs as the portal runs it: inside an iframe sandboxed without
allow-same-origin (an opaque origin) under the task CSP, its script tag pointing at
/static/crowd/crowd-html-elements.js. A small local server stands in for the portal: the host
page embeds the frame and records what it posts; the test replies as the portal would."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import FrameLocator, Page, expect

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "truthloop" / "web" / "static"
WIDTH, HEIGHT = 320, 200
FRAME_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'none'; form-action 'none'; frame-ancestors 'self'"
)
LOADER = '<script src="/static/crowd/crowd-html-elements.js"></script>'
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

HOST = """<!doctype html>
<html><head><meta charset="utf-8"><title>host</title></head><body>
<iframe id="task" sandbox="allow-scripts allow-forms" src="/frame/{name}.html"
        style="width: 1200px; height: 760px; border: 0"></iframe>
<script>
  window.messages = [];
  const frame = document.getElementById("task");
  window.addEventListener("message", (event) => {
    if (event.source === frame.contentWindow) window.messages.push(event.data);
  });
  window.reply = (message) => frame.contentWindow.postMessage(message, "*");
</script>
</body></html>"""

TEMPLATES = {
    # A2I's bounding-box template as Liquid renders it: the initial boxes in the loose literal
    # form AWS's own example writes, the labels set again by the template's script.
    "boxes": """
<crowd-form>
  <h1>Check the boxes</h1>
  <crowd-bounding-box
    name="annotatedResult"
    src="/img.png"
    header="Draw a box around every animal"
    labels="['Cat', 'Dog']"
    initial-value="[
      { label: &quot;Cat&quot;, left: 10, top: 20, width: 30, height: 40, },
      { label: &quot;Dog&quot;, left: 100, top: 50, width: 60, height: 40, },
    ]"
  >
    <full-instructions header="Bounding box instructions">
      <p>Draw tight boxes.</p>
    </full-instructions>
    <short-instructions>Box every cat, dog and bird.</short-instructions>
  </crowd-bounding-box>
  <crowd-input name="comment" label="Anything to add?" required></crowd-input>
</crowd-form>
<script>
  document.addEventListener("all-crowd-elements-ready", () => {
    document.querySelector("crowd-bounding-box").labels = ["Cat", "Dog", "Bird"];
  });
</script>""",
    "classify": """
<crowd-form>
  <h1>Classify</h1>
  <crowd-image-classifier
    name="category"
    src="/img.png"
    categories="['Cat', 'Dog', 'Bird', 'None of the Above']"
    header="Choose the correct category for the image"
  >
    <short-instructions><p>Choose the label that suits the image.</p></short-instructions>
    <full-instructions header="Classification Instructions">
      <p>Use <b>None of the Above</b> if no other label suits the image.</p>
    </full-instructions>
    <worker-comment header="Why?" link-text="Explain your choice" placeholder="e.g. blurry">
      Say what made the choice hard.
    </worker-comment>
  </crowd-image-classifier>
</crowd-form>""",
    "required": """
<crowd-form>
  <h1>Required</h1>
  <crowd-image-classifier name="category" src="/img.png" categories="['Cat', 'Dog']"
    header="Which animal?"></crowd-image-classifier>
  <crowd-input name="tag" label="A tag" required></crowd-input>
  <crowd-checkbox name="verified" value="clear" required>Instructions were clear</crowd-checkbox>
  <crowd-slider name="howMuch" min="1" max="10" required></crowd-slider>
</crowd-form>""",
    "quoted": """
<crowd-form>
  <h1>Labels</h1>
  <crowd-bounding-box id="python" name="a" src="/img.png"
    labels="['Cat', 'Dog', 'Bird\\'s nest']"></crowd-bounding-box>
  <crowd-bounding-box id="json" name="b" src="/img.png"
    labels='["Car", "Bus"]'></crowd-bounding-box>
</crowd-form>""",
    "fields": """
<crowd-form>
  <h1>Survey</h1>
  <crowd-classifier-multi-select name="sentiment" header="Which apply?"
    categories="['Positive', 'Negative', 'Neutral']"
    exclusion-category="{ text: 'None of the above' }">
    <classification-target><p>I love it, but it broke.</p></classification-target>
  </crowd-classifier-multi-select>
  <crowd-checkbox name="image_attributes" value="blurry">Blurry</crowd-checkbox>
  <crowd-checkbox name="image_attributes" value="dim">Too dim</crowd-checkbox>
  <crowd-checkbox name="image_attributes" value="exposed" checked>Too bright</crowd-checkbox>
  <crowd-checkbox name="agree">I agree</crowd-checkbox>
  <crowd-radio-group>
    <crowd-radio-button name="btn1" value="yes">Yes</crowd-radio-button>
    <crowd-radio-button name="btn2" value="no" checked>No</crowd-radio-button>
  </crowd-radio-group>
  <crowd-slider name="howMuch" min="1" max="10" step="1" value="5" pin></crowd-slider>
  <crowd-text-area name="essay" rows="3" char-counter></crowd-text-area>
  <crowd-input name="count" type="number" label="How many?"></crowd-input>
  <crowd-input name="unused" label="Left empty"></crowd-input>
  <crowd-card heading="A card"><p>Card text.</p></crowd-card>
  <crowd-alert type="warning" dismissible>Careful.</crowd-alert>
  <crowd-instructions link-text="View instructions" link-type="button">
    <short-summary><p>Summary.</p></short-summary>
    <detailed-instructions><p>Details.</p></detailed-instructions>
    <positive-example><p>Good.</p></positive-example>
    <negative-example><p>Bad.</p></negative-example>
  </crowd-instructions>
  <input type="hidden" name="extra" value="">
  <crowd-button form-action="submit" variant="primary">Send</crowd-button>
</crowd-form>
<script>
  document.querySelector("crowd-form").onsubmit = function () {
    document.querySelector("input[name=extra]").value = "set on submit";
  };
</script>""",
}


def png() -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), (90, 140, 200))
    for x in range(40, 120):
        for y in range(60, 140):
            image.putpixel((x, y), (230, 200, 60))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Handler(BaseHTTPRequestHandler):
    image = b""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def send(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/static/"):
            target = (STATIC / path.removeprefix("/static/")).resolve()
            if STATIC in target.parents and target.is_file():
                headers = {"Access-Control-Allow-Origin": "*"}
                self.send(target.read_bytes(), TYPES.get(target.suffix, "text/plain"), headers)
                return
        elif path == "/img.png":
            self.send(self.image, "image/png")
            return
        elif path.startswith("/host/"):
            name = path.removeprefix("/host/")
            if name in TEMPLATES:
                self.send(HOST.replace("{name}", name).encode(), "text/html; charset=utf-8")
                return
        elif path.startswith("/frame/") and path.endswith(".html"):
            name = path.removeprefix("/frame/").removesuffix(".html")
            if name in TEMPLATES:
                body = f'<!doctype html><meta charset="utf-8">\n{LOADER}\n{TEMPLATES[name]}'
                headers = {"Content-Security-Policy": FRAME_CSP}
                self.send(body.encode(), "text/html; charset=utf-8", headers)
                return
        self.send_response(404 if path != "/favicon.ico" else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    Handler.image = png()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture
def crowd(browser, server: str) -> Iterator[tuple[Page, list[str]]]:
    """A page on the stand-in portal, and the errors its frames log (CSP refusals among them)."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(5000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, errors
    context.close()


def open_task(page: Page, name: str) -> FrameLocator:
    """The host page with template `name` in its sandboxed frame, once the frame said ready."""
    page.goto(f"/host/{name}")
    page.wait_for_function("window.messages.some((m) => m.type === 'ready')")
    return page.frame_locator("#task")


def messages(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("window.messages")


def submitted(page: Page, count: int = 1) -> dict[str, Any]:
    """The answer of the count-th submit message the frame posted."""
    page.wait_for_function(
        "(n) => window.messages.filter((m) => m.type === 'submit').length >= n", arg=count
    )
    posts = [m for m in messages(page) if m["type"] == "submit"]
    assert len(posts) == count
    assert all(m["source"] == "truthloop-crowd" for m in messages(page))
    return posts[-1]["answer"]


def reply(page: Page, message: dict[str, Any]) -> None:
    page.evaluate("(m) => window.reply(m)", {"source": "truthloop-portal", **message})


def test_bounding_box_by_keyboard_from_initial_boxes(crowd: tuple[Page, list[str]]) -> None:
    page, errors = crowd
    frame = open_task(page, "boxes")
    assert messages(page)[0] == {"source": "truthloop-crowd", "type": "ready"}
    box = frame.locator("crowd-bounding-box")
    # The template's script replaced the labels once every element was ready.
    expect(box.locator("button.label .name")).to_have_text(["Cat", "Dog", "Bird"])
    expect(box.locator("li.box-row")).to_have_count(2)
    expect(box).to_contain_text("Box every cat, dog and bird.")
    expect(box.locator("summary", has_text="Bounding box instructions")).to_be_visible()

    box.focus()
    page.keyboard.press("Tab")  # selects the first box, the cat
    for key in ["ArrowRight", "ArrowRight", "ArrowRight", "ArrowDown", "ArrowDown"]:
        page.keyboard.press(key)
    page.keyboard.press("Shift+ArrowRight")  # ten pixels at once
    page.keyboard.press("Alt+ArrowDown")  # one pixel taller
    page.keyboard.press("Tab")  # the dog
    page.keyboard.press("Delete")
    page.keyboard.press("3")  # Bird: the label the next box is drawn with
    expect(box.locator("li.box-row")).to_have_count(1)
    row = box.locator("li.box-row")
    keys = ("label", "left", "top", "width", "height")
    assert [row.get_attribute(f"data-{k}") for k in keys] == ["Cat", "23", "22", "30", "41"]
    expect(box.locator("button.label.chosen .name")).to_have_text("Bird")

    frame.locator("crowd-input input").fill("two animals, one box was wrong")
    frame.locator("button.crowd-submit").click()
    assert submitted(page) == {
        "annotatedResult": {
            "boundingBoxes": [{"height": 41, "label": "Cat", "left": 23, "top": 22, "width": 30}],
            "inputImageProperties": {"height": HEIGHT, "width": WIDTH},
            "initialValueModified": True,
        },
        "comment": "two animals, one box was wrong",
    }
    status = frame.locator("crowd-form .crowd-status")
    expect(status).to_have_text("Submitting…")
    expect(frame.locator("button.crowd-submit")).to_be_disabled()
    reply(page, {"type": "submitted"})
    expect(status).to_contain_text("Submitted")
    assert errors == []


def test_initial_boxes_left_alone_are_not_modified(crowd: tuple[Page, list[str]]) -> None:
    page, errors = crowd
    frame = open_task(page, "boxes")
    frame.locator("crowd-input input").fill("fine")
    frame.locator("crowd-input input").press("Enter")  # Enter in a field submits, as in a form
    answer = submitted(page)["annotatedResult"]
    assert answer["initialValueModified"] is False
    assert answer["boundingBoxes"] == [
        {"height": 40, "label": "Cat", "left": 10, "top": 20, "width": 30},
        {"height": 40, "label": "Dog", "left": 100, "top": 50, "width": 60},
    ]
    assert errors == []


def test_image_classifier_by_keys_refused_then_resubmitted(crowd: tuple[Page, list[str]]) -> None:
    page, errors = crowd
    frame = open_task(page, "classify")
    classifier = frame.locator("crowd-image-classifier")
    expect(classifier.locator("img.photo")).to_be_visible()
    frame.locator("h1").click()  # the frame has the keyboard; nothing there takes a key
    page.keyboard.press("4")
    expect(classifier.locator("button.label.chosen .name")).to_have_text("None of the Above")
    page.keyboard.press("c")  # the worker comment opens, focused
    page.keyboard.type("too blurry to tell")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    assert submitted(page) == {
        "category": {"label": "None of the Above", "workerComment": "too blurry to tell"}
    }
    status = frame.locator("crowd-form .crowd-status")
    expect(status).to_have_text("Submitting…")
    page.keyboard.press("Enter")  # no second submit while the first is out
    reply(page, {"type": "refused", "message": "This task's lease expired."})
    expect(status).to_contain_text("This task's lease expired.")
    classifier.locator("button.label[data-label='Dog']").click()
    frame.locator("button.crowd-submit").click()
    assert submitted(page, 2) == {
        "category": {"label": "Dog", "workerComment": "too blurry to tell"}
    }
    reply(page, {"type": "submitted"})
    expect(status).to_contain_text("Submitted")
    assert errors == []


def test_required_fields_block_the_submit(crowd: tuple[Page, list[str]]) -> None:
    page, errors = crowd
    frame = open_task(page, "required")
    frame.locator("button.crowd-submit").click()
    status = frame.locator("crowd-form .crowd-status")
    expect(status).to_contain_text("Fix these 4 answers")
    for element in ["crowd-image-classifier", "crowd-input", "crowd-checkbox", "crowd-slider"]:
        expect(frame.locator(f"{element} .crowd-error")).to_be_visible()
    page.wait_for_timeout(200)
    assert [m["type"] for m in messages(page)] == ["ready"]

    frame.locator("crowd-image-classifier button.label[data-label='Cat']").click()
    frame.locator("crowd-input input").fill("kitten")
    frame.locator("crowd-checkbox input").check()
    frame.locator("crowd-slider input").focus()
    page.keyboard.press("ArrowRight")
    frame.locator("button.crowd-submit").click()
    answer = submitted(page)
    assert answer == {
        "category": {"label": "Cat"},
        "tag": "kitten",
        "verified": {"clear": True},
        "howMuch": answer["howMuch"],
    }
    assert isinstance(answer["howMuch"], int) and 1 <= answer["howMuch"] <= 10
    assert errors == []


def test_single_quoted_and_json_labels(crowd: tuple[Page, list[str]]) -> None:
    page, errors = crowd
    frame = open_task(page, "quoted")
    python = frame.locator("#python")
    expect(python.locator("button.label .name")).to_have_text(["Cat", "Dog", "Bird's nest"])
    expect(frame.locator("#json button.label .name")).to_have_text(["Car", "Bus"])
    assert python.evaluate("(e) => e.labels") == ["Cat", "Dog", "Bird's nest"]

    # A box drawn with the mouse, with the second label picked by click, is in image pixels.
    json_box = frame.locator("#json")
    json_box.locator("button.label[data-label='Bus']").click()
    canvas = json_box.locator("svg.canvas").bounding_box()
    assert canvas is not None
    scale = min(canvas["width"] / WIDTH, canvas["height"] / HEIGHT)
    left = canvas["x"] + (canvas["width"] - WIDTH * scale) / 2
    top = canvas["y"] + (canvas["height"] - HEIGHT * scale) / 2
    page.mouse.move(left + 40 * scale, top + 60 * scale)
    page.mouse.down()
    page.mouse.move(left + 120 * scale, top + 140 * scale, steps=6)
    page.mouse.up()
    expect(json_box.locator("li.box-row")).to_have_count(1)

    # No initial-value: no initialValueModified in the output.
    frame.locator("button.crowd-submit").click()
    image = {"height": HEIGHT, "width": WIDTH}
    answer = submitted(page)
    drawn = answer["b"]["boundingBoxes"]
    assert len(drawn) == 1 and drawn[0]["label"] == "Bus"
    assert [
        abs(drawn[0][k] - v) <= 1
        for k, v in [("left", 40), ("top", 60), ("width", 80), ("height", 80)]
    ] == [True] * 4
    assert answer == {
        "a": {"boundingBoxes": [], "inputImageProperties": image},
        "b": {"boundingBoxes": drawn, "inputImageProperties": image},
    }
    assert errors == []


def test_every_other_element_outputs_its_documented_shape(crowd: tuple[Page, list[str]]) -> None:
    page, errors = crowd
    frame = open_task(page, "fields")
    # The template's crowd-button submits: the form adds no button of its own.
    expect(frame.locator("button.crowd-submit")).to_be_hidden()

    multi = frame.locator("crowd-classifier-multi-select")
    expect(multi).to_contain_text("I love it, but it broke.")
    for label in ["Neutral", "None of the above", "Positive", "Negative"]:
        multi.locator(f"button.label[data-label='{label}']").click()
    expect(multi.locator("button.label.chosen .name")).to_have_text(["Positive", "Negative"])

    frame.locator("crowd-checkbox[value=blurry] input").check()
    frame.locator("crowd-radio-button[value=yes] input").check()
    expect(frame.locator("crowd-radio-button[value=no] input")).not_to_be_checked()
    frame.locator("crowd-slider input").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(frame.locator("crowd-slider output")).to_have_text("7")
    frame.locator("crowd-text-area textarea").fill("Line one\nline two")
    frame.locator("crowd-input[name=count] input").fill("12")

    expect(frame.locator("short-summary")).to_be_hidden()
    frame.locator("crowd-instructions button", has_text="View instructions").click()
    expect(frame.locator("short-summary")).to_be_visible()
    frame.locator("crowd-instructions button[role=tab]", has_text="Examples").click()
    expect(frame.locator("negative-example")).to_be_visible()
    expect(frame.locator("short-summary")).to_be_hidden()
    frame.locator("crowd-instructions button[aria-label=Close]").click()
    frame.locator("crowd-alert button[aria-label=Dismiss]").click()
    expect(frame.locator("crowd-alert")).to_be_hidden()

    frame.locator("crowd-button", has_text="Send").click()
    assert submitted(page) == {
        "sentiment": {"labels": ["Positive", "Negative"]},
        "image_attributes": {"blurry": True, "dim": False, "exposed": True},
        "agree": {"on": False},
        "btn1": {"yes": True},
        "btn2": {"no": False},
        "howMuch": 7,
        "essay": "Line one\nline two",
        "count": 12,
        "extra": "set on submit",
    }
    assert json.dumps(messages(page))  # plain data, as the portal stores it
    assert errors == []
