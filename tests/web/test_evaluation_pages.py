"""The managers' evaluation pages: in a real browser, a manager opens a detection version's
evaluation, filters its test images to false positives and sees only those, with the predicted
(dashed) and true boxes drawn, then compares two versions; through TestClient, a worker is kept
out, an unknown version is 404 and a hostile label is shown as text."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.web.conftest import sign_in
from tests.web.portal import Portal, browser_sign_in
from tests.web.test_evaluation_api import TEST, train_logos
from truthloop.ml import outcomes
from truthloop.ml.outcomes import Outcome


@pytest.fixture
def trained(portal: Portal) -> Portal:
    outcomes.CACHE.clear()
    train_logos(portal)
    return portal


@pytest.mark.browser
def test_a_manager_filters_to_false_positives_and_compares(trained: Portal, page: Page) -> None:
    expected = outcomes.version_results(trained.project, "logos.v1").select(Outcome.FP)
    assert expected, "logos.v1 should have false positives on its test set"
    browser_sign_in(page, "mia")
    page.goto("/models/logos.v1/evaluation")
    expect(page.locator("h1")).to_contain_text("logos.v1")
    expect(page.locator('[data-metric="map50"]')).not_to_have_text("")
    expect(page.locator("table.per-label tbody tr")).not_to_have_count(0)
    expect(page.locator("figure.evaluation-image")).to_have_count(len(TEST.records))
    page.click('.outcome-filter a[data-outcome="fp"]')
    page.wait_for_url("**outcome=fp**")
    figures = page.locator("figure.evaluation-image")
    expect(figures).to_have_count(len(expected))
    for i in range(len(expected)):
        figure = figures.nth(i)
        assert figure.get_attribute("data-item") == str(expected[i].item_id)
        assert "fp" in (figure.get_attribute("data-outcomes") or "").split()
        expect(figure.locator("rect.predicted.outcome-fp")).not_to_have_count(0)
        expect(figure.locator("rect.truth")).to_have_count(len(expected[i].truth))
    dash = page.locator("rect.predicted").first.evaluate("r => getComputedStyle(r).strokeDasharray")
    assert dash not in ("", "none")
    page.goto("/models/compare?first=logos.v1&second=logos.v2&dataset=test")
    header = page.locator("table.compare thead")
    expect(header.locator('[data-version="logos.v1"]')).to_have_count(1)
    expect(header.locator('[data-version="logos.v2"]')).to_have_count(1)
    expect(page.locator('table.compare tr[data-label=""][data-metric="f1"] td.num')).to_have_count(
        2
    )


def test_the_pages_are_for_managers(trained: Portal, client: TestClient) -> None:
    sign_in(client, "wendy")
    assert client.get("/models/logos.v1/evaluation").status_code == 403
    assert client.get("/models/compare?first=logos.v1&second=logos.v2").status_code == 403
    sign_in(client, "mia")
    assert client.get("/models/logos.v9/evaluation").status_code == 404
    assert client.get("/models/compare?first=logos.v1&second=logos.v9").status_code == 404
    html = client.get("/models/compare?first=logos.v1&second=logos.v2").text
    assert "better" in html and "logos.v2" in html


def test_a_hostile_label_is_shown_as_text(trained: Portal, client: TestClient) -> None:
    sign_in(client, "mia")
    html = client.get("/models/logos.v1/evaluation", params={"label": "<b>x</b>"}).text
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
