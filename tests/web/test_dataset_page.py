"""The dataset page in a browser: its label chart drawn by Chart.js holds the counts the server
computed and its bars measure up to them; the filters show one label's images with their boxes;
the split editor splits 80/20 by label and moves ticked images, and the counts show it. Through
TestClient: a hostile label shown as text, and a bad filter refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Locator, Page, expect

from tests.web.charts import assert_bars_match_values, chart_data, series, wait_for_charts
from tests.web.conftest import sign_in
from tests.web.dataset_setup import LABELS, NAME, make_zoo
from tests.web.portal import Portal, browser_sign_in
from truthloop.core.types import LabelSet
from truthloop.storage import datasets as store


def _split_count(page: Page, split: str) -> Locator:
    return page.locator(f'#split-counts [data-split="{split}"] .count')


@pytest.mark.browser
def test_the_label_chart_holds_the_servers_counts(portal: Portal, page: Page) -> None:
    make_zoo(portal.project)
    with portal.project.session() as session:
        summary = store.summarize(session, store.get_dataset(session, NAME))
    (animals,) = summary.attributes
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    browser_sign_in(page, "mia")
    page.goto(f"/datasets/{NAME}")
    wait_for_charts(page)
    chart = page.locator("#label-chart canvas")
    assert chart_data(chart)["labels"] == list(LABELS)
    assert series(chart) == {"animals": [animals.images_per_label.get(n, 0) for n in LABELS]}
    assert series(chart)["animals"] == [5, 5, 0]
    assert assert_bars_match_values(chart) == len(LABELS)
    assert problems == []


@pytest.mark.browser
def test_filtering_by_label_shows_that_labels_images_with_boxes(portal: Portal, page: Page) -> None:
    make_zoo(portal.project)
    browser_sign_in(page, "mia")
    page.goto(f"/datasets/{NAME}")
    expect(page.locator("figure.thumb")).to_have_count(10)
    filters = page.locator("#dataset-filters")
    filters.locator("select[name=label]").select_option("cat")
    filters.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda url: "label=cat" in url)
    thumbs = page.locator("figure.thumb")
    expect(thumbs).to_have_count(5)
    expect(page.locator("#matching")).to_have_text("5 images match")
    for i in range(5):
        expect(thumbs.nth(i).locator('svg rect[data-label="cat"]')).to_have_count(1)
    expect(page.locator('figure.thumb svg rect[data-label="dog"]')).to_have_count(0)
    box = page.locator("figure.thumb svg rect").first.bounding_box()
    assert box is not None and box["width"] > 10  # drawn over the image, not collapsed
    filters.locator("input[name=min_confidence]").fill("0.75")
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("#matching")).to_have_text("2 images match")  # cats at 0.8 and 0.9


@pytest.mark.browser
def test_the_split_editor_splits_80_20_and_moves_ticked_images(portal: Portal, page: Page) -> None:
    make_zoo(portal.project)
    browser_sign_in(page, "mia")
    page.goto(f"/datasets/{NAME}")
    expect(_split_count(page, "unassigned")).to_have_text("10")
    editor = page.locator("#split-editor")
    editor.locator("input[name=train_percent]").fill("80")
    editor.get_by_role("button", name="Split every image by label").click()
    expect(_split_count(page, "train")).to_have_text("8")
    expect(_split_count(page, "test")).to_have_text("2")
    expect(_split_count(page, "unassigned")).to_have_count(0)
    expect(page.locator('figure.thumb[data-split="test"]')).to_have_count(2)
    for thumb in page.locator('figure.thumb[data-split="train"]').all()[:2]:
        thumb.locator("input.pick").check()
    editor.locator("select[name=split]").select_option("validation")
    editor.get_by_role("button", name="Move selected").click()
    expect(_split_count(page, "validation")).to_have_text("2")
    expect(_split_count(page, "train")).to_have_text("6")


def test_a_hostile_label_is_text_and_a_bad_filter_is_refused(
    portal: Portal, client: TestClient
) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    with portal.project.session() as session:
        store.create_dataset(session, "evil", LabelSet.from_names((hostile, "cat")))
    sign_in(client, "mia")
    page = client.get("/datasets/evil")
    assert page.status_code == 200
    assert hostile not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    # In the chart's JSON too, escaped inside its attribute.
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page.text
    refused = client.get("/datasets/shapes", params={"min_confidence": "high"})
    assert refused.status_code == 422 and "min_confidence" in refused.text
    backwards = client.get(
        "/datasets/shapes", params={"min_confidence": 0.9, "max_confidence": "0.1"}
    )
    assert backwards.status_code == 422 and "above max_confidence" in backwards.text
    empty = client.get("/datasets/shapes", params={"label": "", "source": "", "split": ""})
    assert empty.status_code == 200  # an empty field of the form means "any"
