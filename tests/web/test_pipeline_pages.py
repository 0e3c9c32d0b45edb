"""The managers' pipeline pages: in a real browser, a manager opens the list, the pipeline's
page (deployed version, F1 chart, parameters), changes a parameter through its form and sees it
in the table and the history, and opens a run's page with its steps as a timeline; through
TestClient, hostile run text shown as text and a worker kept out."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.web.charts import series, wait_for_charts
from tests.web.conftest import sign_in
from tests.web.pipeline_setup import NAME, UNSEEN, make_pipeline, png
from tests.web.portal import Portal, browser_sign_in
from truthloop.pipeline import get_param, get_pipeline
from truthloop.pipeline.intake import Incoming, submit
from truthloop.pipeline.runs import RunKind, RunStatus, finish_run, start_run, step

HOSTILE = "<img src=x onerror=alert(1)>"



@pytest.mark.browser
def test_a_manager_follows_a_pipeline_and_changes_a_parameter(portal: Portal, page: Page) -> None:
    deployed = make_pipeline(portal.project)
    browser_sign_in(page, "mia")
    page.click("nav >> text=Pipelines")
    page.click(f"table.pipelines >> text={NAME}")
    expect(page.locator("#deployed-version")).to_have_text(deployed)
    wait_for_charts(page)
    chart = page.locator(".pipeline-chart canvas")
    expect(chart).to_have_count(1)
    drawn = series(chart)
    assert len(drawn["F1"]) == 1  # one version, one point
    with portal.project.session() as session:
        gate = get_param(session, get_pipeline(session, NAME), "Minimum-F1-Score")
    assert drawn["Minimum-F1-Score"] == [float(gate)]  # the gate, dashed
    # The counters refresh while the page is open (pipeline.js polls every 5 s).
    total = page.locator('[data-counter="detections.total"]')
    expect(total).to_have_text("0")
    submit(portal.project, NAME, [Incoming("new.png", png(UNSEEN, 0))])
    expect(total).to_have_text("1", timeout=8000)
    expect(page.locator('[data-counter="open_loops"]')).to_have_text("1")
    row = page.locator('tr[data-param="Human-Sampling-Interval"]')
    expect(row.locator(".param-value")).to_have_text("1000")
    row.locator("input[name=value]").fill("250")
    row.locator("button[type=submit]").click()
    expect(page.locator('tr[data-param="Human-Sampling-Interval"] .param-value')).to_have_text(
        "250"
    )
    newest = page.locator("table.param-history tbody tr").first
    expect(newest).to_contain_text("Human-Sampling-Interval")
    expect(newest).to_contain_text("1000")
    expect(newest).to_contain_text("mia")
    # The change is a run too; its page draws its one step on the timeline.
    page.locator("table.pipeline-runs tbody tr").first.locator("a").click()
    expect(page.locator("h1")).to_contain_text("parameter-change")
    expect(page.locator('svg.timeline rect[data-step="store-parameter"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    page.go_back()
    page.locator("table.pipeline-runs tbody tr", has_text="training-check").locator("a").click()
    steps = page.locator("svg.timeline rect.timeline-step")
    expect(steps).to_have_count(5)
    expect(page.locator("table.run-steps")).to_contain_text("evaluate")


@pytest.mark.browser
def test_a_refused_value_says_which_parameter_and_its_range(portal: Portal, page: Page) -> None:
    make_pipeline(portal.project, deploy=False)
    browser_sign_in(page, "mia")
    page.goto(f"/pipelines/{NAME}")
    row = page.locator('tr[data-param="Minimum-F1-Score"]')
    row.locator("input[name=value]").fill("2")
    row.locator("button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("Minimum-F1-Score must be a number from 0 to 1")


def test_hostile_run_text_is_shown_as_text(portal: Portal, client: TestClient) -> None:
    make_pipeline(portal.project, deploy=False)
    with portal.project.session() as session:
        pipeline = get_pipeline(session, NAME)
        run = start_run(session, pipeline.id, RunKind.INTAKE, {"names": [HOSTILE]})
        with step(session, run, HOSTILE, {}):
            pass
        finish_run(session, run, RunStatus.FAILED, error=f"{HOSTILE}<script>alert(2)</script>")
        run_id = run.id
    sign_in(client, "mia")
    for path in (f"/pipelines/{NAME}", f"/pipelines/{NAME}/runs/{run_id}"):
        html = client.get(path).text
        assert "<img src=x" not in html and "<script>alert" not in html, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path


def test_the_pages_are_for_managers_and_a_run_of_another_pipeline_is_404(
    portal: Portal, client: TestClient
) -> None:
    make_pipeline(portal.project, deploy=False)
    sign_in(client, "wendy")
    assert client.get("/pipelines").status_code == 403
    assert client.get(f"/pipelines/{NAME}").status_code == 403
    sign_in(client, "mia")
    assert client.get("/pipelines/nope").status_code == 404
    assert client.get(f"/pipelines/{NAME}/runs/999").status_code == 404
    # A form post without the page's CSRF token changes nothing.
    refused = client.post(
        f"/pipelines/{NAME}/params", data={"parameter": "Minimum-F1-Score", "value": "0.5"}
    )
    assert refused.status_code == 403
    with portal.project.session() as session:
        assert get_param(session, get_pipeline(session, NAME), "Minimum-F1-Score") == 0.8
