"""Feedback runs over REST and on the portal: managers only, start / collect / report, and the
run page with its batches and the accept / adjust / reject / add chart."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.labeling.feedback_setup import MODEL, FeedbackSetup, prepare
from tests.web.charts import assert_bars_match_values, chart_data, wait_for_charts
from tests.web.conftest import sign_in
from tests.web.portal import PASSWORD, Portal
from truthloop.labeling.feedback import start_feedback
from truthloop.labeling.feedback.collect import answered_counts
from truthloop.labeling.feedback.report import feedback_report
from truthloop.ml.serving import stop_version

START = {"model": MODEL, "dataset": "larger", "team": "crew", "mode": "adjust", "batch_size": 4}


@pytest.fixture
def setup(portal: Portal) -> FeedbackSetup:
    return prepare(portal.project)


def _headers(portal: Portal, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {portal.token(username)}"}


def test_start_collect_and_report_over_rest(
    portal: Portal, setup: FeedbackSetup, client: TestClient
) -> None:
    mia = _headers(portal, "mia")
    refused = client.post("/api/feedback", json=START, headers=_headers(portal, "wendy"))
    assert refused.status_code == 403
    started = client.post("/api/feedback", json=START, headers=mia)
    assert started.status_code == 201, started.text
    run = started.json()
    assert [b["images"] for b in run["batches"]] == [4, 2]
    assert client.get("/api/feedback", headers=mia).json()[0]["name"] == run["name"]

    early = client.post(f"/api/feedback/{run['name']}/collect", json={}, headers=mia)
    assert early.status_code == 400 and "6 tasks not answered" in early.json()["detail"]
    for batch in run["batches"]:
        setup.workforce().work(batch["job"])
    collected = client.post(f"/api/feedback/{run['name']}/collect", json={}, headers=mia)
    assert collected.status_code == 200, collected.text
    assert collected.json()["images"] == 6

    untrained = client.get(
        f"/api/feedback/{run['name']}/report", params={"test_dataset": "test"}, headers=mia
    )
    assert untrained.status_code == 422
    assert "truthloop feedback report" in untrained.json()["detail"]
    feedback_report(portal.project, run["name"], "test")  # trains v2, outside the server
    shown = client.get(
        f"/api/feedback/{run['name']}/report", params={"test_dataset": "test"}, headers=mia
    )
    assert shown.status_code == 200 and shown.json()["v2"] == "shapes.v2"
    assert client.get(f"/api/feedback/{run['name']}", headers=mia).json()["status"] == "collected"


def test_bad_starts_are_refused_over_rest(
    portal: Portal, setup: FeedbackSetup, client: TestClient
) -> None:
    mia = _headers(portal, "mia")
    zero = client.post("/api/feedback", json={**START, "batch_size": 0}, headers=mia)
    assert zero.status_code == 422
    stop_version(portal.project, MODEL)
    stopped = client.post("/api/feedback", json=START, headers=mia)
    assert stopped.status_code == 400 and "truthloop model start" in stopped.json()["detail"]
    missing = client.get("/api/feedback/feedback-9", headers=mia)
    assert missing.status_code == 404


def test_run_page_shows_batches_and_counts(
    portal: Portal, setup: FeedbackSetup, client: TestClient
) -> None:
    client.post("/api/feedback", json=START, headers=_headers(portal, "mia"))
    setup.workforce().work("feedback-1-batch-001")
    sign_in(client, "mia")
    page = client.get("/feedback/feedback-1").text
    assert page.count('href="/jobs/') == 2 and "2 still to answer" in page
    assert 'data-category="accepted"' in page and "<script>" not in page
    assert "feedback-1" in client.get("/feedback").text


@pytest.mark.browser
def test_run_page_in_a_browser(portal: Portal, setup: FeedbackSetup, page: Page) -> None:
    start_feedback(portal.project, **START)  # type: ignore[arg-type]
    setup.workforce().work("feedback-1-batch-001")
    setup.workforce().work("feedback-1-batch-002")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto("/login")
    page.fill("input[name=username]", "mia")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto("/feedback/feedback-1")
    expect(page.locator("table.feedback-batches tbody tr")).to_have_count(2)
    wait_for_charts(page)
    chart = page.locator("#counts-chart canvas")
    done = page.locator("table.feedback-batches .bar .done").first
    expect(done).to_have_attribute("style", "width: 100%;")  # page.js ran under the CSP
    counts = answered_counts(portal.project, "feedback-1")[0].to_json()
    drawn = chart_data(chart)
    assert dict(zip(drawn["labels"], drawn["datasets"][0]["data"], strict=True)) == counts
    assert_bars_match_values(chart)
    for name, value in counts.items():
        shown = page.locator(f'#counts-chart tr[data-category="{name}"] td[data-series=count]')
        expect(shown).to_have_text(str(value))
    assert problems == []
